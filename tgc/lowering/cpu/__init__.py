"""The CPU target: core -> LLVM for the host CPU (target.py), JIT through MLIR's ExecutionEngine
(jit.py), and the CPU-only passes of its pipeline (BLAS outlining and calls, in-place GEMM updates,
strided copies, allocation checks). Importing the package registers the target."""

from tgc.dialect.targets import register
from tgc.lowering.cpu.target import CPU

register(CPU)
