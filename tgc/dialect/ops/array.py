"""Constants and shape-manipulating ops: constant, fill, reshape, transpose, slicing, concatenation.

Ops that broadcast one tensor to another's shape (``broadcast_like``) or fill one (``fill_like``)
take the target tensor as an operand, so they need no shape values and work with unknown (``None``)
dims. The gradient helpers (``split_like``, ``strided_slice_grad``, ``tile_grad``) follow the same
idea: the forward operand whose shape the gradient takes is an operand, so its unknown dims are read
at run time. Every op here is lowered in ``tgc/lowering/to_core/array.py``; the TF1 wrappers are in
``tgc/frontend/array_ops.py``.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import elementwise_flops, no_flops, reduction_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, Sample, ShapeError, op
from tgc.dialect.shapes import (
    INT_DTYPES,
    broadcast_shapes,
    compatible,
    normalize_axis,
    same_dtype,
    spec,
)
from tgc.dialect.types import as_dtype, format_shape, numpy_dtype


@op("constant", tf_type="Const", attrs={"value": Attr("tensor")})
class Constant:
    """A constant tensor (`tf.constant`); its value is a dense elements attribute."""

    flops = no_flops

    def infer(value):
        return spec(value.shape, as_dtype(value.dtype).name)

    def eval(value):
        return np.array(value)

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(shapes=(), attrs={"value": np.arange(6, dtype=np.float32).reshape(2, 3)}),
        Sample(shapes=(), attrs={"value": np.array([3, -1], dtype=np.int32)}),
    ]


def range_count(start, limit, delta) -> int:
    """How many values ``range`` makes: ceil((limit - start) / delta), none when that is not
    positive or delta is 0 (the frontend's asserts give TF's errors for those)."""
    if delta == 0:
        return 0
    if np.issubdtype(np.asarray(start).dtype, np.integer):
        count = -((int(start) - int(limit)) // int(delta))
    else:
        count = int(np.ceil((float(limit) - float(start)) / float(delta)))
    return max(count, 0)


@op("range", tf_type="Range", operands=("start", "limit", "delta"), traits=("value_shaped",))
class Range:
    """start, start + delta, ... up to (not including) limit, from scalars known at run time
    (`tf.range` of a computed bound): start + i * delta for i below ``range_count``. Total: a
    zero delta or a bound behind start gives no values; `tf.range` adds TF's checks as asserts."""

    flops = no_flops

    def infer(start, limit, delta):
        dtype = same_dtype(start, limit, delta, allowed=("float32", "float64") + INT_DTYPES)
        for name, s in (("start", start), ("limit", limit), ("delta", delta)):
            if s.shape is not None and tuple(s.shape) != ():
                raise ShapeError(f"range {name} must be a scalar, not {format_shape(s.shape)}")
        return spec((None,), dtype)

    def eval(start, limit, delta):
        count = range_count(start, limit, delta)
        return (start + np.arange(count, dtype=start.dtype) * delta).astype(start.dtype)

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(shapes=((), (), ()), dtypes="int32", values=tuple(np.int32(v) for v in (2, 11, 3))),
        Sample(shapes=((), (), ()), dtypes="int64", values=tuple(np.int64(v) for v in (5, -4, -2))),
        Sample(shapes=((), (), ()), values=tuple(np.float32(v) for v in (0.5, 2.25, 0.5))),
        Sample(shapes=((), (), ()), dtypes="int32", values=tuple(np.int32(v) for v in (3, 1, 1))),
    ]


@op("fill_like", tf_type="FillLike", operands=("x",), attrs={"value": Attr("float")})
class FillLike:
    """A tensor of x's shape and dtype filled with one value (`tf.zeros_like`, `tf.ones_like`).
    Not differentiable, as TF's ZerosLike and OnesLike: its value does not depend on x's."""

    flops = no_flops

    def infer(x, value):
        return x

    def eval(x, value):
        return np.full(x.shape, value, dtype=x.dtype)

    grad = NOT_DIFFERENTIABLE

    samples = [
        Sample(shapes=((2, 3),), attrs={"value": 1.5}, dynamic=((0, 0),)),
        Sample(shapes=((4,),), dtypes="int32", attrs={"value": 7.0}, dynamic=((0, 0),)),
    ]


@op("broadcast_like", tf_type="BroadcastTo", operands=("x", "target"), shape_operands=("target",))
class BroadcastLike:
    """x broadcast (numpy rules) to the shape of target; target's values are not read."""

    flops = no_flops

    def infer(x, target):
        try:
            result = broadcast_shapes(x.shape, target.shape)
        except ShapeError:
            result = None
        if (
            result is None
            or len(result) != len(target.shape)
            or any(r is not None and t is not None and r != t for r, t in zip(result, target.shape))
        ):
            raise ShapeError(
                f"cannot broadcast {format_shape(x.shape)} to {format_shape(target.shape)}"
            )
        return spec(target.shape, x.dtype)

    def eval(x, target):
        return np.broadcast_to(x, target.shape).copy()

    def grad(b, op, g):
        x, target = op.inputs
        return [b.unbroadcast(g, x), None]

    samples = [
        Sample(shapes=((1, 3), (4, 3)), dynamic=((1, 0),)),
        Sample(shapes=((3,), (2, 4, 3)), dynamic=((1, 1),)),
    ]


@op(
    "fill",
    tf_type="Fill",
    attrs={"shape": Attr("ints"), "value": Attr("float"), "dtype": Attr("dtype")},
)
class Fill:
    """A tensor of a static shape filled with one value (`tf.fill`, `tf.zeros`, `tf.ones`)."""

    flops = no_flops

    def infer(shape, value, dtype):
        if any(d < 0 for d in shape):
            raise ShapeError(f"fill shape {list(shape)} has a negative dim")
        return spec(shape, dtype)

    def eval(shape, value, dtype):
        return np.full(tuple(shape), value, dtype=numpy_dtype(dtype))

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(shapes=(), attrs={"shape": [2, 3], "value": 0.5, "dtype": "float32"}),
        Sample(shapes=(), attrs={"shape": [4], "value": 3.0, "dtype": "int64"}),
    ]


@op("expand_dims", tf_type="ExpandDims", operands=("x",), attrs={"axis": Attr("int")})
class ExpandDims:
    """Inserts a size-1 axis at ``axis`` (`tf.expand_dims`); negative axes count from the end."""

    flops = no_flops

    def infer(x, axis):
        rank = len(x.shape) + 1
        if not -rank <= axis < rank:
            raise ShapeError(
                f"axis {axis} is out of range for expand_dims of a rank-{rank - 1} tensor"
            )
        axis %= rank
        return spec(x.shape[:axis] + (1,) + x.shape[axis:], x.dtype)

    def eval(x, axis):
        return np.expand_dims(x, axis)

    def grad(b, op, g):
        return [b.squeeze(g, axes=[op.attrs["axis"] % len(g.shape)])]

    samples = [
        Sample(shapes=((2, 3),), attrs={"axis": 1}, dynamic=((0, 0),)),
        Sample(shapes=((2, 3),), attrs={"axis": -1}, dynamic=((0, 0),)),
        Sample(shapes=((),), attrs={"axis": 0}),
    ]


@op("squeeze", tf_type="Squeeze", operands=("x",), attrs={"axes": Attr("ints")})
class Squeeze:
    """Removes the given size-1 axes (`tf.squeeze`; the frontend resolves ``axis=None``)."""

    flops = no_flops

    def infer(x, axes):
        rank = len(x.shape)
        norm = set()
        for a in axes:
            if not -rank <= a < rank:
                raise ShapeError(f"squeeze axis {a} is out of range for rank {rank}")
            if x.shape[a % rank] not in (1, None):
                raise ShapeError(
                    f"cannot squeeze axis {a} of shape {format_shape(x.shape)}: its size is not 1"
                )
            norm.add(a % rank)
        return spec(tuple(d for i, d in enumerate(x.shape) if i not in norm), x.dtype)

    def eval(x, axes):
        return np.squeeze(x, axis=tuple(a % x.ndim for a in axes)) if axes else x.copy()

    def grad(b, op, g):
        (x,) = op.inputs
        for axis in sorted(a % len(x.shape) for a in op.attrs["axes"]):
            g = b.expand_dims(g, axis=axis)
        return [g]

    samples = [
        Sample(shapes=((2, 1, 3, 1),), attrs={"axes": [1, -1]}, dynamic=((0, 0),)),
        Sample(shapes=((1,),), attrs={"axes": [0]}),
    ]


def _reshape_result(in_shape, shape):
    shape = [int(d) for d in shape]
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape to {shape} has more than one -1")
    if any(d < -1 for d in shape):
        raise ShapeError(f"reshape to {shape} has a negative dim")
    known_in = all(d is not None for d in in_shape)
    total_in = int(np.prod(in_shape)) if known_in else None
    rest = int(np.prod([d for d in shape if d != -1]))
    if -1 in shape:
        if total_in is not None:
            if (rest == 0 and total_in) or (rest and total_in % rest):
                raise ShapeError(
                    f"cannot reshape {format_shape(in_shape)} ({total_in} elements) to {shape}"
                )
            shape[shape.index(-1)] = reshape_dims(in_shape, shape)[shape.index(-1)]
        else:
            return tuple(None if d == -1 else d for d in shape)
    elif total_in is not None and total_in != rest:
        raise ShapeError(
            f"cannot reshape {format_shape(in_shape)} ({total_in} elements) "
            f"to {shape} ({rest} elements)"
        )
    return tuple(shape)


@op("reshape", tf_type="Reshape", operands=("x",), attrs={"shape": Attr("ints")})
class Reshape:
    """Same elements in a new shape, row-major; one dim may be -1 (`tf.reshape`)."""

    flops = no_flops

    def infer(x, shape):
        return spec(_reshape_result(x.shape, shape), x.dtype)

    def eval(x, shape):
        return np.reshape(x, reshape_dims(x.shape, shape)).copy()

    def grad(b, op, g):
        (x,) = op.inputs
        if x.spec.is_static:
            return [b.reshape(g, shape=list(x.shape))]
        # One unknown dim in x: -1 recovers it from g's element count, unless x has a 0 dim
        # (no count).
        if sum(d is None for d in x.shape) == 1 and 0 not in x.shape:
            return [b.reshape(g, shape=[-1 if d is None else d for d in x.shape])]
        return [b.reshape_like(g, x)]

    samples = [
        Sample(shapes=((2, 3, 4),), attrs={"shape": [6, -1]}),
        Sample(shapes=((4, 3),), attrs={"shape": [-1]}, dynamic=((0, 0),)),
        Sample(shapes=((4, 3),), attrs={"shape": [3, -1, 2]}, dynamic=((0, 0),)),
        Sample(shapes=((1,),), attrs={"shape": []}),
    ]


@op("reshape_like", tf_type="Reshape", operands=("x", "target"), shape_operands=("target",))
class ReshapeLike:
    """x's elements in target's shape (read at run time); target's values are not read. As TF's
    shape rule for Reshape, one unknown dim of target is sized from x's static element count."""

    flops = no_flops

    def infer(x, target):
        known = [d for d in x.shape + target.shape if d is None]
        if not known and int(np.prod(x.shape)) != int(np.prod(target.shape)):
            raise ShapeError(
                f"cannot reshape {format_shape(x.shape)} to {format_shape(target.shape)}"
            )
        return spec(_sized_from_count(x.shape, target.shape), x.dtype)

    def eval(x, target):
        return np.reshape(x, target.shape).copy()

    def grad(b, op, g):
        x, target = op.inputs
        return [b.reshape_like(g, x), None]

    samples = [
        Sample(shapes=((3, 4), (2, 6)), dynamic=((0, 0), (1, 1))),
        Sample(shapes=((2, 3), (6,)), dynamic=((1, 0),)),
    ]


def _sized_from_count(shape, target) -> tuple:
    """``target`` with its one unknown dim sized from the static element count of ``shape``
    (unchanged when that count is unknown); a count the other dims do not divide is TF's error."""
    if None in shape or list(target).count(None) != 1:
        return tuple(target)
    count = int(np.prod(shape))
    others = int(np.prod([d for d in target if d is not None]))
    if others == 0:
        return tuple(target)
    if count % others:
        raise ShapeError(
            f"Dimension size must be evenly divisible by {others} but is {count}: cannot reshape "
            f"{format_shape(shape)} to {format_shape(target)}"
        )
    return tuple(count // others if d is None else d for d in target)


def reshape_dims(x_shape, shape) -> tuple:
    """The dims ``shape`` asks for, its one -1 (if any) sized from x's element count; beside a 0
    entry (x then empty), as TF's Reshape: the product of x's non-zero dims over that of the other
    entries'. The lowering fails the run where they do not fit, in TF's words."""
    shape = [int(d) for d in shape]
    others = [d for d in shape if d != -1]
    known = int(np.prod(others))
    if known:
        missing = int(np.prod(x_shape)) // known
    else:
        missing = int(np.prod([d for d in x_shape if d])) // int(np.prod([d for d in others if d]))
    return tuple(missing if d == -1 else d for d in shape)


@op(
    "reshape_to_shape",
    tf_type="Reshape",
    operands=("x", "shape"),
    attrs={"known": Attr("ints")},
    traits=("value_shaped",),
)
class ReshapeToShape:
    """x's elements in the dims the vector ``shape`` holds at run time (`tf.reshape(x,
    [tf.shape(x)[0], -1])`); ``known`` is each dim as far as the graph knows it (-1: unknown),
    which is all the result's static shape can say."""

    flops = no_flops

    def infer(x, shape, known):
        if shape.dtype not in INT_DTYPES:
            raise ShapeError(f"reshape shape must be int32 or int64 but got {shape.dtype}")
        if shape.shape is None or len(shape.shape) != 1 or shape.shape[0] != len(known):
            raise ShapeError(
                f"reshape shape must be a vector of {len(known)} dims, "
                f"not {format_shape(shape.shape)}"
            )
        return spec(tuple(None if d < 0 else d for d in known), x.dtype)

    def eval(x, shape, known):
        return np.reshape(x, reshape_dims(x.shape, shape)).copy()

    def grad(b, op, g):
        x, _ = op.inputs
        return [b.reshape_like(g, x), None]

    samples = [
        Sample(
            shapes=((3, 4), (2,)),
            dtypes=("float32", "int32"),
            attrs={"known": [-1, -1]},
            values=(None, np.array([2, -1], np.int32)),
            dynamic=((0, 0),),
        ),
        Sample(
            shapes=((2, 3, 2), (3,)),
            dtypes=("float32", "int64"),
            attrs={"known": [-1, 3, -1]},
            values=(None, np.array([4, 3, 1], np.int64)),
        ),
        Sample(
            shapes=((0, 3), (2,)),
            dtypes=("float32", "int32"),
            attrs={"known": [-1, -1]},
            values=(None, np.array([-1, 0], np.int32)),
        ),
    ]


@op("transpose", tf_type="Transpose", operands=("x",), attrs={"perm": Attr("ints")})
class Transpose:
    """Permutes axes: result axis i is input axis perm[i] (`tf.transpose`)."""

    flops = no_flops

    def infer(x, perm):
        if sorted(perm) != list(range(len(x.shape))):
            raise ShapeError(f"perm {list(perm)} is not a permutation of the {len(x.shape)} axes")
        return spec(tuple(x.shape[p] for p in perm), x.dtype)

    def eval(x, perm):
        return np.transpose(x, perm).copy()

    def grad(b, op, g):
        perm = op.attrs["perm"]
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p] = i
        return [b.transpose(g, perm=inverse)]

    samples = [
        Sample(shapes=((2, 3, 4),), attrs={"perm": [2, 0, 1]}, dynamic=((0, 0),)),
        Sample(shapes=((2, 3),), dtypes="int32", attrs={"perm": [1, 0]}, dynamic=((0, 1),)),
        Sample(shapes=((),), attrs={"perm": []}),  # the identity: lowered to x itself
    ]


# ---- concatenation and splitting ----------------------------------------------------------------


def _merge_dims(a, b, skip, what):
    """Dims of two same-rank shapes that must agree except at ``skip``; a known dim wins over
    None."""
    if len(a) != len(b):
        raise ShapeError(
            f"{what} needs operands of the same rank but got {format_shape(a)} and "
            f"{format_shape(b)}"
        )
    out = []
    for i, (da, db) in enumerate(zip(a, b)):
        if i != skip and da is not None and db is not None and da != db:
            raise ShapeError(
                f"{what} operands {format_shape(a)} and {format_shape(b)} "
                f"differ in dim {i} ({da} vs {db})"
            )
        out.append(da if da is not None else db)
    return out


@op("concat", tf_type="ConcatV2", operands=("a", "b"), attrs={"axis": Attr("int")})
class Concat:
    """a and b joined along ``axis`` (`tf.concat` of two values; the frontend folds longer
    lists)."""

    flops = no_flops

    def infer(a, b, axis):
        dtype = same_dtype(a, b)
        if not a.shape:
            raise ShapeError("cannot concatenate scalars: concat needs operands of rank 1 or more")
        axis = normalize_axis(axis, len(a.shape))
        dims = _merge_dims(a.shape, b.shape, axis, "concat")
        da, db = a.shape[axis], b.shape[axis]
        dims[axis] = da + db if da is not None and db is not None else None
        return spec(dims, dtype)

    def eval(a, b, axis):
        return np.concatenate([a, b], axis=axis)

    def grad(b, op, g):
        x, y = op.inputs
        return b.split_like(g, x, y, axis=op.attrs["axis"])

    samples = [
        Sample(shapes=((2, 3), (4, 3)), attrs={"axis": 0}, dynamic=((0, 0), (1, 0))),
        Sample(shapes=((2, 3), (2, 1)), attrs={"axis": -1}, dynamic=((0, 0), (1, 0))),
        Sample(shapes=((2, 2, 3), (2, 1, 3)), dtypes="int32", attrs={"axis": 1}),
    ]


@op(
    "split_like",
    tf_type="SplitV",
    operands=("x", "a", "b"),
    attrs={"axis": Attr("int")},
    results=2,
    shape_operands=("a", "b"),
)
class SplitLike:
    """x cut along ``axis`` into a part shaped like a and the rest shaped like b
    (concat's gradient).

    a and b are the operands of the concat; only their shapes are read (at run time for unknown
    dims).
    """

    flops = no_flops

    def infer(x, a, b, axis):
        if not x.shape:
            raise ShapeError("cannot split a scalar")
        axis = normalize_axis(axis, len(x.shape))
        first = _merge_dims(x.shape, a.shape, axis, "split_like")
        second = _merge_dims(x.shape, b.shape, axis, "split_like")
        first[axis], second[axis] = a.shape[axis], b.shape[axis]
        return [spec(first, x.dtype), spec(second, x.dtype)]

    def eval(x, a, b, axis):
        first, second = np.split(x, [a.shape[axis]], axis=axis)
        return [first.copy(), second.copy()]

    def grad(b, op, ga, gb):
        return [b.concat(ga, gb, axis=op.attrs["axis"]), None, None]

    samples = [
        Sample(
            shapes=((6, 3), (2, 3), (4, 3)), attrs={"axis": 0}, dynamic=((0, 0), (1, 0), (2, 0))
        ),
        Sample(
            shapes=((2, 5), (2, 1), (2, 4)), attrs={"axis": 1}, dynamic=((0, 0), (1, 0), (2, 0))
        ),
    ]


@op(
    "split",
    tf_type="Split",
    operands=("x",),
    attrs={"num_split": Attr("int"), "axis": Attr("int")},
    results="variadic",
)
class Split:
    """x cut into ``num_split`` equal parts along ``axis`` (`tf.split` with an int)."""

    flops = no_flops

    def infer(x, num_split, axis):
        if num_split < 1:
            raise ShapeError(f"num_split must be at least 1 but got {num_split}")
        if not x.shape:
            raise ShapeError("cannot split a scalar")
        axis = normalize_axis(axis, len(x.shape))
        d = x.shape[axis]
        if d is not None and d % num_split:
            raise ShapeError(
                f"cannot split dim {axis} (size {d}) of {format_shape(x.shape)} into {num_split} "
                "equal parts"
            )
        dims = list(x.shape)
        dims[axis] = None if d is None else d // num_split
        return [spec(dims, x.dtype)] * num_split

    def eval(x, num_split, axis):
        return [p.copy() for p in np.split(x, num_split, axis=axis)]

    def grad(b, op, *gs):
        total = gs[0]
        for g in gs[1:]:
            total = b.concat(total, g, axis=op.attrs["axis"])
        return [total]

    samples = [
        Sample(shapes=((6, 2),), attrs={"num_split": 3, "axis": 0}, dynamic=((0, 0),)),
        Sample(shapes=((3, 4),), attrs={"num_split": 2, "axis": -1}, dynamic=((0, 0),)),
        Sample(shapes=((2, 3),), dtypes="int64", attrs={"num_split": 1, "axis": 1}),
    ]


# ---- slicing ------------------------------------------------------------------------------------


def _check_lengths(x, what, **lists):
    rank = len(x.shape)
    for key, values in lists.items():
        if len(values) != rank:
            raise ShapeError(
                f"{what} {key} {list(values)} needs {rank} entries for input shape "
                f"{format_shape(x.shape)}"
            )


@op("slice", tf_type="Slice", operands=("x",), attrs={"begin": Attr("ints"), "size": Attr("ints")})
class Slice:
    """The block of x starting at ``begin`` with ``size`` (`tf.slice`); a size of -1 runs to the
    end."""

    flops = no_flops

    def infer(x, begin, size):
        _check_lengths(x, "slice", begin=begin, size=size)
        dims = []
        for i, (d, b, s) in enumerate(zip(x.shape, begin, size)):
            if b < 0 or s < -1:
                raise ShapeError(
                    f"slice begin {list(begin)} and size {list(size)} must be >= 0 (size may be -1)"
                )
            end = (d if s == -1 else b + s) if d is not None else None
            if d is not None and (b > d or end > d):
                raise ShapeError(
                    f"slice begin {list(begin)} size {list(size)} runs past dim {i} of "
                    f"{format_shape(x.shape)}"
                )
            dims.append(s if s != -1 else (None if d is None else d - b))
        return spec(dims, x.dtype)

    def eval(x, begin, size):
        return x[tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))].copy()

    def grad(b, op, g):
        begin, size = op.attrs["begin"], op.attrs["size"]
        end = [0 if s == -1 else bb + s for bb, s in zip(begin, size)]
        end_mask = sum(1 << i for i, s in enumerate(size) if s == -1)
        return [
            b.strided_slice_grad(
                g,
                op.inputs[0],
                begin=begin,
                end=end,
                strides=[1] * len(begin),
                begin_mask=0,
                end_mask=end_mask,
            )
        ]

    samples = [
        Sample(shapes=((4, 5),), attrs={"begin": [1, 2], "size": [2, -1]}, dynamic=((0, 1),)),
        Sample(shapes=((4, 5),), attrs={"begin": [0, 1], "size": [-1, 3]}, dynamic=((0, 0),)),
        Sample(shapes=((3, 2, 2),), dtypes="int32", attrs={"begin": [1, 0, 1], "size": [1, 2, 1]}),
    ]


_STRIDED_ATTRS = {
    "begin": Attr("ints"),
    "end": Attr("ints"),
    "strides": Attr("ints"),
    "begin_mask": Attr("int", 0),
    "end_mask": Attr("int", 0),
}


def _axis_slice(i, b, e, s, begin_mask, end_mask) -> slice:
    """The Python slice of one axis: a set mask bit means "from the start" / "to the end"."""
    return slice(None if begin_mask >> i & 1 else b, None if end_mask >> i & 1 else e, s)


def _strided_slices(begin, end, strides, begin_mask, end_mask) -> tuple:
    return tuple(
        _axis_slice(i, b, e, s, begin_mask, end_mask)
        for i, (b, e, s) in enumerate(zip(begin, end, strides))
    )


def _strided_result(x, begin, end, strides, begin_mask, end_mask) -> tuple:
    _check_lengths(x, "strided_slice", begin=begin, end=end, strides=strides)
    if any(s <= 0 for s in strides):
        raise ShapeError(f"strided_slice needs positive strides but got {list(strides)}")
    slices = _strided_slices(begin, end, strides, begin_mask, end_mask)
    return tuple(
        None if d is None else len(range(*sl.indices(d))) for d, sl in zip(x.shape, slices)
    )


@op("strided_slice", tf_type="StridedSlice", operands=("x",), attrs=_STRIDED_ATTRS)
class StridedSlice:
    """x[begin:end:strides] per axis, Python rules: negative indices count from the end, bounds
    clamp.

    Bit i of ``begin_mask``/``end_mask`` means axis i runs from its start/to its end. Strides are
    positive. New and shrunk axes are expand_dims/squeeze around it (the
    frontend's ``__getitem__``).
    """

    flops = no_flops

    def infer(x, begin, end, strides, begin_mask, end_mask):
        return spec(_strided_result(x, begin, end, strides, begin_mask, end_mask), x.dtype)

    def eval(x, begin, end, strides, begin_mask, end_mask):
        return x[_strided_slices(begin, end, strides, begin_mask, end_mask)].copy()

    def grad(b, op, g):
        return [b.strided_slice_grad(g, op.inputs[0], **op.attrs)]

    samples = [
        Sample(
            shapes=((5, 6),),
            attrs={"begin": [1, 0], "end": [4, 6], "strides": [1, 2]},
            dynamic=((0, 0),),
        ),
        Sample(
            shapes=((5, 6),),
            attrs={"begin": [-2, 1], "end": [0, -1], "strides": [1, 3], "end_mask": 1},
            dynamic=((0, 0), (0, 1)),
        ),
        Sample(
            shapes=((4, 3),),
            dtypes="int32",
            attrs={
                "begin": [0, 2],
                "end": [9, 0],
                "strides": [2, 1],
                "begin_mask": 2,
                "end_mask": 2,
            },
            dynamic=((0, 0),),
        ),
    ]


@op(
    "strided_slice_grad",
    tf_type="StridedSliceGrad",
    operands=("g", "x"),
    attrs=_STRIDED_ATTRS,
    shape_operands=("x",),
)
class StridedSliceGrad:
    """Zeros of x's shape with g written where strided_slice(x, ...) read: the slices' gradient.

    x's values are not read, only its shape (at run time for unknown dims).
    """

    flops = no_flops

    def infer(g, x, begin, end, strides, begin_mask, end_mask):
        expected = _strided_result(x, begin, end, strides, begin_mask, end_mask)
        if not compatible(g.shape, expected):
            raise ShapeError(
                f"gradient {format_shape(g.shape)} does not match "
                f"the slice {format_shape(expected)} of {format_shape(x.shape)}"
            )
        return spec(x.shape, g.dtype)

    def eval(g, x, begin, end, strides, begin_mask, end_mask):
        out = np.zeros(x.shape, dtype=g.dtype)
        out[_strided_slices(begin, end, strides, begin_mask, end_mask)] = g
        return out

    def grad(b, op, dy):
        return [b.strided_slice(dy, **op.attrs), None]

    samples = [
        Sample(
            shapes=((3, 3), (5, 6)),
            attrs={"begin": [1, 0], "end": [4, 6], "strides": [1, 2]},
            dynamic=((1, 0),),
        ),
        Sample(
            shapes=((2, 2), (5, 6)),
            attrs={"begin": [-2, 1], "end": [0, -1], "strides": [1, 3], "end_mask": 1},
            dynamic=((0, 0), (1, 0)),
        ),
    ]


# ---- tiling --------------------------------------------------------------------------------------


def _tile_result(x, multiples, what="tile"):
    if len(multiples) != len(x.shape):
        raise ShapeError(
            f"{what} multiples {list(multiples)} need {len(x.shape)} entries for input "
            f"{format_shape(x.shape)}"
        )
    if any(m < 0 for m in multiples):
        raise ShapeError(f"{what} multiples {list(multiples)} must be >= 0")
    return tuple(
        0 if m == 0 else (None if d is None else d * m) for d, m in zip(x.shape, multiples)
    )


def _interleaved(shape, multiples) -> list:
    """[m0, d0, m1, d1, ...]: the tiled shape with each copy count split off its axis."""
    return [v for m, d in zip(multiples, shape) for v in (m, d)]


@op("tile", tf_type="Tile", operands=("x",), attrs={"multiples": Attr("ints")})
class Tile:
    """x repeated ``multiples[i]`` times along each axis i (`tf.tile`)."""

    flops = no_flops

    def infer(x, multiples):
        return spec(_tile_result(x, multiples), x.dtype)

    def eval(x, multiples):
        return np.tile(x, tuple(multiples)) if x.ndim else x.copy()

    def grad(b, op, g):
        (x,) = op.inputs
        multiples = list(op.attrs["multiples"])
        if (
            not x.spec.is_static
        ):  # copy counts are split off by a reshape only when all dims are known
            return [b.tile_grad(g, x, multiples=multiples)]
        if not multiples:
            return [g]
        split = b.reshape(g, shape=_interleaved(x.shape, multiples))
        return [b.reduce_sum(split, axes=list(range(0, 2 * len(multiples), 2)), keepdims=False)]

    samples = [
        Sample(shapes=((2, 3),), attrs={"multiples": [2, 3]}, dynamic=((0, 0),)),
        Sample(shapes=((3,),), attrs={"multiples": [1]}, dynamic=((0, 0),)),
        Sample(shapes=((2, 1, 2),), dtypes="int32", attrs={"multiples": [1, 4, 2]}),
    ]


@op(
    "tile_grad",
    tf_type="TileGrad",
    operands=("g", "x"),
    attrs={"multiples": Attr("ints")},
    shape_operands=("x",),
)
class TileGrad:
    """The sum of g's tiled copies, in x's shape: tile's gradient when x has unknown dims."""

    flops = reduction_flops

    def infer(g, x, multiples):
        expected = _tile_result(x, multiples, "tile_grad")
        if not compatible(g.shape, expected):
            raise ShapeError(
                f"gradient {format_shape(g.shape)} does not match {format_shape(x.shape)} tiled "
                f"{list(multiples)}"
            )
        return spec(x.shape, g.dtype)

    def eval(g, x, multiples):
        if not multiples:
            return g.copy()
        split = g.reshape(_interleaved(x.shape, multiples))
        return split.sum(axis=tuple(range(0, 2 * len(multiples), 2))).astype(g.dtype)

    def grad(b, op, dy):
        return [b.tile(dy, multiples=list(op.attrs["multiples"])), None]

    samples = [
        Sample(shapes=((4, 9), (2, 3)), attrs={"multiples": [2, 3]}, dynamic=((0, 0), (1, 0))),
        Sample(shapes=((6,), (3,)), dtypes="int32", attrs={"multiples": [2]}, dynamic=((1, 0),)),
    ]


# ---- one_hot and shape ---------------------------------------------------------------------------


@op(
    "one_hot",
    tf_type="OneHot",
    operands=("indices",),
    attrs={
        "depth": Attr("int"),
        "on_value": Attr("float", 1.0),
        "off_value": Attr("float", 0.0),
        "axis": Attr("int", -1),
        "dtype": Attr("dtype", "float32"),
    },
)
class OneHot:
    """on_value where the new ``axis`` index equals the index, else off_value (`tf.one_hot`).

    Indices outside [0, depth) give a row of off_value, as in TensorFlow.
    """

    flops = elementwise_flops

    def infer(indices, depth, on_value, off_value, axis, dtype):
        if indices.dtype not in INT_DTYPES:
            raise ShapeError(f"one_hot indices must be int32 or int64 but got {indices.dtype}")
        if depth < 0:
            raise ShapeError(f"one_hot depth must be >= 0 but got {depth}")
        rank = len(indices.shape)
        if not -1 <= axis <= rank:
            raise ShapeError(
                f"one_hot axis {axis} is out of range for indices of shape "
                f"{format_shape(indices.shape)}"
            )
        at = rank if axis == -1 else axis
        return spec(indices.shape[:at] + (depth,) + indices.shape[at:], dtype)

    def eval(indices, depth, on_value, off_value, axis, dtype):
        hit = indices[..., None] == np.arange(depth)
        hit = np.moveaxis(hit, -1, indices.ndim if axis == -1 else axis)
        return np.where(hit, on_value, off_value).astype(numpy_dtype(dtype))

    grad = NOT_DIFFERENTIABLE

    samples = [
        Sample(
            shapes=((5,),),
            dtypes="int32",
            attrs={"depth": 3},
            values=(np.array([0, 2, 1, -1, 3], np.int32),),
            dynamic=((0, 0),),
        ),
        Sample(
            shapes=((2, 3),),
            dtypes="int64",
            attrs={"depth": 4, "on_value": 5.0, "off_value": -1.0, "axis": 1, "dtype": "int32"},
            dynamic=((0, 0),),
        ),
        Sample(shapes=((3,),), dtypes="int32", attrs={"depth": 3, "axis": 0, "dtype": "float64"}),
    ]


@op("shape", tf_type="Shape", operands=("x",), attrs={"out_type": Attr("dtype", "int32")})
class Shape:
    """The dims of x as a vector, read at run time (`tf.shape`)."""

    flops = no_flops

    def infer(x, out_type):
        if out_type not in INT_DTYPES:
            raise ShapeError(f"shape out_type must be int32 or int64 but got {out_type}")
        return spec((len(x.shape),), out_type)

    def eval(x, out_type):
        return np.array(x.shape, dtype=numpy_dtype(out_type))

    grad = NOT_DIFFERENTIABLE

    samples = [
        Sample(shapes=((2, 3),), dynamic=((0, 0), (0, 1))),
        Sample(shapes=((4,),), dtypes="int32", attrs={"out_type": "int64"}, dynamic=((0, 0),)),
        Sample(shapes=((),)),
    ]
