"""tgc-nvptx-linalg-copies: a copy into or out of part of a buffer becomes a linalg.copy (a kernel).

Bufferization copies wherever a value must land in another buffer: a fetch that is a feed or a
reshape of one, a constant fetched as it is, the pieces of a concatenation written into their
slices of the result. A copy of one whole buffer to another stays a memref.copy: the launch plan
makes it a device-to-device copy. A copy from or to a strided view (a slice: a memref.subview) is
rewritten as linalg.copy, which becomes parallel loops like any other linalg op and then a kernel
that takes the view inside (tgc-nvptx-sink-views). A copy of a buffer onto itself (a result already
in its out-param) is erased.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import linalg

from tgc.dialect.ir_helpers import all_ops, defining_op, has_identity_layout
from tgc.passes.base import ModulePass


# Ops that view a buffer without copying it; a subview (or reinterpret_cast) selects part of it.
_RESHAPES = {"memref.expand_shape", "memref.collapse_shape", "memref.cast"}
_PARTIAL_VIEWS = {"memref.subview", "memref.reinterpret_cast"}


def _views_part_of_a_buffer(value: ir.Value) -> bool:
    """Whether ``value`` is a reshape of a subview: the reshape can have an identity layout (a
    0-d collapse of the first element, as tf.shape(x)[0] makes) though it is a slice."""
    op = defining_op(value)
    while op is not None and op.name in _RESHAPES:
        op = defining_op(op.operands[0])
    return op is not None and op.name in _PARTIAL_VIEWS


def _whole_buffer(value: ir.Value) -> bool:
    return has_identity_layout(value.type) and not _views_part_of_a_buffer(value)


@dataclasses.dataclass(frozen=True)
class LinalgCopiesPass(ModulePass):
    """Rewrites memref.copy of strided views as linalg.copy; erases copies onto themselves."""

    name = "tgc-nvptx-linalg-copies"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name != "memref.copy":
                continue
            source, target = op.operands
            if source == target:
                op.erase()
            elif not (_whole_buffer(source) and _whole_buffer(target)):
                with ir.InsertionPoint(op), op.location:
                    linalg.copy(source, outs=[target])
                op.erase()
