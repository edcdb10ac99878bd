"""tgc -> core for ``bitcast`` (tgc/dialect/ops/bitcast.py): an elementwise linalg.generic whose
body reinterprets each element. Between signless types that is ``arith.bitcast``; a ``ui8`` side
(unsigned, outside arith's signless integers) goes through ``builtin.unrealized_conversion_cast``,
which the LLVM lowering removes (ui8 and i8 are both LLVM's i8). tensor.bitcast would say the same
but does not bufferize."""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import element_type, elementwise


def _is_signless(t: ir.Type) -> bool:
    return not isinstance(t, ir.IntegerType) or ir.IntegerType(t).is_signless


def _reinterpret(value: ir.Value, dst: ir.Type) -> ir.Value:
    if value.type == dst:
        return value
    if _is_signless(value.type) and _is_signless(dst):
        return arith.bitcast(dst, value)
    return ir.Operation.create(
        "builtin.unrealized_conversion_cast", results=[dst], operands=[value]
    ).results[0]


def reinterpret_elements(x: ir.Value, result_type: ir.Type) -> ir.Value:
    """x's elements read as ``result_type``'s element type (the same width)."""
    dst = element_type(result_type)
    return elementwise([x], result_type, lambda value: _reinterpret(value, dst))


@lowers("bitcast")
def _bitcast(op):
    return reinterpret_elements(op.operands[0], op.result_type)
