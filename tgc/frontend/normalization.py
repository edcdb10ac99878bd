"""`tf.nn.batch_normalization` and `tf.nn.batch_norm_with_global_normalization`: TF1's formulas as
compositions of elementwise ops (so their gradients are those ops' gradients, as in TF).

``y = x * inv + (offset - mean * inv)`` with ``inv = rsqrt(variance + epsilon) * scale``, the order
TF 2.21 computes them in, so float32 results round the same way.
"""

from __future__ import annotations

from tgc.frontend import math_ops
from tgc.frontend.build import convert_to_tensor
from tgc.graph.graph import get_default_graph


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """Normalizes ``x`` by ``mean`` and ``variance`` (broadcast against it), then scales by
    ``scale`` and shifts by ``offset`` (either may be None)."""
    with get_default_graph().name_scope(name or "batchnorm"):
        x, mean, variance = (convert_to_tensor(v) for v in (x, mean, variance))
        inv = math_ops.rsqrt(variance + variance_epsilon)
        if scale is not None:
            inv = inv * scale
        shift = -mean * inv if offset is None else offset - mean * inv
        return x * math_ops.cast(inv, x.dtype) + math_ops.cast(shift, x.dtype)


def batch_norm_with_global_normalization(
    t=None,
    m=None,
    v=None,
    beta=None,
    gamma=None,
    variance_epsilon=None,
    scale_after_normalization=None,
    name=None,
    input=None,  # noqa: A002 (TF's names)
    mean=None,
    variance=None,
):
    """TF's old batch-norm op: ``batch_normalization(t, m, v, beta, gamma if
    scale_after_normalization else None, variance_epsilon)``."""
    t = input if t is None else t
    m = mean if m is None else m
    v = variance if v is None else v
    missing = [k for k, val in (("t", t), ("m", m), ("v", v), ("beta", beta)) if val is None]
    if missing or variance_epsilon is None or scale_after_normalization is None:
        missing += ["variance_epsilon"] * (variance_epsilon is None)
        missing += ["scale_after_normalization"] * (scale_after_normalization is None)
        raise ValueError(f"batch_norm_with_global_normalization: {', '.join(missing)} required")
    return batch_normalization(
        t,
        m,
        v,
        beta,
        gamma if scale_after_normalization else None,
        variance_epsilon,
        name=name or "BatchNormWithGlobalNormalization",
    )


__all__ = ["batch_normalization", "batch_norm_with_global_normalization"]
