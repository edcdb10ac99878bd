"""The accel target's pipeline from the core level to accel ops on buffers."""

from __future__ import annotations

from tgc.lowering.accel.tile_matmul import TileMatmulPass
from tgc.lowering.nvptx.static_transfers import StaticTransfersPass

# The registry ops the accelerator runs (besides the variable ops: see target.py). Everything else
# stays on the CPU by placement.
ACCEL_OPS = ("matmul",)

ONE_SHOT_BUFFERIZE = (
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}"
)


def pipeline_elements() -> list:
    """core -> accel ops on memrefs; program.py then reads each function into a program."""
    return [
        # Sends and receives keep their tensor's static shape: the host performs them around the
        # program, and the DMAs need the shapes of the tensors they move.
        StaticTransfersPass(),
        ONE_SHOT_BUFFERIZE,
        TileMatmulPass(),
    ]
