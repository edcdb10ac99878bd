"""Correctness of the CPU speed levers: BLAS matmul (tgc-blas-matmul) and im2col convolutions.

Every result is compared with numpy on odd sizes, unknown (None) dims, transposed operands and the
dtypes that keep the loop path. No timings are asserted here; benchmarks/ measures speed.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
import registry_harness
from tgc.dialect.types import TensorSpec
from tgc.lowering.cpu.blas import openblas_library

RNG = np.random.default_rng(7)
NP = {"float32": np.float32, "float64": np.float64, "int32": np.int32, "float16": np.float16}


def _run_matmul(a, b, ta, tb, dtype):
    tf.reset_default_graph()
    x = tf.placeholder(getattr(tf, dtype), [None, None])
    w = tf.placeholder(getattr(tf, dtype), [None, None])
    y = tf.matmul(x, w, transpose_a=ta, transpose_b=tb)
    with tf.Session() as sess:
        return sess.run(y, {x: a, w: b})


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "float16"])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_matches_numpy_on_odd_sizes_and_transposes(dtype, ta, tb):
    m, k, n = 13, 7, 5
    a = RNG.integers(-4, 5, (k, m) if ta else (m, k)).astype(NP[dtype])
    b = RNG.integers(-4, 5, (n, k) if tb else (k, n)).astype(NP[dtype])
    got = _run_matmul(a, b, ta, tb, dtype)
    want = (a.T if ta else a) @ (b.T if tb else b)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)  # small integers: exact in every dtype


def test_unknown_dims_compile_once_and_serve_several_shapes():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None])
    w = tf.placeholder(tf.float32, [None, 3])
    y = tf.matmul(x, w)
    with tf.Session() as sess:
        for m, k in [(1, 1), (37, 129), (0, 4), (5, 0)]:
            a = RNG.standard_normal((m, k)).astype(np.float32)
            b = RNG.standard_normal((k, 3)).astype(np.float32)
            np.testing.assert_allclose(sess.run(y, {x: a, w: b}), a @ b, rtol=1e-5, atol=1e-5)


def test_matmul_of_a_slice_reads_its_offset_and_row_stride():
    # The operand is a view into a larger buffer after bufferization: BLAS gets
    # the offset pointer and lda.
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [9, 11])
    w = tf.placeholder(tf.float32, [4, 6])
    y = tf.matmul(x[2:7, 3:7], w)
    a = RNG.standard_normal((9, 11)).astype(np.float32)
    b = RNG.standard_normal((4, 6)).astype(np.float32)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: a, w: b}), a[2:7, 3:7] @ b, rtol=1e-5, atol=1e-5)


def test_two_layer_gradients_through_blas_match_numpy():
    tf.reset_default_graph()
    a = RNG.standard_normal((6, 9)).astype(np.float32)
    w0 = RNG.standard_normal((9, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 9])
    w = tf.constant(w0)
    loss = tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)) ** 2)
    gx, gw = tf.gradients(loss, [x, w])
    with tf.Session() as sess:
        got_x, got_w = sess.run([gx, gw], {x: a})
    h = a @ w0
    dh = 2 * np.maximum(h, 0) * (h > 0)
    np.testing.assert_allclose(got_x, dh @ w0.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_w, a.T @ dh, rtol=1e-4, atol=1e-4)


# ---- the IR of the BLAS rewrite -----------------------------------------------------------------


def _calling_openblas(spec: str) -> str:
    """The CPU pipeline's ``spec`` without tgc-gemm-autotune and tgc-narrow-gemm, so that
    tgc-blas-matmul calls OpenBLAS for every matmul (its default callee) whatever the shape rule
    would pick: these tests check the BLAS rewrite itself."""
    skipped = ("tgc-gemm-autotune", "tgc-narrow-gemm")
    return ",".join(stage for stage in spec.split(",") if not stage.startswith(skipped))


def _lowered_to_blas(shapes, dtype, **attrs) -> str:
    """A one-matmul function through the CPU pipeline up to tgc-blas-matmul
    (before the loop lowering), every matmul calling OpenBLAS."""
    upto = _calling_openblas(registry_harness.CPU_PIPELINE.up_to("tgc-blas-matmul").spec())
    return registry_harness.lowered_ir(
        [TensorSpec(s, dtype) for s in shapes],
        lambda b, args: [b.op("matmul", *args, **attrs)],
        ",".join([registry_harness.GRAPH_TO_CORE, upto]),
    )


@pytest.mark.skipif(openblas_library() is None, reason="numpy without bundled OpenBLAS")
def test_f32_matmul_becomes_one_sgemm_call_with_transpose_flags():
    text = _lowered_to_blas([(None, 3), (4, 3)], "float32", transpose_a=False, transpose_b=True)
    assert (
        "linalg.matmul" not in text and "linalg.fill" not in text
    )  # zero fill folded into beta = 0
    assert (
        "func.func private @scipy_cblas_sgemm64_(i32, i32, i32, i64, i64, i64, f32, !llvm.ptr"
        in text
    )
    assert "arith.constant 112 : i32" in text  # CblasTrans for B
    assert text.count("call @scipy_cblas_sgemm64_(") == 1


@pytest.mark.skipif(openblas_library() is None, reason="numpy without bundled OpenBLAS")
def test_f64_uses_dgemm_and_integers_keep_the_loop_path():
    assert "call @scipy_cblas_dgemm64_(" in _lowered_to_blas([(5, 3), (3, 4)], "float64")
    text = _lowered_to_blas([(5, 3), (3, 4)], "int32")
    assert "linalg.matmul" in text and "cblas" not in text


# ---- im2col convolutions ------------------------------------------------------------------------


def _naive_conv(x, f, strides, padding, dilations=(1, 1)):
    n, h, w, c = x.shape
    kh, kw, _, o = f.shape
    ekh, ekw = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    if padding == "SAME":
        oh, ow = -(-h // strides[0]), -(-w // strides[1])
        ph = max((oh - 1) * strides[0] + ekh - h, 0)
        pw = max((ow - 1) * strides[1] + ekw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - ekh) // strides[0] + 1, (w - ekw) // strides[1] + 1
    out = np.zeros((n, oh, ow, o), np.float64)
    for i in range(kh):
        for j in range(kw):
            window = x[
                :,
                i * dilations[0] : i * dilations[0] + (oh - 1) * strides[0] + 1 : strides[0],
                j * dilations[1] : j * dilations[1] + (ow - 1) * strides[1] + 1 : strides[1],
                :,
            ]
            out += np.einsum("nhwc,co->nhwo", window.astype(np.float64), f[i, j].astype(np.float64))
    return out


CONV_CASES = [
    ((3, 9, 7, 2), (3, 2, 2, 5), (1, 1), "SAME", (1, 1)),
    ((2, 11, 10, 3), (5, 5, 3, 4), (2, 3), "SAME", (1, 1)),
    ((2, 10, 9, 1), (3, 3, 1, 6), (1, 2), "VALID", (1, 1)),
    ((1, 12, 12, 2), (3, 2, 2, 3), (1, 1), "VALID", (2, 3)),
    ((2, 9, 8, 3), (3, 3, 3, 2), (1, 1), "SAME", (2, 1)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}{c[3]}d{c[4]}")
def test_conv2d_and_its_gradients_match_numpy_with_unknown_batch(case, dtype):
    xs, fs, strides, padding, dil = case
    tf.reset_default_graph()
    x0 = RNG.standard_normal(xs).astype(NP[dtype])
    f0 = RNG.standard_normal(fs).astype(NP[dtype])
    x = tf.placeholder(getattr(tf, dtype), (None,) + xs[1:])
    f = tf.placeholder(getattr(tf, dtype), fs)
    y = tf.nn.conv2d(x, f, strides=[1, *strides, 1], padding=padding, dilations=[1, *dil, 1])
    want = _naive_conv(x0, f0, strides, padding, dil)
    weights = RNG.standard_normal(want.shape).astype(NP[dtype])
    gx, gf = tf.gradients(tf.reduce_sum(y * weights), [x, f])
    with tf.Session() as sess:
        got, got_gx, got_gf = sess.run([y, gx, gf], {x: x0, f: f0})
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    # The loss is linear in x and in f: its gradients are exact sums, checked via the adjoint
    # identity <dL/dx, x'> = L(x') - L(0)... with L linear,
    # dL/dx . e_i = sum(conv(e_i, f) * weights).
    for index in [(0, 0, 0, 0), tuple(s - 1 for s in xs), (xs[0] - 1, xs[1] // 2, xs[2] // 3, 0)]:
        e = np.zeros(xs)
        e[index] = 1
        np.testing.assert_allclose(
            got_gx[index],
            np.sum(_naive_conv(e, f0, strides, padding, dil) * weights),
            rtol=tol,
            atol=tol,
        )
    for index in [(0, 0, 0, 0), tuple(s - 1 for s in fs)]:
        e = np.zeros(fs)
        e[index] = 1
        np.testing.assert_allclose(
            got_gf[index],
            np.sum(_naive_conv(x0, e, strides, padding, dil) * weights),
            rtol=tol * 10,
            atol=tol * 10,
        )


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}{c[3]}d{c[4]}")
def test_im2col_and_col2im_without_vector_runs_match_numpy(case, monkeypatch):
    # The linalg forms: the gather that copies one (kh, kw, c) element per iteration (which
    # width-dilated windows always take) and col2im's slice add per tap, forced on every case.
    from tgc.lowering.cpu import conv_gemm

    monkeypatch.setattr(conv_gemm, "VECTOR_RUNS", False)
    monkeypatch.setattr(conv_gemm, "DIRECT_CONV", False)
    test_conv2d_and_its_gradients_match_numpy_with_unknown_batch(case, "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}{c[3]}d{c[4]}")
def test_im2col_gemm_matches_numpy(case, dtype, monkeypatch):
    # These small windows are computed directly by default (conv_direct.py); here conv2d and the
    # filter gradient take im2col and the GEMM instead.
    from tgc.lowering.cpu import conv_gemm

    monkeypatch.setattr(conv_gemm, "DIRECT_CONV", False)
    test_conv2d_and_its_gradients_match_numpy_with_unknown_batch(case, dtype)


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}x{c[1]}s{c[2]}{c[3]}d{c[4]}")
def test_per_image_im2col_loop_matches_numpy(case, monkeypatch):
    # Large windows take one GEMM per image in an scf.for; forced here on the small cases.
    from tgc.lowering.cpu import conv_gemm

    monkeypatch.setattr(conv_gemm, "PER_IMAGE_PATCH_BYTES", 0)
    monkeypatch.setattr(conv_gemm, "DIRECT_CONV", False)
    test_conv2d_and_its_gradients_match_numpy_with_unknown_batch(case, "float32")


def test_convnet_sized_layer_takes_the_per_image_loop_and_matches_numpy():
    # 16x16x32 input, 5x5x32x8 filter: 800 KB of patches per image, above PER_IMAGE_PATCH_BYTES.
    test_conv2d_and_its_gradients_match_numpy_with_unknown_batch(
        ((3, 16, 16, 32), (5, 5, 32, 8), (1, 1), "SAME", (1, 1)), "float32"
    )


def test_per_image_loop_is_an_scf_for_over_the_batch():
    from tgc.lowering.cpu import conv_gemm

    text = _lowered_conv([(None, 16, 16, 32), (5, 5, 32, 8)])
    assert conv_gemm.PER_IMAGE_PATCH_BYTES <= 16 * 16 * 800 * 4
    body = text[text.index("scf.for") :]
    for piece in (
        "tensor.extract_slice",
        "tensor<1x16x16x5x160xf32>",  # patches (n, i, j, kh, kw*C): window rows copied as vectors
        "into tensor<256x800xf32>",
        "call @tgc_gemm_256x800xf32_800x8xf32_256x8xf32_z",
        "tensor.insert_slice",
        "scf.yield",
    ):
        assert piece in body, piece


def _lowered_conv(shapes) -> str:
    def conv(b, args):
        return [b.op("conv2d", *args, strides=[1, 1, 1, 1], padding="SAME", dilations=[1, 1, 1, 1])]

    return registry_harness.lowered_ir(
        [TensorSpec(s, "float32") for s in shapes],
        conv,
        registry_harness.GRAPH_TO_CORE + ",tgc-conv-gemm",
    )


def test_half_precision_conv_keeps_the_direct_loops():
    tf.reset_default_graph()
    x0 = RNG.integers(-2, 3, (2, 6, 5, 2)).astype(np.float16)
    f0 = RNG.integers(-2, 3, (3, 3, 2, 3)).astype(np.float16)
    y = tf.nn.conv2d(tf.constant(x0), tf.constant(f0), strides=[1, 1, 1, 1], padding="SAME")
    with tf.Session() as sess:
        got = sess.run(y)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, _naive_conv(x0, f0, (1, 1), "SAME").astype(np.float16))


# ---- tgc-outline-gemm: matmuls stay matmuls next to elementwise producers and reshapes -----------


def test_relu_gradient_times_transposed_weights_reshaped_matches_numpy():
    # The convnet's fc1 input gradient: (dz * (z > 0)) @ W^T reshaped to the pool
    # output's shape. Before tgc-outline-gemm, fusion folded the relu mask and the
    # reshape into the matmul (a loop nest).
    tf.reset_default_graph()
    p0 = RNG.standard_normal((5, 3, 2, 4)).astype(np.float32)
    w0 = RNG.standard_normal((24, 7)).astype(np.float32)
    c0 = RNG.standard_normal((5, 7)).astype(np.float32)
    p = tf.placeholder(tf.float32, [None, 3, 2, 4])
    z = tf.nn.relu(tf.matmul(tf.reshape(p, [-1, 24]), tf.constant(w0)))
    (gp,) = tf.gradients(tf.reduce_sum(z * c0), [p])
    with tf.Session() as sess:
        got = sess.run(gp, {p: p0})
    pre = p0.reshape(5, 24) @ w0
    want = ((c0 * (pre > 0)) @ w0.T).reshape(p0.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _lowered_chain(upto: str) -> str:
    """relu(a) @ b^T reshaped to [?, 2, 2] through the CPU pipeline up to
    (and including) ``upto``."""
    specs = [TensorSpec((None, 3), "float32"), TensorSpec((4, 3), "float32")]

    def chain(b, args):
        a, w = args
        return [
            b.op("reshape", b.op("matmul", b.op("relu", a), w, transpose_b=True), shape=[-1, 2, 2])
        ]

    stages = _calling_openblas(registry_harness.CPU_PIPELINE.up_to(upto).spec())
    return registry_harness.lowered_ir(
        specs, chain, ",".join([registry_harness.GRAPH_TO_CORE, stages])
    )


def test_outlined_matmul_survives_elementwise_fusion_with_its_zero_fill():
    text = _lowered_chain("func.func(linalg-fuse-elementwise-ops)")
    main = text[text.index("func.func @main") :]
    assert "linalg.matmul" not in main and "call @tgc_mm_dx3xf32_4x3xf32_dx4xf32_m" in main
    callee = text[text.index("func.func private @tgc_mm_") : text.index("func.func @main")]
    # the zero fill went with the matmul, so tgc-blas-matmul can still fold it into beta = 0
    assert callee.index("linalg.fill") < callee.index("linalg.matmul indexing_maps")


@pytest.mark.skipif(openblas_library() is None, reason="numpy without bundled OpenBLAS")
def test_fused_chain_still_reaches_sgemm_with_beta_zero():
    text = _lowered_chain("tgc-blas-matmul")
    assert "linalg.matmul" not in text and "linalg.fill" not in text
    assert text.count("call @scipy_cblas_sgemm64_(") == 1


# ---- one-row / one-column matmuls go to gemv ----------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m, k, n", [(1, 9, 6), (7, 5, 1), (1, 4, 1), (1, 1, 3), (3, 1, 1)])
def test_one_row_or_column_matmul_matches_numpy(m, k, n, ta, tb, dtype):
    # The [None, None] placeholders make M, N, K run-time values: gemv or gemm is picked per call.
    a = RNG.integers(-4, 5, (k, m) if ta else (m, k)).astype(NP[dtype])
    b = RNG.integers(-4, 5, (n, k) if tb else (k, n)).astype(NP[dtype])
    got = _run_matmul(a, b, ta, tb, dtype)
    np.testing.assert_array_equal(got, (a.T if ta else a) @ (b.T if tb else b))


def test_gemv_reads_strided_rows_and_columns_of_slices():
    # Operands are views into larger buffers: a column (stride 11) as the row vector, a column as x.
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [9, 11])
    w = tf.placeholder(tf.float32, [6, 8])
    row = tf.matmul(x[2:8, 3:4], w[0:6, 2:7], transpose_a=True)  # [1, 6] @ [6, 5]: M = 1
    col = tf.matmul(w[0:5, 1:7], x[3:9, 4:5])  # [5, 6] @ [6, 1]: N = 1
    a = RNG.standard_normal((9, 11)).astype(np.float32)
    b = RNG.standard_normal((6, 8)).astype(np.float32)
    with tf.Session() as sess:
        got_row, got_col = sess.run([row, col], {x: a, w: b})
    np.testing.assert_allclose(got_row, a[2:8, 3:4].T @ b[0:6, 2:7], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_col, b[0:5, 1:7] @ a[3:9, 4:5], rtol=1e-5, atol=1e-5)


def test_one_row_with_empty_inner_dimension_is_zero():
    # gemv leaves y untouched when K = 0; the K > 0 test sends this case to gemm, which zeroes C.
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None])
    w = tf.placeholder(tf.float32, [None, 4])
    y = tf.matmul(x, w)
    with tf.Session() as sess:
        for _ in range(3):  # fresh result buffers each time: garbage would show
            np.testing.assert_array_equal(
                sess.run(y, {x: np.zeros((1, 0), np.float32), w: np.zeros((0, 4), np.float32)}),
                np.zeros((1, 4), np.float32),
            )


@pytest.mark.skipif(openblas_library() is None, reason="numpy without bundled OpenBLAS")
def test_static_shapes_pick_gemm_or_gemv_at_compile_time():
    assert "gemv" not in _lowered_to_blas([(5, 3), (3, 4)], "float32")
    text = _lowered_to_blas([(None, 3), (3, 4)], "float32")  # M unknown: tested at run time
    assert (
        text.count("call @scipy_cblas_sgemv64_(") == 1
        and text.count("call @scipy_cblas_sgemm64_(") == 1
    )
    assert text.count("scf.if") == 1
    text = _lowered_to_blas([(None, 3), (3, None)], "float64")  # M and N unknown: two tests
    assert text.count("call @scipy_cblas_dgemv64_(") == 2 and text.count("scf.if") == 2
    text = _lowered_to_blas(
        [(1, 3), (3, 4)], "float32"
    )  # M = 1 known: the test folds later in LLVM
    assert text.count("call @scipy_cblas_sgemv64_(") == 1


# ---- max_pool_grad when the windows tile the input (stride == window) ----------------------------

from tgc.dialect.ops.conv import max_pool_grad_reference, max_pool_reference  # noqa: E402


def _max_pool_grad(x, g, k, s, padding, batch=None):
    tf.reset_default_graph()
    dtype = {np.float32: tf.float32, np.float64: tf.float64, np.float16: tf.float16}[x.dtype.type]
    xp = tf.placeholder(dtype, [batch, *x.shape[1:]])
    gp = tf.placeholder(dtype, [batch, *g.shape[1:]])
    from tgc.frontend.build import make_op

    out = make_op("max_pool_grad", [xp, gp], ksize=[1, *k, 1], strides=[1, *s, 1], padding=padding)
    with tf.Session() as sess:
        return sess.run(out, {xp: x, gp: g})


# (input NHWC, window, strides, padding): SAME with even and odd sizes (the odd ones pad after),
# VALID that tiles exactly, VALID that leaves rows out and a 3x3 window, 32 and 64 channels (the
# convnet's pools), plus overlapping windows, which keep the general path.
_TILED = [
    ((2, 6, 8, 32), (2, 2), (2, 2), "SAME"),
    ((3, 7, 5, 3), (2, 2), (2, 2), "SAME"),
    ((2, 9, 9, 64), (3, 3), (3, 3), "VALID"),
    ((2, 7, 8, 5), (2, 2), (2, 2), "VALID"),
    ((1, 5, 7, 4), (3, 2), (3, 2), "SAME"),
    ((2, 6, 6, 3), (3, 3), (2, 2), "SAME"),
]


@pytest.mark.parametrize("shape, k, s, padding", _TILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("batch", [None, "static"])
def test_max_pool_grad_matches_numpy(shape, k, s, padding, dtype, batch):
    x = RNG.standard_normal(shape).astype(dtype)
    x[0, :2, :2, 0] = 1.5  # a tie: the first maximum in row-major window order takes the gradient
    out_hw = [(shape[i + 1] - (k[i] if padding == "VALID" else 1)) // s[i] + 1 for i in range(2)]
    g = RNG.standard_normal((shape[0], *out_hw, shape[3])).astype(dtype)
    got = _max_pool_grad(x, g, k, s, padding, batch=None if batch is None else shape[0])
    want = max_pool_grad_reference(x, g, [1, *k, 1], [1, *s, 1], padding)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape, k, s, padding", _TILED[:3])
def test_max_pool_grad_vectors_match_the_core_loops_with_nan_and_infinite_inputs(
    shape, k, s, padding, monkeypatch
):
    # f32/f64 tiled windows take tgc/lowering/cpu/pool_vector.py; with VECTOR_RUNS off, core's two
    # generics. Bit for bit, also where a window holds a NaN (never its maximum), only -inf (its
    # first element takes the gradient), or ties.
    from tgc.lowering.cpu import conv_gemm

    x = RNG.integers(-2, 3, shape).astype(np.float32)
    x[0, 0, 0, :] = np.nan
    x[0, : k[0], k[1] : 2 * k[1], 1] = -np.inf
    out_hw = [(shape[i + 1] - (k[i] if padding == "VALID" else 1)) // s[i] + 1 for i in range(2)]
    g = RNG.standard_normal((shape[0], *out_hw, shape[3])).astype(np.float32)
    got = _max_pool_grad(x, g, k, s, padding)
    monkeypatch.setattr(conv_gemm, "VECTOR_RUNS", False)
    want = _max_pool_grad(x, g, k, s, padding)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert got[0, 0, k[1], 1] == g[0, 0, 1, 1]


@pytest.mark.parametrize("shape, k, s, padding", _TILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_vectors_match_numpy_and_the_core_loops(shape, k, s, padding, dtype, monkeypatch):
    # f32/f64 max_pool takes tgc/lowering/cpu/pool_vector.py (VECTOR_RUNS off: core's named op);
    # a NaN in a window is its maximum, as numpy's max says; -inf padding never is.
    from tgc.lowering.cpu import conv_gemm

    x = RNG.standard_normal(shape).astype(dtype)
    x[0, 0, 0, :2] = np.nan
    tf.reset_default_graph()
    xp = tf.placeholder(tf.as_dtype(dtype), [None, *shape[1:]])
    y = tf.nn.max_pool(xp, ksize=[1, *k, 1], strides=[1, *s, 1], padding=padding)
    with tf.Session() as sess:
        got = sess.run(y, {xp: x})
    monkeypatch.setattr(conv_gemm, "VECTOR_RUNS", False)
    with tf.Session() as sess:
        want = sess.run(y, {xp: x})
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, max_pool_reference(x, [1, *k, 1], [1, *s, 1], padding))
    assert np.all(np.isnan(got[0, 0, 0, :2]))


def test_max_pool_grad_non_maximum_elements_are_plus_zero_even_for_infinite_gradients():
    # The tiled path masks bits(g) instead of selecting: an inf or nan gradient must still give
    # exactly +0.0 to the three non-maximum elements of its window and pass
    # unchanged to the maximum.
    x = np.zeros((1, 2, 4, 2), np.float32)
    x[0, 1, 0, :] = 1.0  # window 0's maximum at offset 2
    x[0, 0, 3, :] = 1.0  # window 1's maximum at offset 1
    g = np.array([np.inf, -np.inf, np.nan, -0.0], np.float32).reshape(1, 1, 2, 2)
    got = _max_pool_grad(x, g, (2, 2), (2, 2), "VALID")
    assert np.isposinf(got[0, 1, 0, 0]) and np.isneginf(got[0, 1, 0, 1])
    assert np.isnan(got[0, 0, 3, 0]) and got[0, 0, 3, 1] == 0 and np.signbit(got[0, 0, 3, 1])
    others = np.ones(got.shape, bool)
    others[0, 1, 0, :] = others[0, 0, 3, :] = False
    assert np.all(got[others] == 0) and not np.any(np.signbit(got[others]))


def _lowered_max_pool_grad(x_shape, g_shape, k) -> str:
    specs = [TensorSpec(x_shape, "float32"), TensorSpec(g_shape, "float32")]

    def grad(b, args):
        return [
            b.op("max_pool_grad", *args, ksize=[1, k, k, 1], strides=[1, k, k, 1], padding="SAME")
        ]

    return registry_harness.lowered_ir(specs, grad, registry_harness.GRAPH_TO_CORE)


def test_tiling_max_pool_grad_writes_each_window_once_without_a_lattice():
    # One parallel generic over [N, OH, KH, OW, KW, C] folded back to NHWC and cropped to the input
    # (7 rows: the 8 of the padded SAME windows less the one of padding after).
    text = _lowered_max_pool_grad((None, 7, 7, 3), (None, 4, 4, 3), 2)
    assert "tensor.insert_slice" not in text
    assert '"reduction"' in text.split("tensor<?x4x2x4x2x3xf32>")[0]  # only the argmax reduces
    pieces = [
        "tensor.collapse_shape",
        "[[0], [1, 2], [3, 4], [5]]",
        "tensor<?x4x2x4x2x3xf32> into tensor<?x8x8x3xf32>",
        "tensor.extract_slice",
        "[0, 0, 0, 0]",
        "[1, 1, 1, 1] : tensor<?x8x8x3xf32> to tensor<?x7x7x3xf32>",
    ]
    at = 0
    for piece in pieces:
        at = text.index(piece, at)
