"""Core lowering of elementwise tgc ops: one linalg.generic each, with broadcasting index maps.

An integer ``divide`` (TF's FloorDiv, and through it tf.floormod, tf.truncatediv, tf.truncatemod)
on the CPU or a GPU fails the run with TF's "Integer division by zero" when its divisor holds a 0: a
run-time check (tgc/lowering/runtime_errors.py) after one reduction over the divisor, skipped when
the divisor is a constant without zeros. A GPU's kernels write the check's record, which the launch
plan reads (runtime_errors.device_check); an accelerator's kernels do not check. Float division pays
nothing."""

from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg, math, scf, tensor

from tgc.dialect.attrs import decode_dense
from tgc.dialect.ir_helpers import defining_op
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    REDUCTION,
    affine_map,
    can_report,
    const_index,
    dim,
    dim_key,
    element_type,
    elementwise,
    empty,
    fail_when,
    generic,
    identity_map,
    is_bool,
    is_float,
    on_gpu,
    report_incompatible,
    scalar_const,
    shape_of,
)
from tgc.runtime.host_calls import INTEGER_DIVISION_BY_ZERO


def _by_kind(float_fn, int_fn):
    """A scalar body choosing the float or integer arith op from the operand's type."""

    def body(*args):
        return float_fn(*args) if is_float(args[0].type) else int_fn(*args)

    return body


def _binary(float_fn, int_fn):
    def rule(op):
        return elementwise(op.operands, op.result_type, _by_kind(float_fn, int_fn))

    return rule


lowers("add")(_binary(arith.addf, arith.addi))
lowers("subtract")(_binary(arith.subf, arith.subi))
lowers("multiply")(
    _binary(arith.mulf, lambda a, b: arith.andi(a, b) if is_bool(a.type) else arith.muli(a, b))
)
lowers("maximum")(_binary(arith.maximumf, arith.maxsi))
lowers("minimum")(_binary(arith.minimumf, arith.minsi))


def _floor_div(a, b):
    # Floor division as TensorFlow's floordiv. A zero divisor fails the run before this loop
    # (_check_divisor); it is replaced by 1 here all the same, so that the loop never traps when
    # the check is absent (GPU and accelerator kernels) or its handler returns. A divisor of -1
    # negates (wrapping: INT_MIN // -1 is INT_MIN, as in TF), where the CPU's division would trap.
    zero, one, minus_one = (scalar_const(v, a.type) for v in (0, 1, -1))
    negates = arith.cmpi(arith.CmpIPredicate.eq, b, minus_one)
    unsafe = arith.ori(negates, arith.cmpi(arith.CmpIPredicate.eq, b, zero))
    quotient = arith.floordivsi(a, arith.select(unsafe, one, b))
    return arith.select(negates, arith.subi(zero, a), quotient)


@lowers("divide")
def _divide(op):
    x, y = op.operands
    if (
        not is_float(element_type(y))
        and (can_report(op.operation) or on_gpu(op.operation))
        and 0 not in shape_of(x)
        and not _nonzero_constant(y)
    ):
        _check_divisor(op, x, y)
    return elementwise(op.operands, op.result_type, _by_kind(arith.divf, _floor_div))


def _nonzero_constant(value: ir.Value) -> bool:
    """Whether ``value`` is a constant without zeros (``x // 2``: nothing to check at run time)."""
    operation = defining_op(value)
    if operation is None or operation.name not in ("arith.constant", "tgc.constant"):
        return False
    return bool(np.all(decode_dense(operation.attributes["value"]) != 0))


def _check_divisor(op, x: ir.Value, y: ir.Value) -> None:
    """Fails the run with TensorFlow's "Integer division by zero" when an element of the divisor
    ``y`` is 0, before the division's loop: on the CPU a call of the host, on a GPU a record the
    launch plan reads after the kernels (the same error)."""
    fail_when(op.operation, _divisor_has_a_zero(x, y), INTEGER_DIVISION_BY_ZERO, [])


def _divisor_has_a_zero(x: ir.Value, y: ir.Value) -> ir.Value:
    """i1: whether ``y`` holds a 0 and the division ``x / y`` is not empty. One reduction over y
    alone (not over the broadcast result), an OR of its elements' "is zero". An empty result (x
    has a dim of 0 at run time) divides nothing and does not fail, as in TF."""
    rank = len(shape_of(y))
    i8 = ir.IntegerType.get_signless(8)
    flag_type = ir.RankedTensorType.get([], i8)
    init = linalg.fill(scalar_const(0, i8), outs=[empty(flag_type, {})])
    zero = scalar_const(0, element_type(y))

    def body(v, seen):
        return arith.ori(seen, arith.extui(i8, arith.cmpi(arith.CmpIPredicate.eq, v, zero)))

    maps = [identity_map(rank), affine_map(rank, [])]
    (found,) = generic([y], [init], maps, [REDUCTION] * rank, body)
    seen = arith.cmpi(
        arith.CmpIPredicate.ne, tensor.ExtractOp(found, []).result, scalar_const(0, i8)
    )
    for j, d in enumerate(shape_of(x)):
        if d is None:  # a dim known only at run time may be 0
            seen = arith.andi(seen, arith.cmpi(arith.CmpIPredicate.ne, dim(x, j), const_index(0)))
    return seen


def _ipow(a, b):
    return math.ipowi(a, b)


lowers("pow")(_binary(math.powf, _ipow))


def _unary(float_fn, int_fn=None):
    def rule(op):
        return elementwise(op.operands, op.result_type, _by_kind(float_fn, int_fn or float_fn))

    return rule


def _negf(x):
    return arith.negf(x)


def _negi(x):
    return arith.subi(scalar_const(0, x.type), x)


def _signf(x):
    # Neither comparison holds for NaN or a zero: x * 0 is then NaN (as numpy's and TensorFlow's
    # sign) or the zero itself (only ops every target's vector unit has)
    zero, one, minus = (scalar_const(v, x.type) for v in (0, 1, -1))
    pos = arith.select(arith.cmpf(arith.CmpFPredicate.OGT, x, zero), one, arith.mulf(x, zero))
    return arith.select(arith.cmpf(arith.CmpFPredicate.OLT, x, zero), minus, pos)


def _signi(x):
    zero, one, minus = (scalar_const(v, x.type) for v in (0, 1, -1))
    pos = arith.select(arith.cmpi(arith.CmpIPredicate.sgt, x, zero), one, zero)
    return arith.select(arith.cmpi(arith.CmpIPredicate.slt, x, zero), minus, pos)


def _sigmoid(x):
    one = scalar_const(1, x.type)
    return arith.divf(one, arith.addf(one, math.exp(arith.negf(x))))


lowers("negative")(_unary(_negf, _negi))
lowers("abs")(_unary(math.absf, lambda x: arith.maxsi(x, _negi(x))))
lowers("sign")(_unary(_signf, _signi))
lowers("square")(_unary(lambda x: arith.mulf(x, x), lambda x: arith.muli(x, x)))
lowers("sqrt")(_unary(math.sqrt))
lowers("rsqrt")(_unary(math.rsqrt))
lowers("exp")(_unary(math.exp))
lowers("log")(_unary(math.log))
lowers("floor")(_unary(math.floor))
lowers("tanh")(_unary(math.tanh))
lowers("sigmoid")(_unary(_sigmoid))
lowers("relu")(
    _unary(
        lambda x: arith.maximumf(x, scalar_const(0, x.type)),
        lambda x: arith.maxsi(x, scalar_const(0, x.type)),
    )
)


@lowers("identity", "stop_gradient")
def _identity(op):
    return op.operands[0]


_FLOAT_CMP = {
    "equal": "OEQ",
    "not_equal": "UNE",
    "less": "OLT",
    "less_equal": "OLE",
    "greater": "OGT",
    "greater_equal": "OGE",
}
_INT_CMP = {
    "equal": "eq",
    "not_equal": "ne",
    "less": "slt",
    "less_equal": "sle",
    "greater": "sgt",
    "greater_equal": "sge",
}


def _comparison(name):
    def rule(op):
        def body(a, b):
            if is_float(a.type):
                return arith.cmpf(getattr(arith.CmpFPredicate, _FLOAT_CMP[name]), a, b)
            pred = _INT_CMP[name]
            if is_bool(a.type):  # i1 compares unsigned: false < true
                pred = pred.replace("s", "u") if pred[0] == "s" else pred
            return arith.cmpi(getattr(arith.CmpIPredicate, pred), a, b)

        return elementwise(op.operands, op.result_type, body)

    return rule


for _name in _FLOAT_CMP:
    lowers(_name)(_comparison(_name))

lowers("logical_and")(_binary(arith.andi, arith.andi))
lowers("logical_or")(_binary(arith.ori, arith.ori))


@lowers("logical_not")
def _logical_not(op):
    return elementwise(
        op.operands, op.result_type, lambda x: arith.xori(x, scalar_const(1, x.type))
    )


@lowers("select")
def _select(op):
    return elementwise(op.operands, op.result_type, lambda c, a, b: arith.select(c, a, b))


def _convert(x, dst: ir.Type):
    src = x.type
    if src == dst:
        return x
    if is_float(src) and is_float(dst):
        widths = {"f16": 16, "bf16": 16, "f32": 32, "f64": 64}
        if widths[str(src)] == widths[str(dst)]:
            return arith.truncf(dst, arith.extf(ir.F32Type.get(), x))
        return arith.extf(dst, x) if widths[str(src)] < widths[str(dst)] else arith.truncf(dst, x)
    if is_float(src):
        if is_bool(dst):
            return arith.cmpf(arith.CmpFPredicate.UNE, x, scalar_const(0, src))
        return arith.fptosi(dst, x)
    if is_float(dst):
        return arith.uitofp(dst, x) if is_bool(src) else arith.sitofp(dst, x)
    if is_bool(dst):
        return arith.cmpi(arith.CmpIPredicate.ne, x, scalar_const(0, src))
    src_w, dst_w = ir.IntegerType(src).width, ir.IntegerType(dst).width
    if src_w < dst_w:
        return arith.extui(dst, x) if is_bool(src) else arith.extsi(dst, x)
    return arith.trunci(dst, x)


@lowers("cast")
def _cast(op):
    dst = element_type(op.result_type)
    return elementwise(op.operands, op.result_type, lambda x: _convert(x, dst))


@lowers("unbroadcast_like")
def _unbroadcast_like(op):
    """Sums g over the axes where x is 1: those known now in one reduction, each unknown one under a
    run-time test of x's dim (skipped where g's dim is x's by construction)."""
    g, x = op.operands
    x_shape, g_shape = shape_of(x), shape_of(g)
    static_axes = [i for i, (d, e) in enumerate(zip(x_shape, g_shape)) if d == 1 and e != 1]
    if static_axes:
        g = _sum_keeping(g, static_axes)
    run_time_axes = [
        i
        for i, (d, e) in enumerate(zip(x_shape, shape_of(g)))
        if d is None and e != 1 and dim_key(x, i) != dim_key(g, i)
    ]
    if run_time_axes:  # those axes' sizes become known at run time only
        unknown = ir.ShapedType.get_dynamic_size()
        shape = [
            unknown if i in run_time_axes or d is None else d for i, d in enumerate(shape_of(g))
        ]
        g = tensor.CastOp(ir.RankedTensorType.get(shape, element_type(g)), g).result
    for i in run_time_axes:
        g = _sum_if_one(g, i, dim(x, i))
    # checked before the cast to x's type: the cast's static dims would read as x's own
    g = _checked_against(g, op.operands[0], x)
    return g if g.type == op.result_type else tensor.CastOp(op.result_type, g).result


def _checked_against(g: ir.Value, g_in: ir.Value, x: ir.Value) -> ir.Value:
    """g (``g_in`` summed where x is 1), whose every dim must now be x's: a dim known only at run
    time and not equal by construction is tested. One that differs (a gradient fed through
    grad_ys in another shape than its y's) fails the run with "Incompatible shapes: [g] vs. [x]",
    and gives zeros of x's shape: the run has failed, and what follows, sized as x, must stay
    within its buffers."""
    axes = [
        i
        for i, (d, e) in enumerate(zip(shape_of(x), shape_of(g_in)))
        if (d is None or e is None) and dim_key(g_in, i) != dim_key(x, i)
    ]
    if not axes:
        return g
    differs = [arith.cmpi(arith.CmpIPredicate.ne, dim(g, i), dim(x, i)) for i in axes]
    failed = differs[0]
    for d in differs[1:]:
        failed = arith.ori(failed, d)
    report_incompatible(failed, [g_in, x])
    branch = scf.IfOp(failed, [g.type], has_else=True)
    with ir.InsertionPoint(branch.then_block):
        sizes = {i: dim(x, i) for i, d in enumerate(shape_of(g)) if d is None}
        zeros = linalg.fill(scalar_const(0, element_type(g)), outs=[empty(g.type, sizes)])
        scf.YieldOp([zeros])
    with ir.InsertionPoint(branch.else_block):
        scf.YieldOp([g])
    return branch.results[0]


def _sum_keeping(g: ir.Value, axes: list) -> ir.Value:
    from tgc.lowering.to_core.reduce import reduce

    shape = [1 if i in axes else d for i, d in enumerate(shape_of(g))]
    result_type = ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size() if d is None else d for d in shape], element_type(g)
    )
    add = _by_kind(arith.addf, arith.addi)
    return reduce(g, result_type, axes, True, scalar_const(0, element_type(g)), add)


def _sum_if_one(g: ir.Value, axis: int, x_dim: ir.Value) -> ir.Value:
    """g summed over ``axis`` (kept, size 1) when x's dim there is 1 and g's is not, else g."""
    one = const_index(1)
    broadcast = arith.andi(
        arith.cmpi(arith.CmpIPredicate.eq, x_dim, one),
        arith.cmpi(arith.CmpIPredicate.ne, dim(g, axis), one),
    )
    branch = scf.IfOp(broadcast, [g.type], has_else=True)
    with ir.InsertionPoint(branch.then_block):
        summed = _sum_keeping(g, [axis])
        scf.YieldOp([tensor.CastOp(g.type, summed).result])
    with ir.InsertionPoint(branch.else_block):
        scf.YieldOp([g])
    return branch.results[0]
