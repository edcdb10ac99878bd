"""tgc's generated GEMM compiled once per process for in-process code
(tgc/lowering/cpu/gemm_library.py): a Session's module only declares the kernel, two Sessions share
one compile, the numbers are numpy's, and an artifact still defines the kernel in its own code
(tests/unit/test_gemm_codegen.py: "artifact built without --blas carries the generated GEMM")."""

from __future__ import annotations

import ctypes
import os
import threading

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu import gemm_kernel, gemm_library, jit
from tgc.lowering.cpu.target import GEMM_ENVIRONMENT

RNG = np.random.default_rng(31)
# The kernel caches the tests replace, kept alive: code compiled against them may still run (the
# optimizing tier of a closed Session's module).
_REPLACED: list = []


@pytest.fixture
def fresh_kernels(monkeypatch):
    """An empty kernel cache and compile count, so that a test counts its own compiles."""
    kernels: dict = {}
    _REPLACED.append(kernels)
    monkeypatch.setattr(gemm_library, "_KERNELS", kernels)
    monkeypatch.setattr(gemm_library, "compile_count", 0)
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    return kernels


@pytest.fixture
def jitted_modules(monkeypatch):
    """The text of each LLVM-dialect module a Session hands to the JIT."""
    texts: list = []
    load = jit.load_functions

    def recording(module, functions, symbols):
        texts.append(str(module))
        return load(module, functions, symbols)

    monkeypatch.setattr(jit, "load_functions", recording)
    return texts


def _matmul_graph(dtype=tf.float32):
    tf.reset_default_graph()
    x = tf.placeholder(dtype, [None, None])
    w = tf.placeholder(dtype, [None, None])
    return x, w, tf.matmul(x, w)


def test_two_sessions_share_one_compile_of_the_kernel(fresh_kernels, jitted_modules):
    x, w, y = _matmul_graph()
    for m, k, n in [(37, 64, 100), (5, 3, 70)]:
        a = RNG.standard_normal((m, k)).astype(np.float32)
        b = RNG.standard_normal((k, n)).astype(np.float32)
        with tf.Session() as sess:
            got = sess.run(y, {x: a, w: b})
        np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
    assert gemm_library.compile_count == 1
    symbol = gemm_kernel.shape_for("f32").symbol
    assert list(fresh_kernels) == [symbol]
    # Each Session's module declares the kernel and defines no part of it.
    assert len(jitted_modules) == 2
    for text in jitted_modules:
        declaration = [line for line in text.splitlines() if f"llvm.func @{symbol}(" in line]
        assert len(declaration) == 1 and not declaration[0].rstrip().endswith("{")  # no body
        # The kernel's address goes to the parallel runtime's driver (parallel_gemm.py).
        assert f"llvm.mlir.addressof @{symbol}" in text
        assert "llvm.call @tgc_parallel_gemm_f32(" in text
        assert "llvm.intr.fma" not in text and "vector.fma" not in text


def test_each_element_type_gets_its_own_kernel(fresh_kernels):
    for dtype, np_type in [(tf.float64, np.float64), (tf.float32, np.float32)]:
        x, w, y = _matmul_graph(dtype)
        a = RNG.standard_normal((9, 33)).astype(np_type)
        b = RNG.standard_normal((33, 17)).astype(np_type)
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(y, {x: a, w: b}), a @ b, rtol=1e-6, atol=1e-6)
    assert sorted(fresh_kernels) == sorted(gemm_kernel.shape_for(e).symbol for e in ("f32", "f64"))
    assert gemm_library.compile_count == 2


def test_threads_asking_at_once_compile_the_kernel_once(fresh_kernels):
    symbol = gemm_kernel.shape_for("f64").symbol
    addresses: list = []

    def ask():
        addresses.append(gemm_library.kernel_address(symbol, jit.connect_handlers).value)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gemm_library.compile_count == 1
    assert len(set(addresses)) == 1 and addresses[0]


def test_symbols_of_no_generated_kernel_are_left_to_the_libraries(fresh_kernels):
    assert gemm_kernel.shape_of_symbol("scipy_cblas_sgemm64_") is None
    assert gemm_kernel.shape_of_symbol("tgc_gemm_f32_1x1v1") is None
    assert gemm_library.kernel_address("tgc_gemm_f32_1x1v1", jit.connect_handlers) is None
    assert gemm_library.compile_count == 0


@pytest.mark.parametrize("isa", ["avx512", "avx2"])
def test_each_isas_kernel_is_named_by_its_symbol(isa):
    for elem in ("f32", "f64"):
        shape = gemm_kernel.shape_for(elem, isa)
        assert gemm_kernel.shape_of_symbol(shape.symbol) == shape


# ---- the disk cache ------------------------------------------------------------------------------


def _kernel_product(elem="f64"):
    """C = A @ B through the kernel's address (the in-process ABI: each memref as its descriptor's
    fields), checked against numpy."""
    shape = gemm_kernel.shape_for(elem)
    address = gemm_library.kernel_address(shape.symbol, jit.connect_handlers)
    np_type, c_type = (
        (np.float64, ctypes.c_double) if elem == "f64" else (np.float32, ctypes.c_float)
    )
    a = RNG.standard_normal((19, 23)).astype(np_type)
    b = RNG.standard_normal((23, 41)).astype(np_type)
    c = np.zeros((19, 41), np_type)
    descriptor = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * 5
    kernel = ctypes.CFUNCTYPE(None, *descriptor * 4, ctypes.c_bool, ctypes.c_bool, c_type, c_type)(
        address.value
    )
    fields = []
    for array in (a, b, c, c):  # C_in is C (C = A B + 0 C)
        pointer = array.ctypes.data
        fields += [pointer, pointer, 0, *array.shape, array.shape[1], 1]
    kernel(*fields, False, False, 1.0, 0.0)
    np.testing.assert_allclose(c, a @ b, rtol=1e-6, atol=1e-6)


def test_a_later_process_loads_the_kernel_from_the_disk_cache(fresh_kernels, monkeypatch):
    _kernel_product()
    (built,) = os.listdir(gemm_library.library_dir())
    assert built.startswith(gemm_kernel.shape_for("f64").symbol + "-") and built.endswith(".so")
    # A new process: nothing in memory, the library on disk, nothing to build.
    monkeypatch.setattr(gemm_library, "_KERNELS", {})
    _REPLACED.append(gemm_library._KERNELS)

    def refuse(*_):
        raise AssertionError("the kernel was built again")

    monkeypatch.setattr(gemm_library, "_build_library", refuse)
    _kernel_product()
    assert gemm_library.last_disk_error is None


def test_without_a_c_compiler_the_kernel_is_compiled_in_process(fresh_kernels, monkeypatch):
    from tgc.lowering.artifact import AotError

    def no_compiler(*_):
        raise AotError("no C compiler (cc) to link the shared library; use --emit=obj")

    monkeypatch.setattr(gemm_library, "_build_library", no_compiler)
    _kernel_product("f32")
    assert "no C compiler" in str(gemm_library.last_disk_error)
    assert not os.path.exists(gemm_library.library_dir())
    assert gemm_library.compile_count == 1


def test_a_kernel_in_the_disk_cache_is_loaded_without_parsing_its_mlir(fresh_kernels, monkeypatch):
    monkeypatch.setattr(gemm_library, "last_disk_error", None)
    symbol = gemm_kernel.shape_for("f32").symbol
    gemm_library.kernel_address(symbol, lambda lookup: None)  # in the disk cache from here on
    monkeypatch.setattr(gemm_library, "_KERNELS", {})
    parsed = []
    parse = gemm_library.ir.Module.parse
    monkeypatch.setattr(
        gemm_library.ir.Module, "parse", lambda text: parsed.append(text) or parse(text)
    )
    assert gemm_library.kernel_address(symbol, lambda lookup: None).value
    assert parsed == [] and gemm_library.last_disk_error is None


def test_the_cache_key_covers_the_checks_added_before_lowering(monkeypatch):
    text = gemm_kernel.gemm_function_text(gemm_kernel.shape_for("f32"), private=False)
    key = gemm_library._cache_key(text)
    monkeypatch.setattr(gemm_library, "_checks_digest", lambda: "another tgc-check-allocs")
    assert gemm_library._cache_key(text) != key
