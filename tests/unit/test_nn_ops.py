"""tgc.nn end to end: softmax, log_softmax, the cross-entropy losses, l2_loss,
bias_add and activations.

Forward results against numpy references written here (independent of the registry's ``eval``), with
a None batch dim fed two batch sizes; gradients against central finite differences of those
references, on float64 placeholders; TF1's keyword-only losses and the build-time shape errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from mlir import ir

import tgc as tf
from tgc.dialect.context import make_context
from tgc.frontend import nn
from tgc.passes.pipeline import run_pipeline

RNG = np.random.default_rng(11)
CLASSES = 5


# ---- numpy references ----------------------------------------------------------------------------


def np_log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def np_softmax(x, axis=-1):
    return np.exp(np_log_softmax(x, axis))


def np_xent(labels, logits, axis=-1):
    return -np.sum(labels * np_log_softmax(logits, axis), axis=axis)


def np_sparse_xent(labels, logits):
    log_p = np_log_softmax(logits)
    return -np.array([log_p[i, k] for i, k in enumerate(labels)])


def np_sigmoid_xent(labels, logits):
    # the plain formula z * -log(sigmoid(x)) + (1 - z) * -log(1 - sigmoid(x)), fine for moderate x
    s = 1.0 / (1.0 + np.exp(-logits))
    return -labels * np.log(s) - (1 - labels) * np.log(1 - s)


def np_l2_loss(t):
    return np.sum(t * t) / 2


def np_elu(x):
    return np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1)


def finite_differences(f, x0, eps=1e-6):
    g = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        up, down = x0.copy(), x0.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up) - f(down)) / (2 * eps)
    return g


def _logits(n, dtype=np.float64):
    return RNG.normal(0, 2, size=(n, CLASSES)).astype(dtype)


def _dist(n, dtype=np.float64):
    p = RNG.random((n, CLASSES))
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


def _labels(n):
    return RNG.integers(0, CLASSES, size=n).astype(np.int32)


# Each case: (tgc builder of (labels, logits), numpy reference of (labels, logits), labels maker,
# labels dtype, whether labels get a gradient). Ops without labels ignore them.
CASES = {
    "softmax": (lambda z, x: nn.softmax(x), lambda z, x: np_softmax(x), _dist, "float", False),
    "log_softmax": (
        lambda z, x: nn.log_softmax(x),
        lambda z, x: np_log_softmax(x),
        _dist,
        "float",
        False,
    ),
    "softmax_xent_v2": (
        lambda z, x: nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x),
        np_xent,
        _dist,
        "float",
        True,
    ),
    "softmax_xent_v1": (
        lambda z, x: nn.softmax_cross_entropy_with_logits(labels=z, logits=x),
        np_xent,
        _dist,
        "float",
        False,
    ),
    "sparse_xent": (
        lambda z, x: nn.sparse_softmax_cross_entropy_with_logits(labels=z, logits=x),
        np_sparse_xent,
        _labels,
        "int32",
        False,
    ),
    "sigmoid_xent": (
        lambda z, x: nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
        np_sigmoid_xent,
        lambda n: RNG.random((n, CLASSES)),
        "float",
        True,
    ),
    "l2_loss": (lambda z, x: nn.l2_loss(x), lambda z, x: np_l2_loss(x), _dist, "float", False),
    "elu": (lambda z, x: nn.elu(x), lambda z, x: np_elu(x), _dist, "float", False),
}


def _placeholders(labels_kind, dtype):
    logits = tf.placeholder(dtype, [None, CLASSES])
    if labels_kind == "int32":
        labels = tf.placeholder(tf.int32, [None])
    else:
        labels = tf.placeholder(dtype, [None, CLASSES])
    return labels, logits


def _cast_labels(z, dtype):
    return z if z.dtype.kind == "i" else z.astype(dtype)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_forward_matches_numpy_for_two_batch_sizes(name, dtype):
    build, ref, make_labels, labels_kind, _ = CASES[name]
    z, x = _placeholders(labels_kind, dtype)
    y = build(z, x)
    np_dtype = dtype.as_numpy_dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == tf.float32 else dict(rtol=1e-12, atol=1e-12)
    with tf.Session() as sess:
        for n in (3, 7):
            a, b = _logits(n, np_dtype), _cast_labels(make_labels(n), np_dtype)
            got = sess.run(y, {x: a, z: b})
            want = ref(b.astype(np.float64) if b.dtype.kind == "f" else b, a.astype(np.float64))
            assert got.dtype == np_dtype and got.shape == np.shape(want)
            np.testing.assert_allclose(got, want, **tol)
        assert sess.compile_count == 1


def _weights_like(y_shape, n):
    """Fixed random weights for the scalar sum(y * w) whose gradient is checked."""
    shape = [n if d is None else d for d in y_shape]
    return np.random.default_rng(3).normal(size=shape)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    build, ref, make_labels, labels_kind, labels_grad = CASES[name]
    z, x = _placeholders(labels_kind, tf.float64)
    y = build(z, x)
    w = tf.placeholder(tf.float64, y.shape.as_list())
    gx, gz = tf.gradients(tf.reduce_sum(y * w), [x, z])
    assert (gz is not None) == labels_grad
    with tf.Session() as sess:
        for n in (2, 4):
            a, b, wv = _logits(n), make_labels(n), _weights_like(y.shape.as_list(), n)
            fetch = [gx, gz] if labels_grad else [gx]
            got = sess.run(fetch, {x: a, z: b, w: wv})
            want_x = finite_differences(lambda t: np.sum(ref(b, t) * wv), a)
            np.testing.assert_allclose(got[0], want_x, rtol=1e-6, atol=1e-7)
            if labels_grad:
                want_z = finite_differences(lambda t: np.sum(ref(t, a) * wv), b)
                np.testing.assert_allclose(got[1], want_z, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_softmax_family_on_other_axes(axis):
    x = tf.placeholder(tf.float64, [None, 3, 4])
    z = tf.placeholder(tf.float64, [None, 3, 4])
    ys = [
        nn.softmax(x, axis=axis),
        nn.log_softmax(x, axis=axis),
        nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x, axis=axis),
    ]
    refs = [
        lambda a, b: np_softmax(a, axis),
        lambda a, b: np_log_softmax(a, axis),
        lambda a, b: np_xent(b, a, axis),
    ]
    weights = [np.random.default_rng(i).normal(size=(2, 3, 4)) for i in range(2)]
    weights.append(np.random.default_rng(2).normal(size=np.delete(np.array([2, 3, 4]), axis % 3)))
    loss = tf.add_n([tf.reduce_sum(y * w) for y, w in zip(ys, weights)])
    (gx,) = tf.gradients(loss, [x])
    a, b = RNG.normal(size=(2, 3, 4)), RNG.random((2, 3, 4))
    with tf.Session() as sess:
        got = sess.run(ys + [gx], {x: a, z: b})
    for g, ref in zip(got, refs):
        np.testing.assert_allclose(g, ref(a, b), rtol=1e-12, atol=1e-12)
    total = lambda t: sum(np.sum(r(t, b) * w) for r, w in zip(refs, weights))  # noqa: E731
    np.testing.assert_allclose(got[-1], finite_differences(total, a), rtol=1e-6, atol=1e-7)


def test_softmax_and_losses_are_stable_for_large_logits():
    x = tf.placeholder(tf.float32, [None, 3])
    z = tf.placeholder(tf.float32, [None, 3])
    ys = [
        nn.softmax(x),
        nn.log_softmax(x),
        nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x),
        nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
    ]
    a = np.array([[1000.0, 0.0, -1000.0], [-800.0, -800.0, -801.0]], dtype=np.float32)
    b = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], dtype=np.float32)
    with tf.Session() as sess:
        soft, log_soft, xent, sig = sess.run(ys, {x: a, z: b})
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    np.testing.assert_allclose(soft, np_softmax(a64), rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(log_soft, np_log_softmax(a64), rtol=1e-5)
    np.testing.assert_allclose(xent, np_xent(b64, a64), rtol=1e-5)
    # TF's formula, max(x, 0) - x z + log(1 + exp(-|x|)), evaluated in float64
    want_sig = np.maximum(a64, 0) - a64 * b64 + np.log1p(np.exp(-np.abs(a64)))
    np.testing.assert_allclose(sig, want_sig, rtol=1e-5)


def test_sparse_labels_int64_and_rank_two():
    labels = tf.placeholder(tf.int64, [None, 2])
    logits = tf.placeholder(tf.float64, [None, 2, CLASSES])
    y = nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    b = RNG.integers(0, CLASSES, size=(3, 2))
    a = RNG.normal(size=(3, 2, CLASSES))
    with tf.Session() as sess:
        got = sess.run(y, {labels: b, logits: a})
    want = -np.take_along_axis(np_log_softmax(a), b[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_sparse_labels_get_no_gradient():
    labels = tf.placeholder(tf.int32, [None])
    logits = tf.placeholder(tf.float64, [None, CLASSES])
    loss = tf.reduce_sum(nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    g_labels, g_logits = tf.gradients(loss, [labels, logits])
    assert g_labels is None
    b, a = _labels(4), _logits(4)
    with tf.Session() as sess:
        got = sess.run(g_logits, {labels: b, logits: a})
    np.testing.assert_allclose(got, np_softmax(a) - np.eye(CLASSES)[b], rtol=1e-12, atol=1e-12)


def test_v1_loss_stops_the_gradient_to_labels_v2_does_not():
    labels = tf.placeholder(tf.float64, [None, CLASSES])
    logits = tf.placeholder(tf.float64, [None, CLASSES])
    v1 = tf.reduce_sum(nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    v2 = tf.reduce_sum(nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits))
    assert tf.gradients(v1, [labels]) == [None]
    (g2,) = tf.gradients(v2, [labels])
    a = _logits(3)
    with tf.Session() as sess:
        got = sess.run(g2, {labels: _dist(3), logits: a})
    np.testing.assert_allclose(got, -np_log_softmax(a), rtol=1e-12)


# ---- TF1 calling conventions and errors ----------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        nn.softmax_cross_entropy_with_logits,
        nn.sparse_softmax_cross_entropy_with_logits,
        nn.sigmoid_cross_entropy_with_logits,
    ],
    ids=lambda f: f.__name__,
)
def test_positional_labels_are_rejected_like_tf1(fn):
    x = tf.placeholder(tf.float32, [None, CLASSES])
    with pytest.raises(
        ValueError,
        match=rf"Only call `{fn.__name__}` with named arguments \(labels=\.\.\., logits=\.\.\.",
    ):
        fn(x, x)


def test_v2_accepts_positional_labels_and_logits_like_tf_1_15():
    x = tf.placeholder(tf.float32, [None, CLASSES])
    y = nn.softmax_cross_entropy_with_logits_v2(x, x)
    assert y.shape.as_list() == [None]


def test_cross_entropy_shape_errors_name_both_shapes():
    x = tf.placeholder(tf.float32, [None, 4])
    with pytest.raises(
        ValueError,
        match=r"logits and labels must be broadcastable: logits_size=\[\?,4\] labels_size=\[\?,3\]",
    ):
        nn.softmax_cross_entropy_with_logits_v2(
            labels=tf.placeholder(tf.float32, [None, 3]), logits=x
        )
    with pytest.raises(
        ValueError,
        match=r"labels must have rank one less than logits but got \(\?, 2\) and \(\?, 4\)",
    ):
        nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.placeholder(tf.int32, [None, 2]), logits=x
        )
    with pytest.raises(ValueError, match=r"number of classes .* must be known"):
        nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.placeholder(tf.int32, [None]), logits=tf.placeholder(tf.float32, [None, None])
        )
    with pytest.raises(
        ValueError, match=r"labels must be int32 or int64 class indices but have dtype float32"
    ):
        nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.placeholder(tf.float32, [None]), logits=x
        )


def test_softmax_rejects_int_logits_and_bad_axes():
    with pytest.raises(ValueError, match=r"dtype int32 is not supported"):
        nn.softmax(tf.placeholder(tf.int32, [None, 3]))
    with pytest.raises(ValueError, match=r"axis 2 is out of range for a tensor of rank 2"):
        nn.softmax(tf.placeholder(tf.float32, [None, 3]), axis=2)
    with pytest.raises(ValueError, match=r"cannot give both axis=0 and dim=1"):
        nn.softmax(tf.placeholder(tf.float32, [None, 3]), axis=0, dim=1)


# ---- bias_add, xw_plus_b and activations ---------------------------------------------------------


def test_bias_add_and_xw_plus_b_with_gradients():
    x = tf.placeholder(tf.float64, [None, 3])
    w = tf.placeholder(tf.float64, [3, 4])
    bias = tf.placeholder(tf.float64, [4])
    y1 = nn.xw_plus_b(x, w, bias)
    y2 = nn.bias_add(tf.matmul(x, w), bias)
    weights = RNG.normal(size=(5, 4))
    gx, gb = tf.gradients(tf.reduce_sum(y1 * weights), [x, bias])
    a, wv, bv = RNG.normal(size=(5, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=4)
    with tf.Session() as sess:
        r1, r2, g_x, g_b = sess.run([y1, y2, gx, gb], {x: a, w: wv, bias: bv})
    np.testing.assert_allclose(r1, a @ wv + bv, rtol=1e-12)
    np.testing.assert_allclose(r2, a @ wv + bv, rtol=1e-12)
    np.testing.assert_allclose(g_x, weights @ wv.T, rtol=1e-12)
    np.testing.assert_allclose(g_b, weights.sum(axis=0), rtol=1e-12)


def test_bias_add_channels_first():
    x = tf.placeholder(tf.float32, [None, 3, 2, 2])
    y = nn.bias_add(x, np.array([1.0, 2.0, 3.0], dtype=np.float32), data_format="NCHW")
    a = RNG.normal(size=(2, 3, 2, 2)).astype(np.float32)
    with tf.Session() as sess:
        got = sess.run(y, {x: a})
    np.testing.assert_allclose(
        got, a + np.array([1.0, 2.0, 3.0], dtype=np.float32)[:, None, None], rtol=1e-6
    )


def test_bias_add_errors():
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match=r"bias of shape \[4\] does not match the channel dim 3"):
        nn.bias_add(x, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"bias must be a vector"):
        nn.bias_add(x, np.zeros((1, 3), np.float32))


def test_activations():
    x = tf.placeholder(tf.float32, [None, 4])
    a = np.array([[-7.0, -0.5, 0.5, 7.0], [3.0, 6.5, -1.0, 0.0]], dtype=np.float32)
    ys = [nn.relu(x), nn.relu6(x), nn.sigmoid(x), nn.tanh(x)]
    with tf.Session() as sess:
        relu, relu6, sig, tanh = sess.run(ys, {x: a})
    np.testing.assert_array_equal(relu, np.maximum(a, 0))
    np.testing.assert_array_equal(relu6, np.minimum(np.maximum(a, 0), 6))
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-a.astype(np.float64))), rtol=1e-6)
    np.testing.assert_allclose(tanh, np.tanh(a), rtol=1e-6)


def test_elu_does_not_overflow_for_large_inputs():
    x = tf.placeholder(tf.float32, [None])
    a = np.array([-100.0, -1.0, 0.0, 100.0, 3e38], dtype=np.float32)
    (g,) = tf.gradients(tf.reduce_sum(nn.elu(x)), [x])
    with tf.Session() as sess:
        y, dy = sess.run([nn.elu(x), g], {x: a})
    np.testing.assert_allclose(y, np_elu(a.astype(np.float64)), rtol=1e-6)
    # TF's EluGrad is g * (out + 1): exp(-100) (denormal in f32) comes out as 0 there too
    np.testing.assert_allclose(
        dy, np.where(a > 0, 1.0, np.exp(np.minimum(a, 0))), rtol=1e-6, atol=1e-37
    )


def test_relu6_gradient_is_zero_outside_the_band():
    x = tf.placeholder(tf.float64, [None, 4])
    (g,) = tf.gradients(tf.reduce_sum(nn.relu6(x)), [x])
    with tf.Session() as sess:
        got = sess.run(g, {x: np.array([[-2.0, 0.5, 5.5, 9.0]])})
    np.testing.assert_array_equal(got, [[0.0, 1.0, 1.0, 0.0]])


# ---- decomposition -------------------------------------------------------------------------------


def test_composites_decompose_into_stable_core_ops():
    src = """
      func.func @main(%x: tensor<?x5xf32>, %z: tensor<?x5xf32>, %l: tensor<?xi32>)
          -> (tensor<?x5xf32>, tensor<?xf32>, tensor<?xf32>) {
        %0 = "tgc.softmax"(%x) {axis = -1 : i64} : (tensor<?x5xf32>) -> tensor<?x5xf32>
        %1 = "tgc.softmax_cross_entropy_with_logits"(%z, %x) {axis = -1 : i64}
            : (tensor<?x5xf32>, tensor<?x5xf32>) -> tensor<?xf32>
        %2 = "tgc.sparse_softmax_cross_entropy_with_logits"(%l, %x)
            : (tensor<?xi32>, tensor<?x5xf32>) -> tensor<?xf32>
        return %0, %1, %2 : tensor<?x5xf32>, tensor<?xf32>, tensor<?xf32>
      }"""
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(src)
        run_pipeline(module, "tgc-decompose")
        text = str(module)
    for composite in ("tgc.softmax", "tgc.softmax_cross_entropy", "tgc.sparse_softmax"):
        assert composite not in text
    assert text.count('"tgc.reduce_max"') == 3  # each subtracts the max before exp
    assert '"tgc.exp"' in text and '"tgc.log"' in text


@pytest.mark.parametrize(
    "fn", [nn.softmax_cross_entropy_with_logits, nn.softmax_cross_entropy_with_logits_v2]
)
def test_softmax_losses_cast_labels_to_the_logits_dtype_as_tf(fn):
    """TF 2.21: float64 labels beside float32 logits give a float32 loss (the labels are cast)."""
    labels = tf.placeholder(tf.float64, [None, 3])
    logits = tf.placeholder(tf.float32, [None, 3])
    loss = fn(labels=labels, logits=logits)
    assert loss.dtype == tf.float32
    x = np.float32([[1, 2, 3], [0, 0, 1]])
    y = np.eye(3)[[0, 2]]
    with tf.Session() as sess:
        got = sess.run(loss, {labels: y, logits: x})
    np.testing.assert_allclose(got, -np.sum(y * np_log_softmax(x), axis=-1), rtol=1e-5)


def test_sigmoid_loss_refuses_labels_of_another_dtype_as_tf():
    """TF 2.21 raises a TypeError from its Mul; tgc says which argument has which dtype."""
    labels = tf.placeholder(tf.float64, [None, 3])
    logits = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="labels have dtype float64 but logits have float32"):
        nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def test_sparse_labels_outside_the_classes_fail_the_run_as_tfs_kernel():
    """TF's CPU kernel raises on a label outside [0, classes) ("Received a label value of 7 which
    is outside the valid range of [0, 5)"); tgc gave a loss of 0 and a gradient of
    softmax(logits), a wrong number in silence. It now fails with gather's index error, also when
    only the gradient runs (the forward loss is not fetched), since TF's one kernel computes
    both."""
    labels = tf.placeholder(tf.int32, [None])
    logits = tf.Variable(np.zeros((2, 5), np.float32))
    loss = tf.reduce_mean(nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    message = r"indices\[1\] = 7 is not in \[0, 5\)"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(loss, {labels: [1, 4]}), np.log(5), rtol=1e-6)
        for fetch in (loss, train):
            for bad in ([1, 7], [1, -1]):
                expected = message if bad[1] == 7 else message.replace("7", "-1")
                with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
                    sess.run(fetch, {labels: bad})
        np.testing.assert_array_equal(sess.run(logits), np.zeros((2, 5)))  # no step was taken


def test_sparse_labels_of_another_batch_at_run_time_fail_as_tfs_kernel():
    """A cond's [1] labels beside [2, 3] logits broadcast over the rows; TF 2.21 fails: "logits
    and labels must have the same first dimension, got logits shape [2,3] and labels shape [1]"."""
    pred = tf.placeholder(tf.bool, [])
    labels = tf.cond(pred, lambda: tf.constant([1, 2]), lambda: tf.constant([1]))
    logits = tf.constant(np.float32([[0, 0, 0], [0, 1, 0]]))
    loss = nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    with tf.Session() as sess:
        want = [np.log(3), np.log(2 + np.e) - 0]
        np.testing.assert_allclose(sess.run(loss, {pred: True}), want, rtol=1e-6)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"logits and labels must have the same first dimension, got logits shape and "
            r"labels shape:\] \[2 3\] \[1\]",
        ):
            sess.run(loss, {pred: False})


# Labels that broadcast to the logits' shape, as TF's kernel broadcasts them (TF 2.21's values for
# these draws: tests/oracle/softmax_xent_broadcast.py; TF refuses labels larger than the logits,
# and ranks above 2 in its reshapes, which tgc reads as numpy's broadcast of the labels).
BROADCAST_LABELS = [((3,), (2, 3)), ((2, 1), (2, 3)), ((1, 3), (2, 3)), ((1, 2, 3), (2, 2, 3))]


@pytest.mark.parametrize("labels_shape, logits_shape", BROADCAST_LABELS)
def test_softmax_xent_broadcasts_labels_to_the_logits_as_tfs_kernel(labels_shape, logits_shape):
    rng = np.random.default_rng(5)
    b, a = rng.random(labels_shape), rng.normal(size=logits_shape)
    z = tf.placeholder(tf.float64, labels_shape)
    x = tf.placeholder(tf.float64, logits_shape)
    y = nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x)
    assert y.shape.as_list() == list(logits_shape[:-1])
    w = rng.normal(size=logits_shape[:-1])
    gx, gz = tf.gradients(tf.reduce_sum(y * w), [x, z])
    with tf.Session() as sess:
        got, got_x, got_z = sess.run([y, gx, gz], {x: a, z: b})
    np.testing.assert_allclose(got, np_xent(b, a), rtol=1e-12)
    np.testing.assert_allclose(
        got_x, finite_differences(lambda t: np.sum(np_xent(b, t) * w), a), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        got_z, finite_differences(lambda t: np.sum(np_xent(t, a) * w), b), rtol=1e-6, atol=1e-8
    )


def test_softmax_xent_broadcasts_labels_fed_with_one_row():
    """[None, 3] labels fed one row beside two rows of logits: TF 2.21 gives [2.0717583,
    2.0666575] for these values (tests/oracle/softmax_xent_broadcast.py)."""
    z = tf.placeholder(tf.float32, [None, 3])
    x = tf.placeholder(tf.float32, [None, 3])
    y = nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x)
    b = np.float32([[0.5488135, 0.71518937, 0.60276335]])
    a = np.float32([[0.5448832, 0.4236548, 0.6458941], [0.4375872, 0.891773, 0.96366274]])
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {z: b, x: a}), [2.0717583, 2.0666575], rtol=1e-6)
        with pytest.raises(  # labels of more rows than the logits: TF's kernel refuses them too
            tf.errors.InvalidArgumentError,
            match=r"must be broadcastable: logits_size=\[1,3\] labels_size=\[2,3\]",
        ):
            sess.run(y, {z: np.ones((2, 3), np.float32), x: a[:1]})


def test_softmax_xent_checks_labels_made_at_run_time():
    """A cond's labels of one row broadcast over the logits' row; of two, beside one row of
    logits, they fail the run as TF's kernel fails it."""
    pred = tf.placeholder(tf.bool, [])
    labels = tf.cond(pred, lambda: tf.fill([1, 3], 0.5), lambda: tf.ones([2, 3]))
    x = tf.placeholder(tf.float32, [None, 3])
    y = nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=x)
    a = np.float32([[0.0, 1.0, 2.0]])
    with tf.Session() as sess:
        got = sess.run(y, {pred: True, x: a})
        np.testing.assert_allclose(got, np_xent(np.full((1, 3), 0.5), a), rtol=1e-6)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Incompatible shapes: \[2,3\] vs. \[1,3\]\n.*softmax_cross_entropy_with_logits",
        ):
            sess.run(y, {pred: False, x: a})


def test_softmax_xent_refuses_labels_larger_than_the_logits():
    with pytest.raises(
        ValueError,
        match=r"logits and labels must be broadcastable: logits_size=\[1,3\] labels_size=\[2,3\]",
    ):
        nn.softmax_cross_entropy_with_logits_v2(
            labels=tf.placeholder(tf.float32, [2, 3]), logits=tf.placeholder(tf.float32, [1, 3])
        )


@pytest.mark.parametrize(
    "labels_shape, logits_shape, loss_shape",
    [
        ([1, 3], [None, 3], [1]),
        ([None, 3], [1, 3], [1]),
        ([None, 3], [None, 3], [None]),
        ([3], [None, 3], [1]),
        ([2, 1], [None, 3], [2]),
        ([None, 1], [2, 3], [2]),
    ],
)
def test_softmax_xent_static_shape_is_tensorflows(labels_shape, logits_shape, loss_shape):
    """TF 2.21's static shapes of the loss (a dim known on either side is the loss's)."""
    y = nn.softmax_cross_entropy_with_logits_v2(
        labels=tf.placeholder(tf.float32, labels_shape),
        logits=tf.placeholder(tf.float32, logits_shape),
    )
    assert y.shape.as_list() == loss_shape
