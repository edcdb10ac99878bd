"""The convolution variants TF1 programs build on conv2d: `tf.nn.conv1d`, `tf.nn.pool`,
`tf.nn.atrous_conv2d`, `tf.nn.depthwise_conv2d` and `tf.nn.separable_conv2d` (NHWC / NWC only).

None of them is a registry op of its own; each is composed of ops the compiler already has on
every target (conv2d with its strides and dilations, pooling, strided slices, multiplies), so their
gradients come from those ops' and no new op has to pass the conformance suite:

- conv1d is conv2d over a size-1 height, as TensorFlow builds it (``expand_dims`` of the input at
  the height axis and of the filter at axis 0, ``Conv2D``, ``Squeeze``);
- atrous_conv2d is conv2d with ``dilations=[1, rate, rate, 1]`` (TF composes it from
  space_to_batch instead; the values are the same);
- depthwise_conv2d sums, over the filter's kh * kw taps, a strided slice of the (zero-padded)
  input times that tap's [in, multiplier] weights: exactly the depthwise multiply-adds, on the
  elementwise ops every target has. A dense conv2d with a block-diagonal filter would give the same
  values but cost ``in`` times the multiply-adds, which MobileNet's 1024 channels cannot afford;
- separable_conv2d is depthwise_conv2d then a 1x1 conv2d, as TensorFlow's.
"""

from __future__ import annotations

from tgc.frontend import array_ops, conv_ops
from tgc.frontend.build import convert_to_tensor
from tgc.graph.graph import get_default_graph

# ---- conv1d ---------------------------------------------------------------------------------


def _one_int(value, arg, what, rank=3):
    """An int, a 1-list, or a full [1, v, 1] list -> v, as TF's _get_sequence takes them."""
    values = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    if len(values) == rank and values[0] == 1 and values[-1] == 1:
        values = values[1:-1]
    if len(values) != 1 or values[0] < 1:
        raise ValueError(
            f"{what}: '{arg}' must be a positive int, a list of 1 int or [1, {arg}, 1] but got "
            f"{value!r}"
        )
    return values[0]


def _check_nwc(data_format, what):
    fmt = data_format.decode() if isinstance(data_format, bytes) else data_format
    if fmt not in (None, "NWC", "NHWC"):
        raise ValueError(
            f"{what}: data_format {data_format!r} is not supported; tgc implements only 'NWC'"
        )


def conv1d(
    value=None,
    filters=None,
    stride=None,
    padding=None,
    use_cudnn_on_gpu=None,
    data_format=None,
    name=None,
    input=None,  # noqa: A002 (TF's names)
    dilations=None,
):
    """`tf.nn.conv1d`: ``value`` [N, W, in] convolved with ``filters`` [k, in, out] ->
    [N, W', out], built as TensorFlow builds it (conv2d over an inserted height of 1)."""
    if value is not None and input is not None:
        raise ValueError("conv1d: pass the tensor as 'value' or 'input', not both")
    value = input if value is None else value
    if value is None or filters is None:
        raise ValueError("conv1d: 'value' and 'filters' are required")
    if stride is None:
        raise ValueError("conv1d: 'stride' is required")
    _check_nwc(data_format, "conv1d")
    stride = _one_int(stride, "stride", "conv1d")
    dilation = 1 if dilations is None else _one_int(dilations, "dilations", "conv1d")
    with get_default_graph().name_scope(name or "conv1d"):
        value, filters = convert_to_tensor(value), convert_to_tensor(filters)
        _check_rank(value, 3, "conv1d", "value", "[batch, width, in_channels]")
        _check_rank(filters, 3, "conv1d", "filters", "[width, in_channels, out_channels]")
        rows = array_ops.expand_dims(value, -3, name="ExpandDims")
        kernel = array_ops.expand_dims(filters, 0, name="ExpandDims_1")
        result = conv_ops.conv2d(
            rows,
            kernel,
            strides=[1, 1, stride, 1],
            padding=padding,
            dilations=[1, 1, dilation, 1],
            name="Conv2D",
        )
        return array_ops.squeeze(result, [-3], name="Squeeze")


def _check_rank(tensor, rank, what, arg, layout):
    ndims = tensor.shape.ndims
    if ndims is not None and ndims != rank:
        raise ValueError(
            f"{what}: '{arg}' must have rank {rank} ({layout}) but '{tensor.name}' has shape "
            f"{tensor.shape}"
        )


# ---- pool -----------------------------------------------------------------------------------


def pool(
    input=None,  # noqa: A002 (TF's names)
    window_shape=None,
    pooling_type=None,
    padding=None,
    dilation_rate=None,
    strides=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """`tf.nn.pool` over 1 or 2 spatial dims (NWC or NHWC), "MAX" or "AVG"; dilation rates other
    than 1 are refused (TF builds them from space_to_batch, which tgc lacks)."""
    if input is None or window_shape is None or pooling_type is None or padding is None:
        raise ValueError("pool: 'input', 'window_shape', 'pooling_type' and 'padding' are required")
    x = convert_to_tensor(input)
    window = [int(v) for v in window_shape]
    spatial = len(window)
    if spatial not in (1, 2):
        raise ValueError(
            f"pool: window_shape {window_shape!r} names {spatial} spatial dims; tgc pools over 1 "
            "(NWC) or 2 (NHWC)"
        )
    _check_pool_format(data_format, spatial)
    _check_rank(x, spatial + 2, "pool", "input", "NWC" if spatial == 1 else "NHWC")
    stride = [1] * spatial if strides is None else [int(v) for v in strides]
    rate = dilation_rate if dilation_rate is not None else dilations
    rate = [1] * spatial if rate is None else [int(v) for v in rate]
    if len(stride) != spatial or len(rate) != spatial:
        raise ValueError(
            f"pool: strides {strides!r} and dilation_rate {rate!r} must have {spatial} entries, "
            "one per window dim"
        )
    if any(r != 1 for r in rate):
        raise ValueError(
            f"pool: dilation_rate {rate} is not supported; tgc pools with dilation_rate 1 only"
        )
    kind = str(pooling_type).upper()
    if kind not in ("MAX", "AVG"):
        raise ValueError(f"pool: pooling_type must be 'MAX' or 'AVG' but got {pooling_type!r}")
    pool2d = conv_ops.max_pool if kind == "MAX" else conv_ops.avg_pool
    if spatial == 2:
        return pool2d(x, ksize=window, strides=stride, padding=padding, name=name)
    with get_default_graph().name_scope(name or f"{kind.lower()}_pool"):
        rows = array_ops.expand_dims(x, 1)
        pooled = pool2d(rows, ksize=[1, window[0]], strides=[1, stride[0]], padding=padding)
        return array_ops.squeeze(pooled, [1], name="Squeeze")


def _check_pool_format(data_format, spatial):
    fmt = data_format.decode() if isinstance(data_format, bytes) else data_format
    allowed = (None, "NWC") if spatial == 1 else (None, "NHWC")
    if fmt not in allowed:
        raise ValueError(
            f"pool: data_format {data_format!r} is not supported; tgc implements only "
            f"'{allowed[1]}' for {spatial} spatial dim(s)"
        )


def pool1d(x, pool_size, stride, padding, kind, name=None):
    """Max or average pooling of an NWC tensor (what tf.layers' Pooling1D builds)."""
    return pool(x, [pool_size], kind, padding, strides=[stride], name=name)


# ---- atrous_conv2d --------------------------------------------------------------------------


def atrous_conv2d(value=None, filters=None, rate=None, padding=None, name=None):
    """`tf.nn.atrous_conv2d`: conv2d of ``value`` [N, H, W, in] with ``filters`` [h, w, in, out]
    whose taps are ``rate`` pixels apart (stride 1), as conv2d's ``dilations``."""
    if value is None or filters is None or rate is None:
        raise ValueError("atrous_conv2d: 'value', 'filters' and 'rate' are required")
    rate = int(rate)
    if rate < 1:
        raise ValueError(
            f"atrous_conv2d: all values of `dilation_rate` must be positive. Received: rate={rate}"
        )
    return conv_ops.conv2d(
        value,
        filters,
        strides=[1, 1, 1, 1],
        padding=padding,
        dilations=[1, rate, rate, 1],
        name=name or "atrous_conv2d",
    )


__all__ = ["conv1d", "pool", "atrous_conv2d"]
