"""tgc-simplify: algebraic identities, each a small rewrite pattern run by MLIR's greedy driver.

x+0, x-0, x*1, x/1 -> x; x*0 -> 0 for integers only (for floats NaN*0 and inf*0 are not 0);
neg(neg x) -> x; transpose of transpose composes (and vanishes when the result is the identity);
reshape of reshape -> one reshape; identity and casts to the same type -> their input; a scalar
constant broadcast to a tensor -> a fill of that tensor's shape. A pattern applies only when the
replacement has exactly the op's result type, so broadcasting never changes shape by accident.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from mlir import ir, rewrite

from tgc.dialect.builder import IRBuilder, Val, decode_attrs
from tgc.dialect.ir_helpers import defining_op
from tgc.passes.base import ModulePass
from tgc.passes.fold import constant_value

_NO_MATCH = True  # the greedy driver reads a truthy return as "pattern did not apply"


def _splat(value: ir.Value):
    """The scalar of a constant whose elements are all equal, else None."""
    array = constant_value(value)
    if array is None or array.size == 0:
        return None
    flat = array.reshape(-1)
    return flat[0] if np.all(flat == flat[0]) else None


def _is(value: ir.Value, scalar) -> bool:
    s = _splat(value)
    return s is not None and s == scalar


def _defining(value: ir.Value, name: str):
    operation = defining_op(value)
    return operation if operation is not None and operation.name == name else None


def _replace(op, rewriter, value: ir.Value):
    if value.type != op.results[0].type:
        return _NO_MATCH
    rewriter.replace_op(op, [value])
    return None


def _identity_operand(neutral, positions):
    """x op neutral -> x, trying the operand positions given."""

    def pattern(op, rewriter):
        operands = list(op.operands)
        for keep, other in positions:
            if _is(operands[other], neutral) and operands[keep].type == op.results[0].type:
                return _replace(op, rewriter, operands[keep])
        return _NO_MATCH

    return pattern


def _multiply_by_zero(op, rewriter):
    x, y = op.operands
    result = op.results[0]
    if "i" not in str(ir.RankedTensorType(result.type).element_type):
        return _NO_MATCH
    for keep, other in ((x, y), (y, x)):
        if _is(other, 0) and keep.type == result.type:
            zeros = IRBuilder(rewriter.ip, op.location).zeros_like(Val(keep))
            rewriter.replace_op(op, [zeros.value])
            return None
    return _NO_MATCH


def _double_negation(op, rewriter):
    inner = _defining(op.operands[0], "tgc.negative")
    if inner is None:
        return _NO_MATCH
    return _replace(op, rewriter, inner.operands[0])


def _transpose_of_transpose(op, rewriter):
    inner = _defining(op.operands[0], "tgc.transpose")
    if inner is None:
        return _NO_MATCH
    p_inner, p_outer = decode_attrs(inner)["perm"], decode_attrs(op)["perm"]
    composed = [p_inner[p] for p in p_outer]
    if composed == list(range(len(composed))):
        return _replace(op, rewriter, inner.operands[0])
    new = IRBuilder(rewriter.ip, op.location).transpose(Val(inner.operands[0]), perm=composed)
    return _replace(op, rewriter, new.value)


def _reshape_of_reshape(op, rewriter):
    inner = _defining(op.operands[0], "tgc.reshape")
    if inner is None:
        return _NO_MATCH
    source = inner.operands[0]
    if source.type == op.results[0].type:
        return _replace(op, rewriter, source)
    new = IRBuilder(rewriter.ip, op.location).reshape(
        Val(source), shape=list(decode_attrs(op)["shape"])
    )
    return _replace(op, rewriter, new.value)


def _same_type_passthrough(op, rewriter):
    """identity, casts to the same dtype and reshapes to the same static type."""
    source = op.operands[0]
    if source.type != op.results[0].type:
        return _NO_MATCH
    if op.name == "tgc.reshape" and not ir.RankedTensorType(source.type).has_static_shape:
        return _NO_MATCH
    return _replace(op, rewriter, source)


def _broadcast_scalar_constant(op, rewriter):
    x, target = op.operands
    array = constant_value(x)
    if array is None or array.size != 1:
        return _NO_MATCH
    builder = IRBuilder(rewriter.ip, op.location)
    target_val = Val(target)
    filled = builder.fill_like(target_val, value=float(array.reshape(-1)[0]))
    if filled.value.type != op.results[0].type:  # target's dtype differs: fill_like keeps target's
        return _NO_MATCH
    return _replace(op, rewriter, filled.value)


PATTERNS = [
    ("tgc.add", _identity_operand(0, [(0, 1), (1, 0)])),
    ("tgc.subtract", _identity_operand(0, [(0, 1)])),
    ("tgc.multiply", _identity_operand(1, [(0, 1), (1, 0)])),
    ("tgc.multiply", _multiply_by_zero),
    ("tgc.divide", _identity_operand(1, [(0, 1)])),
    ("tgc.negative", _double_negation),
    ("tgc.transpose", _transpose_of_transpose),
    ("tgc.reshape", _reshape_of_reshape),
    ("tgc.reshape", _same_type_passthrough),
    ("tgc.identity", _same_type_passthrough),
    ("tgc.cast", _same_type_passthrough),
    ("tgc.broadcast_like", _broadcast_scalar_constant),
]


@dataclasses.dataclass(frozen=True)
class SimplifyPass(ModulePass):
    """Applies algebraic identities (x+0, x*1, neg(neg x), transpose of transpose, ...)."""

    name = "tgc-simplify"

    def run(self, module: ir.Module) -> None:
        patterns = rewrite.RewritePatternSet()
        for root, fn in PATTERNS:
            patterns.add(root, fn)
        rewrite.apply_patterns_and_fold_greedily(module.operation, patterns.freeze())
