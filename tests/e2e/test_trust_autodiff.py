"""Gradients and reductions that random-graph testing found wrong (issue 12, section 2): each case
is checked against numpy or against central finite differences of a float64 numpy model, never only
for running without an error."""

import numpy as np
import pytest

import tgc
import tgc as tf


def central_differences(f, params: dict, eps=1e-6) -> dict:
    """d f / d params[k] for every k, by central differences in float64."""
    grads = {}
    for key, value in params.items():
        value = np.asarray(value, np.float64)
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: np.asarray(v, np.float64).copy() for k, v in params.items()}
            shifted[key][index] = value[index] + eps
            up = f(**shifted)
            shifted[key][index] = value[index] - eps
            down = f(**shifted)
            grad[index] = (up - down) / (2 * eps)
        grads[key] = grad
    return grads


# ---- 1. fan-out: a requested target other than the first used twice ------------------------------


@pytest.mark.parametrize("argnums", [(0, 1), (1, 0)])
def test_grad_of_an_argument_used_twice_in_either_argnum_order(argnums):
    a, b = np.arange(3.0), np.array([0.5, -1.0, 2.0])
    grads = tgc.grad(lambda a, b: tgc.reduce_sum(a * a + b + b * a), argnums=argnums)(a, b)
    expected = {0: 2 * a + b, 1: 1 + a}
    for argnum, grad in zip(argnums, grads):
        np.testing.assert_allclose(grad, expected[argnum], rtol=1e-12)


def test_tf_gradients_of_several_targets_each_used_twice():
    x = tf.placeholder(tf.float64, [3])
    y = tf.placeholder(tf.float64, [3])
    z = tf.reduce_sum(x * y + y * y + tf.sin(x))
    gx, gy = tf.gradients(z, [x, y])
    xv, yv = np.array([0.1, 0.2, 0.3]), np.array([1.0, -2.0, 0.5])
    with tf.Session() as sess:
        gxv, gyv = sess.run([gx, gy], {x: xv, y: yv})
    np.testing.assert_allclose(gxv, yv + np.cos(xv), rtol=1e-12)
    np.testing.assert_allclose(gyv, xv + 2 * yv, rtol=1e-12)


def _sgd_step_gradients(sess, train_op, variables, feed, lr):
    """The gradient one plain SGD step applied to each variable: (before - after) / lr."""
    before = sess.run(variables)
    sess.run(train_op, feed)
    after = sess.run(variables)
    return [(b - a) / lr for b, a in zip(before, after)]


def test_two_dense_layers_with_kernel_regularizers_minimize():
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 2])
    reg = tf.contrib.layers.l2_regularizer(0.3)
    hidden = tf.layers.dense(x, 4, activation=tf.tanh, kernel_regularizer=reg, name="h")
    out = tf.layers.dense(hidden, 2, kernel_regularizer=reg, name="o")
    loss = tf.reduce_mean(tf.square(out - y)) + tf.losses.get_regularization_loss()
    variables = tf.trainable_variables()
    lr = 0.01
    train_op = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        start = dict(zip(["w1", "b1", "w2", "b2"], sess.run(variables)))
        measured = _sgd_step_gradients(sess, train_op, variables, {x: xv, y: yv}, lr)

    def numpy_loss(w1, b1, w2, b2):
        pred = np.tanh(xv @ w1 + b1) @ w2 + b2
        return np.mean((pred - yv) ** 2) + 0.3 * (np.sum(w1**2) + np.sum(w2**2)) / 2

    expected = central_differences(numpy_loss, start)
    for got, key in zip(measured, ["w1", "b1", "w2", "b2"]):
        np.testing.assert_allclose(got, expected[key], rtol=2e-3, atol=2e-4, err_msg=key)


def test_adam_on_mse_plus_l2_loss_of_the_same_weight():
    rng = np.random.default_rng(1)
    xv, yv = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    w0 = rng.normal(size=(3, 1))
    x = tf.placeholder(tf.float64, [None, 3])
    y = tf.placeholder(tf.float64, [None, 1])
    w = tf.Variable(w0)
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y)) + tf.nn.l2_loss(w)
    train_op = tf.train.AdamOptimizer(0.1).minimize(loss)
    m, v, wn = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for t in range(1, 4):
            sess.run(train_op, {x: xv, y: yv})
            g = 2 * xv.T @ (xv @ wn - yv) / len(xv) + wn
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            lr_t = 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            wn = wn - lr_t * m / (np.sqrt(v) + 1e-8)
        got = sess.run(w)
    np.testing.assert_allclose(got, wn, rtol=1e-5)


def test_gan_with_a_discriminator_on_real_and_fake_and_two_optimizers():
    rng = np.random.default_rng(2)
    real_v, noise_v = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
    real = tf.placeholder(tf.float32, [None, 2])
    noise = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("G"):
        gw = tf.get_variable("w", initializer=rng.normal(size=(3, 2)).astype(np.float32))
        gb = tf.get_variable("b", initializer=np.float32([0.1, -0.1]))
    with tf.variable_scope("D"):
        dw = tf.get_variable("w", initializer=rng.normal(size=(2, 1)).astype(np.float32))
        db = tf.get_variable("b", initializer=np.float32([0.2]))

    def discriminator(data):
        return tf.sigmoid(tf.matmul(data, dw) + db)

    fake = tf.matmul(noise, gw) + gb
    d_real, d_fake = discriminator(real), discriminator(fake)
    d_loss = -tf.reduce_mean(tf.log(d_real) + tf.log(1.0 - d_fake))
    g_loss = -tf.reduce_mean(tf.log(d_fake))
    lr = 0.01
    d_train = tf.train.GradientDescentOptimizer(lr).minimize(d_loss, var_list=[dw, db])
    g_train = tf.train.GradientDescentOptimizer(lr).minimize(g_loss, var_list=[gw, gb])
    feed = {real: real_v, noise: noise_v}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        start = dict(zip(["gw", "gb", "dw", "db"], sess.run([gw, gb, dw, db])))
        d_measured = _sgd_step_gradients(sess, d_train, [dw, db], feed, lr)
        after_d = dict(
            start, dw=start["dw"] - lr * d_measured[0], db=start["db"] - lr * d_measured[1]
        )
        g_measured = _sgd_step_gradients(sess, g_train, [gw, gb], feed, lr)

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def losses(gw, gb, dw, db):
        fake_v = noise_v @ gw + gb
        d_real_v, d_fake_v = sigmoid(real_v @ dw + db), sigmoid(fake_v @ dw + db)
        return -np.mean(np.log(d_real_v) + np.log(1 - d_fake_v)), -np.mean(np.log(d_fake_v))

    d_expected = central_differences(lambda **p: losses(**p)[0], start)
    g_expected = central_differences(lambda **p: losses(**p)[1], after_d)
    for got, key in zip(d_measured, ["dw", "db"]):
        np.testing.assert_allclose(got, d_expected[key], rtol=2e-3, atol=2e-4, err_msg=key)
    for got, key in zip(g_measured, ["gw", "gb"]):
        np.testing.assert_allclose(got, g_expected[key], rtol=2e-3, atol=2e-4, err_msg=key)


# ---- 3. reductions over no axes ------------------------------------------------------------------

W = np.arange(6, dtype=np.float32).reshape(3, 2)


@pytest.mark.parametrize(
    "reduce", [tgc.reduce_sum, tgc.reduce_mean, tgc.reduce_prod, tgc.reduce_max, tgc.reduce_min]
)
def test_reduction_of_a_scalar_then_broadcast(reduce):
    got = tgc.jit(lambda s, w: reduce(s) * w)(np.float32(2), W)
    np.testing.assert_array_equal(got, 2 * W)


def test_reductions_over_no_axes_are_the_identity():
    s = np.float32(-3.5)
    got = tgc.jit(
        lambda s, v: [
            tgc.reduce_mean(s),
            tgc.reduce_prod(s),
            tgc.reduce_sum(v, axis=[]) * v,
            tgc.reduce_mean(v, axis=[]) + 1.0,
        ]
    )(s, W)
    np.testing.assert_array_equal(got[0], s)
    np.testing.assert_array_equal(got[1], s)
    np.testing.assert_array_equal(got[2], W * W)
    np.testing.assert_array_equal(got[3], W + 1)


def test_reduce_sum_of_reduce_sum_then_broadcast_and_its_gradient():
    v = W.astype(np.float64)
    f = lambda v, w: tgc.reduce_sum(tgc.reduce_sum(tgc.reduce_sum(v)) * w)  # noqa: E731
    np.testing.assert_allclose(
        tgc.jit(lambda v, w: tgc.reduce_sum(tgc.reduce_sum(v)) * w)(v, v), v.sum() * v
    )
    gv, gw = tgc.grad(f, argnums=(0, 1))(v, v)
    np.testing.assert_allclose(gv, np.full_like(v, v.sum()))
    np.testing.assert_allclose(gw, np.full_like(v, v.sum()))


# ---- 4. reshapes into several unknown dims -------------------------------------------------------


def _run(fetches, feed):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


@pytest.mark.parametrize("rows, cols", [(2, 3), (4, 1), (0, 5)])
def test_gradient_of_flattening_a_tensor_with_two_unknown_dims(rows, cols):
    x = tf.placeholder(tf.float32, [None, None])
    flat = tf.reshape(x, [-1])
    (g,) = tf.gradients(tf.reduce_sum(flat * flat * 2.0), x)
    xv = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    flat_v, gv = _run([flat, g], {x: xv})
    np.testing.assert_array_equal(flat_v, xv.ravel())
    np.testing.assert_array_equal(gv, 4 * xv)


def test_reshape_to_the_runtime_shape_of_another_tensor_and_its_gradient():
    x = tf.placeholder(tf.float32, [None, None])
    c = tf.placeholder(tf.float32, [None])
    z = tf.placeholder(tf.float32, [None, 2, None])
    shaped = tf.reshape(c, tf.shape(x))
    cubed = tf.reshape(x, tf.shape(z))
    gc, gx = tf.gradients(tf.reduce_sum(shaped * x) + tf.reduce_sum(tf.sin(cubed)), [c, x])
    xv = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    cv = np.arange(6, dtype=np.float32) - 2
    got = _run([shaped, cubed, gc, gx], {x: xv, c: cv, z: np.zeros((1, 2, 3), np.float32)})
    np.testing.assert_array_equal(got[0], cv.reshape(2, 3))
    np.testing.assert_array_equal(got[1], xv.reshape(1, 2, 3))
    np.testing.assert_array_equal(got[2], xv.ravel())
    np.testing.assert_allclose(got[3], cv.reshape(2, 3) + np.cos(xv), rtol=1e-6)


def test_expand_dims_and_squeeze_between_unknown_dims_and_their_gradients():
    x = tf.placeholder(tf.float64, [None, None])
    middle = tf.expand_dims(x, 1)
    back = tf.squeeze(tf.expand_dims(tf.exp(middle), 0), [0, 2])
    (g,) = tf.gradients(tf.reduce_sum(back * x), x)
    xv = np.arange(6.0).reshape(3, 2) / 5
    middle_v, back_v, gv = _run([middle, back, g], {x: xv})
    np.testing.assert_array_equal(middle_v, xv[:, None])
    np.testing.assert_allclose(back_v, np.exp(xv), rtol=1e-15)
    np.testing.assert_allclose(gv, np.exp(xv) * (1 + xv), rtol=1e-15)


def test_gather_gradient_with_unknown_row_length():
    params = tf.placeholder(tf.float64, [None, None])
    indices = tf.placeholder(tf.int32, [None])
    (g,) = tf.gradients(tf.reduce_sum(tf.gather(params, indices) * 3.0), params)
    pv = np.arange(8.0).reshape(4, 2)
    gv = _run(g, {params: pv, indices: np.array([0, 2, 2], np.int32)})
    np.testing.assert_array_equal(gv, [[3, 3], [0, 0], [6, 6], [0, 0]])


# ---- 6. stop_gradients ---------------------------------------------------------------------------


def test_stop_gradients_treats_the_listed_tensors_as_constants():
    # TF's own example: with y = 2x and z = x + y, dz/dx is 3, but 1 when y is held constant.
    x = tf.placeholder(tf.float64, [2])
    y = 2.0 * x
    z = tf.reduce_sum(x + y * tf.sin(x))
    held, free = tf.gradients(z, x, stop_gradients=[y]), tf.gradients(z, x)
    dy, dz_y = tf.gradients(z, [x, y], stop_gradients=[y])
    xv = np.array([0.3, -1.2])
    held_v, free_v, dy_v, dz_y_v, y_v = _run([held[0], free[0], dy, dz_y, y], {x: xv})
    np.testing.assert_allclose(held_v, 1 + 2 * xv * np.cos(xv), rtol=1e-14)
    np.testing.assert_allclose(free_v, 1 + 2 * np.sin(xv) + 2 * xv * np.cos(xv), rtol=1e-14)
    np.testing.assert_allclose(dy_v, held_v, rtol=1e-14)
    np.testing.assert_allclose(dz_y_v, np.sin(xv), rtol=1e-14)
    np.testing.assert_allclose(y_v, 2 * xv)


def test_stop_gradients_leaves_none_where_the_only_path_is_cut():
    x = tf.placeholder(tf.float32, [3])
    y = tf.exp(x)
    z = tf.reduce_sum(y * y)
    assert tf.gradients(z, x, stop_gradients=[y]) == [None]
    (dzdy,) = tf.gradients(z, y, stop_gradients=[y])
    xv = np.array([0.1, 0.2, -0.5], np.float32)
    np.testing.assert_allclose(_run(dzdy, {x: xv}), 2 * np.exp(xv), rtol=1e-6)


def test_stop_gradients_of_a_variable_read_and_an_intermediate_target():
    w = tf.Variable(np.array([1.5, -0.5]))
    h = w * w
    k = tf.sin(h)
    z = tf.reduce_sum(k * h)
    gw, gk, gh = tf.gradients(z, [w, k, h], stop_gradients=[k])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        gw_v, gk_v, gh_v = sess.run([gw, gk, gh])
    wv = np.array([1.5, -0.5])
    hv = wv * wv
    np.testing.assert_allclose(gw_v, np.sin(hv) * 2 * wv, rtol=1e-14)
    np.testing.assert_allclose(gk_v, hv, rtol=1e-14)
    np.testing.assert_allclose(gh_v, np.sin(hv), rtol=1e-14)


# ---- random-graph findings in reductions (/tmp/notes/conformance-findings.md) --------------------


@pytest.mark.parametrize(
    "reduce, axis, message",
    [
        (tf.reduce_sum, 0, r"Invalid reduction dimension 0 for input with 0 dimensions for 'Sum'"),
        (
            tf.reduce_mean,
            [0],
            r"Invalid reduction dimension 0 for input with 0 dimensions for 'Mean'",
        ),
        (tf.argmax, 0, r"Expected dimension in the range \[0, 0\), but got 0 for 'ArgMax'"),
        (tf.argmin, -1, r"Expected dimension in the range \[0, 0\), but got -1 for 'ArgMin'"),
    ],
)
def test_reducing_a_scalar_along_an_axis_is_refused_at_build_time(reduce, axis, message):
    x = tf.placeholder(tf.float32, [])
    with pytest.raises(ValueError, match=message):
        reduce(x, axis=axis)


def test_transpose_of_a_scalar_compiles_to_an_artifact(tmp_path):
    # The identity permutation of a 0-d tensor became a linalg.transpose with an empty permutation,
    # on which MLIR asserts (conformance seed 1).
    import subprocess
    import sys

    from tgc.runtime import load

    source = tmp_path / "scalar_transpose.mlir"
    source.write_text(
        "func.func @main(%x: tensor<f64>) -> tensor<f64> {\n"
        '  %0 = "tgc.transpose"(%x) {perm = array<i64>} : (tensor<f64>) -> tensor<f64>\n'
        '  %1 = "tgc.multiply"(%0, %0) : (tensor<f64>, tensor<f64>) -> tensor<f64>\n'
        "  return %1 : tensor<f64>\n"
        "}\n"
    )
    compiled = subprocess.run(
        [
            sys.executable,
            "-m",
            "tgc.tools.cli",
            "compile",
            str(source),
            "-o",
            str(tmp_path / "art"),
        ],
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stderr
    np.testing.assert_array_equal(
        load(str(tmp_path / "art"))(arg0=np.float64(-1.5))["result0"], 2.25
    )


def test_slices_that_hold_no_element_and_their_gradients():
    # x[:, 4:] of 4 columns starts at the dim's size; MLIR's extract_slice refused that offset at
    # compile time (conformance seeds 56, 94, 153, 214, 287).
    x = tf.placeholder(tf.float64, [2, 4])
    z = tf.placeholder(tf.float64, [0, 3])
    pieces = [
        x[:, 4:],
        x[:, 5:7],
        tf.slice(x, [0, 4], [-1, 0]),
        x[2:],
        z[:, 1:],
        tf.concat([x, x[2:]], 0),
    ]
    loss = tf.reduce_sum(x[:, 3:] * 2.0) + tf.reduce_sum(x[:, 4:]) + tf.reduce_sum(pieces[-1])
    (g,) = tf.gradients(loss, x)
    xv = np.arange(8.0).reshape(2, 4)
    got = _run(pieces + [g], {x: xv, z: np.zeros((0, 3))})
    for piece, want in zip(got, [xv[:, 4:], xv[:, 5:7], xv[:, 4:4], xv[2:], np.zeros((0, 2)), xv]):
        np.testing.assert_array_equal(piece, want)
    np.testing.assert_array_equal(got[-1], [[1, 1, 1, 3], [1, 1, 1, 3]])


def test_empty_matmul_gradient_across_two_devices_keeps_its_shape():
    # The gradient came back as reshape_like([0, 0] -> [0, ?]); memref.expand_shape sizes
    # the unknown dim by dividing by its group's known sizes (0 here): the dim came back
    # as a pointer (seed 1155).
    v0 = tf.placeholder(tf.float64, [0, None])
    with tf.device("/cpu:1"):
        v2 = v0 * 2.0
    with tf.device("/cpu:0"):
        v4 = tf.matmul(v2, v2, transpose_a=True, transpose_b=True)
    (g,) = tf.gradients(tf.reduce_sum(v4), [v2])
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        v4_v, g_v = sess.run([v4, g], {v0: np.zeros((0, 0))})
    assert v4_v.shape == (0, 0) and g_v.shape == (0, 0)
