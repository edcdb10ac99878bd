"""`tf.train`'s global-step helpers: the int64 scalar variable that counts training steps.

Its own module so that what reads the step (the optimizers, the monitored sessions' hooks) need not
import one another.
"""

from __future__ import annotations

import numpy as np

from tgc.frontend.build import constant
from tgc.frontend.variables import GLOBAL_VARIABLES, Variable, get_variable
from tgc.graph.graph import Tensor, get_default_graph

GLOBAL_STEP = "global_step"


def assert_global_step(global_step_tensor):
    """Raises TypeError unless ``global_step_tensor`` is an integer scalar Variable or Tensor."""
    if not isinstance(global_step_tensor, (Variable, Tensor)):
        raise TypeError(
            f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.'
        )
    if not global_step_tensor.dtype.is_integer:
        raise TypeError(
            f'Existing "global_step" does not have integer type: {global_step_tensor.dtype}'
        )
    shape = global_step_tensor.shape
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


def get_global_step(graph=None):
    """The global step of ``graph``: the one variable in the "global_step" collection, else the
    variable (or tensor) named "global_step:0", else None."""
    graph = graph or get_default_graph()
    found = graph.get_collection(GLOBAL_STEP)
    if len(found) > 1:
        raise TypeError("Multiple tensors in global_step collection.")
    if found:
        step = found[0]
    else:
        step = _named_global_step(graph)
        if step is None:
            return None
    assert_global_step(step)
    return step


def _named_global_step(graph):
    """``tf.Variable(0, name="global_step")`` outside the collection (DQN's and many tutorials'
    step): the variable itself, whose value TF1's ref tensor "global_step:0" also was (so that
    minimize(global_step=...) can increment it); else any tensor of that name."""
    for var in graph.get_collection(GLOBAL_VARIABLES):
        if getattr(var, "name", None) == "global_step:0":
            return var
    try:
        return graph.get_tensor_by_name("global_step:0")
    except KeyError:
        return None


def create_global_step(graph=None):
    """A new int64 scalar variable "global_step" (not trainable, starts at 0) in ``graph``."""
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), graph.control_dependencies(None), graph.name_scope(None):
        return get_variable(
            GLOBAL_STEP,
            shape=[],
            dtype="int64",
            initializer=_zeros_initializer,
            trainable=False,
            collections=[GLOBAL_VARIABLES, GLOBAL_STEP],
        )


def _zeros_initializer(shape, dtype=None):
    return constant(np.zeros(shape), dtype=dtype)


def get_or_create_global_step(graph=None):
    graph = graph or get_default_graph()
    step = get_global_step(graph)
    return step if step is not None else create_global_step(graph)


def global_step(sess, global_step_tensor):
    """The value of ``global_step_tensor`` in ``sess`` as a Python int (`tf.train.global_step`)."""
    if not isinstance(global_step_tensor, (Variable, Tensor)):
        raise TypeError(
            "tf.train.global_step: global_step_tensor must be a Variable or Tensor, got "
            f"{type(global_step_tensor).__name__}"
        )
    return int(sess.run(global_step_tensor))
