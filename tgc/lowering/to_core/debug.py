"""tgc -> core for ``print``, ``assert`` and ``check_numerics`` (tgc/dialect/ops/debug.py).

Each becomes calls into the host where the op stood (tgc/lowering/runtime_errors.py): ``print``
sends its data tensors, then asks for the print; ``assert`` tests its condition and, only when it
is false, sends its data and reports ASSERTION_FAILED; ``check_numerics`` reduces its tensor to two
flags (a NaN seen, an Inf seen) and reports NON_FINITE_VALUES when either is set. Calls have effects
that later passes keep in place and in order, so prints come out in program order, once per
iteration inside an scf.while or where the scf.if's branch ran.
"""

from __future__ import annotations

import json

from mlir import ir
from mlir.dialects import arith, linalg, math, scf, tensor

from tgc.dialect.ir_helpers import module_of
from tgc.dialect.types import dtype_from_mlir
from tgc.lowering import runtime_errors
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL,
    REDUCTION,
    affine_map,
    dim,
    element_type,
    empty,
    generic,
    identity_map,
    is_bool,
    scalar_const,
    shape_of,
)
from tgc.runtime.host_calls import ASSERTION_FAILED, HOST_PRINT, NON_FINITE_VALUES


def _node() -> str:
    return runtime_errors.node_description(ir.Location.current)


def _dynamic_dims(value: ir.Value) -> dict:
    return {j: dim(value, j) for j, d in enumerate(shape_of(value)) if d is None}


def _as_bytes(value: ir.Value) -> ir.Value:
    """A bool tensor as i8 (one byte per element, as the host reads it)."""
    rank = len(shape_of(value))
    i8 = ir.IntegerType.get_signless(8)
    out_type = ir.RankedTensorType.get(ir.RankedTensorType(value.type).shape, i8)
    init = empty(out_type, _dynamic_dims(value))
    maps = [identity_map(rank)] * 2
    return generic([value], [init], maps, [PARALLEL] * rank, lambda b, _: arith.extui(i8, b))[0]


def _send_all(module, values: list) -> None:
    for v in values:
        elem = element_type(v)
        dtype = dtype_from_mlir(str(elem)).name
        runtime_errors.send_tensor(module, _as_bytes(v) if is_bool(elem) else v, dtype)


@lowers("print")
def _print(op):
    module = module_of(op.operation)
    _send_all(module, op.operands[1:])
    runtime_errors.host_call(module, HOST_PRINT, json.loads(op.attrs["spec"]), [])
    return op.operands[0]


@lowers("assert")
def _assert(op):
    module = module_of(op.operation)
    holds = tensor.ExtractOp(op.operands[0], []).result
    failed = arith.xori(holds, scalar_const(True, holds.type))
    check = scf.IfOp(failed)
    with ir.InsertionPoint(check.then_block):
        _send_all(module, op.operands[1:])
        spec = json.loads(op.attrs["spec"])
        runtime_errors.report(module, ASSERTION_FAILED, {**spec, "node": _node()}, [])
        scf.YieldOp([])
    return []


def _non_finite_flags(x: ir.Value) -> tuple:
    """(any NaN, any Inf) of x as i1 scalars: one reduction over every element into two i8 flags
    (bytes, not i1 tensors, which tgc-bool-storage would rewrite after this pass)."""
    rank = len(shape_of(x))
    i8 = ir.IntegerType.get_signless(8)
    flag_type = ir.RankedTensorType.get([], i8)
    inits = [linalg.fill(scalar_const(0, i8), outs=[empty(flag_type, {})]) for _ in range(2)]
    maps = [identity_map(rank), affine_map(rank, []), affine_map(rank, [])]
    elem = element_type(x)
    infinity = arith.ConstantOp(elem, ir.FloatAttr.get(elem, float("inf"))).result

    def body(v, nan_seen, inf_seen):
        is_nan = arith.extui(i8, arith.cmpf(arith.CmpFPredicate.UNO, v, v))
        is_inf = arith.extui(i8, arith.cmpf(arith.CmpFPredicate.OEQ, math.absf(v), infinity))
        return [arith.ori(nan_seen, is_nan), arith.ori(inf_seen, is_inf)]

    nan_any, inf_any = generic([x], inits, maps, [REDUCTION] * rank, body)
    zero = scalar_const(0, i8)
    return tuple(
        arith.cmpi(arith.CmpIPredicate.ne, tensor.ExtractOp(flag, []).result, zero)
        for flag in (nan_any, inf_any)
    )


@lowers("check_numerics")
def _check_numerics(op):
    x = op.operands[0]
    has_nan, has_inf = _non_finite_flags(x)
    check = scf.IfOp(arith.ori(has_nan, has_inf))
    with ir.InsertionPoint(check.then_block):
        i64 = ir.IntegerType.get_signless(64)
        runtime_errors.report(
            module_of(op.operation),
            NON_FINITE_VALUES,
            {"message": op.attrs["message"], "node": _node()},
            [arith.extui(i64, has_nan), arith.extui(i64, has_inf)],
        )
        scf.YieldOp([])
    return x
