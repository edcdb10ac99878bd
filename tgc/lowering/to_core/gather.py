"""tgc -> core for ``gather`` and ``gather_grad`` (tgc/dialect/ops/gather.py).

``gather`` is one linalg.generic over the result that reads its index from ``indices`` and the row
element from params with ``tensor.extract``. ``gather_grad`` is an scf.for over the flattened
indices that adds one row of the gradient into the carried result per index, so its cost is the size
of the gradient, not rows x indices.

An index outside [0, rows) fails the run as TensorFlow's CPU kernel does ("indices[1,2] = 7 is not
in [0, 5)", the first bad index in row-major order): a reduction over the indices finds its
position, and a run-time check (tgc/lowering/runtime_errors.py) reports it before any row is read.
A GPU's kernels cannot call the host: there the check writes a record that the launch plan reads
after the kernels (runtime_errors.device_check), and the run fails with the same error. Bad
indices are clamped for the read and masked to zeros in any case, never read out of bounds.
``gather_grad`` masks them too: its indices are those its forward gather has checked (an index
outside the rows is dropped: boolean_mask and scatters rely on it). It checks at run time that g is
indices.shape + params.shape[1:] where a dim is known only then, as TF's UnsortedSegmentSum does.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, linalg, scf, tensor

from tgc.dialect.ir_helpers import module_of
from tgc.lowering import runtime_errors
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.array import _extract, _insert, _tensor_type, reshape_to
from tgc.runtime.host_calls import INDEX_OUT_OF_RANGE
from tgc.lowering.to_core.common import (
    PARALLEL,
    REDUCTION,
    affine_map,
    can_report,
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


def _row_index(index: ir.Value, rows: ir.Value) -> tuple:
    """(clamped row as an index value, whether the index was inside [0, rows))."""
    i = arith.index_cast(ir.IndexType.get(), index)
    zero = const_index(0)
    inside = arith.andi(
        arith.cmpi(arith.CmpIPredicate.sge, i, zero), arith.cmpi(arith.CmpIPredicate.slt, i, rows)
    )
    return arith.select(inside, i, zero), inside


def _first_bad_index(indices: ir.Value, rows: ir.Value, position_type=None) -> tuple:
    """(flat position of the first index outside [0, rows), or the index count when none, as
    ``position_type`` (index by default); the flat indices; the count) by one reduction over the
    flattened indices."""
    flat, count = _flat_indices(indices)
    position_type = position_type or ir.IndexType.get()
    init = linalg.fill(
        _as(position_type, count), outs=[empty(ir.RankedTensorType.get([], position_type), {})]
    )
    maps = [identity_map(1), affine_map(1, [])]

    def body(index, first):
        _, inside = _row_index(index, rows)
        here = _as(position_type, linalg.IndexOp(0).result)
        bad_here = arith.select(inside, first, here)
        return arith.minui(first, bad_here)

    found = generic([flat], [init], maps, [REDUCTION], body)[0]
    return tensor.ExtractOp(found, []).result, flat, count


def _as(type_: ir.Type, index: ir.Value) -> ir.Value:
    """An index value as ``type_`` (index or an integer type)."""
    return index if index.type == type_ else arith.index_cast(type_, index)


def _flat_indices(indices: ir.Value) -> tuple:
    count = const_index(1)
    for j in range(len(shape_of(indices))):
        count = arith.muli(count, dim(indices, j))
    known = shape_of(indices)
    n = None if None in known else _product(known)
    flat = reshape_to(indices, _tensor_type([n], element_type(indices)), [count])
    return flat, count


def _check_indices(op, indices: ir.Value, rows: ir.Value) -> None:
    """Fails the run with TensorFlow's message when an index is outside [0, rows)."""
    position, flat, count = _first_bad_index(indices, rows)
    check = scf.IfOp(arith.cmpi(arith.CmpIPredicate.ult, position, count))
    with ir.InsertionPoint(check.then_block):
        bad = tensor.ExtractOp(flat, [position]).result
        i64 = ir.IntegerType.get_signless(64)
        bad = bad if bad.type == i64 else arith.extsi(i64, bad)
        rank = len(shape_of(indices))
        runtime_errors.report(
            module_of(op.operation),
            INDEX_OUT_OF_RANGE,
            {"node": runtime_errors.node_description(ir.Location.current)},
            [position, bad, rows, const_index(rank)] + [dim(indices, j) for j in range(rank)],
        )
        scf.YieldOp([])


def _check_indices_on_device(op, indices: ir.Value, rows: ir.Value) -> None:
    """The same check in a GPU's kernels: they write a record of it (failed, position, index,
    rows, the indices' rank and dims) that the launch plan reads (runtime_errors.device_check);
    the position is an i64 (the plan's buffers hold no index type)."""
    i64 = ir.IntegerType.get_signless(64)
    position, flat, count = _first_bad_index(indices, rows, i64)
    failed = arith.cmpi(arith.CmpIPredicate.ult, position, arith.index_cast(i64, count))
    pick = scf.IfOp(failed, [i64], has_else=True)
    with ir.InsertionPoint(pick.then_block):  # no element to read when none failed (maybe none)
        bad = tensor.ExtractOp(flat, [arith.index_cast(ir.IndexType.get(), position)]).result
        scf.YieldOp([bad if bad.type == i64 else arith.extsi(i64, bad)])
    with ir.InsertionPoint(pick.else_block):
        scf.YieldOp([arith.ConstantOp(i64, 0).result])
    rank = len(shape_of(indices))
    runtime_errors.device_check(
        module_of(op.operation),
        INDEX_OUT_OF_RANGE,
        {"node": runtime_errors.node_description(ir.Location.current)},
        failed,
        [position, pick.results[0], rows, const_index(rank)]
        + [dim(indices, j) for j in range(rank)],
    )


@lowers("gather")
def _gather(op):
    params, indices = op.operands
    if can_report(op.operation):
        _check_indices(op, indices, dim(params, 0))
    else:
        _check_indices_on_device(op, indices, dim(params, 0))
    out_shape = shape_of(op.result_type)
    k = len(shape_of(indices))
    dynamic = {
        j: dim(indices, j) if j < k else dim(params, j - k + 1)
        for j, d in enumerate(out_shape)
        if d is None
    }
    init = empty(op.result_type, dynamic)
    rows = dim(params, 0)
    zero = scalar_const(0, element_type(op.result_type))
    maps = [affine_map(len(out_shape), list(range(k))), identity_map(len(out_shape))]

    def body(index, _):
        row, inside = _row_index(index, rows)
        rest = [linalg.IndexOp(j).result for j in range(k, len(out_shape))]
        return arith.select(inside, tensor.ExtractOp(params, [row] + rest).result, zero)

    return generic([indices], [init], maps, [PARALLEL] * len(out_shape), body)[0]


def _flat_rows(g, indices, params):
    """g as [n, *params.shape[1:]] and indices as [n], n the number of indices."""
    count = const_index(1)
    for j in range(len(shape_of(indices))):
        count = arith.muli(count, dim(indices, j))
    known = shape_of(indices)
    n = None if None in known else _product(known)
    flat_indices = reshape_to(indices, _tensor_type([n], element_type(indices)), [count])
    tail = shape_of(params)[1:]
    g_type = _tensor_type([n] + tail, element_type(g))
    flat_g = reshape_to(g, g_type, [count] + [dim(params, j + 1) for j in range(len(tail))])
    return flat_g, flat_indices, count


def _product(values):
    out = 1
    for v in values:
        out *= v
    return out


def _add_row(acc, g_row, inside, elem):
    """acc + g_row where the index was inside the params' rows, else acc unchanged."""
    add = arith.addf if is_float(elem) else arith.addi
    rank = len(shape_of(acc))
    maps = [identity_map(rank)] * 3
    init = empty(acc.type, {j: dim(acc, j) for j, d in enumerate(shape_of(acc)) if d is None})
    return generic(
        [acc, g_row],
        [init],
        maps,
        [PARALLEL] * rank,
        lambda a, b, _: arith.select(inside, add(a, b), a),
    )[0]


def _differ(pairs: list) -> ir.Value | None:
    """Whether any (a dim, b dim) pair differs at run time; None where all are equal by
    construction (the same dim_key)."""
    failed = None
    for (a, i), (b, j) in pairs:
        if dim_key(a, i) == dim_key(b, j):
            continue
        ne = arith.cmpi(arith.CmpIPredicate.ne, dim(a, i), dim(b, j))
        failed = ne if failed is None else arith.ori(failed, ne)
    return failed


def _shape_text(first: int, rank: int) -> str:
    """ "[{first},{first + 1},...]": a shape of ``rank`` dims in a check's message."""
    return "[" + ",".join(f"{{{first + j}}}" for j in range(rank)) + "]"


def _check_sizes(op, g, indices, params) -> None:
    """TF's UnsortedSegmentSum check that data (g) starts with segment_ids' shape, and that its
    other dims are the output rows' (params.shape[1:]), where a dim is known only at run time:
    the loop reads g over the sizes of indices and params, and past g's end if they differ."""
    k, tail = len(shape_of(indices)), len(shape_of(params)) - 1
    rank = len(shape_of(g))
    g_dims = [dim(g, j) for j in range(rank)]
    lead = _differ([((g, j), (indices, j)) for j in range(k)])
    if lead is not None:
        message = (
            f"data.shape = {_shape_text(0, rank)} does not start with segment_ids.shape = "
            f"{_shape_text(rank, k)}"
        )
        fail_out_of_range(op.operation, lead, message, g_dims + [dim(indices, j) for j in range(k)])
    rest = _differ([((g, k + j), (params, 1 + j)) for j in range(tail)])
    if rest is not None:
        message = (
            f"UnsortedSegmentSum: data.shape = {_shape_text(0, rank)} does not end with the "
            f"output's row shape {_shape_text(rank, tail)}"
        )
        row_dims = [dim(params, 1 + j) for j in range(tail)]
        fail_out_of_range(op.operation, rest, message, g_dims + row_dims)


@lowers("gather_grad")
def _gather_grad(op):
    g, indices, params = op.operands
    _check_sizes(op, g, indices, params)
    elem = element_type(op.result_type)
    shape = shape_of(op.result_type)
    start = empty(op.result_type, {j: dim(params, j) for j, d in enumerate(shape) if d is None})
    start = linalg.fill(scalar_const(0, elem), outs=[start])
    flat_g, flat_indices, count = _flat_rows(g, indices, params)
    rows = dim(params, 0)
    row_sizes = [1] + [d if d is not None else dim(params, j + 1) for j, d in enumerate(shape[1:])]
    row_type = _tensor_type([1] + shape[1:], elem)
    strides = [1] * len(shape)
    loop = scf.ForOp(const_index(0), count, const_index(1), [start])
    with ir.InsertionPoint(loop.body):
        k, acc = loop.induction_variable, loop.inner_iter_args[0]
        row, inside = _row_index(tensor.ExtractOp(flat_indices, [k]).result, rows)
        rest = [0] * (len(shape) - 1)
        current = _extract(acc, row_type, [row] + rest, row_sizes, strides)
        incoming = _extract(flat_g, row_type, [k] + rest, row_sizes, strides)
        scf.YieldOp(
            [_insert(_add_row(current, incoming, inside, elem), acc, [row] + rest, strides)]
        )
    return loop.results[0]
