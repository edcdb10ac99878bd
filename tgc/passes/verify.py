"""tgc-verify: checks what IRDL cannot, from the registry's rules: dtypes, broadcasting, result
types.

IRDL checks op names, operand counts and attribute kinds. This pass re-runs each op's result rule on
its operand types and compares with the result types written in the IR. It also checks what the
variables need: a ``tgc.variable`` is declared in the module body; an op that names one (``var``)
names a declared variable, and a read states its dtype and shape. Later passes rely on both.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.attrs import spec_of_type
from tgc.dialect.builder import decode_attrs
from tgc.dialect.ir_helpers import all_ops, declares_variable, is_tgc_op, opdef_of
from tgc.dialect.registry import ShapeError
from tgc.dialect.shapes import spec
from tgc.passes.base import ModulePass, PassFailure, format_location


def _compatible(expected, actual) -> bool:
    if expected.dtype != actual.dtype or len(expected.shape) != len(actual.shape):
        return False
    return all(e is None or a is None or e == a for e, a in zip(expected.shape, actual.shape))


def check_operation(operation) -> str | None:
    """An error message for one tgc op, or None when it is well formed."""
    opdef = opdef_of(operation)
    if opdef is None:
        return f"unknown op '{operation.name}'"
    try:
        specs = [spec_of_type(v.type) for v in operation.operands]
    except (ValueError, TypeError) as exc:
        return f"operands must be ranked tensors of a supported dtype: {exc}"
    missing = [k for k in opdef.attrs if k not in operation.attributes]
    if missing:
        return f"missing attribute '{missing[0]}'"
    misplaced = check_placement(operation, opdef)
    if misplaced:
        return misplaced
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


def check_placement(operation, opdef) -> str | None:
    """Module-level ops (variable declarations) in the module body, and only those."""
    parent = operation.parent
    at_module_level = parent is not None and parent.name == "builtin.module"
    if opdef.module_level and not at_module_level:
        return "must be declared in the module body, not inside a function"
    return None


def declared_variables(operations: list) -> tuple[dict, list]:
    """({name: TensorSpec} of the module-level tgc.variable ops, [(operation, message)] of
    duplicates)."""
    declared, problems = {}, []
    for operation in operations:
        if not declares_variable(operation) or check_placement(operation, opdef_of(operation)):
            continue
        try:
            attrs = decode_attrs(operation, opdef_of(operation))
        except (TypeError, ValueError, KeyError):
            continue  # check_operation reports the attributes themselves
        name = attrs["sym_name"]
        if name in declared:
            problems.append((operation, f"declares variable '{name}' a second time"))
            continue
        declared[name] = spec(attrs["shape"], attrs["dtype"])
    return declared, problems


_UPDATES = {  # how an op that changes a variable by its operand says what it could not do
    "assign_add": "cannot add {value} to variable '{name}' of type {declared}",
    "assign_sub": "cannot subtract {value} from variable '{name}' of type {declared}",
    "reread_variable": "rereads variable '{name}' as {value} but it is declared {declared}",
}


def check_variable_use(operation, variables: dict) -> str | None:
    """An op naming a variable (``var``) names a declared one and agrees with its dtype and shape.
    (What ``tgc.assign`` stores is checked by tgc-lower-variables, with the same words.)"""
    if "var" not in operation.attributes:
        return None
    try:
        name = ir.FlatSymbolRefAttr(operation.attributes["var"]).value
    except ValueError:
        return None  # IRDL reports an attribute of the wrong kind
    if name not in variables:
        return f"refers to undeclared variable '{name}'"
    declared = variables[name]
    opdef = opdef_of(operation)
    kind = opdef.name if opdef is not None else None
    if kind == "read_variable":
        attrs = decode_attrs(operation, opdef)
        read = spec(attrs["shape"], attrs["dtype"])
        if not _compatible(declared, read):
            return (
                f"reads variable '{name}' as '{read.mlir_text()}' "
                f"but it is declared '{declared.mlir_text()}'"
            )
    elif kind in _UPDATES and len(operation.operands) == 1:
        value = spec_of_type(operation.operands[0].type)
        if not _compatible(declared, value):
            return _UPDATES[kind].format(
                value=value.mlir_text(), name=name, declared=declared.mlir_text()
            )
    return None


@dataclasses.dataclass(frozen=True)
class VerifyPass(ModulePass):
    """Checks every tgc op against its registry rule (types, shapes, attributes)."""

    name = "tgc-verify"

    def run(self, module: ir.Module) -> None:
        # Checked after the walk: an exception inside MLIR's walk callback would come back as a
        # RuntimeError carrying the whole Python traceback in its message.
        operations = [op for op in all_ops(module) if is_tgc_op(op)]
        variables, duplicates = declared_variables(operations)
        problems = [
            (format_location(op.location), f"'{op.name}' {message}") for op, message in duplicates
        ]
        for operation in operations:
            message = check_operation(operation) or check_variable_use(operation, variables)
            if message:
                problems.append(
                    (format_location(operation.location), f"'{operation.name}' {message}")
                )
        if problems:
            raise PassFailure(self.name, problems)
