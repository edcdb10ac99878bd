"""The programs of tests/e2e/test_max_pool_second_order.py, written once for tgc and for
TensorFlow (tests/oracle/max_pool_second_order.py records TF's answers): gradients of a
max-pool's gradient, as a gradient penalty takes them (d/dW of |d loss / dx|^2), with the
penalty's central differences in W beside them."""

import numpy as np

POOLS = {  # name: (ksize, strides, padding)
    "2x2_stride_2_same": ((1, 2, 2, 1), (1, 2, 2, 1), "SAME"),
    "3x3_stride_1_same": ((1, 3, 3, 1), (1, 1, 1, 1), "SAME"),
    "3x3_stride_2_valid": ((1, 3, 3, 1), (1, 2, 2, 1), "VALID"),
}
STEP = 1e-6  # of the central differences (float64 programs)


def inputs():
    rng = np.random.default_rng(7)
    return rng.normal(size=(2, 5, 5, 2)), rng.normal(size=(2, 2)), rng.normal(size=(5, 5, 2))


def _differences(sess, f, feed: dict, at) -> np.ndarray:
    """Central differences of the scalar ``f`` in the fed tensor ``at``."""
    base = feed[at]
    out = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[i] += STEP
        down[i] -= STEP
        rise = sess.run(f, {**feed, at: up}) - sess.run(f, {**feed, at: down})
        out[i] = rise / (2 * STEP)
    return out


def penalty(tf, pool: str, dtype) -> dict:
    """x [2, 5, 5, 2] times W [2, 2] on channels, max-pooled, squared, weighted sum: the penalty
    |d loss / dx|^2 and its gradient with respect to W ("dw", through max_pool's gradient's
    gradient), and the gradient of the loss's gradient's weighted sum with respect to x ("dxx");
    in float64 also their central differences ("dw_differences", "dxx_differences")."""
    ksize, strides, padding = POOLS[pool]
    xv, wv, vv = inputs()
    with tf.Graph().as_default():
        x = tf.placeholder(dtype, [2, 5, 5, 2])
        w = tf.placeholder(dtype, [2, 2])
        v = tf.constant(vv.astype(dtype))
        h = tf.tensordot(x, w, axes=[[3], [0]])
        pooled = tf.nn.max_pool(tf.tanh(h), ksize, strides, padding)
        oh, ow = pooled.shape.as_list()[1:3]
        loss = tf.reduce_sum(tf.square(pooled) * v[:oh, :ow])  # its gradient reads W
        (dx,) = tf.gradients(loss, [x])
        gp = tf.reduce_sum(tf.square(dx))
        (dw,) = tf.gradients(gp, [w])
        weighted = tf.reduce_sum(dx * v[None])
        (dxx,) = tf.gradients(weighted, [x])
        with tf.Session() as sess:
            feed = {x: xv.astype(dtype), w: wv.astype(dtype)}
            got = sess.run({"gp": gp, "dw": dw, "dxx": dxx}, feed)
            if dtype == "float64":
                got["dw_differences"] = _differences(sess, gp, feed, w)
                got["dxx_differences"] = _differences(sess, weighted, feed, x)
    return {name: np.asarray(value).tolist() for name, value in got.items()}
