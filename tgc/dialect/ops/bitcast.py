"""``bitcast``: the same bits read as another dtype of the same width (`tf.bitcast`).

It is also how tgc computes with ``uint8``: MLIR's arith works on signless integers, so a uint8
tensor (``ui8`` in the IR) is read as int8 by a bitcast, computed on as int8 bits or widened int32
values, and written back the same way (tgc/frontend/uint8_math.py).
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, Sample, ShapeError, op
from tgc.dialect.shapes import spec
from tgc.dialect.types import numpy_dtype

_BITCAST_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8")


@op("bitcast", tf_type="Bitcast", operands=("x",), attrs={"dtype": Attr("dtype")})
class Bitcast:
    """x's bits as ``dtype``, which must have x's width (TF also changes the last dim when the
    widths differ; tgc does not)."""

    flops = no_flops

    # Fixed values: reinterpreted bits are not a function of the value a random graph could check
    # under perturbation, so the random-graph suite does not draw bitcast.
    samples = (
        Sample(
            ((2, 3),),
            dtypes="uint8",
            attrs={"dtype": "int8"},
            values=(np.array([[0, 1, 127], [128, 200, 255]], np.uint8),),
        ),
        Sample(
            ((2, 3),),
            dtypes="int8",
            attrs={"dtype": "uint8"},
            values=(np.array([[0, 1, 127], [-128, -56, -1]], np.int8),),
        ),
        Sample(
            ((4,),),
            dtypes="float32",
            attrs={"dtype": "int32"},
            values=(np.array([1.0, -2.5, 0.0, 3.0e-3], np.float32),),
        ),
    )

    def infer(x, dtype):
        for d in (x.dtype, dtype):
            if d not in _BITCAST_DTYPES:
                raise ShapeError(f"bitcast takes {', '.join(_BITCAST_DTYPES)} but got {d}")
        if numpy_dtype(x.dtype).itemsize != numpy_dtype(dtype).itemsize:
            raise ShapeError(
                f"bitcast from {x.dtype} to {dtype} changes the width, which tgc does not support "
                "(TF then changes the last dim)"
            )
        return spec(x.shape, dtype)

    def eval(x, dtype):
        return np.ascontiguousarray(x).view(numpy_dtype(dtype))

    grad = NOT_DIFFERENTIABLE
