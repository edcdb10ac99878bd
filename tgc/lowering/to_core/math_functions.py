"""Core lowering of the extra float math ops: one math-dialect op per element."""

from __future__ import annotations

from mlir.dialects import arith, math

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import elementwise

_MATH = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "atan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "log1p": math.log1p,
    "expm1": math.expm1,
    "erf": math.erf,
    # ceil(x) = -floor(-x): math.ceil expands (math-expand-ops) to a copysign the LLVM lowering
    # lacks.
    "ceil": lambda x: arith.negf(math.floor(arith.negf(x))),
    "round": lambda x: _round_half_even(x),
}


def _round_half_even(x):
    """Banker's rounding from floor alone (math.roundeven expands to a copysign LLVM lacks here)."""
    from tgc.lowering.to_core.common import scalar_const

    half, one, two = (scalar_const(v, x.type) for v in (0.5, 1.0, 2.0))
    low = math.floor(x)
    up = arith.addf(low, one)
    diff = arith.subf(x, low)
    low_is_even = arith.cmpf(
        arith.CmpFPredicate.OEQ, arith.mulf(two, math.floor(arith.divf(low, two))), low
    )
    tie = arith.select(low_is_even, low, up)
    nearer = arith.select(arith.cmpf(arith.CmpFPredicate.OLT, diff, half), low, up)
    return arith.select(arith.cmpf(arith.CmpFPredicate.OEQ, diff, half), tie, nearer)


def _rule(fn):
    def rule(op):
        return elementwise(op.operands, op.result_type, fn)

    return rule


for _name, _fn in _MATH.items():
    lowers(_name)(_rule(_fn))
