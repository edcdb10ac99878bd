"""tgc -> core for ``gather`` and ``gather_grad`` (tgc/dialect/ops/gather.py).

``gather`` is one linalg.generic over the result that reads its index from ``indices`` and the row
element from params with ``tensor.extract``. ``gather_grad`` is an scf.for over the flattened
indices that adds one row of the gradient into the carried result per index, so its cost is the size
of the gradient, not rows x indices. Indices outside [0, rows) are clamped for the read and masked
out.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, linalg, scf, tensor

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.array import _extract, _insert, _tensor_type, reshape_to
from tgc.lowering.to_core.common import (
    PARALLEL,
    affine_map,
    const_index,
    dim,
    element_type,
    empty,
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


@lowers("gather")
def _gather(op):
    params, indices = op.operands
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


@lowers("gather_grad")
def _gather_grad(op):
    g, indices, params = op.operands
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
