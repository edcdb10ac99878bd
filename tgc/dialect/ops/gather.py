"""Row lookups by index: ``gather`` (`tf.gather` on axis 0, `tf.nn.embedding_lookup`) and its
gradient.

``gather(params, indices)`` picks rows of params; the gradient scatters the incoming rows back into
a tensor of params' shape, adding where an index repeats (TF's unsorted segment sum).
``gather_grad`` takes params as an operand only for its shape, so unknown dims are read at run time.
TensorFlow's CPU kernel rejects an index outside [0, rows); a compiled graph cannot raise, so such
an index reads a row of zeros (as TF's GPU kernel does) and its gradient row is dropped. Lowered in
``tgc/lowering/to_core/gather.py``; other axes are transposes around this op
(tgc/frontend/gather_ops.py).
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import no_flops, reduction_flops
from tgc.dialect.registry import Sample, ShapeError, op
from tgc.dialect.shapes import INT_DTYPES, compatible, spec
from tgc.dialect.types import format_shape


def _check_indices(indices, what):
    if indices.dtype not in INT_DTYPES:
        raise ShapeError(f"{what} indices must be int32 or int64 but got {indices.dtype}")


def _rows(params, indices):
    """params[indices] with out-of-range indices reading zeros."""
    rows = params.shape[0]
    inside = (indices >= 0) & (indices < rows)
    picked = (
        params[np.where(inside, indices, 0)]
        if rows
        else np.zeros(indices.shape + params.shape[1:], params.dtype)
    )
    mask = inside.reshape(inside.shape + (1,) * (params.ndim - 1))
    return np.where(mask, picked, np.zeros((), params.dtype)).astype(params.dtype)


def _refuse_out_of_range(indices, rows) -> None:
    """TensorFlow's CPU kernel fails on an index outside [0, rows), naming the first one; the
    compiled gather does the same at run time (tgc/lowering/to_core/gather.py), and tgc-fold leaves
    a gather whose reference raises to it."""
    bad = np.flatnonzero((indices < 0) | (indices >= rows))
    if bad.size:
        where = ",".join(str(int(i)) for i in np.unravel_index(bad[0], indices.shape))
        value = indices.reshape(-1)[bad[0]]
        raise IndexError(f"indices[{where}] = {value} is not in [0, {rows})")


@op("gather", tf_type="GatherV2", operands=("params", "indices"))
class Gather:
    """Rows of params picked by indices: result shape indices.shape + params.shape[1:]."""

    flops = no_flops

    def infer(params, indices):
        _check_indices(indices, "gather")
        if len(params.shape) < 1:
            raise ShapeError("gather params must have rank >= 1 but is a scalar")
        return spec(tuple(indices.shape) + tuple(params.shape[1:]), params.dtype)

    def eval(params, indices):
        _refuse_out_of_range(indices, params.shape[0])
        return _rows(params, indices)

    def grad(b, op, g):
        params, indices = op.inputs
        return [b.gather_grad(g, indices, params), None]

    samples = [
        Sample(
            shapes=((5, 3), (4,)),
            dtypes=("float32", "int32"),
            values=(None, np.array([0, 4, 2, 2], np.int32)),
            dynamic=((1, 0),),
        ),
        Sample(shapes=((4,), (2, 3)), dtypes=("float64", "int64"), dynamic=((0, 0), (1, 0))),
        Sample(
            shapes=((3, 2, 2), (3,)),
            dtypes=("int32", "int64"),
            values=(None, np.array([2, 0, 1], np.int64)),
        ),
    ]


@op("gather_grad", tf_type="UnsortedSegmentSum", operands=("g", "indices", "params"))
class GatherGrad:
    """A tensor shaped like params holding g's rows added at their indices; params' values are
    unread."""

    flops = reduction_flops

    def infer(g, indices, params):
        _check_indices(indices, "gather_grad")
        expected = tuple(indices.shape) + tuple(params.shape[1:])
        if not compatible(g.shape, expected):
            raise ShapeError(
                f"gather gradient of shape {format_shape(g.shape)} does not fit indices "
                f"{format_shape(indices.shape)} into params {format_shape(params.shape)}"
            )
        return spec(params.shape, g.dtype)

    def eval(g, indices, params):
        out = np.zeros(params.shape, g.dtype)
        rows = g.reshape((-1,) + params.shape[1:])
        for k, i in enumerate(indices.reshape(-1)):
            if 0 <= i < params.shape[0]:
                out[i] += rows[k]
        return out

    def grad(b, op, dy):
        # dy's rows at the indices, 0 for an index the forward dropped (outside [0, rows), as
        # TF's _GatherDropNegatives gives a negative id): such an index reads a row of zeros
        # appended to dy, so gather's index check never sees it
        g, indices, params = op.inputs
        zero_row = b.reduce_sum(b.zeros_like(dy), axes=[0], keepdims=True)
        padded = b.concat(dy, zero_row, axis=0)
        rows = b.gather(b.shape(dy, out_type=indices.dtype), b.constant(0, dtype="int32"))
        zero = b.constant(0, like=indices)
        inside = b.logical_and(b.greater_equal(indices, zero), b.less(indices, rows))
        return [b.gather(padded, b.select(inside, indices, rows)), None, None]

    samples = [
        Sample(
            shapes=((4, 3), (4,), (5, 3)),
            dtypes=("float32", "int32", "float32"),
            values=(None, np.array([1, 3, 1, 4], np.int32), None),
            dynamic=((0, 0), (1, 0)),
        ),
        Sample(
            shapes=((2, 2), (2, 2), (3,)), dtypes=("float64", "int64", "float64"), dynamic=((2, 0),)
        ),
    ]
