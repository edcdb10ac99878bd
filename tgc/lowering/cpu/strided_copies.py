"""tgc-strided-copies: copies between non-contiguous memrefs become linalg.copy loops, after
bufferization.

MLIR's memref-to-LLVM lowering turns a ``memref.copy`` into one memcpy when both sides are
contiguous, and otherwise into a call of the runtime's ``memrefCopy``, which walks the view element
by element with a ``memcpy`` call per element. Bufferization emits such copies wherever a value
lands in a window of a larger buffer: ``tensor.pad`` copies its source into the interior of the
padded buffer, and the per-image convolution writes each image's result into its slice of the batch.
As ``linalg.copy`` they become plain loops whose innermost dimension is contiguous, which LLVM
vectorizes. Runs after convert-bufferization-to-memref and before convert-linalg-to-loops.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import linalg

from tgc.dialect.ir_helpers import all_ops, functions
from tgc.passes.base import ModulePass


def is_contiguous(memref_type: ir.MemRefType) -> bool:
    """True when the memref is one dense row-major block, as memref-to-LLVM needs for a memcpy: an
    identity layout, or static sizes and strides of row-major order (the offset may be dynamic)."""
    layout = memref_type.layout
    if isinstance(layout, ir.AffineMapAttr) and layout.value == ir.AffineMap.get_identity(
        memref_type.rank
    ):
        return True
    if not memref_type.has_static_shape:
        return False
    strides, _ = memref_type.get_strides_and_offset()
    expected = 1
    for size, stride in zip(reversed(memref_type.shape), reversed(strides)):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def _is_strided_copy(operation) -> bool:
    if operation.name != "memref.copy":
        return False
    source, target = (ir.MemRefType(v.type) for v in operation.operands)
    return not (is_contiguous(source) and is_contiguous(target))


@dataclasses.dataclass(frozen=True)
class StridedCopiesPass(ModulePass):
    """Rewrites memref.copy between non-contiguous views as linalg.copy (vectorizable loops, not
    memrefCopy)."""

    name = "tgc-strided-copies"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for operation in [op for op in all_ops(function) if _is_strided_copy(op)]:
                source, target = operation.operands
                with ir.InsertionPoint(operation), operation.location:
                    linalg.copy(source, outs=[target])
                operation.erase()
