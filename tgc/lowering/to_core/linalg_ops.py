"""Core lowering of linear algebra: matmul becomes linalg.matmul on zero-filled outputs."""

from __future__ import annotations

from mlir.dialects import linalg

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import dim, element_type, empty, scalar_const, shape_of
from mlir import ir


def transpose_2d(value):
    """A materialized transpose of a rank-2 tensor (linalg.transpose keeps matmul a named op)."""
    m, n = shape_of(value)
    out_type = ir.RankedTensorType.get([ir.ShapedType.get_dynamic_size() if d is None else d for d in (n, m)], element_type(value))
    init = empty(out_type, {i: dim(value, 1 - i) for i, d in enumerate((n, m)) if d is None})
    return linalg.transpose(value, outs=[init], permutation=[1, 0]).results[0]


@lowers("matmul")
def _matmul(op):
    a, b = op.operands
    if op.attrs["transpose_a"]:
        a = transpose_2d(a)
    if op.attrs["transpose_b"]:
        b = transpose_2d(b)
    out_type = op.result_type
    dynamic = {}
    if shape_of(out_type)[0] is None:
        dynamic[0] = dim(a, 0)
    if shape_of(out_type)[1] is None:
        dynamic[1] = dim(b, 1)
    init = linalg.fill(scalar_const(0, element_type(out_type)), outs=[empty(out_type, dynamic)])
    return linalg.matmul(a, b, outs=[init])
