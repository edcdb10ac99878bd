"""`tf.bitwise`: bitwise_and, bitwise_or, bitwise_xor, invert, left_shift, right_shift on
integer tensors (int8, int16, int32, int64, uint8), over the registry's bitwise ops
(tgc/dialect/ops/bitwise.py). Python ints next to a tensor take its dtype; other dtypes raise
TF's TypeError. Shift amounts outside [0, bits) are clamped, as TF's kernels do.

uint8 never reaches the registry ops (see tgc/frontend/uint8_math.py): and, or, xor, invert and
left_shift run on the same bits read as int8; right_shift on the values widened to int32 (a
logical shift, as TF's on an unsigned type), narrowed back. The ops run on the CPU: the GPU and
accelerator targets keep them off by placement (their lowerings validate float math)."""

from __future__ import annotations

from tgc.frontend import uint8_math as _u8
from tgc.frontend.build import constant, convert_to_tensor, make_op
from tgc.graph.graph import Tensor

__all__ = ["bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift"]

_ALLOWED = ("int8", "int16", "int32", "int64", "uint8")


def _is_tensor(value) -> bool:
    return isinstance(value, Tensor) or hasattr(value, "_as_graph_element")


def _checked(fn_name, x):
    if x.dtype.name not in _ALLOWED:
        raise TypeError(
            f"{fn_name}: Value passed to parameter 'x' has DataType {x.dtype.name} not in list of "
            f"allowed values: {', '.join(_ALLOWED)} ('{x.name}')"
        )
    return x


def _pair(fn_name, x, y):
    if _is_tensor(x) and not _is_tensor(y):
        x = convert_to_tensor(x)
        y = convert_to_tensor(y, dtype=x.dtype)
    elif _is_tensor(y) and not _is_tensor(x):
        y = convert_to_tensor(y)
        x = convert_to_tensor(x, dtype=y.dtype)
    else:
        x, y = convert_to_tensor(x), convert_to_tensor(y)
    _checked(fn_name, x)
    _checked(fn_name, y)
    if x.dtype != y.dtype:
        raise TypeError(
            f"{fn_name}: '{x.name}' is {x.dtype.name} but '{y.name}' is {y.dtype.name}: both "
            "operands must have one dtype"
        )
    return x, y


def _binary(opname, tf_name):
    def fn(x, y, name=None):
        a, b = _pair(f"tf.bitwise.{opname}", x, y)
        if not _u8.is_uint8(a):
            return make_op(opname, [a, b], name=name or tf_name)
        if opname == "right_shift":  # logical: on the values widened to int32, the amount
            # clamped to uint8's 7 as TF's (the int32 op would clamp to 31)
            amount = make_op("minimum", [_u8.widen(b), constant(7, dtype="int32")])
            shifted = make_op(opname, [_u8.widen(a), amount])
            return _u8.narrow(shifted, name=name or tf_name)
        bits = make_op(opname, [_u8.as_int8_bits(a), _u8.as_int8_bits(b)])
        return _u8.from_int8_bits(bits, name=name or tf_name)

    fn.__name__ = opname
    fn.__doc__ = f"`tf.bitwise.{opname}` of two integer tensors of one dtype (broadcasting)."
    return fn


bitwise_and = _binary("bitwise_and", "BitwiseAnd")
bitwise_or = _binary("bitwise_or", "BitwiseOr")
bitwise_xor = _binary("bitwise_xor", "BitwiseXor")
left_shift = _binary("left_shift", "LeftShift")
right_shift = _binary("right_shift", "RightShift")


def invert(x, name=None):
    """`tf.bitwise.invert`: every bit flipped (~x)."""
    x = _checked("tf.bitwise.invert", convert_to_tensor(x))
    if _u8.is_uint8(x):
        flipped = make_op("bitwise_xor", [_u8.as_int8_bits(x), constant(-1, dtype="int8")])
        return _u8.from_int8_bits(flipped, name=name or "Invert")
    return make_op("invert", [x], name=name or "Invert")
