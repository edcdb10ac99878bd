"""The nvptx target's code: the gpu.module of its kernels, lowered through NVVM to PTX text.

The target's pipeline ends at the gpu level (host function with gpu.launch_func, one gpu.module of
kernels: the "gpu" stage); here MLIR's gpu-lower-to-nvvm-pipeline turns the kernels into PTX for the
chosen sm_XX (``cubin-format=isa``: PTX text, no ptxas needed) and the PTX is read out of the
resulting gpu.binary (the "ptx" stage).
"""

from __future__ import annotations

import re

from tgc.lowering.artifact import AotError, Lowered, Machine, Options, timed

TRIPLE = "nvptx64-nvidia-cuda"
DEFAULT_ARCH = "sm_90"
PTX_FEATURES = "+ptx80"  # PTX ISA 8.0: the first with sm_90


def resolve_machine(machine: Machine) -> Machine:
    """nvptx64-nvidia-cuda for sm_90 unless --target-cpu names another sm_XX."""
    if machine.triple not in (None, TRIPLE):
        raise AotError(f"the nvptx target generates code for {TRIPLE}, not '{machine.triple}'")
    arch = machine.cpu or DEFAULT_ARCH
    if not re.fullmatch(r"sm_[0-9]{2,3}[a-z]?", arch):
        raise AotError(
            f"--target-cpu for the nvptx target is a GPU architecture such as sm_90, not '{arch}'"
        )
    return Machine(TRIPLE, arch)


def nvvm_pipeline(machine: Machine, opt_level: int) -> str:
    """gpu level -> gpu.binary holding PTX; kernels take one pointer per (static-shape) buffer."""
    return (
        f"nvvm-attach-target{{chip={machine.cpu} features={PTX_FEATURES} O={opt_level}}},"
        f"gpu-lower-to-nvvm-pipeline{{cubin-chip={machine.cpu} cubin-features={PTX_FEATURES} "
        f"cubin-format=isa opt-level={opt_level} kernel-bare-ptr-calling-convention=true}}"
    )


def emit_stages(module, lowered: Lowered, stop: str, options: Options) -> None:
    """From the gpu level (the module after the target's pipeline) to ``stop``."""
    lowered.stages["gpu"] = str(module)
    if stop == "gpu":
        return
    lowered.llvm_pipeline = nvvm_pipeline(lowered.machine, options.opt_level)
    timed(options, "gpu-lower-to-nvvm-pipeline", lower_to_binary, module, lowered.llvm_pipeline)
    lowered.stages["ptx"] = ptx_text(module)


def lower_to_binary(module, pipeline: str) -> None:
    from mlir.passmanager import PassManager

    from tgc.passes.pipeline import announce

    announce("lowering the kernels to PTX (gpu-lower-to-nvvm-pipeline)")
    PassManager.parse(f"builtin.module({pipeline})").run(module.operation)


def ptx_text(module) -> str:
    """The PTX of the module's gpu.binary (tgc-nvptx-one-gpu-module leaves at most one); empty
    when the graph has no kernel."""
    from mlir import ir
    from mlir.dialects import gpu

    texts = []
    for op in module.body.operations:
        if op.operation.name == "gpu.binary":
            objects = ir.ArrayAttr(op.attributes["objects"])
            texts.append(gpu.ObjectAttr(objects[0]).object.decode())
    return "\n".join(texts)
