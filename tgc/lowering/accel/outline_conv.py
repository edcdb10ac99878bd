"""tgc-accel-outline-conv: each tagged convolution generic on tensors moves into a private function
of its own, for the span of linalg-fuse-elementwise-ops; the ``inline`` pass puts it back after.

Core writes conv2d_backprop_input and conv2d_backprop_filter as linalg.generic ops tagged
``tgc.conv`` (tgc/lowering/to_core/conv.py), which tgc-accel-tile-conv turns into matmuls of
windows. Elementwise fusion would fold a one-use elementwise producer of an operand into such a
generic (the gradient of ``reduce_sum(y * y)``, ``2 * y``, into the filter gradient; the gradient
itself into a 1x1 kernel's input gradient, whose full-size spread canonicalize folds away): the
fused generic has lost its tag and its shape, and reaches tgc-accel-tile-generic, which cannot run
a convolution. Behind a ``func.call`` the generic is out of the fusion's reach (as
tgc/lowering/cpu/outline_gemm.py keeps the CPU's matmuls).
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import func

from tgc.dialect.ir_helpers import all_ops
from tgc.passes.base import ModulePass

PREFIX = "tgc_accel_conv_"


def _tagged_generics(module: ir.Module) -> list:
    return [
        op
        for op in all_ops(module)
        if op.name == "linalg.generic"
        and "tgc.conv" in op.attributes
        and all(isinstance(r.type, ir.RankedTensorType) for r in op.results)
    ]


def _outline(module: ir.Module, op, name: str) -> None:
    """func.func private @name(operands...) -> results holding a clone of ``op``; ``op`` becomes
    a call of it."""
    operands = list(op.operands)
    result_types = [r.type for r in op.results]
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        callee = func.FuncOp(
            name,
            ir.FunctionType.get([v.type for v in operands], result_types),
            visibility="private",
        )
        arguments = callee.add_entry_block().arguments
        with ir.InsertionPoint(callee.entry_block):
            clone = op.clone()
            for index, argument in enumerate(arguments):
                clone.operands[index] = argument
            func.ReturnOp(list(clone.results))
    # An unknown location on the call: the inliner then leaves the inlined op's own (the user's
    # file and line, for tgc-accel-tile-conv's errors) instead of a call-site location.
    with ir.InsertionPoint(op), ir.Location.unknown():
        call = func.CallOp(result_types, ir.FlatSymbolRefAttr.get(name), operands)
    for old, new in zip(op.results, call.results):
        old.replace_all_uses_with(new)
    op.erase()


@dataclasses.dataclass(frozen=True)
class OutlineConvPass(ModulePass):
    """Tagged conv generics on tensors -> calls of private functions (undone by ``inline``)."""

    name = "tgc-accel-outline-conv"

    def run(self, module: ir.Module) -> None:
        taken = {
            ir.StringAttr(op.attributes["sym_name"]).value
            for op in module.body.operations
            if "sym_name" in op.attributes
        }
        number = 0
        for op in _tagged_generics(module):
            while f"{PREFIX}{number}" in taken:
                number += 1
            taken.add(f"{PREFIX}{number}")
            _outline(module, op, f"{PREFIX}{number}")
