"""Core lowering of reductions: linalg.generic with reduction iterators over filled accumulators.

Covers reduce_sum/mean/max/min/prod, argmax/argmin and dim_size. Sizes of unknown (``?``) dims are
read at run time with ``tensor.dim``, so one compiled function serves every batch size.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, linalg, tensor

from tgc.dialect.shapes import normalize_axes, normalize_axis
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL,
    REDUCTION,
    affine_map,
    const_index,
    dim,
    element_type,
    empty,
    fail_out_of_range,
    fill,
    generic,
    is_float,
    scalar_const,
    shape_of,
)


def _out_map_and_dims(x, result_type, axes, keepdims):
    """The indexing map of the accumulator and the run-time sizes of its ``?`` dims."""
    rank = len(shape_of(x))
    result_shape = shape_of(result_type)
    out_exprs, dynamic, k = [], {}, 0
    for i in range(rank):
        if i in axes:
            if keepdims:
                out_exprs.append(("const", 0))
                k += 1
            continue
        out_exprs.append(i)
        if result_shape[k] is None:
            dynamic[k] = dim(x, i)
        k += 1
    return affine_map(rank, out_exprs), dynamic


def reduce_multi(x, result_types, axes, keepdims, init_values, combine):
    """Reduce ``x`` over ``axes`` into one accumulator per result type.

    ``combine(element, *accumulators)`` returns the new accumulators; each starts from its init
    value.
    """
    rank = len(shape_of(x))
    axes = normalize_axes(axes, rank)
    out_map, dynamic = _out_map_and_dims(x, result_types[0], axes, keepdims)
    accs = [fill(v, empty(t, dynamic)) for t, v in zip(result_types, init_values)]
    iterators = [REDUCTION if i in axes else PARALLEL for i in range(rank)]
    maps = [affine_map(rank, list(range(rank)))] + [out_map] * len(accs)
    return generic([x], accs, maps, iterators, combine)


def reduce(x, result_type, axes, keepdims, init_value, combine):
    """Reduce ``x`` over ``axes`` with ``combine(element, accumulator)`` from ``init_value``."""
    if not axes:
        return _unreduced(x, result_type)
    return reduce_multi(x, [result_type], axes, keepdims, [init_value], combine)[0]


def _unreduced(x, result_type):
    """A reduction over no axes is x itself (the sum, product, max, min or mean of one element).

    Written as an all-parallel generic that reads its filled accumulator, it would be valid IR, but
    linalg-fuse-elementwise-ops fuses it into a broadcasting consumer with the accumulator as a
    broadcast output that every iteration adds into: 2 * w came out as 2 * k * w.
    """
    if x.type == result_type:
        return x
    return tensor.cast(result_type, x)


def _float_or_int(float_fn, int_fn):
    return lambda a, acc: float_fn(a, acc) if is_float(a.type) else int_fn(a, acc)


def _lowest(elem):
    """The identity of max: -inf for floats, the type's minimum for integers."""
    if is_float(elem):
        return scalar_const(float("-inf"), elem)
    width = ir.IntegerType(elem).width
    return scalar_const(-(1 << (width - 1)), elem)


def _highest(elem):
    """The identity of min: +inf for floats, the type's maximum for integers."""
    if is_float(elem):
        return scalar_const(float("inf"), elem)
    width = ir.IntegerType(elem).width
    return scalar_const((1 << (width - 1)) - 1, elem)


def _reduction_rule(init, float_fn, int_fn):
    def rule(op):
        elem = element_type(op.result_type)
        return reduce(
            op.operands[0],
            op.result_type,
            op.attrs["axes"],
            op.attrs["keepdims"],
            init(elem),
            _float_or_int(float_fn, int_fn),
        )

    return rule


lowers("reduce_sum")(_reduction_rule(lambda e: scalar_const(0, e), arith.addf, arith.addi))
lowers("reduce_prod")(_reduction_rule(lambda e: scalar_const(1, e), arith.mulf, arith.muli))
# maximumf/minimumf propagate NaN, as numpy's max/min do.
lowers("reduce_max")(_reduction_rule(_lowest, arith.maximumf, arith.maxsi))
lowers("reduce_min")(_reduction_rule(_highest, arith.minimumf, arith.minsi))


# ---- element counts ------------------------------------------------------------------------------


def _count_index(x, axes):
    """The number of elements across ``axes`` of x, as an index value (read at run time)."""
    total = None
    for axis in normalize_axes(axes, len(shape_of(x))):
        d = dim(x, axis)
        total = d if total is None else arith.muli(total, d)
    return total if total is not None else arith.ConstantOp(ir.IndexType.get(), 1).result


def _index_to(value, elem):
    """An index value converted to the scalar type ``elem`` (through i64 for floats)."""
    if is_float(elem):
        return arith.sitofp(elem, arith.index_cast(ir.IntegerType.get_signless(64), value))
    return arith.index_cast(elem, value)


@lowers("dim_size")
def _dim_size(op):
    (x,) = op.operands
    elem = element_type(op.result_type)
    scalar = _index_to(_count_index(x, op.attrs["axes"]), elem)
    return tensor.FromElementsOp(op.result_type, [scalar]).result


def _divide_all(total, count, result_type):
    """total / count elementwise; integers divide by max(count, 1) truncating toward zero, as TF
    does."""
    elem = element_type(result_type)
    if is_float(elem):
        divisor, fn = count, arith.divf
    else:
        divisor, fn = arith.maxsi(count, scalar_const(1, elem)), arith.divsi
    rank = len(shape_of(result_type))
    init = empty(
        result_type, {i: dim(total, i) for i, d in enumerate(shape_of(result_type)) if d is None}
    )
    maps = [affine_map(rank, list(range(rank)))] * 2
    return generic([total], [init], maps, [PARALLEL] * rank, lambda t, _: fn(t, divisor))[0]


@lowers("reduce_mean")
def _reduce_mean(op):
    (x,) = op.operands
    elem = element_type(op.result_type)
    axes, keepdims = op.attrs["axes"], op.attrs["keepdims"]
    if not axes:
        return _unreduced(x, op.result_type)
    if not is_float(elem) and ir.IntegerType(elem).width < 64:
        return _narrow_int_mean(x, op.result_type, axes, keepdims)
    total = reduce(
        x,
        op.result_type,
        axes,
        keepdims,
        scalar_const(0, elem),
        _float_or_int(arith.addf, arith.addi),
    )
    return _divide_all(total, _index_to(_count_index(x, axes), elem), op.result_type)


def _narrow_int_mean(x, result_type, axes, keepdims):
    """The mean of int8, int16 or int32 elements as TF's: summed in int64 (so the sum does not
    wrap: the mean of 1000 int8 100s is 100), divided, and narrowed."""
    elem = element_type(result_type)
    i64 = ir.IntegerType.get_signless(64)
    wide_type = ir.RankedTensorType.get(ir.RankedTensorType(result_type).shape, i64)
    total = reduce(
        x,
        wide_type,
        axes,
        keepdims,
        scalar_const(0, i64),
        lambda a, acc: arith.addi(arith.extsi(i64, a), acc),
    )
    mean = _divide_all(total, _index_to(_count_index(x, axes), i64), wide_type)
    rank = len(shape_of(result_type))
    init = empty(
        result_type, {i: dim(mean, i) for i, d in enumerate(shape_of(result_type)) if d is None}
    )
    maps = [affine_map(rank, list(range(rank)))] * 2
    return generic([mean], [init], maps, [PARALLEL] * rank, lambda m, _: arith.trunci(elem, m))[0]


# ---- argmax / argmin -----------------------------------------------------------------------------


def _better(predicate_f, predicate_i):
    """Whether element a replaces the running best: strictly better (first index wins ties).

    For floats a NaN wins over any non-NaN and the first NaN is kept, as numpy's argmax/argmin do.
    """

    def better(a, best):
        if not is_float(a.type):
            return arith.cmpi(predicate_i, a, best)
        strictly = arith.cmpf(predicate_f, a, best)
        a_nan = arith.cmpf(arith.CmpFPredicate.UNO, a, a)
        best_ordered = arith.cmpf(arith.CmpFPredicate.ORD, best, best)
        return arith.ori(strictly, arith.andi(a_nan, best_ordered))

    return better


def _refuse_an_empty_axis(op, x: ir.Value, axis: int) -> None:
    """TF's ArgMax and ArgMin kernels fail on an axis of size 0 ("Reduction axis -1 is empty in
    shape [3,0]", the axis as given); the reduction would give index 0. No check where the graph
    knows the axis is not empty."""
    shape = shape_of(x)
    if shape[axis] not in (None, 0):
        return
    dims = [dim(x, i) for i in range(len(shape))]
    failed = arith.cmpi(arith.CmpIPredicate.eq, dims[axis], const_index(0))
    places = ",".join(f"{{{i}}}" for i in range(len(shape)))
    message = f"Reduction axis {op.attrs['axis']} is empty in shape [{places}]"
    fail_out_of_range(op.operation, failed, message, dims)


def _arg_rule(init, better):
    def rule(op):
        (x,) = op.operands
        rank = len(shape_of(x))
        axis = normalize_axis(op.attrs["axis"], rank)
        _refuse_an_empty_axis(op, x, axis)
        elem, out_elem = element_type(x), element_type(op.result_type)
        value_type = ir.RankedTensorType.get(ir.RankedTensorType(op.result_type).shape, elem)

        def combine(a, best, best_index):
            index = arith.index_cast(out_elem, linalg.IndexOp(axis).result)
            take = better(a, best)
            return [arith.select(take, a, best), arith.select(take, index, best_index)]

        _, indices = reduce_multi(
            x,
            [value_type, op.result_type],
            [axis],
            False,
            [init(elem), scalar_const(0, out_elem)],
            combine,
        )
        return indices

    return rule


lowers("argmax")(_arg_rule(_lowest, _better(arith.CmpFPredicate.OGT, arith.CmpIPredicate.sgt)))
lowers("argmin")(_arg_rule(_highest, _better(arith.CmpFPredicate.OLT, arith.CmpIPredicate.slt)))
