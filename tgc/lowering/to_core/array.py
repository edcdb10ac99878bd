"""tgc -> core for constants and shape ops (tgc/dialect/ops/array.py): fills, broadcasts, reshapes,
slices, concat/split, tile, one_hot and shape.

Unknown dims are read with ``tensor.dim`` at run time: reshapes go through
collapse_shape/expand_shape (which lower to LLVM with dynamic sizes), slice bounds are normalized
with index arithmetic when the dim is unknown, and everything else is
tensor.extract_slice/insert_slice or linalg.generic.
"""

from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg, tensor

from tgc.dialect.attrs import encode
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL,
    REDUCTION,
    affine_map,
    as_index,
    broadcast_to_like,
    check_dims,
    const_index,
    dim,
    dim_key,
    element_type,
    empty,
    fail_out_of_range,
    fail_when,
    generic,
    identity_map,
    is_float,
    scalar_const,
    shape_of,
    shapes_values,
)
from tgc.runtime.executable import INCOMPATIBLE_SHAPES
from tgc.runtime.host_calls import RESHAPE_SIZE_MISMATCH


@lowers("range")
def _range(op):
    """start + i * delta for i below the count, a tensor.empty of the run-time count filled by
    one generic; the count is computed with a divisor of 1 when delta is 0 (then forced to 0), so
    no division traps."""
    start, limit, delta = (tensor.ExtractOp(v, []).result for v in op.operands)
    elem = start.type
    index_type = ir.IndexType.get()
    zero = scalar_const(0, elem)
    no_step = (
        arith.cmpf(arith.CmpFPredicate.OEQ, delta, zero)
        if is_float(elem)
        else arith.cmpi(arith.CmpIPredicate.eq, delta, zero)
    )
    step = arith.select(no_step, scalar_const(1, elem), delta)
    if is_float(elem):
        quotient = arith.divf(arith.subf(limit, start), step)
        truncated = arith.fptosi(ir.IntegerType.get_signless(64), quotient)
        short = arith.cmpf(arith.CmpFPredicate.OLT, arith.sitofp(elem, truncated), quotient)
        wide = arith.addi(truncated, arith.extui(truncated.type, short))  # ceil, in integers
    else:
        wide = arith.ceildivsi(arith.subi(limit, start), step)
    count = arith.index_cast(index_type, wide)
    count = arith.select(no_step, const_index(0), arith.maxsi(count, const_index(0)))
    init = empty(op.result_type, {0: count})

    def body(_):
        i = arith.index_cast(ir.IntegerType.get_signless(64), linalg.IndexOp(0).result)
        if is_float(elem):
            return arith.addf(start, arith.mulf(arith.sitofp(elem, i), delta))
        i = i if elem == i.type else arith.trunci(elem, i)
        return arith.addi(start, arith.muli(i, delta))

    return generic([], [init], [identity_map(1)], [PARALLEL], body)[0]


@lowers("constant")
def _constant(op):
    value = op.attrs["value"]
    if value.dtype == np.uint8:
        # arith.constant is signless: the same bits as i8, read back as ui8 (the bitcast rule).
        from tgc.lowering.to_core.bitcast import reinterpret_elements

        signed = encode("tensor", value.view(np.int8))
        return reinterpret_elements(arith.ConstantOp(signed.type, signed).result, op.result_type)
    return arith.ConstantOp(op.result_type, encode("tensor", value)).result


def _like_dims(result_type, source):
    return {i: dim(source, i) for i, d in enumerate(shape_of(result_type)) if d is None}


@lowers("fill_like")
def _fill_like(op):
    (x,) = op.operands
    init = empty(op.result_type, _like_dims(op.result_type, x))
    return linalg.fill(scalar_const(op.attrs["value"], element_type(op.result_type)), outs=[init])


@lowers("fill")
def _fill(op):
    init = empty(op.result_type, {})
    return linalg.fill(scalar_const(op.attrs["value"], element_type(op.result_type)), outs=[init])


@lowers("broadcast_like")
def _broadcast_like(op):
    x, target = op.operands
    return broadcast_to_like(x, target, op.result_type)


_DYNAMIC = ir.ShapedType.get_dynamic_size()


def _tensor_type(dims: list, elem: ir.Type) -> ir.RankedTensorType:
    """A ranked tensor type; ``None`` dims are dynamic."""
    return ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size() if d is None else d for d in dims], elem
    )


def _flatten(x: ir.Value) -> ir.Value:
    """x as a rank-1 tensor (row-major), through collapse/expand_shape so that unknown dims
    lower."""
    shape, elem = shape_of(x), element_type(x)
    if len(shape) == 1:
        return x
    if not shape:  # a scalar becomes tensor<1xT>
        return tensor.ExpandShapeOp(
            _tensor_type([1], elem), x, ir.ArrayAttr.get([]), [], [1]
        ).result
    total = None if None in shape else _product(shape)
    reassociation = _reassociation([list(range(len(shape)))])
    return tensor.CollapseShapeOp(_tensor_type([total], elem), x, reassociation).result


def _product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _reassociation(groups: list) -> ir.ArrayAttr:
    return ir.ArrayAttr.get(
        [
            ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), i) for i in g])
            for g in groups
        ]
    )


def reshape_to(x, result_type, dims: list):
    """x's elements in ``result_type``, whose dims are the index values ``dims``.

    Flattens to rank 1 and expands again: tensor.reshape with a shape tensor does not lower to LLVM
    when dims are unknown, while collapse_shape/expand_shape do, but only with at most one unknown
    size per expanded group (memref.expand_shape's strides are computed from the others;
    expand-strided-metadata asserts otherwise). A result with several unknown dims is therefore
    copied out of the flat elements instead.
    """
    shape, elem = shape_of(result_type), element_type(result_type)
    if 0 in shape or 0 in shape_of(x):
        # No element to move. And the collapse/expand would be refused or wrong: memref.expand_shape
        # sizes an unknown dim by dividing by its group's known sizes (0 here), and collapsing
        # [0, ?] to [?] folds to a static [0] that memref.collapse_shape refuses for a group with a
        # ? dim.
        return empty(result_type, {i: dims[i] for i, d in enumerate(shape) if d is None})
    flat = _flatten(x)
    total = None if None in shape else _product(shape)
    if shape_of(flat) != [
        total
    ]:  # expand_shape needs the flat dim static exactly when all result dims are
        flat = tensor.cast(_tensor_type([total], elem), flat)
    if len(shape) == 1:
        return flat
    if not shape:
        return tensor.CollapseShapeOp(result_type, flat, ir.ArrayAttr.get([])).result
    if shape.count(None) > 1:
        return _copy_from_flat(flat, result_type, dims)
    dynamic = [v for v, d in zip(dims, shape) if d is None]
    static = [_DYNAMIC if d is None else d for d in shape]
    reassociation = _reassociation([list(range(len(shape)))])
    return tensor.ExpandShapeOp(result_type, flat, reassociation, dynamic, static).result


def _copy_from_flat(flat, result_type, dims: list):
    """A tensor of ``result_type`` (sizes ``dims``) whose row-major element k is flat[k]."""
    shape = shape_of(result_type)
    rank = len(shape)
    init = empty(result_type, {i: dims[i] for i, d in enumerate(shape) if d is None})

    def element(_):
        linear = linalg.IndexOp(0).result
        for axis in range(1, rank):
            linear = arith.addi(arith.muli(linear, dims[axis]), linalg.IndexOp(axis).result)
        return tensor.extract(flat, [linear])

    return generic([], [init], [identity_map(rank)], [PARALLEL] * rank, element)[0]


def _unit_dim_groups(rank: int, unit_axes: set) -> list:
    """Reassociation of a shape of ``rank`` dims onto the same shape without ``unit_axes``.

    Each size-1 axis joins the group of the kept axis before it (or, before the first kept axis, the
    first group), so that no group holds more than one unknown size of the kept shape.
    """
    kept = [i for i in range(rank) if i not in unit_axes]
    if not kept:
        return []
    groups = [[i] for i in kept]
    owner = 0
    for i in range(rank):
        if i in unit_axes:
            groups[owner].append(i)
        elif i != kept[0]:
            owner += 1
    return [sorted(g) for g in groups]


def _without_unit_dims(x, result_type, unit_axes: set):
    """collapse_shape of x's ``unit_axes`` (squeeze), cast to ``result_type`` where it is more
    static."""
    shape, elem = shape_of(x), element_type(x)
    if any(
        shape[i] is None for i in unit_axes
    ):  # squeezed dims are 1: say so, as a rank-0 collapse needs
        shape = [1 if i in unit_axes else d for i, d in enumerate(shape)]
        x = tensor.cast(_tensor_type(shape, elem), x)
    groups = _unit_dim_groups(len(shape), unit_axes)
    collapsed = [
        None if any(shape[i] is None for i in g) else _product([shape[i] for i in g])
        for g in groups
    ]
    collapsed_type = _tensor_type(collapsed, elem)
    out = tensor.CollapseShapeOp(collapsed_type, x, _reassociation(groups)).result
    return out if collapsed_type == result_type else tensor.cast(result_type, out)


def _with_unit_dims(x, result_type, unit_axes: set):
    """expand_shape of x with size-1 dims at ``unit_axes`` of the result (expand_dims)."""
    shape = shape_of(result_type)
    kept = [d for i, d in enumerate(shape) if i not in unit_axes]
    if shape_of(x) != kept:  # expand_shape needs x's dims exactly as static as the result's
        x = tensor.cast(_tensor_type(kept, element_type(x)), x)
    groups = _unit_dim_groups(len(shape), unit_axes)
    sizes = iter(dim(x, i) for i in range(len(shape_of(x))))
    output = [scalar_index(1) if i in unit_axes else next(sizes) for i in range(len(shape))]
    dynamic = [v for v, d in zip(output, shape) if d is None]
    static = [_DYNAMIC if d is None else d for d in shape]
    return tensor.ExpandShapeOp(result_type, x, _reassociation(groups), dynamic, static).result


def _dims_of(x) -> list:
    return [dim(x, i) for i in range(len(shape_of(x)))]


def _element_count(x):
    total = None
    for i in range(len(shape_of(x))):
        d = dim(x, i)
        total = d if total is None else arith.muli(total, d)
    return total if total is not None else scalar_index(1)


def scalar_index(n):
    return const_index(n)


@lowers("reshape")
def _reshape(op):
    (x,) = op.operands
    target = list(op.attrs["shape"])
    result_shape = shape_of(op.result_type)
    dims = []
    for i, d in enumerate(result_shape):
        if d is not None:
            dims.append(scalar_index(d))
        else:  # the -1 dim of a reshape whose input has unknown dims: total / known
            known = 1
            for t in target:
                if t != -1:
                    known *= t
            if known:
                dims.append(arith.divui(_element_count(x), scalar_index(known)))
            else:  # beside a 0 (x must be empty): TF's non-zero dims of x over the others'
                others = _product([t for t in target if t not in (-1, 0)])
                dims.append(arith.divui(_nonzero_product(_dims_of(x)), scalar_index(others)))
    _check_size(op, x, target)
    return reshape_to(x, op.result_type, dims)


@lowers("reshape_like")
def _reshape_like(op):
    x, target = op.operands
    dims = [dim(target, i) for i in range(len(shape_of(target)))]
    if None in shape_of(x) + shape_of(target):
        _report_size_mismatch(op, x, _product_of(dims), hole=False)
    return reshape_to(x, op.result_type, dims)


def _check_size(op, x, target: list) -> None:
    """TF's run-time check of a reshape of x to the static ``target`` (one -1 at most): x's element
    count is the target's (with a -1: a multiple of the other dims' product). Only x's unknown dims
    can break it (the graph checked the rest), and with a -1 only when its known dims' product is
    no multiple of the other dims'."""
    known = [d for d in shape_of(x) if d is not None]
    if len(known) == len(shape_of(x)):
        return
    wanted = _product([t for t in target if t != -1])
    hole = -1 in target
    if hole and wanted and _product(known) % wanted == 0:
        return
    # a -1 beside a 0: x must be empty (TF: "... but the requested shape has 0")
    _report_size_mismatch(op, x, scalar_index(wanted), hole and wanted != 0)


def _report_size_mismatch(op, x, wanted: ir.Value, hole: bool) -> None:
    """Fails the run with TF's "Input to reshape is a tensor with N values, but the requested shape
    has M" (``hole``: "requires a multiple of M") when x's element count does not fit ``wanted``:
    on the CPU a call of the host, elsewhere a record the launch plan reads after the kernels."""
    total = _element_count(x)
    if hole:
        zero = scalar_index(0)
        no_divisor = arith.cmpi(arith.CmpIPredicate.eq, wanted, zero)
        divisor = arith.select(no_divisor, scalar_index(1), wanted)
        left = arith.select(no_divisor, total, arith.remui(total, divisor))
        failed = arith.cmpi(arith.CmpIPredicate.ne, left, zero)
    else:
        failed = arith.cmpi(arith.CmpIPredicate.ne, total, wanted)
    fail_when(op.operation, failed, RESHAPE_SIZE_MISMATCH, [total, wanted, scalar_index(int(hole))])


def _product_of(dims: list) -> ir.Value:
    """The product of index values ``dims`` (1 for none)."""
    total = scalar_index(1)
    for d in dims:
        total = arith.muli(total, d)
    return total


def _check_shape_entries(op, wanted: list, holes: list) -> ir.Value | None:
    """TF's Reshape kernel's checks of the shape vector's entries, in its order (dim by dim): a
    size below -1 ("Size 1 must be non-negative, not -2"), a second -1 ("Only one input size may
    be -1, not both 0 and 2"). Returns whether some entry is -1 (None for no entries)."""
    seen, first = None, None
    for j, (d, hole) in enumerate(zip(wanted, holes)):
        negative = arith.cmpi(arith.CmpIPredicate.slt, d, const_index(-1))
        message = f"Size {j} must be non-negative, not {{0}}"
        fail_out_of_range(op.operation, negative, message, [d])
        if seen is not None:
            message = f"Only one input size may be -1, not both {{0}} and {j}"
            fail_out_of_range(op.operation, arith.andi(hole, seen), message, [first])
            first = arith.select(seen, first, const_index(j))
            seen = arith.ori(seen, hole)
        else:
            seen, first = hole, const_index(j)
    return seen


def _check_shape_size(op, total, known, any_hole, no_known) -> None:
    """TF's Reshape size check for a shape known at run time: x's element count is the product of
    the entries, or with a -1 a multiple of the others' product ("Input to reshape is a tensor
    with 6 values, but the requested shape requires a multiple of 4"; a product of 0 then must
    meet no values, "... has 0")."""
    exact = arith.cmpi(arith.CmpIPredicate.ne, total, known)
    if any_hole is None:
        fail_when(op.operation, exact, RESHAPE_SIZE_MISMATCH, [total, known, const_index(0)])
        return
    divisor = arith.select(no_known, const_index(1), known)
    left = arith.select(no_known, total, arith.remui(total, divisor))
    uneven = arith.cmpi(arith.CmpIPredicate.ne, left, const_index(0))
    failed = arith.select(any_hole, uneven, exact)
    multiple = arith.andi(any_hole, arith.xori(no_known, scalar_const(True, no_known.type)))
    flag = arith.index_cast(ir.IndexType.get(), multiple)
    fail_when(op.operation, failed, RESHAPE_SIZE_MISMATCH, [total, known, flag])


def _nonzero_product(dims: list, skipped=()) -> ir.Value:
    """The product of the index values ``dims`` that are not 0 (nor marked in ``skipped``, i1
    values one per dim), 1 for none."""
    one, zero = const_index(1), const_index(0)
    total = one
    for j, d in enumerate(dims):
        factor = arith.select(arith.cmpi(arith.CmpIPredicate.eq, d, zero), one, d)
        if skipped:
            factor = arith.select(skipped[j], one, factor)
        total = arith.muli(total, factor)
    return total


@lowers("reshape_to_shape")
def _reshape_to_shape(op):
    """The shape vector's values as index dims, its -1 sized as total / (product of the others),
    0 when that product is 0 (no division traps)."""
    x, shape_vector = op.operands
    index_type = ir.IndexType.get()
    wanted = [
        arith.index_cast(index_type, tensor.ExtractOp(shape_vector, [const_index(i)]).result)
        for i in range(shape_of(shape_vector)[0])
    ]
    minus_one = const_index(-1)
    holes = [arith.cmpi(arith.CmpIPredicate.eq, d, minus_one) for d in wanted]
    any_hole = _check_shape_entries(op, wanted, holes)
    one, zero = const_index(1), const_index(0)
    known = one
    for d, hole in zip(wanted, holes):
        known = arith.muli(known, arith.select(hole, one, d))
    total = one
    dims_of_x = _dims_of(x)
    for d in dims_of_x:
        total = arith.muli(total, d)
    no_known = arith.cmpi(arith.CmpIPredicate.eq, known, zero)
    _check_shape_size(op, total, known, any_hole, no_known)
    # TF's -1 beside a 0: the product of x's non-zero dims over that of the other entries' (x is
    # then empty: the size check let no values through)
    empty_fill = arith.divui(_nonzero_product(dims_of_x), _nonzero_product(wanted, holes))
    filled = arith.select(
        no_known, empty_fill, arith.divui(total, arith.select(no_known, one, known))
    )
    dims = [arith.select(hole, filled, d) for d, hole in zip(wanted, holes)]
    static = shape_of(op.result_type)
    return reshape_to(
        x, op.result_type, [d if s is None else const_index(s) for d, s in zip(dims, static)]
    )


@lowers("expand_dims")
def _expand_dims(op):
    (x,) = op.operands
    rank = len(shape_of(op.result_type))
    return _with_unit_dims(x, op.result_type, {op.attrs["axis"] % rank})


@lowers("squeeze")
def _squeeze(op):
    (x,) = op.operands
    rank = len(shape_of(x))
    for axis in sorted({a % rank for a in op.attrs["axes"]}):
        if shape_of(x)[axis] is None:  # the graph takes it for 1 (x[4] of an unknown dim too)
            d = dim(x, axis)
            not_one = arith.cmpi(arith.CmpIPredicate.ne, d, const_index(1))
            message = f"Can not squeeze dim[{axis}], expected a dimension of 1, got {{0}}"
            fail_out_of_range(op.operation, not_one, message, [d])
    return _without_unit_dims(x, op.result_type, {a % rank for a in op.attrs["axes"]})


@lowers("transpose")
def _transpose(op):
    (x,) = op.operands
    perm = list(op.attrs["perm"])
    if perm == sorted(
        perm
    ):  # the identity: a 0-d linalg.transpose asserts in MLIR (empty permutation map)
        return x if x.type == op.result_type else tensor.cast(op.result_type, x)
    dynamic = {i: dim(x, p) for i, p in enumerate(perm) if shape_of(op.result_type)[i] is None}
    return linalg.transpose(x, outs=[empty(op.result_type, dynamic)], permutation=perm)


# ---- slices: offsets and sizes that may be index values ------------------------------------------


def _mixed(values: list) -> tuple:
    """(dynamic operands, static list) of offsets/sizes/strides given as ints or index values."""
    dynamic = [v for v in values if isinstance(v, ir.Value)]
    static = [_DYNAMIC if isinstance(v, ir.Value) else int(v) for v in values]
    return dynamic, static


def _is_empty(sizes) -> bool:
    """Whether a slice of these sizes is known to hold no element.

    Such a slice is never built: its offset may lawfully be the dim's size (x[:, 4:] of 4 columns,
    anything of a 0-size dim), which tensor.extract_slice/insert_slice reject as out of bounds.
    """
    return any(isinstance(s, int) and s == 0 for s in sizes)


def _extract(source, result_type, offsets, sizes, strides):
    if _is_empty(sizes):
        unknown = [i for i, d in enumerate(shape_of(result_type)) if d is None]
        return empty(
            result_type,
            {
                i: sizes[i] if isinstance(sizes[i], ir.Value) else const_index(sizes[i])
                for i in unknown
            },
        )
    (do, so), (ds, ss), (dt, st) = _mixed(offsets), _mixed(sizes), _mixed(strides)
    return tensor.ExtractSliceOp(result_type, source, do, ds, dt, so, ss, st).result


def _insert(source, dest, offsets, strides):
    """tensor.insert_slice of all of ``source`` into ``dest`` at ``offsets`` with ``strides``."""
    sizes = [d if d is not None else dim(source, i) for i, d in enumerate(shape_of(source))]
    if _is_empty(sizes):
        return dest
    (do, so), (ds, ss), (dt, st) = _mixed(offsets), _mixed(sizes), _mixed(strides)
    return tensor.InsertSliceOp(source, dest, do, ds, dt, so, ss, st).result


def _sizes(result_type, dynamic_size) -> list:
    """Each result dim as an int, or ``dynamic_size(i)`` (an index value) where it is unknown."""
    return [d if d is not None else dynamic_size(i) for i, d in enumerate(shape_of(result_type))]


def _clamp_index(v, d, masked, default_is_end):
    """Python's normalization of one slice bound on a dim of run-time size d (an index value)."""
    if masked:
        return d if default_is_end else const_index(0)
    if v < 0:
        return arith.maxsi(arith.addi(d, const_index(v)), const_index(0))
    return arith.minsi(const_index(v), d)


def _axis_bounds(x, i, b, e, s, begin_masked, end_masked) -> tuple:
    """(offset, size) of x[b:e:s] along axis i: ints when the dim is known, else index values."""
    d = shape_of(x)[i]
    if d is not None:
        start, stop, step = slice(
            None if begin_masked else b, None if end_masked else e, s
        ).indices(d)
        return start, len(range(start, stop, step))
    dv = dim(x, i)
    start = _clamp_index(b, dv, begin_masked, False)
    stop = _clamp_index(e, dv, end_masked, True)
    extent = arith.maxsi(arith.subi(stop, start), const_index(0))
    return start, arith.divsi(arith.addi(extent, const_index(s - 1)), const_index(s))


def _strided_bounds(x, attrs) -> tuple:
    offsets, sizes = [], []
    for i, (b, e, s) in enumerate(zip(attrs["begin"], attrs["end"], attrs["strides"])):
        off, size = _axis_bounds(
            x, i, b, e, s, attrs["begin_mask"] >> i & 1, attrs["end_mask"] >> i & 1
        )
        offsets.append(off)
        sizes.append(size)
    return offsets, sizes, list(attrs["strides"])


@lowers("slice")
def _slice(op):
    (x,) = op.operands
    begin = op.attrs["begin"]  # sizes come from the result type
    _check_slice_bounds(op, x, begin, shape_of(op.result_type))
    # A -1 size on an unknown dim runs to its end: dim - begin.
    sizes = _sizes(op.result_type, lambda i: arith.subi(dim(x, i), const_index(begin[i])))
    return _extract(x, op.result_type, list(begin), sizes, [1] * len(begin))


def _check_slice_bounds(op, x, begin: list, sizes: list) -> None:
    """TF's checks of tf.slice on the dims known at run time only (the graph checked the others):
    begin within the dim, a static size within what is left of it."""
    for i, (b, size) in enumerate(zip(begin, sizes)):
        if shape_of(x)[i] is not None:
            continue
        d = dim(x, i)
        too_far = arith.cmpi(arith.CmpIPredicate.sgt, const_index(b), d)
        message = f"Expected begin[{i}] in [0, {{0}}], but got {b}"
        fail_out_of_range(op.operation, too_far, message, [d])
        if size is not None:
            left = arith.subi(d, const_index(b))
            short = arith.cmpi(arith.CmpIPredicate.slt, left, const_index(size))
            message = f"Expected size[{i}] in [0, {{0}}], but got {size}"
            fail_out_of_range(op.operation, short, message, [left])


@lowers("strided_slice")
def _strided_slice(op):
    (x,) = op.operands
    offsets, sizes, strides = _strided_bounds(x, op.attrs)
    return _extract(x, op.result_type, offsets, sizes, strides)


def _zeros(result_type, like):
    """Zeros of ``result_type``, unknown dims taken from ``like`` (same shape)."""
    init = empty(result_type, _like_dims(result_type, like))
    return linalg.fill(scalar_const(0, element_type(result_type)), outs=[init])


def _check_gradient_sizes(op, g, sizes: list, kernel: str, what: str) -> None:
    """Fails the run where g's dims are not ``sizes`` (what the forward op made of x). A gradient
    op's operands agree in graphs tgc builds; an artifact's hand-written IR may not, and the op
    writes g into (or reads it over) x's sizes: a mismatch must fail the run, never write past a
    buffer."""
    check_dims(
        op.operation,
        g,
        sizes,
        f"{kernel}: the gradient's shape [{{got}}] is not {what} [{{wanted}}]",
    )


@lowers("strided_slice_grad")
def _strided_slice_grad(op):
    g, x = op.operands
    offsets, sizes, strides = _strided_bounds(x, op.attrs)
    _check_gradient_sizes(op, g, sizes, "StridedSliceGrad", "the slice's shape")
    return _insert(g, _zeros(op.result_type, x), offsets, strides)


# ---- concat and split ----------------------------------------------------------------------------


@lowers("concat")
def _concat(op):
    a, b = op.operands
    rank = len(shape_of(op.result_type))
    axis = op.attrs["axis"] % rank
    _check_same_dims(op, [a, b], [i for i in range(rank) if i != axis])
    # An unknown result dim is unknown in both operands (the result rule merges known dims).
    dynamic = {
        i: arith.addi(dim(a, i), dim(b, i)) if i == axis else dim(a, i)
        for i, d in enumerate(shape_of(op.result_type))
        if d is None
    }
    ones = [1] * rank
    with_a = _insert(a, empty(op.result_type, dynamic), [0] * rank, ones)
    a_len = shape_of(a)[axis]
    offsets = [
        (a_len if a_len is not None else dim(a, axis)) if i == axis else 0 for i in range(rank)
    ]
    return _insert(b, with_a, offsets, ones)


def _check_same_dims(op, operands: list, axes: list) -> None:
    """Fails the run with "Incompatible shapes: [5,2] vs. [3,4]" when the operands' dims on
    ``axes`` differ at run time (checked where one is unknown and they are not equal by
    construction); a concat (a stack) of them would otherwise read past the smaller."""
    first, rest = operands[0], operands[1:]
    differ = [
        arith.cmpi(arith.CmpIPredicate.ne, dim(first, i), dim(v, i))
        for v in rest
        for i in axes
        if None in (shape_of(first)[i], shape_of(v)[i]) and dim_key(first, i) != dim_key(v, i)
    ]
    if not differ:
        return
    failed = differ[0]
    for d in differ[1:]:
        failed = arith.ori(failed, d)
    fail_when(op.operation, failed, INCOMPATIBLE_SHAPES, shapes_values(operands))


@lowers("split_like")
def _split_like(op):
    x, a, b = op.operands
    rank = len(shape_of(x))
    axis = op.attrs["axis"] % rank
    first_type, second_type = op.result_types
    first = _sizes(first_type, lambda i: dim(a, i) if i == axis else dim(x, i))
    second = _sizes(second_type, lambda i: dim(b, i) if i == axis else dim(x, i))
    if isinstance(first[axis], int) and shape_of(x)[axis] == first[axis]:
        second[axis] = 0  # the first piece takes all of x: the second is empty whatever b says
    else:
        _check_pieces(op, x, first[axis], second[axis], axis)
    _check_other_dims(op, x, first, axis)
    offsets = [first[axis] if i == axis else 0 for i in range(rank)]
    ones = [1] * rank
    return [
        _extract(x, first_type, [0] * rank, first, ones),
        _extract(x, second_type, offsets, second, ones),
    ]


def _check_pieces(op, x, first, second, axis: int) -> None:
    """split_like's pieces must add up to x along the axis (the concat they came from): where a
    size is known only at run time, a mismatch fails the run instead of reading past x or giving
    pieces of the wrong size."""
    if isinstance(first, int) and isinstance(second, int) and shape_of(x)[axis] is not None:
        return  # the result rule checked them
    total = arith.addi(as_index(first), as_index(second))
    d = dim(x, axis)
    message = (
        f"concat's gradient (split_like): pieces of {{0}} and {{1}} along axis {axis} of a "
        "gradient of {2} there"
    )
    fail_out_of_range(
        op.operation,
        arith.cmpi(arith.CmpIPredicate.ne, total, d),
        message,
        [as_index(first), as_index(second), d],
    )


def _check_other_dims(op, x, sizes: list, axis: int) -> None:
    """The pieces take x's other dims, which their types may know: where x's is known only at run
    time, it must be that (an extract of the typed size would read past x)."""
    others = [s if i != axis and isinstance(s, int) else None for i, s in enumerate(sizes)]
    message = (
        "concat's gradient (split_like): a gradient of shape [{got}] for pieces of shape "
        f"[{{wanted}}] (axis {axis} split)"
    )
    check_dims(op.operation, x, others, message)


@lowers("split")
def _split(op):
    (x,) = op.operands
    rank = len(shape_of(x))
    axis = op.attrs["axis"] % rank
    count = op.attrs["num_split"]
    piece_type = op.result_types[0]
    if shape_of(x)[axis] is None:
        d = dim(x, axis)
        uneven = arith.cmpi(
            arith.CmpIPredicate.ne, arith.remui(d, const_index(count)), const_index(0)
        )
        message = (
            "Number of ways to split should evenly divide the split dimension, but got split_dim "
            f"{axis} (size = {{0}}) and num_split {count}"
        )
        fail_out_of_range(op.operation, uneven, message, [d])
    sizes = _sizes(
        piece_type, lambda i: arith.divsi(dim(x, i), const_index(count)) if i == axis else dim(x, i)
    )
    piece = sizes[axis]
    outs = []
    for k in range(count):
        start = piece * k if isinstance(piece, int) else arith.muli(piece, const_index(k))
        offsets = [start if i == axis else 0 for i in range(rank)]
        outs.append(_extract(x, piece_type, offsets, sizes, [1] * rank))
    return outs


# ---- tile ----------------------------------------------------------------------------------------


def _pairs(rank) -> list:
    return [[2 * i, 2 * i + 1] for i in range(rank)]


def _interleaved_type(x, multiples, elem):
    """[m0, d0, m1, d1, ...] with x's dims (unknown ones dynamic)."""
    return _tensor_type([v for m, d in zip(multiples, shape_of(x)) for v in (m, d)], elem)


@lowers("tile")
def _tile(op):
    (x,) = op.operands
    multiples = list(op.attrs["multiples"])
    if not multiples:
        return x
    rank, elem = len(multiples), element_type(x)
    spread_type = _interleaved_type(x, multiples, elem)
    init = empty(
        spread_type, {2 * i + 1: dim(x, i) for i, d in enumerate(shape_of(x)) if d is None}
    )
    maps = [affine_map(2 * rank, [2 * i + 1 for i in range(rank)]), identity_map(2 * rank)]
    spread = generic([x], [init], maps, [PARALLEL] * (2 * rank), lambda a, _: a)[0]
    # collapse_shape's result is dynamic wherever a group has an unknown dim; cast to the op's type.
    collapsed = [None if None in (m, d) else m * d for m, d in zip(multiples, shape_of(x))]
    out = tensor.CollapseShapeOp(
        _tensor_type(collapsed, elem), spread, _reassociation(_pairs(rank))
    ).result
    return out if collapsed == shape_of(op.result_type) else tensor.cast(op.result_type, out)


@lowers("tile_grad")
def _tile_grad(op):
    g, x = op.operands
    multiples = list(op.attrs["multiples"])
    if not multiples:
        return g
    rank, elem = len(multiples), element_type(g)
    tiled = [
        m * d if d is not None else arith.muli(dim(x, i), const_index(m))
        for i, (m, d) in enumerate(zip(multiples, shape_of(x)))
    ]
    _check_gradient_sizes(op, g, tiled, "TileGrad", "the tile's shape")
    # expand_shape needs each of g's dims static exactly when its (m, d) group is.
    grouped = [None if d is None else m * d for m, d in zip(multiples, shape_of(x))]
    if shape_of(g) != grouped:
        g = tensor.cast(_tensor_type(grouped, elem), g)
    spread_type = _interleaved_type(x, multiples, elem)
    dynamic = [dim(x, i) for i, d in enumerate(shape_of(x)) if d is None]
    static = [_DYNAMIC if d is None else d for d in shape_of(spread_type)]
    spread = tensor.ExpandShapeOp(
        spread_type, g, _reassociation(_pairs(rank)), dynamic, static
    ).result
    maps = [identity_map(2 * rank), affine_map(2 * rank, [2 * i + 1 for i in range(rank)])]
    iterators = [REDUCTION, PARALLEL] * rank
    add = arith.addf if is_float(elem) else arith.addi
    return generic(
        [spread], [_zeros(op.result_type, x)], maps, iterators, lambda a, acc: add(a, acc)
    )[0]


# ---- one_hot and shape ---------------------------------------------------------------------------


@lowers("one_hot")
def _one_hot(op):
    (indices,) = op.operands
    out_shape = shape_of(op.result_type)
    rank = len(out_shape)
    axis = op.attrs["axis"]
    at = rank - 1 if axis == -1 else axis
    source = [j for j in range(rank) if j != at]  # result dim j reads indices dim source.index(j)
    init = empty(
        op.result_type,
        {j: dim(indices, source.index(j)) for j, d in enumerate(out_shape) if d is None},
    )
    elem = element_type(op.result_type)
    on, off = scalar_const(op.attrs["on_value"], elem), scalar_const(op.attrs["off_value"], elem)
    maps = [affine_map(rank, source), identity_map(rank)]

    def body(index, _):
        position = arith.index_cast(index.type, linalg.IndexOp(at).result)
        return arith.select(arith.cmpi(arith.CmpIPredicate.eq, index, position), on, off)

    return generic([indices], [init], maps, [PARALLEL] * rank, body)[0]


@lowers("shape")
def _shape(op):
    (x,) = op.operands
    shape = shape_of(x)
    elem = element_type(op.result_type)
    if None not in shape:
        dense = ir.DenseElementsAttr.get(
            np.array(shape, dtype=np.int64 if str(elem) == "i64" else np.int32), type=op.result_type
        )
        return arith.ConstantOp(op.result_type, dense).result
    dims = [arith.index_cast(elem, dim(x, i)) for i in range(len(shape))]
    return tensor.FromElementsOp(op.result_type, dims).result
