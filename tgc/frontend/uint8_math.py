"""uint8 arithmetic as TensorFlow computes it, built from the signed-integer ops every target runs.

uint8 is ``ui8`` in the IR, outside MLIR arith's signless integers, so no lowering computes on it:
the frontend rewrites each op TF has a uint8 kernel for (tgc/frontend/math_ops.py calls here when an
operand is uint8), and nothing below the frontend ever sees uint8 arithmetic, whatever the target.

* Where the result's 8 bits do not depend on the sign (add, subtract, multiply, square, add_n,
  reduce_sum, reduce_prod, equal, not_equal), the op runs on the same bits read as int8 (a bitcast)
  and its result is read back as uint8: int8 wraps modulo 256 as TF's uint8 does (200 + 100 = 44).
* Where they do (less, greater, ..., maximum, minimum, reduce_max, reduce_min, argmax, argmin,
  reduce_mean, the floor divisions and remainders), it runs on the values widened to int32 and
  narrows the result back to uint8. An int32 mean sums in int64, so a uint8 mean does not wrap,
  as TF's does not; a division by zero fails the run as TF's does (the int32 division's check).
* Ops TF has no uint8 kernel for (negative, abs, sign, pow, sqrt, exp, truncatemod, ...) raise the
  TypeError TF raises: cast first.

Each rewritten op is built in its name's scope: the result carries the name TF gives the op
(``add``, ``floordiv``, ``Max``), the conversions sit inside it.
"""

from __future__ import annotations

from tgc.dialect.registry import REGISTRY
from tgc.frontend.build import constant, make_op

# Binary ops by how they compute on uint8 (registry names).
SAME_BITS = ("add", "subtract", "multiply")  # wrap modulo 256 whatever the sign
EQUALITY = ("equal", "not_equal")
ORDER = ("less", "less_equal", "greater", "greater_equal")
BY_VALUE = ("maximum", "minimum", "divide")  # divide: floor division, as TF's FloorDiv
SAME_BITS_REDUCTIONS = ("reduce_sum", "reduce_prod")
BY_VALUE_REDUCTIONS = ("reduce_max", "reduce_min", "reduce_mean")


def is_uint8(x) -> bool:
    return x.dtype.name == "uint8"


def refuse(what: str, x) -> None:
    """TF's answer to an op it has no uint8 kernel for: a TypeError when the graph is built."""
    raise TypeError(
        f"{what} does not take uint8 tensors ('{x.name}' is uint8): TensorFlow has no uint8 "
        f"kernel for it either; cast first, e.g. tf.cast({x.op.name}, tf.int32)"
    )


# ---- conversions ---------------------------------------------------------------------------------


def as_int8_bits(x):
    """x's bits read as int8 (200 reads as -56)."""
    return make_op("bitcast", [x], dtype="int8")


def from_int8_bits(x, name=None):
    """An int8 tensor's bits read as uint8."""
    return make_op("bitcast", [x], name=name, dtype="uint8")


def widen(x, dtype: str = "int32"):
    """x's values (0 to 255) as ``dtype``: its bits as int8, widened, and 256 added where the int8
    was negative."""
    wide = make_op("cast", [as_int8_bits(x)], dtype=dtype)
    negative = make_op("less", [wide, constant(0, dtype=dtype)])
    return make_op("select", [negative, make_op("add", [wide, constant(256, dtype=dtype)]), wide])


def narrow(x, name=None):
    """x (an integer, bool or float tensor) as uint8, keeping the low 8 bits as TF's cast does
    (300 -> 44, -1 -> 255); a float is truncated to int32 first (float -> int8 directly is
    undefined past 127)."""
    if x.dtype.is_floating:
        x = make_op("cast", [x], dtype="int32")
    if x.dtype.name != "int8":
        x = make_op("cast", [x], dtype="int8")
    return from_int8_bits(x, name=name)


def cast_from_uint8(x, dtype, name):
    """`tf.cast` of a uint8 tensor to ``dtype`` (not uint8)."""
    if dtype.name == "int8":
        return make_op("identity", [as_int8_bits(x)], name=name)
    value = widen(x)
    if dtype.name == "int32":
        return make_op("identity", [value], name=name)
    return make_op("cast", [value], name=name, dtype=dtype.name)


# ---- ops -----------------------------------------------------------------------------------------


def _default_name(opname: str) -> str:
    return REGISTRY[opname].tf_type


def binary(opname: str, a, b, name=None, what=None):
    """The registry op ``opname`` of two uint8 tensors, as TF computes it."""
    if opname not in SAME_BITS + EQUALITY + ORDER + BY_VALUE:
        refuse(what or f"tf.{opname}", a)
    with a.graph.name_scope(name or _default_name(opname)) as scope:
        if opname in EQUALITY:
            return make_op(opname, [as_int8_bits(a), as_int8_bits(b)], name=scope)
        if opname in SAME_BITS:
            bits = make_op(opname, [as_int8_bits(a), as_int8_bits(b)])
            return from_int8_bits(bits, name=scope)
        if opname in ORDER:
            return make_op(opname, [widen(a), widen(b)], name=scope)
        inner = "FloorDiv" if opname == "divide" else None  # what a division by zero names
        return narrow(make_op(opname, [widen(a), widen(b)], name=inner), scope)


def by_value(fn, a, b, name: str):
    """``fn`` (a function of two int32 tensors, e.g. a floor remainder) of uint8 a and b: their
    values widened, the result narrowed to uint8 and named ``name``."""
    with a.graph.name_scope(name) as scope:
        return narrow(fn(widen(a), widen(b)), scope)


def square(x, name=None):
    with x.graph.name_scope(name or "Square") as scope:
        bits = as_int8_bits(x)
        return from_int8_bits(make_op("multiply", [bits, bits]), name=scope)


def reduction(opname: str, x, name: str, **attrs):
    """reduce_sum/prod/max/min/mean of a uint8 tensor: sums and products wrap modulo 256 as TF's,
    the mean of a sum that does not (as TF's), rounded down."""
    with x.graph.name_scope(name) as scope:
        if opname in SAME_BITS_REDUCTIONS:
            return from_int8_bits(make_op(opname, [as_int8_bits(x)], **attrs), name=scope)
        if opname in BY_VALUE_REDUCTIONS:
            return narrow(make_op(opname, [widen(x)], **attrs), scope)
    refuse(f"tf.{opname}", x)


def arg_reduction(opname: str, x, name, **attrs):
    """argmax/argmin of a uint8 tensor: of its values."""
    return make_op(opname, [widen(x)], name=name, **attrs)
