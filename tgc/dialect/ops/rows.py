"""``write_row``: a buffer with one row replaced, at an index known at run time; ``zero_rows``: a
buffer of zeros whose row count is known at run time.

The in-place update behind `tf.TensorArray` (tgc/frontend/tensor_array.py) and the loops' stacks
(the states a loop gradient saves, the outputs of `tf.scan` and `tf.map_fn`): a loop carries the
buffer and writes row i each iteration. It lowers to one ``tensor.insert_slice`` at a dynamic offset
(tgc/lowering/to_core/rows.py), which bufferizes in place inside an ``scf.while``, so filling N rows
costs N row copies instead of the N^2 / 2 of growing a tensor by concat.

An index outside [0, rows) writes nothing (as ``gather`` reads zeros there): compiled code cannot
raise, and the callers only write inside their buffers.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import Sample, ShapeError, op
from tgc.dialect.shapes import INT_DTYPES, compatible, spec
from tgc.dialect.types import format_shape


@op("write_row", tf_type="TensorListSetItem", operands=("buffer", "index", "row"))
class WriteRow:
    """buffer with buffer[index] = row: row's shape is buffer.shape[1:], index a scalar."""

    flops = no_flops

    def infer(buffer, index, row):
        if index.dtype not in INT_DTYPES:
            raise ShapeError(f"write_row index must be int32 or int64 but got {index.dtype}")
        if index.shape is not None and tuple(index.shape) != ():
            raise ShapeError(f"write_row index must be a scalar, not {format_shape(index.shape)}")
        if buffer.shape is None or len(buffer.shape) < 1:
            raise ShapeError("write_row buffer must have rank >= 1")
        if row.dtype != buffer.dtype:
            raise ShapeError(
                f"write_row row of dtype {row.dtype} does not fit a buffer of {buffer.dtype}"
            )
        if row.shape is None or not compatible(tuple(row.shape), tuple(buffer.shape[1:])):
            raise ShapeError(
                f"write_row row of shape {format_shape(row.shape)} does not fit a buffer of "
                f"shape {format_shape(buffer.shape)}"
            )
        return spec(tuple(buffer.shape), buffer.dtype)

    def eval(buffer, index, row):
        out = np.array(buffer, copy=True)
        i = int(index)
        if 0 <= i < out.shape[0]:
            out[i] = row
        return out

    def grad(b, op, g):
        buffer, index, row = op.inputs
        # The written row's old value is overwritten: no gradient flows to it.
        return [b.write_row(g, index, b.zeros_like(row)), None, b.gather(g, index)]

    samples = [
        Sample(
            shapes=((5, 3), (), (3,)),
            dtypes=("float32", "int32", "float32"),
            int_high=5,
            dynamic=((0, 0),),
        ),
        Sample(
            shapes=((4,), (), ()),
            dtypes=("float64", "int64", "float64"),
            values=(None, np.array(7, np.int64), None),
        ),
        Sample(
            shapes=((3, 2, 2), (), (2, 2)),
            dtypes=("int32", "int32", "int32"),
            values=(None, np.array(2, np.int32), None),
            dynamic=((0, 0), (2, 1)),
        ),
    ]


# stateful: its result's row count is a run-time value that the result rule cannot know, so the
# one-op registry harness (which checks the rule's shape against eval's) skips it, and tgc-fold must
# not make it a constant of a shape its type does not have; the TensorArray and loop tests run it.
@op("zero_rows", tf_type="TensorListReserve", operands=("count", "like"), stateful=True)
class ZeroRows:
    """A [max(count, 0), *like.shape] tensor of zeros of like's dtype (like's values are unread):
    a buffer of rows sized at run time (a TensorArray of a fed size, a doubled capacity)."""

    flops = no_flops

    def infer(count, like):
        if count.dtype not in INT_DTYPES:
            raise ShapeError(f"zero_rows count must be int32 or int64 but got {count.dtype}")
        if count.shape is not None and tuple(count.shape) != ():
            raise ShapeError(f"zero_rows count must be a scalar, not {format_shape(count.shape)}")
        if like.shape is None:
            raise ShapeError("zero_rows needs a row of known rank")
        return spec((None, *like.shape), like.dtype)

    def eval(count, like):
        return np.zeros((max(int(count), 0), *np.shape(like)), like.dtype)

    def grad(b, op, g):
        return [None, None]  # zeros whatever the operands

    samples = [
        Sample(
            shapes=((), (3,)),
            dtypes=("int32", "float32"),
            values=(np.array(4, np.int32), None),
            dynamic=((1, 0),),
        ),
        Sample(shapes=((), (2, 2)), dtypes=("int64", "int32"), values=(np.array(-1, np.int64),)),
    ]
