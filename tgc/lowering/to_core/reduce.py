"""Core lowering of reductions: linalg.generic with reduction iterators over a filled accumulator."""

from __future__ import annotations

from mlir.dialects import arith

from tgc.dialect.shapes import normalize_axes
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL, REDUCTION, affine_map, dim, element_type, empty, fill, generic, is_float, scalar_const, shape_of,
)


def reduce(x, result_type, axes, keepdims, init_value, combine):
    """Reduce ``x`` over ``axes`` with ``combine(element, accumulator)`` from ``init_value``."""
    xshape = shape_of(x)
    rank = len(xshape)
    axes = normalize_axes(axes, rank)
    out_exprs, dynamic, k = [], {}, 0
    for i in range(rank):
        if i in axes:
            if keepdims:
                out_exprs.append(("const", 0))
                k += 1
            continue
        out_exprs.append(i)
        if shape_of(result_type)[k] is None:
            dynamic[k] = dim(x, i)
        k += 1
    acc = fill(init_value, empty(result_type, dynamic))
    iterators = [REDUCTION if i in axes else PARALLEL for i in range(rank)]
    maps = [affine_map(rank, list(range(rank))), affine_map(rank, out_exprs)]
    return generic([x], [acc], maps, iterators, combine)[0]


@lowers("reduce_sum")
def _reduce_sum(op):
    elem = element_type(op.result_type)
    combine = (lambda a, acc: arith.addf(a, acc)) if is_float(elem) else (lambda a, acc: arith.addi(a, acc))
    return reduce(op.operands[0], op.result_type, op.attrs["axes"], op.attrs["keepdims"], scalar_const(0, elem), combine)
