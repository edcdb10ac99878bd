"""tgc-decompose: rewrites composite ops (softmax, losses, dropout, ...) into core tgc ops.

Each composite's OpDef carries its ``decompose`` rule; this pass applies them until none is left, so
lowerings only ever see core ops.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.builder import IRBuilder, OpInfo
from tgc.dialect.ir_helpers import body_ops, functions, opdef_of
from tgc.passes.base import ModulePass


def decompose_once(function) -> int:
    count = 0
    for op in body_ops(function):
        opdef = opdef_of(op)
        if opdef is None or opdef.decompose is None:
            continue
        builder = IRBuilder.before(op)
        outs = opdef.decompose(builder, OpInfo(op))
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for result, new in zip(op.results, outs):
            result.replace_all_uses_with(new.value)
        op.erase()
        count += 1
    return count


@dataclasses.dataclass(frozen=True)
class DecomposePass(ModulePass):
    """Rewrites composite tgc ops into core tgc ops using their registry decompositions."""

    name = "tgc-decompose"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            while decompose_once(function):
                pass
