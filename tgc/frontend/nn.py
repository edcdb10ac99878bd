"""`tgc.nn`: the TF1 ``tf.nn`` functions for activations, softmax, losses and biases.

Thin wrappers over ``make_op``: the composites (softmax, the cross-entropy losses, l2_loss) are
registry ops in tgc/dialect/ops/nn.py that tgc-decompose later rewrites into core ops; relu6,
bias_add and xw_plus_b are built here from core ops. Keyword names and defaults follow TensorFlow
1.15.
"""

from __future__ import annotations

import math

from tgc.frontend import math_ops
from tgc.frontend.build import assert_op, convert_to_tensor, make_op
from tgc.graph.graph import Tensor

sigmoid = math_ops.sigmoid
tanh = math_ops.tanh


def relu(features, name=None):
    x = convert_to_tensor(features)
    if x.dtype.name == "uint8":  # nothing is negative: TF's uint8 Relu is the identity
        return math_ops.identity(x, name=name or "Relu")
    return make_op("relu", [x], name=name or "Relu")


def relu6(features, name=None):
    """min(max(features, 0), 6)."""
    x = convert_to_tensor(features)
    if x.dtype.name == "uint8":
        return math_ops.minimum(x, 6, name=name or "Relu6")
    return math_ops.minimum(math_ops.maximum(x, 0), 6, name=name or "Relu6")


def elu(features, name=None):
    """features where > 0, else exp(features) - 1."""
    return make_op("elu", [convert_to_tensor(features)], name=name or "Elu")


def _axis(axis, dim, default=-1):
    """TF1 spells the class axis ``dim`` (deprecated) or ``axis``; giving both is an error."""
    if axis is not None and dim is not None and axis != dim:
        raise ValueError(f"cannot give both axis={axis} and dim={dim}")
    chosen = axis if axis is not None else dim
    return default if chosen is None else int(chosen)


def softmax(logits, axis=None, name=None, dim=None):
    return make_op(
        "softmax", [convert_to_tensor(logits)], name=name or "Softmax", axis=_axis(axis, dim)
    )


def log_softmax(logits, axis=None, name=None, dim=None):
    return make_op(
        "log_softmax", [convert_to_tensor(logits)], name=name or "LogSoftmax", axis=_axis(axis, dim)
    )


def _named_only(fn_name, sentinel, labels, logits):
    """TF1's loss functions take labels and logits only by keyword, to catch swapped arguments."""
    if sentinel is not None:
        raise ValueError(
            f"Only call `{fn_name}` with named arguments (labels=..., logits=..., ...)"
        )
    if labels is None or logits is None:
        raise ValueError(f"`{fn_name}` needs both labels and logits")


def _like(value, other):
    """A tensor for value; Python and numpy values take other's dtype, as TF converts them."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        return convert_to_tensor(value)
    return convert_to_tensor(value, dtype=other.dtype)


def _pair(labels, logits, fn_name):
    logits = convert_to_tensor(logits)
    labels = _like(labels, logits)
    if labels.dtype != logits.dtype and fn_name.startswith("softmax_"):
        # TF's softmax losses cast the labels to the logits' dtype (MNIST's one-hot labels are
        # float64 beside float32 logits); the sigmoid loss multiplies them and refuses.
        labels = math_ops.cast(labels, logits.dtype)
    if labels.dtype != logits.dtype:
        raise ValueError(
            f"`{fn_name}`: labels have dtype {labels.dtype.name} but logits have "
            f"{logits.dtype.name}"
        )
    return labels, logits


def softmax_cross_entropy_with_logits_v2(labels=None, logits=None, axis=None, name=None, dim=None):
    """Per-example -sum(labels * log_softmax(logits)); gradients flow to labels as well.

    As in TF 1.15, labels and logits may be given positionally here (only v1 forbids it)."""
    _named_only("softmax_cross_entropy_with_logits_v2", None, labels, logits)
    labels, logits = _pair(labels, logits, "softmax_cross_entropy_with_logits_v2")
    return make_op(
        "softmax_cross_entropy_with_logits",
        [labels, logits],
        name=name or "softmax_cross_entropy_with_logits",
        axis=_axis(axis, dim),
    )


def softmax_cross_entropy_with_logits(
    _sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None
):
    """TF1's deprecated v1 loss: like v2, but no gradient flows into labels (TF stops it)."""
    _named_only("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    labels, logits = _pair(labels, logits, "softmax_cross_entropy_with_logits")
    labels = math_ops.stop_gradient(labels)
    return make_op(
        "softmax_cross_entropy_with_logits",
        [labels, logits],
        name=name or "softmax_cross_entropy_with_logits",
        axis=_axis(axis, None if axis is not None else dim),
    )


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Per-example -log_softmax(logits)[labels]; labels are int32/int64 class indices."""
    fn_name = "sparse_softmax_cross_entropy_with_logits"
    _named_only(fn_name, _sentinel, labels, logits)
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise ValueError(
            f"`{fn_name}`: labels must be int32 or int64 class indices but have dtype "
            f"{labels.dtype.name}"
        )
    with labels.graph.control_dependencies(_same_examples_checks(labels, logits)):
        return make_op(
            "sparse_softmax_cross_entropy_with_logits",
            [labels, logits],
            name=name or "SparseSoftmaxCrossEntropyWithLogits",
        )


def _same_examples_checks(labels, logits) -> list:
    """TF's run-time check that labels has logits' shape without the class axis, where a dim of
    either is known only then (the op's shape rule checked known ones): a [1] of labels would
    broadcast over the examples instead of failing as TF's kernel does."""
    ranks_known = labels.spec.rank is not None and logits.spec.rank is not None
    if ranks_known and None not in labels.spec.shape + logits.spec.shape[:-1]:
        return []
    from tgc.frontend.array_ops import shape

    examples = shape(logits)[:-1]
    same = math_ops.reduce_all(math_ops.equal(shape(labels), examples))
    text = (
        "logits and labels must have the same first dimension, got logits shape and labels shape:"
    )
    return [assert_op(same, [text, shape(logits), shape(labels)])]


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Elementwise logistic loss, computed as max(x, 0) - x * z + log(1 + exp(-|x|))."""
    fn_name = "sigmoid_cross_entropy_with_logits"
    _named_only(fn_name, _sentinel, labels, logits)
    labels, logits = _pair(labels, logits, fn_name)
    return make_op(
        "sigmoid_cross_entropy_with_logits", [labels, logits], name=name or "logistic_loss"
    )


def l2_loss(t, name=None):
    """sum(t ** 2) / 2."""
    return make_op("l2_loss", [convert_to_tensor(t)], name=name or "L2Loss")


def bias_add(value, bias, data_format=None, name=None):
    """value + bias, bias a vector added along the channel axis (last, or 1 for NC... formats)."""
    value = convert_to_tensor(value)
    bias = _like(bias, value)
    shape = value.shape.as_list() if value.shape.ndims is not None else None
    if bias.shape.ndims != 1:
        raise ValueError(f"bias_add: bias must be a vector but has shape {bias.shape.as_list()}")
    if shape is not None and len(shape) < 2:
        raise ValueError(f"bias_add: value must have rank >= 2 but has shape {shape}")
    channels_first = data_format is not None and data_format.startswith("NC")
    if channels_first:
        if shape is None:
            raise ValueError(f"bias_add with data_format={data_format} needs value of known rank")
        channel = shape[1] if shape is not None else None
        bias = make_op("reshape", [bias], shape=[-1] + [1] * (len(shape) - 2))
    else:
        channel = shape[-1] if shape is not None else None
    size = bias.shape.as_list()[0]
    if channel is not None and size is not None and channel != size:
        raise ValueError(
            f"bias_add: bias of shape [{size}] does not match the channel dim {channel} of value "
            f"shape {shape}"
        )
    return math_ops.add(value, bias, name=name or "BiasAdd")


def xw_plus_b(x, weights, biases, name=None):
    """matmul(x, weights) + biases."""
    return bias_add(math_ops.matmul(x, weights), biases, name=name or "xw_plus_b")


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """(mean, variance) of x over ``axes``; the variance is taken around the gradient-stopped mean,
    as TF."""
    x = convert_to_tensor(x)
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes]
    y = math_ops.cast(x, "float32") if x.dtype.name == "float16" else x
    mean = math_ops.reduce_mean(y, axes, keepdims=True)
    variance = math_ops.reduce_mean(
        math_ops.squared_difference(y, math_ops.stop_gradient(mean)), axes, keepdims=True
    )
    if not keep:
        mean = make_op("squeeze", [mean], axes=axes)
        variance = make_op("squeeze", [variance], axes=axes)
    if y is not x:
        mean, variance = math_ops.cast(mean, x.dtype), math_ops.cast(variance, x.dtype)
    prefix = name or "moments"
    return math_ops.identity(mean, name=f"{prefix}/mean"), math_ops.identity(
        variance, name=f"{prefix}/variance"
    )


_EPSILON = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


def softplus(features, name=None):
    """log(exp(x) + 1) by TF's kernel: x above -t, exp(x) below t, log1p(exp(x)) between
    (t = log(eps) + 2).

    log1p has no op; it is Kahan's log(u) * y / (u - 1) with u = 1 + y, accurate to float rounding.
    Its correction to log(u) is kept out of the gradient, which is then exp(x) / (1 + exp(x)), TF's
    sigmoid."""
    x = convert_to_tensor(features)
    threshold = math.log(_EPSILON[x.dtype.name]) + 2.0
    big, small = math_ops.greater(x, -threshold), math_ops.less(x, threshold)
    e = math_ops.exp(x)
    # Outside the middle range y = 1, so u - 1 is never 0 where the branch is computed but not
    # taken.
    y = math_ops.where(math_ops.logical_or(big, small), make_op("fill_like", [x], value=1.0), e)
    u = 1.0 + y
    log_u = math_ops.log(u)
    middle = log_u + math_ops.stop_gradient(log_u * (y / (u - 1.0)) - log_u)
    return math_ops.where(big, x, math_ops.where(small, e, middle), name=name or "Softplus")


def leaky_relu(features, alpha=0.2, name=None):
    """max(alpha * features, features), as TF 1.15 computes it."""
    x = convert_to_tensor(features)
    return math_ops.maximum(alpha * x, x, name=name or "LeakyRelu")


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon))."""
    x = convert_to_tensor(x)
    chosen = axis if axis is not None else dim
    square_sum = math_ops.reduce_sum(math_ops.square(x), chosen, keepdims=True)
    return math_ops.multiply(
        x, math_ops.rsqrt(math_ops.maximum(square_sum, epsilon)), name=name or "l2_normalize"
    )


# Convolution, pooling and dropout live with their op families; tgc.nn gathers them as tf.nn does.
from tgc.frontend.conv_ops import (  # noqa: E402,F401
    avg_pool,
    avg_pool2d,
    conv2d,
    conv2d_backprop_filter,
    conv2d_backprop_input,
    max_pool,
    max_pool2d,
)
from tgc.frontend.random_ops import dropout  # noqa: E402,F401
from tgc.frontend.gather_ops import embedding_lookup  # noqa: E402,F401

# Recurrent networks: the cells in tgc/frontend/rnn_cell.py, the loops over time in rnn.py.
from tgc.frontend import rnn_cell  # noqa: E402,F401
from tgc.frontend.rnn import (  # noqa: E402,F401
    bidirectional_dynamic_rnn,
    dynamic_rnn,
    static_bidirectional_rnn,
    static_rnn,
)
