"""More of TF1's math, composed from existing tgc ops (so gradients and every target come for
free): ``tf.is_nan``, ``tf.is_inf``, ``tf.is_finite``, ``tf.nn.top_k`` / ``tf.math.top_k``,
``tf.nn.in_top_k`` / ``tf.math.in_top_k``, ``tf.cumsum`` and ``tf.cumprod``.

Why compositions and no new registry ops:

* top_k ranks each element of the last axis by comparing it with every other one (an [..., n, n]
  comparison, O(n^2) per row), then picks rank r for output slot r. For the class counts TF1
  programs take top k of (10 to a few thousand) this is a few fused elementwise ops and
  reductions that every target already compiles; a sort op would need a new lowering on each
  target. Its cost grows with n^2, so very long rows (a 50k vocabulary) are slow; the values'
  gradient is that of a select, so it reaches exactly the picked elements.
* cumsum and cumprod are Hillis-Steele scans: ceil(log2 n) steps, each adding (multiplying) the
  running result shifted by 1, 2, 4, ... along the axis. O(n log n) work, no n x n triangle, and
  the gradient is the slices' and adds' (products': no division, so zeros are fine).

All of them need the length of the axis they work along known when the graph is built (other
dims may be None).
"""

from __future__ import annotations

import numpy as np

from tgc.frontend.build import assert_op, constant, convert_to_tensor, make_op
from tgc.graph.graph import Tensor, get_default_graph

__all__ = ["is_nan", "is_inf", "is_finite", "cumsum", "cumprod"]

_FLOATS = ("bfloat16", "float16", "float32", "float64")

# math_ops re-exports this module, so it builds with registry ops directly (no import cycle).


def _op(opname, *inputs, name=None, **attrs):
    return make_op(opname, list(inputs), name=name, **attrs)


def _cast(x, dtype):
    return x if x.dtype.name == dtype else _op("cast", x, dtype=dtype)


def _sum_last(x, keepdims=False, name=None):
    return _op("reduce_sum", x, name=name, axes=[-1], keepdims=keepdims)


def _where(condition, x, y, name=None):
    return _op("select", condition, x, y, name=name)


# ---- is_nan, is_inf, is_finite ------------------------------------------------------------------


def _float_input(x, op_name):
    x = convert_to_tensor(x)
    if x.dtype.name not in _FLOATS:
        raise TypeError(
            f"{op_name}: Value passed to parameter 'x' has DataType {x.dtype.name} not in list of "
            f"allowed values: {', '.join(_FLOATS)} ('{x.name}')"
        )
    return x


def _infinity(x):
    return constant(np.inf, dtype=x.dtype)


def is_nan(x, name=None):
    """`tf.is_nan`: x != x (an unordered comparison, true only for NaN)."""
    x = _float_input(x, "is_nan")
    return make_op("not_equal", [x, x], name=name or "IsNan")


def is_inf(x, name=None):
    """`tf.is_inf`: |x| == inf, for +inf and -inf."""
    x = _float_input(x, "is_inf")
    return make_op("equal", [make_op("abs", [x]), _infinity(x)], name=name or "IsInf")


def is_finite(x, name=None):
    """`tf.is_finite`: |x| < inf, an ordered comparison, so false for NaN and for +-inf."""
    x = _float_input(x, "is_finite")
    return make_op("less", [make_op("abs", [x]), _infinity(x)], name=name or "IsFinite")


# ---- top_k and in_top_k -------------------------------------------------------------------------


class TopKV2(tuple):
    """(values, indices), also as ``.values`` and ``.indices`` (TF's namedtuple)."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def _static_k(k, op_name):
    if isinstance(k, Tensor) or hasattr(k, "_as_graph_element"):
        k = convert_to_tensor(k)
        if k.op.opdef != "constant":
            raise ValueError(
                f"{op_name}: k must be known when the graph is built (a Python int or a "
                f"constant), but '{k.name}' is computed"
            )
        k = np.asarray(k.op.attrs["value"])
    k = np.asarray(k)
    if k.ndim != 0 or not np.issubdtype(k.dtype, np.integer):
        raise TypeError(f"{op_name}: k must be an integer scalar but got {k!r}")
    return int(k)


def _last_dim(x, op_name, what):
    rank = x.spec.rank
    if rank is None or rank < 1:
        raise ValueError(
            f"{op_name}: '{x.name}' must have rank 1 or more and a known rank, but has shape "
            f"{x.shape}"
        )
    n = x.spec.shape[-1]
    if n is None:
        raise ValueError(
            f"{op_name}: the last dim of '{x.name}' ({what}, shape {x.shape}) must be known when "
            "the graph is built: tgc compares every pair of its elements"
        )
    return int(n)


def _ranks_along_last_axis(x, n):
    """rank[..., i]: how many elements of the row come before x[..., i] in TF's order (larger
    first, ties by lower index first). NaN counts as larger than everything (TF's own kernel
    puts a NaN first too, but orders several NaNs of a row arbitrarily), so the ranks of a row
    are always a permutation of 0..n-1."""
    x = make_op("stop_gradient", [x])
    mine = make_op("expand_dims", [x], axis=-1)  # [..., n, 1]: element i
    other = make_op("expand_dims", [x], axis=-2)  # [..., 1, n]: element j
    earlier = constant(np.tril(np.ones((n, n), dtype=bool), k=-1))  # [i, j]: j < i
    nan_mine = make_op("not_equal", [mine, mine])
    nan_other = make_op("not_equal", [other, other])
    ahead = _op(
        "logical_or",
        _op("greater", other, mine),
        _op("logical_and", nan_other, _op("logical_not", nan_mine)),
    )
    tied = _op("logical_or", _op("equal", other, mine), _op("logical_and", nan_other, nan_mine))
    beats = _op("logical_or", ahead, _op("logical_and", tied, earlier))
    return _sum_last(_cast(beats, "int32"))


def top_k(input, k=1, sorted=True, name=None):  # noqa: A002 (TF's names)
    """`tf.nn.top_k`: the k largest entries of the last axis, largest first (ties: the lower
    index first, as TF), and their int32 indices. ``sorted=False`` is accepted: TF then leaves
    the order unspecified and tgc's is the sorted one. The values' gradient flows to the picked
    elements (a select), the indices have none."""
    x = convert_to_tensor(input)
    k = _static_k(k, "top_k")
    with get_default_graph().name_scope(name or "TopKV2") as scope:
        if k < 0:
            raise ValueError(
                f"top_k: Dimension size, given by scalar input 1, must be non-negative but is {k} "
                "(k)"
            )
        n = _last_dim(x, "top_k", "the input")
        if n < k:
            raise ValueError(
                f"top_k: input must have last dimension >= k = {k} but is {n} ('{x.name}' has "
                f"shape {x.shape})"
            )
        if 0 < k <= _SELECTION_MAX_K and n > _PAIRWISE_MAX_ROW:
            values, indices = _top_k_by_selection(x, n, k)
        else:
            values, indices = _top_k_by_ranks(x, n, k)
        return TopKV2(_op("identity", values, name=scope), _op("identity", indices, name="indices"))


# top_k picks by one of two compositions: rows up to this long (or k above _SELECTION_MAX_K) by
# pairwise ranks, [..., n, n]; longer rows by k selection steps, each O(n), so that top 5 of 1000
# classes does not compare a million pairs per row.
_PAIRWISE_MAX_ROW = 64
_SELECTION_MAX_K = 16


def _top_k_by_ranks(x, n, k):
    """Slot r takes the element of rank r."""
    rank = make_op("expand_dims", [_ranks_along_last_axis(x, n)], axis=-1)  # [..., n, 1]
    picked = _op("equal", rank, constant(np.arange(k, dtype=np.int32)))  # [..., n, k]
    positions = constant(np.arange(n, dtype=np.int32).reshape(n, 1))
    indices = _op(
        "reduce_sum",
        _where(picked, positions, constant(0, dtype="int32")),
        axes=[-2],
        keepdims=False,
    )
    column = make_op("expand_dims", [x], axis=-1)  # [..., n, 1]
    values = _op(
        "reduce_sum", _where(picked, column, constant(0, dtype=x.dtype)), axes=[-2], keepdims=False
    )
    return values, indices


def _top_k_by_selection(x, n, k):
    """k steps, each taking the largest element not taken yet (a NaN first), the lowest index
    among equals: the same order as the ranks'."""
    floating = x.dtype.name in _FLOATS
    lowest = -np.inf if floating else np.iinfo(x.dtype.as_numpy_dtype).min
    positions = constant(np.arange(n, dtype=np.int32))
    beyond = constant(n, dtype="int32")
    plain = make_op("stop_gradient", [x])
    is_nan = _op("not_equal", plain, plain) if floating else None
    taken = None
    values, indices = [], []
    for _ in range(k):
        free = plain if taken is None else _where(taken, constant(lowest, dtype=x.dtype), plain)
        best = _op("reduce_max", free, axes=[-1], keepdims=True)  # NaN when a NaN is free
        hit = _op("equal", plain, best)
        if floating:
            hit = _op("logical_or", hit, _op("logical_and", is_nan, _op("not_equal", best, best)))
        if taken is not None:
            hit = _op("logical_and", hit, _op("logical_not", taken))
        index = _op("reduce_min", _where(hit, positions, beyond), axes=[-1], keepdims=True)
        chosen = _op("equal", positions, index)  # [..., n]
        taken = chosen if taken is None else _op("logical_or", taken, chosen)
        indices.append(index)
        values.append(_sum_last(_where(chosen, x, constant(0, dtype=x.dtype)), keepdims=True))
    return _joined(values), _joined(indices)


def _joined(pieces):
    out = pieces[0]
    for piece in pieces[1:]:
        out = make_op("concat", [out, piece], axis=-1)
    return out


def in_top_k(predictions, targets, k, name=None):
    """`tf.nn.in_top_k`: whether each row's target class is among its k largest predictions,
    with TF's rule: fewer than k predictions strictly larger than the target's (so classes tied
    at the boundary are all in). As TF's kernel: false for a target out of [0, classes) and for a
    row holding a non-finite prediction."""
    predictions = convert_to_tensor(predictions)
    targets = convert_to_tensor(targets, preferred_dtype="int32")
    k = _static_k(k, "in_top_k")
    with get_default_graph().name_scope(name or "in_top_k") as scope:
        if predictions.dtype.name != "float32":
            raise TypeError(
                f"in_top_k: predictions must be float32 but '{predictions.name}' is "
                f"{predictions.dtype.name}"
            )
        if targets.dtype.name not in ("int32", "int64"):
            raise TypeError(
                f"in_top_k: targets must be int32 or int64 but '{targets.name}' is "
                f"{targets.dtype.name}"
            )
        _check_in_top_k_shapes(predictions, targets)
        n = _last_dim(predictions, "in_top_k", "the predictions")
        with get_default_graph().control_dependencies(_same_batch_checks(predictions, targets)):
            hit = make_op(
                "one_hot", [targets], depth=n, on_value=1.0, off_value=0.0, axis=-1, dtype="bool"
            )
        zero = constant(0, dtype="float32")
        target_value = _sum_last(_where(hit, predictions, zero), keepdims=True)
        larger = _sum_last(_cast(_op("greater", predictions, target_value), "int32"))
        finite = _cast(is_finite(predictions), "int32")
        finite_row = _cast(_op("reduce_min", finite, axes=[-1], keepdims=False), "bool")
        in_range = _op(
            "logical_and",
            _op("greater_equal", targets, constant(0, dtype=targets.dtype)),
            _op("less", targets, constant(n, dtype=targets.dtype)),
        )
        return _op(
            "logical_and",
            _op("logical_and", in_range, finite_row),
            _op("less", larger, constant(k, dtype="int32")),
            name=scope,
        )


def _check_in_top_k_shapes(predictions, targets):
    p, t = predictions.spec.shape, targets.spec.shape
    if p is not None and len(p) != 2:
        raise ValueError(
            f"in_top_k: predictions must be 2-D [batch, classes] but '{predictions.name}' has "
            f"shape {predictions.shape}"
        )
    if t is not None and len(t) != 1:
        raise ValueError(
            f"in_top_k: targets must be 1-D [batch] but '{targets.name}' has shape {targets.shape}"
        )
    if p is not None and t is not None and None not in (p[0], t[0]) and p[0] != t[0]:
        raise ValueError(
            f"in_top_k: Dimensions must be equal, but are {p[0]} and {t[0]}: predictions "
            f"'{predictions.name}' {predictions.shape} and targets '{targets.name}' "
            f"{targets.shape}"
        )


def _same_batch_checks(predictions, targets) -> list:
    """TF's run-time check that there is one target per row of predictions, where either count is
    known only then (the graph checked known ones): a [1] of targets would broadcast over the rows
    instead of failing as TF's kernel does."""
    p, t = predictions.spec.shape, targets.spec.shape
    if p is not None and t is not None and None not in (p[0], t[0]):
        return []
    rows = make_op("shape", [predictions], out_type="int32")[0]
    count = make_op("shape", [targets], out_type="int32")[0]
    same = make_op("equal", [rows, count])
    text = "First dimension of predictions must match length of targets:"
    return [assert_op(same, [text, rows, count])]


# ---- cumsum and cumprod -------------------------------------------------------------------------


def _scan_axis(x, axis, op_name):
    rank = x.spec.rank
    if rank is None or rank < 1:
        raise ValueError(
            f"{op_name}: '{x.name}' must have a known rank of 1 or more but has shape {x.shape}"
        )
    if isinstance(axis, Tensor) or hasattr(axis, "_as_graph_element"):
        axis_tensor = convert_to_tensor(axis)
        if axis_tensor.op.opdef != "constant":
            raise ValueError(f"{op_name}: axis must be known when the graph is built")
        axis = np.asarray(axis_tensor.op.attrs["value"])
    axis = int(axis)
    if not -rank <= axis < rank:
        raise ValueError(
            f"{op_name}: axis {axis} is out of range for '{x.name}' of shape {x.shape} "
            f"(expected in [{-rank}, {rank}))"
        )
    axis %= rank
    n = x.spec.shape[axis]
    return axis, None if n is None else int(n)


def _along(x, axis, begin, size):
    """x[begin:begin+size] along ``axis``, the whole of every other axis."""
    rank = x.spec.rank
    starts = [0] * rank
    sizes = [-1] * rank
    starts[axis], sizes[axis] = begin, size
    return make_op("slice", [x], begin=starts, size=sizes)


def _shifted(y, axis, n, d, fill, reverse):
    """y moved d places along the axis (towards higher indices, or lower when reversed), the d
    places it leaves filled with ``fill``."""
    padding = make_op("fill_like", [_along(y, axis, 0, d)], value=fill)
    if reverse:
        return make_op("concat", [_along(y, axis, d, n - d), padding], axis=axis)
    return make_op("concat", [padding, _along(y, axis, 0, n - d)], axis=axis)


def _scan(x, axis, exclusive, reverse, name, op_name, combine, identity_value):
    x = convert_to_tensor(x)
    if x.dtype.name == "bool" or x.dtype.name == "string":
        raise TypeError(f"{op_name}: '{x.name}' has DataType {x.dtype.name}, which is not numeric")
    with get_default_graph().name_scope(name or op_name.capitalize()) as scope:
        axis, n = _scan_axis(x, axis, op_name)
        if n is None:
            reduction = "reduce_sum" if combine == "add" else "reduce_prod"
            y = _masked_scan(x, axis, exclusive, reverse, reduction, identity_value)
            return make_op("identity", [y], name=scope)
        y = x
        d = 1
        while d < n:  # Hillis-Steele: after the step of d, y[i] holds x[i-2d+1 .. i]
            y = make_op(combine, [y, _shifted(y, axis, n, d, identity_value, reverse)])
            d *= 2
        if exclusive and n > 0:
            y = _shifted(y, axis, n, 1, identity_value, reverse)
        return make_op("identity", [y], name=scope)


def _masked_scan(x, axis, exclusive, reverse, reduction, identity_value):
    """The scan along an axis whose length is known only at run time (a [None] episode of
    rewards): the axis moved last, each output i reducing the inputs j that a run-time [n, n]
    mask selects (j <= i; j < i when exclusive; j >= i, j > i when reversed), the others replaced
    by the reduction's identity. O(n^2), as the length cannot size log2(n) steps."""
    rank = x.spec.rank
    to_last = [i for i in range(rank) if i != axis] + [axis]
    moved = _op("transpose", x, perm=to_last) if axis != rank - 1 else x
    length = _op("reshape", _along(_op("shape", x, out_type="int32"), 0, axis, 1), shape=[])
    positions = _op("range", constant(0, dtype="int32"), length, constant(1, dtype="int32"))
    outputs = make_op("expand_dims", [positions], axis=1)  # [n, 1]: i
    inputs = make_op("expand_dims", [positions], axis=0)  # [1, n]: j
    compare = {
        (False, False): "less_equal",
        (True, False): "less",
        (False, True): "greater_equal",
        (True, True): "greater",
    }[(bool(exclusive), bool(reverse))]
    mask = make_op(compare, [inputs, outputs])  # [n, n]
    rows = make_op("expand_dims", [moved], axis=-2)  # [..., 1, n]
    picked = _where(mask, rows, constant(identity_value, dtype=x.dtype))  # [..., n, n]
    y = make_op(reduction, [picked], axes=[-1], keepdims=False)
    back = [int(i) for i in np.argsort(to_last)]
    return _op("transpose", y, perm=back) if axis != rank - 1 else y


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """`tf.cumsum`: running sums along ``axis``; ``exclusive`` leaves out each element itself (the
    first sum is 0), ``reverse`` sums from the end."""
    return _scan(x, axis, exclusive, reverse, name, "cumsum", "add", 0.0)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """`tf.cumprod`: running products along ``axis``, with cumsum's ``exclusive`` and
    ``reverse``."""
    return _scan(x, axis, exclusive, reverse, name, "cumprod", "multiply", 1.0)
