"""The accel target's pipeline from the core level to accel ops on buffers."""

from __future__ import annotations

from tgc.lowering.accel.tile_matmul import TileMatmulPass

# The registry ops the accelerator runs (besides the variable ops: see target.py). Everything else
# stays on the CPU by placement.
ACCEL_OPS = ("matmul",)


def runs_on_accel(operation, op_name: str) -> bool:
    """Whether the accelerator runs this graph-level op: its name is one of ACCEL_OPS (the
    placement then decides by cost). Support that depends on the op's types goes here."""
    return op_name in ACCEL_OPS


ONE_SHOT_BUFFERIZE = (
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}"
)


def pipeline_elements() -> list:
    """core -> accel ops on memrefs; program.py then reads each function into a program."""
    return [
        # Sends and receives stay calls of the transfer functions (the host performs them around
        # the programs); the static casts of their tensors give the DMAs their shapes.
        ONE_SHOT_BUFFERIZE,
        TileMatmulPass(),
    ]
