"""Core lowering of linear algebra: matmul becomes linalg.matmul on zero-filled outputs.

Transposed operands are expressed in the matmul's indexing maps (A read as (k, m), B as (n, k))
rather than copied: the CPU pipeline's tgc-blas-matmul turns those maps into BLAS transpose flags,
and the loop lowering reads the operand in place.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import linalg

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import dim, element_type, empty, scalar_const, shape_of


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
    return matmul(a, b, op.result_type, op.attrs["transpose_a"], op.attrs["transpose_b"])
