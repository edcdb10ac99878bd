"""tgc-verify: checks what IRDL cannot, from the registry's rules: dtypes, broadcasting, result types.

IRDL checks op names, operand counts and attribute kinds. This pass re-runs each op's result rule on
its operand types and compares with the result types written in the IR.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.attrs import spec_of_type
from tgc.dialect.builder import decode_attrs
from tgc.dialect.registry import REGISTRY, ShapeError
from tgc.passes.base import ModulePass, PassFailure, format_location


def _compatible(expected, actual) -> bool:
    if expected.dtype != actual.dtype or len(expected.shape) != len(actual.shape):
        return False
    return all(e is None or a is None or e == a for e, a in zip(expected.shape, actual.shape))


def check_operation(operation) -> str | None:
    """An error message for one tgc op, or None when it is well formed."""
    opdef = REGISTRY.get(operation.name[4:])
    if opdef is None:
        return f"unknown op '{operation.name}'"
    try:
        specs = [spec_of_type(v.type) for v in operation.operands]
    except (ValueError, TypeError) as exc:
        return f"operands must be ranked tensors of a supported dtype: {exc}"
    missing = [k for k in opdef.attrs if k not in operation.attributes]
    if missing:
        return f"missing attribute '{missing[0]}'"
    try:
        attrs = decode_attrs(operation, opdef)
        expected = opdef.result_specs(specs, attrs)
    except (ShapeError, TypeError, ValueError) as exc:
        return str(exc)
    try:
        actual = [spec_of_type(r.type) for r in operation.results]
    except (ValueError, TypeError) as exc:
        return f"results must be ranked tensors of a supported dtype: {exc}"
    if opdef.results != "variadic" and len(expected) != len(actual):
        return f"expected {len(expected)} results but got {len(actual)}"
    for i, (e, a) in enumerate(zip(expected, actual)):
        if not _compatible(e, a):
            return f"result #{i} expected type '{e.mlir_text()}' but got '{a.mlir_text()}'"
    return None


@dataclasses.dataclass(frozen=True)
class VerifyPass(ModulePass):
    """Checks every tgc op against its registry rule (types, shapes, attributes)."""

    name = "tgc-verify"

    def run(self, module: ir.Module) -> None:
        operations = []

        def collect(op):
            # Checked after the walk: an exception inside MLIR's walk callback would come back as a
            # RuntimeError carrying the whole Python traceback in its message.
            operation = op.operation if hasattr(op, "operation") else op
            if operation.name.startswith("tgc."):
                operations.append(operation)
            return ir.WalkResult.ADVANCE

        module.operation.walk(collect)
        problems = []
        for operation in operations:
            message = check_operation(operation)
            if message:
                problems.append((format_location(operation.location), f"'{operation.name}' {message}"))
        if problems:
            raise PassFailure(self.name, problems)
