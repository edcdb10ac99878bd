"""Linear algebra: matmul with optional transposes, and its batched form over leading dims."""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import batch_matmul_flops, matmul_flops
from tgc.dialect.registry import Attr, Sample, ShapeError, op
from tgc.dialect.shapes import FLOAT_DTYPES, INT_DTYPES, broadcast_shapes, same_dtype, spec
from tgc.dialect.types import format_shape


@op(
    "matmul",
    tf_type="MatMul",
    operands=("a", "b"),
    attrs={"transpose_a": Attr("bool", False), "transpose_b": Attr("bool", False)},
)
class MatMul:
    """Matrix product of two rank-2 tensors, either transposed first (`tf.matmul`)."""

    flops = matmul_flops

    samples = (  # all four transpose combinations, an unknown batch, integers
        Sample(((3, 4), (4, 2))),
        Sample(((4, 3), (4, 2)), attrs={"transpose_a": True}),
        Sample(((3, 4), (2, 4)), attrs={"transpose_b": True}),
        Sample(((4, 3), (2, 4)), attrs={"transpose_a": True, "transpose_b": True}),
        Sample(((5, 4), (4, 3)), dynamic=((0, 0),)),
        Sample(
            ((4, 5), (3, 4)),
            attrs={"transpose_a": True, "transpose_b": True},
            dynamic=((0, 1), (1, 0)),
        ),
        Sample(((2, 3), (3, 4)), dtypes="int32", int_high=5),
    )

    def infer(a, b, transpose_a, transpose_b):
        dtype = same_dtype(a, b, allowed=FLOAT_DTYPES + INT_DTYPES)  # TF's MatMul: no int8/16
        if len(a.shape) != 2 or len(b.shape) != 2:
            raise ShapeError(
                f"matmul needs rank-2 operands but got {format_shape(a.shape)} and "
                f"{format_shape(b.shape)}"
            )
        m, k = a.shape[::-1] if transpose_a else a.shape
        k2, n = b.shape[::-1] if transpose_b else b.shape
        if k is not None and k2 is not None and k != k2:
            raise ShapeError(
                "inner dimensions differ: "
                f"{format_shape(a.shape)}{' transposed' if transpose_a else ''} "
                f"and {format_shape(b.shape)}{' transposed' if transpose_b else ''} ({k} vs {k2})"
            )
        return spec((m, n), dtype)

    def eval(a, b, transpose_a, transpose_b):
        return np.matmul(a.T if transpose_a else a, b.T if transpose_b else b).astype(
            a.dtype, copy=False
        )

    def grad(b, op, g):
        x, y = op.inputs
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        if not ta and not tb:
            return [b.matmul(g, y, transpose_b=True), b.matmul(x, g, transpose_a=True)]
        if not ta and tb:
            return [b.matmul(g, y), b.matmul(g, x, transpose_a=True)]
        if ta and not tb:
            return [b.matmul(y, g, transpose_b=True), b.matmul(x, g)]
        return [
            b.matmul(y, g, transpose_a=True, transpose_b=True),
            b.matmul(g, x, transpose_a=True, transpose_b=True),
        ]


def _matrix_dims(x, transposed: bool) -> tuple:
    """(rows, cols) of the matrices of x ([..., rows, cols]) as the product reads them."""
    rows, cols = x.shape[-2:]
    return (cols, rows) if transposed else (rows, cols)


def _described(x, transposed: bool) -> str:
    return format_shape(x.shape) + (" transposed" if transposed else "")


@op(
    "batch_matmul",
    tf_type="BatchMatMulV2",
    operands=("a", "b"),
    attrs={"transpose_a": Attr("bool", False), "transpose_b": Attr("bool", False)},
)
class BatchMatMul:
    """Matrix products over the last two dims of ``a [..., n, k]`` and ``b [..., k, m]``, either
    transposed first; the leading (batch) dims broadcast as numpy's (`tf.matmul` on rank > 2,
    TF's BatchMatMulV2). An unknown batch dim may turn out to be 1 at run time and broadcast."""

    flops = batch_matmul_flops

    samples = (  # plain, transposes, broadcast batch dims, unknown dims, integers
        Sample(((2, 3, 4), (2, 4, 5))),
        Sample(((2, 4, 3), (2, 5, 4)), attrs={"transpose_a": True, "transpose_b": True}),
        Sample(((3, 4), (2, 5, 4)), attrs={"transpose_b": True}),
        Sample(((2, 1, 3, 4), (3, 4, 2)), dtypes="float64"),
        Sample(((2, 4, 3), (1, 4, 2)), attrs={"transpose_a": True}, dynamic=((0, 0), (0, 2))),
        Sample(((3, 2, 3), (3, 3, 4)), dynamic=((0, 0), (1, 0))),
        Sample(((2, 2, 3), (2, 3, 4)), dtypes="int32", int_high=5),
        Sample(((2, 3, 4), (5, 4)), attrs={"transpose_b": True}, dynamic=((0, 0), (0, 1))),
    )

    def infer(a, b, transpose_a, transpose_b):
        dtype = same_dtype(a, b, allowed=FLOAT_DTYPES + INT_DTYPES)  # TF's BatchMatMulV2's
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise ShapeError(
                "batch_matmul needs operands of rank 2 or more ([..., rows, cols]) but got "
                f"{format_shape(a.shape)} and {format_shape(b.shape)}"
            )
        n, k = _matrix_dims(a, transpose_a)
        k2, m = _matrix_dims(b, transpose_b)
        if k is not None and k2 is not None and k != k2:
            raise ShapeError(
                f"inner dimensions differ: {_described(a, transpose_a)} and "
                f"{_described(b, transpose_b)} ({k} vs {k2})"
            )
        try:
            batch = broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        except ShapeError:
            raise ShapeError(
                f"batch dimensions are not broadcast-compatible: {format_shape(a.shape)} and "
                f"{format_shape(b.shape)} (the dims before the last two)"
            ) from None
        return spec(batch + (n, m), dtype)

    def eval(a, b, transpose_a, transpose_b):
        x = np.swapaxes(a, -1, -2) if transpose_a else a
        y = np.swapaxes(b, -1, -2) if transpose_b else b
        return np.matmul(x, y).astype(a.dtype, copy=False)

    def grad(b, op, g):
        """TF's BatchMatMulV2 gradient: rank-2 matmul's per matrix, summed over the batch dims an
        operand was broadcast along."""
        x, y = op.inputs
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]

        def mm(p, q, tp=False, tq=False):
            return b.batch_matmul(p, q, transpose_a=tp, transpose_b=tq)

        if not ta and not tb:
            gx, gy = mm(g, y, tq=True), mm(x, g, tp=True)
        elif not ta and tb:
            gx, gy = mm(g, y), mm(g, x, tp=True)
        elif ta and not tb:
            gx, gy = mm(y, g, tq=True), mm(x, g)
        else:
            gx, gy = mm(y, g, tp=True, tq=True), mm(g, x, tp=True, tq=True)
        return [b.unbroadcast(gx, x), b.unbroadcast(gy, y)]
