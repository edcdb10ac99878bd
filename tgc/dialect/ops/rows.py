"""``write_row``: a buffer with one row replaced, at an index known at run time; ``zero_rows``: a
buffer of zeros whose row count is known at run time.

The in-place update behind `tf.TensorArray` (tgc/frontend/tensor_array.py) and the loops' stacks
(the states a loop gradient saves, the outputs of `tf.scan` and `tf.map_fn`): a loop carries the
buffer and writes row i each iteration. It lowers to one ``tensor.insert_slice`` at a dynamic offset
(tgc/lowering/to_core/rows.py), which bufferizes in place inside an ``scf.while``, so filling N rows
costs N row copies instead of the N^2 / 2 of growing a tensor by concat.

An index outside [0, rows) writes nothing; the callers only write inside their buffers (the
gradient reads the row by ``gather``, which fails the run for such an index).
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import Attr, Sample, ShapeError, op
from tgc.dialect.shapes import INT_DTYPES, compatible, spec
from tgc.dialect.types import format_shape


@op(
    "write_row",
    tf_type="TensorListSetItem",
    operands=("buffer", "index", "row"),
    attrs={"grow": Attr("bool", False), "accumulate": Attr("bool", False)},
)
class WriteRow:
    """buffer with buffer[index] = row: row's shape is buffer.shape[1:], index a scalar. With
    ``grow``, an index at or past the end first extends the buffer with zero rows to
    max(2 * rows, index + 1) rows (capacity doubling: N writes at 0, 1, ... copy O(N) rows in all),
    so the result's row count is unknown. With ``accumulate``, row is added to buffer[index]
    instead (the in-place sum of a loop gradient's row adjoints, tgc/dialect/loop_gradient.py)."""

    flops = no_flops

    def infer(buffer, index, row, grow, accumulate):
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
        if grow:
            return spec((None, *buffer.shape[1:]), buffer.dtype)
        return spec(tuple(buffer.shape), buffer.dtype)

    def eval(buffer, index, row, grow, accumulate):
        out = np.array(buffer, copy=True)
        i = int(index)
        if grow and i >= out.shape[0]:
            rows = max(2 * out.shape[0], i + 1)
            out = np.concatenate([out, np.zeros((rows - out.shape[0], *out.shape[1:]), out.dtype)])
        if 0 <= i < out.shape[0]:
            out[i] = out[i] + row if accumulate else row
        return out

    def grad(b, op, g):
        buffer, index, row = op.inputs
        # The row's adjoint is read before g's row is zeroed, so that bufferization can zero it in
        # place (a read after the write would make it copy g). The written row's old value is
        # overwritten: no gradient flows to it.
        drow = b.read_row(g, index)
        if op.attrs["accumulate"]:
            return [g, None, drow]
        dbuffer = b.write_row(g, index, b.zeros_like(row))
        if op.attrs["grow"]:  # the rows added by growing are not buffer's
            dbuffer = b.head_rows(dbuffer, _rows_of(b, buffer))
        return [dbuffer, None, drow]

    # No sample grows: the result rule cannot know a grown buffer's rows, which the one-op harness
    # compares with eval's; tests/e2e/test_tensor_array.py runs growing writes. Every sample fixes
    # its index (a scalar int inside the buffer, which drawn graphs do not hold), so the random
    # graphs of tests/conformance leave write_row and read_row out, as they do gather's fixed cases;
    # the loop and TensorArray tests run them on every target that runs loops.
    samples = [
        Sample(
            shapes=((5, 3), (), (3,)),
            dtypes=("float32", "int32", "float32"),
            values=(None, np.array(4, np.int32), None),
            dynamic=((0, 0),),
        ),
        Sample(
            shapes=((4,), (), ()),
            dtypes=("float64", "int64", "float64"),
            values=(None, np.array(3, np.int64), None),
        ),
        Sample(
            shapes=((4, 3), (), (3,)),
            dtypes=("float64", "int32", "float64"),
            values=(None, np.array(2, np.int32), None),
            attrs={"accumulate": True},
            dynamic=((0, 0),),
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


def _rows_of(b, x):
    """x's row count as an int32 scalar, read at run time."""
    return b.gather(b.op("shape", x), b.constant(0, dtype="int32"))


@op("read_row", tf_type="TensorListGetItem", operands=("buffer", "index"))
class ReadRow:
    """buffer[index] (zeros for an index outside [0, rows)): ``gather`` of one row, lowered to a
    copy of the row made where the op stands, so that a write_row after it may update the buffer
    in place (a gather's generic may be fused into a consumer placed after the write)."""

    flops = no_flops

    def infer(buffer, index):
        if index.dtype not in INT_DTYPES:
            raise ShapeError(f"read_row index must be int32 or int64 but got {index.dtype}")
        if index.shape is not None and tuple(index.shape) != ():
            raise ShapeError(f"read_row index must be a scalar, not {format_shape(index.shape)}")
        if buffer.shape is None or len(buffer.shape) < 1:
            raise ShapeError("read_row buffer must have rank >= 1")
        return spec(tuple(buffer.shape[1:]), buffer.dtype)

    def eval(buffer, index):
        i = int(index)
        if 0 <= i < buffer.shape[0]:
            return np.array(buffer[i], copy=True)
        return np.zeros(buffer.shape[1:], buffer.dtype)

    def grad(b, op, g):
        buffer, index = op.inputs
        return [b.gather_grad(g, index, buffer), None]

    samples = [
        Sample(
            shapes=((5, 3), ()),
            dtypes=("float32", "int32"),
            values=(None, np.array(1, np.int32)),
            dynamic=((0, 0),),
        ),
        Sample(
            shapes=((4, 2, 2), ()),
            dtypes=("float64", "int64"),
            values=(None, np.array(2, np.int64)),
            dynamic=((0, 0), (0, 2)),
        ),
        Sample(shapes=((3,), ()), dtypes=("int32", "int32"), values=(None, np.array(-1, np.int32))),
    ]


# stateful: as zero_rows, its row count is a run-time value the result rule cannot know.
@op("head_rows", tf_type="TensorListGetItems", operands=("x", "count"), stateful=True)
class HeadRows:
    """The first min(max(count, 0), rows) rows of x (a TensorArray's written rows out of a buffer of
    larger capacity)."""

    flops = no_flops

    def infer(x, count):
        if count.dtype not in INT_DTYPES:
            raise ShapeError(f"head_rows count must be int32 or int64 but got {count.dtype}")
        if count.shape is not None and tuple(count.shape) != ():
            raise ShapeError(f"head_rows count must be a scalar, not {format_shape(count.shape)}")
        if x.shape is None or len(x.shape) < 1:
            raise ShapeError("head_rows needs a tensor of rank >= 1")
        return spec((None, *x.shape[1:]), x.dtype)

    def eval(x, count):
        return np.array(x[: max(int(count), 0)], copy=True)

    def grad(b, op, g):
        x, count = op.inputs
        missing = b.op("subtract", _rows_of(b, x), _rows_of(b, g))
        # A row of x's shape to size the pad by (a gather of row 0 would fail on 0 rows).
        row = b.op("reduce_sum", x, axes=[0], keepdims=False)
        pad = b.zero_rows(missing, row)
        return [b.concat(g, pad, axis=0), None]

    samples = [
        Sample(
            shapes=((5, 3), ()),
            dtypes=("float32", "int32"),
            values=(None, np.array(2, np.int32)),
        ),
    ]
