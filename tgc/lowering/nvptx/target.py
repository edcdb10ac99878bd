"""The nvptx target: NVIDIA GPUs (sm_90 by default) through MLIR's gpu and NVVM dialects to PTX.

`tgc compile --target nvptx` writes an artifact (PTX, a cubin when ptxas is present, the launch
plan) for the ops listed in VALIDATED_OPS, on static shapes; sessions place ops on `/gpu:0` when
the machine has a CUDA GPU. Matmuls get shared-memory tiles (tgc-nvptx-tile-matmul), and with TF32
allowed (`--allow-tf32`, or tf.config.experimental.enable_tensor_float_32_execution(True) before
the graph is compiled) f32 matmuls run on tensor cores (tgc-nvptx-mma-matmul).
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.targets import Target
from tgc.lowering.nvptx.pipeline import VALIDATED_OPS, pipeline_elements
from tgc.lowering.tensor_float_32 import tensor_float_32_enabled

_VARIABLE_TRAITS = {"variable_declaration", "variable_read", "assigns"}


def _variable_ops() -> frozenset:
    from tgc.dialect.registry import load_all_ops

    return frozenset(n for n, op in load_all_ops().items() if op.traits & _VARIABLE_TRAITS)


def _is_uint8(value) -> bool:
    type_ = value.type
    return isinstance(type_, ir.ShapedType) and str(ir.ShapedType(type_).element_type) == "ui8"


@dataclasses.dataclass(frozen=True)
class NvptxTarget(Target):
    # f32 matmuls on TF32 tensor cores (opt-in, as PyTorch's allow_tf32): `tgc compile
    # --allow-tf32` compiles with a copy of the target that has it (with_options).
    allow_tf32: bool = False

    def with_options(self, *, allow_tf32: bool) -> "NvptxTarget":
        return dataclasses.replace(self, allow_tf32=allow_tf32)

    def supported_ops(self) -> frozenset:
        """The validated ops, and the variable ops: at the core level a variable is an argument
        (and an assigned one a result) of the compiled function, which the launch plan handles."""
        return frozenset(VALIDATED_OPS) | _variable_ops()

    def can_place(self, operation, op_name: str) -> bool:
        """A validated op, unless it takes or makes a uint8 tensor: uint8 (``ui8``) lies outside
        the signless integers the kernels and launch plans handle, so such ops (the bitcasts of
        tgc/frontend/uint8_math.py, moves of uint8 tensors) stay on the CPU; the int8 and int32
        arithmetic that uint8_math makes of uint8 ops runs here."""
        values = list(operation.operands) + list(operation.results)
        return self.can_run(op_name) and not any(_is_uint8(v) for v in values)

    def pipeline_elements(self, *, for_session: bool, external_libraries: bool = True) -> list:
        return pipeline_elements(allow_tf32=self.tf32())

    def tf32(self) -> bool:
        """Whether f32 matmuls run on TF32 tensor cores: the compile option, or TF's switch."""
        return self.allow_tf32 or tensor_float_32_enabled()

    def load_in_process(self, module, functions: list, symbols: dict, hub=None, devices=None):
        """``symbols`` go unused: the launch plan sends and receives through ``hub``; each
        function runs on the GPU ``devices`` names for it."""
        from tgc.lowering.nvptx.in_process import load_on_gpu

        return load_on_gpu(module, hub, devices)

    def available_devices(self) -> int:
        """The CUDA GPUs of this machine (none without cuda-bindings, a driver or a GPU)."""
        from tgc.runtime.cuda_device import gpu_count

        return gpu_count()

    def resolve_machine(self, machine):
        from tgc.lowering.nvptx.codegen import resolve_machine

        return resolve_machine(machine)

    def code_generation(self, machine, options) -> str:
        from tgc.lowering.nvptx.codegen import nvvm_pipeline

        return nvvm_pipeline(machine, options.opt_level)

    def emit_stages(self, module, lowered, stop: str, options) -> None:
        from tgc.lowering.nvptx.codegen import emit_stages

        emit_stages(module, lowered, stop, options)

    def write_artifact(self, lowered, options, directory: str) -> str:
        from tgc.lowering.nvptx.artifact import write_artifact

        return write_artifact(lowered, options, directory)


NVPTX = NvptxTarget(
    name="nvptx",
    device_type="GPU",
    # An H200-class GPU: ~5e13 f32 flop/s, a PCIe/NVLink-class link to the host.
    flops_per_second=5e13,
    link_bytes_per_second=5e10,
    link_latency_seconds=1e-5,
    artifact_format="tgc-nvptx-artifact",
    runtime_loader="tgc.runtime.gpu_artifact:load",
    artifact_stages=("gpu", "ptx", "artifact"),
    passes=tuple(type(p) for p in pipeline_elements(allow_tf32=True) if not isinstance(p, str)),
    static_shapes=True,
    description="NVIDIA GPUs through NVVM to PTX (artifact: PTX, cubin and launch plan)",
)
