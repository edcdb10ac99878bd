"""tgc-return-in-place: a public function returns a variable it updated in place as that argument
itself.

Runs right after buffer-deallocation-pipeline, before convert-bufferization-to-memref. The
deallocation pipeline gives every result of a public function to the caller, so a result that is an
argument's buffer comes back as ``bufferization.clone`` of the argument: a fresh allocation and a
full copy. For the arguments tgc-read-only-arguments left writable (listed in
``tgc.in_place_arguments``: variables the session owns and the function assigns) that copy is pure
waste, 12.8 MB a step for the convnet's fc1 weight after tgc-gemm-update accumulated into it. The
clone is replaced by the argument, and the runtime, finding its own input's buffer among the
results, hands back the array it passed.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.lowering.read_only_arguments import IN_PLACE_ATTRIBUTE
from tgc.dialect.ir_helpers import body_ops, functions
from tgc.passes.base import ModulePass


def _returned_clones(function, arguments: set) -> list:
    """bufferization.clone ops of those arguments whose only use is the function's return."""
    block = function.regions[0].blocks[0]
    wanted = {block.arguments[i] for i in arguments}
    found = []
    for op in body_ops(function):
        if op.name != "bufferization.clone" or op.operands[0] not in wanted:
            continue
        users = [use.owner for use in op.results[0].uses]
        if users and all(getattr(u, "operation", u).name == "func.return" for u in users):
            found.append(op)
    return found


@dataclasses.dataclass(frozen=True)
class ReturnInPlacePass(ModulePass):
    """Returns variables updated in place as their arguments, not as clones (no copy per run)."""

    name = "tgc-return-in-place"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            if IN_PLACE_ATTRIBUTE not in function.attributes:
                continue
            arguments = self._in_place_arguments(function)
            for clone in _returned_clones(function, arguments):
                clone.results[0].replace_all_uses_with(clone.operands[0])
                clone.erase()

    def _in_place_arguments(self, function) -> set:
        """The argument indices the attribute lists; a user's module may carry any attribute
        there."""
        attr = function.attributes[IN_PLACE_ATTRIBUTE]
        if not isinstance(attr, ir.DenseI64ArrayAttr):
            self.fail(
                function,
                f"{IN_PLACE_ATTRIBUTE} must be an array<i64: ...> of argument indices, got {attr}",
            )
        count = len(function.regions[0].blocks[0].arguments)
        for index in attr:
            if not 0 <= index < count:
                name = ir.StringAttr(function.attributes["sym_name"]).value
                self.fail(
                    function,
                    f"{IN_PLACE_ATTRIBUTE} names argument {index}, but @{name} has "
                    f"{_count_arguments(count)}",
                )
        return set(attr)


def _count_arguments(count: int) -> str:
    if count == 0:
        return "no arguments"
    return "1 argument (index 0)" if count == 1 else f"{count} arguments (0 to {count - 1})"
