"""Linear algebra: matmul with optional transposes."""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import matmul_flops
from tgc.dialect.registry import Attr, Sample, ShapeError, op
from tgc.dialect.shapes import FLOAT_DTYPES, INT_DTYPES, same_dtype, spec
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
