"""`tf.nn.conv2d`, its two backprops, `tf.nn.max_pool` and `tf.nn.avg_pool` of the TF1 API (NHWC
only).

Thin wrappers over ``make_op``: they bring TF's argument spellings to the registry's attribute form
(strides, ksize and dilations as [1, h, w, 1]; padding "SAME" or "VALID") and reject what the
compiler does not do (other data formats, explicit padding lists) with the argument named. Shape
errors, such as a channel mismatch, are raised by the registry's result rule at graph build time.
The ops' gradients come from the registry, so ``tf.gradients`` works through them.
"""

from __future__ import annotations

import numpy as np

from tgc.frontend.build import convert_to_tensor, make_op
from tgc.graph.graph import Tensor, get_default_graph


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


def conv2d_transpose(
    value=None,
    filter=None,  # noqa: A002 (TF's names)
    output_shape=None,
    strides=None,
    padding="SAME",
    data_format="NHWC",
    name=None,
    input=None,  # noqa: A002
    filters=None,
    dilations=None,
):
    """The transpose of conv2d (`tf.nn.conv2d_transpose`): ``value`` [N, H, W, in] spread by a
    filter [h, w, out, in] into a tensor of ``output_shape`` [N, H', W', out] (four ints or a
    tensor, as ``tf.stack([tf.shape(x)[0], 14, 14, 8])``).

    It is conv2d's input gradient (TF builds the same Conv2DBackpropInput op): its gradients are
    conv2d (for ``value``) and conv2d's filter gradient (for ``filter``), both from the registry.
    """
    value = _one_of(value, input, "value", "input")
    filter = _one_of(filter, filters, "filter", "filters")  # noqa: A001
    if output_shape is None:
        raise ValueError("conv2d_transpose: 'output_shape' is required")
    graph = get_default_graph()
    with graph.name_scope(name or "conv2d_transpose") as scope:
        value, filter = convert_to_tensor(value), convert_to_tensor(filter)  # noqa: A001
        sizes = _known_sizes(output_shape)
        _check_transpose_channels(value, filter, sizes + [None] * (4 - len(sizes)))
        attrs = _conv_attrs(strides, padding, dilations, data_format, "conv2d_transpose")
        output_like = _output_like(value, sizes, "conv2d_transpose")
        # The op takes the scope's own name, as TF's does.
        return make_op("conv2d_backprop_input", [filter, value, output_like], name=scope, **attrs)


def _one_of(value, alias, what, alias_name):
    if value is not None and alias is not None:
        raise ValueError(f"conv2d_transpose: pass '{what}' or '{alias_name}', not both")
    value = alias if value is None else value
    if value is None:
        raise ValueError(f"conv2d_transpose: '{what}' is required")
    return value


def _check_transpose_channels(value, filter, sizes):  # noqa: A002
    """TF's own checks, in its words: the filter is [h, w, out_channels, in_channels]."""
    f_shape, v_shape = filter.shape, value.shape
    if f_shape.ndims != 4 or v_shape.ndims != 4:
        raise ValueError(
            f"conv2d_transpose: value {v_shape} and filter {f_shape} must have rank 4 (NHWC, "
            "[height, width, out_channels, in_channels])"
        )
    v_in, f_in = v_shape[3].value, f_shape[3].value
    if v_in is not None and f_in is not None and v_in != f_in:
        raise ValueError(
            f"input channels does not match filter's input channels, {v_in} != {f_in} "
            f"(conv2d_transpose of '{value.name}')"
        )
    f_out = f_shape[2].value
    if sizes[3] is not None and f_out is not None and sizes[3] != f_out:
        raise ValueError(
            "output_shape does not match filter's output channels, "
            f"{sizes[3]} != {f_out} (conv2d_transpose of '{value.name}')"
        )


def _known_sizes(output_shape) -> list:
    """The four output sizes, None where only the run knows one: a list of ints, a constant, or
    ``tf.stack([...])`` of ints and computed scalars (``tf.shape(x)[0]``)."""
    from tgc.frontend.array_ops import _constant_value

    if isinstance(output_shape, (list, tuple)):
        return [_known_scalar(d) for d in output_shape]
    if not isinstance(output_shape, Tensor):
        return [int(d) for d in np.asarray(output_shape).reshape(-1)]
    known = _constant_value(output_shape)
    if known is not None:
        return [int(d) for d in known.reshape(-1)]
    pieces = _stacked_scalars(output_shape)
    if pieces is not None:
        return [_known_scalar(t) for t in pieces]
    if output_shape.shape.ndims == 1 and output_shape.shape[0].value is not None:
        return [None] * output_shape.shape[0].value
    raise ValueError(
        f"conv2d_transpose: output_shape '{output_shape.name}' must be a vector of 4 sizes but has "
        f"shape {output_shape.shape}"
    )


def _stacked_scalars(vector):
    """The scalars a vector was stacked from (``tf.stack`` builds nested concats of expand_dims),
    or None when it was computed otherwise."""
    op = vector.op
    if op.opdef == "expand_dims" and op.inputs[0].shape.ndims == 0:
        return [op.inputs[0]]
    if op.opdef != "concat":
        return None
    scalars = []
    for piece in op.inputs:
        inner = _stacked_scalars(piece)
        if inner is None:
            return None
        scalars += inner
    return scalars


def _known_scalar(value):
    from tgc.frontend.array_ops import _constant_value

    if isinstance(value, Tensor):
        known = _constant_value(value)
        return None if known is None else int(known.reshape(()))
    return None if value is None else int(value)


def _output_like(value, sizes, what):
    """A tensor of the transpose's output shape (its values are never read): the batch is
    ``value``'s, which the output's must equal, and the other sizes must be known when the graph
    is built (the compiled function's shapes are)."""
    from tgc.frontend.array_ops import zeros
    from tgc.frontend.math_ops import add

    if len(sizes) != 4:
        raise ValueError(f"{what}: output_shape must have 4 sizes (NHWC) but got {sizes}")
    if any(d is None for d in sizes[1:]):
        raise ValueError(
            f"{what}: output_shape {sizes} must give height, width and channels as numbers known "
            "when the graph is built (None: computed); only the batch may be computed"
        )
    batch = value.shape[0].value
    if sizes[0] is not None and batch is not None and sizes[0] != batch:
        raise ValueError(
            f"{what}: output_shape's batch {sizes[0]} differs from the batch {batch} of "
            f"'{value.name}'"
        )
    if batch is not None or sizes[0] is not None:
        return zeros([sizes[0] if batch is None else batch] + sizes[1:], dtype=value.dtype)
    # The run-time batch of value: its [N, 1, 1, 1] corner, zeroed, broadcast to the sizes.
    from tgc.frontend.array_ops import slice as slice_

    corner = slice_(value, [0, 0, 0, 0], [-1, 1, 1, 1]) * 0
    return add(corner, zeros([1] + sizes[1:], dtype=value.dtype))


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
    "conv2d_transpose",
    "max_pool",
    "avg_pool",
    "max_pool2d",
    "avg_pool2d",
]
