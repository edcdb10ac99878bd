"""TF1 initializers: callables ``init(shape, dtype=None, partition_info=None) -> Tensor``.

``get_variable`` (tgc/frontend/variables.py) calls them to build a variable's initial value; the
random ones draw through ``random_ops`` with their own seed, so a graph seed plus an initializer
seed reproduce a variable's initial value in a fresh graph. Formulas are TensorFlow's, including
``variance_scaling``'s 0.8796 correction that gives truncated normals the requested variance.
"""

from __future__ import annotations

import abc
import math

import numpy as np

from tgc.dialect.types import as_dtype
from tgc.frontend import random_ops
from tgc.frontend.build import constant

# stddev of a standard normal truncated to (-2, 2): scaling by its inverse restores unit variance.
_TRUNCATED_STDDEV = 0.87962566103423978


class Initializer(abc.ABC):
    """Base of all initializers: ``dtype`` is the default when the call gives none."""

    dtype = as_dtype("float32")

    def __call__(self, shape, dtype=None, partition_info=None):
        return self.build(random_ops.static_shape(shape), as_dtype(dtype or self.dtype))

    @abc.abstractmethod
    def build(self, shape: list, dtype):
        """The initial value as a Tensor of ``shape`` (a list of ints) and ``dtype``."""


class Constant(Initializer):
    """Fills with ``value``: a scalar, or values whose count matches the shape
    (`tf.constant_initializer`)."""

    def __init__(self, value=0, dtype="float32", verify_shape=False):
        self.value = value
        self.dtype = as_dtype(dtype)
        self.verify_shape = verify_shape

    def build(self, shape, dtype):
        array = np.asarray(self.value)
        if array.size != 1 and array.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(
                f"constant_initializer has {array.size} values but the shape {shape} needs "
                f"{int(np.prod(shape))}"
            )
        if self.verify_shape and array.size != 1 and list(array.shape) != list(shape):
            raise TypeError(
                f"expected shape {list(shape)} for the constant value but got {list(array.shape)}"
            )
        return constant(array, dtype=dtype, shape=shape)


class Zeros(Constant):
    """All zeros (`tf.zeros_initializer`)."""

    def __init__(self, dtype="float32"):
        super().__init__(0, dtype)


class Ones(Constant):
    """All ones (`tf.ones_initializer`)."""

    def __init__(self, dtype="float32"):
        super().__init__(1, dtype)


class RandomNormal(Initializer):
    """Normal values (`tf.random_normal_initializer`)."""

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype="float32"):
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, as_dtype(dtype)

    def build(self, shape, dtype):
        return random_ops.random_normal(shape, self.mean, self.stddev, dtype, seed=self.seed)


class RandomUniform(Initializer):
    """Uniform values in [minval, maxval) (`tf.random_uniform_initializer`)."""

    def __init__(self, minval=0, maxval=None, seed=None, dtype="float32"):
        self.minval, self.maxval, self.seed, self.dtype = minval, maxval, seed, as_dtype(dtype)

    def build(self, shape, dtype):
        return random_ops.random_uniform(shape, self.minval, self.maxval, dtype, seed=self.seed)


class TruncatedNormal(Initializer):
    """Normal values within two stddev (`tf.truncated_normal_initializer`)."""

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype="float32"):
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, as_dtype(dtype)

    def build(self, shape, dtype):
        return random_ops.truncated_normal(shape, self.mean, self.stddev, dtype, seed=self.seed)


def compute_fans(shape) -> tuple:
    """(fan_in, fan_out) as TF computes them: conv kernels multiply by the receptive field size."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("normal", "uniform", "truncated_normal", "untruncated_normal")


class VarianceScaling(Initializer):
    """Values with variance scale / fan (`tf.variance_scaling_initializer`).

    ``distribution`` "normal" is TF1's old name for "truncated_normal".
    """

    def __init__(
        self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, dtype="float32"
    ):
        if scale <= 0.0:
            raise ValueError(f"`scale` must be a positive float, got {scale}")
        if mode not in _MODES:
            raise ValueError(f"invalid `mode` argument {mode!r}; expected one of {_MODES}")
        if distribution.lower() not in _DISTRIBUTIONS:
            raise ValueError(
                f"invalid `distribution` argument {distribution!r}; expected one of "
                f"{_DISTRIBUTIONS}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution.lower()
        self.seed, self.dtype = seed, as_dtype(dtype)

    def variance(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, fan)

    def build(self, shape, dtype):
        variance = self.variance(shape)
        if self.distribution in ("normal", "truncated_normal"):
            stddev = math.sqrt(variance) / _TRUNCATED_STDDEV
            return random_ops.truncated_normal(shape, 0.0, stddev, dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(variance), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * variance)
        return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)


class GlorotUniform(VarianceScaling):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)) (`tf.glorot_uniform_initializer`)."""

    def __init__(self, seed=None, dtype="float32"):
        super().__init__(1.0, "fan_avg", "uniform", seed, dtype)


class GlorotNormal(VarianceScaling):
    """Truncated normal of stddev sqrt(2 / (fan_in + fan_out)) (`tf.glorot_normal_initializer`)."""

    def __init__(self, seed=None, dtype="float32"):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed, dtype)


# TF1's lower-case names.
constant_initializer = Constant
zeros_initializer = Zeros
ones_initializer = Ones
random_normal_initializer = RandomNormal
random_uniform_initializer = RandomUniform
truncated_normal_initializer = TruncatedNormal
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
