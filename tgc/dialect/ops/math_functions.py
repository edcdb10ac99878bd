"""More elementwise math for floats: trigonometric, hyperbolic, log1p/expm1, erf, rounding.

Each is a unary op on float tensors whose result has its operand's type; the gradient rules are the
textbook derivatives written with tgc ops (rounding ops have zero gradient, as in TensorFlow).
"""

from __future__ import annotations

import math

import numpy as np

from tgc.dialect.ops.elementwise import keep_dtype as _keep
from tgc.dialect.ops.elementwise import unary_infer
from tgc.dialect.costs import elementwise_flops, transcendental_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Sample, op
from tgc.dialect.shapes import FLOAT_DTYPES

_float_unary = unary_infer(FLOAT_DTYPES)

_SAMPLES = [Sample(((3, 4),)), Sample(((5, 2),), dynamic=((0, 0),))]
_SMALL = [
    Sample(((3, 4),), low=-0.9, high=0.9),
    Sample(((5, 2),), low=-0.9, high=0.9, dynamic=((0, 0),)),
]


@op("sin", tf_type="Sin", operands=("x",))
class Sin:
    """Sine (`tf.sin`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.sin)
    samples = _SAMPLES

    def grad(b, op, g):
        return [b.multiply(g, b.cos(op.inputs[0]))]


@op("cos", tf_type="Cos", operands=("x",))
class Cos:
    """Cosine (`tf.cos`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.cos)
    samples = _SAMPLES

    def grad(b, op, g):
        return [b.negative(b.multiply(g, b.sin(op.inputs[0])))]


@op("tan", tf_type="Tan", operands=("x",))
class Tan:
    """Tangent (`tf.tan`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.tan)
    samples = _SMALL

    def grad(b, op, g):
        # d tan x = 1 + tan^2 x
        (out,) = op.outputs
        return [b.multiply(g, b.add(b.constant(1, like=out), b.multiply(out, out)))]


@op("atan", tf_type="Atan", operands=("x",))
class Atan:
    """Arctangent (`tf.atan`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.arctan)
    samples = _SAMPLES

    def grad(b, op, g):
        (x,) = op.inputs
        return [b.divide(g, b.add(b.constant(1, like=x), b.multiply(x, x)))]


@op("sinh", tf_type="Sinh", operands=("x",))
class Sinh:
    """Hyperbolic sine (`tf.sinh`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.sinh)
    samples = _SAMPLES

    def grad(b, op, g):
        return [b.multiply(g, b.cosh(op.inputs[0]))]


@op("cosh", tf_type="Cosh", operands=("x",))
class Cosh:
    """Hyperbolic cosine (`tf.cosh`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.cosh)
    samples = _SAMPLES

    def grad(b, op, g):
        return [b.multiply(g, b.sinh(op.inputs[0]))]


@op("log1p", tf_type="Log1p", operands=("x",))
class Log1p:
    """log(1 + x), accurate for small x (`tf.log1p`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.log1p)
    samples = _SMALL

    def grad(b, op, g):
        (x,) = op.inputs
        return [b.divide(g, b.add(b.constant(1, like=x), x))]


@op("expm1", tf_type="Expm1", operands=("x",))
class Expm1:
    """exp(x) - 1, accurate for small x (`tf.expm1`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.expm1)
    samples = _SAMPLES

    def grad(b, op, g):
        return [b.multiply(g, b.exp(op.inputs[0]))]


@op("erf", tf_type="Erf", operands=("x",))
class Erf:
    """The error function (`tf.erf`)."""

    flops = transcendental_flops

    infer = _float_unary
    eval = _keep(np.vectorize(math.erf, otypes=[np.float64]))
    samples = _SAMPLES

    def grad(b, op, g):
        # d erf x = 2 / sqrt(pi) * exp(-x^2)
        (x,) = op.inputs
        scale = b.constant(2.0 / math.sqrt(math.pi), like=x)
        return [b.multiply(g, b.multiply(scale, b.exp(b.negative(b.multiply(x, x)))))]


@op("ceil", tf_type="Ceil", operands=("x",))
class Ceil:
    """Smallest integer not below x (`tf.ceil`). No gradient, as in TF (None there, not zeros)."""

    flops = elementwise_flops

    infer = _float_unary
    eval = _keep(np.ceil)
    samples = _SAMPLES

    grad = NOT_DIFFERENTIABLE


@op("round", tf_type="Round", operands=("x",))
class Round:
    """Nearest integer, halves to even (`tf.round`). No gradient, as in TF (None there, not
    zeros)."""

    flops = elementwise_flops

    infer = _float_unary
    eval = _keep(np.round)
    # Exact halves (where the gradient jumps) are tested in tests/e2e/test_math_functions.py.
    samples = _SAMPLES

    grad = NOT_DIFFERENTIABLE
