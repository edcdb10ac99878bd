"""The convolution variants TF1 programs build on conv2d: `tf.nn.conv1d`, `tf.nn.pool`,
`tf.nn.atrous_conv2d`, `tf.nn.depthwise_conv2d`, `tf.nn.separable_conv2d`,
`tf.nn.max_pool_with_argmax`, `tf.nn.conv3d`, `tf.nn.max_pool3d` / `avg_pool3d`,
`tf.nn.convolution` and `tf.nn.depthwise_conv2d_native` (channels-last formats only).

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
- separable_conv2d is depthwise_conv2d then a 1x1 conv2d, as TensorFlow's;
- max_pool_with_argmax is max_pool plus a running argmax over the window's taps;
- conv3d is one conv2d per depth tap, the depth folded into the batch; 3-D pooling likewise
  pools each depth tap's slices in 2-D and combines the taps.
"""

from __future__ import annotations

import numpy as np

from tgc.frontend import array_ops, conv_ops, math_ops
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


# ---- depthwise and separable ----------------------------------------------------------------


def depthwise_conv2d(
    input=None,  # noqa: A002 (TF's names)
    filter=None,  # noqa: A002
    strides=None,
    padding=None,
    rate=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """`tf.nn.depthwise_conv2d`: each of the ``in`` channels of ``input`` [N, H, W, in] convolved
    with its own ``multiplier`` filters of ``filter`` [h, w, in, multiplier]; output channel
    ``c * multiplier + m`` is channel c's filter m, as TensorFlow orders them."""
    what = "depthwise_conv2d"
    if input is None or filter is None:
        raise ValueError(f"{what}: 'input' and 'filter' are required")
    conv_ops._check_data_format(data_format, what)
    step = conv_ops._nhwc_window(strides, "strides", what)[1:3]
    gap = _rate_pair(rate if rate is not None else dilations, what)
    if max(step) > 1 and max(gap) > 1:
        raise ValueError(
            f"{what}: when dilation rate is greater than 1, then all values of strides must be 1. "
            f"Received: dilation rate {gap} and strides {[1] + step + [1]}"
        )
    padding = conv_ops._padding(padding, what)
    with get_default_graph().name_scope(name or "depthwise"):
        x, f = convert_to_tensor(input), convert_to_tensor(filter)
        kernel = _depthwise_kernel_shape(x, f, what)
        return _depthwise(x, f, kernel, step, gap, padding, what)


def _rate_pair(rate, what):
    if rate is None:
        return [1, 1]
    values = [int(rate)] * 2 if isinstance(rate, int) else [int(v) for v in rate]
    if len(values) == 4 and values[0] == 1 and values[3] == 1:
        values = values[1:3]
    if len(values) != 2 or min(values) < 1:
        raise ValueError(
            f"{what}: rate must be a list of 2 positive ints (height, width) but got {rate!r}"
        )
    return values


def _known_filter_shape(f, what):
    """The filter's dims, every one known when the graph is built (the kernels are unrolled)."""
    kernel = f.shape.as_list() if f.shape.ndims is not None else None
    if kernel is None or any(d is None for d in kernel):
        raise ValueError(
            f"{what}: the shape of filter '{f.name}' must be known when the graph is built but is "
            f"{f.shape}"
        )
    return kernel


def _depthwise_kernel_shape(x, f, what):
    """[h, w, in, multiplier], all known; the input's channels must be the filter's ``in``."""
    _check_rank(x, 4, what, "input", "NHWC")
    _check_rank(f, 4, what, "filter", "[height, width, in_channels, channel_multiplier]")
    kernel = _known_filter_shape(f, what)
    channels = x.shape[3].value if x.shape.ndims == 4 else None
    if channels is not None and channels != kernel[2]:
        raise ValueError(
            f"{what}: Dimensions must be equal, but are {channels} and {kernel[2]}: the input "
            f"'{x.name}' {x.shape} has {channels} channels, the filter '{f.name}' {f.shape} is "
            f"for {kernel[2]}"
        )
    for axis, side in ((1, "height"), (2, "width")):
        if x.shape.ndims == 4 and x.shape[axis].value is None:
            raise ValueError(
                f"{what}: the {side} of input '{x.name}' {x.shape} must be known when the graph "
                "is built"
            )
    return kernel


def _depthwise(x, f, kernel, step, gap, padding, what):
    """The sum over the filter's taps of a strided slice of the padded input times the tap's
    [in, multiplier] weights (multiplier 1: a vector of in)."""
    kh, kw, channels, multiplier = kernel
    sizes = x.shape.as_list()
    out_h, top, bottom = _extent(sizes[1], kh, step[0], gap[0], padding, what)
    out_w, left, right = _extent(sizes[2], kw, step[1], gap[1], padding, what)
    xp = pad_with_zeros(pad_with_zeros(x, 1, top, bottom), 2, left, right)
    terms = []
    for i in range(kh):
        for j in range(kw):
            h0, w0 = i * gap[0], j * gap[1]
            tap = xp[
                :,
                h0 : h0 + (out_h - 1) * step[0] + 1 : step[0],
                w0 : w0 + (out_w - 1) * step[1] + 1 : step[1],
                :,
            ]
            if multiplier == 1:
                terms.append(tap * array_ops.reshape(f[i, j], [channels]))
            else:
                terms.append(array_ops.expand_dims(tap, -1) * f[i, j])
    total = terms[0] if len(terms) == 1 else math_ops.add_n(terms)
    if multiplier == 1:
        return total
    return array_ops.reshape(total, [-1, out_h, out_w, channels * multiplier])


def _extent(size, k, stride, dilation, padding, what):
    """(output size, zeros before, zeros after) along one axis, by TensorFlow's formulas."""
    span = (k - 1) * dilation + 1
    if padding == "VALID":
        out = -(-(size - span + 1) // stride)
        if out < 1:
            raise ValueError(
                f"{what}: Negative dimension size caused by subtracting {span} from {size} "
                "(the filter, dilated, is larger than the input with padding 'VALID')"
            )
        return out, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, total // 2, total - total // 2


def pad_with_zeros(x, axis, before, after):
    """x with ``before`` and ``after`` zero slices along ``axis`` (the batch may be unknown).

    The zeros are concatenations of one zeroed slice of x, not a tile of it: every target,
    the accelerator included, has concat and zeros_like."""
    if before == 0 and after == 0:
        return x
    index = [slice(None)] * x.shape.ndims
    index[axis] = slice(0, 1)
    zero = array_ops.zeros_like(x[tuple(index)])

    def zeros(count):
        return array_ops.concat([zero] * count, axis) if count > 1 else zero

    parts = ([zeros(before)] if before else []) + [x] + ([zeros(after)] if after else [])
    return array_ops.concat(parts, axis)


def separable_conv2d(
    input=None,  # noqa: A002 (TF's names)
    depthwise_filter=None,
    pointwise_filter=None,
    strides=None,
    padding=None,
    rate=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """`tf.nn.separable_conv2d`: depthwise_conv2d with ``depthwise_filter`` [h, w, in, multiplier],
    then a 1x1 conv2d with ``pointwise_filter`` [1, 1, in * multiplier, out]."""
    what = "separable_conv2d"
    if input is None or depthwise_filter is None or pointwise_filter is None:
        raise ValueError(f"{what}: 'input', 'depthwise_filter' and 'pointwise_filter' are required")
    with get_default_graph().name_scope(name or "separable_conv2d"):
        pointwise = convert_to_tensor(pointwise_filter)
        _check_pointwise(pointwise, convert_to_tensor(depthwise_filter), what)
        depthwise = depthwise_conv2d(
            input,
            depthwise_filter,
            strides,
            padding,
            rate=rate,
            data_format=data_format,
            dilations=dilations,
        )
        return conv_ops.conv2d(depthwise, pointwise, strides=1, padding="VALID", name="Conv2D")


def _check_pointwise(pointwise, depthwise, what):
    _check_rank(pointwise, 4, what, "pointwise_filter", "[1, 1, in_channels * multiplier, out]")
    shape = pointwise.shape.as_list() if pointwise.shape.ndims is not None else [None] * 4
    if any(d not in (None, 1) for d in shape[:2]):
        raise ValueError(
            f"{what}: pointwise_filter '{pointwise.name}' must be [1, 1, in_channels * multiplier, "
            f"out] but has shape {pointwise.shape}"
        )
    d_shape = depthwise.shape.as_list() if depthwise.shape.ndims == 4 else [None] * 4
    if None not in (d_shape[2], d_shape[3], shape[2]) and d_shape[2] * d_shape[3] != shape[2]:
        raise ValueError(
            f"{what}: Depth of input ({d_shape[2] * d_shape[3]}) is not a multiple of input "
            f"depth of filter ({shape[2]}): depthwise_filter {depthwise.shape} gives "
            f"{d_shape[2]} * {d_shape[3]} channels, pointwise_filter {pointwise.shape} takes "
            f"{shape[2]}"
        )


# ---- conv3d ---------------------------------------------------------------------------------


def conv3d(
    input=None,  # noqa: A002 (TF's names)
    filter=None,  # noqa: A002
    strides=None,
    padding=None,
    data_format="NDHWC",
    dilations=None,
    name=None,
    filters=None,
):
    """`tf.nn.conv3d`: ``input`` [N, D, H, W, in] convolved with ``filter`` [d, h, w, in, out].

    One conv2d per depth tap k: the input's depth slices that tap k meets (a strided slice of the
    zero-padded depth) folded into the batch, convolved with filter[k] over height and width;
    the taps' results summed and the depth unfolded again. kd conv2d ops in all, each as large as
    the whole output."""
    what = "conv3d"
    if filter is not None and filters is not None:
        raise ValueError(f"{what}: pass the filter as 'filter' or 'filters', not both")
    filter = filters if filter is None else filter  # noqa: A001
    if input is None or filter is None:
        raise ValueError(f"{what}: 'input' and 'filter' are required")
    fmt = data_format.decode() if isinstance(data_format, bytes) else data_format
    if fmt not in (None, "NDHWC"):
        raise ValueError(
            f"{what}: data_format {data_format!r} is not supported; tgc implements only 'NDHWC'"
        )
    step = _ndhwc_window(strides, "strides", what)
    gap = _ndhwc_window([1] * 5 if dilations is None else dilations, "dilations", what)
    padding = conv_ops._padding(padding, what)
    with get_default_graph().name_scope(name or "Conv3D"):
        x, f = convert_to_tensor(input), convert_to_tensor(filter)
        kernel = _conv3d_kernel_shape(x, f, what)
        return _conv3d(x, f, kernel, step, gap, padding, what)


def _ndhwc_window(value, arg, what):
    values = [int(v) for v in value] if value is not None else None
    if values is None or len(values) != 5 or values[0] != 1 or values[4] != 1:
        raise ValueError(
            f"{what}: '{arg}' must be 5 ints [1, d, h, w, 1] (NDHWC) but got {value!r}"
        )
    if min(values) < 1:
        raise ValueError(f"{what}: '{arg}' {values} must be positive")
    return values[1:4]


def _conv3d_kernel_shape(x, f, what):
    _check_rank(x, 5, what, "input", "NDHWC")
    _check_rank(f, 5, what, "filter", "[depth, height, width, in_channels, out_channels]")
    kernel = _known_filter_shape(f, what)
    sizes = x.shape.as_list() if x.shape.ndims is not None else [None] * 5
    if any(d is None for d in sizes[1:]):
        raise ValueError(
            f"{what}: the depth, height, width and channels of input '{x.name}' must be known when "
            f"the graph is built, but it has shape {x.shape}"
        )
    if sizes[4] != kernel[3]:
        raise ValueError(
            f"{what}: Dimensions must be equal, but are {sizes[4]} and {kernel[3]}: the input "
            f"'{x.name}' {x.shape} has {sizes[4]} channels, the filter '{f.name}' {f.shape} "
            f"takes {kernel[3]}"
        )
    return kernel


def _conv3d(x, f, kernel, step, gap, padding, what):
    kd, _, _, _, out_channels = kernel
    _, depth, height, width, channels = x.shape.as_list()
    out_d, front, back = _extent(depth, kd, step[0], gap[0], padding, what)
    xp = pad_with_zeros(x, 1, front, back)
    terms = []
    for k in range(kd):
        d0 = k * gap[0]
        slices = xp[:, d0 : d0 + (out_d - 1) * step[0] + 1 : step[0]]
        planes = array_ops.reshape(slices, [-1, height, width, channels])
        terms.append(
            conv_ops.conv2d(
                planes,
                f[k],
                strides=[1, step[1], step[2], 1],
                padding=padding,
                dilations=[1, gap[1], gap[2], 1],
            )
        )
    total = terms[0] if len(terms) == 1 else math_ops.add_n(terms)
    out_h, out_w = total.shape[1].value, total.shape[2].value
    return array_ops.reshape(total, [-1, out_d, out_h, out_w, out_channels])


# ---- 3-D pooling ----------------------------------------------------------------------------


def _pool3d(kind):
    what = f"{kind}_pool3d"

    def pool3d(
        input=None,  # noqa: A002 (TF's names)
        ksize=None,
        strides=None,
        padding=None,
        data_format="NDHWC",
        name=None,
    ):
        if input is None:
            raise ValueError(f"{what}: 'input' is required")
        fmt = data_format.decode() if isinstance(data_format, bytes) else data_format
        if fmt not in (None, "NDHWC"):
            raise ValueError(
                f"{what}: data_format {data_format!r} is not supported; tgc implements only 'NDHWC'"
            )
        window = _ndhwc_window(_five(ksize), "ksize", what)
        step = _ndhwc_window(_five(strides), "strides", what)
        padding = conv_ops._padding(padding, what)
        with get_default_graph().name_scope(
            name or ("MaxPool3D" if kind == "max" else "AvgPool3D")
        ):
            x = convert_to_tensor(input)
            _check_rank(x, 5, what, "input", "NDHWC")
            if any(d is None for d in x.shape.as_list()[1:]):
                raise ValueError(
                    f"{what}: the depth, height, width and channels of input '{x.name}' must be "
                    f"known when the graph is built, but it has shape {x.shape}"
                )
            return _pool3d_over_depth_taps(x, kind, window, step, padding, what)

    pool3d.__name__ = what
    pool3d.__doc__ = (
        f"`tf.nn.{what}` over [d, h, w] windows of an NDHWC tensor: a 2-D pool of each depth "
        "tap's slices (the depth folded into the batch), combined across the taps"
        + (" by maximum." if kind == "max" else ", averaging in-bounds cells only, as TF's.")
    )
    return pool3d


def _five(value):
    """An int or 3 ints -> [1, d, h, w, 1]; 5 ints as given."""
    if value is None or isinstance(value, int):
        return None if value is None else [1, value, value, value, 1]
    values = list(value)
    return [1, *values, 1] if len(values) == 3 else values


def _pool3d_over_depth_taps(x, kind, window, step, padding, what):
    _, depth, height, width, channels = x.shape.as_list()
    out_d, front, back = _extent(depth, window[0], step[0], 1, padding, what)
    xp = pad_with_zeros(x, 1, front, back)
    starts = np.arange(out_d) * step[0] - front
    pool2d = conv_ops.max_pool if kind == "max" else conv_ops.avg_pool
    combined = None
    for k in range(window[0]):
        slices = xp[:, k : k + (out_d - 1) * step[0] + 1 : step[0]]
        planes = array_ops.reshape(slices, [-1, height, width, channels])
        pooled = pool2d(planes, [1, *window[1:], 1], [1, *step[1:], 1], padding)
        _, out_h, out_w, _ = pooled.shape.as_list()
        pooled = array_ops.reshape(pooled, [-1, out_d, out_h, out_w, channels])
        if kind == "max":  # a padding depth never wins: -inf there (0 + -inf, never NaN)
            outside = (starts + k < 0) | (starts + k >= depth)
            pooled = pooled + np.where(outside, -np.inf, 0.0).reshape(-1, 1, 1, 1)
            combined = pooled if combined is None else math_ops.maximum(combined, pooled)
        else:
            combined = pooled if combined is None else combined + pooled
    if kind == "max":
        return combined
    # padding depths added zeros: divide by the number of in-bounds depth taps of each output
    inside = np.clip(starts + window[0], 0, depth) - np.clip(starts, 0, depth)
    return combined / inside.reshape(-1, 1, 1, 1).astype(x.dtype.name)


max_pool3d = _pool3d("max")
avg_pool3d = _pool3d("avg")


# ---- convolution, depthwise_conv2d_native ---------------------------------------------------


def convolution(
    input=None,  # noqa: A002 (TF's names)
    filter=None,  # noqa: A002
    padding=None,
    strides=None,
    dilation_rate=None,
    name=None,
    data_format=None,
    filters=None,
    dilations=None,
):
    """`tf.nn.convolution`: conv1d, conv2d or conv3d by the filter's rank (3, 4 or 5), with
    ``strides`` and ``dilation_rate`` one int per spatial dim (not both above 1, as TF's)."""
    what = "convolution"
    if filter is not None and filters is not None:
        raise ValueError(f"{what}: pass the filter as 'filter' or 'filters', not both")
    filter = convert_to_tensor(filters if filter is None else filter)  # noqa: A001
    rank = filter.shape.ndims
    if rank not in (3, 4, 5):
        raise ValueError(
            f"{what}: the filter '{filter.name}' must have rank 3, 4 or 5 (1, 2 or 3 spatial "
            f"dims) but has shape {filter.shape}"
        )
    spatial = rank - 2
    step = _per_dim(strides, spatial, "strides", what)
    rate = dilation_rate if dilation_rate is not None else dilations
    rate = _per_dim(rate, spatial, "dilation_rate", what)
    if max(step) > 1 and max(rate) > 1:
        raise ValueError(
            f"{what}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={step} and dilation_rate={rate}"
        )
    if spatial == 1:
        _check_nwc(data_format, what)
        return conv1d(input, filter, step[0], padding, dilations=rate[0], name=name)
    if spatial == 2:
        return conv_ops.conv2d(
            input,
            filter,
            strides=[1, *step, 1],
            padding=padding,
            dilations=[1, *rate, 1],
            data_format=data_format or "NHWC",
            name=name,
        )
    return conv3d(
        input,
        filter,
        [1, *step, 1],
        padding,
        data_format=data_format or "NDHWC",
        dilations=[1, *rate, 1],
        name=name,
    )


def _per_dim(value, spatial, arg, what):
    if value is None:
        return [1] * spatial
    values = [int(value)] * spatial if isinstance(value, int) else [int(v) for v in value]
    if len(values) != spatial or min(values) < 1:
        raise ValueError(
            f"{what}: '{arg}' must be {spatial} positive ints (one per spatial dim) but got "
            f"{value!r}"
        )
    return values


def depthwise_conv2d_native(
    input=None,  # noqa: A002 (TF's names)
    filter=None,  # noqa: A002
    strides=None,
    padding=None,
    data_format="NHWC",
    dilations=None,
    name=None,
):
    """`tf.nn.depthwise_conv2d_native`: depthwise_conv2d with NHWC ``dilations``."""
    gap = None if dilations is None else conv_ops._nhwc_window(dilations, "dilations", "depthwise")
    return depthwise_conv2d(
        input,
        filter,
        strides,
        padding,
        rate=None if gap is None else gap[1:3],
        name=name,
        data_format=data_format,
    )


# ---- max_pool_with_argmax -------------------------------------------------------------------


def max_pool_with_argmax(
    input=None,  # noqa: A002 (TF's names)
    ksize=None,
    strides=None,
    padding=None,
    data_format="NHWC",
    Targmax=None,  # noqa: N803
    name=None,
    output_dtype=None,
    include_batch_in_index=False,
):
    """`tf.nn.max_pool_with_argmax`: max_pool's output and, for each, the flat index of the input
    element it is, ``(y * width + x) * channels + c`` (plus ``b * height * width * channels`` with
    include_batch_in_index); the first maximum of a window in row-major order wins, as TF's.

    The output is max_pool's (its gradient is max_pool's); the indices are a running argmax over
    the window's taps (strided slices and selects), which has no gradient, as TF's has none."""
    what = "max_pool_with_argmax"
    dtype = _argmax_dtype(Targmax, output_dtype, what)
    if input is None:
        raise ValueError(f"{what}: 'input' is required")
    conv_ops._check_data_format(data_format, what)
    window = conv_ops._nhwc_window(ksize, "ksize", what)[1:3]
    step = conv_ops._nhwc_window(strides, "strides", what)[1:3]
    padding = conv_ops._padding(padding, what)
    with get_default_graph().name_scope(name or "MaxPoolWithArgmax"):
        x = convert_to_tensor(input)
        _check_rank(x, 4, what, "input", "NHWC")
        sizes = x.shape.as_list()
        needed = sizes if include_batch_in_index else sizes[1:]
        if any(d is None for d in needed):
            raise ValueError(
                f"{what}: the height, width and channels of input '{x.name}' (and its batch, "
                "with include_batch_in_index) must be known when the graph is built, but it has "
                f"shape {x.shape}"
            )
        output = conv_ops.max_pool(x, [1, *window, 1], [1, *step, 1], padding)
        argmax = _window_argmax(x, sizes, window, step, padding, what, include_batch_in_index)
        return output, math_ops.cast(argmax, dtype) if dtype != "int64" else argmax


def _argmax_dtype(targmax, output_dtype, what):
    from tgc.dialect.types import as_dtype

    chosen = output_dtype if output_dtype is not None else targmax
    name = "int64" if chosen is None else as_dtype(chosen).name
    if name not in ("int32", "int64"):
        raise ValueError(f"{what}: the argmax dtype must be int32 or int64 but got {name}")
    return name


def _window_argmax(x, sizes, window, step, padding, what, with_batch):
    """The flat index of each window's first maximum: a running max over the taps, in the
    window's row-major order, replaced only by a strictly greater tap."""
    batch, height, width, channels = sizes
    out_h, top, bottom = _extent(height, window[0], step[0], 1, padding, what)
    out_w, left, right = _extent(width, window[1], step[1], 1, padding, what)
    xp = pad_with_zeros(pad_with_zeros(math_ops.stop_gradient(x), 1, top, bottom), 2, left, right)
    rows = np.arange(out_h)[:, None] * step[0] - top
    cols = np.arange(out_w)[None, :] * step[1] - left
    best = index = None
    for i in range(window[0]):
        for j in range(window[1]):
            y, x_ = rows + i, cols + j
            outside = (y < 0) | (y >= height) | (x_ < 0) | (x_ >= width)
            tap = xp[
                :,
                i : i + (out_h - 1) * step[0] + 1 : step[0],
                j : j + (out_w - 1) * step[1] + 1 : step[1],
                :,
            ]
            # a padding cell never wins: -inf there (0 + -inf, never NaN)
            penalty = np.where(outside, -np.inf, 0.0)[:, :, None].astype(x.dtype.name)
            tap = tap + penalty
            flat = ((y * width + x_)[:, :, None] * channels + np.arange(channels)).astype("int64")
            tap_index = array_ops.zeros_like(tap, dtype="int64") + flat
            if best is None:
                best, index = tap, tap_index
                continue
            better = tap > best
            best = math_ops.where(better, tap, best)
            index = math_ops.where(better, tap_index, index)
    if with_batch:
        index = index + (np.arange(batch) * height * width * channels).reshape(-1, 1, 1, 1)
    return index


__all__ = [
    "conv1d",
    "pool",
    "atrous_conv2d",
    "depthwise_conv2d",
    "separable_conv2d",
    "max_pool_with_argmax",
    "conv3d",
    "convolution",
    "depthwise_conv2d_native",
    "max_pool3d",
    "avg_pool3d",
]
