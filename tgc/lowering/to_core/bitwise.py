"""Core lowering of the bitwise ops (tgc/dialect/ops/bitwise.py): one linalg.generic each, with
arith's integer bit ops; the shift amount is clamped to [0, bits - 1] first, as TF's kernels."""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import elementwise, scalar_const


def _binary(fn):
    def rule(op):
        return elementwise(op.operands, op.result_type, fn)

    return rule


def _clamped(x, amount):
    """The shift amount in [0, bits - 1] (C and LLVM leave other amounts undefined)."""
    bits = ir.IntegerType(x.type).width
    low = arith.maxsi(amount, scalar_const(0, amount.type))
    return arith.minsi(low, scalar_const(bits - 1, amount.type))


lowers("bitwise_and")(_binary(arith.andi))
lowers("bitwise_or")(_binary(arith.ori))
lowers("bitwise_xor")(_binary(arith.xori))
lowers("left_shift")(_binary(lambda x, y: arith.shli(x, _clamped(x, y))))
lowers("right_shift")(_binary(lambda x, y: arith.shrsi(x, _clamped(x, y))))


@lowers("invert")
def _invert(op):
    return elementwise(
        op.operands, op.result_type, lambda x: arith.xori(x, scalar_const(-1, x.type))
    )
