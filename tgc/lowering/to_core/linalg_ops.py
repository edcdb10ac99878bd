"""Core lowering of linear algebra: matmul becomes linalg.matmul on zero-filled outputs, and
batch_matmul linalg.batch_matmul.

Transposed operands are expressed in the matmul's indexing maps (A read as (k, m), B as (n, k))
rather than copied: the CPU pipeline's tgc-blas-matmul turns those maps into BLAS transpose flags,
and the loop lowering reads the operand in place.
"""

from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.array import _extract, _product_of, reshape_to
from tgc.lowering.to_core.common import (
    PARALLEL,
    REDUCTION,
    affine_map,
    broadcast_at_run_time,
    broadcast_map,
    const_index,
    dim,
    dim_key,
    element_type,
    empty,
    fail_out_of_range,
    generic,
    identity_map,
    is_float,
    report_incompatible,
    scalar_const,
    shape_of,
)


def matmul_maps(transpose_a: bool, transpose_b: bool) -> list:
    """Indexing maps over (m, n, k) of A, B and C."""
    m, n, k = (ir.AffineDimExpr.get(i) for i in range(3))
    a = [k, m] if transpose_a else [m, k]
    b = [n, k] if transpose_b else [k, n]
    return [ir.AffineMap.get(3, 0, exprs) for exprs in (a, b, [m, n])]


def matmul(a, b, out_type, transpose_a=False, transpose_b=False):
    """linalg.matmul of a and b (each possibly read transposed) into a zero-filled ``out_type``."""
    dynamic = {}
    if shape_of(out_type)[0] is None:
        dynamic[0] = dim(a, 1 if transpose_a else 0)
    if shape_of(out_type)[1] is None:
        dynamic[1] = dim(b, 0 if transpose_b else 1)
    init = linalg.fill(scalar_const(0, element_type(out_type)), outs=[empty(out_type, dynamic)])
    if not (transpose_a or transpose_b):
        return linalg.matmul(a, b, outs=[init])
    return linalg.matmul(a, b, outs=[init], indexing_maps=matmul_maps(transpose_a, transpose_b))


@lowers("matmul")
def _matmul(op):
    a, b = op.operands
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    _check_inner_dims(op, a, b, ta, tb)
    return matmul(a, b, op.result_type, ta, tb)


def _check_inner_dims(op, a, b, transpose_a: bool, transpose_b: bool) -> None:
    """TF's MatMul check of the contracted dims where one is known at run time only (and not equal
    by construction): "Matrix size-incompatible: In[0]: [1,3], In[1]: [5,1]". The check's kind
    does not let the code go on (a handler that returns ends the process), so the product needs no
    slice to stay within its operands, and an SGD update still folds into the GEMM."""
    ka, kb = (0 if transpose_a else 1), (1 if transpose_b else 0)
    if None not in (shape_of(a)[ka], shape_of(b)[kb]) or dim_key(a, ka) == dim_key(b, kb):
        return
    differ = arith.cmpi(arith.CmpIPredicate.ne, dim(a, ka), dim(b, kb))
    message = "Matrix size-incompatible: In[0]: [{0},{1}], In[1]: [{2},{3}]"
    dims = [dim(a, 0), dim(a, 1), dim(b, 0), dim(b, 1)]
    fail_out_of_range(op.operation, differ, message, dims)


# ---- batch_matmul --------------------------------------------------------------------------------
#
# The batch dims of both operands are broadcast to the result's (a copy only for an operand that
# lacks some or has a 1 where the result does not; unknown dims that may turn out to be 1 are
# decided at run time, as elementwise ops do), collapsed into one and multiplied by one
# linalg.batch_matmul, whose result is expanded back. Transposes stay in the indexing maps. A batch
# times one matrix (b of rank 2, a not transposed: a dense layer over a sequence) is one
# linalg.matmul of the batch's rows instead.


def batch_matmul_maps(transpose_a: bool, transpose_b: bool) -> list:
    """Indexing maps over (batch, m, n, k) of A, B and C."""
    s, m, n, k = (ir.AffineDimExpr.get(i) for i in range(4))
    a = [s, k, m] if transpose_a else [s, m, k]
    b = [s, n, k] if transpose_b else [s, k, n]
    return [ir.AffineMap.get(4, 0, exprs) for exprs in (a, b, [s, m, n])]


def _batch_axis(v: ir.Value, i: int, batch_rank: int) -> int:
    """v's axis aligned with batch axis i (negative when v lacks it)."""
    return i - (batch_rank - (len(shape_of(v)) - 2))


def _uncertain_batch_axes(operands: list, batch: list) -> dict:
    """Batch axis -> [(operand index, operand axis)] where an unknown dim may be 1 or differ at
    run time (``uncertain_axes`` restricted to the batch dims)."""
    out = {}
    for i, r in enumerate(batch):
        taking_part = []
        for k, v in enumerate(operands):
            j = _batch_axis(v, i, len(batch))
            if j >= 0 and shape_of(v)[j] != 1:
                taking_part.append((k, j))
        if not any(shape_of(operands[k])[j] is None for k, j in taking_part):
            continue
        if r is None and len(taking_part) == 1:
            continue  # the one operand that sizes this axis
        keys = [dim_key(operands[k], j) for k, j in taking_part]
        if all(key == keys[0] for key in keys) and (r is None or keys[0] == ("const", r)):
            continue  # equal by construction
        out[i] = taking_part
    return out


def _batch_sizes(operands: list, batch: list, run_time: dict) -> list:
    """Each batch dim of the result as an index value."""
    sizes = []
    for i, r in enumerate(batch):
        if r is not None:
            sizes.append(const_index(r))
        elif i in run_time:
            sizes.append(run_time[i])
        else:
            v = next(
                v
                for v in operands
                if _batch_axis(v, i, len(batch)) >= 0
                and shape_of(v)[_batch_axis(v, i, len(batch))] is None
            )
            sizes.append(dim(v, _batch_axis(v, i, len(batch))))
    return sizes


def _broadcast_batch(v: ir.Value, batch: list, sizes: list) -> ir.Value:
    """v [..., r, c] with its batch dims broadcast to ``batch`` (copied only when they differ)."""
    shape = shape_of(v)
    full = list(batch) + shape[-2:]
    if len(shape) == len(full) and not any(d == 1 and r != 1 for d, r in zip(shape, batch)):
        return v
    result_type = ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size() if d is None else d for d in full], element_type(v)
    )
    dynamic = {i: sizes[i] for i, d in enumerate(batch) if d is None}
    dynamic.update(
        {len(batch) + j: dim(v, len(shape) - 2 + j) for j in range(2) if full[-2 + j] is None}
    )
    init = empty(result_type, dynamic)
    maps = [broadcast_map(v, full), identity_map(len(full))]
    return generic([v], [init], maps, [PARALLEL] * len(full), lambda x, _: x)[0]


def _same_inner_dim(a, b, transpose_a, transpose_b):
    """a and b with the inner (contracted) dim checked equal at run time when either is unknown:
    TF fails such a run; the check reports it, and both are then read over the smaller size so
    that the product stays within their buffers if the error handler returns."""
    ka, kb = (-2 if transpose_a else -1), (-1 if transpose_b else -2)
    ra, rb = len(shape_of(a)), len(shape_of(b))
    if shape_of(a)[ka] is not None and shape_of(b)[kb] is not None:
        return a, b
    if dim_key(a, ra + ka) == dim_key(b, rb + kb):
        return a, b
    da, db = dim(a, ra + ka), dim(b, rb + kb)
    report_incompatible(arith.cmpi(arith.CmpIPredicate.ne, da, db), [a, b])
    k = arith.minui(da, db)
    return _limit_dim(a, ra + ka, k), _limit_dim(b, rb + kb, k)


def _limit_dim(v: ir.Value, axis: int, size: ir.Value) -> ir.Value:
    """v's first ``size`` entries along ``axis`` (an unknown dim, so the slice type keeps ?)."""
    shape = shape_of(v)
    if shape[axis] is not None:  # the other operand's dim is unknown: it gets the slice
        return v
    sizes = [size if j == axis else (dim(v, j) if d is None else d) for j, d in enumerate(shape)]
    # array's slice: an empty one (a 0-sized batch) is no slice, which MLIR would refuse.
    return _extract(v, v.type, [0] * len(shape), sizes, [1] * len(shape))


def _as_one_batch(v: ir.Value, count: ir.Value, static_count) -> ir.Value:
    """v [batch..., r, c] as [count, r, c] (row-major: batch dims flattened)."""
    shape = shape_of(v)
    if len(shape) == 3:
        return v
    result_type = ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size() if d is None else d for d in [static_count] + shape[-2:]],
        element_type(v),
    )
    return reshape_to(v, result_type, [count, dim(v, len(shape) - 2), dim(v, len(shape) - 1)])


def batched_matmul(a, b, out_type, transpose_a=False, transpose_b=False):
    """linalg.batch_matmul of a [s, ., .] and b [s, ., .] into a zero-filled ``out_type``."""
    dynamic = {}
    if shape_of(out_type)[0] is None:
        dynamic[0] = dim(a, 0)
    if shape_of(out_type)[1] is None:
        dynamic[1] = dim(a, 2 if transpose_a else 1)
    if shape_of(out_type)[2] is None:
        dynamic[2] = dim(b, 1 if transpose_b else 2)
    init = linalg.fill(scalar_const(0, element_type(out_type)), outs=[empty(out_type, dynamic)])
    if not (transpose_a or transpose_b):
        return linalg.batch_matmul(a, b, outs=[init])
    return linalg.batch_matmul(
        a, b, outs=[init], indexing_maps=batch_matmul_maps(transpose_a, transpose_b)
    )


def _generic_batch_matmul(a, b, out_type, sizes, transpose_a, transpose_b):
    """The product as one linalg.generic over (batch..., m, n, k) (loops, no BLAS), for operands
    already broadcast to the batch dims ``sizes``."""
    rank = len(shape_of(out_type))
    s = list(range(rank - 2))
    m, n, k = rank - 2, rank - 1, rank
    maps = [
        affine_map(rank + 1, s + ([k, m] if transpose_a else [m, k])),
        affine_map(rank + 1, s + ([n, k] if transpose_b else [k, n])),
        affine_map(rank + 1, s + [m, n]),
    ]
    dynamic = {i: sizes[i] for i in s if shape_of(out_type)[i] is None}
    if shape_of(out_type)[m] is None:
        dynamic[m] = dim(a, rank - 1 if transpose_a else rank - 2)
    if shape_of(out_type)[n] is None:
        dynamic[n] = dim(b, rank - 2 if transpose_b else rank - 1)
    init = linalg.fill(scalar_const(0, element_type(out_type)), outs=[empty(out_type, dynamic)])
    elem = element_type(out_type)
    multiply, add = (arith.mulf, arith.addf) if is_float(elem) else (arith.muli, arith.addi)
    iterators = [PARALLEL] * rank + [REDUCTION]
    return generic([a, b], [init], maps, iterators, lambda x, y, acc: add(acc, multiply(x, y)))[0]


def _rows_times_matrix(a, b, out_type, transpose_b):
    """a [batch..., n, k] @ b [k, m] (no batch in b, a not transposed) as one matmul of a's rows,
    [batch * n, k] @ [k, m], as TF does: one gemm instead of b copied into every batch entry. The
    reshapes are views (at most one unknown dim in each expanded group)."""
    shape, out_shape = shape_of(a), shape_of(out_type)
    rows = [dim(a, i) for i in range(len(shape) - 1)]
    static_rows = None if None in shape[:-1] else int(np.prod(shape[:-1], dtype=np.int64))
    elem = element_type(a)
    flat_a_type = ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size() if d is None else d for d in (static_rows, shape[-1])],
        elem,
    )
    flat_a = reshape_to(a, flat_a_type, [_product_of(rows), dim(a, len(shape) - 1)])
    flat_out_type = ir.RankedTensorType.get(
        [
            ir.ShapedType.get_dynamic_size() if d is None else d
            for d in (static_rows, out_shape[-1])
        ],
        element_type(out_type),
    )
    product = matmul(flat_a, b, flat_out_type, False, transpose_b)
    return reshape_to(product, out_type, rows + [dim(product, 1)])


@lowers("batch_matmul")
def _batch_matmul(op):
    a, b = op.operands
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    out_shape = shape_of(op.result_type)
    batch = out_shape[:-2]
    a, b = _same_inner_dim(a, b, ta, tb)
    if not batch:
        return matmul(a, b, op.result_type, ta, tb)
    if len(shape_of(b)) == 2 and not ta and (batch + out_shape[-2:-1]).count(None) <= 1:
        return _rows_times_matrix(a, b, op.result_type, tb)
    operands = [a, b]
    uncertain = _uncertain_batch_axes(operands, batch)
    run_time = {}
    if uncertain:
        operands, run_time = broadcast_at_run_time(operands, batch, uncertain)
    sizes = _batch_sizes(operands, batch, run_time)
    a, b = (_broadcast_batch(v, batch, sizes) for v in operands)
    if batch.count(None) > 1:
        # Collapsing several unknown dims into one and expanding them back would need an
        # expand_shape with two unknown sizes in a group, which does not lower.
        return _generic_batch_matmul(a, b, op.result_type, sizes, ta, tb)
    static_count = None if None in batch else int(np.prod(batch, dtype=np.int64))
    count = _product_of(sizes)
    a, b = _as_one_batch(a, count, static_count), _as_one_batch(b, count, static_count)
    n, m = out_shape[-2:]
    flat_type = ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size() if d is None else d for d in (static_count, n, m)],
        element_type(op.result_type),
    )
    product = batched_matmul(a, b, flat_type, ta, tb)
    if len(batch) == 1:
        return product
    return reshape_to(product, op.result_type, sizes + [dim(product, 1), dim(product, 2)])
