"""2-D convolution and pooling over NHWC tensors, and the backprop ops their gradients are made of.

Attributes follow TensorFlow's NodeDefs: ``strides``, ``ksize`` and ``dilations`` hold four entries
[1, h, w, 1] and ``padding`` is "SAME" or "VALID". The spatial dims (height, width) and the channels
must be known when the graph is built; the batch dim may be unknown. Where a backprop op needs the
shape of a tensor whose batch dim may be unknown, it takes that tensor as a ``*_like`` operand whose
values are not read (as ``broadcast_like`` does); the filter's shape is always static, so it is an
attribute.

``window_geometry`` is the single definition of output size and padding; the numpy references here
and the lowering in ``tgc/lowering/to_core/conv.py`` both use it.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import (
    conv2d_backprop_filter_flops,
    conv2d_backprop_input_flops,
    conv2d_flops,
    pool_flops,
    pool_grad_flops,
)
from tgc.dialect.registry import Attr, Sample, ShapeError, op
from tgc.dialect.shapes import FLOAT_DTYPES, compatible, same_dtype, spec
from tgc.dialect.types import format_shape

PADDINGS = ("SAME", "VALID")
_ONES = (1, 1, 1, 1)


# ---- geometry -----------------------------------------------------------------------------------


def window_geometry(size: int, k: int, stride: int, dilation: int, padding: str) -> tuple:
    """(output size, padding before, padding after) of one spatial dim, as TensorFlow computes them.

    SAME: out = ceil(size / stride), total padding max((out - 1) * stride + k_eff - size, 0), the
    smaller half before. VALID: no padding, out = floor((size - k_eff) / stride) + 1.
    """
    k_eff = (k - 1) * dilation + 1
    if padding == "SAME":
        out = -(-size // stride)
        total = max((out - 1) * stride + k_eff - size, 0)
        return out, total // 2, total - total // 2
    if size < k_eff:
        raise ShapeError(
            f"VALID window of size {k_eff} does not fit in a spatial dim of size {size}"
        )
    return (size - k_eff) // stride + 1, 0, 0


def spatial_geometry(in_hw, k_hw, strides, dilations, padding) -> list:
    """``window_geometry`` for height and width; strides/dilations are the 4-entry NHWC
    attributes."""
    return [
        window_geometry(in_hw[i], k_hw[i], strides[i + 1], dilations[i + 1], padding)
        for i in range(2)
    ]


def _check_window_attrs(what, strides, padding, dilations=_ONES, ksize=None):
    """strides, dilations and ksize are [1, h, w, 1]: TF does not stride or window the batch or
    channels."""
    for name, values in (("strides", strides), ("dilations", dilations), ("ksize", ksize)):
        if values is None:
            continue
        if len(values) != 4 or any(v < 1 for v in values) or values[0] != 1 or values[3] != 1:
            raise ShapeError(
                f"{what} {name} must be [1, h, w, 1] with h, w >= 1 but got {list(values)}"
            )
    if padding not in PADDINGS:
        raise ShapeError(f"{what} padding must be 'SAME' or 'VALID' but got {padding!r}")


def _check_nhwc(what, x, name="input"):
    if len(x.shape) != 4:
        raise ShapeError(f"{what} needs a rank-4 NHWC {name} but got shape {format_shape(x.shape)}")
    if any(d is None for d in x.shape[1:]):
        raise ShapeError(
            f"{what} needs the height, width and channels of its {name} "
            f"known when the graph is built but got shape {format_shape(x.shape)}"
        )


def _conv_shapes(x, f, strides, padding, dilations):
    """Checks conv2d operands; returns the NHWC output shape."""
    _check_window_attrs("conv2d", strides, padding, dilations)
    _check_nhwc("conv2d", x)
    if len(f.shape) != 4 or any(d is None for d in f.shape):
        raise ShapeError(
            f"conv2d needs a rank-4 HWIO filter of known shape but got {format_shape(f.shape)}"
        )
    if x.shape[3] != f.shape[2]:
        raise ShapeError(
            f"input channels {x.shape[3]} of input {format_shape(x.shape)} "
            f"do not match the filter's in_channels {f.shape[2]} of filter {format_shape(f.shape)}"
        )
    (oh, _, _), (ow, _, _) = spatial_geometry(
        x.shape[1:3], f.shape[:2], strides, dilations, padding
    )
    return (x.shape[0], oh, ow, f.shape[3])


def _pool_shapes(what, x, ksize, strides, padding):
    _check_window_attrs(what, strides, padding, ksize=ksize)
    _check_nhwc(what, x)
    (oh, _, _), (ow, _, _) = spatial_geometry(x.shape[1:3], ksize[1:3], strides, _ONES, padding)
    return (x.shape[0], oh, ow, x.shape[3])


def _check_grad_shape(what, g, want):
    """The incoming gradient must have the forward op's output shape (unknown dims match
    anything)."""
    if not compatible(g.shape, want):
        raise ShapeError(
            f"{what} gradient of shape {format_shape(g.shape)} does not match the forward output "
            f"shape {format_shape(want)}"
        )


# ---- numpy references ---------------------------------------------------------------------------


def _pad_spatial(x, geometry, value=0.0):
    (_, ht, hb), (_, wl, wr) = geometry
    return np.pad(x, ((0, 0), (ht, hb), (wl, wr), (0, 0)), constant_values=value)


def _window_slices(geometry, kh, kw, strides, dilations):
    """Index of the padded input that window offset (kh, kw) reads, for every output position."""
    (oh, _, _), (ow, _, _) = geometry
    sh, sw, dh, dw = strides[1], strides[2], dilations[1], dilations[2]
    rows = slice(kh * dh, kh * dh + (oh - 1) * sh + 1, sh)
    cols = slice(kw * dw, kw * dw + (ow - 1) * sw + 1, sw)
    return (slice(None), rows, cols, slice(None))


def _crop(padded, geometry, shape):
    (_, ht, _), (_, wl, _) = geometry
    return padded[:, ht : ht + shape[1], wl : wl + shape[2], :]


def conv2d_reference(x, f, strides, padding, dilations):
    """y[n,i,j,o] = sum over (kh, kw, c) of
    xpad[n, i*sh + kh*dh, j*sw + kw*dw, c] * f[kh, kw, c, o]."""
    geometry = spatial_geometry(x.shape[1:3], f.shape[:2], strides, dilations, padding)
    xpad = _pad_spatial(x, geometry)
    out = np.zeros((x.shape[0], geometry[0][0], geometry[1][0], f.shape[3]), x.dtype)
    for kh in range(f.shape[0]):
        for kw in range(f.shape[1]):
            window = xpad[_window_slices(geometry, kh, kw, strides, dilations)]
            out += np.einsum("nhwc,co->nhwo", window, f[kh, kw])
    return out


def conv2d_input_grad_reference(f, g, input_shape, strides, padding, dilations):
    """The adjoint of conv2d in x: each window offset adds g @ f[kh, kw]^T back where it read."""
    geometry = spatial_geometry(input_shape[1:3], f.shape[:2], strides, dilations, padding)
    (_, ht, hb), (_, wl, wr) = geometry
    dxpad = np.zeros(
        (input_shape[0], input_shape[1] + ht + hb, input_shape[2] + wl + wr, input_shape[3]),
        g.dtype,
    )
    for kh in range(f.shape[0]):
        for kw in range(f.shape[1]):
            dxpad[_window_slices(geometry, kh, kw, strides, dilations)] += np.einsum(
                "nhwo,co->nhwc", g, f[kh, kw]
            )
    return _crop(dxpad, geometry, input_shape)


def conv2d_filter_grad_reference(x, g, filter_shape, strides, padding, dilations):
    """The adjoint of conv2d in f: df[kh, kw] = sum over (n, i, j) of window(kh, kw)^T g."""
    geometry = spatial_geometry(x.shape[1:3], filter_shape[:2], strides, dilations, padding)
    xpad = _pad_spatial(x, geometry)
    df = np.zeros(tuple(filter_shape), g.dtype)
    for kh in range(filter_shape[0]):
        for kw in range(filter_shape[1]):
            window = xpad[_window_slices(geometry, kh, kw, strides, dilations)]
            df[kh, kw] = np.einsum("nhwc,nhwo->co", window, g)
    return df


def max_pool_reference(x, ksize, strides, padding):
    geometry = spatial_geometry(x.shape[1:3], ksize[1:3], strides, _ONES, padding)
    xpad = _pad_spatial(x, geometry, -np.inf)
    out = np.full((x.shape[0], geometry[0][0], geometry[1][0], x.shape[3]), -np.inf, x.dtype)
    for kh in range(ksize[1]):
        for kw in range(ksize[2]):
            out = np.maximum(out, xpad[_window_slices(geometry, kh, kw, strides, _ONES)])
    return out


def _first_maxima(xpad, geometry, ksize, strides):
    """(i, j, index) per output position: ``index`` picks, for every batch and channel, the
    padded input's element that is window (i, j)'s first maximum (row-major in the window)."""
    kh_, kw_, sh, sw = ksize[1], ksize[2], strides[1], strides[2]
    n, c = xpad.shape[0], xpad.shape[3]
    n_idx, c_idx = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(geometry[0][0]):
        for j in range(geometry[1][0]):
            window = xpad[:, i * sh : i * sh + kh_, j * sw : j * sw + kw_, :].reshape(
                n, kh_ * kw_, c
            )
            first = np.argmax(window, axis=1)  # (n, c): numpy's argmax takes the first maximum
            yield i, j, (n_idx, i * sh + first // kw_, j * sw + first % kw_, c_idx)


def max_pool_grad_reference(x, g, ksize, strides, padding):
    """Each window's gradient goes to its first maximum (row-major in the window); overlaps add."""
    geometry = spatial_geometry(x.shape[1:3], ksize[1:3], strides, _ONES, padding)
    xpad = _pad_spatial(x, geometry, -np.inf)
    dxpad = np.zeros(xpad.shape, g.dtype)
    for i, j, at in _first_maxima(xpad, geometry, ksize, strides):
        dxpad[at] += g[:, i, j, :]
    return _crop(dxpad, geometry, x.shape)


def max_pool_grad_grad_reference(x, g, ksize, strides, padding):
    """Each window's entry of g at the window's first maximum (row-major in the window)."""
    geometry = spatial_geometry(x.shape[1:3], ksize[1:3], strides, _ONES, padding)
    xpad = _pad_spatial(x, geometry, -np.inf)
    gpad = _pad_spatial(g, geometry)
    out = np.zeros((x.shape[0], geometry[0][0], geometry[1][0], x.shape[3]), g.dtype)
    for i, j, at in _first_maxima(xpad, geometry, ksize, strides):
        out[:, i, j, :] = gpad[at]
    return out


def avg_pool_counts(in_hw, ksize, strides, padding) -> np.ndarray:
    """(out_h, out_w) counts of in-bounds elements in each window: SAME averages only over those."""
    geometry = spatial_geometry(in_hw, ksize[1:3], strides, _ONES, padding)
    ones = _pad_spatial(np.ones((1, in_hw[0], in_hw[1], 1)), geometry)
    counts = np.zeros((1, geometry[0][0], geometry[1][0], 1))
    for kh in range(ksize[1]):
        for kw in range(ksize[2]):
            counts += ones[_window_slices(geometry, kh, kw, strides, _ONES)]
    return counts[0, :, :, 0]


def avg_pool_reference(x, ksize, strides, padding):
    geometry = spatial_geometry(x.shape[1:3], ksize[1:3], strides, _ONES, padding)
    xpad = _pad_spatial(x, geometry)
    total = np.zeros((x.shape[0], geometry[0][0], geometry[1][0], x.shape[3]), x.dtype)
    for kh in range(ksize[1]):
        for kw in range(ksize[2]):
            total += xpad[_window_slices(geometry, kh, kw, strides, _ONES)]
    counts = avg_pool_counts(x.shape[1:3], ksize, strides, padding)
    return (total / counts[None, :, :, None]).astype(x.dtype)


def avg_pool_grad_reference(input_shape, g, ksize, strides, padding):
    """Each window spreads g / count evenly over the elements it averaged."""
    geometry = spatial_geometry(input_shape[1:3], ksize[1:3], strides, _ONES, padding)
    (_, ht, hb), (_, wl, wr) = geometry
    share = (
        g / avg_pool_counts(input_shape[1:3], ksize, strides, padding)[None, :, :, None]
    ).astype(g.dtype)
    dxpad = np.zeros(
        (input_shape[0], input_shape[1] + ht + hb, input_shape[2] + wl + wr, input_shape[3]),
        g.dtype,
    )
    for kh in range(ksize[1]):
        for kw in range(ksize[2]):
            dxpad[_window_slices(geometry, kh, kw, strides, _ONES)] += share
    return _crop(dxpad, geometry, input_shape)


# ---- ops ----------------------------------------------------------------------------------------

_CONV_ATTRS = {"strides": Attr("ints"), "padding": Attr("str"), "dilations": Attr("ints", _ONES)}
_POOL_ATTRS = {"ksize": Attr("ints"), "strides": Attr("ints"), "padding": Attr("str")}


def _conv_attrs(op):
    return {k: op.attrs[k] for k in ("strides", "padding", "dilations")}


def _pool_attrs(op):
    return {k: op.attrs[k] for k in ("ksize", "strides", "padding")}


@op("conv2d", tf_type="Conv2D", operands=("input", "filter"), attrs=_CONV_ATTRS)
class Conv2D:
    """2-D cross-correlation of an NHWC input with an HWIO filter (`tf.nn.conv2d`)."""

    flops = conv2d_flops

    def infer(x, f, strides, padding, dilations):
        dtype = same_dtype(x, f, allowed=FLOAT_DTYPES)
        return spec(_conv_shapes(x, f, strides, padding, dilations), dtype)

    eval = conv2d_reference

    def grad(b, op, g):
        x, f = op.inputs
        attrs = _conv_attrs(op)
        return [
            b.conv2d_backprop_input(f, g, x, **attrs),
            b.conv2d_backprop_filter(x, g, filter_shape=list(f.shape), **attrs),
        ]

    samples = [
        Sample(
            ((2, 5, 5, 3), (3, 3, 3, 4)),
            attrs={"strides": (1, 1, 1, 1), "padding": "SAME"},
            dynamic=((0, 0),),
        ),
        Sample(
            ((2, 7, 6, 2), (3, 2, 2, 3)),
            attrs={"strides": (1, 2, 2, 1), "padding": "SAME"},
            dynamic=((0, 0),),
        ),
        Sample(((1, 7, 8, 2), (3, 3, 2, 2)), attrs={"strides": (1, 2, 3, 1), "padding": "VALID"}),
        Sample(
            ((1, 7, 7, 2), (2, 3, 2, 2)),
            attrs={"strides": (1, 1, 2, 1), "padding": "SAME", "dilations": (1, 2, 2, 1)},
        ),
    ]


@op(
    "conv2d_backprop_input",
    tf_type="Conv2DBackpropInput",
    operands=("filter", "grad", "input_like"),
    attrs=_CONV_ATTRS,
)
class Conv2DBackpropInput:
    """The gradient of conv2d with respect to its input, shaped like ``input_like``
    (values unused)."""

    flops = conv2d_backprop_input_flops

    def infer(f, g, x, strides, padding, dilations):
        dtype = same_dtype(f, g, x, allowed=FLOAT_DTYPES)
        _check_grad_shape(
            "conv2d_backprop_input", g, _conv_shapes(x, f, strides, padding, dilations)
        )
        return spec(x.shape, dtype)

    def eval(f, g, x, strides, padding, dilations):
        return conv2d_input_grad_reference(f, g, x.shape, strides, padding, dilations)

    def grad(b, op, dy):
        # Linear in (filter, grad): the adjoint of "g -> dx" is conv2d, that of "f -> dx" the filter
        # backprop.
        f, g, _ = op.inputs
        attrs = _conv_attrs(op)
        return [
            b.conv2d_backprop_filter(dy, g, filter_shape=list(f.shape), **attrs),
            b.conv2d(dy, f, **attrs),
            None,
        ]

    samples = [
        Sample(
            ((3, 3, 3, 4), (2, 5, 5, 4), (2, 5, 5, 3)),
            attrs={"strides": (1, 1, 1, 1), "padding": "SAME"},
            dynamic=((1, 0), (2, 0)),
        ),
        Sample(
            ((3, 2, 2, 3), (2, 4, 3, 3), (2, 7, 6, 2)),
            attrs={"strides": (1, 2, 2, 1), "padding": "SAME"},
            dynamic=((1, 0), (2, 0)),
        ),
        Sample(
            ((3, 3, 2, 2), (1, 3, 2, 2), (1, 7, 8, 2)),
            attrs={"strides": (1, 2, 3, 1), "padding": "VALID"},
        ),
        Sample(
            ((2, 3, 2, 2), (1, 7, 4, 2), (1, 7, 7, 2)),
            attrs={"strides": (1, 1, 2, 1), "padding": "SAME", "dilations": (1, 2, 2, 1)},
        ),
    ]


@op(
    "conv2d_backprop_filter",
    tf_type="Conv2DBackpropFilter",
    operands=("input", "grad"),
    attrs={**_CONV_ATTRS, "filter_shape": Attr("ints")},
)
class Conv2DBackpropFilter:
    """The gradient of conv2d with respect to its filter, of shape ``filter_shape`` (HWIO)."""

    flops = conv2d_backprop_filter_flops

    def infer(x, g, strides, padding, dilations, filter_shape):
        dtype = same_dtype(x, g, allowed=FLOAT_DTYPES)
        f = spec(filter_shape, dtype)
        _check_grad_shape(
            "conv2d_backprop_filter", g, _conv_shapes(x, f, strides, padding, dilations)
        )
        return f

    def eval(x, g, strides, padding, dilations, filter_shape):
        return conv2d_filter_grad_reference(x, g, filter_shape, strides, padding, dilations)

    def grad(b, op, dy):
        # Linear in (input, grad): the adjoint of "g -> df" is conv2d(x, .), that of "x -> df" the
        # input backprop.
        x, g = op.inputs
        attrs = _conv_attrs(op)
        return [b.conv2d_backprop_input(dy, g, x, **attrs), b.conv2d(x, dy, **attrs)]

    samples = [
        Sample(
            ((2, 5, 5, 3), (2, 5, 5, 4)),
            attrs={"strides": (1, 1, 1, 1), "padding": "SAME", "filter_shape": (3, 3, 3, 4)},
            dynamic=((0, 0), (1, 0)),
        ),
        Sample(
            ((2, 7, 6, 2), (2, 4, 3, 3)),
            attrs={"strides": (1, 2, 2, 1), "padding": "SAME", "filter_shape": (3, 2, 2, 3)},
            dynamic=((0, 0), (1, 0)),
        ),
        Sample(
            ((1, 7, 8, 2), (1, 3, 2, 2)),
            attrs={"strides": (1, 2, 3, 1), "padding": "VALID", "filter_shape": (3, 3, 2, 2)},
        ),
        Sample(
            ((1, 7, 7, 2), (1, 7, 4, 2)),
            attrs={
                "strides": (1, 1, 2, 1),
                "padding": "SAME",
                "dilations": (1, 2, 2, 1),
                "filter_shape": (2, 3, 2, 2),
            },
        ),
    ]


def _pool_infer(what):
    def infer(x, ksize, strides, padding):
        dtype = same_dtype(x, allowed=FLOAT_DTYPES)
        return spec(_pool_shapes(what, x, ksize, strides, padding), dtype)

    return infer


_POOL_SAMPLES = [
    (
        (2, 5, 5, 3),
        {"ksize": (1, 2, 2, 1), "strides": (1, 2, 2, 1), "padding": "SAME"},
        (2, 3, 3, 3),
    ),
    (
        (2, 6, 7, 2),
        {"ksize": (1, 3, 3, 1), "strides": (1, 2, 2, 1), "padding": "SAME"},
        (2, 3, 4, 2),
    ),
    (
        (1, 7, 6, 2),
        {"ksize": (1, 3, 2, 1), "strides": (1, 2, 1, 1), "padding": "VALID"},
        (1, 3, 5, 2),
    ),
    (
        (1, 5, 5, 2),
        {"ksize": (1, 3, 3, 1), "strides": (1, 1, 1, 1), "padding": "SAME"},
        (1, 5, 5, 2),
    ),
]


@op("max_pool", tf_type="MaxPool", operands=("value",), attrs=_POOL_ATTRS)
class MaxPool:
    """Maximum over each window of an NHWC tensor (`tf.nn.max_pool`); SAME pads with -inf."""

    flops = pool_flops

    infer = _pool_infer("max_pool")
    eval = max_pool_reference

    def grad(b, op, g):
        return [b.max_pool_grad(op.inputs[0], g, **_pool_attrs(op))]

    samples = [
        Sample((shape,), attrs=attrs, dynamic=((0, 0),)) for shape, attrs, _ in _POOL_SAMPLES
    ]


@op("max_pool_grad", tf_type="MaxPoolGrad", operands=("input", "grad"), attrs=_POOL_ATTRS)
class MaxPoolGrad:
    """The gradient of max_pool: each window's gradient goes to the first maximum of the window."""

    flops = pool_grad_flops

    def infer(x, g, ksize, strides, padding):
        dtype = same_dtype(x, g, allowed=FLOAT_DTYPES)
        _check_grad_shape(
            "max_pool_grad", g, _pool_shapes("max_pool_grad", x, ksize, strides, padding)
        )
        return spec(x.shape, dtype)

    eval = max_pool_grad_reference

    def grad(b, op, g):
        # TF's _MaxPoolGradGrad: the windows' first maxima do not move with x (zeros for it), the
        # result is linear in the gradient (MaxPoolGradGrad reads g at those maxima)
        x, _ = op.inputs
        return [b.zeros_like(x), b.max_pool_grad_grad(x, g, **_pool_attrs(op))]

    samples = [
        Sample((shape, out), attrs=attrs, dynamic=((0, 0), (1, 0)))
        for shape, attrs, out in _POOL_SAMPLES
    ]


@op("max_pool_grad_grad", tf_type="MaxPoolGradGrad", operands=("input", "grad"), attrs=_POOL_ATTRS)
class MaxPoolGradGrad:
    """The gradient of max_pool_grad with respect to its gradient: for each window of ``input``,
    ``grad`` (shaped like ``input``) at the window's first maximum."""

    flops = pool_flops

    def infer(x, g, ksize, strides, padding):
        dtype = same_dtype(x, g, allowed=FLOAT_DTYPES)
        _check_grad_shape("max_pool_grad_grad", g, x.shape)
        return spec(_pool_shapes("max_pool_grad_grad", x, ksize, strides, padding), dtype)

    eval = max_pool_grad_grad_reference

    def grad(b, op, g):
        # TF's _MaxPoolGradGradGrad: zeros for the input, max_pool_grad of g for the gradient
        x, _ = op.inputs
        return [b.zeros_like(x), b.max_pool_grad(x, g, **_pool_attrs(op))]

    samples = [
        Sample((shape, shape), attrs=attrs, dynamic=((0, 0), (1, 0)))
        for shape, attrs, _ in _POOL_SAMPLES
    ]


@op("avg_pool", tf_type="AvgPool", operands=("value",), attrs=_POOL_ATTRS)
class AvgPool:
    """Mean over each window of an NHWC tensor (`tf.nn.avg_pool`); SAME counts only in-bounds
    elements."""

    flops = pool_flops

    infer = _pool_infer("avg_pool")
    eval = avg_pool_reference

    def grad(b, op, g):
        return [b.avg_pool_grad(op.inputs[0], g, **_pool_attrs(op))]

    samples = [
        Sample((shape,), attrs=attrs, dynamic=((0, 0),)) for shape, attrs, _ in _POOL_SAMPLES
    ]


@op(
    "avg_pool_grad",
    tf_type="AvgPoolGrad",
    operands=("input_like", "grad"),
    attrs=_POOL_ATTRS,
    shape_operands=("input_like",),
)
class AvgPoolGrad:
    """The gradient of avg_pool, shaped like ``input_like`` (values unused)."""

    flops = pool_grad_flops

    def infer(x, g, ksize, strides, padding):
        dtype = same_dtype(x, g, allowed=FLOAT_DTYPES)
        _check_grad_shape(
            "avg_pool_grad", g, _pool_shapes("avg_pool_grad", x, ksize, strides, padding)
        )
        return spec(x.shape, dtype)

    def eval(x, g, ksize, strides, padding):
        return avg_pool_grad_reference(x.shape, g, ksize, strides, padding)

    def grad(b, op, dy):
        # Linear in g, and its adjoint is avg_pool itself.
        return [None, b.avg_pool(dy, **_pool_attrs(op))]

    samples = [
        Sample((shape, out), attrs=attrs, dynamic=((0, 0), (1, 0)))
        for shape, attrs, out in _POOL_SAMPLES
    ]
