"""The accel target: tgc's open TPU-like accelerator, run on the simulator in tgc.runtime.accel.

The accelerator runs the ops pipeline.py lists (bf16 on the matrix unit with float32
accumulation); every other op stays on the CPU by placement, and tensors cross between the CPU's
partitions and the accelerator's through the run's rendezvous. A Session or @tgc.jit runs the
programs in-process on the simulator, which counts the cycles
(``tgc.lowering.accel.in_process.last_stats``); `tgc compile --target accel -o DIR` writes an
artifact (artifact.py: the programs, their host plans, the signature) that `tgc run` and
``tgc.runtime.load`` run on the same simulator (tgc/runtime/accel_artifact.py).
"""

from __future__ import annotations

import dataclasses

from tgc.dialect.targets import Target
from tgc.lowering.accel.outline_conv import OutlineConvPass
from tgc.lowering.accel.pipeline import ACCEL_OPS, pipeline_elements, runs_on_accel
from tgc.lowering.accel.tile_conv import TileConvPass
from tgc.lowering.accel.tile_generic import TileGenericPass
from tgc.lowering.accel.tile_matmul import TileMatmulPass


@dataclasses.dataclass(frozen=True)
class AccelTarget(Target):
    def supported_ops(self) -> frozenset:
        """matmul only. Not the variable ops: every op on a variable goes to the variable's device,
        and an optimizer's assign_sub needs elementwise ops the accelerator does not run yet; so a
        variable stays on the CPU (with soft placement; a request for the accelerator is refused
        otherwise) and its value is sent to the accelerator's partition."""
        return frozenset(ACCEL_OPS)

    def can_place(self, operation, op_name: str) -> bool:
        return runs_on_accel(operation, op_name)

    def pipeline_elements(self, *, for_session: bool, external_libraries: bool = True) -> list:
        return pipeline_elements()

    def load_in_process(self, module, functions: list, symbols: dict, hub=None, devices=None):
        """``symbols`` go unused: the host part of each program sends and receives through
        ``hub``. Every device of this target is one simulated accelerator."""
        from tgc.lowering.accel.in_process import load_programs

        return load_programs(module, hub)

    def load_dialects(self, context) -> None:
        """Loads the accel dialect into ``context`` (for a tool that parses accel IR)."""
        from tgc.lowering.accel.ops import load_dialect

        load_dialect(context)

    def available_devices(self) -> None:
        """Any number: each is a simulator in this process."""
        return None

    def resolve_machine(self, machine):
        return machine

    def code_generation(self, machine, options) -> str:
        return "accel programs (JSON) run by tgc.runtime.accel's simulator"

    def emit_stages(self, module, lowered, stop: str, options) -> None:
        """ "accel": the module in the accel dialect; "program": the JSON of each function's
        programs (what the simulator runs) and host plan, which the artifact holds."""
        from tgc.lowering.accel.in_process import programs_json

        lowered.stages["accel"] = str(module)
        if stop in ("program", "artifact"):
            lowered.stages["program"] = programs_json(module)

    def write_artifact(self, lowered, options, directory: str) -> str:
        from tgc.lowering.accel.artifact import write_artifact

        return write_artifact(lowered, options, directory)


# TPU v2-like: a 128x128 array at 940 MHz, bf16 (2 flops per MAC per cycle); its link to the host
# is a PCIe-class one.
ACCEL = AccelTarget(
    name="accel",
    device_type="ACCEL",
    flops_per_second=2 * 128 * 128 * 940e6,
    link_bytes_per_second=1.6e10,
    link_latency_seconds=1e-5,
    artifact_format="tgc-accel-artifact",
    # `tgc compile --target accel --emit accel|program` shows the accel IR and the programs; the
    # artifact holds the programs.
    artifact_stages=("accel", "program", "artifact"),
    runtime_loader="tgc.runtime.accel_artifact:load",
    # Its own passes (the static transfers are the nvptx target's, which `tgc opt` lists there).
    passes=(OutlineConvPass, TileMatmulPass, TileConvPass, TileGenericPass),
    static_shapes=True,
    dialects=("accel",),
    description="tgc's TPU-like accelerator (bf16 systolic array), run on its simulator",
)
