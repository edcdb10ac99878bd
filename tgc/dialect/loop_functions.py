"""The functions of compiled loops: where ``tgc.while``'s cond and body live, and how they are made,
copied and inlined (tgc/dialect/ops/loops.py says why they are functions of a nested module).

Used by the emitter (tgc/graph/emit.py), the loop gradient (loop_gradient.py) and the lowering to
core (tgc/lowering/to_core/loops.py).
"""

from __future__ import annotations

from mlir import ir

from tgc.dialect.attrs import tensor_type
from tgc.dialect.builder import Val, encode_attrs
from tgc.dialect.registry import REGISTRY, VARIADIC_SLOTS, ShapeError
from tgc.dialect.result_types import encode_result_types

# The nested module of the loops' cond and body functions.
LOOPS_MODULE = "tgc.loops"


def segment_sizes(count: int, what: str = "tf.while_loop") -> ir.Attribute:
    """``count`` present slots of the op's VARIADIC_SLOTS optional operands (or results)."""
    if count > VARIADIC_SLOTS:
        things = "loop variables" if what == "tf.while_loop" else "operands or results"
        raise ShapeError(
            f"a {what} takes at most {VARIADIC_SLOTS} {things} and captured tensors together, "
            f"not {count}"
        )
    return ir.DenseI32ArrayAttr.get([1] * count + [0] * (VARIADIC_SLOTS - count))


def create_while(ip, loc, inputs: list, cond: str, body: str, num_vars: int) -> list:
    """A ``tgc.while`` of the loop variables' initial values then the captures (``Val``s); returns
    its results as ``Val``s."""
    opdef = REGISTRY["while"]
    attrs = {"cond": cond, "body": body, "num_vars": num_vars}
    specs = opdef.result_specs([v.spec for v in inputs], attrs)
    attributes = encode_attrs(opdef, attrs)
    attributes["operandSegmentSizes"] = segment_sizes(len(inputs))
    attributes["resultSegmentSizes"] = segment_sizes(len(specs))
    created = ir.Operation.create(
        opdef.mlir_name,
        results=[tensor_type(s) for s in specs],
        operands=[v.value for v in inputs],
        attributes=attributes,
        loc=loc,
        ip=ip,
    )
    return [Val(r, s) for r, s in zip(created.results, specs)]


def create_if(ip, loc, pred, inputs: list, then_branch: str, else_branch: str, specs: list):
    """A ``tgc.if`` on ``pred`` (a scalar bool ``Val``) whose branches take ``inputs`` and return
    ``specs``; returns its results as ``Val``s."""
    opdef = REGISTRY["if"]
    attrs = {
        "then_branch": then_branch,
        "else_branch": else_branch,
        "result_types": encode_result_types(specs),
    }
    operands = [pred, *inputs]
    specs = opdef.result_specs([v.spec for v in operands], attrs)
    attributes = encode_attrs(opdef, attrs)
    attributes["operandSegmentSizes"] = segment_sizes(len(operands), "tf.cond")
    attributes["resultSegmentSizes"] = segment_sizes(len(specs), "tf.cond")
    created = ir.Operation.create(
        opdef.mlir_name,
        results=[tensor_type(s) for s in specs],
        operands=[v.value for v in operands],
        attributes=attributes,
        loc=loc,
        ip=ip,
    )
    return [Val(r, s) for r, s in zip(created.results, specs)]


# ---- the loops module and its functions ----------------------------------------------------------


def symbol_name(operation) -> str | None:
    attrs = operation.attributes
    return ir.StringAttr(attrs["sym_name"]).value if "sym_name" in attrs else None


def loops_module_of(operation) -> ir.Operation:
    """The nested module holding the functions of the loops in ``operation``'s module (the module
    itself when ``operation`` is in a loop's function)."""
    op = operation.operation if hasattr(operation, "operation") else operation
    while op.name != "builtin.module":
        op = op.parent
    if symbol_name(op) == LOOPS_MODULE:
        return op
    for child in op.regions[0].blocks[0].operations:
        if (
            child.operation.name == "builtin.module"
            and symbol_name(child.operation) == LOOPS_MODULE
        ):
            return child.operation
    raise ValueError(f"the module of {operation.location} has no @{LOOPS_MODULE} module")


def find_loop_function(loops, name: str):
    for child in loops.regions[0].blocks[0].operations:
        if child.operation.name == "func.func" and symbol_name(child.operation) == name:
            return child
    raise ValueError(f"no loop function named '{name}' in @{LOOPS_MODULE}")


def unique_function_name(loops, base: str) -> str:
    taken = {symbol_name(op.operation) for op in loops.regions[0].blocks[0].operations}
    name, count = base, 0
    while name in taken:
        count += 1
        name = f"{base}_{count}"
    return name


def inline_function(function, block, arguments: list) -> list:
    """Moves ``function``'s ops to the end of ``block`` (no terminator yet) with its arguments
    replaced by ``arguments``; erases the function and returns the values it returned."""
    entry = function.regions[0].blocks[0]
    for arg, value in zip(entry.arguments, arguments):
        arg.replace_all_uses_with(value)
    ops = [op.operation for op in entry.operations]
    returned = list(ops[-1].operands)
    for operation in ops[:-1]:
        operation.detach_from_parent()
        block.append(operation)
    function.operation.erase()
    return returned


def copy_function_into(loops, name: str, block, arguments: list) -> list:
    """The ops of loop function ``name``, cloned (the function stays), appended to ``block`` on
    ``arguments``; returns the values it returns."""
    original = find_loop_function(loops, name)
    clone = original.operation.clone(ip=ir.InsertionPoint(loops.regions[0].blocks[0]))
    return inline_function(clone, block, arguments)
