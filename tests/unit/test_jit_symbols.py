"""The CPU JIT gives compiled code the OpenBLAS functions it declares by address
(tgc/lowering/cpu/jit.py library_symbols) instead of loading the library into every engine: only
names OpenBLAS defines and the process's global symbols do not."""

import ctypes

import numpy as np
import pytest
from mlir import ir

import tgc as tf
from tgc.dialect.context import make_context
from tgc.lowering.cpu import jit
from tgc.lowering.cpu.blas import openblas_library

pytestmark = pytest.mark.skipif(openblas_library() is None, reason="numpy bundles no OpenBLAS")


def test_only_what_openblas_alone_defines_is_given_by_address():
    text = """
    llvm.func @scipy_cblas_sgemm64_(i32, i32, i32, i64, i64, i64, f32, !llvm.ptr, i64, !llvm.ptr,
                                    i64, f32, !llvm.ptr, i64)
    llvm.func @malloc(i64) -> !llvm.ptr
    llvm.func @tgc_no_such_function(i64)
    llvm.func @defined(%a: i64) -> i64 { llvm.return %a : i64 }
    """
    with make_context():
        symbols = jit.library_symbols(ir.Module.parse(text))
    assert list(symbols) == ["scipy_cblas_sgemm64_"]
    blas = ctypes.CDLL(openblas_library())
    assert (
        symbols["scipy_cblas_sgemm64_"].value
        == ctypes.cast(blas.scipy_cblas_sgemm64_, ctypes.c_void_p).value
    )


def test_a_session_matmul_calls_openblas_through_them():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 4)).astype(np.float32)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 7])
    with tf.Session() as sess:
        got = sess.run(tf.matmul(x, tf.constant(b)), {x: a})
    np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-6)
