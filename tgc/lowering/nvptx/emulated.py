"""The nvptx target's code run on the host CPU: "nvptx-emulated", a GPU-type target.

Same pipeline as nvptx, same kernels, same launch plan and the same runtime runner; only the kernels
are compiled for the host (tgc-nvptx-kernels-on-host: blocks and threads become loops) and device
memory is host memory (tgc/runtime/host_device.py). The GPU's schedule is thereby checked
numerically without a GPU: under ``targets.selected("nvptx-emulated")`` a session's GPU devices
(``ConfigProto(device_count={'GPU': 1})``) exist on any machine and run on it, and so does the
random-graph suite (``--conformance-target nvptx-emulated``). It is slow (threads run one after
another) and never the GPU's target unless selected.
"""

from __future__ import annotations

import dataclasses

from tgc.lowering.nvptx.kernels_on_host import KernelsOnHostPass
from tgc.lowering.nvptx.pipeline import pipeline_elements
from tgc.lowering.nvptx.target import NvptxTarget

IN_PROCESS_ONLY = (
    "the nvptx-emulated target runs in-process only; compile artifacts with --target nvptx"
)


@dataclasses.dataclass(frozen=True)
class NvptxEmulatedTarget(NvptxTarget):
    def pipeline_elements(self, *, for_session: bool, external_libraries: bool = True) -> list:
        """The GPU's pipeline; with TF32 allowed, the tensor-core matmul's kernel with its
        warp-wide mma.sync and its asynchronous copies emulated (tgc/lowering/nvptx/
        mma_emulated.py): the host runs a block's threads one after another."""
        return pipeline_elements(allow_tf32=self.tf32(), emulated=True)

    def load_in_process(self, module, functions: list, symbols: dict, hub=None, devices=None):
        """``symbols`` go unused: the launch plan sends and receives through ``hub``."""
        from tgc.lowering.nvptx.in_process import load_on_host

        return load_on_host(module, hub)

    def available_devices(self) -> None:
        """Any number: its devices are the host's."""
        return None

    def write_artifact(self, lowered, options, directory: str) -> str:
        from tgc.lowering.artifact import AotError

        raise AotError(IN_PROCESS_ONLY)

    def load_artifact(self, path: str, **kwargs):
        from tgc.runtime.artifact import ArtifactError

        raise ArtifactError(IN_PROCESS_ONLY)


def emulated(target: NvptxTarget) -> NvptxEmulatedTarget:
    """``target`` run on the host: a target of the same device type and speed (placement decides
    as it would for the GPU) named '<name>-emulated'."""
    fields = {f.name: getattr(target, f.name) for f in dataclasses.fields(target)}
    return NvptxEmulatedTarget(
        **{
            **fields,
            "name": f"{target.name}-emulated",
            "artifact_format": "",
            "runtime_loader": "",
            "passes": (*target.passes, KernelsOnHostPass),
            "description": f"{target.name}'s kernels and launch plans run on the host CPU "
            "(checks the GPU schedule without a GPU)",
        }
    )
