"""Cost rules for placement: estimated flops and bytes moved of one op, from its tensor specs.

Every ``OpDef.flops`` is one of the rules here: ``rule(operand specs, result specs, attrs)`` returns
a float. The numbers are estimates for comparing devices (tgc-place), not measurements: one flop per
arithmetic operation on one element, a fixed count per element for functions computed by polynomial
approximation, and nothing for ops that only move, declare or transfer data (their cost is the bytes
they move, ``bytes_moved``; the placer charges transfers by link bandwidth). An unknown dim counts
as ``UNKNOWN_DIM_GUESS``.
"""

from __future__ import annotations

import math

UNKNOWN_DIM_GUESS = 64  # an unknown (batch) dim counts as this many for cost estimates

# exp, log, tanh, erf, sin and friends compile to polynomial or rational approximations of roughly
# ten multiply-adds per element (MLIR's math expansions); pow is exp(y * log(x)).
TRANSCENDENTAL_FLOPS = 10

# One splitmix64 word: an add and a multiply for the counter, the finalizer's three shifts, three
# xors and two multiplies.
RANDOM_WORD_FLOPS = 10

# Bytes per element of each dtype; a string element is a pointer to a host object.
ITEMSIZE = {
    "float16": 2,
    "bfloat16": 2,
    "float32": 4,
    "float64": 8,
    "int8": 1,
    "int16": 2,
    "int32": 4,
    "uint8": 1,
    "int64": 8,
    "bool": 1,
    "string": 8,
}


# ---- sizes --------------------------------------------------------------------------------------


def elements(spec) -> int:
    """The number of elements of a TensorSpec, an unknown dim counting as UNKNOWN_DIM_GUESS."""
    return math.prod(UNKNOWN_DIM_GUESS if d is None else d for d in spec.shape)


def nbytes(spec) -> int:
    """The bytes a tensor of this spec occupies."""
    return elements(spec) * ITEMSIZE[spec.dtype]


def bytes_moved(operands, results) -> float:
    """Bytes an op reads and writes: its operands' and results' sizes."""
    return float(sum(nbytes(s) for s in list(operands) + list(results)))


def _result_elements(results) -> int:
    return sum(elements(s) for s in results)


# ---- generic rules ------------------------------------------------------------------------------


def no_flops(operands, results, attrs) -> float:
    """Moves, views, declares or transfers data without arithmetic: 0 (its cost is bytes_moved)."""
    return 0.0


def elementwise_flops(operands, results, attrs) -> float:
    """One flop per result element (a broadcast operand is read once per result element)."""
    return float(_result_elements(results))


def transcendental_flops(operands, results, attrs) -> float:
    """TRANSCENDENTAL_FLOPS per result element: a function computed by polynomial approximation."""
    return float(TRANSCENDENTAL_FLOPS * _result_elements(results))


def reduction_flops(operands, results, attrs) -> float:
    """One flop (add, compare or multiply into an accumulator) per element of the first operand."""
    return float(elements(operands[0]))


# ---- linear algebra and convolution -------------------------------------------------------------


def matmul_flops(operands, results, attrs) -> float:
    """2 * M * N * K: a multiply and an add per (row, column, inner index)."""
    a = operands[0]
    k = a.shape[0] if attrs.get("transpose_a") else a.shape[1]
    return 2.0 * elements(results[0]) * (UNKNOWN_DIM_GUESS if k is None else k)


def batch_matmul_flops(operands, results, attrs) -> float:
    """2 * M * N * K per matrix of the (broadcast) batch."""
    a = operands[0]
    k = a.shape[-2] if attrs.get("transpose_a") else a.shape[-1]
    return 2.0 * elements(results[0]) * (UNKNOWN_DIM_GUESS if k is None else k)


def _conv_flops(gradient_or_output, filter_shape) -> float:
    """2 * N*OH*OW*F * KH*KW*C: a multiply-add per output element and filter tap over C channels."""
    kh, kw, c, _ = filter_shape
    return 2.0 * elements(gradient_or_output) * kh * kw * c


def conv2d_flops(operands, results, attrs) -> float:
    """2 * N*OH*OW*F * KH*KW*C for output (N, OH, OW, F) and filter (KH, KW, C, F)."""
    return _conv_flops(results[0], operands[1].shape)


def conv2d_backprop_input_flops(operands, results, attrs) -> float:
    """As conv2d: each gradient element times each filter tap over C channels, added back."""
    filter_, grad = operands[0], operands[1]
    return _conv_flops(grad, filter_.shape)


def conv2d_backprop_filter_flops(operands, results, attrs) -> float:
    """As conv2d: each gradient element times each input window element over C channels."""
    return _conv_flops(operands[1], attrs["filter_shape"])


def _window_size(attrs) -> int:
    ksize = attrs["ksize"]
    return ksize[1] * ksize[2]


def pool_flops(operands, results, attrs) -> float:
    """One compare or add per window element per pooled result element: N*OH*OW*C * KH*KW."""
    return float(elements(results[0]) * _window_size(attrs))


def pool_grad_flops(operands, results, attrs) -> float:
    """One compare or add per window element per element of the gradient (pooled shape)."""
    return float(elements(operands[1]) * _window_size(attrs))


# ---- nn -----------------------------------------------------------------------------------------


def softmax_flops(operands, results, attrs) -> float:
    """max, subtract, exp, sum and divide (or log) per logit: 4 + TRANSCENDENTAL_FLOPS each."""
    return float((4 + TRANSCENDENTAL_FLOPS) * elements(operands[-1]))


def softmax_cross_entropy_flops(operands, results, attrs) -> float:
    """log_softmax of the logits, then a multiply by the labels and a sum: 2 more per logit."""
    return softmax_flops(operands, results, attrs) + 2.0 * elements(operands[-1])


def sigmoid_cross_entropy_flops(operands, results, attrs) -> float:
    """max(x, 0) - x*z + log1p(exp(-|x|)): 6 arithmetic and 2 transcendental per element."""
    return float((6 + 2 * TRANSCENDENTAL_FLOPS) * _result_elements(results))


def elu_flops(operands, results, attrs) -> float:
    """expm1 and a select per element."""
    return float((1 + TRANSCENDENTAL_FLOPS) * _result_elements(results))


def l2_loss_flops(operands, results, attrs) -> float:
    """A square and an add per element, and the halving."""
    return 2.0 * elements(operands[0]) + 1.0


# ---- random numbers -----------------------------------------------------------------------------


def random_uniform_flops(operands, results, attrs) -> float:
    """One generator word per element, converted, scaled and shifted: RANDOM_WORD_FLOPS + 3."""
    return float((RANDOM_WORD_FLOPS + 3) * _result_elements(results))


def random_normal_flops(operands, results, attrs) -> float:
    """Box-Muller per element: two words, log, sqrt and cos, and a handful of scalings."""
    per_element = 2 * RANDOM_WORD_FLOPS + 3 * TRANSCENDENTAL_FLOPS + 8
    return float(per_element * _result_elements(results))


def truncated_normal_flops(operands, results, attrs) -> float:
    """A normal draw and a bound check per candidate; 1.05 candidates per element on average."""
    return 1.05 * (random_normal_flops(operands, results, attrs) + _result_elements(results))


def dropout_flops(operands, results, attrs) -> float:
    """A uniform draw, then add, floor, multiply and divide per element."""
    return random_uniform_flops(operands, results, attrs) + 4.0 * _result_elements(results)
