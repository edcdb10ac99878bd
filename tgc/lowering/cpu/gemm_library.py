"""tgc's generated GEMM compiled once per process, for in-process (Session, tgc.jit) code.

An in-process module only declares the kernel (tgc-blas-matmul's ``kernel=external``); the JIT
hands it this copy's address, as it hands it OpenBLAS's functions (jit.library_symbols). Each
kernel (element type, ISA, blocking: one symbol, gemm_kernel.shape_of_symbol) is compiled at -O3 in
a small module of its own the first time a module asks for it, and kept for the life of the
process. Defined in every Session module instead, the kernel cost 0.24 s of LLVM at -O0 per module
(and its -O0 code was slow) and 0.61 s again in the optimizing tier. Artifacts keep their own copy
(they must need libc and libm only).

Thread-safe: the optimizing tier compiles on a worker thread (tiered.py) while the main thread
compiles the next run.
"""

from __future__ import annotations

import ctypes
import threading

from mlir import ir
from mlir.passmanager import PassManager

from tgc.lowering.cpu import gemm_kernel, tiered
from tgc.lowering.cpu.check_allocs import CheckAllocsPass

# The kernel's own lowering: what the CPU pipeline runs after tgc-blas-matmul, for the ops the
# kernel has (scf loops, vectors, memrefs with strided layouts).
KERNEL_LOWERING = (
    "builtin.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
    "convert-vector-to-llvm,convert-to-llvm,reconcile-unrealized-casts)"
)

_LOCK = threading.Lock()
# symbol -> (the engine that holds its code, the function's address)
_KERNELS: dict = {}
# How many kernels this process compiled (tests check that two Sessions share one).
compile_count = 0


def kernel_address(symbol: str, connect) -> ctypes.c_void_p | None:
    """The address of the generated kernel ``symbol``, compiled on the first request; None when
    ``symbol`` names no generated kernel. ``connect(lookup_packed)`` gives a new engine the
    runtime's error handler (its pack allocations report a failed malloc as every module's do)."""
    shape = gemm_kernel.shape_of_symbol(symbol)
    if shape is None:
        return None
    with _LOCK:  # one compile per kernel, even when two threads ask at once
        found = _KERNELS.get(symbol)
        if found is None:
            found = _compile(shape, connect)
            _KERNELS[symbol] = found
    return ctypes.c_void_p(found[1])


def _compile(shape, connect) -> tuple:
    global compile_count
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(gemm_kernel.gemm_function_text(shape, private=False))
        CheckAllocsPass().run(module)
        PassManager.parse(KERNEL_LOWERING).run(module.operation)
        bytecode = tiered.module_bytecode(module)
    engine = tiered.optimized_engine(bytecode, {}, [])
    connect(engine.lookup_packed)
    address = engine.symbol_address(shape.symbol)
    if not address:
        raise RuntimeError(f"the generated GEMM {shape.symbol} compiled to no function")
    compile_count += 1
    return engine, address
