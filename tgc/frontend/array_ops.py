"""The TF1 array API: reshapes, slicing and indexing, concat/split/stack, tile, one_hot, fills,
shapes.

Thin wrappers over ``make_op`` (the ops are in tgc/dialect/ops/array.py). Shape arguments must be
known when the graph is built (Python ints, lists, TensorShapes or constant tensors), with one
exception TF1 code relies on: a shape that is ``tf.shape(y)`` is taken as "y's shape at run time",
so ``tf.reshape(g, tf.shape(x))`` and ``tf.zeros(tf.shape(x))`` work with unknown dims.
``Tensor.__getitem__`` is installed here (ints, slices with any nonzero step, ``...`` and
``tf.newaxis``), and ``Tensor.__iter__`` (unstack along the first dimension).
"""

from __future__ import annotations

import builtins

import numpy as np

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.frontend.build import _default_dtype, assert_op, constant, convert_to_tensor, make_op
from tgc.graph.graph import Dimension, Tensor, TensorShape, get_default_graph
from tgc.frontend import math_ops
from tgc.frontend.math_ops import cast, identity, reduce_prod
from tgc.frontend.queues import GRAPHS_WITH_QUEUES

__all__ = [
    "newaxis",
    "sparse_to_dense",
    "reshape",
    "transpose",
    "expand_dims",
    "squeeze",
    "concat",
    "split",
    "slice",
    "strided_slice",
    "tile",
    "one_hot",
    "fill",
    "zeros",
    "ones",
    "zeros_like",
    "ones_like",
    "shape",
    "size",
    "rank",
    "stack",
    "unstack",
    "gather",
    "range",
    "lin_space",
    "linspace",
    "unique",
    "pad",
    "reverse",
    "reverse_v2",
    "gather_nd",
    "scatter_nd",
    "sequence_mask",
    "boolean_mask",
    "eye",
    "matrix_transpose",
    "broadcast_to",
    "broadcast_static_shape",
    "broadcast_dynamic_shape",
    "meshgrid",
    "roll",
    "matrix_band_part",
    "invert_permutation",
    "ensure_shape",
    "space_to_depth",
    "depth_to_space",
    "extract_image_patches",
]

newaxis = None
_slice = builtins.slice  # this module defines tf.slice


# ---- static arguments ----------------------------------------------------------------------------


def _constant_value(t: Tensor):
    """The value of a constant tensor, or None when it is computed."""
    return np.asarray(t.op.attrs["value"]) if t.op.opdef == "constant" else None


def _static_ints(value, what: str) -> list:
    """A shape-like argument as a list of ints; a TensorShape's unknown dims become -1."""
    if isinstance(value, TensorShape):
        return [-1 if d is None else d for d in value.as_list()]
    if isinstance(value, Tensor):
        known = _constant_value(value)
        if known is None:
            raise TypeError(
                f"{what} must be known when the graph is built, but '{value.name}' is computed"
            )
        value = known
    array = np.asarray(value)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise TypeError(f"{what} must be integers but got {value!r}")
    return [int(v) for v in array.reshape(-1)]


def _static_scalar(value, what: str):
    if isinstance(value, Tensor):
        known = _constant_value(value)
        if known is None or known.size != 1:
            raise TypeError(
                f"{what} must be a Python number or a constant scalar, not '{value.name}'"
            )
        return known.reshape(()).item()
    return np.asarray(value).item()


def _shape_source(value):
    """The tensor y when ``value`` is ``tf.shape(y)``, else None."""
    return value.op.inputs[0] if isinstance(value, Tensor) and value.op.opdef == "shape" else None


def _rank(x: Tensor, what: str) -> int:
    if x.spec.rank is None:
        raise ValueError(f"{what} of '{x.name}' needs a tensor of known rank")
    return x.spec.rank


# ---- reshapes ------------------------------------------------------------------------------------


def reshape(tensor, shape, name=None):
    """`tf.reshape`; ``shape`` may hold one -1, or be ``tf.shape(y)`` to take y's run-time shape."""
    x = convert_to_tensor(tensor)
    source = _shape_source(shape)
    if source is not None:
        return make_op("reshape_like", [x, source], name=name or "Reshape")
    if _has_computed_dims(shape):
        return _run_time_reshape(x, shape, name or "Reshape")
    return make_op(
        "reshape", [x], name=name or "Reshape", shape=_static_ints(shape, "reshape shape")
    )


def _shape_vector(shape) -> tuple:
    """(the shape argument as one int vector tensor, each dim as far as the graph knows it)."""
    if not isinstance(shape, (list, tuple)):
        vector = convert_to_tensor(shape)
        if vector.spec.shape is None or len(vector.spec.shape) != 1 or None in vector.spec.shape:
            raise ValueError(f"reshape shape '{vector.name}' must be a vector of known length")
        return vector, [-1] * vector.spec.shape[0]
    entries = [convert_to_tensor(d) if _is_computed(d) else int(d) for d in shape]
    dtype = next((d.dtype for d in entries if isinstance(d, Tensor)), as_dtype("int32"))
    known = [d if isinstance(d, int) else -1 for d in entries]
    scalars = [d if isinstance(d, Tensor) else constant(d, dtype=dtype) for d in entries]
    return stack([cast(d, dtype) if d.dtype != dtype else d for d in scalars]), known


def _run_time_reshape(x, shape, name):
    """A reshape to dims computed at run time; its lowering makes TF's checks of them (one -1 at
    most, none below it, sizes that fit x's element count), in TF's words."""
    vector, known = _shape_vector(shape)
    return make_op("reshape_to_shape", [x, vector], name=name, known=known)


def transpose(a, perm=None, name="transpose", conjugate=False):
    """`tf.transpose`; the default ``perm`` reverses the axes."""
    x = convert_to_tensor(a)
    perm = (
        list(builtins.range(_rank(x, "transpose"))[::-1])
        if perm is None
        else _static_ints(perm, "transpose perm")
    )
    return make_op("transpose", [x], name=name, perm=perm)


def expand_dims(input, axis=None, name=None, dim=None):
    """`tf.expand_dims`: a size-1 axis inserted at ``axis`` (TF1 also spells it ``dim``)."""
    axis = axis if axis is not None else dim
    if axis is None:
        raise ValueError("expand_dims needs an axis")
    return make_op(
        "expand_dims",
        [convert_to_tensor(input)],
        name=name or "ExpandDims",
        axis=int(_static_scalar(axis, "expand_dims axis")),
    )


def squeeze(input, axis=None, name=None, squeeze_dims=None):
    """`tf.squeeze`; with no axis, every axis whose size is known to be 1 is removed. An empty
    list of axes is no axis, as in TF (its default is ``[]``)."""
    x = convert_to_tensor(input)
    axis = axis if axis is not None else squeeze_dims
    if isinstance(axis, (list, tuple)) and not axis:
        axis = None
    if axis is None:
        axes = [i for i, d in enumerate(x.spec.shape or ()) if d == 1]
        _rank(x, "squeeze without an axis")
    else:
        axes = _static_ints(axis if isinstance(axis, (list, tuple)) else [axis], "squeeze axis")
    return make_op("squeeze", [x], name=name or "Squeeze", axes=axes)


# ---- concat, split, stack ------------------------------------------------------------------------


def concat(values, axis, name="concat"):
    """`tf.concat`: the list is folded left into binary ``tgc.concat`` ops; one value is returned as
    is."""
    tensors = [
        convert_to_tensor(v) for v in (values if isinstance(values, (list, tuple)) else [values])
    ]
    if not tensors:
        raise ValueError("concat needs at least one value")
    if len(tensors) == 1:
        return identity(tensors[0], name=name)
    axis = int(_static_scalar(axis, "concat axis"))
    total = tensors[0]
    for i, t in enumerate(tensors[1:]):
        last = i == len(tensors) - 2
        total = make_op("concat", [total, t], name=name if last else None, axis=axis)
    return total


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """`tf.split`: an int gives equal parts (``tgc.split``), a list of sizes gives one slice
    each."""
    x = convert_to_tensor(value)
    rank = _rank(x, "split")
    axis = int(_static_scalar(axis, "split axis"))
    if not -rank <= axis < rank:
        raise ValueError(f"split axis {axis} is out of range for '{x.name}' of shape {x.shape}")
    axis %= rank
    if isinstance(num_or_size_splits, (int, np.integer, Dimension)):
        return make_op("split", [x], name=name, num_split=int(num_or_size_splits), axis=axis)
    sizes = _split_sizes(x, _static_ints(num_or_size_splits, "split sizes"), axis)
    outs, offset = [], 0
    for s in sizes:
        begin = [offset if i == axis else 0 for i in builtins.range(rank)]
        extent = [s if i == axis else -1 for i in builtins.range(rank)]
        outs.append(make_op("slice", [x], name=name, begin=begin, size=extent))
        offset += s
    return outs


def _split_sizes(x, sizes, axis):
    """Resolves one -1 entry from the axis' size and checks the sizes add up."""
    d = x.spec.shape[axis]
    if sizes.count(-1) > 1:
        raise ValueError(f"split sizes {sizes} may hold at most one -1")
    known = builtins.sum(s for s in sizes if s != -1)
    if -1 in sizes:
        if d is None:
            raise ValueError(
                f"split sizes {sizes} with -1 need a known dim {axis} but '{x.name}' has shape "
                f"{x.shape}"
            )
        sizes[sizes.index(-1)] = d - known
    if any(s < 0 for s in sizes) or (d is not None and builtins.sum(sizes) != d):
        raise ValueError(
            f"split sizes {sizes} do not add up to dim {axis} of '{x.name}' with shape {x.shape}"
        )
    return sizes


def stack(values, axis=0, name="stack"):
    """`tf.stack`: each value gets a new axis, then they are concatenated along it."""
    tensors = [convert_to_tensor(v) for v in values]
    if not tensors:
        raise ValueError("stack needs at least one value")
    rank = _rank(tensors[0], "stack") + 1
    if not -rank <= axis < rank:
        raise ValueError(f"stack axis {axis} is out of range for values of rank {rank - 1}")
    expanded = [make_op("expand_dims", [t], axis=axis % rank) for t in tensors]
    return concat(expanded, axis=axis % rank, name=name)


def unstack(value, num=None, axis=0, name="unstack"):
    """`tf.unstack`: the slices along ``axis``, each without that axis; the count must be known."""
    x = convert_to_tensor(value)
    rank = _rank(x, "unstack")
    if not -rank <= axis < rank:
        raise ValueError(f"unstack axis {axis} is out of range for '{x.name}' of shape {x.shape}")
    axis %= rank
    count = num if num is not None else x.spec.shape[axis]
    if count is None:
        raise ValueError(f"cannot infer num from shape {x.shape} of '{x.name}': pass num")
    parts = make_op("split", [x], name=name, num_split=int(count), axis=axis)
    return [make_op("squeeze", [p], axes=[axis]) for p in parts]


# ---- slicing and indexing ------------------------------------------------------------------------


def slice(input_, begin, size, name=None):  # noqa: A001 (TF's name)
    """`tf.slice`: the block starting at ``begin`` of ``size`` (-1: to the end of the axis).
    ``begin`` and ``size`` may be computed (``tf.image.sample_distorted_bounding_box``'s are)."""
    if _is_computed(begin) or _is_computed(size):
        return _run_time_slice(convert_to_tensor(input_), begin, size, name or "Slice")
    return make_op(
        "slice",
        [convert_to_tensor(input_)],
        name=name or "Slice",
        begin=_static_ints(begin, "slice begin"),
        size=_static_ints(size, "slice size"),
    )


def _run_time_slice(x, begin, size, name):
    """A slice whose begin or size is known only at run time: along each axis, a gather of
    range(begin, begin + size) (size -1: to the end), with TF's bounds check as an assert."""
    from tgc.frontend.gather_ops import gather

    if x.dtype.name == "uint8":  # gathers move uint8 as int8 bits (integer lowerings are signless)
        bits = _run_time_slice(math_ops.bitcast(x, "int8"), begin, size, None)
        return math_ops.bitcast(bits, "uint8", name=name)
    rank = _rank(x, "slice")
    begin, size = (cast(convert_to_tensor(v), "int32") for v in (begin, size))
    for what, v in (("begin", begin), ("size", size)):
        if v.shape.as_list() != [rank]:
            raise ValueError(
                f"slice: {what} must be a vector of {rank} ints for '{x.name}' {x.shape}, not "
                f"{v.shape}"
            )
    dims = shape(x)
    zero = constant(0, dtype="int32")
    size = math_ops.where(math_ops.less(size, zero), math_ops.subtract(dims, begin), size)
    fits = math_ops.reduce_all(
        math_ops.logical_and(
            math_ops.logical_and(
                math_ops.greater_equal(begin, zero), math_ops.greater_equal(size, zero)
            ),
            math_ops.less_equal(math_ops.add(begin, size), dims),
        )
    )
    check = assert_op(
        fits, ["Expected begin and size within the input's shape:", begin, size, dims]
    )
    with x.graph.control_dependencies([check]):
        out = math_ops.identity(x)
    for axis in builtins.range(rank):
        start = begin[axis]
        out = gather(out, range(start, math_ops.add(start, size[axis])), axis=axis)
    return math_ops.identity(out, name=name)


def strided_slice(
    input_,
    begin,
    end,
    strides=None,
    begin_mask=0,
    end_mask=0,
    ellipsis_mask=0,
    new_axis_mask=0,
    shrink_axis_mask=0,
    var=None,
    name=None,
):
    """`tf.strided_slice` with TF's masks, turned into the index items ``x[...]`` would get."""
    begin, end = _static_ints(begin, "strided_slice begin"), _static_ints(end, "strided_slice end")
    strides = (
        [1] * len(begin) if strides is None else _static_ints(strides, "strided_slice strides")
    )
    items = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        if ellipsis_mask >> i & 1:
            items.append(Ellipsis)
        elif new_axis_mask >> i & 1:
            items.append(None)
        elif shrink_axis_mask >> i & 1:
            items.append(b)
        else:
            items.append(
                _slice(None if begin_mask >> i & 1 else b, None if end_mask >> i & 1 else e, s)
            )
    return _getitem(convert_to_tensor(input_), tuple(items), name=name or "StridedSlice")


class _Index:
    """What ``x[key]`` asks for, axis by axis: strided_slice bounds, shrunk axes, new axes."""

    def __init__(self):
        self.begin, self.end, self.strides = [], [], []
        self.begin_mask = self.end_mask = 0
        self.shrink, self.new_axes = [], []
        self.out_rank = 0  # axes of the final result produced so far

    def full(self):
        self._bounds(0, 0, 1, begin_masked=True, end_masked=True)
        self.out_rank += 1

    def _bounds(self, b, e, s, begin_masked=False, end_masked=False):
        axis = len(self.begin)
        self.begin.append(b)
        self.end.append(e)
        self.strides.append(s)
        self.begin_mask |= begin_masked << axis
        self.end_mask |= end_masked << axis

    def add_slice(self, item):
        step = 1 if item.step is None else int(item.step)
        if step == 0:
            raise ValueError(f"strides[{len(self.begin)}] must be non-zero (a slice step of 0)")
        start, stop = item.start, item.stop
        self._bounds(
            0 if start is None else int(start),
            0 if stop is None else int(stop),
            step,
            begin_masked=start is None,
            end_masked=stop is None,
        )
        self.out_rank += 1

    def add_int(self, i, d, x):
        if d is not None:
            if not -d <= i < d:
                raise ValueError(
                    f"index {i} is out of bounds for axis {len(self.begin)} of '{x.name}' with "
                    f"shape {x.shape}"
                )
            i %= d
        self.shrink.append(len(self.begin))
        # -1 on an unknown dim: from d-1 to the end, since end 0 would be empty.
        self._bounds(i, i + 1, 1, end_masked=i == -1)

    def add_new_axis(self):
        self.new_axes.append(self.out_rank)
        self.out_rank += 1

    def trivial(self) -> bool:
        n = len(self.begin)
        full = (1 << n) - 1
        return (
            self.begin_mask == full and self.end_mask == full and all(s == 1 for s in self.strides)
        )


def _index_items(key) -> tuple:
    items = key if isinstance(key, tuple) else (key,)
    for item in items:
        if (
            isinstance(item, Tensor)
            or not (item is None or item is Ellipsis or isinstance(item, (_slice, int, np.integer)))
            or isinstance(item, bool)
        ):
            raise TypeError(f"tensor indices must be ints, slices, ... or tf.newaxis, not {item!r}")
    if builtins.sum(item is Ellipsis for item in items) > 1:
        raise ValueError("an index can hold only one ellipsis (...)")
    return items


def _getitem(x: Tensor, key, name=None):
    """``x[key]``: one strided_slice, then squeeze for int indices and expand_dims for new axes."""
    items = _index_items(key)
    rank = _rank(x, "indexing")
    used = builtins.sum(1 for item in items if item is not None and item is not Ellipsis)
    if used > rank:
        raise ValueError(f"too many indices ({used}) for '{x.name}' of shape {x.shape}")
    if Ellipsis not in items:
        items = items + (Ellipsis,)
    index = _Index()
    reversed_axes = []  # axes of negative steps: sliced with positive steps once reversed
    for item in items:
        if item is Ellipsis:
            for _ in builtins.range(rank - used):
                index.full()
        elif item is None:
            index.add_new_axis()
        elif isinstance(item, _slice):
            if item.step is not None and int(item.step) < 0:
                reversed_axes.append(len(index.begin))
                item = _mirrored_slice(item)
            index.add_slice(item)
        else:
            index.add_int(int(item), x.spec.shape[len(index.begin)], x)
    for axis in reversed_axes:
        x = _reversed_axis(x, axis)
    return _apply_index(x, index, name)


def _mirrored_slice(item):
    """The slice of the reversed axis that a negative-step slice takes: position i there is n-1-i
    here, which as a Python index is -(i+1) for i >= 0 and -i-1 >= 0 for i < 0 (clamping the
    same way), so x[b:e:-s] == x[::-1][-(b+1):-(e+1):s] with None kept."""

    def mirrored(bound):
        return None if bound is None else -(int(bound) + 1)

    return _slice(mirrored(item.start), mirrored(item.stop), -int(item.step))


def _apply_index(x, index, name):
    steps = []
    if not index.trivial():
        steps.append(
            (
                "strided_slice",
                dict(
                    begin=index.begin,
                    end=index.end,
                    strides=index.strides,
                    begin_mask=index.begin_mask,
                    end_mask=index.end_mask,
                ),
            )
        )
    if index.shrink:
        steps.append(("squeeze", dict(axes=index.shrink)))
    steps.extend(("expand_dims", dict(axis=p)) for p in index.new_axes)
    if not steps:
        return identity(x, name=name)
    out = x
    for i, (opname, attrs) in enumerate(steps):
        out = make_op(opname, [out], name=name if i == len(steps) - 1 else None, **attrs)
    return out


# ---- tile, one_hot -------------------------------------------------------------------------------


def tile(input, multiples, name=None):
    """`tf.tile`: the input repeated ``multiples[i]`` times along axis i."""
    return make_op(
        "tile",
        [convert_to_tensor(input)],
        name=name or "Tile",
        multiples=_static_ints(multiples, "tile multiples"),
    )


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """`tf.one_hot`; the dtype defaults to on_value's (or off_value's), else float32."""
    values = [v for v in (on_value, off_value) if v is not None]
    if dtype is None:
        dtype = (
            as_dtype(_default_dtype(_static_scalar(values[0], "one_hot on_value")))
            if values
            else "float32"
        )
    return make_op(
        "one_hot",
        [convert_to_tensor(indices)],
        name=name or "one_hot",
        depth=int(_static_scalar(depth, "one_hot depth")),
        on_value=float(_static_scalar(1 if on_value is None else on_value, "one_hot on_value")),
        off_value=float(_static_scalar(0 if off_value is None else off_value, "one_hot off_value")),
        axis=-1 if axis is None else int(axis),
        dtype=as_dtype(dtype).name,
    )


# ---- range, lin_space: constants, since their arguments must be known when the graph is built ----


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 (TF's name)
    """`tf.range`: [start, limit) in steps of delta; int32 unless an argument is a float (then
    float32). Bounds known only at run time (``tf.range(tf.shape(x)[0])``) make a ``range`` op,
    with TF's checks of delta and of the bounds' order as asserts beside it."""
    if limit is None:
        start, limit = 0, start
    if any(_is_computed(v) for v in (start, limit, delta)):
        return _run_time_range(start, limit, delta, dtype, name)
    values = [_static_scalar(v, "range argument") for v in (start, limit, delta)]
    if values[2] == 0:
        raise ValueError("range needs a non-zero delta")
    if dtype is None:
        dtype = "float32" if any(isinstance(v, float) for v in values) else "int32"
    return constant(np.arange(*values), dtype=dtype, name=name)


def _is_computed(value) -> bool:
    if hasattr(value, "_as_graph_element"):
        value = value._as_graph_element()
    return isinstance(value, Tensor) and _constant_value(value) is None


_RANGE_DTYPES = ("int32", "int64", "float32", "float64")  # TF's order: the widest argument wins


def _range_dtype(values, dtype):
    if dtype is not None:
        return as_dtype(dtype)
    kinds = [
        v.dtype.name if isinstance(v, Tensor) else "float32" if isinstance(v, float) else "int32"
        for v in values
    ]
    if any(k not in _RANGE_DTYPES for k in kinds):
        raise TypeError(f"range arguments must be int32, int64, float32 or float64, not {kinds}")
    return as_dtype(builtins.max(kinds, key=_RANGE_DTYPES.index))


def _run_time_range(start, limit, delta, dtype, name):
    dtype = _range_dtype(
        [convert_to_tensor(v) if _is_computed(v) else v for v in (start, limit, delta)], dtype
    )
    start, limit, delta = (
        cast(convert_to_tensor(v), dtype) if _is_computed(v) else constant(v, dtype=dtype)
        for v in (start, limit, delta)
    )
    zero = constant(0, dtype=dtype)
    stepping = make_op("not_equal", [delta, zero])
    in_order = make_op(
        "logical_or",
        [
            make_op(
                "logical_and",
                [make_op("greater", [delta, zero]), make_op("less_equal", [start, limit])],
            ),
            make_op(
                "logical_and",
                [make_op("less", [delta, zero]), make_op("greater_equal", [start, limit])],
            ),
        ],
    )
    checks = [
        assert_op(stepping, ["Requires delta != 0:", delta]),
        assert_op(
            make_op("logical_or", [in_order, make_op("logical_not", [stepping])]),
            [
                "Requires start <= limit when delta > 0, start >= limit when delta < 0:",
                start,
                limit,
                delta,
            ],
        ),
    ]
    with start.graph.control_dependencies(checks):
        return make_op("range", [start, limit, delta], name=name)


def lin_space(start, stop, num, name=None):
    """`tf.lin_space`: num evenly spaced values from start to stop inclusive, in start's float
    dtype."""
    dtype = start.dtype if isinstance(start, Tensor) else as_dtype("float32")
    first, last = (_static_scalar(v, "lin_space argument") for v in (start, stop))
    count = int(_static_scalar(num, "lin_space num"))
    return constant(np.linspace(first, last, count), dtype=dtype, name=name or "LinSpace")


linspace = lin_space


# ---- fills ---------------------------------------------------------------------------------------


def _fill_as(dims, value, dtype, name):
    source = _shape_source(dims)
    if source is not None:  # y's run-time shape: y's values are not read
        if source.dtype == dtype:
            return make_op("fill_like", [source], name=name, value=value)
        return make_op("broadcast_like", [constant(value, dtype=dtype), source], name=name)
    if _has_computed_dims(dims):
        return _run_time_fill(dims, value, dtype, name)
    return make_op(
        "fill", [], name=name, shape=_static_ints(dims, "fill dims"), value=value, dtype=dtype.name
    )


def _has_computed_dims(dims) -> bool:
    if isinstance(dims, (list, tuple)):
        return any(_is_computed(d) for d in dims)
    return _is_computed(dims)


def _dim_entries(dims) -> list:
    """Each dim of a shape argument: an int, or a scalar int tensor computed at run time."""
    if isinstance(dims, (list, tuple)):
        entries = []
        for d in dims:
            if not _is_computed(d):
                entries += _static_ints([_static_scalar(d, "fill dims")], "fill dims")
                continue
            d = convert_to_tensor(d)
            if d.spec.shape != ():
                raise ValueError(f"fill dims: '{d.name}' must be a scalar, not {d.shape}")
            entries.append(d)
        return entries
    dims = convert_to_tensor(dims)
    if dims.spec.shape is None or len(dims.spec.shape) != 1 or dims.spec.shape[0] is None:
        raise ValueError(f"fill dims: '{dims.name}' must be a vector of known length")
    return [
        make_op("gather", [dims, constant(i, dtype=dims.dtype)])
        for i in builtins.range(dims.spec.shape[0])
    ]


def _run_time_fill(dims, value, dtype, name):
    """Zeros of dims known at run time, built from the innermost static dims outwards, one
    ``zero_rows`` per dim that follows (TF's error for a negative dim is an assert), then
    ``value``."""
    entries = _dim_entries(dims)
    static_tail = []
    while entries and isinstance(entries[-1], int):
        static_tail.insert(0, entries.pop())
    if any(d < 0 for d in static_tail):
        raise ValueError(f"fill dims {static_tail} have a negative dim")
    filled = make_op("fill", [], shape=static_tail, value=0.0, dtype=dtype.name)
    checks = []
    for d in reversed(entries):
        if isinstance(d, int):
            d = constant(d)
        else:
            negative = make_op("less", [d, constant(0, dtype=d.dtype)])
            checks.append(
                assert_op(make_op("logical_not", [negative]), ["Fill dims must be >= 0, not", d])
            )
        filled = make_op("zero_rows", [d, filled])
    with filled.graph.control_dependencies(checks):
        if value == 0.0:
            return identity(filled, name=name)
        return make_op("fill_like", [filled], name=name, value=value)


def fill(dims, value, name=None):
    """`tf.fill`: a tensor of shape ``dims`` holding ``value`` (dtype from the value, as TF does). A
    value known only at run time is broadcast to the shape; its gradient is the sum of the
    output's."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        value = convert_to_tensor(value)
        if value.spec.shape not in (None, ()):
            raise ValueError(
                f"fill value must be a scalar, but '{value.name}' has shape {value.shape}"
            )
        if _constant_value(value) is None:
            return _fill_with_tensor(dims, value, name or "Fill")
    elif np.ndim(value) != 0:
        raise ValueError(f"fill value must be a scalar, but got a value of shape {np.shape(value)}")
    scalar = _static_scalar(value, "fill value")
    dtype = value.dtype if isinstance(value, Tensor) else as_dtype(_default_dtype(scalar))
    return _fill_as(dims, float(scalar), dtype, name or "Fill")


def _fill_with_tensor(dims, value, name):
    if value.spec.shape is None:  # a scalar of open rank: its feed is checked to be one at run time
        value = make_op("reshape", [value], shape=[])
    source = _shape_source(dims)
    if source is None:  # the target's values are never read, only its shape
        source = make_op(
            "fill", [], shape=_static_ints(dims, "fill dims"), value=0.0, dtype=value.dtype.name
        )
    return make_op("broadcast_like", [value, source], name=name)


def zeros(shape, dtype="float32", name=None):
    return _fill_as(shape, 0.0, as_dtype(dtype), name or "zeros")


def ones(shape, dtype="float32", name=None):
    return _fill_as(shape, 1.0, as_dtype(dtype), name or "ones")


def _fill_like(tensor, value, dtype, name):
    x = convert_to_tensor(tensor)
    if dtype is not None and as_dtype(dtype) != x.dtype:
        return cast(make_op("fill_like", [x], value=value), dtype, name=name)
    return make_op("fill_like", [x], name=name, value=value)


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    return _fill_like(tensor, 0.0, dtype, name or "zeros_like")


def ones_like(tensor, dtype=None, name=None, optimize=True):
    return _fill_like(tensor, 1.0, dtype, name or "ones_like")


# ---- shape, size, rank ---------------------------------------------------------------------------


def shape(input, name=None, out_type="int32"):
    """`tf.shape`: x's dims as a vector read at run time (a constant once compiled if all are
    known)."""
    return make_op(
        "shape", [convert_to_tensor(input)], name=name or "Shape", out_type=as_dtype(out_type).name
    )


def size(input, name=None, out_type="int32"):
    """`tf.size`: a constant when every dim is known, else the product of ``tf.shape``."""
    x = convert_to_tensor(input)
    if x.spec.is_static:
        return constant(
            int(np.prod(x.spec.shape, dtype=np.int64)), dtype=out_type, name=name or "Size"
        )
    return reduce_prod(shape(x, out_type=out_type), axis=[0], name=name or "Size")


def rank(input, name=None):
    """`tf.rank`: a constant when the rank is known, else the length of ``tf.shape``."""
    x = convert_to_tensor(input)
    if x.spec.rank is not None:
        return constant(x.spec.rank, dtype="int32", name=name or "Rank")
    return reshape(shape(shape(x)), [], name=name or "Rank")


def _iterate(tensor):
    """``for row in t``: the slices along the first dimension, which must be known."""
    if tensor.spec.shape and tensor.spec.shape[0] is not None:
        return iter(unstack(tensor))
    raise TypeError("cannot iterate over a tensor of unknown first dimension")


def _install_indexing():
    Tensor.__getitem__ = lambda self, key: _getitem(self, key)
    # Without its own __iter__, Python would iterate through __getitem__ with no end.
    Tensor.__iter__ = _iterate


_install_indexing()


from tgc.frontend.gather_ops import gather  # noqa: E402  (tf.gather, exported with the array ops)


# ---- tf.unique: a host op (its output's size depends on the values) -----------------------------


def unique(x, out_idx="int32", name=None):
    """`tf.unique`: (y, idx) with y the distinct values of the 1-D ``x`` in order of first
    occurrence and ``x == y[idx]``.

    y's length depends on x's values, so unique runs on the host at run time, as the queue ops do
    (tgc/frontend/queues.py): after the compiled part when x is computed there (then y and idx can
    be fetched, not used by compiled ops of the same run), before it when x is fed (then compiled
    ops may use them)."""
    x = convert_to_tensor(x)
    if x.spec.shape is not None and len(x.spec.shape) != 1:
        raise ValueError(f"unique takes a 1-D tensor but '{x.name}' has shape {x.shape}")
    index_dtype = as_dtype(out_idx)
    if index_dtype.name not in ("int32", "int64"):
        raise TypeError(f"unique: out_idx must be int32 or int64 but got {index_dtype.name}")
    length = None if x.spec.shape is None else x.spec.shape[0]
    specs = [TensorSpec((None,), x.dtype.name), TensorSpec((length,), index_dtype.name)]
    op = x.graph.create_op(
        "Unique", "Unique", [x], {"out_idx": index_dtype.name}, specs, name=name or "Unique"
    )
    # Compiled ops may take host ops' outputs in graphs listed here (the session then searches
    # the compiled part for host sources): queues' graphs, and graphs with a unique.
    GRAPHS_WITH_QUEUES.add(x.graph)
    numpy_index = np.dtype(index_dtype.as_numpy_dtype)
    op.host_fn = lambda values: _unique_in_order(values, numpy_index)[0]
    op.session_fn = lambda session, options, values: _unique_in_order(values, numpy_index)
    return _UniqueOutput(op.outputs[0], op.outputs[1])


def _unique_in_order(values, index_dtype):
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"unique takes a 1-D tensor but was given shape {list(values.shape)}")
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct values by first occurrence, as TF
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return values[first[order]], position[inverse.reshape(-1)].astype(index_dtype)


class _UniqueOutput(tuple):
    """(y, idx), also as ``.y`` and ``.idx`` (TF's namedtuple)."""

    def __new__(cls, y, idx):
        return super().__new__(cls, (y, idx))

    @property
    def y(self):
        return self[0]

    @property
    def idx(self):
        return self[1]


# ---- sparse_to_dense -----------------------------------------------------------------------------


def sparse_to_dense(
    sparse_indices,
    output_shape,
    sparse_values,
    default_value=0,
    validate_indices=True,
    name=None,
):
    """`tf.sparse_to_dense`: a tensor of ``output_shape`` holding ``default_value`` except at
    ``sparse_indices`` (a scalar or [K] indexing a vector, or [K, rank] rows), which hold
    ``sparse_values`` (one value, or K).

    Built as one-hot rows summed over the K entries, so the gradient reaches the values (the
    output's gradient at each index) and the default (the rest), as TF's. The output shape must be
    known when the graph is built. Constant indices are checked as TF's kernel checks them
    (in range; with ``validate_indices``, sorted and without repeats); indices computed at run time
    are not: one out of range is dropped, repeats add up."""
    from tgc.frontend.math_ops import greater, multiply, reduce_sum, where

    graph = get_default_graph()
    with graph.name_scope(name or "SparseToDense") as scope:
        shape = _static_ints(output_shape, "sparse_to_dense output_shape")
        indices = convert_to_tensor(sparse_indices)
        values = convert_to_tensor(sparse_values)
        if not indices.dtype.is_integer:
            raise TypeError(f"sparse_to_dense: indices must be integers, not {indices.dtype.name}")
        rank = indices.shape.ndims
        if rank is None or rank > 2 or (rank == 2 and indices.shape[1].value != len(shape)):
            raise ValueError(
                f"sparse_indices should be a scalar, vector, or matrix [K, {len(shape)}] for "
                f"output_shape {shape}, but '{indices.name}' has shape {indices.shape}"
            )
        if rank < 2 and len(shape) != 1:
            raise ValueError(
                f"sparse_to_dense: scalar or vector indices index a vector, but output_shape is "
                f"{shape}"
            )
        known = _constant_value(indices)
        if known is not None:
            _check_sparse_indices(known.reshape(-1, len(shape)), shape, validate_indices)
        work = values.dtype if values.dtype.name != "bool" else as_dtype("int32")
        flat = _flat_positions(cast(indices, "int32"), shape, rank)
        values = _one_value_per_index(values, flat)
        hits = one_hot(flat, int(np.prod(shape, dtype=np.int64)), dtype=work)  # [K, N]
        column = reshape(cast(values, work), [-1, 1])  # one value, or K of them
        scattered = reduce_sum(multiply(hits, column), axis=0)
        was_set = greater(reduce_sum(hits, axis=0), constant(0, dtype=work))
        default = cast(convert_to_tensor(default_value, dtype=values.dtype), work)
        dense = where(was_set, scattered, multiply(ones_like(scattered), default))
        return reshape(cast(dense, values.dtype), shape, name=scope)


def _one_value_per_index(values, flat):
    """``values`` after TF's check that they are one value or one per index ([] or [K]): a [1]
    for K indices would be broadcast as the scalar is. Checked at run time where a count is
    known only then."""
    if values.shape.ndims != 1:
        return values  # a scalar, or of unknown rank: the reshape to [-1, 1] takes either
    count, k = values.shape[0].value, flat.shape[0].value
    if count is not None and k is not None:
        if count != k:
            raise ValueError(f"sparse_values has incorrect shape [{count}], should be [] or [{k}]")
        return values
    have, want = shape(values)[0], shape(flat)[0]
    text = "sparse_values has incorrect shape, should be [] or [K]: its size, K"
    check = assert_op(math_ops.equal(have, want), [text, have, want])
    with values.graph.control_dependencies([check]):
        return identity(values)


def _flat_positions(indices, shape, rank):
    """Row-major positions [K] of the index rows."""
    from tgc.frontend.math_ops import multiply, reduce_sum

    if rank == 0:
        return reshape(indices, [1])
    if rank == 1:
        return indices
    strides = np.cumprod([1] + shape[:0:-1])[::-1].astype(np.int32)
    return reduce_sum(multiply(indices, constant(strides)), axis=1)


def _check_sparse_indices(rows, shape, validate):
    """TF's kernel checks, in its words, for indices known when the graph is built."""
    for k, row in enumerate(rows.tolist()):
        if any(not 0 <= i < n for i, n in zip(row, shape)):
            raise ValueError(f"indices[{k}] = {row} is out of bounds: need 0 <= index < {shape}")
        if validate and k > 0:
            previous = rows[k - 1].tolist()
            if row == previous:
                raise ValueError(f"indices[{k}] = {row} is repeated")
            if row < previous:
                raise ValueError(f"indices[{k}] = {row} is out of order")


# ---- pad, reverse: concats and gathers, so gradients and every target come with them ----------


def _moved(x: Tensor, move):
    """``move(x)`` for an op that only moves elements (gather, slice, select, concat); uint8
    travels as int8 bits, which those ops handle, and comes back as uint8."""
    if x.dtype.name != "uint8":
        return move(x)
    return math_ops.bitcast(move(math_ops.bitcast(x, "int8")), "uint8")


def _dim(x: Tensor, axis: int):
    """x's dim along ``axis``: an int when the graph knows it, else an int32 scalar read at run
    time."""
    known = x.spec.shape[axis]
    if known is not None:
        return known
    # a gather, not shape(x)[axis]: the nvptx target cannot slice a buffer on the host
    return make_op("gather", [shape(x), constant(axis, dtype="int32")])


def _known(*values) -> bool:
    return all(isinstance(v, (int, np.integer)) for v in values)


def _descending(start, stop):
    """start, start - 1, ... down to (not including) stop: a constant when both are known."""
    if _known(start, stop):
        return np.arange(start, stop, -1, dtype=np.int32)
    return range(start, stop, -1)


def _reversed_axis(x: Tensor, axis: int) -> Tensor:
    """x with ``axis`` reversed: a gather of n-1, ..., 0."""
    n = _dim(x, axis)
    indices = _descending(n - 1 if _known(n) else math_ops.subtract(n, 1), -1)
    return _moved(x, lambda v: gather(v, indices, axis=axis))


def reverse(tensor, axis, name=None):
    """`tf.reverse` (TF >= 1.0, = `tf.reverse_v2`): ``tensor`` with each axis in ``axis`` (a
    list of ints, negative from the end) reversed."""
    x = convert_to_tensor(tensor)
    rank = _rank(x, "reverse")
    if np.ndim(_constant_value(axis) if isinstance(axis, Tensor) else axis) != 1:
        raise ValueError(f"reverse: axis must be a list of ints, not {axis!r}")
    axes = _static_ints(axis, "reverse axis")
    seen = set()
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"reverse: axis {a} is out of range [{-rank}, {rank}) for '{x.name}' of shape "
                f"{x.shape}"
            )
        if a % rank in seen:
            raise ValueError(f"reverse: axis {a % rank} specified more than once")
        seen.add(a % rank)
    out = x
    for a in sorted(seen):
        out = _reversed_axis(out, a)
    return identity(out, name=name or "ReverseV2")


reverse_v2 = reverse

_PAD_MODES = ("CONSTANT", "REFLECT", "SYMMETRIC")


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """`tf.pad`: ``paddings[i] = [before, after]`` values added around axis i; CONSTANT adds
    ``constant_values``, REFLECT mirrors without the edge, SYMMETRIC with it. ``paddings`` may be
    computed at run time (then TF's checks are asserts that fail the run)."""
    x = convert_to_tensor(tensor)
    mode = str(mode).upper()
    if mode not in _PAD_MODES:
        raise ValueError(
            f'pad: mode must be one of "CONSTANT", "REFLECT" or "SYMMETRIC", not {mode!r}'
        )
    rank = _rank(x, "pad")
    if _is_computed(paddings):
        pairs, checks = _run_time_paddings(x, convert_to_tensor(paddings), rank)
    else:
        pairs, checks = _static_paddings(x, paddings, rank, mode), []
    if mode != "CONSTANT":
        checks += _mirror_checks(x, pairs, mode)
    if checks:
        with x.graph.control_dependencies(checks):
            x = identity(x)
    value = _static_scalar(constant_values, "pad constant_values")
    if x.dtype.name == "uint8":  # concat moves uint8 as int8 bits: the value goes as its bits
        value = int(np.asarray(value, np.uint8).view(np.int8))
    out = x
    for axis, (before, after) in enumerate(pairs):
        if mode == "CONSTANT":
            out = _moved(out, lambda v: _constant_pad(v, axis, before, after, value))
        else:
            out = _mirror_pad(out, axis, before, after, mode == "SYMMETRIC")
    return identity(out, name=name or ("Pad" if mode == "CONSTANT" else "MirrorPad"))


def _static_paddings(x, paddings, rank, mode) -> list:
    """[(before, after)] per axis, with TF's checks raised now."""
    if isinstance(paddings, Tensor):
        paddings = _constant_value(paddings)
    array = np.asarray(paddings)
    if array.dtype.kind not in "iu" and array.size:
        raise TypeError(f"pad: paddings must be integers, not {paddings!r}")
    if array.shape != (rank, 2):
        raise ValueError(
            f"pad: paddings must have shape [{rank}, 2] for '{x.name}' of shape {x.shape}, not "
            f"{list(array.shape)}"
        )
    if (array < 0).any():
        raise ValueError(f"pad: paddings must be non-negative, not {array.tolist()}")
    return [(int(b), int(a)) for b, a in array]


def _mirror_checks(x, pairs, mode) -> list:
    """TF's MirrorPad checks, in its words: raised now where the paddings and dim are known,
    else asserts that fail the run."""
    checks = []
    reflect = mode == "REFLECT"
    text = (
        "pad: paddings must be less than the dimension size"
        if reflect
        else "pad: paddings must be no greater than the dimension size"
    )
    for axis, (before, after) in enumerate(pairs):
        n = _dim(x, axis)
        if _known(n, before, after):
            most = builtins.max(before, after)
            if most > n or (reflect and most == n):
                verb = "not less than" if reflect else "greater than"
                raise ValueError(f"{text}: {before}, {after} {verb} {n}")
            continue
        most = math_ops.maximum(before, after)
        fits = math_ops.less(most, n) if reflect else math_ops.less_equal(most, n)
        checks.append(assert_op(fits, [f"{text}:", before, after, "dimension size", n]))
    return checks


def _run_time_paddings(x, paddings, rank):
    """[(before, after)] as int32 scalars of the computed [rank, 2] ``paddings``, and an assert
    that they are non-negative (TF's check)."""
    if paddings.spec.shape is None or tuple(paddings.spec.shape) != (rank, 2):
        raise ValueError(
            f"pad: paddings must have shape [{rank}, 2] for '{x.name}' of shape {x.shape}, not "
            f"{paddings.shape}"
        )
    paddings = cast(paddings, "int32")
    zero = constant(0, dtype="int32")
    checks = [
        assert_op(
            math_ops.reduce_all(math_ops.greater_equal(paddings, zero)),
            ["pad: paddings must be non-negative:", paddings],
            summarize=2 * rank,
        )
    ]
    flat = reshape(paddings, [-1])  # gathers, not slices: the nvptx host cannot slice buffers
    pairs = [
        tuple(make_op("gather", [flat, constant(2 * axis + j, dtype="int32")]) for j in (0, 1))
        for axis in builtins.range(rank)
    ]
    return pairs, checks


def _constant_pad(x, axis, before, after, value):
    """x between blocks of ``value`` ``before`` and ``after`` long along ``axis``."""
    pieces = []
    for count in (before, after):
        if _known(count) and count == 0:
            pieces.append(None)
            continue
        dims = [_dim(x, a) for a in builtins.range(x.spec.rank)]
        dims[axis] = count
        pieces.append(_fill_as(dims, float(value), x.dtype, None))
    out = x
    if pieces[0] is not None:
        out = concat([pieces[0], out], axis)
    if pieces[1] is not None:
        out = concat([out, pieces[1]], axis)
    return out


def _mirror_pad(x, axis, before, after, symmetric):
    """A gather along ``axis`` of the mirrored positions: REFLECT before, ..., 1, 0, ..., n-1,
    n-2, ...; SYMMETRIC before-1, ..., 0, 0, ..., n-1, n-1, ..."""
    if _known(before, after) and before == 0 and after == 0:
        return x
    n = _dim(x, axis)
    edge = 0 if symmetric else 1  # the first mirrored position's distance from the edge
    if _known(n, before, after):
        indices = np.concatenate(
            [
                np.arange(before - 1 + edge, edge - 1, -1),
                np.arange(n),
                np.arange(n - 1 - edge, n - 1 - edge - after, -1),
            ]
        ).astype(np.int32)
    else:
        last = math_ops.subtract(n, 1 + edge)
        indices = concat(
            [
                _descending(math_ops.add(before, edge - 1), edge - 1),
                range(n),
                _descending(last, math_ops.subtract(last, after)),
            ],
            0,
        )
    return _moved(x, lambda v: gather(v, indices, axis=axis))


# ---- gather_nd, scatter_nd: a gather (its gradient a scatter-add) on flattened positions -------


def _int32(x):
    x = convert_to_tensor(x, preferred_dtype="int32")
    if x.dtype.name not in ("int32", "int64"):
        raise TypeError(f"indices must be int32 or int64, but '{x.name}' is {x.dtype.name}")
    return x if x.dtype.name == "int32" else cast(x, "int32")


def _index_depth(indices, fn) -> int:
    """k, the length of each index row (the last dim of ``indices``), known when built."""
    if indices.spec.rank is None or indices.spec.rank < 1 or indices.spec.shape[-1] is None:
        raise ValueError(
            f"{fn}: indices '{indices.name}' must have rank >= 1 and a known last dim, not "
            f"{indices.shape}"
        )
    return indices.spec.shape[-1]


def _flat_positions_of(indices, dims):
    """Row-major positions of ``indices[..., :k]`` among the first k = len(dims) dims (ints or
    int32 scalars), shape indices.shape[:-1]."""
    if not dims:
        return math_ops.reduce_sum(indices, axis=-1)  # zeros of shape indices.shape[:-1]
    flat, stride = None, 1
    for i in builtins.range(len(dims) - 1, -1, -1):
        column = indices[..., i]
        term = column if _known(stride) and stride == 1 else math_ops.multiply(column, stride)
        flat = term if flat is None else math_ops.add(flat, term)
        stride = stride * dims[i] if _known(stride, dims[i]) else math_ops.multiply(stride, dims[i])
    return flat


def _bounds_check(indices, dims_vector, text):
    """An assert that every index row lies within ``dims_vector`` (TF's kernels fail so)."""
    zero = constant(0, dtype="int32")
    inside = math_ops.logical_and(
        math_ops.greater_equal(indices, zero), math_ops.less(indices, dims_vector)
    )
    return assert_op(math_ops.reduce_all(inside), [text, dims_vector, "indices:", indices])


def gather_nd(params, indices, name=None, batch_dims=0):
    """`tf.gather_nd`: ``out[i...] = params[indices[i..., 0], ..., indices[i..., k-1], ...]``; an
    index row outside params' shape fails the run, as TF's CPU kernel does."""
    if batch_dims != 0:
        raise ValueError(f"gather_nd with batch_dims={batch_dims} is not supported: only 0")
    params, indices = convert_to_tensor(params), _int32(indices)
    rank, k = _rank(params, "gather_nd"), _index_depth(indices, "gather_nd")
    if k > rank:
        raise ValueError(
            f"gather_nd: indices.shape[-1] must be <= params.rank, but saw indices shape: "
            f"{indices.shape} and params shape: {params.shape}"
        )
    dims = [_dim(params, a) for a in builtins.range(rank)]
    checks = []
    if k:
        text = "gather_nd: indices do not all index into param shape"
        checks.append(_bounds_check(indices, shape(params)[:k], text))
    with params.graph.control_dependencies(checks):
        flat = _flat_positions_of(indices, dims[:k])
    rows = reshape(params, [-1] + dims[k:])
    return _moved(rows, lambda v: gather(v, flat, name=name or "GatherNd"))


def scatter_nd(indices, updates, shape, name=None):
    """`tf.scatter_nd`: zeros of ``shape`` with ``updates`` added at ``indices`` (repeated indices
    add up); an index row outside ``shape`` fails the run, as TF's CPU kernel does."""
    indices, updates = _int32(indices), convert_to_tensor(updates)
    k = _index_depth(indices, "scatter_nd")
    dims = _dim_entries(shape) if _has_computed_dims(shape) else _static_ints(shape, "shape")
    dims = [cast(d, "int32") if isinstance(d, Tensor) else d for d in dims]
    if k > len(dims):
        raise ValueError(f"scatter_nd: indices.shape[-1] = {k} must be <= the rank of shape {dims}")
    expected = TensorShape(
        indices.shape.as_list()[:-1] + [d if _known(d) else None for d in dims[k:]]
    )
    if not updates.shape.is_compatible_with(expected):
        raise ValueError(
            f"scatter_nd: updates must have shape indices.shape[:-1] + shape[{k}:] = {expected}, "
            f"but '{updates.name}' has {updates.shape}"
        )
    static = updates.shape.is_fully_defined() and indices.shape.is_fully_defined()
    static = static and not builtins.any(isinstance(d, Tensor) for d in dims[k:])
    checks = [] if static else _updates_fit_checks(indices, updates, dims, k)
    if k:
        vector = stack([d if isinstance(d, Tensor) else constant(d) for d in dims[:k]])
        checks.append(
            _bounds_check(indices, vector, "scatter_nd: indices do not all index into shape")
        )
    with indices.graph.control_dependencies(checks):
        flat = _flat_positions_of(indices, dims[:k])
    count = 1
    for d in dims[:k]:
        count = count * d if _known(count, d) else math_ops.multiply(count, d)
    target = _fill_as([count] + dims[k:], 0.0, updates.dtype, None)  # read for its shape only
    rows = make_op("gather_grad", [updates, flat, target])
    return reshape(rows, dims, name=name or "ScatterNd")


def _updates_fit_checks(indices, updates, dims, k) -> list:
    """TF's run-time checks that scatter_nd's updates are indices.shape[:-1] + shape[k:], where a
    dim of either is known only at run time (the graph checked the static ones): the scatter reads
    one update row per index row, each of shape[k:]'s size."""
    outer = indices.shape.ndims - 1
    updates_shape = shape(updates)
    leading = math_ops.equal(shape(indices)[:outer], updates_shape[:outer])
    text = (
        f"Dimensions [0,{outer}) of indices must match dimensions [0,{outer}) of updates; "
        "indices' shape, updates' shape:"
    )
    checks = [assert_op(math_ops.reduce_all(leading), [text, shape(indices), updates_shape])]
    if dims[k:]:
        rest = stack([d if isinstance(d, Tensor) else constant(d) for d in dims[k:]])
        trailing = math_ops.equal(rest, updates_shape[outer:])
        text = (
            f"Dimensions [{k},{k + len(dims[k:])}) of input must match dimensions "
            f"[{outer},{outer + len(dims[k:])}) of updates; shape[{k}:], updates' shape:"
        )
        checks.append(assert_op(math_ops.reduce_all(trailing), [text, rest, updates_shape]))
    return checks


def sequence_mask(lengths, maxlen=None, dtype="bool", name=None):
    """`tf.sequence_mask`: ``mask[i..., j] = j < lengths[i...]``, j below ``maxlen`` (default:
    the largest length, read at run time)."""
    lengths = convert_to_tensor(lengths, preferred_dtype="int32")
    if lengths.dtype.name not in ("int32", "int64"):
        raise TypeError(f"sequence_mask: lengths must be integers, not {lengths.dtype.name}")
    if maxlen is None:
        maxlen = math_ops.reduce_max(lengths)
    elif _is_computed(maxlen):
        maxlen = convert_to_tensor(maxlen)
        if maxlen.spec.shape not in (None, ()):
            raise ValueError(f"sequence_mask: maxlen must be a scalar, not {maxlen.shape}")
    else:
        maxlen = int(_static_scalar(maxlen, "sequence_mask maxlen"))
    positions = (
        range(maxlen, dtype=lengths.dtype) if _known(maxlen) else range(cast(maxlen, lengths.dtype))
    )
    mask = math_ops.less(positions, expand_dims(lengths, -1))
    if as_dtype(dtype).name == "bool":
        return identity(mask, name=name or "SequenceMask")
    return cast(mask, dtype, name=name or "SequenceMask")


def boolean_mask(tensor, mask, name="boolean_mask", axis=None):
    """`tf.boolean_mask`: the entries of ``tensor`` (its dims ``axis`` .. ``axis + mask.rank``
    flattened) where ``mask`` is true, in order; how many is known only at run time. Their
    positions are scattered into a vector of that length (cumsum of the mask gives each its
    slot), then gathered, so the gradient flows back through the gather."""
    from tgc.frontend.math_ops_more import cumsum

    x, mask = convert_to_tensor(tensor), convert_to_tensor(mask)
    if mask.dtype.name != "bool":
        raise TypeError(f"boolean_mask: mask must be bool, not {mask.dtype.name}")
    k = _rank(mask, "boolean_mask")
    if k == 0:
        raise ValueError("boolean_mask: mask cannot be a scalar")
    axis = 0 if axis is None else int(axis)
    rank = _rank(x, "boolean_mask")
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank - k:
        raise ValueError(
            f"boolean_mask: axis {axis} and mask rank {k} do not fit '{x.name}' of rank {rank}"
        )
    masked = TensorShape(x.shape.as_list()[axis : axis + k])
    if not masked.is_compatible_with(mask.shape):
        raise ValueError(f"Shapes {masked} and {mask.shape} are incompatible")
    dims = [_dim(x, a) for a in builtins.range(rank)]
    flat_x = x if k == 1 else reshape(x, dims[:axis] + [-1] + dims[axis + k :])
    flat_mask = reshape(mask, [-1])
    hits = cast(flat_mask, "int32")
    slot = cumsum(hits)  # 1 + the output slot of each true entry
    count = math_ops.reduce_sum(hits)
    # a false entry's slot is count, outside the vector: the scatter-add drops it
    slot = math_ops.where(
        flat_mask, math_ops.subtract(slot, 1), _fill_like(slot, 0.0, None, None) + count
    )
    everywhere = range(size(flat_mask))
    positions = make_op("gather_grad", [everywhere, slot, _fill_as([count], 0.0, hits.dtype, None)])
    return _moved(flat_x, lambda v: gather(v, positions, axis=axis, name=name))


# ---- eye, broadcasts, meshgrid, roll, band parts, permutations, blocks ---------------------------


def _static_int(value, what) -> int:
    """An int argument that must be known when the graph is built."""
    return int(_static_scalar(value, what))


def eye(num_rows, num_columns=None, batch_shape=None, dtype="float32", name=None):
    """`tf.eye`: the identity matrix [num_rows, num_columns] (a constant; sizes must be known
    when the graph is built), repeated over ``batch_shape``."""
    rows = _static_int(num_rows, "eye num_rows")
    cols = rows if num_columns is None else _static_int(num_columns, "eye num_columns")
    batch = [] if batch_shape is None else _static_ints(batch_shape, "eye batch_shape")
    if rows < 0 or cols < 0 or any(d < 0 for d in batch):
        raise ValueError(f"eye: sizes must be non-negative, not {batch + [rows, cols]}")
    dtype = as_dtype(dtype)
    matrix = np.eye(rows, cols, dtype=dtype.as_numpy_dtype)
    return constant(
        np.broadcast_to(matrix, batch + [rows, cols]).copy(), dtype=dtype, name=name or "eye"
    )


def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """`tf.matrix_transpose` / `tf.linalg.transpose`: the last two axes swapped."""
    x = convert_to_tensor(a)
    rank = _rank(x, "matrix_transpose")
    if rank < 2:
        raise ValueError(f"matrix_transpose: '{x.name}' must have rank >= 2, not shape {x.shape}")
    perm = list(builtins.range(rank - 2)) + [rank - 1, rank - 2]
    return transpose(x, perm, name=name)


def _target_of(shape):
    """A tensor of ``shape`` (static or computed), read only for its shape."""
    float32 = as_dtype("float32")  # any dtype would do: the values are never read
    if _shape_source(shape) is not None:
        return _fill_as(shape, 0.0, float32, None)
    dims = _dim_entries(shape) if _has_computed_dims(shape) else _static_ints(shape, "shape")
    if builtins.any(isinstance(d, int) and d < 0 for d in dims):
        raise ValueError(f"shape {dims} has a negative dim")
    return _fill_as(dims, 0.0, float32, None)


def broadcast_to(input, shape, name=None):
    """`tf.broadcast_to`: ``input`` repeated (numpy's rules) to ``shape``."""
    x = convert_to_tensor(input)
    target = _target_of(shape)
    return _moved(x, lambda v: make_op("broadcast_like", [v, target], name=name or "BroadcastTo"))


def broadcast_static_shape(shape_x, shape_y):
    """`tf.broadcast_static_shape`: the TensorShape both broadcast to (None where unknown)."""
    a, b = TensorShape(shape_x), TensorShape(shape_y)
    if a.ndims is None or b.ndims is None:
        return TensorShape(None)
    n = builtins.max(a.ndims, b.ndims)
    dims_a = [1] * (n - a.ndims) + a.as_list()
    dims_b = [1] * (n - b.ndims) + b.as_list()
    out = []
    for da, db in zip(dims_a, dims_b):
        if da == 1 or db == 1 or da is None or db is None:
            out.append(db if da == 1 else da if db == 1 else da if db is None else db)
        elif da == db:
            out.append(da)
        else:
            raise ValueError(f"Incompatible shapes for broadcasting: {a} and {b}")
    return TensorShape(out)


def broadcast_dynamic_shape(shape_x, shape_y, name=None):
    """`tf.broadcast_dynamic_shape`: the int vector both shapes broadcast to; computed shapes
    give the shape of a broadcast of tensors of those shapes, read at run time."""
    vectors = [convert_to_tensor(s, preferred_dtype="int32") for s in (shape_x, shape_y)]
    known = [_constant_value(v) for v in vectors]
    if builtins.all(k is not None for k in known):
        try:
            result = np.broadcast_shapes(*(tuple(int(d) for d in k) for k in known))
        except ValueError:
            raise ValueError(
                f"Incompatible shapes for broadcasting: {known[0].tolist()} and {known[1].tolist()}"
            ) from None
        return constant(np.asarray(result, vectors[0].dtype.as_numpy_dtype), name=name)
    a, b = (_fill_as(v, 0.0, as_dtype("float32"), None) for v in vectors)
    return cast(shape(math_ops.add(a, b)), vectors[0].dtype, name=name or "BroadcastArgs")


def meshgrid(*args, **kwargs):
    """`tf.meshgrid`: N-D grids of the 1-D inputs; ``indexing='xy'`` (default) swaps the first
    two output axes, as numpy does."""
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        raise TypeError(f"meshgrid: unexpected arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', not {indexing!r}")
    vectors = [reshape(convert_to_tensor(a), [-1]) for a in args]
    n = len(vectors)
    dims = [_dim(v, 0) for v in vectors]
    if indexing == "xy" and n >= 2:
        dims[0], dims[1] = dims[1], dims[0]
    outputs = []
    for i, v in enumerate(vectors):
        axis = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and n >= 2 else i
        shaped = [1] * n
        shaped[axis] = -1
        outputs.append(broadcast_to(reshape(v, shaped), dims, name=f"{name}_{i}" if name else None))
    return outputs


def roll(input, shift, axis, name=None):
    """`tf.roll`: elements shifted ``shift`` places along ``axis`` (lists shift along several),
    those pushed off one end coming back at the other: a gather of (i - shift) mod n."""
    x = convert_to_tensor(input)
    rank = _rank(x, "roll")
    shifts = [shift] if np.ndim(shift) == 0 and not isinstance(shift, (list, tuple)) else shift
    axes = _static_ints(axis, "roll axis")
    if _is_computed(shift):
        raise TypeError("roll: shift must be known when the graph is built")
    shifts = _static_ints(shifts, "roll shift")
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shift {shifts} and axis {axes} must have the same length")
    total = {}
    for s, a in zip(shifts, axes):
        if not -rank <= a < rank:
            raise ValueError(f"roll: axis {a} is out of range for '{x.name}' of shape {x.shape}")
        total[a % rank] = total.get(a % rank, 0) + s
    out = x
    for a, s in sorted(total.items()):
        n = _dim(out, a)
        if _known(n):
            indices = (np.arange(n) - s) % builtins.max(n, 1)
            indices = indices.astype(np.int32)
        else:
            indices = math_ops.floormod(math_ops.subtract(range(n), s), n)
        out = _moved(out, lambda v: gather(v, indices, axis=a))
    return identity(out, name=name or "Roll")


def matrix_band_part(input, num_lower, num_upper, name=None):
    """`tf.matrix_band_part` / `tf.linalg.band_part`: each innermost matrix with entries outside
    the band (more than num_lower below or num_upper above the diagonal; negative: the whole
    triangle) set to zero."""
    x = convert_to_tensor(input)
    rank = _rank(x, "matrix_band_part")
    if rank < 2:
        raise ValueError(f"matrix_band_part: '{x.name}' must have rank >= 2, not {x.shape}")
    lower = _static_int(num_lower, "matrix_band_part num_lower")
    upper = _static_int(num_upper, "matrix_band_part num_upper")
    m, n = _dim(x, rank - 2), _dim(x, rank - 1)
    if _known(m, n):
        rows, cols = np.arange(m)[:, None], np.arange(n)[None, :]
        keep = constant(
            ((lower < 0) | (rows - cols <= lower)) & ((upper < 0) | (cols - rows <= upper))
        )
    else:
        offset = math_ops.subtract(expand_dims(range(m), 1), expand_dims(range(n), 0))
        keep = math_ops.logical_and(
            constant(lower < 0) if lower < 0 else math_ops.less_equal(offset, lower),
            constant(upper < 0)
            if upper < 0
            else math_ops.less_equal(math_ops.negative(offset), upper),
        )
    keep = make_op("broadcast_like", [keep, x])  # x read for its shape only
    return _moved(x, lambda v: math_ops.where(keep, v, zeros_like(v), name=name or "BandPart"))


def invert_permutation(x, name=None):
    """`tf.invert_permutation`: y with y[x[i]] = i (x a permutation of 0..n-1)."""
    x = convert_to_tensor(x, preferred_dtype="int32")
    if x.dtype.name not in ("int32", "int64") or x.spec.rank != 1:
        raise ValueError(
            f"invert_permutation: x must be a 1-D int32 or int64 vector, not '{x.name}'"
        )
    known = _constant_value(x)
    if known is not None:
        if sorted(known.tolist()) != list(builtins.range(known.size)):
            raise ValueError(
                f"invert_permutation: {known.tolist()} is not a permutation of 0..{known.size - 1}"
            )
        return constant(np.argsort(known).astype(known.dtype), name=name or "InvertPermutation")
    n = size(x, out_type=x.dtype)
    everywhere = range(n)
    inverse = make_op("gather_grad", [everywhere, x, _fill_as([n], 0.0, x.dtype, None)])
    return identity(inverse, name=name or "InvertPermutation")


def ensure_shape(x, shape, name=None):
    """`tf.ensure_shape`: x, its static shape refined by ``shape`` (None: any dim); a dim that
    differs fails now when known, else the run."""
    x = convert_to_tensor(x)
    wanted = TensorShape(shape)
    if not x.shape.is_compatible_with(wanted):
        raise ValueError(
            f"ensure_shape: '{x.name}' has shape {x.shape}, which is not compatible with the "
            f"expected shape {wanted}"
        )
    if wanted.ndims is None:
        return identity(x, name=name or "EnsureShape")
    merged = x.shape.merge_with(wanted).as_list()
    dims = make_op("shape", [x], out_type="int32")  # (tf.shape: the argument hides it here)
    checks = []
    fixed = [i for i, d in enumerate(wanted.as_list()) if d is not None]
    if builtins.any(x.spec.shape[i] is None for i in fixed):
        ok = math_ops.reduce_all(
            math_ops.equal(
                gather(dims, np.asarray(fixed, np.int32)),
                constant(np.asarray([wanted.as_list()[i] for i in fixed], np.int32)),
            )
        )
        text = f"ensure_shape: shape of '{x.name}' is not compatible with expected {wanted}:"
        checks.append(assert_op(ok, [text, dims], summarize=len(merged)))
    with x.graph.control_dependencies(checks):
        if merged == x.shape.as_list():
            return identity(x, name=name or "EnsureShape")
        entries = [d if d is not None else dims[i] for i, d in enumerate(merged)]
        return reshape(x, entries, name=name or "EnsureShape")


def _nhwc(input, block_size, data_format, fn):
    x = convert_to_tensor(input)
    if data_format != "NHWC":
        raise ValueError(f"{fn}: only data_format='NHWC' is supported, not {data_format!r}")
    if _rank(x, fn) != 4:
        raise ValueError(
            f"{fn}: '{x.name}' must be 4-D [batch, height, width, depth], not {x.shape}"
        )
    block = _static_int(block_size, f"{fn} block_size")
    if block < 2:
        raise ValueError(f"{fn}: block_size must be at least 2, not {block}")
    return x, block, [_dim(x, a) for a in builtins.range(4)]


def _divided(n, by, fn):
    """n // by, with TF's check that it divides: raised now when n is known, else an assert."""
    if _known(n):
        if n % by:
            raise ValueError(f"{fn}: Dimension size must be evenly divisible by {by} but is {n}")
        return n // by, None
    check = assert_op(
        math_ops.equal(math_ops.floormod(n, by), 0),
        [f"{fn}: Dimension size must be evenly divisible by {by} but is", n],
    )
    return math_ops.floordiv(n, by), check


def _product(a, b):
    return a * b if _known(a, b) else math_ops.multiply(a, b)


def space_to_depth(input, block_size, name=None, data_format="NHWC"):
    """`tf.space_to_depth`: each block_size x block_size block of pixels becomes one pixel of
    block_size**2 times the depth (reshape, transpose, reshape)."""
    fn = "space_to_depth"
    x, b, (n, h, w, c) = _nhwc(input, block_size, data_format, fn)
    (h2, check_h), (w2, check_w) = _divided(h, b, fn), _divided(w, b, fn)
    with x.graph.control_dependencies([c for c in (check_h, check_w) if c is not None]):
        blocks = reshape(x, [-1, h2, b, w2, b, c])
    moved = transpose(blocks, [0, 1, 3, 2, 4, 5])
    return reshape(moved, [-1, h2, w2, _product(b * b, c)], name=name or "SpaceToDepth")


def depth_to_space(input, block_size, name=None, data_format="NHWC"):
    """`tf.depth_to_space`: the inverse of space_to_depth; the depth must divide by
    block_size**2."""
    fn = "depth_to_space"
    x, b, (n, h, w, c) = _nhwc(input, block_size, data_format, fn)
    c2, check = _divided(c, b * b, fn)
    with x.graph.control_dependencies([check] if check is not None else []):
        blocks = reshape(x, [-1, h, w, b, b, c2])
    moved = transpose(blocks, [0, 1, 3, 2, 4, 5])
    return reshape(moved, [-1, _product(h, b), _product(w, b), c2], name=name or "DepthToSpace")


def extract_image_patches(images, ksizes, strides, rates, padding, name=None, sizes=None):
    """`tf.extract_image_patches`: each ksize_rows x ksize_cols patch (taps ``rates`` apart,
    patches ``strides`` apart) of the NHWC ``images`` flattened into the depth, in TF's order
    [rows, cols, depth]: one strided slice per tap, concatenated. Height and width must be known
    when the graph is built."""
    fn = "extract_image_patches"
    ksizes = sizes if ksizes is None else ksizes
    x = convert_to_tensor(images)
    if _rank(x, fn) != 4:
        raise ValueError(
            f"{fn}: '{x.name}' must be 4-D [batch, height, width, depth], not {x.shape}"
        )
    window = {}
    for what, value in (("ksizes", ksizes), ("strides", strides), ("rates", rates)):
        v = _static_ints(value, f"{fn} {what}")
        if len(v) != 4 or v[0] != 1 or v[3] != 1 or builtins.min(v) < 1:
            raise ValueError(f"{fn}: {what} must be [1, rows, cols, 1] of positive ints, not {v}")
        window[what] = v[1:3]
    padding = padding.decode() if isinstance(padding, bytes) else str(padding)
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"{fn}: padding must be 'SAME' or 'VALID', not {padding!r}")
    sizes_hw = [x.spec.shape[1], x.spec.shape[2]]
    if None in sizes_hw:
        raise ValueError(f"{fn}: the height and width of '{x.name}' must be known, not {x.shape}")
    outs, pads = [], []
    for n, k, s, r in zip(sizes_hw, window["ksizes"], window["strides"], window["rates"]):
        span = (k - 1) * r + 1
        out = -(-n // s) if padding == "SAME" else builtins.max(-(-(n - span + 1) // s), 0)
        total = builtins.max((out - 1) * s + span - n, 0) if padding == "SAME" else 0
        outs.append(out)
        pads.append([total // 2, total - total // 2])
    if builtins.any(sum(p) for p in pads):
        x = pad(x, [[0, 0], pads[0], pads[1], [0, 0]])
    (kh, kw), (sh, sw), (rh, rw) = window["ksizes"], window["strides"], window["rates"]
    taps = []
    for i in builtins.range(kh):
        for j in builtins.range(kw):
            rows = _slice(i * rh, i * rh + (outs[0] - 1) * sh + 1, sh)
            cols = _slice(j * rw, j * rw + (outs[1] - 1) * sw + 1, sw)
            taps.append(x[:, rows, cols, :])
    return concat(taps, -1, name=name or "ExtractImagePatches")
