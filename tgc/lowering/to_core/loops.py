"""Core lowering of ``tgc.while``: an ``scf.while`` with the loop's cond and body inlined.

The cond and body functions (in the nested ``@tgc.loops`` module, tgc/dialect/ops/loops.py) are
decomposed and lowered to core first, a nested loop's included; then their ops move into the
``scf.while``'s two regions, their arguments replaced by the region's loop-carried values and the
op's captured operands (scf.while's regions see the enclosing function's values). The functions
are erased, and the nested module with its last one.

    %r = scf.while (%x = %init) : (tensor<f32>) -> tensor<f32> {
      ... cond's ops ...                 // %p : tensor<i1>
      %c = tensor.extract %p[] : tensor<i1>
      scf.condition(%c) %x : tensor<f32>
    } do {
    ^bb0(%x: tensor<f32>):
      ... body's ops ...
      %y = bufferization.materialize_in_destination %next in %x
      scf.yield %y : tensor<f32>
    }
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import bufferization, scf, tensor

from tgc.dialect.ir_helpers import find_function, module_of
from tgc.dialect.ops.loops import LOOPS_MODULE
from tgc.lowering.to_core import lower_function, lowers
from tgc.passes.decompose import decompose_once


@lowers("while")
def _while(op):
    num_vars = op.attrs["num_vars"]
    inits, captures = op.operands[:num_vars], op.operands[num_vars:]
    loops = _loops_module(op.operation)
    cond = _lowered(loops, op.attrs["cond"], op.operation)
    body = _lowered(loops, op.attrs["body"], op.operation)
    types = [v.type for v in inits]
    loop = scf.WhileOp(types, inits)
    before = loop.before.blocks.append(*types)
    (predicate,) = _inline(cond, before, list(before.arguments) + captures)
    with ir.InsertionPoint(before):
        flag = tensor.ExtractOp(predicate, [])
        scf.ConditionOp(flag, list(before.arguments))
    after = loop.after.blocks.append(*types)
    nexts = _inline(body, after, list(after.arguments) + captures)
    with ir.InsertionPoint(after):
        scf.YieldOp([_into(value, arg) for value, arg in zip(nexts, after.arguments)])
    _erase_if_empty(loops)
    return list(loop.results)


def _into(value: ir.Value, carried: ir.Value) -> ir.Value:
    """``value`` written into the loop-carried tensor's storage: one-shot bufferization requires
    each yielded tensor to be equivalent to its iteration argument (it copies first where the old
    value is still read)."""
    if value == carried:
        return value
    return bufferization.MaterializeInDestinationOp(value.type, value, carried).result


def _loops_module(operation) -> ir.Operation:
    module = module_of(operation)
    if _name(module) == LOOPS_MODULE:  # a loop inside a loop's function
        return module
    for op in module.regions[0].blocks[0].operations:
        if op.operation.name == "builtin.module" and _name(op.operation) == LOOPS_MODULE:
            return op.operation
    raise ValueError(f"no module @{LOOPS_MODULE} holds the functions of the loop at {operation}")


def _name(operation) -> str | None:
    attrs = operation.attributes
    return ir.StringAttr(attrs["sym_name"]).value if "sym_name" in attrs else None


def _lowered(loops, name: str, loop_op):
    """The function ``name``, its composite ops decomposed and every tgc op lowered to core."""
    function = find_function(loops, name)
    if function is None:
        raise ValueError(f"the loop at {loop_op.location} names '{name}', not a loop function")
    while decompose_once(function):
        pass
    lower_function(function)
    return function


def _inline(function, block, arguments: list) -> list:
    """Moves ``function``'s ops to the end of ``block`` with its arguments replaced by
    ``arguments``; erases the function and returns the values it returned."""
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


def _erase_if_empty(loops) -> None:
    if not len(loops.regions[0].blocks[0].operations):
        loops.erase()
