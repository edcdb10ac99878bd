"""tgc-dce: removes tgc ops whose results nothing uses.

Upstream DCE leaves IRDL ops alone (they declare no effects), so this pass asks the registry
instead: an op that is not ``stateful`` and whose results are unused is dead. Stateful ops
(assignments, and reads and random draws, which the registry does not yet tell apart from writes)
always stay, so everything a fetch or an assignment needs survives. The functions of the module's
loops (the ``@tgc.loops`` module) are swept too: a loop's gradient copies the loop's body to rerun
it (tgc/dialect/loop_gradient.py), and what the copy computes that nothing there uses (the body's
results a backward step does not read) would otherwise run on every iteration.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import body_ops, functions, opdef_of
from tgc.dialect.loop_functions import LOOPS_MODULE, symbol_name
from tgc.passes.base import ModulePass


def _removable(operation) -> bool:
    opdef = opdef_of(operation)
    if opdef is None or opdef.stateful or opdef.module_level:
        return False
    return all(not any(True for _ in r.uses) for r in operation.results)


@dataclasses.dataclass(frozen=True)
class DcePass(ModulePass):
    """Removes pure tgc ops whose results are unused."""

    name = "tgc-dce"

    def run(self, module: ir.Module) -> None:
        for function in functions(module) + _loop_functions(module):
            # Reverse program order: erasing a user can make its operands' producers dead in the
            # same sweep.
            for operation in reversed(body_ops(function)):
                if _removable(operation):
                    operation.erase()


def _loop_functions(module: ir.Module) -> list:
    """The functions of the module's ``@tgc.loops`` module (none when it has no loops)."""
    for op in module.body.operations:
        if op.operation.name == "builtin.module" and symbol_name(op.operation) == LOOPS_MODULE:
            block = op.operation.regions[0].blocks[0]
            return [f for f in block.operations if f.operation.name == "func.func"]
    return []
