"""`tgc.contrib`: the parts of TF1's ``tf.contrib.layers`` that lecture code uses.

``tgc.contrib.layers`` holds xavier_initializer and contrib's own variance_scaling_initializer (its
formula differs from the core one: fans multiply by the kernel's spatial dims and the truncated
normal's stddev is sqrt(1.3 * factor / n)), the l1/l2 regularizers that tf.layers accept as
``kernel_regularizer``, flatten, and fully_connected (variables ``fully_connected/weights`` and
``.../biases``, relu by default). Everything is built on tgc.frontend.layers and the core
initializers; no op of its own.
"""

from __future__ import annotations

import math
import numbers
import types

from tgc.dialect.types import as_dtype
from tgc.frontend import layers as core_layers
from tgc.frontend import math_ops, nn, random_ops, rnn_cell
from tgc.frontend.rnn import static_bidirectional_rnn, static_rnn
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.cluster import GreedyLoadBalancingStrategy, byte_size_load_fn
from tgc.graph.graph import get_default_graph
from tgc.frontend.initializers import Initializer, zeros_initializer

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


def flatten(inputs, outputs_collections=None, scope=None):
    """[batch, ...] -> [batch, k] (`tf.contrib.layers.flatten`)."""
    with get_default_graph().name_scope(scope or "Flatten"):
        out = core_layers.flatten_tensor(convert_to_tensor(inputs), "flatten")
    _collect(outputs_collections, out)
    return out


def _collect(collections, value):
    for key in collections or []:
        get_default_graph().add_to_collection(key, value)


class _FullyConnected(core_layers.Dense):
    """Dense whose variables are weights and biases (also in model_variables), then normalizer and
    activation."""

    _default_name = "fully_connected"

    def __init__(
        self,
        num_outputs,
        activation_fn,
        normalizer_fn,
        normalizer_params,
        variables_collections,
        **kwargs,
    ):
        super().__init__(num_outputs, activation=None, **kwargs)
        self.activation_fn, self.normalizer_fn = activation_fn, normalizer_fn
        self.normalizer_params = normalizer_params or {}
        self._extra_collections = list(variables_collections or [])

    def add_weight(self, name, shape, **kwargs):
        var = super().add_weight({"kernel": "weights", "bias": "biases"}[name], shape, **kwargs)
        graph = get_default_graph()
        for key in [MODEL_VARIABLES] + self._extra_collections:
            if all(v is not var for v in graph.get_collection_ref(key)):
                graph.add_to_collection(key, var)
        return var

    def call(self, inputs):
        outputs = super().call(inputs)
        if self.normalizer_fn is not None:
            outputs = self.normalizer_fn(outputs, **self.normalizer_params)
        return outputs if self.activation_fn is None else self.activation_fn(outputs)


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


layers = types.ModuleType(
    "tgc.contrib.layers",
    "TF1's tf.contrib.layers: initializers, regularizers, fully_connected, flatten.",
)
for _name in (
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
):
    setattr(layers, _name, globals()[_name])


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

__all__ = ["data", "layers", "rnn", "training"]
