"""tgc-cse: merges identical pure tgc ops (same op, operands, attributes and result types).

Upstream ``cse`` leaves IRDL ops alone (they declare no traits); the registry says which ops are
pure. Stateful ops (variables, random draws) are never merged: two draws must stay two draws.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import body_ops, functions, opdef_of
from tgc.passes.base import ModulePass


def _key(operation):
    opdef = opdef_of(operation)
    if opdef is None or opdef.stateful or opdef.module_level or not len(operation.results):
        return None
    attrs = tuple(
        sorted((a, operation.attributes[a]) for a in opdef.attrs if a in operation.attributes)
    )
    return (
        operation.name,
        tuple(operation.operands),
        attrs,  # attributes are uniqued by the context: equality and hashing are cheap
        tuple(str(r.type) for r in operation.results),
    )


@dataclasses.dataclass(frozen=True)
class CsePass(ModulePass):
    """Merges duplicate pure tgc ops into the first of them."""

    name = "tgc-cse"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            seen: dict = {}
            for operation in body_ops(function):
                key = _key(operation)
                if key is None:
                    continue
                first = seen.get(key)
                if first is None:
                    seen[key] = operation
                    continue
                for old, new in zip(operation.results, first.results):
                    old.replace_all_uses_with(new)
                operation.erase()
