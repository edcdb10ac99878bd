"""Core lowering of constants and shape ops: arith.constant, linalg.fill, broadcasts and reshapes."""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith

from tgc.dialect.attrs import encode
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL, broadcast_map, dim, element_type, empty, generic, identity_map, scalar_const, shape_of,
)
from mlir.dialects import linalg


@lowers("constant")
def _constant(op):
    return arith.ConstantOp(op.result_type, encode("tensor", op.attrs["value"])).result


def _like_dims(result_type, source):
    return {i: dim(source, i) for i, d in enumerate(shape_of(result_type)) if d is None}


@lowers("fill_like")
def _fill_like(op):
    (x,) = op.operands
    init = empty(op.result_type, _like_dims(op.result_type, x))
    return linalg.fill(scalar_const(op.attrs["value"], element_type(op.result_type)), outs=[init])


@lowers("fill")
def _fill(op):
    init = empty(op.result_type, {})
    return linalg.fill(scalar_const(op.attrs["value"], element_type(op.result_type)), outs=[init])


@lowers("broadcast_like")
def _broadcast_like(op):
    x, target = op.operands
    shape = shape_of(op.result_type)
    init = empty(op.result_type, _like_dims(op.result_type, target))
    maps = [broadcast_map(x, shape), identity_map(len(shape))]
    return generic([x], [init], maps, [PARALLEL] * len(shape), lambda a, _: a)[0]


def reshape_to(x, result_type, dims: list):
    """tensor.reshape of x to ``result_type`` whose dims are the index values ``dims``."""
    from mlir.dialects import tensor

    shape_type = ir.RankedTensorType.get([len(dims)], ir.IndexType.get())
    shape = tensor.FromElementsOp(shape_type, dims).result
    return tensor.ReshapeOp(result_type, x, shape).result


def _element_count(x):
    total = None
    for i in range(len(shape_of(x))):
        d = dim(x, i)
        total = d if total is None else arith.muli(total, d)
    return total if total is not None else scalar_index(1)


def scalar_index(n):
    from tgc.lowering.to_core.common import const_index

    return const_index(n)


@lowers("reshape")
def _reshape(op):
    (x,) = op.operands
    target = list(op.attrs["shape"])
    result_shape = shape_of(op.result_type)
    dims = []
    for i, d in enumerate(result_shape):
        if d is not None:
            dims.append(scalar_index(d))
        else:  # the -1 dim of a reshape whose input has unknown dims: total / known
            known = 1
            for t in target:
                if t != -1:
                    known *= t
            dims.append(arith.divui(_element_count(x), scalar_index(known)))
    return reshape_to(x, op.result_type, dims)


@lowers("reshape_like")
def _reshape_like(op):
    x, target = op.operands
    return reshape_to(x, op.result_type, [dim(target, i) for i in range(len(shape_of(target)))])


@lowers("expand_dims")
def _expand_dims(op):
    (x,) = op.operands
    rank = len(shape_of(op.result_type))
    axis = op.attrs["axis"] % rank
    dims = [dim(x, i) for i in range(rank - 1)]
    dims.insert(axis, scalar_index(1))
    return reshape_to(x, op.result_type, dims)


@lowers("squeeze")
def _squeeze(op):
    (x,) = op.operands
    rank = len(shape_of(x))
    axes = {a % rank for a in op.attrs["axes"]}
    return reshape_to(x, op.result_type, [dim(x, i) for i in range(rank) if i not in axes])


@lowers("transpose")
def _transpose(op):
    (x,) = op.operands
    perm = list(op.attrs["perm"])
    dynamic = {i: dim(x, p) for i, p in enumerate(perm) if shape_of(op.result_type)[i] is None}
    return linalg.transpose(x, outs=[empty(op.result_type, dynamic)], permutation=perm)
