"""Matrix ops of TF1's API: ``diag``/``diag_part`` and one square matrix's determinant and inverse.

``diag`` of a rank-k tensor is the rank-2k tensor with the values on its diagonal (TF's ``Diag``:
``out[i..., i...] = x[i...]``), ``diag_part`` its inverse; each is the other's gradient.
``matrix_determinant`` and ``matrix_inverse`` take square matrices ``[..., n, n]`` (a batch in the
leading dims) and are computed by Gaussian elimination with partial pivoting, one matrix at a time
(tgc/lowering/to_core/matrix.py). A singular matrix has determinant 0; its inverse is not finite
(TF refuses it at run time with "Input is not invertible"). The determinant's gradient is its
cofactor matrix, finite there too (for n <= COFACTOR_LIMIT known when the graph is built).
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import UNKNOWN_DIM_GUESS, elements, no_flops
from tgc.dialect.registry import Sample, ShapeError, op
from tgc.dialect.shapes import spec
from tgc.dialect.types import format_shape

# TF's MatrixDeterminant and MatrixInverse take these (and complex types tgc lacks).
_MATRIX_DTYPES = ("float32", "float64")
# diag and diag_part move values of any numeric dtype.
_DIAG_DTYPES = ("float16", "bfloat16", "float32", "float64", "int32", "int64")

# Well-conditioned matrices for the gradient checks: the identity plus a small random part.
_WELL_CONDITIONED = np.array([[2.0, 0.5, -0.3], [0.4, 1.5, 0.2], [-0.6, 0.1, 1.8]])


def elimination_flops(operands, results, attrs) -> float:
    """Gaussian elimination of each n x n matrix: about n^3 multiply-adds (2 flops each), with
    the identity carried along for the inverse: 2 n^3 per matrix either way, for estimates."""
    (x,) = operands
    n = x.shape[-1] if x.shape[-1] is not None else UNKNOWN_DIM_GUESS
    return 2.0 * n**3 * (elements(x) / (n * n) if n else 0.0)


def _check_dtype(x, allowed, what):
    if x.dtype not in allowed:
        raise ShapeError(f"{what} takes {' or '.join(allowed)} but got {x.dtype}")


def _square_matrices(x, what) -> tuple:
    """x's shape with the square's two dims merged ([4, None, 3] -> [4, 3, 3]), as TF's shape
    functions do: either known side is the other's."""
    _check_dtype(x, _MATRIX_DTYPES, what)
    if len(x.shape) < 2:
        raise ShapeError(
            f"{what} takes square matrices [..., n, n] but got shape {format_shape(x.shape)}"
        )
    rows, cols = x.shape[-2:]
    if rows is not None and cols is not None and rows != cols:
        raise ShapeError(f"{what} needs square matrices but got shape {format_shape(x.shape)}")
    side = rows if rows is not None else cols
    return (*x.shape[:-2], side, side)


def _swap_last_two(rank):
    return list(range(rank - 2)) + [rank - 1, rank - 2]


def _matmul(b, x, y, transpose_x=False, transpose_y=False):
    """x @ y over the last two dims (a batch in the leading ones): tgc.matmul for one matrix,
    tgc.batch_matmul for a batch."""
    if len(x.shape) == 2:
        return b.matmul(x, y, transpose_a=transpose_x, transpose_b=transpose_y)
    return b.batch_matmul(x, y, transpose_a=transpose_x, transpose_b=transpose_y)


@op("diag", tf_type="Diag", operands=("x",))
class Diag:
    """A rank-2k tensor with x on its diagonal and zeros elsewhere (`tf.diag`)."""

    flops = no_flops

    samples = (
        Sample(((4,),)),
        Sample(((2, 3),), dtypes="float64"),
        Sample(((5,),), dynamic=((0, 0),)),
        Sample(((3,),), dtypes="int32", int_high=9),
    )

    def infer(x):
        _check_dtype(x, _DIAG_DTYPES, "diag")
        if not 1 <= len(x.shape) <= 3:
            raise ShapeError(f"diag takes a tensor of rank 1 to 3 but got {format_shape(x.shape)}")
        return spec(tuple(x.shape) * 2, x.dtype)

    def eval(x):
        n = x.size
        out = np.zeros((n, n), dtype=x.dtype)
        out[np.arange(n), np.arange(n)] = x.reshape(-1)
        return out.reshape(x.shape * 2)

    def grad(b, op, g):
        return [b.diag_part(g)]


@op("diag_part", tf_type="DiagPart", operands=("x",))
class DiagPart:
    """The diagonal of a rank-2k tensor, ``out[i...] = x[i..., i...]`` (`tf.diag_part`)."""

    flops = no_flops

    samples = (
        Sample(((4, 4),)),
        Sample(((2, 3, 2, 3),), dtypes="float64"),
        Sample(((3, 3),), dynamic=((0, 0),)),
        Sample(((3, 3),), dtypes="int64", int_high=9),
    )

    def infer(x):
        _check_dtype(x, _DIAG_DTYPES, "diag_part")
        rank = len(x.shape)
        if rank not in (2, 4, 6):
            raise ShapeError(
                f"diag_part takes a tensor of rank 2, 4 or 6 but got {format_shape(x.shape)}"
            )
        half = rank // 2
        dims = []
        for a, b in zip(x.shape[:half], x.shape[half:]):
            if a is not None and b is not None and a != b:
                raise ShapeError(
                    f"diag_part needs dims [d..., d...] but got shape {format_shape(x.shape)}"
                )
            dims.append(a if a is not None else b)
        return spec(tuple(dims), x.dtype)

    def eval(x):
        half = x.shape[: x.ndim // 2]
        n = int(np.prod(half, dtype=np.int64))
        return np.ascontiguousarray(x.reshape(n, n).diagonal()).reshape(half)

    def grad(b, op, g):
        return [b.diag(g)]


@op("matrix_determinant", tf_type="MatrixDeterminant", operands=("x",))
class MatrixDeterminant:
    """The determinant of each square matrix (`tf.matrix_determinant`)."""

    flops = elimination_flops

    samples = (
        Sample(((3, 3),)),
        Sample(((4, 4),), dtypes="float64"),
        Sample(((3, 3),), dynamic=((0, 0), (0, 1))),
        Sample(((1, 1),)),
        Sample(((3, 3),), dtypes="float64", values=(_WELL_CONDITIONED,)),
        # A zero pivot in the first column: the rows must be swapped.
        Sample(((2, 2),), values=(np.array([[0.0, 2.0], [3.0, 1.0]], np.float32),)),
        Sample(((2, 3, 3),), dtypes="float64"),  # a batch
        Sample(((3, 2, 2),), dynamic=((0, 0),)),
    )

    def infer(x):
        _square_matrices(x, "matrix_determinant")
        return spec(x.shape[:-2], x.dtype)

    def eval(x):
        return np.asarray(np.linalg.det(x.astype(np.float64)), dtype=x.dtype)

    def grad(b, op, g):
        # d det(X) / dX_ij is the cofactor C_ij (the adjugate transposed): finite for every X.
        # TF's det(X) * inverse(X)^T equals it where X is invertible, but is 0 * inf = NaN where
        # X is singular (a product of rank-deficient factors): used only where n is unknown or
        # above COFACTOR_LIMIT, as the cofactors cost n^2 determinants of (n - 1) x (n - 1).
        (x,) = op.inputs
        rank = len(x.shape)
        scale = b.expand_dims(b.expand_dims(g, axis=rank - 2), axis=rank - 1)
        n = x.shape[-1] if x.shape[-1] is not None else x.shape[-2]
        if n is not None and n <= COFACTOR_LIMIT:
            return [b.multiply(scale, _cofactors(b, x, n))]
        (det,) = op.outputs
        inverse_t = b.transpose(b.matrix_inverse(x), perm=_swap_last_two(rank))
        scale = b.multiply(scale, b.expand_dims(b.expand_dims(det, axis=rank - 2), axis=rank - 1))
        return [b.multiply(scale, inverse_t)]


# The determinant's gradient is the cofactor matrix up to this n (n^2 minors of n - 1, n^5 flops).
COFACTOR_LIMIT = 8


def _cofactors(b, x, n):
    """C[..., i, j] = (-1)^(i + j) det(x without row i and column j), for a static n: the minors
    gathered at once ([..., n, n, n - 1, n - 1]) and their determinants taken as one batch."""
    rank = len(x.shape)
    if n == 0:
        # No entries: det of a 0 x 0 matrix is the constant 1. Built below, `others` would be an
        # empty [0] (not [0, -1]) and the gathers one dim short of the transposes' perms.
        return b.zeros_like(x)
    if n == 1:
        return b.constant(np.ones((1, 1)), dtype=x.dtype)  # the determinant of a 0 x 0 minor
    others = np.array([[k for k in range(n) if k != i] for i in range(n)], np.int32)
    others = b.constant(others, dtype="int32")  # [n, n - 1]: the rows (or columns) but i
    batch = list(range(rank - 2))
    matrices_first = b.transpose(x, perm=[rank - 2, rank - 1, *batch])  # [row, col, ...]
    rows = b.gather(matrices_first, others)  # [i, row, col, ...]
    rows = b.transpose(rows, perm=[2, 0, 1, *(d + 3 for d in batch)])  # [col, i, row, ...]
    minors = b.gather(rows, others)  # [j, col, i, row, ...]
    minors = b.transpose(minors, perm=[*(d + 4 for d in batch), 2, 0, 3, 1])  # [..., i, j, r, c]
    signs = np.array([[(-1.0) ** (i + j) for j in range(n)] for i in range(n)])
    return b.multiply(b.matrix_determinant(minors), b.constant(signs, dtype=x.dtype))


@op("matrix_inverse", tf_type="MatrixInverse", operands=("x",))
class MatrixInverse:
    """The inverse of each square matrix (`tf.matrix_inverse`)."""

    flops = elimination_flops

    samples = (
        Sample(((3, 3),)),
        Sample(((4, 4),), dtypes="float64"),
        Sample(((3, 3),), dynamic=((0, 0), (0, 1))),
        Sample(((3, 3),), dtypes="float64", values=(_WELL_CONDITIONED,)),
        Sample(((2, 2),), values=(np.array([[0.0, 2.0], [3.0, 1.0]], np.float32),)),
        Sample(((2, 3, 3),), dtypes="float64"),
        Sample(((2, 2, 3, 3),), dynamic=((0, 1),)),
    )

    def infer(x):
        return spec(_square_matrices(x, "matrix_inverse"), x.dtype)

    def eval(x):
        return np.linalg.inv(x.astype(np.float64)).astype(x.dtype)

    def grad(b, op, g):
        # d inverse(X) = -Y dX Y, so dL/dX = -Y^T g Y^T with Y = inverse(X).
        (y,) = op.outputs
        return [b.negative(_matmul(b, _matmul(b, y, g, transpose_x=True), y, transpose_y=True))]
