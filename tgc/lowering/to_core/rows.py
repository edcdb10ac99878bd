"""tgc -> core for ``write_row`` and ``zero_rows`` (tgc/dialect/ops/rows.py).

One ``tensor.insert_slice`` of the row at a dynamic offset into the buffer: bufferization updates
the buffer in place where it is not read afterwards (a loop's carried buffer), so a loop that
writes a row per iteration copies one row per iteration. An index outside [0, rows) is clamped to
row 0 for the slice and the old row written back there (nothing changes). ``zero_rows`` is a
``tensor.empty`` of the run-time row count filled with zeros.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, linalg, scf, tensor

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.array import _extract, _insert, _tensor_type, reshape_to
from tgc.lowering.to_core.common import (
    PARALLEL,
    const_index,
    dim,
    dim_key,
    element_type,
    empty,
    fail_out_of_range,
    generic,
    identity_map,
    is_float,
    scalar_const,
    shape_of,
)
from tgc.lowering.to_core.gather import _row_index


@lowers("write_row")
def _write_row(op):
    buffer, index, row = op.operands
    raw = tensor.ExtractOp(index, []).result
    if op.attrs["grow"]:
        buffer = _grown(buffer, arith.index_cast(ir.IndexType.get(), raw), op.result_type)
    shape = shape_of(buffer)
    rows = dim(buffer, 0)
    _check_row_shape(op, buffer, raw, row)
    if 0 in shape[1:]:  # no element to write (an empty row)
        return buffer
    at, inside = _row_index(raw, rows)
    tail = [d if d is not None else dim(buffer, j + 1) for j, d in enumerate(shape[1:])]
    one_row = _tensor_type([1] + shape[1:], element_type(buffer))
    rest = [0] * (len(shape) - 1)
    strides = [1] * len(shape)
    incoming = reshape_to(row, one_row, [const_index(1)] + [_index(d) for d in tail])
    current = _extract(buffer, one_row, [at] + rest, [1] + tail, strides)
    if op.attrs["accumulate"]:
        incoming = _added(current, incoming)
    written = arith.select(inside, incoming, current)
    return _insert(written, buffer, [at] + rest, strides)


def _check_row_shape(op, buffer, index, row) -> None:
    """TF's check that a row written has the buffer's element shape, where a dim of either is
    known at run time only (the graph checked the static ones; a cond's [2] written to rows of
    [3]): the insert reads the row over the buffer's row size."""
    rank = len(shape_of(row))
    unsure = [j for j in range(rank) if dim_key(row, j) != dim_key(buffer, j + 1)]
    if not unsure:
        return
    row_dims = [dim(row, j) for j in range(rank)]
    element_dims = [dim(buffer, j + 1) for j in range(rank)]
    differ = None
    for j in unsure:
        one = arith.cmpi(arith.CmpIPredicate.ne, row_dims[j], element_dims[j])
        differ = one if differ is None else arith.ori(differ, one)
    value_shape = ",".join(f"{{{1 + j}}}" for j in range(rank))
    element_shape = ",".join(f"{{{1 + rank + j}}}" for j in range(rank))
    message = (
        "Could not write to TensorArray index {0} because the value shape is "
        f"[{value_shape}] which is incompatible with the TensorArray's inferred element shape: "
        f"[{element_shape}] (consider setting infer_shape=False)."
    )
    at = arith.index_cast(ir.IndexType.get(), index)
    fail_out_of_range(op.operation, differ, message, [at, *row_dims, *element_dims])


def _index(d):
    return d if isinstance(d, ir.Value) else const_index(d)


@lowers("zero_rows")
def _zero_rows(op):
    count, like = op.operands
    n = arith.index_cast(ir.IndexType.get(), tensor.ExtractOp(count, []).result)
    n = arith.maxsi(n, const_index(0))
    dims = {0: n}
    dims.update({j + 1: dim(like, j) for j, d in enumerate(shape_of(like)) if d is None})
    return _zeros(op.result_type, dims)


def _zeros(result_type, dims: dict):
    """A tensor of ``result_type`` (its unknown dims ``dims``) of zeros: a generic yielding 0, not
    linalg.fill, whose scalar tgc-bool-storage would leave i1 beside a widened bool tensor."""
    rank = len(shape_of(result_type))
    zero = scalar_const(0, element_type(result_type))
    init = empty(result_type, dims)
    return generic([], [init], [identity_map(rank)], [PARALLEL] * rank, lambda _: zero)[0]


def _grown(buffer, i, result_type):
    """buffer as ``result_type`` (rows unknown), extended with zero rows to max(2 * rows, i + 1)
    when row i is past its end: scf.if, so only the writes that grow copy the buffer."""
    if shape_of(buffer) != shape_of(result_type):
        buffer = tensor.cast(result_type, buffer)
    rows = dim(buffer, 0)
    past = arith.cmpi(arith.CmpIPredicate.sge, i, rows)
    branch = scf.IfOp(past, [result_type], has_else=True)
    with ir.InsertionPoint(branch.then_block):
        doubled = arith.muli(rows, const_index(2))
        size = arith.maxsi(doubled, arith.addi(i, const_index(1)))
        dims = {0: size}
        dims.update({j: dim(buffer, j) for j, d in enumerate(shape_of(buffer)) if d is None and j})
        bigger = _zeros(result_type, dims)
        scf.YieldOp(
            [_insert(buffer, bigger, [0] * len(shape_of(buffer)), [1] * len(shape_of(buffer)))]
        )
    with ir.InsertionPoint(branch.else_block):
        scf.YieldOp([buffer])
    return branch.results[0]


@lowers("head_rows")
def _head_rows(op):
    x, count = op.operands
    n = arith.index_cast(ir.IndexType.get(), tensor.ExtractOp(count, []).result)
    n = arith.minsi(arith.maxsi(n, const_index(0)), dim(x, 0))
    shape = shape_of(x)
    sizes = [n] + [d if d is not None else dim(x, j + 1) for j, d in enumerate(shape[1:])]
    return _extract(x, op.result_type, [0] * len(shape), sizes, [1] * len(shape))


def _added(a, b):
    """a + b, elementwise, for two tensors of one type."""
    rank = len(shape_of(a))
    add = arith.addf if is_float(element_type(a)) else arith.addi
    init = empty(a.type, {j: dim(a, j) for j, d in enumerate(shape_of(a)) if d is None})
    maps = [identity_map(rank)] * 3
    return generic([a, b], [init], maps, [PARALLEL] * rank, lambda x, y, _: add(x, y))[0]


@lowers("read_row")
def _read_row(op):
    """The row's slice copied into a tensor of its own (linalg.copy, which elementwise fusion
    leaves where it is), zeros where the index is outside."""
    buffer, index = op.operands
    shape = shape_of(buffer)
    if 0 in shape:
        return _zeros(
            op.result_type, {j: dim(buffer, j + 1) for j, d in enumerate(shape[1:]) if d is None}
        )
    at, inside = _row_index(tensor.ExtractOp(index, []).result, dim(buffer, 0))
    tail = [d if d is not None else dim(buffer, j + 1) for j, d in enumerate(shape[1:])]
    rank = len(shape)
    row = _extract(buffer, op.result_type, [at] + [0] * (rank - 1), [1] + tail, [1] * rank)
    dims = {j: dim(buffer, j + 1) for j, d in enumerate(shape[1:]) if d is None}
    copied = linalg.copy(row, outs=[empty(op.result_type, dims)])
    zeros = _zeros(op.result_type, dims)
    return arith.select(inside, copied, zeros)
