"""More of `tf.nn`: selu, crelu, softsign, swish (silu), weighted_cross_entropy_with_logits, and
`tf.nn.top_k` / `in_top_k` (tgc/frontend/math_ops_more.py), in TF 2.21's formulas, composed from
math_ops (gradients and every target for free). tgc/__init__.py sets them on ``tf.nn``."""

from __future__ import annotations

from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import constant, convert_to_tensor
from tgc.frontend.math_ops_more import in_top_k, top_k
from tgc.graph.graph import get_default_graph

__all__ = [
    "selu",
    "crelu",
    "softsign",
    "swish",
    "silu",
    "weighted_cross_entropy_with_logits",
    "top_k",
    "in_top_k",
]

# TF's (Klambauer et al.'s) constants.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float_features(features, fn_name):
    x = convert_to_tensor(features)
    if not x.dtype.is_floating:
        raise TypeError(f"{fn_name}: features must be a float tensor but '{x.name}' is {x.dtype}")
    return x


def selu(features, name=None):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)). The exponential is taken of min(x, 0), so a
    large x gives no inf there (whose gradient, multiplied by the select's 0, would be NaN)."""
    x = _float_features(features, "selu")
    with get_default_graph().name_scope(name or "Selu") as scope:
        zero = constant(0, dtype=x.dtype)
        negative = constant(_SELU_ALPHA, dtype=x.dtype) * math_ops.expm1(math_ops.minimum(x, zero))
        chosen = math_ops.where(math_ops.greater(x, zero), x, negative)
        return math_ops.multiply(constant(_SELU_SCALE, dtype=x.dtype), chosen, name=scope)


def crelu(features, name=None, axis=-1):
    """concat(relu(x), relu(-x)) along ``axis``: twice as many channels."""
    x = _float_features(features, "crelu")
    with get_default_graph().name_scope(name or "CRelu") as scope:
        zero = constant(0, dtype=x.dtype)
        both = array_ops.concat([x, math_ops.negative(x)], axis)
        return math_ops.maximum(both, zero, name=scope)


def softsign(features, name=None):
    """x / (1 + |x|)."""
    x = _float_features(features, "softsign")
    one = constant(1, dtype=x.dtype)
    return math_ops.divide(x, one + math_ops.abs(x), name=name or "Softsign")


def swish(features, beta=1.0, name=None):
    """x * sigmoid(beta * x) (`tf.nn.swish`, `tf.nn.silu`)."""
    x = _float_features(features, "swish")
    with get_default_graph().name_scope(name or "swish") as scope:
        b = math_ops.cast(convert_to_tensor(beta), x.dtype)
        return math_ops.multiply(x, math_ops.sigmoid(b * x), name=scope)


silu = swish


def weighted_cross_entropy_with_logits(
    labels=None, logits=None, pos_weight=None, name=None, targets=None
):
    """The sigmoid cross entropy with the positive term weighted by ``pos_weight``, in TF's
    stable form: (1 - z) * x + (1 + (q - 1) * z) * (log1p(exp(-|x|)) + max(-x, 0)). TF1 names
    the labels ``targets``."""
    labels = labels if labels is not None else targets
    if labels is None or logits is None or pos_weight is None:
        raise ValueError(
            "weighted_cross_entropy_with_logits needs labels (or targets), logits and pos_weight"
        )
    x = _float_features(logits, "weighted_cross_entropy_with_logits")
    z = math_ops.cast(convert_to_tensor(labels), x.dtype)
    if x.spec.shape is not None and z.spec.shape is not None:
        known = [(a, b) for a, b in zip(x.spec.shape, z.spec.shape) if None not in (a, b)]
        if len(x.spec.shape) != len(z.spec.shape) or any(a != b for a, b in known):
            raise ValueError(f"logits and labels must have the same shape ({x.shape} vs {z.shape})")
    q = math_ops.cast(convert_to_tensor(pos_weight), x.dtype)
    with get_default_graph().name_scope(name or "logistic_loss") as scope:
        one = constant(1, dtype=x.dtype)
        zero = constant(0, dtype=x.dtype)
        log_weight = one + (q - one) * z
        softplus_part = math_ops.log1p(math_ops.exp(-math_ops.abs(x))) + math_ops.maximum(-x, zero)
        return math_ops.add((one - z) * x, log_weight * softplus_part, name=scope)
