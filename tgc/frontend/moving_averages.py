"""`tf.train.ExponentialMovingAverage` and `assign_moving_average`, as TF1's moving_averages.py.

Each averaged variable ``v`` gets a non-trainable shadow variable ``<v>/ExponentialMovingAverage``
(TF's slot name, so checkpoints and ``variables_to_restore()`` maps carry over), initialized to
``v``'s initial value; ``apply()`` returns one op that moves every shadow towards its variable:
``shadow -= (shadow - v) * (1 - decay)``, with TF's float32 order of operations. With
``num_updates`` the decay is ``min(decay, (1 + n) / (10 + n))``. Tensors (not variables) may be
averaged too: their shadows start at zero and, with ``zero_debias=True``, are debiased as TF's
(a ``biased`` accumulator and a ``local_step`` counter beside the shadow).
"""

from __future__ import annotations

import numpy as np

from tgc.frontend import math_ops
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.control import group
from tgc.frontend.variables import (
    Variable,
    get_variable_scope,
    global_variables,
    trainable_variables,
)
from tgc.graph.graph import get_default_graph

MOVING_AVERAGE_VARIABLES = "moving_average_variables"
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def moving_average_variables(scope=None):
    """`tf.moving_average_variables`: the variables an ExponentialMovingAverage averages."""
    return get_default_graph().get_collection(MOVING_AVERAGE_VARIABLES, scope)


def _op_name(value) -> str:
    return value.op.name


def _new_state(name: str, initial_value, dtype) -> Variable:
    """A non-trainable variable named ``name`` under the current variable scope (uniquified as
    TF's default names are: ``name_1``, ...)."""
    scope = get_variable_scope().name
    full = f"{scope}/{name}" if scope else name
    graph = get_default_graph()
    with graph.name_scope(None):
        return Variable(initial_value, trainable=False, name=full, dtype=dtype)


def assign_moving_average(variable, value, decay, zero_debias=True, name=None):
    """`tf.train.assign_moving_average`: ``variable -= (variable - value) * (1 - decay)``; with
    ``zero_debias`` the average of a zero-started variable is debiased (TF's ``_zero_debias``)."""
    graph = get_default_graph()
    with graph.name_scope(name or "AssignMovingAvg") as scope:
        one_minus = math_ops.subtract(1.0, convert_to_tensor(decay), name="decay")
        if one_minus.dtype != variable.dtype:
            one_minus = math_ops.cast(one_minus, variable.dtype)
        value = convert_to_tensor(value)
        if zero_debias:
            return _zero_debias(variable, value, one_minus, scope)
        return variable.assign_sub((variable.value() - value) * one_minus, name=scope)


def _zero_debias(shadow, value, one_minus, scope):
    """TF's debiasing: ``biased`` follows the plain average from zero, ``local_step`` counts the
    updates, and the shadow is ``biased / (1 - decay ** local_step)``."""
    base = _op_name(shadow)
    biased = _new_state(
        f"{base}/biased", np.zeros(shadow.shape.as_list(), np.float64), shadow.dtype
    )
    local_step = _new_state(f"{base}/local_step", np.float64(0.0), shadow.dtype)
    update_biased = biased.assign_sub((biased.value() - value) * one_minus)
    update_step = local_step.assign_add(1.0)
    bias_factor = 1.0 - math_ops.pow(1.0 - one_minus, update_step)
    return shadow.assign(update_biased / bias_factor, name=scope)


class ExponentialMovingAverage:
    """Shadow variables holding exponential moving averages of variables (or tensors)."""

    def __init__(self, decay, num_updates=None, zero_debias=False, name="ExponentialMovingAverage"):
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages: dict = {}  # id(variable or tensor) -> shadow Variable
        self._debiased: set = set()  # ids of shadows started at zero and debiased

    @property
    def name(self) -> str:
        return self._name

    def apply(self, var_list=None):
        """Creates the shadows of ``var_list`` (default: the trainable variables) and returns the
        op that updates them all."""
        var_list = trainable_variables() if var_list is None else list(var_list)
        for var in var_list:
            self._create_shadow(var)
        graph = get_default_graph()
        with graph.name_scope(self._name) as scope:
            decay = self._decay_tensor()
            updates = [
                assign_moving_average(
                    self._averages[id(var)],
                    var.value() if isinstance(var, Variable) else var,
                    decay,
                    zero_debias=id(self._averages[id(var)]) in self._debiased,
                )
                for var in var_list
            ]
            return group(*updates, name=scope)

    def _create_shadow(self, var):
        if var.dtype.name not in _FLOATS:
            raise TypeError(f"The variables must be half, float, or double: {var.name}")
        if id(var) in self._averages:
            raise ValueError(f"Moving average already computed for: {var.name}")
        name = f"{_op_name(var)}/{self._name}"
        if isinstance(var, Variable):
            # TF starts the shadow at the variable's value (its initial value, when both are
            # initialized together, as global_variables_initializer does).
            shadow = _new_state(name, var.initial_value, var.dtype)
            get_default_graph().add_to_collection(MOVING_AVERAGE_VARIABLES, var)
        else:
            var = convert_to_tensor(var)
            if not var.spec.is_static:
                raise ValueError(
                    f"ExponentialMovingAverage: tensor '{var.name}' needs a fully known shape, "
                    f"not {var.shape}"
                )
            shadow = _new_state(name, np.zeros(var.shape.as_list(), np.float64), var.dtype)
            if self._zero_debias:
                self._debiased.add(id(shadow))
        self._averages[id(var)] = shadow

    def _decay_tensor(self):
        decay = convert_to_tensor(np.float32(self._decay), name="decay")
        if self._num_updates is None:
            return decay
        updates = self._num_updates
        updates = updates.value() if isinstance(updates, Variable) else convert_to_tensor(updates)
        n = math_ops.cast(updates, "float32", name="num_updates")
        return math_ops.minimum(decay, (1.0 + n) / (10.0 + n))

    def average(self, var):
        """The shadow variable of ``var``, or None when ``var`` is not averaged."""
        return self._averages.get(id(var))

    def average_name(self, var) -> str:
        """The shadow's name (``<var>/ExponentialMovingAverage``), also before ``apply``: the key
        under which a checkpoint holds the average."""
        if id(var) in self._averages:
            return _op_name(self._averages[id(var)])
        return get_default_graph().unique_name(f"{_op_name(var)}/{self._name}", mark_as_used=False)

    def variables_to_restore(self, moving_avg_variables=None):
        """A Saver ``var_list``: each averaged variable restored from its average's checkpoint
        name, the other global variables from their own."""
        if moving_avg_variables is None:
            moving_avg_variables = trainable_variables() + moving_average_variables()
        name_map = {}
        averaged = []
        for v in moving_avg_variables:
            if all(v is not seen for seen in averaged):
                averaged.append(v)
                name_map[self.average_name(v)] = v
        averaged_names = {v.name for v in averaged}
        for v in global_variables():
            if v.name not in averaged_names and _op_name(v) not in name_map:
                name_map[_op_name(v)] = v
        return name_map


__all__ = [
    "ExponentialMovingAverage",
    "assign_moving_average",
    "moving_average_variables",
    "MOVING_AVERAGE_VARIABLES",
]
