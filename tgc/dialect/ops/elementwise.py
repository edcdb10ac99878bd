"""Elementwise ops with numpy broadcasting: arithmetic, math functions, comparisons, logic, select.

Gradient rules build tgc ops through the builder ``b`` (see ``tgc/dialect/builder.py``); a gradient
that flows into a broadcast operand is summed back to that operand's shape with ``b.unbroadcast``.
Broadcasting is decided at run time where dims are unknown, as in TensorFlow: an unknown dim fed as
1 broadcasts, and ``unbroadcast_like`` sums a gradient back to its operand's run-time shape.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import elementwise_flops, no_flops, reduction_flops, transcendental_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, Sample, ShapeError, op
from tgc.dialect.shapes import FLOAT_DTYPES, NUMERIC_DTYPES, broadcast_shapes, same_dtype, spec
from tgc.dialect.types import format_shape


def _binary_infer(allowed, result_dtype=None):
    def infer(x, y):
        dtype = same_dtype(x, y, allowed=allowed)
        return spec(broadcast_shapes(x.shape, y.shape), result_dtype or dtype)

    return infer


def unary_infer(allowed):
    def infer(x):
        same_dtype(x, allowed=allowed)
        return x

    return infer


def keep_dtype(fn):
    """Apply a numpy function and keep the operand's dtype (numpy promotes some int results)."""

    def evaluate(*arrays):
        with np.errstate(all="ignore"):
            return np.asarray(fn(*arrays)).astype(arrays[0].dtype, copy=False)

    return evaluate


# ---- samples for the registry-wide tests (tests/unit/test_registry.py) --------------------------

_INT_SIGNED = np.array([[-3, -1, 0, 2], [5, -7, 1, 0]], np.int32)  # int draws are never negative

_BINARY_SAMPLES = (
    Sample(((4, 1, 3), (2, 3))),  # both operands broadcast
    Sample(((), (2, 3))),  # scalar with matrix
    Sample(((5, 3), (3,)), dynamic=((0, 0),)),  # unknown batch, broadcast row
    Sample(((4, 3), (4, 3)), dynamic=((0, 0), (1, 0))),
    Sample(
        ((4, 3), (1, 3)), dynamic=((0, 0), (1, 0))
    ),  # an unknown dim that is 1 at run time broadcasts
    Sample(((2, 3), (3,)), dtypes="int32", int_high=5),
)
_DIVIDE_SAMPLES = (
    Sample(((4, 1, 3), (2, 3)), low=0.5, high=2.0),  # divisor away from zero
    Sample(((), (2, 3)), low=0.5, high=2.0),
    Sample(((5, 3), (3,)), low=0.5, high=2.0, dynamic=((0, 0),)),
    # floor division of signed ints (a zero divisor fails the run: ZeroDivisionError here)
    Sample(
        ((2, 4), (2, 4)),
        dtypes="int32",
        values=(_INT_SIGNED * 3, np.array([[2, -2, 3, 3], [-2, 1, 2, -3]], np.int32)),
    ),
)
_POW_SAMPLES = (
    Sample(((4, 1, 3), (2, 3)), low=0.5, high=2.0),  # positive base
    Sample(((2, 3), ()), low=0.5, high=2.0),
    Sample(((5, 3), (3,)), low=0.5, high=2.0, dynamic=((0, 0),)),
    Sample(((2, 3), (2, 3)), dtypes="int32", int_high=4),
)
_SIGNED_UNARY_SAMPLES = (  # floats in [-2, 2): away from the kinks at 0 of abs, relu and sign
    Sample(((3, 4),), dynamic=((0, 0),)),
    Sample(((),)),
    Sample(((2, 4),), dtypes="int32", values=(_INT_SIGNED,)),
)
_POSITIVE_SAMPLES = (  # log, sqrt, rsqrt: positive domain
    Sample(((3, 4),), low=0.5, high=3.0, dynamic=((0, 0),)),
    Sample(((2, 1, 3),), low=0.5, high=3.0),
)
_FLOAT_UNARY_SAMPLES = (
    Sample(((3, 4),), dynamic=((0, 0),)),
    Sample(((2, 1, 3),), low=-4.0, high=4.0),
)
_ANY_DTYPE_SAMPLES = (
    Sample(((3, 4),), dynamic=((0, 0),)),
    Sample(((2, 3),), dtypes="int32", int_high=10),
    Sample(((2, 3),), dtypes="bool"),
)
_CAST_SAMPLES = (
    Sample(((3, 4),), attrs={"dtype": "int32"}, low=-4.0, high=4.0),  # truncation toward zero
    Sample(((3, 4),), attrs={"dtype": "float64"}, dynamic=((0, 0),)),
    Sample(
        ((3, 4),),
        attrs={"dtype": "bool"},
        values=(np.array([[0.0, 1.5, -2.0, 0.0]] * 3, np.float32),),
    ),
    Sample(((2, 4),), dtypes="int32", attrs={"dtype": "float32"}, values=(_INT_SIGNED,)),
    Sample(((2, 4),), dtypes="int32", attrs={"dtype": "int64"}, values=(_INT_SIGNED,)),
    Sample(((2, 3),), dtypes="bool", attrs={"dtype": "float32"}),
    Sample(((2, 3),), dtypes="float64", attrs={"dtype": "float32"}),
)
_COMPARISON_SAMPLES = (
    Sample(((4, 1, 3), (2, 3))),
    Sample(((5, 3), (3,)), dynamic=((0, 0),)),
    Sample(((3, 4), (3, 4)), dtypes="int32", int_high=3),  # small ints: many ties
    Sample(((), (2, 3)), dtypes="int32", int_high=3),
    Sample(((2, 3), (2, 3)), dtypes="bool"),
)
_LOGIC_SAMPLES = (
    Sample(((4, 1, 3), (2, 3)), dtypes="bool"),
    Sample(((5, 3), (5, 3)), dtypes="bool", dynamic=((0, 0), (1, 0))),
    Sample(((1, 3), (5, 1)), dtypes="bool", dynamic=((0, 0), (1, 0), (1, 1))),
)
_SELECT_SAMPLES = (
    Sample(((2, 3), (2, 3), (2, 3)), dtypes=("bool", "float32", "float32")),
    Sample(
        ((3,), (2, 3), ()),
        dtypes=("bool", "float32", "float32"),  # condition and y broadcast
        values=(np.array([True, False, True]),),
    ),  # both branches taken, so both get a gradient
    Sample(((4, 1), (4, 3), (3,)), dtypes=("bool", "float32", "float32"), dynamic=((0, 0), (1, 0))),
    Sample(
        ((4, 1), (1, 3), (4, 3)),
        dtypes=("bool", "float32", "float32"),  # each unknown dim broadcasts
        dynamic=((0, 0), (0, 1), (1, 0), (1, 1), (2, 0)),
    ),
    Sample(((2, 3), (2, 3), (2, 3)), dtypes=("bool", "int32", "int32"), int_high=10),
    Sample(((2, 3), (2, 3), (2, 3)), dtypes="bool"),
)


# ---- binary arithmetic -------------------------------------------------------------------------


@op("add", tf_type="AddV2", operands=("x", "y"))
class Add:
    """x + y with numpy broadcasting (`tf.add`)."""

    flops = elementwise_flops

    samples = _BINARY_SAMPLES

    infer = _binary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.add)

    def grad(b, op, g):
        x, y = op.inputs
        return [b.unbroadcast(g, x), b.unbroadcast(g, y)]


@op("subtract", tf_type="Sub", operands=("x", "y"))
class Subtract:
    """x - y with numpy broadcasting (`tf.subtract`)."""

    flops = elementwise_flops

    samples = _BINARY_SAMPLES

    infer = _binary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.subtract)

    def grad(b, op, g):
        x, y = op.inputs
        return [b.unbroadcast(g, x), b.unbroadcast(b.negative(g), y)]


@op("multiply", tf_type="Mul", operands=("x", "y"))
class Multiply:
    """x * y with numpy broadcasting (`tf.multiply`)."""

    flops = elementwise_flops

    samples = _BINARY_SAMPLES

    infer = _binary_infer(NUMERIC_DTYPES + ("bool",))
    eval = keep_dtype(np.multiply)

    def grad(b, op, g):
        x, y = op.inputs
        return [b.unbroadcast(b.multiply(g, y), x), b.unbroadcast(b.multiply(g, x), y)]


def _divide(x, y):
    if np.issubdtype(x.dtype, np.integer):
        if np.any(y == 0):  # TF's "Integer division by zero": never folded, fails the run
            raise ZeroDivisionError("Integer division by zero")
        return np.floor_divide(x, y)
    return np.true_divide(x, y)


@op("divide", tf_type="RealDiv", operands=("x", "y"))
class Divide:
    """x / y; true division for floats, floor division for integers (`tf.math.divide`)."""

    flops = elementwise_flops

    samples = _DIVIDE_SAMPLES

    infer = _binary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(_divide)

    def grad(b, op, g):
        x, y = op.inputs
        (out,) = op.outputs
        dy = b.negative(b.divide(b.multiply(g, out), y))
        return [b.unbroadcast(b.divide(g, y), x), b.unbroadcast(dy, y)]


@op("pow", tf_type="Pow", operands=("x", "y"))
class Pow:
    """x ** y elementwise (`tf.pow`)."""

    flops = transcendental_flops

    samples = _POW_SAMPLES

    infer = _binary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.power)

    def grad(b, op, g):
        # d/dx = y * x^(y-1);  d/dy = x^y * log(x), taken as 0 where x <= 0 (as TensorFlow does)
        x, y = op.inputs
        (out,) = op.outputs
        one = b.constant(1, like=y)
        dx = b.multiply(g, b.multiply(y, b.pow(x, b.subtract(y, one))))
        positive = b.greater(x, b.constant(0, like=x))
        safe_log = b.log(b.select(positive, x, b.ones_like(x)))
        dy = b.multiply(g, b.select(positive, b.multiply(out, safe_log), b.zeros_like(out)))
        return [b.unbroadcast(dx, x), b.unbroadcast(dy, y)]


def _minmax_grad(compare):
    def grad(b, op, g):
        x, y = op.inputs
        take_x = compare(b, b.broadcast_like(x, g), b.broadcast_like(y, g))
        zeros = b.zeros_like(g)
        return [
            b.unbroadcast(b.select(take_x, g, zeros), x),
            b.unbroadcast(b.select(take_x, zeros, g), y),
        ]

    return grad


@op("maximum", tf_type="Maximum", operands=("x", "y"))
class Maximum:
    """Elementwise max (`tf.maximum`); ties send the gradient to x."""

    flops = elementwise_flops

    samples = _BINARY_SAMPLES

    infer = _binary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.maximum)
    grad = _minmax_grad(lambda b, x, y: b.greater_equal(x, y))


@op("minimum", tf_type="Minimum", operands=("x", "y"))
class Minimum:
    """Elementwise min (`tf.minimum`); ties send the gradient to x."""

    flops = elementwise_flops

    samples = _BINARY_SAMPLES

    infer = _binary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.minimum)
    grad = _minmax_grad(lambda b, x, y: b.less_equal(x, y))


# ---- unary math --------------------------------------------------------------------------------


@op("negative", tf_type="Neg", operands=("x",))
class Negative:
    """-x (`tf.negative`)."""

    flops = elementwise_flops

    samples = _SIGNED_UNARY_SAMPLES

    infer = unary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.negative)

    def grad(b, op, g):
        return [b.negative(g)]


@op("abs", tf_type="Abs", operands=("x",))
class Abs:
    """|x| (`tf.abs`)."""

    flops = elementwise_flops

    samples = _SIGNED_UNARY_SAMPLES

    infer = unary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.abs)

    def grad(b, op, g):
        return [b.multiply(g, b.sign(op.inputs[0]))]


@op("sign", tf_type="Sign", operands=("x",))
class Sign:
    """-1, 0 or 1 by the sign of x (`tf.sign`); its gradient is zero."""

    flops = elementwise_flops

    samples = _SIGNED_UNARY_SAMPLES

    infer = unary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.sign)

    def grad(b, op, g):
        return [b.zeros_like(op.inputs[0])]


@op("square", tf_type="Square", operands=("x",))
class Square:
    """x * x (`tf.square`)."""

    flops = elementwise_flops

    samples = _SIGNED_UNARY_SAMPLES

    infer = unary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(np.square)

    def grad(b, op, g):
        (x,) = op.inputs
        return [b.multiply(g, b.multiply(b.constant(2, like=x), x))]


@op("sqrt", tf_type="Sqrt", operands=("x",))
class Sqrt:
    """Square root (`tf.sqrt`)."""

    flops = elementwise_flops

    samples = _POSITIVE_SAMPLES

    infer = unary_infer(FLOAT_DTYPES)
    eval = keep_dtype(np.sqrt)

    def grad(b, op, g):
        (out,) = op.outputs
        return [b.divide(b.multiply(g, b.constant(0.5, like=out)), out)]


@op("rsqrt", tf_type="Rsqrt", operands=("x",))
class Rsqrt:
    """1 / sqrt(x) (`tf.math.rsqrt`)."""

    flops = elementwise_flops

    samples = _POSITIVE_SAMPLES

    infer = unary_infer(FLOAT_DTYPES)
    eval = keep_dtype(lambda x: 1.0 / np.sqrt(x))

    def grad(b, op, g):
        # d/dx x^(-1/2) = -1/2 * x^(-3/2) = -1/2 * out^3
        (out,) = op.outputs
        cube = b.multiply(out, b.multiply(out, out))
        return [b.multiply(g, b.multiply(b.constant(-0.5, like=out), cube))]


@op("exp", tf_type="Exp", operands=("x",))
class Exp:
    """e ** x (`tf.exp`)."""

    flops = transcendental_flops

    samples = _FLOAT_UNARY_SAMPLES

    infer = unary_infer(FLOAT_DTYPES)
    eval = keep_dtype(np.exp)

    def grad(b, op, g):
        return [b.multiply(g, op.outputs[0])]


@op("log", tf_type="Log", operands=("x",))
class Log:
    """Natural logarithm (`tf.log`)."""

    flops = transcendental_flops

    samples = _POSITIVE_SAMPLES

    infer = unary_infer(FLOAT_DTYPES)
    eval = keep_dtype(np.log)

    def grad(b, op, g):
        return [b.divide(g, op.inputs[0])]


@op("floor", tf_type="Floor", operands=("x",))
class Floor:
    """Largest integer not above x (`tf.floor`). No gradient, as TF registers none (its Floor
    gradient is None, not zeros): ``tf.gradients`` through floor alone is None, as in TF."""

    flops = elementwise_flops

    samples = _FLOAT_UNARY_SAMPLES

    infer = unary_infer(FLOAT_DTYPES)
    eval = keep_dtype(np.floor)

    grad = NOT_DIFFERENTIABLE


@op("relu", tf_type="Relu", operands=("x",))
class Relu:
    """max(x, 0) (`tf.nn.relu`)."""

    flops = elementwise_flops

    samples = _SIGNED_UNARY_SAMPLES

    infer = unary_infer(NUMERIC_DTYPES)
    eval = keep_dtype(lambda x: np.maximum(x, 0))

    def grad(b, op, g):
        (out,) = op.outputs
        return [b.select(b.greater(out, b.constant(0, like=out)), g, b.zeros_like(g))]


@op("sigmoid", tf_type="Sigmoid", operands=("x",))
class Sigmoid:
    """1 / (1 + e^-x) (`tf.sigmoid`)."""

    flops = transcendental_flops

    samples = _FLOAT_UNARY_SAMPLES

    infer = unary_infer(FLOAT_DTYPES)
    eval = keep_dtype(lambda x: 1.0 / (1.0 + np.exp(-x)))

    def grad(b, op, g):
        (out,) = op.outputs
        return [b.multiply(g, b.multiply(out, b.subtract(b.constant(1, like=out), out)))]


@op("tanh", tf_type="Tanh", operands=("x",))
class Tanh:
    """Hyperbolic tangent (`tf.tanh`)."""

    flops = transcendental_flops

    samples = _FLOAT_UNARY_SAMPLES

    infer = unary_infer(FLOAT_DTYPES)
    eval = keep_dtype(np.tanh)

    def grad(b, op, g):
        (out,) = op.outputs
        return [b.multiply(g, b.subtract(b.constant(1, like=out), b.multiply(out, out)))]


@op("identity", tf_type="Identity", operands=("x",))
class Identity:
    """Returns its input (`tf.identity`)."""

    flops = no_flops

    samples = _ANY_DTYPE_SAMPLES

    def infer(x):
        return x

    def eval(x):
        return x.copy()

    def grad(b, op, g):
        return [g]


@op("stop_gradient", tf_type="StopGradient", operands=("x",))
class StopGradient:
    """Identity in the forward pass; no gradient flows through it (`tf.stop_gradient`)."""

    flops = no_flops

    samples = _ANY_DTYPE_SAMPLES

    def infer(x):
        return x

    def eval(x):
        return x.copy()

    grad = NOT_DIFFERENTIABLE


@op("cast", tf_type="Cast", operands=("x",), attrs={"dtype": Attr("dtype")})
class Cast:
    """Converts to another dtype (`tf.cast`); floats to ints truncate toward zero."""

    flops = elementwise_flops

    samples = _CAST_SAMPLES

    def infer(x, dtype):
        return spec(x.shape, dtype)

    def eval(x, dtype):
        from tgc.dialect.types import numpy_dtype

        return x.astype(numpy_dtype(dtype))

    def grad(b, op, g):
        (x,) = op.inputs
        floating = ("float16", "bfloat16", "float32", "float64")
        if x.dtype in floating and g.dtype in floating:
            return [b.cast(g, dtype=x.dtype)]
        return [None]


# ---- comparisons and logic ---------------------------------------------------------------------


def _comparison(name, tf_type, fn, doc, ordered=True):
    """An ordered comparison takes real numbers only, as TF's Less/Greater kernels: bools are
    refused when the graph is built (equal and not_equal take them)."""
    allowed = NUMERIC_DTYPES if ordered else NUMERIC_DTYPES + ("bool",)
    cls = type(
        tf_type,
        (),
        {
            "__doc__": doc,
            "infer": _binary_infer(allowed, result_dtype="bool"),
            "eval": fn,
            "grad": NOT_DIFFERENTIABLE,
            "flops": elementwise_flops,
        },
    )
    return op(name, tf_type=tf_type, operands=("x", "y"))(cls)


Equal = _comparison("equal", "Equal", np.equal, "x == y elementwise (`tf.equal`).", ordered=False)
NotEqual = _comparison(
    "not_equal", "NotEqual", np.not_equal, "x != y elementwise (`tf.not_equal`).", ordered=False
)
Less = _comparison("less", "Less", np.less, "x < y elementwise (`tf.less`).")
LessEqual = _comparison(
    "less_equal", "LessEqual", np.less_equal, "x <= y elementwise (`tf.less_equal`)."
)
Greater = _comparison("greater", "Greater", np.greater, "x > y elementwise (`tf.greater`).")
GreaterEqual = _comparison(
    "greater_equal", "GreaterEqual", np.greater_equal, "x >= y elementwise (`tf.greater_equal`)."
)

for _cmp in (Equal, NotEqual):
    _cmp.samples = _COMPARISON_SAMPLES
for _cmp in (Less, LessEqual, Greater, GreaterEqual):
    _cmp.samples = tuple(s for s in _COMPARISON_SAMPLES if s.dtypes != "bool")


@op("logical_and", tf_type="LogicalAnd", operands=("x", "y"))
class LogicalAnd:
    """x and y for bool tensors (`tf.logical_and`)."""

    flops = elementwise_flops

    samples = _LOGIC_SAMPLES

    infer = _binary_infer(("bool",))
    eval = np.logical_and
    grad = NOT_DIFFERENTIABLE


@op("logical_or", tf_type="LogicalOr", operands=("x", "y"))
class LogicalOr:
    """x or y for bool tensors (`tf.logical_or`)."""

    flops = elementwise_flops

    samples = _LOGIC_SAMPLES

    infer = _binary_infer(("bool",))
    eval = np.logical_or
    grad = NOT_DIFFERENTIABLE


@op("logical_not", tf_type="LogicalNot", operands=("x",))
class LogicalNot:
    """not x for a bool tensor (`tf.logical_not`)."""

    flops = elementwise_flops

    samples = (Sample(((3, 4),), dtypes="bool", dynamic=((0, 0),)), Sample(((),), dtypes="bool"))

    infer = unary_infer(("bool",))
    eval = np.logical_not
    grad = NOT_DIFFERENTIABLE


@op("select", tf_type="SelectV2", operands=("condition", "x", "y"))
class Select:
    """Where the condition holds take x, else y, with numpy broadcasting (`tf.where`)."""

    flops = elementwise_flops

    samples = _SELECT_SAMPLES

    def infer(condition, x, y):
        if condition.dtype != "bool":
            raise ShapeError(f"condition must be bool but got {condition.dtype}")
        dtype = same_dtype(x, y)
        return spec(broadcast_shapes(condition.shape, x.shape, y.shape), dtype)

    def eval(condition, x, y):
        return np.where(condition, x, y).astype(x.dtype, copy=False)

    def grad(b, op, g):
        condition, x, y = op.inputs
        cond = b.broadcast_like(condition, g)
        zeros = b.zeros_like(g)
        return [
            None,
            b.unbroadcast(b.select(cond, g, zeros), x),
            b.unbroadcast(b.select(cond, zeros, g), y),
        ]


# ---- gradients of run-time broadcasting ----------------------------------------------------------


def _unbroadcast_axes(g_shape, x_shape) -> tuple:
    return tuple(i for i, (d, e) in enumerate(zip(x_shape, g_shape)) if d == 1 and e != 1)


@op("unbroadcast_like", tf_type="UnbroadcastLike", operands=("g", "x"), shape_operands=("x",))
class UnbroadcastLike:
    """g summed over the axes where x has size 1 and g does not, keeping them: the gradient of a
    broadcast, brought back to the shape x has at run time (its unknown dims may turn out to be 1).
    Gradient rules get it through ``b.unbroadcast``; x's values are not read."""

    flops = reduction_flops

    samples = (
        Sample(((4, 3), (1, 3)), dynamic=((0, 0), (1, 0))),  # x's unknown dim is 1: summed
        Sample(((4, 3), (4, 3)), dynamic=((0, 0), (1, 0))),  # equal: g itself
        Sample(((2, 4, 3), (2, 1, 1)), dynamic=((1, 1), (1, 2))),
    )

    def infer(g, x):
        same_dtype(g, x, allowed=NUMERIC_DTYPES)
        fits = len(g.shape) == len(x.shape) and all(
            d is None or e is None or d in (1, e) for d, e in zip(x.shape, g.shape)
        )
        if not fits:
            raise ShapeError(
                f"cannot sum a gradient of shape {format_shape(g.shape)} "
                f"to shape {format_shape(x.shape)}"
            )
        return spec(x.shape, g.dtype)

    def eval(g, x):
        return np.sum(g, axis=_unbroadcast_axes(g.shape, x.shape), keepdims=True).astype(
            g.dtype, copy=False
        )

    def grad(b, op, g):
        (summed,) = op.inputs[:1]
        return [b.broadcast_like(g, summed), None]
