"""`tf.segment_sum/mean/max/min/prod`, `tf.unsorted_segment_sum/mean/max/min/prod`,
`tf.unique_with_counts` and `tf.histogram_fixed_width`, composed from existing ops (gradients and
every target for free). tgc/__init__.py exports them.

Sums use the registry's ``gather_grad`` (TF's UnsortedSegmentSum: each row added at its segment),
O(data); the mean divides it by the rows per segment. Max, min and prod select each row into
every segment it belongs to ([rows, segments, ...], O(data x segments)) and reduce over the rows.
A sorted segment op has ``segment_ids[-1] + 1`` segments, known at run time (TF's static shape
leaves that dim unknown too); an unsorted one ``num_segments``, a Python int or a tensor.
Run-time checks stand for TF kernel's, in their words: ids below num_segments for unsorted ops
(TF drops negative ids there, tgc too), sorted and non-negative ids for sorted ones, and data's
leading dims equal to the ids' shape where one is known only at run time.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import check_op, constant, convert_to_tensor, make_op
from tgc.frontend.queues import GRAPHS_WITH_QUEUES
from tgc.graph.graph import Tensor, get_default_graph

__all__ = [
    "segment_sum",
    "segment_mean",
    "segment_max",
    "segment_min",
    "segment_prod",
    "unsorted_segment_sum",
    "unsorted_segment_mean",
    "unsorted_segment_max",
    "unsorted_segment_min",
    "unsorted_segment_prod",
    "unique_with_counts",
    "histogram_fixed_width",
]


# ---- shared pieces ------------------------------------------------------------------------------


def _operands(fn_name, data, segment_ids):
    data = convert_to_tensor(data)
    ids = convert_to_tensor(segment_ids, preferred_dtype="int32")
    if ids.dtype.name not in ("int32", "int64"):
        raise TypeError(f"{fn_name}: segment_ids must be int32 or int64 but are {ids.dtype.name}")
    if data.dtype.name in ("bool", "string"):
        raise TypeError(f"{fn_name}: data must be numeric but '{data.name}' is {data.dtype.name}")
    d, i = data.spec.shape, ids.spec.shape
    if d is None or i is None:
        raise ValueError(
            f"{fn_name}: data and segment_ids need known ranks (data {data.shape}, segment_ids "
            f"{ids.shape})"
        )
    if len(i) > len(d) or any(a is not None and b is not None and a != b for a, b in zip(d, i)):
        raise ValueError(
            f"{fn_name}: segment_ids.shape = {ids.shape} does not start data.shape = {data.shape}"
        )
    return data, math_ops.cast(ids, "int32")


def _flat(fn_name, data, ids):
    """(data as [N, rest...], ids as [N]) for ids of any rank (a prefix of data's shape)."""
    k = ids.spec.rank
    if k == 1:
        return data, ids
    rest = data.spec.shape[k:]
    if any(d is None for d in rest):
        raise ValueError(
            f"{fn_name}: with segment_ids of rank {k}, data's other dims must be known "
            f"(data {data.shape})"
        )
    return array_ops.reshape(data, [-1] + list(rest)), array_ops.reshape(ids, [-1])


def _num_segments_tensor(num_segments):
    """num_segments as an int32 scalar tensor, and as a Python int when known now."""
    if isinstance(num_segments, Tensor) or hasattr(num_segments, "_as_graph_element"):
        t = math_ops.cast(convert_to_tensor(num_segments), "int32")
        known = int(np.asarray(t.op.attrs["value"])) if t.op.opdef == "constant" else None
        return t, known
    known = int(num_segments)
    return constant(known, dtype="int32"), known


def _segment_rows(rows, count, known):
    """A [count, rest...] tensor of zeros (its values unused): the shape gather_grad fills. Made by
    a fill, not a gather of row 0, which fails on data of no rows (TF sums those to zeros)."""
    # A sorted op of no ids has a count below 0 (the int minimum + 1): no segment.
    dims = [known if known is not None else math_ops.maximum(count, constant(0, dtype="int32"))]
    dims += [array_ops._dim(rows, axis) for axis in range(1, rows.spec.rank)]
    return array_ops._fill_as(dims, 0.0, rows.dtype, None)


def _sum(rows, ids, count, known):
    # A negative id's row is dropped (TF's rule): zeroed and added to segment 0, so that the
    # gradient (a gather at the ids) reads only valid rows and gives the dropped ones 0.
    valid = math_ops.greater_equal(ids, constant(0, dtype="int32"))
    for _ in range(rows.spec.rank - 1):
        valid = array_ops.expand_dims(valid, -1)
    kept = math_ops.where(valid, rows, constant(0, dtype=rows.dtype))
    safe_ids = math_ops.maximum(ids, constant(0, dtype="int32"))
    return make_op("gather_grad", [kept, safe_ids, _segment_rows(rows, count, known)])


def _counts(rows, ids, count, known, dtype):
    """Rows per segment, as [count, 1, ...] in ``dtype`` (to divide rows by)."""
    ones = array_ops.ones_like(ids, dtype=dtype)
    per_segment = make_op("gather_grad", [ones, ids, _segment_rows(ones, count, known)])  # [count]
    for _ in range(rows.spec.rank - 1):
        per_segment = array_ops.expand_dims(per_segment, -1)
    return per_segment


def _mean(rows, ids, count, known, truncate_integers):
    """Sums over counts. Integers: truncated for tf.segment_mean (its kernel's division), true
    division (float64 for int32) for tf.unsorted_segment_mean (TF's Python `/`)."""
    total = _sum(rows, ids, count, known)
    counts = _counts(rows, ids, count, known, rows.dtype)
    safe = math_ops.maximum(counts, constant(1, dtype=rows.dtype))  # an empty segment's mean is 0
    if rows.dtype.is_integer and truncate_integers:
        return math_ops.truncatediv(total, safe)
    return math_ops.divide(total, safe)


def _selected(rows, ids, count, known, fill):
    """[N, count, rest...]: row n in its segment's column, ``fill`` elsewhere."""
    if known is not None:
        positions = constant(np.arange(known, dtype=np.int32))
    else:
        positions = make_op(
            "range", [constant(0, dtype="int32"), count, constant(1, dtype="int32")]
        )
    member = math_ops.equal(
        array_ops.expand_dims(ids, 1), array_ops.expand_dims(positions, 0)
    )  # [N, count]
    for _ in range(rows.spec.rank - 1):
        member = array_ops.expand_dims(member, -1)
    wide = array_ops.expand_dims(rows, 1)  # [N, 1, rest...]
    return math_ops.where(member, wide, constant(fill, dtype=rows.dtype))


def _extreme(dtype, largest):
    info = np.finfo if as_dtype(dtype).is_floating else np.iinfo
    limits = info(as_dtype(dtype).as_numpy_dtype)
    return limits.max if largest else limits.min


def _reduce(kind, rows, ids, count, known, empty_is_zero):
    """The segments' ``kind`` reduction; ``empty_is_zero``: the sorted ops' rules (a missing
    segment's max and min are 0, an integer mean truncates)."""
    if kind == "sum":
        return _sum(rows, ids, count, known)
    if kind == "mean":
        return _mean(rows, ids, count, known, truncate_integers=empty_is_zero)
    if kind == "prod":
        return math_ops.reduce_prod(_selected(rows, ids, count, known, 1), axis=0)
    fill = _extreme(rows.dtype, largest=kind == "min")  # TF's empty max: lowest; empty min: max
    reduce = math_ops.reduce_max if kind == "max" else math_ops.reduce_min
    out = reduce(_selected(rows, ids, count, known, fill), axis=0)
    if not empty_is_zero:
        # TF's unsorted kernels start every segment at ``fill``: a segment of -inf rows (for max)
        # holds the lowest value too, and so does every segment of data of no rows, which the
        # reduction over no rows would leave at -inf.
        clamp = math_ops.maximum if kind == "max" else math_ops.minimum
        return clamp(out, constant(fill, dtype=rows.dtype))
    present = math_ops.greater(
        _counts(rows, ids, count, known, "int32"), constant(0, dtype="int32")
    )
    return math_ops.where(present, out, constant(0, dtype=rows.dtype))


# ---- TF's kernels' checks ------------------------------------------------------------------------


def _sorted_checks(data, ids) -> list:
    """TF's SegmentReduction kernel's checks, in its order: the last id (so the segment count)
    non-negative, then the first id within [0, count), then the ids sorted (a negative id in
    sorted ids is then the first)."""
    first = math_ops.reduce_min(ids[:1])  # no ids: the int maximum, which passes
    increasing = math_ops.reduce_all(math_ops.less_equal(ids[:-1], ids[1:]))
    # TF's count is the last id + 1 (count, the largest + 1, is the same once the ids are sorted)
    rows = math_ops.add(math_ops.reduce_max(ids[-1:]), constant(1, dtype="int32"))
    no_ids = math_ops.equal(array_ops.size(ids), 0)
    last_ok = math_ops.logical_or(no_ids, math_ops.greater_equal(rows, 1))
    first_ok = math_ops.greater_equal(first, 0)
    out_of_range = (
        "Segment id {0} out of range [0, {1}), possibly because 'segment_ids' input is not sorted."
    )
    # each fails only where those before it pass: the one TF's kernel reports fails the run
    checks = _same_rows_checks(data, ids)
    checks.append(check_op(last_ok, "segment ids must be >= 0"))
    after_last = math_ops.logical_or(math_ops.logical_not(last_ok), first_ok)
    checks.append(check_op(after_last, out_of_range, [first, rows]))
    before_ok = math_ops.logical_and(last_ok, first_ok)
    checks.append(
        check_op(
            math_ops.logical_or(math_ops.logical_not(before_ok), increasing),
            "segment ids are not increasing",
        )
    )
    return checks


def _same_rows_checks(data, ids) -> list:
    """TF's check that a sorted segment op has one id per row of data, where either count is
    known only at run time (a cond's [2] ids for 3 rows would broadcast or read past)."""
    rows, count = data.spec.shape[0], ids.spec.shape[0]
    if rows is not None and count is not None:
        return []
    same = math_ops.equal(array_ops.size(ids), array_ops.shape(data)[0])
    return [check_op(same, "segment_ids should be the same size as dimension 0 of input.")]


def _leading_dims_checks(data, ids) -> list:
    """TF's check that an unsorted segment op's ids have data's leading dims, where a dim of
    either is known only at run time."""
    k = ids.spec.rank
    if None not in data.spec.shape[:k] + ids.spec.shape:
        return []
    data_dims, id_dims = array_ops.shape(data), array_ops.shape(ids)
    same = math_ops.reduce_all(math_ops.equal(data_dims[:k], id_dims))
    message = "data.shape = {0} does not start with segment_ids.shape = {1}"
    return [check_op(same, message, [data_dims, id_dims])]


def _below_checks(ids, flat_ids, count):
    """TF's UnsortedSegmentReduction check of each id against num_segments ("segment_ids[1] =
    5 is out of range [0, 2)", the first such id, at its index in the ids' shape); a negative
    id's row is dropped, as TF's."""
    too_large = math_ops.greater_equal(flat_ids, count)
    # a last flag and a last id past the end, so that no ids have an argmax (and a gather)
    one = constant([1], dtype="int32")
    flags = array_ops.concat([math_ops.cast(too_large, "int32"), one], 0)
    position = math_ops.argmax(flags, output_type="int32")
    padded = array_ops.concat([flat_ids, one], 0)
    value = array_ops.gather(padded, position)
    index = _unravelled(position, ids)
    message = "segment_ids[{0:inner}] = {1} is out of range [0, {2})"
    return check_op(
        math_ops.logical_not(math_ops.reduce_any(too_large)), message, [index, value, count]
    )


def _unravelled(position, ids):
    """A flat position in ``ids`` as its index (a scalar for a vector of ids, else a vector)."""
    k = ids.spec.rank
    if k == 1:
        return position
    dims = array_ops.shape(ids)
    index = []
    for j in reversed(range(k)):
        index.append(math_ops.floormod(position, dims[j]))
        position = math_ops.floordiv(position, dims[j])
    return array_ops.stack(index[::-1])


# ---- sorted segments ----------------------------------------------------------------------------


def _sorted_segment(kind, data, segment_ids, name):
    fn_name = f"segment_{kind}"
    graph = get_default_graph()
    with graph.name_scope(name or f"Segment{kind.capitalize()}") as scope:
        data, ids = _operands(fn_name, data, segment_ids)
        if ids.spec.rank != 1:
            raise ValueError(f"{fn_name}: segment_ids must be a vector but have shape {ids.shape}")
        # The largest id (the last, when sorted) + 1; no ids: the int minimum + 1, so no segment.
        count = math_ops.add(math_ops.reduce_max(ids), constant(1, dtype="int32"))
        checks = _sorted_checks(data, ids)
        # the ids read after the checks: the gradient (which reads them, not the sums) fails too
        with graph.control_dependencies(checks):
            ids = math_ops.identity(ids)
        out = _reduce(kind, data, ids, count, None, empty_is_zero=True)
        return math_ops.identity(out, name=scope)


def segment_sum(data, segment_ids, name=None):
    """`tf.segment_sum`: sums of the rows of each segment (ids sorted; a missing id: zeros)."""
    return _sorted_segment("sum", data, segment_ids, name)


def segment_mean(data, segment_ids, name=None):
    """`tf.segment_mean`: means of the rows of each segment (integers: truncated, as TF's)."""
    return _sorted_segment("mean", data, segment_ids, name)


def segment_max(data, segment_ids, name=None):
    """`tf.segment_max`: maxima of each segment's rows; a missing id gives 0, as TF's."""
    return _sorted_segment("max", data, segment_ids, name)


def segment_min(data, segment_ids, name=None):
    """`tf.segment_min`: minima of each segment's rows; a missing id gives 0, as TF's."""
    return _sorted_segment("min", data, segment_ids, name)


def segment_prod(data, segment_ids, name=None):
    """`tf.segment_prod`: products of each segment's rows; a missing id gives 1, as TF's."""
    return _sorted_segment("prod", data, segment_ids, name)


# ---- unsorted segments --------------------------------------------------------------------------


def _unsorted_segment(kind, data, segment_ids, num_segments, name):
    fn_name = f"unsorted_segment_{kind}"
    graph = get_default_graph()
    with graph.name_scope(name or f"UnsortedSegment{kind.capitalize()}") as scope:
        data, ids = _operands(fn_name, data, segment_ids)
        count, known = _num_segments_tensor(num_segments)
        if known is not None and known < 0:
            raise ValueError(f"{fn_name}: num_segments must be >= 0 but is {known}")
        rows, flat_ids = _flat(fn_name, data, ids)
        checks = [*_leading_dims_checks(data, ids), _below_checks(ids, flat_ids, count)]
        # the ids read after the checks: the gradient (which reads them, not the sums) fails too
        with graph.control_dependencies(checks):
            flat_ids = math_ops.identity(flat_ids)
        out = _reduce(kind, rows, flat_ids, count, known, empty_is_zero=False)
        return math_ops.identity(out, name=scope)


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """`tf.unsorted_segment_sum`: [num_segments, ...] sums; rows of negative ids are dropped."""
    return _unsorted_segment("sum", data, segment_ids, num_segments, name)


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """`tf.unsorted_segment_mean`; an empty segment's mean is 0."""
    return _unsorted_segment("mean", data, segment_ids, num_segments, name)


def unsorted_segment_max(data, segment_ids, num_segments, name=None):
    """`tf.unsorted_segment_max`; an empty segment holds the dtype's lowest value, as TF's."""
    return _unsorted_segment("max", data, segment_ids, num_segments, name)


def unsorted_segment_min(data, segment_ids, num_segments, name=None):
    """`tf.unsorted_segment_min`; an empty segment holds the dtype's largest value, as TF's."""
    return _unsorted_segment("min", data, segment_ids, num_segments, name)


def unsorted_segment_prod(data, segment_ids, num_segments, name=None):
    """`tf.unsorted_segment_prod`; an empty segment's product is 1."""
    return _unsorted_segment("prod", data, segment_ids, num_segments, name)


# ---- histogram_fixed_width ----------------------------------------------------------------------


def histogram_fixed_width(values, value_range, nbins=100, dtype="int32", name=None):
    """`tf.histogram_fixed_width`: counts of ``values`` in ``nbins`` equal bins spanning
    ``value_range`` [lo, hi]; values below lo count in the first bin, at or above hi in the last,
    as TF's."""
    values = convert_to_tensor(values)
    if not values.dtype.is_floating and not values.dtype.is_integer:
        raise TypeError(f"histogram_fixed_width: values must be numeric, not {values.dtype.name}")
    nbins = int(array_ops._static_scalar(nbins, "histogram_fixed_width nbins"))
    if nbins <= 0:
        raise ValueError(f"histogram_fixed_width: nbins should be > 0 but is {nbins}")
    with get_default_graph().name_scope(name or "histogram_fixed_width") as scope:
        work = "float64" if values.dtype.name in ("float64", "int64", "int32") else "float32"
        flat = math_ops.cast(array_ops.reshape(values, [-1]), work)
        bounds = math_ops.cast(convert_to_tensor(value_range, dtype=values.dtype), work)
        lo, hi = bounds[0], bounds[1]
        scaled = math_ops.floor((flat - lo) / (hi - lo) * float(nbins))
        top = constant(nbins - 1, dtype=work)
        index = math_ops.cast(math_ops.clip_by_value(scaled, 0.0, top), "int32")
        hits = array_ops.one_hot(index, nbins, dtype="int32")  # [N, nbins]
        counts = math_ops.reduce_sum(hits, axis=0)
        return math_ops.cast(counts, dtype, name=scope)


# ---- unique_with_counts: a host op, as tf.unique --------------------------------------------


def unique_with_counts(x, out_idx="int32", name=None):
    """`tf.unique_with_counts`: (y, idx, count): tf.unique's y and idx and how often each y
    occurs. A host op, as `tf.unique` (tgc/frontend/array_ops.py): y's length depends on x."""
    x = convert_to_tensor(x)
    if x.spec.shape is not None and len(x.spec.shape) != 1:
        raise ValueError(
            f"unique_with_counts takes a 1-D tensor but '{x.name}' has shape {x.shape}"
        )
    index_dtype = as_dtype(out_idx)
    if index_dtype.name not in ("int32", "int64"):
        raise TypeError(
            f"unique_with_counts: out_idx must be int32 or int64 but got {index_dtype.name}"
        )
    length = None if x.spec.shape is None else x.spec.shape[0]
    specs = [
        TensorSpec((None,), x.dtype.name),
        TensorSpec((length,), index_dtype.name),
        TensorSpec((None,), index_dtype.name),
    ]
    op = x.graph.create_op(
        "UniqueWithCounts",
        "UniqueWithCounts",
        [x],
        {"out_idx": index_dtype.name},
        specs,
        name=name or "UniqueWithCounts",
    )
    GRAPHS_WITH_QUEUES.add(x.graph)  # compiled ops may take its outputs (see tf.unique)
    numpy_index = np.dtype(index_dtype.as_numpy_dtype)
    op.host_fn = lambda values: _unique_counted(values, numpy_index)[0]
    op.session_fn = lambda session, options, values: _unique_counted(values, numpy_index)
    return _UniqueWithCounts(*op.outputs)


def _unique_counted(values, index_dtype):
    y, idx = array_ops._unique_in_order(values, index_dtype)
    count = np.bincount(idx, minlength=len(y)).astype(index_dtype)
    return y, idx, count


class _UniqueWithCounts(tuple):
    """(y, idx, count), also as ``.y``, ``.idx`` and ``.count`` (TF's namedtuple)."""

    def __new__(cls, y, idx, count):
        return super().__new__(cls, (y, idx, count))

    @property
    def y(self):
        return self[0]

    @property
    def idx(self):
        return self[1]

    @property
    def count(self):
        return self[2]
