"""Shared IR helpers: walking a module's functions and ops, and asking what a tgc op is.

Passes and lowerings identify tgc ops through the registry (``opdef_of``) and the traits its
OpDefs declare (``accesses_variable``, ``is_transfer``, ...), never by slicing or listing op names,
so a new op with a known trait is handled everywhere it matters without editing a pass.
"""

from __future__ import annotations

from functools import cache

from mlir import ir

from tgc.dialect.registry import OpDef, load_all_ops

_NAMESPACE = "tgc."


def operation_of(op) -> ir.Operation:
    """The ir.Operation of an op view (what walks and iterations hand out) or of an operation."""
    return getattr(op, "operation", op)


def defining_op(value: ir.Value) -> ir.Operation | None:
    """The op whose result ``value`` is; None for a block argument."""
    owner = value.owner
    return None if isinstance(owner, ir.Block) else operation_of(owner)


def is_within(operation, ancestor) -> bool:
    """Whether ``operation`` is ``ancestor`` or lies in its regions (at any depth)."""
    op, ancestor = operation_of(operation), operation_of(ancestor)
    while op is not None:
        if op == ancestor:
            return True
        op = op.parent
    return False


def has_identity_layout(memref_type: ir.Type) -> bool:
    """Whether a memref type has the identity layout (row-major, no offset)."""
    buffer = ir.MemRefType(memref_type)
    layout = buffer.layout
    return isinstance(layout, ir.AffineMapAttr) and layout.value == ir.AffineMap.get_identity(
        buffer.rank
    )


def holds_no_element(value: ir.Value) -> bool:
    """Whether ``value`` is a buffer with a static dim of 0."""
    return isinstance(value.type, ir.MemRefType) and 0 in ir.MemRefType(value.type).shape


def module_of(operation) -> ir.Operation:
    """The builtin.module that holds ``operation``."""
    op = operation_of(operation)
    while op.name != "builtin.module":
        op = op.parent
    return op


# --- functions and their ops ---------------------------------------------------------------------


def has_body(function) -> bool:
    return len(function.regions[0].blocks) > 0


def functions(module: ir.Module, declarations: bool = False) -> list:
    """The module's func.func ops that have a body. A declaration (an external function, no body)
    has nothing to transform; ``declarations=True`` includes them, for passes that retype
    signatures."""
    return [
        op
        for op in module.body.operations
        if op.operation.name == "func.func" and (declarations or has_body(op))
    ]


def find_function(module, name: str):
    """The func.func named ``name`` in the body of ``module`` (an ir.Module or a builtin.module op,
    as module_of gives), or None."""
    body = (
        module.body if isinstance(module, ir.Module) else operation_of(module).regions[0].blocks[0]
    )
    return next(
        (
            op
            for op in body.operations
            if op.operation.name == "func.func"
            and ir.StringAttr(op.attributes["sym_name"]).value == name
        ),
        None,
    )


def body_ops(function) -> list:
    """The ops of a function's entry block, in order (taken as a list, safe to mutate after);
    none for a declaration."""
    if not has_body(function):
        return []
    return [op.operation for op in function.regions[0].blocks[0].operations]


def all_ops(root) -> list:
    """Every op nested in ``root`` (a function, a module or any op), taken as a list before edits,
    in post-order (an op's nested ops before it); func.func ops and ``root`` itself are left out."""
    ops = []
    append, advance = ops.append, ir.WalkResult.ADVANCE  # the walk calls back once an op

    def collect(op):
        append(op)
        return advance

    operation_of(root).walk(collect)
    ops.pop()  # root itself, the post-order's last
    return [op for op in ops if op.name != "func.func"]


def map_result_dims(attr) -> list:
    """An indexing map's results (an AffineMapAttr) as dim positions: d2 -> 2, anything that is no
    plain dim (a symbol, a constant, an expression) -> -1."""
    out = []
    for result in ir.AffineMapAttr(attr).value.results:
        text = str(result)
        out.append(int(text[1:]) if text[:1] == "d" and text[1:].isdigit() else -1)
    return out


# --- what a tgc op is ----------------------------------------------------------------------------


def is_tgc_op(operation) -> bool:
    """Whether the op is in the tgc dialect (known to the registry or not: tgc-verify reports those
    it does not know)."""
    return operation_of(operation).name.startswith(_NAMESPACE)


@cache
def _registry() -> dict:
    return load_all_ops()


def opdef_of(operation) -> OpDef | None:
    """The registry's entry of a tgc op; None for an op of another dialect or an unknown tgc op."""
    name = operation_of(operation).name
    if not name.startswith(_NAMESPACE):
        return None
    return _registry().get(name[len(_NAMESPACE) :])


def has_trait(operation, trait: str) -> bool:
    """Whether the op's OpDef declares ``trait`` (one of tgc.dialect.registry.TRAITS)."""
    opdef = opdef_of(operation)
    return opdef is not None and trait in opdef.traits


def declares_variable(operation) -> bool:
    """A module-level variable declaration (``tgc.variable``)."""
    return has_trait(operation, "variable_declaration")


def reads_variable(operation) -> bool:
    """A read of the variable its ``var`` names (``read_variable``, ``reread_variable``)."""
    return has_trait(operation, "variable_read")


def assigns_variable(operation) -> bool:
    """A write of the variable named by its ``var`` attribute (the ``assign`` family)."""
    return has_trait(operation, "assigns")


def accesses_variable(operation) -> bool:
    """A declaration, read or write of a variable: the ops colocated with their variable."""
    opdef = opdef_of(operation)
    return opdef is not None and bool(
        opdef.traits & {"variable_declaration", "variable_read", "assigns"}
    )


def is_transfer(operation) -> bool:
    """A send or recv between devices."""
    return has_trait(operation, "transfer")


def is_send(operation) -> bool:
    """The sending half of a transfer: it takes the value and yields nothing."""
    return is_transfer(operation) and len(operation_of(operation).results) == 0


def transferred_value(operation) -> ir.Value:
    """The value a transfer moves: a send's operand, a recv's result."""
    op = operation_of(operation)
    if not is_transfer(op):
        raise ValueError(f"'{op.name}' is not a transfer between devices")
    return op.operands[0] if is_send(op) else op.results[0]
