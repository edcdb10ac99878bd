"""tgc-nvptx-drop-empty-linalg: linalg ops on a buffer that holds no element go before the passes
that make kernels of them.

A linalg op on buffers reads and writes its operands at every point of its iteration space, so an
operand with a dim of size 0 (a slice of nothing, a batch of none, a matmul's gradient for an empty
operand) means the space is empty: the op does nothing, and its outputs keep what they held (a
matmul accumulates into its C, which a fill has zeroed before; a reduction over an empty axis leaves
its init, the reduction's identity). The passes after bufferization would otherwise build a kernel
around it (tgc-nvptx-tile-matmul: a launch of zero blocks taking the empty buffers), and an empty
buffer has no pointer to pass. tgc-nvptx-drop-empty-loops does the same for the loops the other
linalg ops become; this pass comes first, for the kernels written directly from linalg ops.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops, holds_no_element
from tgc.passes.base import ModulePass

# Ops of the linalg dialect that are parts of another (a region's terminator, a loop index), or
# that are not loops over their operands: a pack pads a non-empty destination from an empty
# source, and the others are kept for what they are. (tgc makes none of the latter today.)
_NOT_STRUCTURED = {
    "linalg.yield",
    "linalg.index",
    "linalg.pack",
    "linalg.unpack",
    "linalg.softmax",
    "linalg.winograd_filter_transform",
    "linalg.winograd_input_transform",
    "linalg.winograd_output_transform",
}


def _does_nothing(op) -> bool:
    """A linalg op on buffers (no results) with an operand of a static dim 0."""
    return (
        op.name.startswith("linalg.")
        and op.name not in _NOT_STRUCTURED
        and len(op.results) == 0
        and any(holds_no_element(operand) for operand in op.operands)
    )


@dataclasses.dataclass(frozen=True)
class DropEmptyLinalgPass(ModulePass):
    """Erases linalg ops on buffers one of which statically holds no element."""

    name = "tgc-nvptx-drop-empty-linalg"

    def run(self, module: ir.Module) -> None:
        for op in [op for op in all_ops(module) if _does_nothing(op)]:
            op.erase()
