"""tgc -> core for ``write_row`` and ``zero_rows`` (tgc/dialect/ops/rows.py).

One ``tensor.insert_slice`` of the row at a dynamic offset into the buffer: bufferization updates
the buffer in place where it is not read afterwards (a loop's carried buffer), so a loop that
writes a row per iteration copies one row per iteration. An index outside [0, rows) is clamped to
row 0 for the slice and the old row written back there (nothing changes). ``zero_rows`` is a
``tensor.empty`` of the run-time row count filled with zeros.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, linalg, tensor

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.array import _extract, _insert, _tensor_type, reshape_to
from tgc.lowering.to_core.common import (
    const_index,
    dim,
    element_type,
    empty,
    scalar_const,
    shape_of,
)
from tgc.lowering.to_core.gather import _row_index


@lowers("write_row")
def _write_row(op):
    buffer, index, row = op.operands
    shape = shape_of(buffer)
    rows = dim(buffer, 0)
    if 0 in shape:  # no element to write (an empty row or an empty buffer)
        return buffer
    at, inside = _row_index(tensor.ExtractOp(index, []).result, rows)
    tail = [d if d is not None else dim(buffer, j + 1) for j, d in enumerate(shape[1:])]
    one_row = _tensor_type([1] + shape[1:], element_type(buffer))
    rest = [0] * (len(shape) - 1)
    strides = [1] * len(shape)
    incoming = reshape_to(row, one_row, [const_index(1)] + [_index(d) for d in tail])
    current = _extract(buffer, one_row, [at] + rest, [1] + tail, strides)
    written = arith.select(inside, incoming, current)
    return _insert(written, buffer, [at] + rest, strides)


def _index(d):
    return d if isinstance(d, ir.Value) else const_index(d)


@lowers("zero_rows")
def _zero_rows(op):
    count, like = op.operands
    n = arith.index_cast(ir.IndexType.get(), tensor.ExtractOp(count, []).result)
    n = arith.maxsi(n, const_index(0))
    dims = {0: n}
    dims.update({j + 1: dim(like, j) for j, d in enumerate(shape_of(like)) if d is None})
    zero = scalar_const(0, element_type(op.result_type))
    return linalg.fill(zero, outs=[empty(op.result_type, dims)])
