"""`tgc.contrib`: the parts of TF1's ``tf.contrib`` that tutorial programs use.

``tgc.contrib.layers`` holds xavier_initializer and contrib's own variance_scaling_initializer (its
formula differs from the core one: fans multiply by the kernel's spatial dims and the truncated
normal's stddev is sqrt(1.3 * factor / n)), the l1/l2 regularizers that tf.layers accept as
``kernel_regularizer``, and the layers with TF1's variable names and scopes: fully_connected
(``fully_connected/weights``, ``.../biases``), conv2d (``Conv/weights``), conv2d_transpose,
max_pool2d / avg_pool2d, dropout, batch_norm (``BatchNorm/beta``, ``moving_mean``, TF 1.15's
fused-kernel statistics), layer_norm, flatten, softmax, one_hot_encoding, activation summaries,
repeat and stack; the layers take arg_scope defaults. ``framework`` (arg_scope, the variable
getters, the global step, checkpoint helpers) is tgc/frontend/contrib_framework.py, ``slim`` is
layers and framework under one name, ``seq2seq`` is tgc/frontend/seq2seq.py, ``rnn`` the cells,
``training`` the ps load balancing, ``data`` tf.data.experimental. Everything is built on
tgc.frontend.layers and core ops; no op of its own.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
import types

import numpy as np

from tgc.dialect.types import as_dtype
from tgc.frontend import layers as core_layers
from tgc.frontend import array_ops, conv_ops, math_ops, nn, random_ops, rnn_cell
from tgc.frontend import summary_ops as summary
from tgc.frontend.rnn import static_bidirectional_rnn, static_rnn
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.cluster import GreedyLoadBalancingStrategy, byte_size_load_fn
from tgc.frontend import contrib_framework as _framework
from tgc.frontend.contrib_framework import add_arg_scope
from tgc.frontend.seq2seq import module as seq2seq
from tgc.frontend.unsupported import install_unsupported_names
from tgc.graph.graph import get_default_graph
from tgc.frontend.initializers import Initializer, ones_initializer, zeros_initializer
from tgc.frontend.variables import GLOBAL_VARIABLES, get_variable, variable_scope

MODEL_VARIABLES = "model_variables"

# ---- initializers --------------------------------------------------------------------------------

_MODES = ("FAN_IN", "FAN_OUT", "FAN_AVG")


class _ContribVarianceScaling(Initializer):
    """contrib's variance scaling: uniform in +-sqrt(3 factor / n), or truncated normal of stddev
    sqrt(1.3 factor / n)."""

    def __init__(self, factor, mode, uniform, seed, dtype):
        self.factor, self.mode, self.uniform, self.seed = float(factor), mode, bool(uniform), seed
        self.dtype = as_dtype(dtype)

    def fan(self, shape) -> float:
        if shape:
            fan_in = float(shape[-2]) if len(shape) > 1 else float(shape[-1])
            fan_out = float(shape[-1])
        else:
            fan_in = fan_out = 1.0
        for d in shape[:-2]:  # conv kernels: every spatial position is a connection
            fan_in *= float(d)
            fan_out *= float(d)
        return {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}[
            self.mode
        ]

    def build(self, shape, dtype):
        n = self.fan(shape)
        if self.uniform:
            limit = math.sqrt(3.0 * self.factor / n)
            return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)
        return random_ops.truncated_normal(
            shape, 0.0, math.sqrt(1.3 * self.factor / n), dtype, seed=self.seed
        )


def variance_scaling_initializer(
    factor=2.0, mode="FAN_IN", uniform=False, seed=None, dtype="float32"
):
    """`tf.contrib.layers.variance_scaling_initializer` (defaults: He initialization)."""
    if not as_dtype(dtype).is_floating:
        raise TypeError("Cannot create initializer for non-floating point type.")
    if mode not in _MODES:
        raise TypeError(f"Unknown mode {mode} [FAN_IN, FAN_OUT, FAN_AVG]")
    return _ContribVarianceScaling(factor, mode, uniform, seed, dtype)


def xavier_initializer(uniform=True, seed=None, dtype="float32"):
    """Glorot: uniform in +-sqrt(6 / (fan_in + fan_out)), or a truncated normal of that variance."""
    return variance_scaling_initializer(
        factor=1.0, mode="FAN_AVG", uniform=uniform, seed=seed, dtype=dtype
    )


xavier_initializer_conv2d = xavier_initializer

# ---- regularizers --------------------------------------------------------------------------------


def _check_scale(scale):
    if isinstance(scale, numbers.Integral):
        raise ValueError(f"scale cannot be an integer: {scale}")
    if not isinstance(scale, numbers.Real):
        raise ValueError(f"scale must be a float but got {scale!r}")
    if scale < 0.0:
        raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale}")


def l2_regularizer(scale, scope=None):
    """weights -> scale * sum(w ** 2) / 2; scale 0 gives a regularizer that returns None (no
    loss)."""
    _check_scale(scale)
    if scale == 0.0:
        return lambda _: None

    def l2(weights):
        with get_default_graph().name_scope(scope or "l2_regularizer"):
            w = convert_to_tensor(weights)
            return math_ops.multiply(
                convert_to_tensor(scale, dtype=w.dtype), nn.l2_loss(w), name="value"
            )

    return l2


def l1_regularizer(scale, scope=None):
    """weights -> scale * sum(|w|); scale 0 gives a regularizer that returns None (no loss)."""
    _check_scale(scale)
    if scale == 0.0:
        return lambda _: None

    def l1(weights):
        with get_default_graph().name_scope(scope or "l1_regularizer"):
            w = convert_to_tensor(weights)
            return math_ops.multiply(
                convert_to_tensor(scale, dtype=w.dtype),
                math_ops.reduce_sum(math_ops.abs(w)),
                name="value",
            )

    return l1


def sum_regularizer(regularizer_list, scope=None):
    """The sum of several regularizers' losses (None when all give None)."""

    def total(weights):
        parts = [p for p in (r(weights) for r in regularizer_list) if p is not None]
        if not parts:
            return None
        with get_default_graph().name_scope(scope or "sum_regularizer"):
            return math_ops.add_n(parts)

    return total


def l1_l2_regularizer(scale_l1=1.0, scale_l2=1.0, scope=None):
    """l1_regularizer(scale_l1) + l2_regularizer(scale_l2)."""
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)], scope=scope)


def apply_regularization(regularizer, weights_list):
    """Sums regularizer(w) over weights_list and records the sum as a regularization loss."""
    if not weights_list:
        raise ValueError("No weights to regularize.")
    parts = [p for p in (regularizer(w) for w in weights_list) if p is not None]
    if not parts:
        return convert_to_tensor(0.0)
    penalty = math_ops.add_n(parts, name="get_regularization_penalty")
    get_default_graph().add_to_collection(core_layers.REGULARIZATION_LOSSES, penalty)
    return penalty


# ---- layers --------------------------------------------------------------------------------------


@add_arg_scope
def flatten(inputs, outputs_collections=None, scope=None):
    """[batch, ...] -> [batch, k] (`tf.contrib.layers.flatten`)."""
    with get_default_graph().name_scope(scope or "Flatten"):
        out = core_layers.flatten_tensor(convert_to_tensor(inputs), "flatten")
    _collect(outputs_collections, out)
    return out


def _collect(collections, value):
    for key in collections or []:
        get_default_graph().add_to_collection(key, value)


def _collections_for(variables_collections, name):
    """contrib's variables_collections: a list for every variable or a dict by variable name."""
    if isinstance(variables_collections, dict):
        found = variables_collections.get(name)
    else:
        found = variables_collections
    if found is None:
        return []
    return [found] if isinstance(found, str) else list(found)


class _ContribLayer:
    """What contrib's layers add to a tf.layers layer: variables named weights and biases (also in
    model_variables and the variables_collections), then normalizer_fn and activation_fn."""

    def __init__(
        self,
        num_outputs,
        activation_fn,
        normalizer_fn,
        normalizer_params,
        variables_collections,
        **kwargs,
    ):
        super().__init__(num_outputs, activation=None, **kwargs)  # the tf.layers layer's
        self.activation_fn, self.normalizer_fn = activation_fn, normalizer_fn
        self.normalizer_params = normalizer_params or {}
        self._variables_collections = variables_collections

    def add_weight(self, name, shape, **kwargs):
        contrib_name = {"kernel": "weights", "bias": "biases"}[name]
        var = super().add_weight(contrib_name, shape, **kwargs)
        extra = _collections_for(self._variables_collections, contrib_name)
        _add_to_collections([MODEL_VARIABLES] + extra, var)
        return var

    def call(self, inputs):
        outputs = super().call(inputs)
        if self.normalizer_fn is not None:
            outputs = self.normalizer_fn(outputs, **self.normalizer_params)
        return outputs if self.activation_fn is None else self.activation_fn(outputs)


def _add_to_collections(keys, var):
    graph = get_default_graph()
    for key in keys:
        if all(v is not var for v in graph.get_collection_ref(key)):
            graph.add_to_collection(key, var)


class _FullyConnected(_ContribLayer, core_layers.Dense):
    """Dense whose variables are weights and biases, then normalizer and activation."""

    _default_name = "fully_connected"


@add_arg_scope
def fully_connected(
    inputs,
    num_outputs,
    activation_fn=nn.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=None,
    weights_regularizer=None,
    biases_initializer=zeros_initializer(),
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
):
    """activation_fn(inputs @ weights + biases) (`tf.contrib.layers.fully_connected`).

    With a normalizer_fn there is no bias: normalizer_fn(outputs, **normalizer_params) comes before
    the activation, as in TensorFlow."""
    if not isinstance(num_outputs, numbers.Integral):
        raise ValueError(
            f"num_outputs type should be one of (int, long), got {type(num_outputs).__name__}."
        )
    layer = _FullyConnected(
        num_outputs,
        activation_fn,
        normalizer_fn,
        normalizer_params,
        variables_collections,
        use_bias=normalizer_fn is None and biases_initializer is not None,
        kernel_initializer=weights_initializer or xavier_initializer(),
        bias_initializer=biases_initializer,
        kernel_regularizer=weights_regularizer,
        bias_regularizer=biases_regularizer,
        trainable=trainable,
        name=scope,
        _reuse=reuse,
    )
    outputs = layer(inputs)
    _collect(outputs_collections, outputs)
    return outputs


class _Conv(_ContribLayer, core_layers.Conv2D):
    """Conv2D whose variables are weights and biases, then normalizer and activation."""

    _default_name = "Conv"


def _channels_last(data_format, what):
    if data_format not in (None, "NHWC", "NCHW"):
        raise ValueError(f"{what}: data_format has to be either NCHW or NHWC, got {data_format!r}")
    if data_format == "NCHW":
        raise ValueError(f"{what}: tgc supports data_format 'NHWC' only, got 'NCHW'")


@add_arg_scope
def conv2d(
    inputs,
    num_outputs,
    kernel_size,
    stride=1,
    padding="SAME",
    data_format=None,
    rate=1,
    activation_fn=nn.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=None,
    weights_regularizer=None,
    biases_initializer=zeros_initializer(),
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
):
    """activation_fn(conv(inputs, weights) + biases) over NHWC inputs (`tf.contrib.layers.conv2d`,
    variables ``Conv/weights`` and ``Conv/biases``); ``rate`` is the dilation, ``padding`` 'SAME'
    by default. With a normalizer_fn there is no bias, as in TensorFlow."""
    _channels_last(data_format, "conv2d")
    inputs = convert_to_tensor(inputs)
    if inputs.shape.ndims != 4:
        raise ValueError(
            f"conv2d: tgc's contrib conv2d takes rank-4 (NHWC) inputs; '{inputs.name}' has shape "
            f"{inputs.shape}"
        )
    layer = _Conv(
        num_outputs,
        activation_fn,
        normalizer_fn,
        normalizer_params,
        variables_collections,
        kernel_size=kernel_size,
        strides=stride,
        padding=padding,
        dilation_rate=rate,
        use_bias=normalizer_fn is None and biases_initializer is not None,
        kernel_initializer=weights_initializer or xavier_initializer(),
        bias_initializer=biases_initializer,
        kernel_regularizer=weights_regularizer,
        bias_regularizer=biases_regularizer,
        trainable=trainable,
        name=scope,
        _reuse=reuse,
    )
    outputs = layer(inputs)
    _collect(outputs_collections, outputs)
    return outputs


convolution2d = conv2d
convolution = conv2d


class _ConvTranspose(_ContribLayer, core_layers.Conv2DTranspose):
    """Conv2DTranspose whose variables are weights and biases, then normalizer and activation."""

    _default_name = "Conv2d_transpose"


@add_arg_scope
def conv2d_transpose(
    inputs,
    num_outputs,
    kernel_size,
    stride=1,
    padding="SAME",
    data_format="NHWC",
    activation_fn=nn.relu,
    normalizer_fn=None,
    normalizer_params=None,
    weights_initializer=None,
    weights_regularizer=None,
    biases_initializer=zeros_initializer(),
    biases_regularizer=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    scope=None,
):
    """`tf.contrib.layers.conv2d_transpose`: the transpose of conv2d over NHWC inputs (variables
    ``Conv2d_transpose/weights``, [kh, kw, num_outputs, in], and ``.../biases``); the output is
    ``stride`` times larger ('SAME')."""
    _channels_last(data_format, "conv2d_transpose")
    layer = _ConvTranspose(
        num_outputs,
        activation_fn,
        normalizer_fn,
        normalizer_params,
        variables_collections,
        kernel_size=kernel_size,
        strides=stride,
        padding=padding,
        use_bias=normalizer_fn is None and biases_initializer is not None,
        kernel_initializer=weights_initializer or xavier_initializer(),
        bias_initializer=biases_initializer,
        kernel_regularizer=weights_regularizer,
        bias_regularizer=biases_regularizer,
        trainable=trainable,
        name=scope,
        _reuse=reuse,
    )
    outputs = layer(inputs)
    _collect(outputs_collections, outputs)
    return outputs


convolution2d_transpose = conv2d_transpose


def _pool(pool, default_scope, inputs, kernel_size, stride, padding, data_format, scope):
    _channels_last(data_format, default_scope)
    inputs = convert_to_tensor(inputs)
    if inputs.shape.ndims != 4:
        raise ValueError(
            f"{default_scope}: inputs must have rank 4 (NHWC); '{inputs.name}' has shape "
            f"{inputs.shape}"
        )
    with get_default_graph().name_scope(scope or default_scope):
        return pool(
            inputs,
            ksize=core_layers._pair(kernel_size, "kernel_size", default_scope),
            strides=core_layers._pair(stride, "stride", default_scope),
            padding=core_layers._padding(padding, default_scope),
        )


@add_arg_scope
def max_pool2d(
    inputs,
    kernel_size,
    stride=2,
    padding="VALID",
    data_format="NHWC",
    outputs_collections=None,
    scope=None,
):
    """Max over kernel_size windows (`tf.contrib.layers.max_pool2d`: stride 2, 'VALID')."""
    outputs = _pool(
        conv_ops.max_pool, "MaxPool2D", inputs, kernel_size, stride, padding, data_format, scope
    )
    _collect(outputs_collections, outputs)
    return outputs


@add_arg_scope
def avg_pool2d(
    inputs,
    kernel_size,
    stride=2,
    padding="VALID",
    data_format="NHWC",
    outputs_collections=None,
    scope=None,
):
    """Mean over kernel_size windows (`tf.contrib.layers.avg_pool2d`: stride 2, 'VALID')."""
    outputs = _pool(
        conv_ops.avg_pool, "AvgPool2D", inputs, kernel_size, stride, padding, data_format, scope
    )
    _collect(outputs_collections, outputs)
    return outputs


def _bool_flag(flag):
    """A Python bool, or a scalar bool tensor (a fed placeholder) read at run time."""
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    return core_layers._scalar_flag(flag)


@add_arg_scope
def dropout(
    inputs,
    keep_prob=0.5,
    noise_shape=None,
    is_training=True,
    outputs_collections=None,
    scope=None,
    seed=None,
):
    """`tf.contrib.layers.dropout`: keeps each element with probability keep_prob (scaled by
    1 / keep_prob) when is_training, the identity otherwise; is_training may be a bool tensor."""
    with variable_scope(scope, default_name="Dropout"):
        inputs = convert_to_tensor(inputs)
        training = _bool_flag(is_training)
        if training is False:
            outputs = math_ops.identity(inputs, name="Identity")
        else:
            keep = convert_to_tensor(keep_prob, dtype=inputs.dtype)
            if training is not True:  # at run time: keep everything when not training
                keep = math_ops.where(training, keep, convert_to_tensor(1.0, dtype=inputs.dtype))
            outputs = random_ops.dropout(inputs, keep_prob=keep, noise_shape=noise_shape, seed=seed)
    _collect(outputs_collections, outputs)
    return outputs


# ---- batch_norm ----------------------------------------------------------------------------------

_BATCH_NORM_DEFAULT_INITIALIZERS = {
    "beta": zeros_initializer(),
    "gamma": ones_initializer(),
    "moving_mean": zeros_initializer(),
    "moving_variance": ones_initializer(),
}
_FUSED_MIN_EPSILON = 1.001e-5  # TF's fused kernel raises smaller epsilons to this


def _refuse_batch_norm_options(batch_weights, zero_debias_moving_mean, renorm, adjustment):
    for option, value in (
        ("batch_weights", batch_weights is not None),
        ("zero_debias_moving_mean", zero_debias_moving_mean),
        ("renorm", renorm),
        ("adjustment", adjustment is not None),
    ):
        if value:
            raise ValueError(f"batch_norm: {option} is not supported by tgc")


def _batch_norm_variable(name, channels, dtype, trainable, initializers, collections):
    """A model variable of batch_norm (beta, gamma, moving_mean, moving_variance)."""
    initializer = (initializers or {}).get(name, _BATCH_NORM_DEFAULT_INITIALIZERS[name])
    var = get_variable(
        name,
        shape=[channels],
        dtype=dtype,
        initializer=initializer,
        trainable=trainable,
        collections=[GLOBAL_VARIABLES, MODEL_VARIABLES] + _collections_for(collections, name),
    )
    return var


def _regularize(var, regularizer):
    if regularizer is None:
        return
    with get_default_graph().name_scope(f"{var.op.name}/Regularizer/"):
        loss = regularizer(var.value())
    if loss is not None:
        get_default_graph().add_to_collection(core_layers.REGULARIZATION_LOSSES, loss)


def _moments(inputs, axis):
    """Per-channel batch mean and biased variance over every axis but ``axis``."""
    axes = [i for i in range(inputs.shape.ndims) if i != axis]
    with get_default_graph().name_scope("moments"):
        mean = math_ops.reduce_mean(inputs, axis=axes, keepdims=True)
        variance = math_ops.reduce_mean(math_ops.square(math_ops.subtract(inputs, mean)), axis=axes)
        return array_ops.reshape(mean, [-1]), variance


def _bessel(inputs, variance, axis):
    """variance * n / max(n - 1, 1), n the elements per channel: the batch variance TF's fused
    kernel returns in training, which its moving variance averages."""
    n = math_ops.divide(
        math_ops.cast(array_ops.size(inputs), inputs.dtype), float(inputs.shape[axis].value)
    )
    return math_ops.multiply(
        variance, math_ops.divide(n, math_ops.maximum(math_ops.subtract(n, 1.0), 1.0))
    )


def _as_channel(value, axis, rank):
    if axis == rank - 1:
        return value
    shape = [1] * rank
    shape[axis] = -1
    return array_ops.reshape(value, shape)


def _moving_average_updates(moving, stats, decay):
    """moving -= (moving - stat) * (1 - decay), as assign_moving_average without zero debias."""
    updates = []
    for var, stat in zip(moving, stats):
        with get_default_graph().name_scope(f"AssignMovingAvg{'_1' if updates else ''}"):
            complement = math_ops.subtract(convert_to_tensor(1.0, dtype=var.dtype), decay)
            updates.append(
                var.assign_sub(math_ops.multiply(math_ops.subtract(var.value(), stat), complement))
            )
    return updates


@add_arg_scope
def batch_norm(
    inputs,
    decay=0.999,
    center=True,
    scale=False,
    epsilon=0.001,
    activation_fn=None,
    param_initializers=None,
    param_regularizers=None,
    updates_collections=core_layers.UPDATE_OPS,
    is_training=True,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    batch_weights=None,
    fused=None,
    data_format="NHWC",
    zero_debias_moving_mean=False,
    scope=None,
    renorm=False,
    renorm_clipping=None,
    renorm_decay=0.99,
    adjustment=None,
):
    """`tf.contrib.layers.batch_norm`: (x - mean) / sqrt(var + epsilon) * gamma + beta per channel.

    Variables ``BatchNorm/beta`` (center), ``BatchNorm/gamma`` (scale: off by default, as in TF),
    ``BatchNorm/moving_mean`` and ``BatchNorm/moving_variance``. Training uses the batch's
    statistics and updates the moving ones by ``decay``: the updates go to updates_collections
    (run them with the train op), or with ``updates_collections=None`` run with the output.
    is_training may be a bool tensor (a fed placeholder). As TF's fused kernel (the default for
    rank 2 and 4), the moving variance averages the Bessel-corrected batch variance and epsilon
    is at least 1.001e-5; other ranks and ``fused=False`` use the biased variance.
    """
    _refuse_batch_norm_options(batch_weights, zero_debias_moving_mean, renorm, adjustment)
    inputs, axis, channels = _batch_norm_input(inputs, data_format)
    fused_kernel = (fused is None or fused) and inputs.shape.ndims in (2, 4)
    if fused_kernel:
        epsilon = max(epsilon, _FUSED_MIN_EPSILON)
    training = _bool_flag(is_training)
    with variable_scope(scope, default_name="BatchNorm", reuse=reuse):
        params = _batch_norm_params(
            channels,
            inputs.dtype,
            {"beta": center, "gamma": scale},
            trainable,
            param_initializers,
            param_regularizers,
            variables_collections,
        )
        mean, variance, updates = _batch_statistics(
            inputs, axis, training, params, decay, fused_kernel
        )
        outputs = _batch_normalize(inputs, axis, mean, variance, epsilon, params)
        outputs = _route_updates(outputs, updates, updates_collections)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
    _collect(outputs_collections, outputs)
    return outputs


def _batch_norm_input(inputs, data_format):
    """The input tensor, its channel axis and its (known) number of channels."""
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(
            f"batch_norm: data_format has to be either NCHW or NHWC, got {data_format}"
        )
    inputs = convert_to_tensor(inputs)
    rank = inputs.shape.ndims
    if rank is None:
        raise ValueError(f"Inputs {inputs.name} has undefined rank.")
    axis = 1 if data_format == "NCHW" else rank - 1
    channels = inputs.shape[axis].value
    if channels is None:
        raise ValueError(f"Inputs {inputs.name} has undefined channels dimension {inputs.shape}.")
    return inputs, axis, channels


def _batch_norm_params(channels, dtype, wanted, trainable, initializers, regularizers, collections):
    """beta and gamma (when wanted; trainable, regularized) and the two moving statistics, in
    TF's order of creation."""
    params = {}
    for name in ("beta", "gamma"):
        if wanted[name]:
            params[name] = _batch_norm_variable(
                name, channels, dtype, trainable, initializers, collections
            )
            _regularize(params[name], (regularizers or {}).get(name))
    for name in ("moving_mean", "moving_variance"):
        params[name] = _batch_norm_variable(name, channels, dtype, False, initializers, collections)
    return params


def _batch_statistics(inputs, axis, training, params, decay, fused_kernel):
    """The mean and variance to normalize with, and the moving-average updates (none when not
    training). A bool-tensor ``training`` picks batch or moving statistics at run time and makes
    the updates no-ops (decay 1) when false."""
    moving_mean, moving_variance = params["moving_mean"].value(), params["moving_variance"].value()
    if training is False:
        return moving_mean, moving_variance, []
    mean, variance = _moments(inputs, axis)
    stat_for_update = _bessel(inputs, variance, axis) if fused_kernel else variance
    decay = convert_to_tensor(decay, dtype=inputs.dtype)
    if training is not True:
        mean = math_ops.where(training, mean, moving_mean)
        variance = math_ops.where(training, variance, moving_variance)
        stat_for_update = math_ops.where(training, stat_for_update, moving_variance)
        decay = math_ops.where(training, decay, convert_to_tensor(1.0, dtype=inputs.dtype))
    updates = _moving_average_updates(
        (params["moving_mean"], params["moving_variance"]), (mean, stat_for_update), decay
    )
    return mean, variance, updates


def _batch_normalize(inputs, axis, mean, variance, epsilon, params):
    """(x - mean) * rsqrt(variance + eps) * gamma + beta, as x * inv + (beta - mean * inv)."""
    rank = inputs.shape.ndims
    inv = math_ops.rsqrt(math_ops.add(variance, epsilon))
    if "gamma" in params:
        inv = math_ops.multiply(inv, params["gamma"].value())
    shift = math_ops.negative(math_ops.multiply(mean, inv))
    if "beta" in params:
        shift = math_ops.add(shift, params["beta"].value())
    return math_ops.add(
        math_ops.multiply(inputs, _as_channel(inv, axis, rank)),
        _as_channel(shift, axis, rank),
        name="batchnorm",
    )


def _route_updates(outputs, updates, updates_collections):
    """updates_collections None: the output waits for the updates (they run with it); else the
    updates join those collections, for the program to run with its train op."""
    if not updates:
        return outputs
    if updates_collections is None:
        with get_default_graph().control_dependencies(updates):
            return math_ops.identity(outputs)
    for key in _collections_for(updates_collections, None):
        for update in updates:
            get_default_graph().add_to_collection(key, update)
    return outputs


# ---- layer_norm, softmax, one_hot_encoding ------------------------------------------------------


@add_arg_scope
def layer_norm(
    inputs,
    center=True,
    scale=True,
    activation_fn=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    begin_norm_axis=1,
    begin_params_axis=-1,
    scope=None,
):
    """`tf.contrib.layers.layer_norm`: each example normalized over the axes from
    begin_norm_axis on (mean and variance of its own values, epsilon 1e-12), then
    ``* LayerNorm/gamma + LayerNorm/beta``, of shape ``inputs.shape[begin_params_axis:]``."""
    inputs = convert_to_tensor(inputs)
    rank = inputs.shape.ndims
    if rank is None:
        raise ValueError(f"Inputs {inputs.name} has undefined rank.")
    if begin_norm_axis < 0:
        begin_norm_axis += rank
    if begin_params_axis >= rank or begin_norm_axis >= rank:
        raise ValueError(
            f"begin_params_axis ({begin_params_axis}) and begin_norm_axis ({begin_norm_axis}) "
            f"must be < rank(inputs) ({rank})"
        )
    params_shape = inputs.shape[begin_params_axis:]
    if not params_shape.is_fully_defined():
        raise ValueError(
            f"Inputs {inputs.name}: shape(inputs)[{begin_params_axis}:] is not fully defined: "
            f"{inputs.shape}"
        )
    with variable_scope(scope, default_name="LayerNorm", reuse=reuse):
        params = {}
        for name, wanted, init in (
            ("beta", center, zeros_initializer()),
            ("gamma", scale, ones_initializer()),
        ):
            if wanted:
                params[name] = get_variable(
                    name,
                    shape=params_shape.as_list(),
                    dtype=inputs.dtype,
                    initializer=init,
                    trainable=trainable,
                    collections=[GLOBAL_VARIABLES, MODEL_VARIABLES]
                    + _collections_for(variables_collections, name),
                ).value()
        mean, variance = nn.moments(inputs, list(range(begin_norm_axis, rank)), keep_dims=True)
        epsilon = 1e-3 if inputs.dtype.name == "float16" else 1e-12
        outputs = nn.batch_normalization(
            inputs, mean, variance, params.get("beta"), params.get("gamma"), epsilon
        )
        if activation_fn is not None:
            outputs = activation_fn(outputs)
    _collect(outputs_collections, outputs)
    return outputs


def softmax(logits, scope=None):
    """Softmax over the last dimension of a tensor of rank 2 or more (`contrib.layers.softmax`)."""
    logits = convert_to_tensor(logits)
    if logits.shape.ndims is None or logits.shape.ndims < 2:
        raise ValueError(f"softmax: rank of '{logits.name}' must be at least 2: {logits.shape}")
    if logits.shape[-1].value is None:
        raise ValueError(f"softmax: the last dimension of '{logits.name}' must be known")
    with variable_scope(scope, default_name="softmax"):
        return nn.softmax(logits)


@add_arg_scope
def one_hot_encoding(
    labels, num_classes, on_value=1.0, off_value=0.0, outputs_collections=None, scope=None
):
    """float32 one-hot rows of ``num_classes`` for integer labels."""
    with get_default_graph().name_scope(scope or "OneHotEncoding"):
        outputs = array_ops.one_hot(
            convert_to_tensor(labels), num_classes, on_value=on_value, off_value=off_value
        )
    _collect(outputs_collections, outputs)
    return outputs


# ---- summaries and composition -------------------------------------------------------------------


def summarize_activation(op):
    """A histogram ``<op name>/activation`` of ``op``; for Relu, Relu6 and Softplus also the
    fraction of inputs below 0 (``<name>/zeros``), for Relu6 the fraction above 6 (``/sixes``)."""
    name = op.op.name
    if op.op.type in ("Relu", "Softplus", "Relu6"):
        x = op.op.inputs[0]
        below = math_ops.less(x, convert_to_tensor(0.0, dtype=x.dtype))
        summary.scalar(f"{name}/zeros", math_ops.reduce_mean(math_ops.cast(below, "float32")))
    if op.op.type == "Relu6":
        x = op.op.inputs[0]
        above = math_ops.greater(x, convert_to_tensor(6.0, dtype=x.dtype))
        summary.scalar(f"{name}/sixes", math_ops.reduce_mean(math_ops.cast(above, "float32")))
    return summary.histogram(f"{name}/activation", op)


ACTIVATIONS = "activations"


def summarize_activations(name_filter=None, summarizer=summarize_activation):
    """summarizer(a) for each tensor of the "activations" collection whose name matches
    name_filter (from its start)."""
    found = get_default_graph().get_collection(ACTIVATIONS)
    if name_filter is not None:
        found = [t for t in found if re.match(name_filter, t.name)]
    return [summarizer(t) for t in found]


def summarize_tensor(tensor, tag=None):
    """A scalar summary of a scalar tensor, else a histogram, tagged by its op's name."""
    tag = tag or tensor.op.name
    if tensor.shape.ndims == 0:
        return summary.scalar(tag, tensor)
    return summary.histogram(tag, tensor)


def _layer_name(layer, fallback):
    if hasattr(layer, "__name__"):
        return layer.__name__
    if hasattr(layer, "func"):
        return layer.func.__name__
    return fallback


@add_arg_scope
def repeat(inputs, repetitions, layer, *args, **kwargs):
    """layer applied ``repetitions`` times, scopes ``<scope>/<scope>_1``, ``_2``, ...
    (`slim.repeat`)."""
    scope = kwargs.pop("scope", None)
    with variable_scope(scope, default_name="Repeat"):
        outputs = convert_to_tensor(inputs)
        scope = scope or _layer_name(layer, "repeat")
        for i in range(repetitions):
            outputs = layer(outputs, *args, scope=f"{scope}_{i + 1}", **kwargs)
    return outputs


@add_arg_scope
def stack(inputs, layer, stack_args, **kwargs):
    """layer applied once per entry of stack_args (its extra positional arguments), scopes
    ``<scope>/<scope>_1``, ... (`slim.stack`)."""
    scope = kwargs.pop("scope", None)
    if not isinstance(stack_args, (list, tuple)):
        raise ValueError("stack_args need to be a list or tuple")
    with variable_scope(scope, default_name="Stack"):
        outputs = convert_to_tensor(inputs)
        scope = scope or _layer_name(layer, "stack")
        for i, layer_args in enumerate(stack_args):
            if not isinstance(layer_args, (list, tuple)):
                layer_args = [layer_args]
            outputs = layer(outputs, *layer_args, scope=f"{scope}_{i + 1}", **kwargs)
    return outputs


_LAYER_NAMES = (
    "xavier_initializer",
    "xavier_initializer_conv2d",
    "variance_scaling_initializer",
    "l1_regularizer",
    "l2_regularizer",
    "l1_l2_regularizer",
    "sum_regularizer",
    "apply_regularization",
    "flatten",
    "fully_connected",
    "conv2d",
    "convolution2d",
    "convolution",
    "conv2d_transpose",
    "convolution2d_transpose",
    "layer_norm",
    "softmax",
    "one_hot_encoding",
    "max_pool2d",
    "avg_pool2d",
    "dropout",
    "batch_norm",
    "summarize_activation",
    "summarize_activations",
    "summarize_tensor",
    "repeat",
    "stack",
)
layers = types.ModuleType(
    "tgc.contrib.layers",
    "TF1's tf.contrib.layers: initializers, regularizers, fully_connected, conv2d, pooling, "
    "dropout, batch_norm, activation summaries, repeat and stack.",
)
for _name in _LAYER_NAMES:
    setattr(layers, _name, globals()[_name])

_FRAMEWORK_NAMES = (
    "arg_scope",
    "add_arg_scope",
    "has_arg_scope",
    "arg_scoped_arguments",
    "current_arg_scope",
    "get_variables",
    "get_model_variables",
    "get_trainable_variables",
    "get_local_variables",
    "get_variables_by_name",
    "get_variables_by_suffix",
    "get_unique_variable",
    "get_variables_to_restore",
    "variable",
    "model_variable",
    "local_variable",
    "global_variable",
    "list_variables",
    "load_variable",
    "assign_from_checkpoint_fn",
    "get_global_step",
    "get_or_create_global_step",
    "create_global_step",
    "assert_global_step",
)
framework = types.ModuleType(
    "tgc.contrib.framework",
    "TF1's tf.contrib.framework: arg_scope, the variable getters and the global step.",
)
for _name in _FRAMEWORK_NAMES:
    setattr(framework, _name, getattr(_framework, _name))

# TF1's tf.contrib.slim: the layers and framework functions above under slim's names.
slim = types.ModuleType(
    "tgc.contrib.slim", "TF1's tf.contrib.slim: contrib.layers and contrib.framework in one."
)
for _name in _LAYER_NAMES:
    setattr(slim, _name, globals()[_name])
for _name in _FRAMEWORK_NAMES:
    setattr(slim, _name, getattr(_framework, _name))
slim.layers = layers
slim.framework = framework

# tf.contrib.training: the ps strategy of replica_device_setter that balances bytes.
training = types.ModuleType(
    "tgc.contrib.training",
    "TF1's tf.contrib.training: GreedyLoadBalancingStrategy and byte_size_load_fn.",
)
training.GreedyLoadBalancingStrategy = GreedyLoadBalancingStrategy
training.byte_size_load_fn = byte_size_load_fn

# tf.contrib.rnn: the cells of tf.nn.rnn_cell, with contrib's static_rnn and bidirectional RNNs.
rnn = types.ModuleType("tgc.contrib.rnn", "TF1's tf.contrib.rnn: the RNN cells and static RNNs.")
for _name in dir(rnn_cell):
    _value = getattr(rnn_cell, _name)
    if isinstance(_value, type) and _value.__module__ == rnn_cell.__name__ and _name[0] != "_":
        setattr(rnn, _name, _value)
rnn.static_rnn = static_rnn
rnn.static_bidirectional_rnn = static_bidirectional_rnn

# TF 1.x's tf.contrib.data (map_and_batch, shuffle_and_repeat, ...) is tf.data.experimental.
from tgc.frontend.data import experimental as data  # noqa: E402

__all__ = ["data", "framework", "layers", "rnn", "seq2seq", "slim", "training"]

# `import tensorflow.contrib.slim as slim`, `from tensorflow.contrib.framework import arg_scope`.
for _name in ("framework", "seq2seq", "slim"):
    sys.modules.setdefault(f"tgc.contrib.{_name}", globals()[_name])
    # names they lack say "tgc does not support tf.contrib.slim.X yet", still an AttributeError
    install_unsupported_names(globals()[_name], f"tf.contrib.{_name}")
