"""Variables: module-level declarations, reads and assignments.

A ``tgc.variable`` lives in the module body and names a piece of session state; ``read_variable``
and the ``assign`` family refer to it by symbol. Ops run in program order within a function, so a
read (or a ``reread_variable`` of an earlier read) placed after an assign sees the assigned value.
Their ``eval`` takes the variable's current value first, which is how the reference interpreter
threads state through them.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import elementwise_flops, no_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, REGISTRY, Attr, ShapeError, op
from tgc.dialect.shapes import spec
from tgc.dialect.types import format_shape


@op(
    "variable",
    tf_type="VariableV2",
    module_level=True,
    results=0,
    traits=("variable_declaration",),
    attrs={"sym_name": Attr("str"), "shape": Attr("ints"), "dtype": Attr("dtype")},
)
class Variable:
    """Declares a variable of a static shape and dtype (`tf.Variable`); holds no value itself."""

    flops = no_flops

    def infer(sym_name, shape, dtype):
        if any(d < 0 for d in shape):
            raise ShapeError(
                f"variable '{sym_name}' needs a fully known shape but got {list(shape)}"
            )
        return []

    def eval(sym_name, shape, dtype):
        return []

    grad = NOT_DIFFERENTIABLE


@op(
    "read_variable",
    tf_type="Identity",
    stateful=True,
    traits=("variable_read",),
    attrs={"var": Attr("symbol"), "shape": Attr("ints"), "dtype": Attr("dtype")},
)
class ReadVariable:
    """The current value of a variable (`Variable.read_value()`)."""

    flops = no_flops

    def infer(var, shape, dtype):
        return spec(shape, dtype)

    def eval(current, var, shape, dtype):
        return np.array(current)

    grad = NOT_DIFFERENTIABLE


@op(
    "reread_variable",
    tf_type="Identity",
    operands=("value",),
    stateful=True,
    traits=("variable_read",),
    attrs={"var": Attr("symbol")},
)
class RereadVariable:
    """The variable's value at this point of program order; ``value`` is a read of it made earlier.

    TensorFlow reads a variable when the op consuming it runs, so an op that control dependencies
    order after an assignment sees the assigned value. The emitter puts this op between such a
    consumer and the variable's shared read; tgc-lower-variables replaces it with the value current
    there. Its gradient passes to ``value``: to ``tf.gradients`` both are the same variable."""

    flops = no_flops

    def infer(value, var):
        return value

    def eval(current, value, var):
        return np.array(current)

    def grad(b, op, g):
        return [g]


def _assign_infer(value, var):
    return value


def _check_same(current, value, var):
    if current.shape != value.shape:
        raise ShapeError(
            f"cannot assign {format_shape(value.shape)} to variable '{var}' of shape "
            f"{format_shape(current.shape)}"
        )


@op(
    "assign",
    tf_type="Assign",
    operands=("value",),
    stateful=True,
    attrs={"var": Attr("symbol")},
    traits=("assigns",),
)
class Assign:
    """Stores value into the variable and yields it (`tf.assign`, `Variable.assign`)."""

    flops = no_flops

    infer = _assign_infer

    def eval(current, value, var):
        _check_same(current, value, var)
        return np.array(value, dtype=current.dtype)

    grad = NOT_DIFFERENTIABLE


@op(
    "assign_add",
    tf_type="AssignAdd",
    operands=("value",),
    stateful=True,
    attrs={"var": Attr("symbol")},
    traits=("assigns",),
)
class AssignAdd:
    """Adds value to the variable and yields the new value (`tf.assign_add`)."""

    flops = elementwise_flops

    infer = _assign_infer

    def eval(current, value, var):
        _check_same(current, value, var)
        return (current + value).astype(current.dtype)

    grad = NOT_DIFFERENTIABLE


@op(
    "assign_sub",
    tf_type="AssignSub",
    operands=("value",),
    stateful=True,
    attrs={"var": Attr("symbol")},
    traits=("assigns",),
)
class AssignSub:
    """Subtracts value from the variable and yields the new value (`tf.assign_sub`)."""

    flops = elementwise_flops

    infer = _assign_infer

    def eval(current, value, var):
        _check_same(current, value, var)
        return (current - value).astype(current.dtype)

    grad = NOT_DIFFERENTIABLE


# The ops that write a variable, by their trait (the frontend orders reads after them, locks them,
# keeps them out of tf.cond's branches). Every such op is declared in this module.
ASSIGNMENT_OPS = tuple(name for name, opdef in REGISTRY.items() if "assigns" in opdef.traits)
