"""`tf.linalg`: TF's names for the matrix functions tgc has (each defined elsewhere, listed here
under the names TF 1.x programs reach them by)."""

from __future__ import annotations

from tgc.frontend import array_ops, math_ops, math_ops_composed, misc_ops

matmul = math_ops.matmul
inv = math_ops.matrix_inverse
det = math_ops.matrix_determinant
tensordot = math_ops.tensordot
diag = misc_ops.matrix_diag
diag_part = misc_ops.matrix_diag_part
transpose = array_ops.matrix_transpose
matrix_transpose = array_ops.matrix_transpose
band_part = array_ops.matrix_band_part
eye = array_ops.eye
norm = math_ops_composed.norm
einsum = math_ops_composed.einsum
cross = math_ops_composed.cross


def trace(x, name=None):
    """The sum of the main diagonal of each innermost matrix (`tf.linalg.trace`, `tf.trace`)."""
    return math_ops.reduce_sum(misc_ops.matrix_diag_part(x), axis=-1, name=name or "Trace")


__all__ = [
    "band_part",
    "cross",
    "det",
    "diag",
    "diag_part",
    "einsum",
    "eye",
    "inv",
    "matmul",
    "matrix_transpose",
    "norm",
    "tensordot",
    "trace",
    "transpose",
]
