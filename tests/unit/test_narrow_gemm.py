"""tgc's narrow GEMM kernels (tgc/lowering/cpu/narrow_gemm.py) against numpy.

The kernels themselves at the widths they take (2 to one vector), rows around the paths' edges
(under TRANSPOSE_FROM_ROWS, odd counts past the two-at-once groups, partial vectors of rows), K
around whole vectors and K = 0, for f32 and f64 and both vector widths; C = A B and C += A B; A
viewed out of a wider array whose columns past K hold NaN (the masked tail must not read them),
B likewise (rows strided, NaN past N). Then graphs through a Session: softmax regression's SGD
step against numpy's, and the pass leaving other matmuls to the general GEMM. No timings: see
benchmarks/narrow_gemm.py.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from mlir import ir
from mlir.execution_engine import ExecutionEngine
from mlir.passmanager import PassManager
from mlir.runtime import get_ranked_memref_descriptor

import tgc as tf
from tgc.lowering.cpu import narrow_gemm

RNG = np.random.default_rng(18)
NP = {"f32": np.float32, "f64": np.float64}
LANES = {("f32", "avx512"): 16, ("f32", "avx2"): 8, ("f64", "avx512"): 8, ("f64", "avx2"): 4}
LOWER = (
    "builtin.module(canonicalize,expand-strided-metadata,lower-affine,convert-scf-to-cf,"
    "convert-vector-to-llvm,finalize-memref-to-llvm,convert-to-llvm,reconcile-unrealized-casts)"
)


class Kernel:
    """One narrow kernel, JIT-compiled behind a public wrapper of the same signature."""

    def __init__(self, kernel: narrow_gemm.NarrowGemm):
        general = f"memref<?x?x{kernel.elem}, strided<[?, 1], offset: ?>>"
        wrapper = (
            f"func.func @run(%A: {general}, %B: {general}, %C: {general}, %Cin: {general}) "
            f"attributes {{llvm.emit_c_interface}} {{\n"
            f"  func.call @{kernel.symbol}(%A, %B, %C, %Cin) : ({general}, {general}, {general}, "
            f"{general}) -> ()\n"
            f"  return\n}}\n"
        )
        self.context = ir.Context()
        with self.context, ir.Location.unknown():
            module = ir.Module.parse(wrapper + narrow_gemm.kernel_text(kernel))
            PassManager.parse(LOWER).run(module.operation)
            self.engine = ExecutionEngine(module, opt_level=2)

    def __call__(self, a, b, c, c_in=None):
        """C = A B (or A^T B), or C = Cin + that for an accumulating kernel (Cin: C when None)."""
        operands = (a, b, c, c if c_in is None else c_in)
        memrefs = [
            ctypes.pointer(ctypes.pointer(get_ranked_memref_descriptor(x))) for x in operands
        ]
        self.engine.invoke("run", *memrefs)


def _with_nan_past(array: np.ndarray, columns: int) -> np.ndarray:
    """``array`` as a view of a wider array whose extra ``columns`` hold NaN."""
    wide = np.full((array.shape[0], array.shape[1] + columns), np.nan, array.dtype)
    wide[:, : array.shape[1]] = array
    return wide[:, : array.shape[1]]


ROWS = (1, 3, 4, 5, 8, 17, 33, 100)
DEPTHS = (0, 1, 7, 16, 37, 100)


@pytest.mark.parametrize("elem", ["f32", "f64"])
@pytest.mark.parametrize("isa", ["avx512", "avx2"])
@pytest.mark.parametrize("trans_a", [False, True], ids=["nn", "tn"])
@pytest.mark.parametrize("accumulate", [False, True], ids=["beta0", "beta1"])
def test_kernel_matches_numpy(elem, isa, trans_a, accumulate):
    lanes = LANES[(elem, isa)]
    dtype = NP[elem]
    tol = 1e-5 if elem == "f32" else 1e-12
    for n in sorted({2, 3, lanes - 1, lanes}):
        kernel = Kernel(narrow_gemm.NarrowGemm(elem, lanes, n, trans_a, accumulate))
        for m in ROWS:
            for k in DEPTHS:
                a = RNG.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
                a = _with_nan_past(a, 3)
                b = _with_nan_past(RNG.standard_normal((k, n)).astype(dtype), 2)
                start = RNG.standard_normal((m, n)).astype(dtype)
                c = start.copy() if accumulate else np.full((m, n), np.nan, dtype)
                kernel(a, b, c)
                if accumulate:  # also from a separate Cin into a C of NaN, Cin left as it was
                    apart, c_in = np.full((m, n), np.nan, dtype), start.copy()
                    kernel(a, b, apart, c_in)
                    np.testing.assert_array_equal(apart, c)
                    np.testing.assert_array_equal(c_in, start)
                expected = (a.T if trans_a else a).astype(np.float64) @ b
                if accumulate:
                    expected += start
                np.testing.assert_allclose(
                    c, expected, rtol=tol, atol=tol * max(k, 1), err_msg=f"m={m} n={n} k={k}"
                )


def test_softmax_regression_step_matches_numpy():
    """The harness's workload 2 (100 x 784 -> 10, mean CE, lr 0.5): both of its GEMMs go to the
    narrow kernels; three steps against numpy's."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 100)]
    w0 = (rng.standard_normal((784, 10)) * 0.01).astype(np.float32)
    tf.reset_default_graph()
    xp = tf.placeholder(tf.float32, [None, 784])
    yp = tf.placeholder(tf.float32, [None, 10])
    w = tf.Variable(w0.copy())
    logits = tf.matmul(xp, w)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=yp, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    expected = w0.astype(np.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, {xp: x, yp: y})
            scores = x @ expected
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            expected -= 0.5 * x.T @ ((e / e.sum(axis=1, keepdims=True) - y) / 100)
        np.testing.assert_allclose(sess.run(w), expected, rtol=1e-4, atol=1e-5)
        # Forward alone at batch sizes on both of A @ B's paths.
        for batch in (1, 3, 4, 57):
            np.testing.assert_allclose(
                sess.run(logits, {xp: x[:batch]}), x[:batch] @ expected, rtol=1e-4, atol=1e-4
            )


def test_pass_rewrites_only_narrow_matmuls():
    """Through the CPU pipeline: the narrow kernel for N = 10, the general GEMM for N = 1, N = 17
    and a transposed B; all of them still compute numpy's numbers."""
    from tgc.dialect.context import make_context
    from tgc.lowering.cpu.narrow_gemm import NarrowGemmPass

    text = """
    func.func private @narrow(%a: memref<?x8xf32>, %b: memref<8x10xf32>, %c: memref<?x10xf32>) {
      linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x10xf32>) outs(%c : memref<?x10xf32>)
      return
    }
    func.func private @wide(%a: memref<?x8xf32>, %b: memref<8x17xf32>, %c: memref<?x17xf32>) {
      linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x17xf32>) outs(%c : memref<?x17xf32>)
      return
    }
    """
    with make_context():
        module = ir.Module.parse(text)
        NarrowGemmPass(isa="avx512").run(module)
        printed = str(module)
    assert "call @tgc_narrow_gemm_f32_16l_n10_nn_acc" in printed
    assert printed.count("linalg.matmul") == 1 and "memref<8x17xf32>) outs" in printed

    for n, trans_b in ((1, False), (17, False), (10, True)):
        tf.reset_default_graph()
        a = tf.placeholder(tf.float32, [None, 8])
        b = tf.placeholder(tf.float32, [n, 8] if trans_b else [8, n])
        av = RNG.standard_normal((5, 8)).astype(np.float32)
        bv = RNG.standard_normal((n, 8) if trans_b else (8, n)).astype(np.float32)
        with tf.Session() as sess:
            got = sess.run(tf.matmul(a, b, transpose_b=trans_b), {a: av, b: bv})
        np.testing.assert_allclose(got, av @ (bv.T if trans_b else bv), rtol=1e-5, atol=1e-5)


def test_unknown_isa_is_refused():
    from tgc.dialect.context import make_context
    from tgc.passes.base import PassFailure

    with make_context():
        module = ir.Module.parse("")
        with pytest.raises(PassFailure, match="unknown ISA 'sse' for the narrow GEMM"):
            narrow_gemm.NarrowGemmPass(isa="sse").run(module)
