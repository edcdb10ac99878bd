"""tgc-nvptx-sink-views: a strided view used by a kernel is taken inside the kernel.

Runs between convert-parallel-loops-to-gpu and gpu-kernel-outlining. Bufferization makes slices,
concatenations, splits and windows into ``memref.subview``s (and reshapes of them) in the host
function; a kernel argument with such a layout would pass only its base pointer, and the host's
launch plan would have to carry each view's offset and strides. Instead every view op with a
non-identity layout (or taken from one) that a gpu.launch uses is cloned into the launch body
(with the views it is taken from, up to a buffer of identity layout), so the outlined kernel
receives the whole buffer and computes the view's offsets itself. The host's copy is left for
canonicalize to erase once unused.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops, defining_op, has_identity_layout
from tgc.passes.base import ModulePass

VIEW_OPS = {
    "memref.subview",
    "memref.expand_shape",
    "memref.collapse_shape",
    "memref.cast",
    "memref.reinterpret_cast",
}


def _strided_view(value: ir.Value):
    """The view op defining ``value`` when its layout, or that of a view it is taken from, is not
    the identity, else None. (The first half of a buffer reshaped has the identity layout, but
    leaving it on the host would leave its strided source there.)"""
    op = defining_op(value)
    if op is None or op.name not in VIEW_OPS or not isinstance(value.type, ir.MemRefType):
        return None
    if not has_identity_layout(value.type):
        return op
    sources = [v for v in op.operands if isinstance(v.type, ir.MemRefType)]
    return op if any(_strided_view(v) is not None for v in sources) else None


def _host_view(value: ir.Value, launch):
    """The strided view op defining ``value`` in the host code around ``launch``, else None (views
    a kernel takes itself stay where they are)."""
    view = _strided_view(value)
    return view if view is not None and view.parent == launch.parent else None


@dataclasses.dataclass(frozen=True)
class SinkViewsPass(ModulePass):
    """Clones strided views used in a gpu.launch into its body."""

    name = "tgc-nvptx-sink-views"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name == "gpu.launch":
                _sink_into(op)


def _sink_into(launch) -> None:
    views = _views_used_in(launch)
    if not views:
        return
    body = launch.regions[0].blocks[0]
    inside_ops = all_ops(launch)
    # Cloned in the host's order, before the body's first op: each view's sources come first.
    host_order = {
        op.operation: position
        for position, op in enumerate(launch.parent.regions[0].blocks[0].operations)
    }
    clones = {}
    with ir.InsertionPoint(body.operations[0]):
        for view in sorted(views, key=lambda op: host_order[op]):
            clone = view.clone()
            for index, operand in enumerate(view.operands):
                source = _host_view(operand, launch)
                if source is not None:
                    clone.operands[index] = clones[source].results[0]
            clones[view] = clone
    for op in inside_ops:
        for index, operand in enumerate(op.operands):
            view = _host_view(operand, launch)
            if view is not None:
                op.operands[index] = clones[view].results[0]


def _views_used_in(launch) -> list:
    """The strided view ops whose results the launch body uses, with the strided views they are
    taken from."""
    found = []

    def add(value: ir.Value) -> None:
        view = _host_view(value, launch)
        if view is not None and view not in found:
            found.append(view)
            for operand in view.operands:
                add(operand)

    for op in all_ops(launch):
        for operand in op.operands:
            add(operand)
    return found
