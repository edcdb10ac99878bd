"""conv2d, max_pool and avg_pool through the TF1 API: compiled results against naive numpy loops,
gradients against central finite differences, unknown batch dims, and build-time errors.

The naive references below are written from TensorFlow's definitions, independently of the
registry's numpy references (which the first tests check against them), loop by output pixel.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
import registry_harness
from tgc.dialect.registry import REGISTRY
from tgc.dialect.types import TensorSpec
from tgc.frontend import conv_ops
from tgc.frontend.build import make_op

RNG = np.random.default_rng(1234)


# ---- naive references ---------------------------------------------------------------------------


def same_or_valid(size, k, stride, dilation, padding):
    """(out, pad_before) from TensorFlow's documented formulas."""
    k_eff = (k - 1) * dilation + 1
    if padding == "VALID":
        return int(np.ceil((size - k_eff + 1) / stride)), 0
    out = int(np.ceil(size / stride))
    return out, max((out - 1) * stride + k_eff - size, 0) // 2


def naive_conv2d(x, f, strides, padding, dilations=(1, 1)):
    n, h, w, _ = x.shape
    kh, kw, _, o = f.shape
    oh, pt = same_or_valid(h, kh, strides[0], dilations[0], padding)
    ow, pl = same_or_valid(w, kw, strides[1], dilations[1], padding)
    y = np.zeros((n, oh, ow, o), x.dtype)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    r = i * strides[0] - pt + a * dilations[0]
                    c = j * strides[1] - pl + b * dilations[1]
                    if 0 <= r < h and 0 <= c < w:
                        y[:, i, j, :] += x[:, r, c, :] @ f[a, b]
    return y


def naive_pool(x, ksize, strides, padding, kind):
    n, h, w, ch = x.shape
    oh, pt = same_or_valid(h, ksize[0], strides[0], 1, padding)
    ow, pl = same_or_valid(w, ksize[1], strides[1], 1, padding)
    y = np.zeros((n, oh, ow, ch), x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * strides[0] - pt, j * strides[1] - pl
            window = x[
                :, max(r0, 0) : r0 + ksize[0], max(c0, 0) : c0 + ksize[1], :
            ]  # in-bounds part only
            y[:, i, j, :] = window.max(axis=(1, 2)) if kind == "max" else window.mean(axis=(1, 2))
    return y


def finite_difference(fn, arrays, index, eps=1e-6):
    grad = np.zeros(arrays[index].shape)
    for k in np.ndindex(arrays[index].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[index][k] += eps
        minus[index][k] -= eps
        grad[k] = (fn(*plus) - fn(*minus)) / (2 * eps)
    return grad


# ---- configurations -----------------------------------------------------------------------------

CONV_CASES = [
    # (input shape, filter shape, strides, padding, dilations)
    ((2, 5, 5, 3), (3, 3, 3, 4), (1, 1), "SAME", (1, 1)),
    ((2, 5, 5, 3), (3, 3, 3, 4), (1, 1), "VALID", (1, 1)),
    ((2, 7, 9, 2), (3, 3, 2, 3), (2, 2), "SAME", (1, 1)),
    ((2, 7, 9, 2), (3, 3, 2, 3), (2, 2), "VALID", (1, 1)),
    ((1, 8, 6, 2), (2, 4, 2, 2), (2, 1), "SAME", (1, 1)),
    ((1, 9, 9, 1), (5, 5, 1, 2), (3, 3), "SAME", (1, 1)),
    ((1, 7, 8, 2), (3, 2, 2, 2), (1, 1), "SAME", (2, 3)),
    ((1, 7, 8, 2), (3, 2, 2, 2), (1, 1), "VALID", (2, 2)),
]
POOL_CASES = [
    # (input shape, ksize, strides, padding)
    ((2, 6, 6, 3), (2, 2), (2, 2), "VALID"),
    ((2, 5, 7, 3), (2, 2), (2, 2), "SAME"),
    ((2, 7, 7, 2), (3, 3), (2, 2), "SAME"),
    ((1, 7, 6, 2), (3, 2), (2, 1), "VALID"),
    ((1, 5, 5, 2), (3, 3), (1, 1), "SAME"),
    ((1, 4, 4, 1), (4, 4), (3, 3), "SAME"),
]


def _conv_id(case):
    return f"{case[0]}-{case[1]}-s{case[2]}-{case[3]}-d{case[4]}"


def _pool_id(case):
    return f"{case[0]}-k{case[1]}-s{case[2]}-{case[3]}"


def _nhwc(pair):
    return (1, pair[0], pair[1], 1)


# ---- the registry's references agree with the naive definitions ---------------------------------


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_registry_conv_reference_matches_naive_definition(case):
    xs, fs, s, padding, d = case
    x, f = RNG.standard_normal(xs), RNG.standard_normal(fs)
    got = REGISTRY["conv2d"].eval(x, f, strides=_nhwc(s), padding=padding, dilations=_nhwc(d))
    np.testing.assert_allclose(got, naive_conv2d(x, f, s, padding, d), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_registry_pool_reference_matches_naive_definition(case, kind):
    xs, k, s, padding = case
    x = RNG.standard_normal(xs)
    got = REGISTRY[f"{kind}_pool"].eval(x, ksize=_nhwc(k), strides=_nhwc(s), padding=padding)
    np.testing.assert_allclose(got, naive_pool(x, k, s, padding, kind), rtol=1e-12, atol=1e-12)


# ---- compiled forward ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_id)
def test_conv2d_matches_numpy(case):
    xs, fs, s, padding, d = case
    x = RNG.standard_normal(xs).astype(np.float32)
    f = RNG.standard_normal(fs).astype(np.float32)
    xp = tf.placeholder(tf.float32, xs)
    y = conv_ops.conv2d(
        xp, tf.constant(f), strides=[1, s[0], s[1], 1], padding=padding, dilations=list(d)
    )
    want = naive_conv2d(x.astype(np.float64), f.astype(np.float64), s, padding, d)
    assert tuple(y.shape.as_list()) == want.shape
    with tf.Session() as sess:
        got = sess.run(y, {xp: x})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_matches_numpy(case, kind):
    xs, k, s, padding = case
    x = RNG.standard_normal(xs).astype(np.float32)
    xp = tf.placeholder(tf.float32, xs)
    pool = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
    y = pool(xp, ksize=list(k), strides=list(s), padding=padding)
    want = naive_pool(x.astype(np.float64), k, s, padding, kind)
    assert tuple(y.shape.as_list()) == want.shape
    with tf.Session() as sess:
        got = sess.run(y, {xp: x})
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_avg_pool_same_averages_only_in_bounds_elements():
    # On a tensor of ones every window's average is 1, however much of it hangs over the edge.
    xp = tf.placeholder(tf.float32, [1, 5, 5, 1])
    y = conv_ops.avg_pool(xp, ksize=3, strides=2, padding="SAME")
    with tf.Session() as sess:
        got = sess.run(y, {xp: np.ones((1, 5, 5, 1), np.float32)})
    np.testing.assert_array_equal(got, np.ones((1, 3, 3, 1), np.float32))


def test_unknown_batch_dim_serves_two_batch_sizes():
    xp = tf.placeholder(tf.float32, [None, 7, 7, 3])
    f = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)
    conv = conv_ops.conv2d(xp, f, strides=2, padding="SAME")
    mx = conv_ops.max_pool(conv, ksize=2, strides=2, padding="SAME")
    av = conv_ops.avg_pool(conv, ksize=3, strides=1, padding="SAME")
    (gx,) = tf.gradients(tf.reduce_sum(mx) + tf.reduce_sum(av * av), [xp])
    assert conv.shape.as_list() == [None, 4, 4, 4] and mx.shape.as_list() == [None, 2, 2, 4]
    with tf.Session() as sess:
        for batch in (1, 3):
            x = RNG.standard_normal((batch, 7, 7, 3)).astype(np.float32)
            got_c, got_m, got_a, got_g = sess.run([conv, mx, av, gx], {xp: x})
            want_c = naive_conv2d(x.astype(np.float64), f.astype(np.float64), (2, 2), "SAME")
            np.testing.assert_allclose(got_c, want_c, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(
                got_m, naive_pool(want_c, (2, 2), (2, 2), "SAME", "max"), rtol=1e-5, atol=1e-5
            )
            np.testing.assert_allclose(
                got_a, naive_pool(want_c, (3, 3), (1, 1), "SAME", "avg"), rtol=1e-5, atol=1e-5
            )
            assert got_g.shape == x.shape and np.all(np.isfinite(got_g)) and np.any(got_g != 0)


# ---- gradients ----------------------------------------------------------------------------------


def _session_gradients(build, arrays):
    """d sum(op(*arrays) * w) / d each array, compiled, with a fixed random w;
    also the numpy objective."""
    holders = [tf.placeholder(tf.float64, a.shape) for a in arrays]
    y = build(*holders)
    w = RNG.standard_normal(y.shape.as_list())
    grads = tf.gradients(tf.reduce_sum(y * w), holders)
    with tf.Session() as sess:  # None (an operand read for its shape only) stays None
        got = sess.run([g for g in grads if g is not None], dict(zip(holders, arrays)))
    return [None if g is None else got.pop(0) for g in grads], w


@pytest.mark.parametrize("case", CONV_CASES[::2] + CONV_CASES[3:4] + CONV_CASES[7:8], ids=_conv_id)
def test_conv2d_gradients_match_finite_differences(case):
    xs, fs, s, padding, d = case
    arrays = [RNG.standard_normal(xs), RNG.standard_normal(fs)]

    def build(x, f):
        return conv_ops.conv2d(x, f, strides=list(s), padding=padding, dilations=list(d))

    got, w = _session_gradients(build, arrays)
    objective = lambda x, f: np.sum(naive_conv2d(x, f, s, padding, d) * w)  # noqa: E731
    for i, name in enumerate(("input", "filter")):
        want = finite_difference(objective, arrays, i)
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-6, err_msg=f"d/d{name}")


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_gradients_match_finite_differences(case, kind):
    xs, k, s, padding = case
    # Distinct values, well apart, so that no window has a near-tie for its maximum.
    x = RNG.permutation(np.prod(xs)).reshape(xs) * 0.1
    pool = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
    got, w = _session_gradients(
        lambda v: pool(v, ksize=list(k), strides=list(s), padding=padding), [x]
    )
    objective = lambda v: np.sum(naive_pool(v, k, s, padding, kind) * w)  # noqa: E731
    np.testing.assert_allclose(got[0], finite_difference(objective, [x], 0), rtol=1e-6, atol=1e-6)


def test_max_pool_gradient_goes_to_the_first_maximum_and_overlaps_add():
    # All values equal: each 2x2 window (stride 1, VALID, so windows overlap) sends its gradient to
    # its top-left element; interior elements are the top-left of exactly one window.
    xp = tf.placeholder(tf.float32, [1, 3, 3, 1])
    y = conv_ops.max_pool(xp, ksize=2, strides=1, padding="VALID")
    g = np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(1, 2, 2, 1)
    (gx,) = tf.gradients(tf.reduce_sum(y * g), [xp])
    with tf.Session() as sess:
        got = sess.run(gx, {xp: np.ones((1, 3, 3, 1), np.float32)})
    want = np.array([[1, 2, 0], [3, 4, 0], [0, 0, 0]], np.float32).reshape(1, 3, 3, 1)
    np.testing.assert_array_equal(got, want)
    # One shared maximum in the middle of four overlapping windows collects all four gradients.
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 1, 1, 0] = 5.0
    with tf.Session() as sess:
        got = sess.run(gx, {xp: x})
    assert got[0, 1, 1, 0] == 10.0 and np.count_nonzero(got) == 1


@pytest.mark.parametrize(
    "opname",
    [
        "conv2d_backprop_input",
        "conv2d_backprop_filter",
        "avg_pool_grad",
        "max_pool_grad",
        "max_pool_grad_grad",
    ],
)
def test_backprop_ops_are_differentiable(opname):
    # Their gradient rules (what a second derivative would use) against finite differences of their
    # registry references; tf.gradients cannot nest, so the ops are built directly.
    conv = {"strides": (1, 2, 2, 1), "padding": "SAME", "dilations": (1, 1, 1, 1)}
    pool = {"ksize": (1, 3, 3, 1), "strides": (1, 2, 2, 1), "padding": "SAME"}
    operands, attrs = {
        "conv2d_backprop_input": ([(3, 3, 2, 4), (2, 3, 3, 4), (2, 5, 5, 2)], conv),
        "conv2d_backprop_filter": (
            [(2, 5, 5, 2), (2, 3, 3, 4)],
            {**conv, "filter_shape": (3, 3, 2, 4)},
        ),
        "avg_pool_grad": ([(2, 5, 5, 2), (2, 3, 3, 2)], pool),
        # max pooling's gradients are piecewise linear: constant in the pooled input away from
        # ties (random normals have none), whose gradient is zeros (TF's)
        "max_pool_grad": ([(2, 5, 5, 2), (2, 3, 3, 2)], pool),
        "max_pool_grad_grad": ([(2, 5, 5, 2), (2, 5, 5, 2)], pool),
    }[opname]
    arrays = [RNG.standard_normal(shape) for shape in operands]
    got, w = _session_gradients(lambda *xs: make_op(opname, list(xs), **attrs), arrays)
    objective = lambda *xs: np.sum(REGISTRY[opname].eval(*xs, **attrs) * w)  # noqa: E731
    for i, g in enumerate(got):
        want = finite_difference(objective, arrays, i)
        if g is None:  # a *_like operand: only its shape is read
            assert REGISTRY[opname].operands[i].endswith("_like") and not np.any(want)
            continue
        np.testing.assert_allclose(
            g, want, rtol=1e-6, atol=1e-6, err_msg=f"{opname} d/d operand {i}"
        )


# ---- the core IR each op lowers to --------------------------------------------------------------


def lowered(opname, shapes, dtype="float32", then="", **attrs) -> str:
    """The core IR of a one-op function (``dtype`` operands, batch dim unknown) after tgc-to-core
    (and the passes in ``then``)."""
    specs = [TensorSpec((None,) + s[1:] if s[0] == "?" else s, dtype) for s in shapes]
    return registry_harness.lowered_ir(
        specs,
        lambda b, args: [b.op(opname, *args, **attrs)],
        registry_harness.GRAPH_TO_CORE + ("," + then if then else ""),
    )


def check_in_order(text, *patterns):
    """FileCheck's CHECK lines: each pattern is found after the previous one."""
    at = 0
    for pattern in patterns:
        found = text.find(pattern, at)
        assert found >= 0, f"{pattern!r} not found after offset {at} in:\n{text}"
        at = found + len(pattern)


_CONV = {"strides": (1, 2, 2, 1), "padding": "SAME"}
_POOL = {"ksize": (1, 3, 3, 1), "strides": (1, 2, 2, 1), "padding": "SAME"}


def test_conv2d_lowers_to_im2col_and_matmul_with_dynamic_batch():
    # On the CPU (tgc-conv-gemm), f32/f64 conv2d goes through im2col + linalg.matmul, which
    # tgc-blas-matmul hands to OpenBLAS.
    # (A window this small is computed directly by default, conv_direct.py: direct=false here.)
    text = lowered(
        "conv2d", [("?", 7, 7, 3), (3, 3, 3, 4)], then="tgc-conv-gemm{direct=false}", **_CONV
    )
    check_in_order(
        text,
        "tensor.pad %arg0 low[0, 1, 1, 0] high[0, 1, 1, 0]",
        "arith.constant 0.000000e+00 : f32",
        "to tensor<?x9x9x3xf32>",
        # im2col copies each window row's KW*C = 9 adjacent elements of the collapsed (w, c) dim
        # as one vector, in loops over (n, i, j, kh).
        "into tensor<?x9x27xf32>",
        "tensor.dim",
        "tensor.empty(%dim) : tensor<?x4x4x3x9xf32>",
        "scf.for",
        "vector.transfer_read %collapsed",
        "tensor<?x9x27xf32>, vector<9xf32>",
        "vector.transfer_write",
        "tensor.collapse_shape",
        "into tensor<?x27xf32>",
        "into tensor<27x4xf32>",
        ": tensor<?x4xf32>",
        "call @tgc_gemm_dx27xf32_27x4xf32_dx4xf32_z",
        "tensor.expand_shape",
        "into tensor<?x4x4x4xf32>",
    )
    # The GEMM sits in a private function (out of reach of elementwise fusion) that holds the matmul
    # and zero-fills its output itself, so that tgc-blas-matmul calls BLAS with beta = 0.
    check_in_order(
        text,
        "func.func private @tgc_gemm_dx27xf32_27x4xf32_dx4xf32_z",
        "linalg.fill",
        "linalg.matmul",
        "func.func @main",
    )
    assert "linalg.fill" not in text[text.index("func.func @main") :]


def test_pools_lower_to_named_pooling_ops():
    check_in_order(
        lowered("max_pool", [("?", 7, 7, 3)], **_POOL),
        "tensor.pad",
        "arith.constant 0xFF800000 : f32",
        "linalg.pooling_nhwc_max",
        "strides = dense<2>",
    )
    check_in_order(
        lowered("avg_pool", [("?", 7, 7, 3)], **_POOL),
        "tensor.pad",
        "linalg.pooling_nhwc_sum",
        "arith.constant dense<",
        "tensor<4x4xf32>",
        "linalg.generic",
        "arith.divf",
    )


@pytest.mark.parametrize(
    "opname, shapes, attrs",
    [
        # Core's input gradient is the flipped-filter conv of the spread gradient (the CPU turns
        # f32/f64 ones into a GEMM and col2im: tests/lit/lowering/conv_gemm.mlir).
        (
            "conv2d_backprop_input",
            [(3, 3, 3, 4), ("?", 4, 4, 4), ("?", 7, 7, 3)],
            dict(_CONV, dtype="float16"),
        ),
        ("avg_pool_grad", [("?", 7, 7, 3), ("?", 4, 4, 3)], _POOL),
        ("max_pool_grad", [("?", 7, 7, 3), ("?", 4, 4, 3)], _POOL),
    ],
)
def test_backprop_ops_spread_the_gradient_with_a_strided_insert_slice(opname, shapes, attrs):
    # A gather formulation: the gradient is placed on the stride lattice, never scattered in a loop.
    # (The input gradient's check that x and the gradient hold the same batch is an scf.if.)
    text = lowered(opname, shapes, **attrs)
    check_in_order(text, "tensor.insert_slice", "[1, 2, 2, 1]")
    assert "scf.for" not in text and "scf.while" not in text and "tensor.extract " not in text


# ---- errors at graph build time -----------------------------------------------------------------


def test_channel_mismatch_names_both_shapes():
    x = tf.placeholder(tf.float32, [None, 8, 8, 3])
    f = tf.placeholder(tf.float32, [3, 3, 4, 16])
    with pytest.raises(ValueError) as err:
        conv_ops.conv2d(x, f, strides=1, padding="SAME")
    message = str(err.value)
    assert "(?, 8, 8, 3)" in message and "(3, 3, 4, 16)" in message and "Conv2D" in message


def test_data_format_other_than_nhwc_is_rejected():
    x = tf.placeholder(tf.float32, [1, 3, 8, 8])
    with pytest.raises(ValueError, match="data_format 'NCHW' is not supported"):
        conv_ops.conv2d(
            x, np.ones((3, 3, 3, 1), np.float32), strides=1, padding="SAME", data_format="NCHW"
        )
    with pytest.raises(ValueError, match="max_pool: data_format 'NCHW'"):
        conv_ops.max_pool(x, ksize=2, strides=2, padding="SAME", data_format="NCHW")


def test_bad_attributes_are_rejected():
    x = tf.placeholder(tf.float32, [1, 8, 8, 3])
    f = np.ones((3, 3, 3, 1), np.float32)
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID' but got 'FULL'"):
        conv_ops.conv2d(x, f, strides=1, padding="FULL")
    with pytest.raises(ValueError, match="must be 1 in the batch and channel dims"):
        conv_ops.conv2d(x, f, strides=[2, 1, 1, 1], padding="SAME")
    with pytest.raises(
        ValueError, match="VALID window of size 9 does not fit in a spatial dim of size 8"
    ):
        conv_ops.avg_pool(x, ksize=9, strides=1, padding="VALID")


def test_unknown_spatial_dims_are_rejected_with_the_shape():
    x = tf.placeholder(tf.float32, [None, None, None, 3])
    with pytest.raises(
        ValueError, match=r"height, width and channels .* known .* \(\?, \?, \?, 3\)"
    ):
        conv_ops.conv2d(x, np.ones((3, 3, 3, 1), np.float32), strides=1, padding="SAME")


def test_conv2d_accepts_filters_keyword_and_int_strides():
    x = RNG.standard_normal((1, 6, 6, 2)).astype(np.float32)
    f = RNG.standard_normal((2, 2, 2, 3)).astype(np.float32)
    y = conv_ops.conv2d(tf.constant(x), filters=tf.constant(f), strides=2, padding="valid")
    assert y.op.name.startswith("Conv2D")
    with tf.Session() as sess:
        got = sess.run(y)
    np.testing.assert_allclose(got, naive_conv2d(x, f, (2, 2), "VALID"), rtol=1e-5, atol=1e-5)


# ---- tf.nn.conv2d_backprop_input / conv2d_backprop_filter ---------------------------------------


def test_backprop_api_matches_the_gradients_of_conv2d():
    tf.reset_default_graph()
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    f0 = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
    g0 = rng.standard_normal((2, 4, 3, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 7, 6, 3])
    f = tf.constant(f0)
    g = tf.placeholder(tf.float32, [None, 4, 3, 4])
    conv = dict(strides=[1, 2, 2, 1], padding="SAME")
    y = tf.nn.conv2d(x, f, **conv)
    want_dx, want_df = tf.gradients(tf.reduce_sum(y * g), [x, f])
    dx_static = tf.nn.conv2d_backprop_input([2, 7, 6, 3], f, g, **conv)
    dx_dynamic = tf.nn.conv2d_backprop_input(
        tf.shape(x), f, g, **conv
    )  # batch known only at run time
    df = tf.nn.conv2d_backprop_filter(x, [3, 2, 3, 4], g, **conv)
    with tf.Session() as sess:
        got = sess.run([want_dx, want_df, dx_static, dx_dynamic, df], {x: x0, g: g0})
    assert dx_dynamic.shape.as_list() == [None, 7, 6, 3]
    np.testing.assert_allclose(got[2], got[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[3], got[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[4], got[1], rtol=1e-5, atol=1e-5)
    reference = REGISTRY["conv2d_backprop_filter"].eval(
        x0,
        g0,
        strides=(1, 2, 2, 1),
        padding="SAME",
        dilations=(1, 1, 1, 1),
        filter_shape=(3, 2, 3, 4),
    )
    np.testing.assert_allclose(got[4], reference, rtol=1e-4, atol=1e-4)


def test_backprop_api_rejects_bad_sizes():
    tf.reset_default_graph()
    f = tf.zeros([3, 3, 2, 4])
    g = tf.zeros([1, 4, 4, 4])
    with pytest.raises(ValueError, match=r"conv2d_backprop_input: input_sizes must name 4 dims"):
        tf.nn.conv2d_backprop_input([4, 4, 2], f, g, strides=[1, 1, 1, 1], padding="SAME")
    with pytest.raises(
        ValueError,
        match=r"conv2d_backprop_filter: filter_sizes must be 4 positive ints \(HWIO\) "
        r"but got \[3, 3\]",
    ):
        tf.nn.conv2d_backprop_filter(
            tf.zeros([1, 4, 4, 2]), [3, 3], g, strides=[1, 1, 1, 1], padding="SAME"
        )
    with pytest.raises(
        ValueError, match=r"conv2d_backprop_input: padding must be 'SAME' or 'VALID'"
    ):
        tf.nn.conv2d_backprop_input([1, 4, 4, 2], f, g, strides=[1, 1, 1, 1], padding="FULL")
