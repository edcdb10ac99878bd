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

IN_PROCESS_ONLY = (
    "the nvptx-emulated target runs in-process only; compile artifacts with --target nvptx"
)


@dataclasses.dataclass(frozen=True)
class NvptxEmulatedTarget(NvptxTarget):
    def load_in_process(self, module, functions: list, symbols: dict):
        from tgc.lowering.nvptx.in_process import load_on_host, refuse_transfers

        refuse_transfers(self.name, symbols)
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
