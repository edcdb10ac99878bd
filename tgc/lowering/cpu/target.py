"""The CPU target: the host's cores through LLVM, in-process by MLIR's ExecutionEngine and ahead of
time as a shared library with a C header (tgc/runtime/artifact.py loads it)."""

from __future__ import annotations

import dataclasses
import os

from tgc.dialect.targets import Target
from tgc.lowering.core_ops import runnable_from_core
from tgc.lowering.cpu.blas import BlasMatmulPass
from tgc.lowering.cpu.check_allocs import CheckAllocsPass
from tgc.lowering.cpu.conv_gemm import ConvGemmPass
from tgc.lowering.cpu.gemm_autotune import GemmAutotunePass
from tgc.lowering.cpu.gemm_epilogue import GemmEpiloguePass
from tgc.lowering.cpu.gemm_update import GemmUpdatePass
from tgc.lowering.cpu.narrow_gemm import NarrowGemmPass
from tgc.lowering.cpu.outline_gemm import OutlineGemmPass
from tgc.lowering.cpu.parallel_loops import ParallelLoopsPass
from tgc.lowering.cpu.private_loop_buffers import PrivateLoopBuffersPass
from tgc.lowering.cpu.strided_copies import StridedCopiesPass
from tgc.lowering.identity_if_results import IdentityIfResultsPass
from tgc.lowering.math_expansion import EXPAND_MATH
from tgc.lowering.read_only_arguments import ReadOnlyArgumentsPass
from tgc.lowering.return_in_place import ReturnInPlacePass
from tgc.lowering.widen_i1_memrefs import WidenI1MemrefsPass

# allow-return-allocs-from-loops: a compiled tf.while_loop (scf.while) may yield a new buffer for a
# loop-carried tensor (a swap of two variables, a nested loop's result) instead of writing in place.
ONE_SHOT_BUFFERIZE = (
    "one-shot-bufferize{allow-return-allocs-from-loops bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}"
)


# Which GEMM a compile that may link OpenBLAS calls: "auto" (the default: measured per shape,
# gemm_tuning.py), "tune" (auto, timing the shapes not cached yet during the compile), "blas" or
# "codegen".
GEMM_ENVIRONMENT = "TGC_GEMM"
GEMM_CHOICES = ("auto", "tune", "blas", "codegen")


def gemm_callee(external_libraries: bool) -> str:
    """tgc-blas-matmul's gemm option: the generated kernel when no library may be linked, else
    TGC_GEMM's choice (``auto`` unless it says otherwise; ``tune`` is ``auto`` with tuning)."""
    if not external_libraries:
        return "codegen"
    choice = os.environ.get(GEMM_ENVIRONMENT, "").strip().lower() or "auto"
    if choice not in GEMM_CHOICES:
        raise ValueError(f"{GEMM_ENVIRONMENT}={choice!r}: choose one of {', '.join(GEMM_CHOICES)}")
    return "auto" if choice == "tune" else choice


def gemm_passes(external_libraries: bool, for_session: bool, isa: str = "") -> list:
    """tgc-blas-matmul, after tgc-gemm-autotune when the choice is ``auto``. An artifact with
    OpenBLAS tunes its matmuls while it is compiled (ahead of time, where a second or two per new
    shape is acceptable); a Session only reads the cache, so that no tuning lands on a step's first
    call, unless TGC_GEMM=tune. ``isa``: the generated kernel's ("" for the compiling host's).
    A Session's modules only declare the generated kernel: the JIT links the copy compiled once
    per process at -O3 (gemm_library.py); an artifact defines it in its own code."""
    gemm = gemm_callee(external_libraries)
    kernel = "external" if for_session else "inline"
    parallel = _parallel_gemm(for_session)
    # Matmuls with C at most one vector wide take tgc's narrow kernels (narrow_gemm.py), faster
    # than either GEMM there, unless OpenBLAS is forced.
    narrow = [] if gemm == "blas" else [NarrowGemmPass(isa=isa)]
    if gemm != "auto":
        return [*narrow, BlasMatmulPass(gemm=gemm, isa=isa, kernel=kernel, parallel=parallel)]
    asked = os.environ.get(GEMM_ENVIRONMENT, "").strip().lower() == "tune"
    return [
        *narrow,
        GemmAutotunePass(tune=asked or not for_session, isa=isa),
        BlasMatmulPass(isa=isa, kernel=kernel, parallel=parallel),
    ]


def _parallel_gemm(for_session: bool) -> bool:
    """Whether the generated GEMM goes through the parallel runtime (parallel_gemm.py): an
    artifact links its own copy (or runs its weak serial fallback); in-process code needs the copy
    built into the cache, and without one (no C compiler) stays on the calling thread."""
    if not for_session:
        return True
    from tgc.lowering.cpu import parallel_gemm

    return parallel_gemm.library() is not None


def _loop_entry_place(for_session: bool) -> str:
    """Where tgc-parallel-loops' ``tgc_parallel_for`` comes from: the in-process runtime
    (``external``) for a Session that has one, else a weak serial definition in the module that an
    artifact's linked runtime replaces (``inline``)."""
    return "external" if for_session and _parallel_gemm(for_session) else "inline"


@dataclasses.dataclass(frozen=True)
class CpuTarget(Target):
    # The generated GEMM's ISA: "" generates it for the compiling host; an artifact compiled for
    # another CPU sets it from that CPU (for_machine).
    gemm_isa: str = ""

    def for_machine(self, machine) -> "CpuTarget":
        """This target with the generated GEMM blocked for ``machine``'s CPU (the compiling
        host's when the machine names none)."""
        from tgc.lowering.cpu.gemm_kernel import isa_of_cpu

        # As resolve_machine: a machine of another triple without a CPU is LLVM's "generic".
        cpu = machine.cpu or ("generic" if machine.triple is not None else None)
        return dataclasses.replace(self, gemm_isa=isa_of_cpu(cpu))

    def supported_ops(self) -> frozenset:
        return runnable_from_core()

    def pipeline_elements(self, *, for_session: bool, external_libraries: bool = True) -> list:
        """core -> LLVM dialect. ``for_session``: bufferization may update an assigned variable's
        array in place; ``external_libraries``: matmuls may call OpenBLAS (an artifact built without
        it depends on libc and libm only, its matmuls call tgc's generated GEMM)."""
        return [
            # f32/f64 convolutions become im2col/col2im and GEMMs, before cse shares the patch
            # matrices a conv and its filter gradient both build.
            ConvGemmPass(),
            # The backprop of an op re-derives tensors of its forward lowering (the conv's padded
            # input, its patch matrix): cse builds one copy of each instead of two.
            "canonicalize",
            "cse",
            # Matmuls go behind calls before elementwise fusion, which would otherwise fold a matmul
            # with its elementwise producer or reshaped consumer into a generic BLAS cannot run.
            OutlineGemmPass(),
            "func.func(linalg-fuse-elementwise-ops)",
            # An SGD update of a matmul's result accumulates into the weight's own array (BLAS
            # beta = 1) instead of a GEMM into fresh zeros plus an update into a third buffer.
            GemmUpdatePass(),
            # A dense layer's bias add and relu over a GEMM's result join the GEMM's function, where
            # tgc's generated kernel applies them to its register tile (C written once).
            GemmEpiloguePass(),
            ReadOnlyArgumentsPass(writable_variables=for_session),
            # The batch loops that later run on several threads get scratch buffers per iteration
            # where cse merged theirs with one built before the loop.
            PrivateLoopBuffersPass(),
            ONE_SHOT_BUFFERIZE,
            # A tf.cond's buffers keep their identity layout, which vector transfers need.
            IdentityIfResultsPass(),
            "drop-equivalent-buffer-results",
            "buffer-deallocation-pipeline",
            ReturnInPlacePass(),
            "convert-bufferization-to-memref",
            WidenI1MemrefsPass(),
            # Matmuls call a GEMM: the faster of OpenBLAS and tgc's generated kernel for their
            # shape, or the generated kernel where no library may be linked (an artifact without
            # --blas); TGC_GEMM=blas or codegen forces one.
            *gemm_passes(external_libraries, for_session, self.gemm_isa),
            # Pads and windowed writes copy through vectorized loops, not the runtime's
            # element-by-element memrefCopy.
            # The batch loops of direct convolution, pooling and im2col (tagged by their
            # lowerings) run as chunks on the parallel runtime's threads.
            ParallelLoopsPass(place=_loop_entry_place(for_session)),
            StridedCopiesPass(),
            "func.func(convert-linalg-to-loops)",
            # A failed (or wrapping) allocation raises ResourceExhaustedError instead of being
            # written through.
            CheckAllocsPass(),
            "expand-strided-metadata",
            "lower-affine",
            "convert-scf-to-cf",
            EXPAND_MATH,
            "convert-math-to-funcs",
            "convert-math-to-libm",
            # The generated GEMM's vectors (masked edge loads and stores, FMAs).
            "convert-vector-to-llvm",
            "convert-to-llvm",
            "reconcile-unrealized-casts",
        ]

    def gemm_tuning(self):
        """The module that times and caches this target's GEMM choices (gemm_autotune.py; its
        ``gemm_tuning``: the cache), for the tools, which find targets in the registry."""
        from tgc.lowering.cpu import gemm_autotune

        return gemm_autotune

    def load_in_process(self, module, functions: list, symbols: dict, hub=None, devices=None):
        from tgc.lowering.cpu.jit import load_functions

        return load_functions(module, functions, symbols)

    def resolve_machine(self, machine):
        from tgc.lowering.cpu.artifact import resolve_machine

        return resolve_machine(machine)

    def code_generation(self, machine, options) -> str:
        return (
            f"mlir-to-llvmir | opt -O{options.opt_level} | llc -O{options.opt_level} "
            f"-mtriple={machine.triple} -mcpu={machine.cpu} -relocation-model=pic"
        )

    def emit_stages(self, module, lowered, stop: str, options) -> None:
        from tgc.lowering.cpu.artifact import emit_stages

        emit_stages(module, lowered, stop, options)

    def write_artifact(self, lowered, options, directory: str) -> str:
        from tgc.lowering.cpu.artifact import write_artifact

        return write_artifact(lowered, options, directory)


CPU = CpuTarget(
    name="cpu",
    device_type="CPU",
    flops_per_second=2e10,
    link_bytes_per_second=1e10,
    link_latency_seconds=2e-5,
    artifact_format="tgc-artifact",
    runtime_loader="tgc.runtime.artifact:load",
    artifact_stages=("llvm-dialect", "llvm-ir", "asm", "obj", "so", "header", "artifact"),
    passes=(
        ConvGemmPass,
        BlasMatmulPass,
        GemmAutotunePass,
        OutlineGemmPass,
        GemmUpdatePass,
        GemmEpiloguePass,
        NarrowGemmPass,
        ParallelLoopsPass,
        PrivateLoopBuffersPass,
        IdentityIfResultsPass,
        StridedCopiesPass,
        CheckAllocsPass,
    ),
    description=(
        "the host CPU through LLVM (JIT in-process; shared library + C header ahead of time)"
    ),
)
