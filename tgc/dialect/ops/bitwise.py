"""``tf.bitwise``: and, or, xor, invert and the shifts of signed integers, with numpy
broadcasting. Not differentiable (integer ops).

Shifts clamp the shift amount to [0, bits - 1] as TF's kernels do (C leaves other amounts
undefined); right_shift is arithmetic (the sign bit is copied in), as TF's on signed types. uint8
never reaches these ops: tgc/frontend/bitwise_ops.py computes it as int8 bits, or widened for a
right shift."""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import elementwise_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Sample, op
from tgc.dialect.shapes import INT_DTYPES, NARROW_INT_DTYPES, broadcast_shapes, same_dtype, spec

BITWISE_DTYPES = NARROW_INT_DTYPES + INT_DTYPES

_SIGNED = np.array([[-3, -1, 0, 2], [5, -7, 1, 127]], np.int32)
_AMOUNTS = np.array([[0, 1, 3, 7], [2, 31, -1, 40]], np.int32)  # out of range: clamped

_SAMPLES = (
    Sample(((2, 3), (2, 3)), dtypes="int32", int_high=64),
    Sample(((4, 1, 3), (2, 3)), dtypes="int64", int_high=1000),
    Sample(((2, 3), (3,)), dtypes="int8", int_high=100, dynamic=((0, 0),)),
    Sample(((), (2, 4)), dtypes="int16", int_high=300),
    Sample(((2, 4), (2, 4)), dtypes="int32", values=(_SIGNED, _SIGNED[::-1] * 3)),
)
_SHIFT_SAMPLES = (
    Sample(((2, 3), (2, 3)), dtypes="int32", int_high=31),
    Sample(((4, 1, 3), (2, 3)), dtypes="int64", int_high=63),
    Sample(((2, 3), (3,)), dtypes="int8", int_high=7, dynamic=((0, 0),)),
    Sample(((2, 4), (2, 4)), dtypes="int32", values=(_SIGNED * 1000, _AMOUNTS)),
    Sample(((2, 4), (2, 4)), dtypes="int8", values=(_SIGNED.astype(np.int8), _AMOUNTS // 4)),
)


def _infer(x, y):
    dtype = same_dtype(x, y, allowed=BITWISE_DTYPES)
    return spec(broadcast_shapes(x.shape, y.shape), dtype)


def _bits(dtype) -> int:
    return np.dtype(dtype).itemsize * 8


def _clamped(x, y):
    return np.clip(y, 0, _bits(x.dtype) - 1).astype(x.dtype)


def _binary(name, tf_type, fn, doc, samples=_SAMPLES):
    cls = type(
        tf_type,
        (),
        {
            "__doc__": doc,
            "infer": _infer,
            "eval": fn,
            "grad": NOT_DIFFERENTIABLE,
            "flops": elementwise_flops,
            "samples": samples,
        },
    )
    return op(name, tf_type=tf_type, operands=("x", "y"))(cls)


def _left_shift(x, y):
    bits = _bits(x.dtype)
    unsigned = np.dtype(f"uint{bits}")
    shifted = np.left_shift(x.astype(unsigned), _clamped(x, y).astype(unsigned))
    return shifted.astype(unsigned).view(x.dtype)


BitwiseAnd = _binary(
    "bitwise_and",
    "BitwiseAnd",
    lambda x, y: np.bitwise_and(x, y),
    "x & y (`tf.bitwise.bitwise_and`).",
)
BitwiseOr = _binary(
    "bitwise_or", "BitwiseOr", lambda x, y: np.bitwise_or(x, y), "x | y (`tf.bitwise.bitwise_or`)."
)
BitwiseXor = _binary(
    "bitwise_xor",
    "BitwiseXor",
    lambda x, y: np.bitwise_xor(x, y),
    "x ^ y (`tf.bitwise.bitwise_xor`).",
)
LeftShift = _binary(
    "left_shift",
    "LeftShift",
    _left_shift,
    "x << y, y clamped to [0, bits - 1], the bits shifted out dropped (`tf.bitwise.left_shift`).",
    _SHIFT_SAMPLES,
)
RightShift = _binary(
    "right_shift",
    "RightShift",
    lambda x, y: np.right_shift(x, _clamped(x, y)),
    "x >> y, arithmetic, y clamped to [0, bits - 1] (`tf.bitwise.right_shift`).",
    _SHIFT_SAMPLES,
)


@op("invert", tf_type="Invert", operands=("x",))
class Invert:
    """~x: every bit flipped (`tf.bitwise.invert`)."""

    flops = elementwise_flops
    samples = (
        Sample(((2, 3),), dtypes="int32", int_high=1000),
        Sample(((4,),), dtypes="int8", int_high=100, dynamic=((0, 0),)),
        Sample(((2, 4),), dtypes="int64", values=(_SIGNED.astype(np.int64),)),
    )
    grad = NOT_DIFFERENTIABLE

    def infer(x):
        same_dtype(x, allowed=BITWISE_DTYPES)
        return x

    def eval(x):
        return np.invert(x)
