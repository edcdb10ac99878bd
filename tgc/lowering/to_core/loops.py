"""Core lowering of ``tgc.while``: an ``scf.while`` with the loop's cond and body inlined.

Copies of the cond and body functions (in the nested ``@tgc.loops`` module,
tgc/dialect/ops/loops.py) are decomposed and lowered to core first, a nested loop's included; then
their ops move into the ``scf.while``'s two regions, their arguments replaced by the region's
loop-carried values and the op's captured operands (scf.while's regions see the enclosing
function's values). A function no other loop uses is erased, and the nested module with its last
one.

    %r = scf.while (%x = %init) : (tensor<f32>) -> tensor<f32> {
      ... cond's ops ...                 // %p : tensor<i1>
      %c = tensor.extract %p[] : tensor<i1>
      scf.condition(%c) %x : tensor<f32>
    } do {
    ^bb0(%x: tensor<f32>):
      ... body's ops ...
      scf.yield %next : tensor<f32>
    }

A yielded tensor may be a new one (the CPU target bufferizes with allow-return-allocs-from-loops).
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import scf, tensor

from tgc.dialect.loop_functions import (
    find_loop_function,
    inline_function,
    loops_module_of,
    symbol_name,
    unique_function_name,
)
from tgc.lowering.to_core import lower_function, lowers
from tgc.lowering.to_core.common import as_type
from tgc.passes.decompose import decompose_once


@lowers("while")
def _while(op):
    num_vars = op.attrs["num_vars"]
    inits, captures = op.operands[:num_vars], op.operands[num_vars:]
    loops = loops_module_of(op.operation)
    cond = lowered_copy(loops, op.attrs["cond"])
    body = lowered_copy(loops, op.attrs["body"])
    types = [v.type for v in inits]
    loop = scf.WhileOp(types, inits)
    before = loop.before.blocks.append(*types)
    (predicate,) = inline_function(cond, before, list(before.arguments) + captures)
    with ir.InsertionPoint(before):
        flag = tensor.ExtractOp(predicate, [])
        scf.ConditionOp(flag, list(before.arguments))
    after = loop.after.blocks.append(*types)
    nexts = inline_function(body, after, list(after.arguments) + captures)
    with ir.InsertionPoint(after):
        scf.YieldOp([as_type(op.operation, v, t) for v, t in zip(nexts, types)])
    erase_unused_functions(loops, op.operation)
    return list(loop.results)


@lowers("relax_shape")
def _relax_shape(op):
    (x,) = op.operands
    return x if x.type == op.result_type else tensor.cast(op.result_type, x)


def lowered_copy(loops, name: str):
    """A copy of loop function ``name`` (other loops may use it too: a gradient's loops run the
    body again), its composite ops decomposed and every tgc op lowered to core."""
    original = find_loop_function(loops, name)
    # Lowered in the outermost module: rules that add module-level symbols (the run-time error
    # messages, tgc/lowering/runtime_errors.py) add them there, where the inlined code needs them.
    top = _outermost(loops)
    function = original.operation.clone(ip=ir.InsertionPoint(top.regions[0].blocks[0]))
    function.attributes["sym_name"] = ir.StringAttr.get(unique_function_name(top, name))
    function.attributes[_BEING_LOWERED] = ir.UnitAttr.get()
    while decompose_once(function):
        pass
    lower_function(function)
    return function


_BEING_LOWERED = "tgc.being_lowered"  # a copy this lowering inlines: no loop names it


def erase_unused_functions(loops, lowered) -> None:
    """Erases the loop functions that no loop but ``lowered`` uses (a function's nested loops use
    others: erasing it can leave those unused), and the loops module once it is empty."""
    top = _outermost(loops)  # loops anywhere in it may use them
    while True:
        used = _used_functions(top, lowered)
        dead = [
            op.operation
            for op in loops.regions[0].blocks[0].operations
            if _BEING_LOWERED not in op.operation.attributes
            and symbol_name(op.operation) not in used
        ]
        if not dead:
            break
        for function in dead:
            function.erase()
    if not len(loops.regions[0].blocks[0].operations):
        loops.erase()


def _outermost(operation):
    while operation.parent is not None:
        operation = operation.parent
    return operation


# The ops that name functions of the loops module, and the attributes that name them.
_FUNCTION_ATTRS = {"tgc.while": ("cond", "body"), "tgc.if": ("then_branch", "else_branch")}


def _used_functions(top, lowered) -> set:
    used = set()

    def collect(op):
        operation = op.operation if hasattr(op, "operation") else op
        if operation != lowered and operation.name in _FUNCTION_ATTRS:
            used.update(
                ir.StringAttr(operation.attributes[k]).value
                for k in _FUNCTION_ATTRS[operation.name]
            )
        return ir.WalkResult.ADVANCE

    top.walk(collect)
    return used
