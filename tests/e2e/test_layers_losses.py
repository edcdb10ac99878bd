"""tgc.layers, tgc.losses and tgc.contrib.layers end to end: every layer and loss against a numpy
reference (weights fixed through constant_initializer), TF's variable names and reuse rules, the
collections, gradients of a layers-built net against central differences,
and the lecture program."""

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import contrib, layers, losses

RNG = np.random.default_rng(0)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def _const(a):
    return tf.constant_initializer(np.asarray(a))


# ---- numpy references ----------------------------------------------------------------------------


def _same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def _windows(x, kh, kw, strides, padding, fill):
    """x [n, h, w, c] -> patches [n, oh, ow, kh, kw, c], padded with fill for 'same'."""
    sh, sw = strides
    if padding == "same":
        oh, top, bottom = _same_pads(x.shape[1], kh, sh)
        ow, left, right = _same_pads(x.shape[2], kw, sw)
        x = np.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)], constant_values=fill)
    else:
        oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
    out = np.empty((x.shape[0], oh, ow, kh, kw, x.shape[3]), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw, :]
    return out


def np_conv(x, k, strides, padding):
    patches = _windows(x.astype(np.float64), k.shape[0], k.shape[1], strides, padding, 0.0)
    return np.einsum("nijabc,abcf->nijf", patches, k.astype(np.float64))


def np_max_pool(x, size, strides, padding):
    return _windows(x, size, size, strides, padding, -np.inf).max(axis=(3, 4))


def np_avg_pool(x, size, strides, padding):
    ones = np.ones(x.shape[:3] + (1,), x.dtype)
    total = _windows(x, size, size, strides, padding, 0.0).sum(axis=(3, 4))
    count = _windows(ones, size, size, strides, padding, 0.0).sum(axis=(3, 4))
    return total / count


# ---- layers vs numpy -----------------------------------------------------------------------------


def test_dense_matches_numpy_on_rank2_and_rank3_inputs():
    w = RNG.normal(size=(3, 4)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    seq = tf.placeholder(tf.float32, [None, 5, 3])
    y = layers.dense(
        x, 4, activation=tf.nn.relu, kernel_initializer=_const(w), bias_initializer=_const(b)
    )
    z = layers.dense(
        seq, 4, kernel_initializer=_const(w), bias_initializer=_const(b), use_bias=False
    )
    a = RNG.normal(size=(6, 3)).astype(np.float32)
    s = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    got_y, got_z = _run([y, z], {x: a, seq: s})
    np.testing.assert_allclose(got_y, np.maximum(a @ w + b, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_z, s @ w, rtol=1e-5, atol=1e-6)
    assert got_z.shape == (2, 5, 4) and z.shape.as_list() == [None, 5, 4]
    assert [v.name for v in tf.trainable_variables()] == [
        "dense/kernel:0",
        "dense/bias:0",
        "dense_1/kernel:0",
    ]


@pytest.mark.parametrize("padding,strides", [("same", (1, 1)), ("valid", (2, 1)), ("SAME", 2)])
def test_conv2d_matches_numpy(padding, strides):
    k = RNG.normal(size=(3, 2, 2, 3)).astype(np.float32)
    b = RNG.normal(size=3).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 6, 5, 2])
    y = layers.conv2d(
        x,
        3,
        (3, 2),
        strides=strides,
        padding=padding,
        activation=tf.nn.relu,
        kernel_initializer=_const(k),
        bias_initializer=_const(b),
    )
    a = RNG.normal(size=(2, 6, 5, 2)).astype(np.float32)
    st = (strides, strides) if isinstance(strides, int) else strides
    want = np.maximum(np_conv(a, k, st, padding.lower()) + b, 0)
    np.testing.assert_allclose(_run(y, {x: a}), want, rtol=1e-4, atol=1e-5)
    assert [v.name for v in tf.global_variables()] == ["conv2d/kernel:0", "conv2d/bias:0"]
    assert tf.global_variables()[0].shape.as_list() == [3, 2, 2, 3]


def test_pooling_flatten_and_their_names():
    x = tf.placeholder(tf.float32, [None, 5, 5, 2])
    mx = layers.max_pooling2d(x, 2, 2, padding="same")
    av = layers.average_pooling2d(x, 3, 2)
    av_same = layers.average_pooling2d(x, 2, 2, padding="same")
    flat = layers.flatten(mx)
    a = RNG.normal(size=(3, 5, 5, 2)).astype(np.float32)
    got = _run([mx, av, av_same, flat], {x: a})
    np.testing.assert_allclose(got[0], np_max_pool(a, 2, (2, 2), "same"), rtol=1e-6)
    np.testing.assert_allclose(got[1], np_avg_pool(a, 3, (2, 2), "valid"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], np_avg_pool(a, 2, (2, 2), "same"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[3], got[0].reshape(3, -1), rtol=1e-6)
    assert flat.shape.as_list() == [None, 18]
    assert mx.op.name == "max_pooling2d/MaxPool" and av.op.name == "average_pooling2d/AvgPool"
    assert flat.op.name == "flatten/Reshape"


def test_flatten_with_unknown_inner_dims_needs_a_known_batch():
    x = tf.placeholder(tf.float32, [4, None, 3])
    np.testing.assert_allclose(
        _run(layers.flatten(x), {x: np.ones((4, 2, 3), np.float32)}), np.ones((4, 6))
    )
    with pytest.raises(ValueError, match=r"batch dim or all other dims known.*\(\?, \?, 3\)"):
        layers.flatten(tf.placeholder(tf.float32, [None, None, 3]))


def test_dropout_python_and_tensor_training_flags():
    x = tf.placeholder(tf.float32, [200, 50])
    training = tf.placeholder(tf.bool, [])
    off = layers.dropout(x, rate=0.3)
    on = layers.dropout(x, rate=0.3, training=True, seed=1)
    fed = layers.dropout(x, rate=0.3, training=training, seed=2)
    a = RNG.uniform(1, 2, size=(200, 50)).astype(np.float32)
    with tf.Session() as sess:
        got_off, got_on, fed_false = sess.run([off, on, fed], {x: a, training: False})
        fed_true = sess.run(fed, {x: a, training: True})
    np.testing.assert_array_equal(got_off, a)
    np.testing.assert_allclose(fed_false, a, rtol=1e-6)
    for got in (got_on, fed_true):
        kept = got != 0
        np.testing.assert_allclose(got[kept], a[kept] / 0.7, rtol=1e-5)
        assert abs(kept.mean() - 0.7) < 0.02  # 10000 draws: 0.02 is over 4 standard deviations


def test_batch_normalization_training_inference_and_update_ops():
    x = tf.placeholder(tf.float32, [None, 3])
    flag = tf.placeholder(tf.bool, [])
    gamma = np.array([1.0, 2.0, 0.5], np.float32)
    beta = np.array([0.0, -1.0, 3.0], np.float32)
    train = layers.batch_normalization(
        x,
        momentum=0.9,
        training=True,
        name="bn",
        gamma_initializer=_const(gamma),
        beta_initializer=_const(beta),
    )
    infer = layers.batch_normalization(x, name="bn", reuse=True)
    switch = layers.batch_normalization(x, momentum=0.9, training=flag, name="bn", reuse=True)
    updates = tf.get_default_graph().get_collection(layers.UPDATE_OPS)
    assert [v.name for v in tf.global_variables()] == [
        "bn/gamma:0",
        "bn/beta:0",
        "bn/moving_mean:0",
        "bn/moving_variance:0",
    ]
    assert [v.name for v in tf.trainable_variables()] == ["bn/gamma:0", "bn/beta:0"]
    assert len(updates) == 4  # two from the training call, two from the tensor-flag call
    batches = [RNG.normal(2.0, 3.0, size=(8, 3)).astype(np.float32) for _ in range(3)]
    mm, mv = np.zeros(3), np.ones(3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for a in batches:
            got = sess.run([train] + updates[:2], {x: a})[0]
            np.testing.assert_allclose(
                got, (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-4
            )
            mm, mv = 0.9 * mm + 0.1 * a.mean(0), 0.9 * mv + 0.1 * a.var(0)
        a = batches[0]
        want_infer = (a - mm) / np.sqrt(mv + 1e-3) * gamma + beta
        np.testing.assert_allclose(sess.run(infer, {x: a}), want_infer, rtol=1e-4, atol=1e-4)
        off = sess.run([switch] + updates[2:], {x: a, flag: False})[0]
        np.testing.assert_allclose(
            off, want_infer, rtol=1e-4, atol=1e-4
        )  # and the updates changed nothing:
        np.testing.assert_allclose(sess.run(infer, {x: a}), want_infer, rtol=1e-4, atol=1e-4)
        on = sess.run([switch] + updates[2:], {x: a, flag: True})[0]
        np.testing.assert_allclose(
            on, (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-4
        )
        np.testing.assert_allclose(
            sess.run(tf.global_variables()[2]), 0.9 * mm + 0.1 * a.mean(0), rtol=1e-5
        )


def test_fused_batch_norm_feeds_the_unbiased_variance_to_the_moving_average():
    x = tf.placeholder(tf.float32, [None, 2, 2, 3])
    y = layers.batch_normalization(x, training=True, epsilon=0.01)
    a = RNG.normal(size=(3, 2, 2, 3)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([y] + tf.get_default_graph().get_collection(layers.UPDATE_OPS), {x: a})
    flat = a.reshape(-1, 3)
    np.testing.assert_allclose(
        got[0], (a - flat.mean(0)) / np.sqrt(flat.var(0) + 0.01), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(got[2], 0.99 + 0.01 * flat.var(0, ddof=1), rtol=1e-5)


# ---- names, reuse, collections -------------------------------------------------------------------


def test_variable_names_reuse_and_trainable():
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("net"):
        layers.dense(x, 2)
        layers.dense(x, 2)
    fc = layers.dense(x, 2, name="fc")
    shared = layers.dense(x, 2, name="fc", reuse=True)
    auto = layers.dense(x, 2, name="fc", reuse=tf.AUTO_REUSE)
    layers.dense(x, 2, name="frozen", trainable=False)
    names = [v.name for v in tf.global_variables()]
    assert names == [
        "net/dense/kernel:0",
        "net/dense/bias:0",
        "net/dense_1/kernel:0",
        "net/dense_1/bias:0",
        "fc/kernel:0",
        "fc/bias:0",
        "frozen/kernel:0",
        "frozen/bias:0",
    ]
    assert [v.name for v in tf.trainable_variables()] == names[:6]
    a = RNG.normal(size=(2, 3)).astype(np.float32)
    got = _run([fc, shared, auto], {x: a})
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0], got[2])
    with pytest.raises(ValueError, match="Variable fc/kernel already exists"):
        layers.dense(x, 2, name="fc")
    with pytest.raises(ValueError, match="Variable other/kernel does not exist"):
        layers.dense(x, 2, name="other", reuse=True)


def test_layer_objects_share_their_variables_across_calls():
    x = tf.placeholder(tf.float32, [None, 4])
    dense = layers.Dense(3, activation=tf.nn.tanh, name="shared")
    y1, y2 = dense(x), dense(x * 2.0)
    conv = layers.Conv2D(2, 3, padding="same")
    img = tf.placeholder(tf.float32, [None, 4, 4, 1])
    c = layers.Flatten()(conv(img))
    assert [v.name for v in dense.variables] == ["shared/kernel:0", "shared/bias:0"]
    assert dense.trainable_variables == dense.variables and dense.non_trainable_variables == []
    assert [v.name for v in tf.global_variables()] == [
        "shared/kernel:0",
        "shared/bias:0",
        "conv2d/kernel:0",
        "conv2d/bias:0",
    ]
    a = RNG.normal(size=(2, 4)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got1, got2, k, b = sess.run([y1, y2, dense.kernel, dense.bias], {x: a})
        assert sess.run(c, {img: np.ones((2, 4, 4, 1), np.float32)}).shape == (2, 32)
    np.testing.assert_allclose(got1, np.tanh(a @ k + b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got2, np.tanh(2 * a @ k + b), rtol=1e-5, atol=1e-6)


def test_layer_errors_name_the_problem():
    with pytest.raises(
        ValueError, match=r"last dimension of the inputs to `Dense` should be defined.*\(\?, \?\)"
    ):
        layers.dense(tf.placeholder(tf.float32, [None, None]), 3)
    with pytest.raises(
        ValueError, match="Conv2D: padding must be 'valid' or 'same' but got 'full'"
    ):
        layers.conv2d(tf.placeholder(tf.float32, [None, 4, 4, 1]), 2, 3, padding="full")
    with pytest.raises(ValueError, match="data_format 'channels_first' is not supported"):
        layers.max_pooling2d(
            tf.placeholder(tf.float32, [None, 4, 4, 1]), 2, 2, data_format="channels_first"
        )
    with pytest.raises(ValueError, match="kernel_constraint is not supported"):
        layers.dense(tf.placeholder(tf.float32, [None, 2]), 3, kernel_constraint=lambda w: w)


# ---- losses vs numpy -----------------------------------------------------------------------------


def _sigmoid_xent(z, x):
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _huber(e, d):
    a = np.abs(e)
    q = np.minimum(a, d)
    return 0.5 * q * q + d * (a - q)


def test_elementwise_losses_with_weights_match_numpy():
    y = tf.placeholder(tf.float32, [None, 3])
    p = tf.placeholder(tf.float32, [None, 3])
    w = tf.placeholder(tf.float32, [None, 1])
    lab = RNG.integers(0, 2, size=(4, 3)).astype(np.float32)
    pred = RNG.uniform(0.05, 0.95, size=(4, 3)).astype(np.float32)
    wv = np.array([[1.0], [0.0], [2.5], [0.5]], np.float32)
    e = (pred - lab).astype(np.float64)
    cases = {
        "mse": (losses.mean_squared_error(y, p, weights=w), e**2),
        "abs": (losses.absolute_difference(y, p, weights=w), np.abs(e)),
        "huber": (
            losses.huber_loss(y, p * 3.0, weights=w, delta=0.7),
            _huber(3.0 * pred - lab, 0.7),
        ),
        "log": (
            losses.log_loss(y, p, weights=w, epsilon=1e-4),
            -lab * np.log(pred + 1e-4) - (1 - lab) * np.log(1 - pred + 1e-4),
        ),
        "hinge": (
            losses.hinge_loss(y, p * 4.0 - 2.0, weights=w),
            np.maximum(1 - (2 * lab - 1) * (4 * pred - 2.0), 0),
        ),
        "sigmoid": (
            losses.sigmoid_cross_entropy(y, p, weights=w, label_smoothing=0.2),
            _sigmoid_xent(lab * 0.8 + 0.1, pred),
        ),
    }
    got = _run({k: v[0] for k, v in cases.items()}, {y: lab, p: pred, w: wv})
    nonzero = 3 * 3  # three rows of nonzero weight, each broadcast over 3 columns
    for key, (_, per_element) in cases.items():
        want = (per_element * wv).sum() / nonzero
        np.testing.assert_allclose(got[key], want, rtol=2e-5, err_msg=key)
    assert [t.name for t in losses.get_losses()] == [v[0].name for v in cases.values()]
    assert cases["mse"][0].name == "mean_squared_error/value:0"


def test_reductions_and_zero_weights():
    p = tf.placeholder(tf.float32, [2, 3])
    y = tf.constant(np.zeros((2, 3), np.float32))
    w = np.array([[2.0, 0.0, 1.0], [0.0, 0.0, 3.0]], np.float32)
    R = losses.Reduction
    fetch = {
        r: losses.absolute_difference(y, p, weights=w, reduction=r)
        for r in (R.NONE, R.SUM, R.MEAN, R.SUM_OVER_BATCH_SIZE, R.SUM_BY_NONZERO_WEIGHTS)
    }
    fetch["zero"] = losses.mean_squared_error(y, p, weights=0.0)
    a = RNG.normal(size=(2, 3)).astype(np.float32)
    got = _run(fetch, {p: a})
    wl = np.abs(a) * w
    np.testing.assert_allclose(got[R.NONE], wl, rtol=1e-6)
    np.testing.assert_allclose(got[R.SUM], wl.sum(), rtol=1e-6)
    np.testing.assert_allclose(got[R.MEAN], wl.sum() / w.sum(), rtol=1e-6)
    np.testing.assert_allclose(got[R.SUM_OVER_BATCH_SIZE], wl.sum() / 6, rtol=1e-6)
    np.testing.assert_allclose(got[R.SUM_BY_NONZERO_WEIGHTS], wl.sum() / 3, rtol=1e-6)
    assert got["zero"] == 0.0
    with pytest.raises(ValueError, match="Invalid Reduction Key mean"):
        losses.mean_squared_error(y, p, reduction="mean")


def test_softmax_losses_match_numpy():
    logits = tf.placeholder(tf.float32, [None, 4])
    onehot = tf.placeholder(tf.float32, [None, 4])
    ids = tf.placeholder(tf.int64, [None, 1])
    x = RNG.normal(size=(5, 4)).astype(np.float32)
    k = RNG.integers(0, 4, size=5)
    oh = np.eye(4, dtype=np.float32)[k]
    w = np.array([1.0, 2.0, 0.0, 1.0, 0.5], np.float32)
    dense = losses.softmax_cross_entropy(onehot, logits, weights=w, label_smoothing=0.1)
    sparse = losses.sparse_softmax_cross_entropy(ids, logits)
    got = _run([dense, sparse], {logits: x, onehot: oh, ids: k[:, None]})
    smoothed = oh * 0.9 + 0.1 / 4
    per_example = -(smoothed * _log_softmax(x.astype(np.float64))).sum(axis=1)
    np.testing.assert_allclose(got[0], (per_example * w).sum() / 4, rtol=1e-5)
    np.testing.assert_allclose(
        got[1], -_log_softmax(x.astype(np.float64))[np.arange(5), k].mean(), rtol=1e-5
    )


def test_loss_shape_mismatch_is_reported():
    with pytest.raises(
        ValueError, match=r"mean_squared_error: Shapes \(\?, 3\) and \(\?, 2\) are incompatible"
    ):
        losses.mean_squared_error(
            tf.placeholder(tf.float32, [None, 2]), tf.placeholder(tf.float32, [None, 3])
        )
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        losses.mean_squared_error(
            tf.zeros([4, 3]), tf.zeros([4, 3]), weights=np.ones(4, np.float32)
        )


def test_regularizers_and_total_loss():
    x = tf.placeholder(tf.float32, [None, 3])
    w = RNG.normal(size=(3, 2)).astype(np.float32)
    zero_reg = losses.get_regularization_loss()
    y = layers.dense(
        x, 2, kernel_initializer=_const(w), kernel_regularizer=contrib.layers.l2_regularizer(0.1)
    )
    h = contrib.layers.fully_connected(
        y,
        2,
        weights_initializer=_const(w[:2]),
        weights_regularizer=contrib.layers.l1_regularizer(0.05),
        biases_regularizer=contrib.layers.l2_regularizer(0.0),
    )
    data = losses.mean_squared_error(tf.zeros_like(h), h)
    reg, total = losses.get_regularization_loss(), losses.get_total_loss()
    a = RNG.normal(size=(4, 3)).astype(np.float32)
    got = _run([zero_reg, reg, total, data], {x: a})
    want_reg = 0.1 * (w**2).sum() / 2 + 0.05 * np.abs(w[:2]).sum()
    assert got[0] == 0.0
    np.testing.assert_allclose(got[1], want_reg, rtol=1e-5)
    np.testing.assert_allclose(
        got[2], want_reg + np.mean(np.maximum(a @ w @ w[:2], 0) ** 2), rtol=1e-5
    )
    assert len(losses.get_regularization_losses()) == 2  # l2_regularizer(0.0) adds nothing
    with pytest.raises(ValueError, match="scale cannot be an integer: 1"):
        contrib.layers.l2_regularizer(1)


# ---- contrib.layers ------------------------------------------------------------------------------


def test_contrib_initializers_have_tf_limits_and_variances():
    tf.set_random_seed(3)
    xavier = tf.get_variable("x", [200, 300], initializer=contrib.layers.xavier_initializer())
    he = tf.get_variable(
        "h", [3, 3, 40, 50], initializer=contrib.layers.variance_scaling_initializer()
    )
    xn = tf.get_variable(
        "n", [300, 200], initializer=contrib.layers.xavier_initializer(uniform=False, seed=4)
    )
    a, b, c = _run([xavier, he, xn])
    limit = np.sqrt(6.0 / 500)
    assert np.abs(a).max() <= limit and np.abs(a).max() > 0.99 * limit
    assert abs(a.std() - limit / np.sqrt(3)) < 0.02 * limit
    # contrib's truncated normal: stddev sqrt(1.3 * factor / n) before truncation at 2 stddev
    he_std = np.sqrt(1.3 * 2.0 / (9 * 40))
    assert np.abs(b).max() <= 2 * he_std and abs(b.std() - 0.8796 * he_std) < 0.03 * he_std
    assert np.abs(c).max() <= 2 * np.sqrt(1.3 / 250)
    with pytest.raises(TypeError, match="Unknown mode fan_in"):
        contrib.layers.variance_scaling_initializer(mode="fan_in")


def test_fully_connected_and_contrib_flatten():
    x = tf.placeholder(tf.float32, [None, 2, 3])
    flat = contrib.layers.flatten(x)
    w = RNG.normal(size=(6, 4)).astype(np.float32)
    h = contrib.layers.fully_connected(
        flat, 4, weights_initializer=_const(w), biases_initializer=tf.constant_initializer(0.5)
    )
    out = contrib.layers.fully_connected(
        h, 1, activation_fn=None, biases_initializer=None, scope="out"
    )
    assert [v.name for v in tf.global_variables()] == [
        "fully_connected/weights:0",
        "fully_connected/biases:0",
        "out/weights:0",
    ]
    assert tf.get_default_graph().get_collection("model_variables") == tf.global_variables()
    assert h.op.name == "fully_connected/Relu" and out.shape.as_list() == [None, 1]
    a = RNG.normal(size=(3, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(
        _run(h, {x: a}), np.maximum(a.reshape(3, 6) @ w + 0.5, 0), rtol=1e-5, atol=1e-6
    )


# ---- gradients and training ----------------------------------------------------------------------


def test_gradients_of_a_layers_net_match_finite_differences():
    tf.set_random_seed(7)
    x = tf.placeholder(tf.float64, [None, 4, 4, 1])
    h = layers.conv2d(x, 2, 3, padding="same", activation=tf.nn.tanh)
    h = layers.batch_normalization(h, training=True, gamma_initializer=tf.constant_initializer(1.5))
    h = layers.average_pooling2d(h, 2, 2)
    h = layers.dense(layers.flatten(h), 3, activation=tf.nn.sigmoid)
    y = layers.dense(h, 2)
    r = np.random.default_rng(1).normal(size=(2, 2))
    f = tf.reduce_sum(y * r)
    kernel = tf.global_variables()[0]
    gx, gk = tf.gradients(f, [x, kernel])
    a = np.random.default_rng(2).normal(size=(2, 4, 4, 1))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_x, got_k, k0 = sess.run([gx, gk, kernel], {x: a})

        def fd(point, feed_key, base_feed, eps=1e-6):
            grad = np.zeros_like(point)
            for i in np.ndindex(point.shape):
                up, down = point.copy(), point.copy()
                up[i] += eps
                down[i] -= eps
                grad[i] = (
                    sess.run(f, {**base_feed, feed_key: up})
                    - sess.run(f, {**base_feed, feed_key: down})
                ) / (2 * eps)
            return grad

        np.testing.assert_allclose(got_x, fd(a, x, {}), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got_k, fd(k0, kernel.value(), {x: a}), rtol=1e-6, atol=1e-8)


def test_lecture_two_layer_net_trains():
    """CS231n 2017 lecture 8: tf.layers.dense + tf.losses.mean_squared_error + an optimizer."""
    N, D, H = 64, 100, 50
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    init = contrib.layers.xavier_initializer()
    h = layers.dense(inputs=x, units=H, activation=tf.nn.relu, kernel_initializer=init)
    y_pred = layers.dense(inputs=h, units=D, kernel_initializer=init)
    loss = losses.mean_squared_error(y_pred, y)
    optimizer = tf.train.GradientDescentOptimizer(1e0)
    updates = optimizer.minimize(loss)
    rng = np.random.default_rng(0)
    values = {
        x: rng.normal(size=(N, D)).astype(np.float32),
        y: rng.normal(size=(N, D)).astype(np.float32),
    }
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        history = [sess.run([loss, updates], feed_dict=values)[0] for _ in range(50)]
    assert history[-1] < 0.5 * history[0]
    assert all(b < a for a, b in zip(history, history[1:]))
