"""Core lowering of ``tgc.if``: an ``scf.if`` with the two branch functions inlined.

As for ``tgc.while`` (tgc/lowering/to_core/loops.py, whose helpers this uses), copies of the branch
functions of the nested ``@tgc.loops`` module are decomposed and lowered to core first, then their
ops move into the ``scf.if``'s regions, their arguments replaced by the op's operands after the
predicate. Only the taken region runs.

    %p = tensor.extract %pred[] : tensor<i1>
    %r = scf.if %p -> (tensor<3xf32>) {
      ... then_branch's ops ...
      scf.yield %a : tensor<3xf32>
    } else {
      ... else_branch's ops ...
      scf.yield %b : tensor<3xf32>
    }
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import scf, tensor

from tgc.dialect.loop_functions import inline_function, loops_module_of
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import as_type
from tgc.lowering.to_core.loops import erase_unused_functions, lowered_copy


@lowers("if")
def _if(op):
    pred, inputs = op.operands[0], list(op.operands[1:])
    loops = loops_module_of(op.operation)
    then_fn = lowered_copy(loops, op.attrs["then_branch"])
    else_fn = lowered_copy(loops, op.attrs["else_branch"])
    flag = tensor.ExtractOp(pred, [])
    result_types = [r.type for r in op.operation.results]
    branch = scf.IfOp(flag, result_types, has_else=True)
    for function, block in ((then_fn, branch.then_block), (else_fn, branch.else_block)):
        returned = inline_function(function, block, inputs)
        with ir.InsertionPoint(block):
            scf.YieldOp([as_type(op.operation, v, t) for v, t in zip(returned, result_types)])
    erase_unused_functions(loops, op.operation)
    return list(branch.results)
