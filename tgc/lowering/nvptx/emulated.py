"""The nvptx target's code run on the host CPU: "nvptx-emulated", a CPU-type target.

Same pipeline as nvptx, same kernels, same launch plan and the same runtime runner; only the kernels
are compiled for the host (tgc-nvptx-kernels-on-host: blocks and threads become loops) and device
memory is host memory (tgc/runtime/host_device.py). The GPU's schedule is thereby checked
numerically without a GPU: a Session under ``targets.selected("nvptx-emulated")`` runs on it, and so
does the random-graph suite (``--conformance-target nvptx-emulated``). It is slow (threads run one
after another) and is never chosen by placement: it serves no device type by default.
"""

from __future__ import annotations

import dataclasses

from tgc.lowering.nvptx.kernels_on_host import KernelsOnHostPass
from tgc.lowering.nvptx.target import NvptxTarget

# The kernels as host functions -> LLVM. Memrefs are passed as bare pointers, as kernels take them
# on the GPU, so one launch plan's argument list serves both.
HOST_LOWERING = (
    "builtin.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
    "func.func(math-expand-ops),convert-math-to-funcs,convert-math-to-libm,"
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},convert-to-llvm,"
    "reconcile-unrealized-casts)"
)
IN_PROCESS_ONLY = (
    "the nvptx-emulated target runs in-process only; compile artifacts with --target nvptx"
)


class PlanCode:
    """A module's launch plan bound to a device; each function becomes a LaunchPlan."""

    def __init__(self, plan: dict, device):
        self.plan = plan
        self.device = device

    def executable(self, function: str, inputs: list, outputs: list, in_place=None):
        from tgc.runtime.launch_plan import LaunchPlan

        return LaunchPlan(self.plan["functions"][function], self.device, function)


def load_on_host(module) -> PlanCode:
    """Reads the launch plan of a gpu-level module, then compiles its kernels for the host."""
    from mlir.execution_engine import ExecutionEngine
    from mlir.passmanager import PassManager

    from tgc.runtime.host_device import HostDevice

    plan = plan_of(module)
    KernelsOnHostPass().run(module)
    PassManager.parse(HOST_LOWERING).run(module.operation)
    engine = ExecutionEngine(module, opt_level=3)
    kernels = {name: engine.raw_lookup(name) for name in plan["kernels"]}
    return PlanCode(plan, HostDevice(kernels, keepalive=engine))


def plan_of(module) -> dict:
    """The module's launch plan; host code it cannot express is the user's CompileError."""
    from tgc.errors import CompileError
    from tgc.lowering.nvptx.launch_plan import PlanError, extract_plan

    try:
        return extract_plan(module)
    except PlanError as exc:
        raise CompileError(f"the nvptx target cannot run this graph: {exc}") from None


@dataclasses.dataclass(frozen=True)
class NvptxEmulatedTarget(NvptxTarget):
    def load_in_process(self, module, functions: list, symbols: dict):
        if symbols:
            from tgc.errors import CompileError

            raise CompileError(
                f"the {self.name} target runs one device's graph: it cannot send or receive "
                "tensors between devices"
            )
        return load_on_host(module)

    def write_artifact(self, lowered, options, directory: str) -> str:
        from tgc.lowering.artifact import AotError

        raise AotError(IN_PROCESS_ONLY)

    def load_artifact(self, path: str, **kwargs):
        from tgc.runtime.artifact import ArtifactError

        raise ArtifactError(IN_PROCESS_ONLY)


def emulated(target: NvptxTarget) -> NvptxEmulatedTarget:
    """``target`` run on the host: a CPU-type target named '<name>-emulated'."""
    fields = {f.name: getattr(target, f.name) for f in dataclasses.fields(target)}
    return NvptxEmulatedTarget(
        **{
            **fields,
            "name": f"{target.name}-emulated",
            "device_type": "CPU",
            "flops_per_second": 1e8,
            "artifact_format": "",
            "runtime_loader": "",
            "passes": (*target.passes, KernelsOnHostPass),
            "description": f"{target.name}'s kernels and launch plans run on the host CPU "
            "(checks the GPU schedule without a GPU)",
        }
    )
