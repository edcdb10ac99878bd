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


def local_response_normalization(
    input,  # noqa: A002 (TF's name)
    depth_radius=5,
    bias=1.0,
    alpha=1.0,
    beta=0.5,
    name=None,
):
    """`tf.nn.lrn`: each value divided by ``(bias + alpha * s) ** beta``, s the sum of squares over
    the channels within ``depth_radius`` of its own (NHWC, last axis). The window sum is one
    matmul of the squares with a band matrix, so the gradient is the ops' own."""
    import numpy as np

    from tgc.frontend.array_ops import reshape

    with get_default_graph().name_scope(name or "LRN"):
        x = convert_to_tensor(input)
        if x.shape.ndims != 4 or x.shape[3].value is None:
            raise ValueError(
                f"lrn: input must be 4-D (NHWC) with known channels, but '{x.name}' has shape "
                f"{x.shape}"
            )
        channels = x.shape[3].value
        offsets = np.arange(channels)
        band = (np.abs(offsets[:, None] - offsets[None, :]) <= int(depth_radius)).astype(
            x.dtype.name
        )
        squares = reshape(math_ops.square(x), [-1, channels])
        sums = reshape(math_ops.matmul(squares, band), [-1] + x.shape.as_list()[1:])
        scale = math_ops.pow(bias + alpha * sums, -float(beta))
        return x * scale


lrn = local_response_normalization

__all__ = [
    "batch_normalization",
    "batch_norm_with_global_normalization",
    "local_response_normalization",
    "lrn",
]
