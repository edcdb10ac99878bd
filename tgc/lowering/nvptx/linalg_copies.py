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

from tgc.dialect.ir_helpers import all_ops
from tgc.passes.base import ModulePass


def _whole_buffer(type_: ir.Type) -> bool:
    memref = ir.MemRefType(type_)
    layout = memref.layout
    return isinstance(layout, ir.AffineMapAttr) and layout.value == ir.AffineMap.get_identity(
        memref.rank
    )


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
            elif not (_whole_buffer(source.type) and _whole_buffer(target.type)):
                with ir.InsertionPoint(op), op.location:
                    linalg.copy(source, outs=[target])
                op.erase()
