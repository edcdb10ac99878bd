"""Graph -> tgc MLIR: one function per run signature, in the pipeline right after pruning.

Fed tensors become the function's arguments and fetched tensors its results; variables become
module-level ``tgc.variable`` declarations that reads and assigns name by symbol. Every op carries
``loc("scope/Name"("file.py":line:0))`` so diagnostics speak of the user's op and line. Result types
are re-derived from the registry here, so a placeholder of unknown rank takes the rank of its feed.

TensorFlow reads a variable when the op consuming it runs: an op that control dependencies order
after an assignment of ``v`` sees the assigned value even when its input is ``v``'s one shared read.
Such an input goes through a ``tgc.reread_variable`` emitted right before the op (after its
dependencies).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlir import ir
from mlir.dialects import func

from tgc.dialect.attrs import tensor_type
from tgc.dialect.builder import IRBuilder, Val, encode_attrs
from tgc.dialect.loop_functions import (
    LOOPS_MODULE,
    create_if,
    create_while,
    symbol_name,
    unique_function_name,
)
from tgc.dialect.ops.state import ASSIGNMENT_OPS
from tgc.dialect.registry import REGISTRY, ShapeError
from tgc.dialect.types import TensorSpec
from tgc.graph.graph import Operation


class EmitError(ValueError):
    pass


@dataclass
class Signature:
    """What a compiled function takes and gives, in order."""

    feeds: list  # [(tensor name, TensorSpec)]
    fetches: list  # [(tensor name, TensorSpec)]


def op_location(operation: Operation) -> ir.Location:
    filename, line = operation.location
    return ir.Location.name(operation.name, childLoc=ir.Location.file(filename, line, 0))


def emit_function(
    module: ir.Module, ops: list, feeds: list, fetches: list, name: str = "main"
) -> Signature:
    """Adds ``func.func @name`` computing ``fetches`` from ``feeds``.

    ``ops`` are the needed operations in a topological order; ``feeds`` pairs each fed Tensor with
    the TensorSpec its argument gets; ``fetches`` are Tensors.
    """
    values: dict = {}
    arg_types = [tensor_type(spec) for _, spec in feeds]
    with ir.InsertionPoint(module.body):
        function = func.FuncOp(name, ir.FunctionType.get(arg_types, []))
    block = function.add_entry_block()
    for (tensor, spec), arg in zip(feeds, block.arguments):
        values[tensor] = Val(arg, spec)
    ip = ir.InsertionPoint(block)
    assigned = _AssignedBefore(ops)
    for operation in ops:
        _emit_op(operation, values, ip, assigned)
    results = []
    for tensor in fetches:
        if tensor not in values:
            raise EmitError(f"fetch '{tensor.name}' was not computed")
        results.append(values[tensor])
    with ip, ir.Location.unknown():
        func.ReturnOp([v.value for v in results])
    function.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get(arg_types, [v.value.type for v in results])
    )
    function.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
    return Signature(
        feeds=[(t.name, spec) for t, spec in feeds],
        fetches=[(t.name, v.spec) for t, v in zip(fetches, results)],
    )


class _AssignedBefore:
    """The variables assigned by an op or by anything it waits for (data or control), among the
    function's ops; computed once per op."""

    def __init__(self, ops: list):
        self.members = set(ops)
        self.memo: dict = {}

    def by_dependencies_of(self, operation: Operation) -> frozenset:
        """Variables that ``operation``'s control dependencies have assigned when it runs."""
        if not operation.control_inputs:
            return frozenset()
        return frozenset().union(*(self.of(c) for c in operation.control_inputs))

    def of(self, root: Operation) -> frozenset:
        stack = [root]
        while stack:  # iterative post-order: graphs deeper than Python's recursion limit are fine
            op = stack[-1]
            if op in self.memo:
                stack.pop()
                continue
            preds = [p for p in _predecessors(op) if p in self.members and p not in self.memo]
            if preds:
                stack.extend(preds)
                continue
            stack.pop()
            own = {op.attrs["var"]} if op.opdef in ASSIGNMENT_OPS else set()
            self.memo[op] = frozenset(own).union(
                *(self.memo[p] for p in _predecessors(op) if p in self.members)
            )
        return self.memo[root]


def _predecessors(op: Operation) -> list:
    return [t.op for t in op.inputs] + list(op.control_inputs)


def _emit_op(
    operation: Operation, values: dict, ip: ir.InsertionPoint, assigned: _AssignedBefore
) -> None:
    if all(t in values for t in operation.outputs) and operation.outputs:
        return  # every output is fed
    if operation.opdef is None:
        raise EmitError(f"'{operation.name}' ({operation.type}) must be fed")
    if operation.opdef == "while":
        _emit_while(operation, values, ip, assigned)
        return
    if operation.opdef == "if":
        _emit_if(operation, values, ip)
        return
    opdef = REGISTRY[operation.opdef]
    # A gradient request names its x symbolically: the variable itself, never a later read of it.
    updated = (
        assigned.by_dependencies_of(operation) if operation.opdef != "gradient" else frozenset()
    )
    inputs = []
    for t in operation.inputs:
        if t not in values:
            raise EmitError(f"input '{t.name}' of '{operation.name}' was not computed before it")
        value = values[t]
        if (
            t.op.opdef == "read_variable"
            and t.op.attrs["var"] in updated
            and t.op in assigned.members
        ):
            value = _reread(t.op, value, operation, ip)
        inputs.append(value)
    builder = IRBuilder(ip, op_location(operation))
    try:
        out = builder.op(operation.opdef, *inputs, **operation.attrs)
    except ShapeError as exc:
        shapes = ", ".join(v.spec.describe() for v in inputs)
        filename, line = operation.location
        raise EmitError(
            f"{filename}:{line}: '{operation.name}' ({opdef.tf_type}): {exc} (inputs: {shapes})"
        ) from None
    created = _defining_op(out, ip)
    if operation.device:
        created.attributes["device"] = ir.StringAttr.get(operation.device)
    if operation.control_inputs:
        # Control edges travel as the names of the ops to wait for; within a device program order
        # already honours them, and tgc-partition turns the cross-device ones into send/recv pairs.
        created.attributes["control_deps"] = ir.ArrayAttr.get(
            [ir.StringAttr.get(c.name) for c in operation.control_inputs]
        )
    outs = [] if opdef.results == 0 else (out if isinstance(out, list) else [out])
    for tensor, val in zip(operation.outputs, outs):
        values.setdefault(tensor, val)


# ---- loops: tgc.while and its cond and body functions (tgc/dialect/ops/loops.py) -----------------


def _computed_inputs(operation: Operation, values: dict) -> list:
    """The emitted values of ``operation``'s inputs, each computed before it."""
    for t in operation.inputs:
        if t not in values:
            raise EmitError(f"input '{t.name}' of '{operation.name}' was not computed before it")
    return [values[t] for t in operation.inputs]


def _emit_while(
    operation: Operation, values: dict, ip: ir.InsertionPoint, assigned: _AssignedBefore
) -> None:
    """``tgc.while`` with its cond and body emitted as functions of the nested loops module."""
    loop = getattr(operation, "loop", None)  # tgc.frontend.control.LoopFunctions
    if loop is None:  # a While op read back from a GraphDef: its traced functions are not there
        raise EmitError(
            f"'{operation.name}' (While) has no traced cond and body: a tf.while_loop can only run "
            "in the graph that built it"
        )
    inputs = _computed_inputs(operation, values)
    num_vars = len(operation.outputs)
    loc = op_location(operation)
    for i, traced in enumerate(operation.outputs):  # a shape invariant's unknown dims
        inputs[i] = _relaxed(inputs[i], traced.spec, ir.InsertionPoint(ip.block), loc)
    specs = [v.spec for v in inputs]
    loops = _loops_module(ip)
    cond = _emit_loop_function(loops, f"{operation.name}/cond", loop.cond, loop.captures, specs)
    body = _emit_loop_function(
        loops, f"{operation.name}/body", loop.body, loop.captures, specs, is_body=True
    )
    try:
        outs = create_while(ip, op_location(operation), inputs, cond, body, num_vars)
    except ShapeError as exc:
        filename, line = operation.location
        raise EmitError(f"{filename}:{line}: '{operation.name}' (While): {exc}") from None
    created = outs[0].value.owner
    if operation.device:
        created.attributes["device"] = ir.StringAttr.get(operation.device)
    if operation.control_inputs:
        created.attributes["control_deps"] = ir.ArrayAttr.get(
            [ir.StringAttr.get(c.name) for c in operation.control_inputs]
        )
    for tensor, val in zip(operation.outputs, outs):
        values.setdefault(tensor, val)


def _loops_module(ip: ir.InsertionPoint):
    """The nested module that holds the loops' functions, made on first use: the graph passes walk
    only the top-level module's functions, so these stay whole until tgc-to-core inlines them."""
    from mlir.dialects import builtin

    module = ip.block.owner.operation.parent
    if symbol_name(module) == LOOPS_MODULE:  # a loop inside a loop's function
        return module
    body = module.regions[0].blocks[0]
    for op in body.operations:
        if op.operation.name == "builtin.module" and symbol_name(op.operation) == LOOPS_MODULE:
            return op.operation
    with ir.InsertionPoint(body), ir.Location.unknown():
        nested = builtin.ModuleOp()
    nested.operation.attributes["sym_name"] = ir.StringAttr.get(LOOPS_MODULE)
    return nested.operation


def _emit_loop_function(
    loops, base_name: str, function, captures: list, specs: list, is_body: bool = False
) -> str:
    """A private func.func of the loop variables then the captures, returning ``function``'s
    outputs (a body's in the loop variables' types); returns its name."""
    fn, entry, inner, results = _open_function(loops, base_name, function, captures, specs)
    if is_body:  # the next values keep the loop variables' types
        results = [_as_type(v, Val(entry.arguments[i]), inner) for i, v in enumerate(results)]
    return _close_function(fn, entry, inner, results)


def _open_function(loops, base_name: str, function, captures: list, specs: list) -> tuple:
    """A private func.func of ``function``'s args then the captures (of ``specs``) with
    ``function``'s ops emitted: (func, entry block, its insertion point, the outputs' Vals)."""
    block = loops.regions[0].blocks[0]
    name = unique_function_name(loops, base_name)
    arg_types = [tensor_type(spec) for spec in specs]
    with ir.InsertionPoint(block), ir.Location.unknown():
        fn = func.FuncOp(name, ir.FunctionType.get(arg_types, []))
    entry = fn.add_entry_block()
    values = {
        t: Val(arg, spec)
        for t, arg, spec in zip(list(function.args) + list(captures), entry.arguments, specs)
    }
    inner = ir.InsertionPoint(entry)
    assigned = _AssignedBefore(function.ops)
    for op in function.ops:
        _emit_op(op, values, inner, assigned)
    results = []
    for tensor in function.outputs:
        if tensor not in values:
            raise EmitError(f"'{tensor.name}' of {base_name} was not computed")
        results.append(values[tensor])
    _drop_device_requests(entry)
    return fn, entry, inner, results


def _close_function(fn, entry, inner, results: list) -> str:
    """Returns ``results`` from ``fn``, private; its name."""
    with inner, ir.Location.unknown():
        func.ReturnOp([v.value for v in results])
    fn.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get([a.type for a in entry.arguments], [v.value.type for v in results])
    )
    fn.attributes["sym_visibility"] = ir.StringAttr.get("private")
    return ir.StringAttr(fn.attributes["sym_name"]).value


# ---- conditionals: tgc.if and its branch functions (tgc/dialect/ops/conds.py) --------------------


def _emit_if(operation: Operation, values: dict, ip: ir.InsertionPoint) -> None:
    """``tgc.if`` with its branches emitted as functions of the nested loops module; each
    branch returns the joined result types (a dim the branches disagree on is unknown)."""
    branches = getattr(operation, "branches", None)  # tgc.frontend.control.CondFunctions
    if branches is None:  # an If op read back from a GraphDef: its traced functions are not there
        raise EmitError(
            f"'{operation.name}' (If) has no traced branches: a tf.cond can only run in the graph "
            "that built it"
        )
    inputs = _computed_inputs(operation, values)
    pred, operands = inputs[0], inputs[1:]
    specs = [v.spec for v in operands]
    loops = _loops_module(ip)
    opened = [
        _open_function(loops, f"{operation.name}/{part}", fn, branches.captures, specs)
        for part, fn in (("true", branches.then_fn), ("false", branches.else_fn))
    ]
    joined = _joined_specs(operation, opened[0][3], opened[1][3])
    names = []
    for fn, entry, inner, results in opened:
        results = [_relaxed(v, s, inner, ir.Location.unknown()) for v, s in zip(results, joined)]
        names.append(_close_function(fn, entry, inner, results))
    try:
        outs = create_if(ip, op_location(operation), pred, operands, *names, joined)
    except ShapeError as exc:
        filename, line = operation.location
        raise EmitError(f"{filename}:{line}: '{operation.name}' (If): {exc}") from None
    if outs:
        created = outs[0].value.owner
    else:
        created = ip.block.operations[len(ip.block.operations) - 1]
    if operation.device:
        created.attributes["device"] = ir.StringAttr.get(operation.device)
    if operation.control_inputs:
        created.attributes["control_deps"] = ir.ArrayAttr.get(
            [ir.StringAttr.get(c.name) for c in operation.control_inputs]
        )
    for tensor, val in zip(operation.outputs, outs):
        values.setdefault(tensor, val)


def _joined_specs(operation: Operation, then_results: list, else_results: list) -> list:
    """The result types of a conditional: the branches' dtypes (equal) and, per dim, their size
    where they agree (unknown where not)."""
    joined = []
    for i, (a, b) in enumerate(zip(then_results, else_results)):
        if a.spec.dtype != b.spec.dtype or len(a.shape) != len(b.shape):
            raise EmitError(
                f"'{operation.name}' (If): output {i} of the true branch is "
                f"{a.spec.describe()} but the false branch's is {b.spec.describe()}"
            )
        dims = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        joined.append(TensorSpec(dims, a.spec.dtype))
    return joined


def _relaxed(value: Val, traced, ip: ir.InsertionPoint, loc) -> Val:
    """``value`` with the dims unknown that the loop variable's traced type leaves unknown."""
    if traced.shape is None or all(t is not None for t in traced.shape):
        return value
    shape = [-1 if t is None else d for d, t in zip(value.shape, traced.shape)]
    if all((d is None) == (s == -1) for d, s in zip(value.shape, shape)):
        return value
    return IRBuilder(ip, loc).op("relax_shape", value, shape=shape)


def _as_type(value: Val, like: Val, ip: ir.InsertionPoint) -> Val:
    """``value`` in ``like``'s type: a body output whose dims were unknown where it was traced
    (the frontend checked that they are compatible)."""
    if value.value.type == like.value.type:
        return value
    if value.spec.dtype != like.spec.dtype or len(value.shape) != len(like.shape):
        raise EmitError(
            f"a loop variable of type {like.spec.describe()} would become "
            f"{value.spec.describe()} after one iteration"
        )
    builder = IRBuilder(ip, ir.Location.unknown())
    if all(w is None or w == d for w, d in zip(like.shape, value.shape)):  # a varying shape
        return builder.op("relax_shape", value, shape=[-1 if w is None else w for w in like.shape])
    return builder.op("reshape_like", value, like)


def _drop_device_requests(block) -> None:
    """A loop's ops run where the loop is placed: their own device scopes do not apply."""
    for op in block.operations:
        if "device" in op.operation.attributes:
            del op.operation.attributes["device"]


def _reread(read: Operation, value: Val, consumer: Operation, ip: ir.InsertionPoint) -> Val:
    """The variable's value where ``consumer`` runs, after its control dependencies."""
    out = IRBuilder(ip, op_location(read)).op("reread_variable", value, var=read.attrs["var"])
    created = out.value.owner
    if read.device:
        created.attributes["device"] = ir.StringAttr.get(read.device)
    created.attributes["control_deps"] = ir.ArrayAttr.get(
        [ir.StringAttr.get(c.name) for c in consumer.control_inputs]
    )
    return out


def _defining_op(out, ip: ir.InsertionPoint):
    """The op just created: the owner of its first result, or (no results) the last op of the
    block."""
    values = out if isinstance(out, list) else [out]
    if values:
        return values[0].value.owner
    block = ip.block
    return block.operations[len(block.operations) - 1]


def emit_variables(module: ir.Module, variables: list) -> None:
    """Declares each variable (name, TensorSpec, requested device) at the top of the module body."""
    opdef = REGISTRY["variable"]
    first = module.body.operations[0] if len(module.body.operations) else None
    for name, spec, device in variables:
        attrs = encode_attrs(
            opdef, {"sym_name": name, "shape": list(spec.shape), "dtype": spec.dtype}
        )
        if device:
            attrs["device"] = ir.StringAttr.get(device)
        ip = ir.InsertionPoint(first) if first is not None else ir.InsertionPoint(module.body)
        ir.Operation.create(
            "tgc.variable",
            results=[],
            operands=[],
            attributes=attrs,
            loc=ir.Location.name(name),
            ip=ip,
        )
