"""TF1's ``tf.contrib.framework``: arg_scope, the variable getters slim uses, the global step.

``arg_scope([f, g], k=v)`` gives every call of ``f`` and ``g`` inside the block the default
``k=v`` (an argument given in the call wins); only functions wrapped by ``add_arg_scope`` take
part, as in TF. The getters filter a graph collection with ``re.match(scope, var.name)``, TF's
rule (so ``scope="global"`` also matches ``global_step``, as it does in TF).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re

from tgc.frontend import global_step as _global_step
from tgc.frontend import saver, tf_logging
from tgc.runtime import checkpoint
from tgc.frontend.variables import (
    GLOBAL_VARIABLES,
    LOCAL_VARIABLES,
    TRAINABLE_VARIABLES,
    Variable,
    VariableScope,
    get_variable,
)
from tgc.graph.graph import get_default_graph

MODEL_VARIABLES = "model_variables"
REGULARIZATION_LOSSES = "regularization_losses"

# ---- arg_scope -----------------------------------------------------------------------------------

# The stack of scopes: each maps a function's key to the default keyword arguments it gets there.
_ARG_STACK = [{}]


def _key(func):
    return getattr(func, "_key_op", f"{func.__module__}.{func.__qualname__}")


def _name(func):
    return getattr(func, "__name__", repr(func))


def current_arg_scope():
    """The innermost arg_scope: {function key: {argument: default}}."""
    return _ARG_STACK[-1]


def has_arg_scope(func) -> bool:
    """Whether ``func`` was wrapped by add_arg_scope (only those take arg_scope's defaults)."""
    return getattr(func, "_key_op", None) is not None


def arg_scoped_arguments(func):
    """The names of the arguments ``func`` accepts (what an arg_scope may set for it)."""
    return list(getattr(func, "_args", []))


def add_arg_scope(func):
    """Wraps ``func`` so that calls inside ``arg_scope([func], ...)`` get that scope's defaults."""
    key = _key(func)

    @functools.wraps(func)
    def with_scope_defaults(*args, **kwargs):
        defaults = current_arg_scope().get(key)
        if defaults:
            kwargs = {**defaults, **kwargs}
        return func(*args, **kwargs)

    with_scope_defaults._key_op = key
    with_scope_defaults._args = func.__code__.co_varnames[: func.__code__.co_argcount]
    return with_scope_defaults


@contextlib.contextmanager
def arg_scope(list_ops_or_scope, **kwargs):
    """Sets default arguments of the listed add_arg_scope functions inside the block; a dict (a
    scope yielded by an earlier arg_scope) re-enters that scope."""
    if isinstance(list_ops_or_scope, dict):
        if kwargs:
            raise ValueError(
                "When attempting to re-use a scope by suppling a dictionary, kwargs must be empty."
            )
        scope = dict(list_ops_or_scope)
    else:
        if not isinstance(list_ops_or_scope, (list, tuple)):
            raise TypeError(
                "list_ops_or_scope must either be a list/tuple or reused scope (i.e. dict)"
            )
        scope = dict(current_arg_scope())
        for func in list_ops_or_scope:
            if not has_arg_scope(func):
                raise ValueError(f"{_name(func)} is not decorated with @add_arg_scope")
            key = _key(func)
            scope[key] = {**scope.get(key, {}), **kwargs}
    _ARG_STACK.append(scope)
    try:
        yield scope
    finally:
        _ARG_STACK.pop()


# ---- variables -----------------------------------------------------------------------------------


def get_variables(scope=None, suffix=None, collection=GLOBAL_VARIABLES):
    """The variables of ``collection`` whose names match the regex ``scope`` (from their start)
    and, with ``suffix``, end in ``suffix`` (``scope.*suffix:``), as `slim.get_variables`."""
    if isinstance(scope, VariableScope):
        scope = scope.name
    if suffix is not None:
        if ":" not in suffix:
            suffix += ":"
        scope = (scope or "") + ".*" + suffix
    found = get_default_graph().get_collection(collection)
    if scope is None:
        return found
    return [v for v in found if re.match(scope, getattr(v, "name", ""))]


def get_model_variables(scope=None, suffix=None):
    """The model variables (contrib layers' weights, biases and batch-norm statistics)."""
    return get_variables(scope, suffix, MODEL_VARIABLES)


def get_trainable_variables(scope=None, suffix=None):
    return get_variables(scope, suffix, TRAINABLE_VARIABLES)


def get_local_variables(scope=None, suffix=None):
    return get_variables(scope, suffix, LOCAL_VARIABLES)


def get_variables_by_name(given_name, scope=None):
    """The variables whose last name component is ``given_name`` (``.../given_name:0``)."""
    return get_variables(scope=scope, suffix=given_name)


def get_variables_by_suffix(suffix, scope=None):
    return get_variables(scope=scope, suffix=suffix)


def get_unique_variable(var_op_name):
    """The one global variable named ``var_op_name`` (no ``:0``)."""
    candidates = get_variables(scope=var_op_name)
    if not candidates:
        raise ValueError(f"Couldn't find variable {var_op_name}")
    for candidate in candidates:
        if candidate.op.name == var_op_name:
            return candidate
    raise ValueError(f"Variable {var_op_name} does not uniquely identify a variable")


def get_variables_to_restore(include=None, exclude=None):
    """Global variables under the ``include`` scopes (all when None) minus those under the
    ``exclude`` scopes: what a Saver restoring part of a model is given."""
    if include is not None and not isinstance(include, (list, tuple)):
        raise TypeError("include is provided but is not a list or a tuple.")
    if exclude is not None and not isinstance(exclude, (list, tuple)):
        raise TypeError("exclude is provided but is not a list or a tuple.")
    if include is None:
        chosen = get_variables()
    else:
        chosen = [v for scope in include for v in get_variables(scope)]
    excluded = {id(v) for scope in exclude or [] for v in get_variables(scope)}
    return [v for v in chosen if id(v) not in excluded]


# ---- creating variables --------------------------------------------------------------------------


@add_arg_scope
def variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=True,
    collections=None,
    caching_device=None,
    device=None,
    partitioner=None,
    custom_getter=None,
    use_resource=None,
    **_distribution,
):
    """get_variable in the current variable scope, on ``device`` when given, in ``collections``
    (the global variables by default); a newly made variable's ``regularizer(var)`` is recorded
    as a regularization loss (`slim.variable`)."""
    for option, value in (("partitioner", partitioner), ("custom_getter", custom_getter)):
        if value is not None:
            raise ValueError(f"variable: {option} is not supported by tgc")
    collections = list(
        dict.fromkeys(collections if collections is not None else [GLOBAL_VARIABLES])
    )
    graph = get_default_graph()
    count_before = len(graph._variable_store)  # to tell a new variable from a reused one
    with graph.device(device) if device else contextlib.nullcontext():
        var = get_variable(
            name,
            shape=shape,
            dtype=dtype,
            initializer=initializer,
            trainable=trainable,
            collections=collections,
        )
    if regularizer is not None and len(graph._variable_store) > count_before:
        with graph.name_scope(f"{var.op.name}/Regularizer/"):
            loss = regularizer(var.value())
        if loss is not None:
            graph.add_to_collection(REGULARIZATION_LOSSES, loss)
    return var


@add_arg_scope
def model_variable(
    name,
    shape=None,
    dtype="float32",
    initializer=None,
    regularizer=None,
    trainable=True,
    collections=None,
    caching_device=None,
    device=None,
    partitioner=None,
    custom_getter=None,
    use_resource=None,
    **_distribution,
):
    """variable() also in the model variables (`slim.model_variable`)."""
    return variable(
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        trainable=trainable,
        collections=list(collections or []) + [GLOBAL_VARIABLES, MODEL_VARIABLES],
        device=device,
        partitioner=partitioner,
        custom_getter=custom_getter,
    )


def local_variable(initial_value, validate_shape=True, name=None, use_resource=None):
    """A non-trainable Variable in the local variables only."""
    return Variable(
        initial_value, trainable=False, collections=[LOCAL_VARIABLES], name=name or "Variable"
    )


def global_variable(initial_value, validate_shape=True, name=None, use_resource=None):
    """A non-trainable Variable in the global variables."""
    return Variable(
        initial_value, trainable=False, collections=[GLOBAL_VARIABLES], name=name or "Variable"
    )


# ---- checkpoints ---------------------------------------------------------------------------------


def _checkpoint_values(checkpoint_dir_or_prefix) -> dict:
    """name -> array of a tgc checkpoint: a prefix (``model.ckpt-100``) or the directory whose
    latest checkpoint it is."""
    path = os.fspath(checkpoint_dir_or_prefix)
    if os.path.isdir(path):
        latest = saver.latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"Couldn't find a checkpoint in {path}")
        path = latest
    if not saver.checkpoint_exists(path):
        raise ValueError(f"The passed save_path is not a valid checkpoint: {path}")
    return checkpoint.restore(path)[0]


def list_variables(checkpoint_dir):
    """[(name, shape)] of the variables in a checkpoint, sorted by name."""
    values = _checkpoint_values(checkpoint_dir)
    return [(name, list(values[name].shape)) for name in sorted(values)]


def load_variable(checkpoint_dir, name):
    """The value (a numpy array) of variable ``name`` in a checkpoint."""
    values = _checkpoint_values(checkpoint_dir)
    if name.endswith(":0"):
        name = name[:-2]
    if name not in values:
        raise ValueError(f"Key {name} not found in checkpoint {checkpoint_dir}")
    return values[name]


def assign_from_checkpoint_fn(
    model_path, var_list, ignore_missing_vars=False, reshape_variables=False
):
    """A function of a session that restores ``var_list`` (a list, or a dict from checkpoint
    names) from ``model_path``; with ignore_missing_vars the variables the checkpoint lacks are
    skipped with a warning (None when none is left), as slim's."""
    if not var_list:
        raise ValueError("var_list cannot be empty")
    if reshape_variables:
        raise ValueError("assign_from_checkpoint_fn: reshape_variables is not supported by tgc")
    if ignore_missing_vars:
        available = set(_checkpoint_values(model_path))
        by_name = var_list if isinstance(var_list, dict) else {v.op.name: v for v in var_list}
        var_list = {}
        for name, var in by_name.items():
            if name in available:
                var_list[name] = var
            else:
                tf_logging.warning("Variable %s missing in checkpoint %s", name, model_path)
        if not var_list:
            tf_logging.warning("No Variables to restore")
            return None
    restorer = saver.Saver(var_list)

    def callback(session):
        restorer.restore(session, model_path)

    return callback


# ---- the global step -----------------------------------------------------------------------------

get_global_step = _global_step.get_global_step
get_or_create_global_step = _global_step.get_or_create_global_step
create_global_step = _global_step.create_global_step
assert_global_step = _global_step.assert_global_step
