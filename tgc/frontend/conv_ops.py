"""`tf.nn.conv2d`, its two backprops, `tf.nn.max_pool` and `tf.nn.avg_pool` of the TF1 API (NHWC
only).

Thin wrappers over ``make_op``: they bring TF's argument spellings to the registry's attribute form
(strides, ksize and dilations as [1, h, w, 1]; padding "SAME" or "VALID") and reject what the
compiler does not do (other data formats, explicit padding lists) with the argument named. Shape
errors, such as a channel mismatch, are raised by the registry's result rule at graph build time.
The ops' gradients come from the registry, so ``tf.gradients`` works through them.
"""

from __future__ import annotations

from tgc.frontend.build import convert_to_tensor, make_op


def _check_data_format(data_format, what):
    fmt = data_format.decode() if isinstance(data_format, bytes) else data_format
    if fmt not in (None, "NHWC"):
        raise ValueError(
            f"{what}: data_format {data_format!r} is not supported; tgc implements only 'NHWC'"
        )


def _nhwc_window(value, arg, what):
    """An int, an (h, w) pair, a 1-list, or [1, h, w, 1] -> [1, h, w, 1], as TensorFlow accepts
    them."""
    if value is None:
        raise ValueError(f"{what}: '{arg}' is required")
    values = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    if len(values) == 1:
        values = [1, values[0], values[0], 1]
    elif len(values) == 2:
        values = [1, values[0], values[1], 1]
    if len(values) != 4:
        raise ValueError(
            f"{what}: '{arg}' must be an int or a list of 1, 2 or 4 ints but got {value!r}"
        )
    if values[0] != 1 or values[3] != 1:
        raise ValueError(f"{what}: '{arg}' {values} must be 1 in the batch and channel dims (NHWC)")
    if any(v < 1 for v in values):
        raise ValueError(f"{what}: '{arg}' {values} must be positive")
    return values


def _padding(padding, what):
    if isinstance(padding, bytes):
        padding = padding.decode()
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"{what}: padding must be 'SAME' or 'VALID' but got {padding!r}")
    return padding.upper()


def conv2d(
    input,
    filter=None,
    strides=None,
    padding=None,
    use_cudnn_on_gpu=True,  # noqa: A002 (TF's names)
    data_format="NHWC",
    dilations=None,
    name=None,
    filters=None,
):
    """2-D convolution of an NHWC input with an HWIO filter (`tf.nn.conv2d`)."""
    if filter is not None and filters is not None:
        raise ValueError("conv2d: pass the filter as 'filter' or 'filters', not both")
    filter = filters if filter is None else filter  # noqa: A001
    if filter is None:
        raise ValueError("conv2d: 'filter' is required")
    attrs = _conv_attrs(strides, padding, dilations, data_format, "conv2d")
    return make_op(
        "conv2d", [convert_to_tensor(input), convert_to_tensor(filter)], name=name, **attrs
    )


def _conv_attrs(strides, padding, dilations, data_format, what) -> dict:
    _check_data_format(data_format, what)
    return {
        "strides": _nhwc_window(strides, "strides", what),
        "padding": _padding(padding, what),
        "dilations": _nhwc_window(1 if dilations is None else dilations, "dilations", what),
    }


def conv2d_backprop_input(
    input_sizes,
    filter=None,
    out_backprop=None,
    strides=None,
    padding=None,  # noqa: A002
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=None,
    name=None,
    filters=None,
):
    """The gradient of conv2d with respect to its input (`tf.nn.conv2d_backprop_input`), of shape
    ``input_sizes``: four ints, or ``tf.shape(x)`` of a tensor x (its batch may be unknown)."""
    from tgc.frontend.array_ops import zeros

    filter = filters if filter is None else filter  # noqa: A001
    if filter is None or out_backprop is None:
        raise ValueError("conv2d_backprop_input: 'filter' and 'out_backprop' are required")
    attrs = _conv_attrs(strides, padding, dilations, data_format, "conv2d_backprop_input")
    f, g = convert_to_tensor(filter), convert_to_tensor(out_backprop)
    input_like = zeros(input_sizes, dtype=f.dtype)  # only its shape is read
    if input_like.shape.ndims != 4:
        raise ValueError(
            "conv2d_backprop_input: input_sizes must name 4 dims (NHWC) but gives shape "
            f"{input_like.shape}"
        )
    return make_op("conv2d_backprop_input", [f, g, input_like], name=name, **attrs)


def conv2d_backprop_filter(
    input,
    filter_sizes,
    out_backprop,
    strides=None,
    padding=None,  # noqa: A002
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=None,
    name=None,
):
    """The gradient of conv2d with respect to its filter (`tf.nn.conv2d_backprop_filter`), of shape
    ``filter_sizes`` (four ints known when the graph is built, HWIO)."""
    from tgc.frontend.array_ops import _static_ints

    attrs = _conv_attrs(strides, padding, dilations, data_format, "conv2d_backprop_filter")
    sizes = _static_ints(filter_sizes, "conv2d_backprop_filter: filter_sizes")
    if len(sizes) != 4 or any(d < 1 for d in sizes):
        raise ValueError(
            f"conv2d_backprop_filter: filter_sizes must be 4 positive ints (HWIO) but got {sizes}"
        )
    return make_op(
        "conv2d_backprop_filter",
        [convert_to_tensor(input), convert_to_tensor(out_backprop)],
        name=name,
        filter_shape=sizes,
        **attrs,
    )


def _pool(opname, what):
    def pool(
        value=None,
        ksize=None,
        strides=None,
        padding=None,
        data_format="NHWC",
        name=None,
        input=None,
    ):  # noqa: A002
        if value is not None and input is not None:
            raise ValueError(f"{what}: pass the tensor as 'value' or 'input', not both")
        value = input if value is None else value
        if value is None:
            raise ValueError(f"{what}: 'value' is required")
        _check_data_format(data_format, what)
        attrs = {
            "ksize": _nhwc_window(ksize, "ksize", what),
            "strides": _nhwc_window(strides, "strides", what),
            "padding": _padding(padding, what),
        }
        return make_op(opname, [convert_to_tensor(value)], name=name, **attrs)

    pool.__name__ = what
    pool.__doc__ = f"`tf.nn.{what}` over the windows of an NHWC tensor."
    return pool


max_pool = _pool("max_pool", "max_pool")
avg_pool = _pool("avg_pool", "avg_pool")
max_pool2d = _pool("max_pool", "max_pool2d")
avg_pool2d = _pool("avg_pool", "avg_pool2d")

__all__ = [
    "conv2d",
    "conv2d_backprop_input",
    "conv2d_backprop_filter",
    "max_pool",
    "avg_pool",
    "max_pool2d",
    "avg_pool2d",
]
