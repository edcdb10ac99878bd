"""Bias and activation fused into the generated GEMM's epilogue (tgc-gemm-epilogue, the kernel's
GemmShape.epilogue, tgc-blas-matmul's fusion) against numpy.

The kernel variants (relu, relu6) with the bias as Cin (a row-stride-0 view) at awkward shapes,
transposes, f32/f64, both ISAs, C prefilled with NaN; the parallel driver at 2 threads; dense
layers through a Session with the generated kernel (tf.matmul + b, tf.nn.bias_add, tf.nn.xw_plus_b,
tf.layers.dense) on 1 and 2 threads, with OpenBLAS (no fusion there), a matmul whose result has
another user (not fused), gradients of a fused dense layer against finite differences, and an
artifact built without --blas. No timings: see benchmarks/gemm_epilogue.py.
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import pytest
from test_gemm_codegen import Kernel
from test_parallel_gemm import Driver, _view_words

import tgc as tf
from tgc.lowering.cpu import gemm_kernel, gemm_library, jit, parallel_gemm
from tgc.lowering.cpu.target import GEMM_ENVIRONMENT

RNG = np.random.default_rng(1818)
NP = {"f32": np.float32, "f64": np.float64}
ELEM = {np.float32: "f32", np.float64: "f64"}
ACTIVATIONS = {
    "relu": lambda v: np.maximum(v, 0),
    "relu6": lambda v: np.minimum(np.maximum(v, 0), 6),
}


def _tolerance(elem: str, k: int) -> dict:
    scale = 1e-5 if elem == "f32" else 1e-12
    return {"rtol": scale * 10, "atol": scale * 10 * np.sqrt(max(k, 1))}


# ---- the kernel ----------------------------------------------------------------------------------


@pytest.fixture(
    scope="module",
    params=[(e, i, a) for e in ("f32", "f64") for i in ("avx512", "avx2") for a in ACTIVATIONS],
)
def kernel(request):
    elem, isa, act = request.param
    shape = dataclasses.replace(gemm_kernel.shape_for(elem, isa), epilogue=act)
    return elem, act, Kernel(shape)


# One element; one row (the gemv paths, B stored both ways); N <= 16, N not a multiple of 48 (or
# 12/24 of AVX2), partial tiles, K over two KC blocks (the activation applies after the last only),
# K = 0 (C = act(bias)).
SHAPES = [
    (1, 1, 1),
    (1, 70, 40),
    (1, 13, 600),
    (7, 13, 5),
    (33, 65, 17),
    (9, 16, 3),
    (24, 100, 1100),
    (64, 48, 33),
    (5, 3, 0),
]


@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_kernel_applies_bias_and_activation(kernel, m, n, k, ta, tb):
    elem, act, run = kernel
    dtype = NP[elem]
    a = RNG.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = RNG.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    bias = (RNG.standard_normal(n) * 3).astype(dtype)
    c = np.full((m, n), np.nan, dtype)
    run(a, b, c, ta, tb, 1.0, 1.0, c_in=np.broadcast_to(bias, (m, n)))
    product = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
    want = ACTIVATIONS[act](product + bias)
    np.testing.assert_allclose(c, want, **_tolerance(elem, k))


@pytest.mark.parametrize("m, n, k", [(1, 70, 40), (33, 65, 17), (5, 3, 0)])
def test_kernel_without_bias_applies_the_activation(kernel, m, n, k):
    """beta = 0 (no bias): C = act(A B), whatever C held."""
    elem, act, run = kernel
    a = RNG.standard_normal((m, k)).astype(NP[elem])
    b = RNG.standard_normal((k, n)).astype(NP[elem])
    c = np.full((m, n), np.nan, NP[elem])
    run(a, b, c, False, False, 1.0, 0.0)
    want = ACTIVATIONS[act](a.astype(np.float64) @ b)
    np.testing.assert_allclose(c, want, **_tolerance(elem, k))


def test_an_unknown_epilogue_is_refused():
    with pytest.raises(ValueError, match="GEMM epilogue 'gelu'.*'relu', 'relu6'"):
        dataclasses.replace(gemm_kernel.shape_for("f32"), epilogue="gelu")


def test_epilogue_kernels_have_symbols_of_their_own():
    plain = gemm_kernel.shape_for("f32", "avx512")
    relu = dataclasses.replace(plain, epilogue="relu")
    assert relu.symbol == plain.symbol + "_relu"
    assert gemm_kernel.shape_of_symbol(relu.symbol) == relu
    assert gemm_kernel.shape_of_symbol(plain.symbol) == plain


# ---- the parallel driver -------------------------------------------------------------------------


@pytest.mark.skipif(parallel_gemm.library() is None, reason="no parallel runtime")
@pytest.mark.parametrize("elem", ["f32", "f64"])
@pytest.mark.parametrize("m, n, k", [(301, 257, 129), (67, 1001, 130), (1100, 45, 180)])
def test_two_threads_split_the_broadcast_bias_with_c(elem, m, n, k):
    """Chunks by rows (the bias view's row stride 0 keeps every chunk on the bias) and by columns
    (each chunk's part of the bias)."""
    assert m * n * k >= parallel_gemm.SERIAL_FLOPS  # split on 2 threads
    library = parallel_gemm.library()
    old = library.tgc_set_threads(2)
    try:
        driver = Driver(elem)
        driver.shape = dataclasses.replace(driver.shape, epilogue="relu")
        driver.kernel = gemm_library.kernel_address(driver.shape.symbol, jit.connect_handlers)
        dtype = NP[elem]
        a = RNG.standard_normal((m, k)).astype(dtype)
        b = RNG.standard_normal((k, n)).astype(dtype)
        bias = RNG.standard_normal(n).astype(dtype)
        c = np.full((m, n), np.nan, dtype)
        words = [_view_words(x, x) for x in (a, b, c)]
        bias_view = [bias.ctypes.data, bias.ctypes.data, 0, m, n, 0, 1]
        flat = [w for view in [*words, bias_view] for w in view]
        driver.call(driver.kernel, *flat, False, False, 1.0, 1.0, driver.shape.mr, driver.shape.nr)
        want = np.maximum(a.astype(np.float64) @ b + bias, 0)
        np.testing.assert_allclose(c, want, **_tolerance(elem, k))
    finally:
        library.tgc_set_threads(old)


# ---- graphs through a Session --------------------------------------------------------------------


def _dense_layers(dtype, n_in, n_hidden, n_out):
    """Every way a user writes a dense layer with a bias and an activation; returns (x, fetches,
    numpy's function of x)."""
    tf.reset_default_graph()
    w1 = RNG.standard_normal((n_in, n_hidden)).astype(dtype)
    b1 = RNG.standard_normal(n_hidden).astype(dtype)
    w2 = RNG.standard_normal((n_hidden, n_out)).astype(dtype)
    b2 = RNG.standard_normal(n_out).astype(dtype)
    x = tf.placeholder(dtype, [None, n_in])
    v1, vb1 = tf.Variable(w1), tf.Variable(b1)
    v2, vb2 = tf.Variable(w2), tf.Variable(b2)
    fetches = [
        tf.nn.relu(tf.matmul(x, v1) + vb1),
        tf.nn.relu6(tf.nn.bias_add(tf.matmul(x, v1 * 2.0), vb1)),
        tf.nn.xw_plus_b(tf.nn.relu(tf.matmul(x, v1 * 3.0)), v2, vb2),
    ]

    def want(xs):
        xs = xs.astype(np.float64)
        return [
            np.maximum(xs @ w1 + b1, 0),
            np.minimum(np.maximum(xs @ (w1 * 2) + b1, 0), 6),
            np.maximum(xs @ (w1 * 3), 0) @ w2 + b2,
        ]

    return x, fetches, want


@pytest.mark.parametrize("callee", ["codegen", "blas"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_session_dense_layers_match_numpy(monkeypatch, callee, dtype, threads):
    monkeypatch.setenv(GEMM_ENVIRONMENT, callee)
    # 256 x 300 x 200 is above the parallel runtime's serial bar: 2 threads split it.
    x, fetches, want = _dense_layers(dtype, 300, 200, 10)
    config = tf.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        for batch in (1, 3, 256):
            xs = RNG.standard_normal((batch, 300)).astype(dtype)
            got = sess.run(fetches, {x: xs})
            for g, w in zip(got, want(xs)):
                np.testing.assert_allclose(g, w, **_tolerance(ELEM[dtype], 300))
    if callee == "codegen":
        symbols = [s for s in gemm_library._KERNELS if s.startswith(f"tgc_gemm_{ELEM[dtype]}_")]
        assert any(s.endswith("_relu") for s in symbols) and any(
            s.endswith("_relu6") for s in symbols
        ), symbols


@pytest.mark.parametrize("batch", [1, 2, 64])
def test_one_row_split_by_k_on_two_threads(monkeypatch, batch):
    """The parallel driver splits a one-row GEMM (1 x 784 x 1024, above its gemv threshold) by K
    into partial sums it adds after the kernel calls: relu must see the whole sum (one row takes
    the plain kernel, then the generic; other batches the fused kernel)."""
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    tf.reset_default_graph()
    w = (RNG.standard_normal((784, 1024)) * 0.05).astype(np.float32)
    b = (RNG.standard_normal(1024) * 0.1).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 784])
    y = tf.nn.relu(tf.matmul(x, tf.Variable(w)) + tf.Variable(b))
    xs = RNG.standard_normal((batch, 784)).astype(np.float32)
    want = np.maximum(xs.astype(np.float64) @ w + b, 0)
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2)) as sess:
        sess.run(tf.global_variables_initializer())
        # Several runs: whether a run splits depends on the workers' timing (the quick tier first,
        # then the optimized one).
        for _ in range(6):
            np.testing.assert_allclose(sess.run(y, {x: xs}), want, rtol=1e-4, atol=1e-4)


def test_session_avx2_kernel(monkeypatch):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    monkeypatch.setenv(gemm_kernel.ISA_ENVIRONMENT, "avx2")
    x, fetches, want = _dense_layers(np.float32, 29, 50, 7)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        xs = RNG.standard_normal((65, 29)).astype(np.float32)
        for g, w in zip(sess.run(fetches, {x: xs}), want(xs)):
            np.testing.assert_allclose(g, w, **_tolerance("f32", 50))
    assert any(s.startswith("tgc_gemm_f32_6x16v8_relu") for s in gemm_library._KERNELS)


def test_tf_layers_dense_with_activation(monkeypatch):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 20])
    y = tf.layers.dense(x, 30, activation=tf.nn.relu, name="dense")
    xs = RNG.standard_normal((40, 20)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        # A nonzero bias, so that the add is not folded away.
        (bias,) = [v for v in tf.global_variables() if "bias" in v.name]
        sess.run(bias.assign(RNG.standard_normal(30).astype(np.float32)))
        (kernel,) = [v for v in tf.global_variables() if "kernel" in v.name]
        got, w, b = sess.run([y, kernel, bias], {x: xs})
    np.testing.assert_allclose(got, np.maximum(xs @ w + b, 0), rtol=1e-5, atol=1e-5)


def test_splat_constant_bias(monkeypatch):
    """tf.constant(0.1, shape=[n]) as the bias: folded into a scalar, fused as a splat bias."""
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 40])
    w = RNG.standard_normal((40, 50)).astype(np.float32)
    y = tf.nn.relu6(tf.matmul(x, tf.constant(w)) + tf.constant(0.1, shape=[50]))
    xs = RNG.standard_normal((33, 40)).astype(np.float32)
    want = np.minimum(np.maximum(xs.astype(np.float64) @ w + np.float32(0.1), 0), 6)
    np.testing.assert_allclose(_session_run(y, {x: xs}), want, rtol=1e-5, atol=1e-5)


def test_pre_activation_with_another_user_is_not_fused(monkeypatch):
    """The matmul's result fetched as well: its unfused value is needed, so the add and relu keep
    their own pass (and both fetches are right)."""
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 8])
    w = RNG.standard_normal((8, 5)).astype(np.float32)
    b = RNG.standard_normal(5).astype(np.float32)
    product = tf.matmul(x, tf.constant(w))
    y = tf.nn.relu(product + tf.constant(b))
    xs = RNG.standard_normal((6, 8)).astype(np.float32)
    got_product, got_y = _session_run([product, y], {x: xs})
    np.testing.assert_allclose(got_product, xs @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_y, np.maximum(xs @ w + b, 0), rtol=1e-5, atol=1e-5)


def _session_run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def test_dense_layer_gradients_match_finite_differences(monkeypatch):
    """d/dW and d/db of sum(r * relu(x W + b)) through the fused forward pass (f64)."""
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    tf.reset_default_graph()
    xs = RNG.standard_normal((9, 6))
    # 12 columns of f64: wider than one vector, so not tgc-narrow-gemm's.
    r = RNG.standard_normal((9, 12))
    w0, b0 = RNG.standard_normal((6, 12)), RNG.standard_normal(12) * 0.5
    x = tf.placeholder(tf.float64, [None, 6])
    w = tf.placeholder(tf.float64, [6, 12])
    b = tf.placeholder(tf.float64, [12])
    loss = tf.reduce_sum(tf.constant(r) * tf.nn.relu(tf.matmul(x, w) + b))
    grads = tf.gradients(loss, [w, b])
    with tf.Session() as sess:
        gw, gb = sess.run(grads, {x: xs, w: w0, b: b0})

        def numeric(wv, bv):
            return sess.run(loss, {x: xs, w: wv, b: bv})

        eps = 1e-6
        for got, base, place in ((gw, w0, "w"), (gb, b0, "b")):
            want = np.zeros_like(base)
            for index in np.ndindex(base.shape):
                up, down = base.copy(), base.copy()
                up[index] += eps
                down[index] -= eps
                args = ((up, b0), (down, b0)) if place == "w" else ((w0, up), (w0, down))
                want[index] = (numeric(*args[0]) - numeric(*args[1])) / (2 * eps)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_artifact_links_the_epilogue_kernel(tmp_path):
    """An artifact built without --blas defines the relu variant and runs with 2 threads through
    its own runtime: a batch of 64 (the fused kernel) and of 1 (the plain kernel, then the loop:
    the runtime may split one row by K)."""
    from test_aot import compile_artifact

    from tgc.runtime.artifact import load

    tf.reset_default_graph()
    w = (RNG.standard_normal((784, 300)) * 0.05).astype(np.float32)
    b = (RNG.standard_normal(300) * 0.1).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    tf.nn.relu(tf.matmul(x, tf.Variable(w)) + tf.Variable(b), name="y")
    directory = compile_artifact(["y"], None, str(tmp_path))
    # The library defines the relu variant of the generated kernel.
    (ir_file,) = [f for f in os.listdir(directory) if f.endswith(".ll")]
    with open(os.path.join(directory, ir_file)) as fh:
        assert re.search(r"@tgc_gemm_f32_\w+_relu\(", fh.read())
    art = load(directory, threads=2)
    for batch in (64, 1):
        xs = RNG.standard_normal((batch, 784)).astype(np.float32)
        want = np.maximum(xs.astype(np.float64) @ w + b, 0)
        for _ in range(4):
            np.testing.assert_allclose(art(x=xs)["y"], want, rtol=1e-4, atol=1e-4)
