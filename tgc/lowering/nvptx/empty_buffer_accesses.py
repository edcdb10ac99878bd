"""tgc-nvptx-empty-buffer-accesses: a kernel's loads and stores of a buffer that holds no element
go, so that the kernel does not take the empty buffer as a parameter.

Every access to a buffer with a dim of size 0 is out of bounds, so one left in a kernel after
tgc-nvptx-drop-empty-linalg and tgc-nvptx-drop-empty-loops is one that never runs: a gather's
index check reads the bad index under ``scf.if`` (position < count), which cannot hold for no
indices. Outlined as it is, the kernel would take the empty buffer, which has no pointer to pass
(the launch plan refuses it). A load becomes a zero of its type (the value is never used), a
store goes, and so does a view inside the launch left without uses. Runs between
tgc-nvptx-sink-views and gpu-kernel-outlining; any other use of an empty buffer in a kernel is
left for the launch plan to refuse.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import arith

from tgc.dialect.ir_helpers import all_ops, holds_no_element
from tgc.lowering.nvptx.sink_views import VIEW_OPS
from tgc.passes.base import ModulePass


def _inside_a_launch(op) -> bool:
    parent = op.parent
    while parent is not None and parent.name != "builtin.module":
        if parent.name == "gpu.launch":
            return True
        parent = parent.parent
    return False


def _zero(type_: ir.Type):
    """A zero of ``type_`` as an attribute; None for a type without one (left alone)."""
    if isinstance(type_, ir.FloatType):
        return ir.FloatAttr.get(type_, 0.0)
    if isinstance(type_, (ir.IntegerType, ir.IndexType)):
        return ir.IntegerAttr.get(type_, 0)
    return None


@dataclasses.dataclass(frozen=True)
class EmptyBufferAccessesPass(ModulePass):
    """Replaces a kernel's loads of a buffer of no element by zeros, erases its stores, and the
    views in the kernel left unused."""

    name = "tgc-nvptx-empty-buffer-accesses"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name not in ("memref.load", "memref.store") or not _inside_a_launch(op):
                continue
            buffer = op.operands[0] if op.name == "memref.load" else op.operands[1]
            if holds_no_element(buffer):
                self._drop(op)
        self._erase_unused_views(module)

    def _drop(self, op) -> None:
        if op.name == "memref.load":
            loaded = op.results[0]
            zero = _zero(loaded.type)
            if zero is None:
                return
            with ir.InsertionPoint(op), op.location:
                loaded.replace_all_uses_with(arith.ConstantOp(loaded.type, zero).result)
        op.erase()

    def _erase_unused_views(self, module: ir.Module) -> None:
        """Views in kernels whose uses went (a view of a view: all_ops lists the later first)."""
        changed = True
        while changed:
            changed = False
            for op in all_ops(module):
                unused = all(not list(result.uses) for result in op.results)
                if op.name in VIEW_OPS and unused and _inside_a_launch(op):
                    op.erase()
                    changed = True
