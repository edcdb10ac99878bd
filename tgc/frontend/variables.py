"""TF1 variables: ``Variable``, ``get_variable`` with ``variable_scope`` (reuse), initializers.

A Variable's value is the output of one ``read_variable`` op named after it (``w:0``), so every use
of ``w`` in the graph shares one read; ``read_value()`` makes a fresh read placed in program order.
Its initializer is an ``assign`` of the initial value, named ``w/Assign`` as in TensorFlow.
"""

from __future__ import annotations

import contextlib
import functools
import weakref

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.frontend import build
from tgc.graph.graph import Tensor, TensorShape, get_default_graph

GLOBAL_VARIABLES = "variables"
TRAINABLE_VARIABLES = "trainable_variables"
LOCAL_VARIABLES = "local_variables"


class Variable:
    """A piece of session state with an initial value (`tf.Variable`)."""

    # numpy defers to the Variable's operators, as it does to a Tensor's.
    __array_priority__ = 100
    __array_ufunc__ = None

    def __init__(
        self,
        initial_value=None,
        trainable=True,
        collections=None,
        validate_shape=True,
        name=None,
        dtype=None,
        expected_shape=None,
        **_ignored,
    ):
        if initial_value is None:
            raise ValueError("a Variable needs an initial_value")
        graph = get_default_graph()
        with graph.name_scope(name or "Variable") as scope:
            self._name = scope[:-1]
            init = initial_value() if callable(initial_value) else initial_value
            if (
                not isinstance(init, Tensor)
                and not hasattr(init, "_as_graph_element")
                and dtype is not None
            ):
                init = build.constant(init, dtype=dtype, name="initial_value")
            init = build.convert_to_tensor(init)
            if dtype is not None and as_dtype(dtype) != init.dtype:
                init = build.make_op("cast", [init], dtype=as_dtype(dtype).name)
            if init.spec.shape is None or (validate_shape and not init.spec.is_static):
                raise ValueError(
                    f"initial value for variable '{self._name}' must have a fully known shape, got "
                    f"{init.shape}"
                )
            self._spec = TensorSpec(init.spec.shape, init.spec.dtype)
            self._graph = graph
            self._initial_value = init
            # The first read is the variable's op, as TF's VariableV2 is (device functions such
            # as replica_device_setter place variables by that type).
            self._value = self._read(name=scope, op_type="VariableV2")
            self._initializer = build.make_op("assign", [init], name="Assign", var=self._name)
            self._initializer.op.variable = self
        self.trainable = trainable
        for key in collections or [GLOBAL_VARIABLES]:
            graph.add_to_collection(key, self)
        if trainable and TRAINABLE_VARIABLES not in (collections or []):
            graph.add_to_collection(TRAINABLE_VARIABLES, self)

    def _read(self, name=None, op_type=None) -> Tensor:
        with self._graph.name_scope(self._name + "/"):
            out = build.make_op(
                "read_variable",
                [],
                name=name or "read",
                op_type=op_type,
                var=self._name,
                shape=list(self._spec.shape),
                dtype=self._spec.dtype,
            )
        out.op.variable = self
        return out

    def _update(self, opname, value, name, tf_name, use_locking=False, validate_shape=True):
        value = build.convert_to_tensor(value, dtype=self.dtype)
        with self._graph.name_scope(self._name + "/"):
            op_name = self._graph.unique_name(name or tf_name, mark_as_used=False)
            self._check_update_shape(value, tf_name, op_name, validate_shape)
            checks = self._run_time_shape_check(value, tf_name, validate_shape)
            with self._graph.control_dependencies(checks):
                out = build.make_op(opname, [value], name=name or tf_name, var=self._name)
        out.op.variable = self
        # TF's use_locking: runs holding such an update are serialized by their session, so
        # concurrent read-modify-writes of the variable lose nothing.
        out.op.use_locking = bool(use_locking)
        return out

    def _check_update_shape(self, value, tf_name, op_name, validate_shape=True):
        """TF's Assign/AssignAdd/AssignSub need the value's shape to be the variable's (no
        broadcasting); a mismatch of known dims is TF's ValueError when the graph is built. tgc's
        variables keep the shape they were made with, so an assign with validate_shape=False is
        held to it too."""
        want, got = self._spec.shape, value.spec.shape
        mismatch = _shape_mismatch(want, got)
        if mismatch is None:
            return
        shapes = ", ".join(_shape_text(s) for s in (want, got))
        keep = "" if validate_shape else _KEEPS_ITS_SHAPE
        raise ValueError(
            f"{mismatch} for '{op_name}' (op: '{tf_name}') with input shapes: {shapes}.{keep}"
        )

    def _run_time_shape_check(self, value, tf_name, validate_shape=True) -> list:
        """Where the value has a dim known only at run time, TF's kernels' check that it has the
        variable's shape, in their words (the update would otherwise fail on a reshape or a
        broadcast, or with the variable's own size, read past the value)."""
        shape = value.spec.shape
        if shape is not None and None not in shape:
            return []
        got = build.make_op("shape", [value], out_type="int32")
        want = build.constant(list(self._spec.shape), dtype="int32")
        differs = build.make_op("cast", [build.make_op("not_equal", [got, want])], dtype="int32")
        worst = build.make_op("reduce_max", [differs], axes=[0], keepdims=False)
        same = build.make_op("equal", [worst, build.constant(0, dtype="int32")])
        if tf_name == "Assign":
            message = (
                "Assign requires shapes of both tensors to match. lhs shape= {0} rhs shape= {1}"
            )
            if not validate_shape:
                message += _KEEPS_ITS_SHAPE
            return [build.check_op(same, message, [want, got])]
        return [build.check_op(same, "Parameters and update must be the same size")]

    # ---- TF1 surface -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._value.name

    @property
    def op(self):
        return self._value.op

    @property
    def graph(self):
        return self._graph

    @property
    def dtype(self):
        return as_dtype(self._spec.dtype)

    @property
    def shape(self):
        return self._value.shape

    def get_shape(self):
        return self.shape

    @property
    def device(self) -> str:
        return self._value.op.device

    @property
    def initializer(self):
        return self._initializer.op

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    def initialized_value(self) -> Tensor:
        from tgc.graph.graph import get_default_graph as _g

        with _g().control_dependencies([self._initializer.op]):
            return self._read()

    def value(self) -> Tensor:
        return self._value

    def read_value(self) -> Tensor:
        return self._read()

    def _as_graph_element(self) -> Tensor:
        return self._value

    def assign(self, value, use_locking=False, name=None, read_value=True):
        return self._update("assign", value, name, "Assign", use_locking)

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        return self._update("assign_add", delta, name, "AssignAdd", use_locking)

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        return self._update("assign_sub", delta, name, "AssignSub", use_locking)

    def eval(self, session=None):
        return self._value.eval(session=session)

    def load(self, value, session=None):
        from tgc.graph.default_session import get_default_session

        (session or get_default_session()).set_variable(self, value)

    def __repr__(self):
        return f"<tgc.Variable '{self.name}' shape={self.shape} dtype={self._spec.dtype}>"

    def __hash__(self):
        return id(self)

    def __iter__(self):
        return iter(self._value)


def _variable_tensor_ops():
    """Variables behave as their value in arithmetic: every Tensor operator delegates."""
    names = [
        "__add__",
        "__radd__",
        "__sub__",
        "__rsub__",
        "__mul__",
        "__rmul__",
        "__truediv__",
        "__rtruediv__",
        "__pow__",
        "__rpow__",
        "__matmul__",
        "__rmatmul__",
        "__neg__",
        "__abs__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__getitem__",
        "__floordiv__",
        "__rfloordiv__",
        "__mod__",
        "__rmod__",
        "__and__",
        "__rand__",
        "__or__",
        "__ror__",
        "__invert__",
        "__div__",
    ]
    for n in names:

        def method(self, *args, _n=n):
            return getattr(self._value, _n)(*args)

        setattr(Variable, n, method)


_variable_tensor_ops()


# ---- variable scopes and get_variable ------------------------------------------------------------


class VariableScope:
    def __init__(self, name: str, reuse=False, initializer=None):
        self.name = name
        self.reuse = reuse
        self.initializer = initializer
        self.original_name_scope = name + "/" if name else ""

    def reuse_variables(self):
        self.reuse = True


AUTO_REUSE = "AUTO_REUSE"


def _scope_stack(graph):
    if not graph._var_scope_stack:
        graph._var_scope_stack.append(VariableScope(""))
    return graph._var_scope_stack


def get_variable_scope() -> VariableScope:
    return _scope_stack(get_default_graph())[-1]


# How many times each variable scope (by full name) has been entered, per graph: TF's counts, which
# make an unnamed scope `dense`, `dense_1`, ... and start again at `dense` each time the scope
# around them is entered anew by name (so a discriminator built twice, the second time under
# reuse, finds the variables of its first build).
_SCOPE_COUNTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _scope_counts(graph) -> dict:
    return _SCOPE_COUNTS.setdefault(graph, {})


def unique_variable_scope_name(base: str) -> str:
    """``base``, or ``base_<k>`` for the first k no scope of that name under the current one has
    been entered with (TF's ``_get_unique_variable_scope``)."""
    counts = _scope_counts(get_default_graph())
    outer = get_variable_scope().name
    full = f"{outer}/{base}" if outer else base
    if not counts.get(full):
        return base
    k = 1
    while counts.get(f"{full}_{k}"):
        k += 1
    return f"{base}_{k}"


@contextlib.contextmanager
def variable_scope(
    name_or_scope, default_name=None, values=None, initializer=None, reuse=None, **_ignored
):
    """Prefixes get_variable names and op names; ``reuse=True`` (or AUTO_REUSE) shares variables.
    Without a name, ``default_name`` is made unique (``default_name_1``, ...)."""
    graph = get_default_graph()
    stack = _scope_stack(graph)
    outer = stack[-1]
    counts = _scope_counts(graph)
    if isinstance(name_or_scope, VariableScope):
        full = name_or_scope.name
    else:
        if name_or_scope is None and default_name is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        base = (
            name_or_scope if name_or_scope is not None else unique_variable_scope_name(default_name)
        )
        full = f"{outer.name}/{base}" if outer.name else base
    inherited = outer.reuse if reuse is None else reuse
    scope = VariableScope(
        full, reuse=inherited or False, initializer=initializer or outer.initializer
    )
    counts[full] = counts.get(full, 0) + 1
    reentered = isinstance(name_or_scope, VariableScope)
    entered_counts = dict(counts) if reentered else None  # restored on leaving, as TF does
    stack.append(scope)
    try:
        with graph.name_scope(full.split("/")[-1]):
            yield scope
    finally:
        stack.pop()
        if reentered:
            counts.clear()  # a scope object re-entered: its subscopes' counts as they were
            counts.update(entered_counts)
        else:
            _reset_subscopes(counts, full)


def _reset_subscopes(counts: dict, full: str) -> None:
    prefix = full + "/"
    for name in counts:
        if name.startswith(prefix):
            counts[name] = 0


def get_variable(
    name, shape=None, dtype=None, initializer=None, trainable=True, collections=None, **_ignored
):
    """Creates or (under reuse) returns the variable ``scope/name`` (`tf.get_variable`)."""
    graph = get_default_graph()
    scope = get_variable_scope()
    full = f"{scope.name}/{name}" if scope.name else name
    shape = _variable_shape(full, shape)
    store = graph._variable_store
    if full in store:
        if scope.reuse is False:
            raise ValueError(
                f"Variable {full} already exists, disallowed. Did you mean to set reuse=True or "
                f"reuse=tf.AUTO_REUSE in VarScope?"
            )
        existing = store[full]
        if shape is not None and list(existing.shape.as_list()) != list(shape):
            raise ValueError(
                f"Trying to share variable {full}, but specified shape {list(shape)} and found "
                f"shape {existing.shape.as_list()}."
            )
        return existing
    if scope.reuse is True:
        raise ValueError(
            f"Variable {full} does not exist, or was not created with tf.get_variable(). Did you "
            "mean to set reuse=tf.AUTO_REUSE in VarScope?"
        )
    dtype = as_dtype(dtype or "float32")
    init = initializer if initializer is not None else scope.initializer
    if init is None:
        from tgc.frontend.initializers import glorot_uniform_initializer

        init = glorot_uniform_initializer()
    with graph.name_scope(None):
        with graph.name_scope(full.rsplit("/", 1)[0] + "/" if "/" in full else None):
            if callable(init) and not isinstance(init, Tensor):
                initial = functools.partial(init, shape, dtype=dtype)
            else:
                initial = init
            var = Variable(
                initial,
                trainable=trainable,
                collections=collections,
                name=full.rsplit("/", 1)[-1],
                dtype=dtype,
            )
    store[full] = var
    return var


def _variable_shape(full_name, shape):
    """``shape`` (ints, Dimensions, a TensorShape) as a list of ints, or None; TF's error when
    a dim is unknown."""
    if shape is None:
        return None
    static = TensorShape(shape)
    if not static.is_fully_defined():
        raise ValueError(
            f"Shape of a new variable ({full_name}) must be fully defined, but instead was "
            f"{static}."
        )
    return static.as_list()


def global_variables(scope=None):
    return get_default_graph().get_collection(GLOBAL_VARIABLES, scope)


def trainable_variables(scope=None):
    return get_default_graph().get_collection(TRAINABLE_VARIABLES, scope)


def local_variables(scope=None):
    return get_default_graph().get_collection(LOCAL_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    from tgc.frontend.control import group

    return group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer():
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def local_variables_initializer():
    return variables_initializer(local_variables(), name="init_1")


def assign(ref, value, validate_shape=True, use_locking=None, name=None):
    if not validate_shape and isinstance(ref, Variable):
        return ref._update("assign", value, name, "Assign", use_locking, validate_shape=False)
    return ref.assign(value, use_locking=use_locking, name=name)


# TF's assign(validate_shape=False) gives the variable the value's shape; tgc compiles each
# variable with one shape.
_KEEPS_ITS_SHAPE = (
    " (tgc's variables keep the shape they were made with: validate_shape=False cannot change it)"
)


def _shape_mismatch(want, got) -> str | None:
    """TF's shape-merge text for a value of shape ``got`` assigned to a variable of ``want``, or
    None where they may agree (a dim unknown now is checked at run time)."""
    if got is None:  # tgc compiles each update for the variable's rank
        return f"Shapes must be equal rank, but are {len(want)} and an unknown rank"
    if len(got) != len(want):
        return f"Shapes must be equal rank, but are {len(want)} and {len(got)}"
    for i, (w, g) in enumerate(zip(want, got)):
        if g is not None and g != w:
            return (
                f"Dimension {i} in both shapes must be equal, but are {w} and {g}. Shapes are "
                f"{_shape_text(want)} and {_shape_text(got)}."
            )
    return None


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def assign_add(ref, value, use_locking=None, name=None):
    return ref.assign_add(value, use_locking=use_locking, name=name)


def assign_sub(ref, value, use_locking=None, name=None):
    return ref.assign_sub(value, use_locking=use_locking, name=name)
