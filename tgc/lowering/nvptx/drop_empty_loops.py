"""tgc-nvptx-drop-empty-loops: loops over an empty iteration space go before they become kernels.

A tensor with a dim of size 0 (a slice of nothing, a batch of none) leaves loops that run zero
times: an elementwise op on it becomes a parallel loop with an empty range, a reduction over an
empty axis an scf.for from 0 to 0 inside the loop over its outputs. Mapped to the GPU, the first is
a launch of zero blocks and the second a kernel taking the empty buffer as a parameter, and an
empty buffer has no pointer to pass. Both loops do nothing, so they are erased (a loop's results
are its initial values) while their bounds are still constants in the host code, between the
loops' tiling and their mapping to blocks and threads.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops, defining_op
from tgc.passes.base import ModulePass


def _constant_index(value: ir.Value):
    op = defining_op(value)
    if op is None or op.name != "arith.constant":
        return None
    attr = op.attributes["value"]
    return ir.IntegerAttr(attr).value if isinstance(attr, ir.IntegerAttr) else None


def _bounds(loop) -> tuple:
    """(lower bounds, upper bounds, initial values) of an scf.for or scf.parallel."""
    operands = list(loop.operands)
    if loop.name == "scf.for":
        return [operands[0]], [operands[1]], operands[3:]
    sizes = list(ir.DenseI32ArrayAttr(loop.attributes["operandSegmentSizes"]))
    lower, upper, steps, _ = sizes
    return (
        operands[:lower],
        operands[lower : lower + upper],
        operands[lower + upper + steps :],
    )


def _is_empty(loop) -> bool:
    lower_bounds, upper_bounds, _ = _bounds(loop)
    for lower, upper in zip(lower_bounds, upper_bounds):
        low, high = _constant_index(lower), _constant_index(upper)
        if low is not None and high is not None and high <= low:
            return True
    return False


@dataclasses.dataclass(frozen=True)
class DropEmptyLoopsPass(ModulePass):
    """Erases scf.for and scf.parallel loops whose iteration space is statically empty."""

    name = "tgc-nvptx-drop-empty-loops"

    def run(self, module: ir.Module) -> None:
        empty = [
            op for op in all_ops(module) if op.name in ("scf.for", "scf.parallel") and _is_empty(op)
        ]
        # Only the outermost: erasing a loop erases the loops inside it.
        for loop in [op for op in empty if not _inside_any(op, empty)]:
            for result, initial in zip(loop.results, _bounds(loop)[2]):
                result.replace_all_uses_with(initial)
            loop.erase()


def _inside_any(op, loops: list) -> bool:
    parent = op.parent
    while parent is not None and parent.name != "builtin.module":
        if parent in loops:
            return True
        parent = parent.parent
    return False
