"""The dataflow graph a TF1 program builds: Graph, Operation, Tensor, and the scopes that name them.

This is the first stage of the pipeline. Ops are recorded with their scoped names
(``scores/MatMul``), device requests, control dependencies and the user's file:line; ``emit.py``
turns a pruned subgraph into tgc MLIR. Nothing here imports MLIR, the Session or the ops: the API
(tgc/frontend) installs the operators, indexing and iteration on Tensor.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.graph.default_session import get_default_session

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_location() -> tuple[str, int]:
    """The file:line of the first stack frame outside the tgc package (the user's code)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return "<unknown>", 0


class GraphKeys:
    """Standard collection names (`tf.GraphKeys`)."""

    GLOBAL_VARIABLES = "variables"
    VARIABLES = "variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    GLOBAL_STEP = "global_step"
    SUMMARIES = "summaries"
    LOSSES = "losses"
    REGULARIZATION_LOSSES = "regularization_losses"
    UPDATE_OPS = "update_ops"
    TRAIN_OP = "train_op"
    QUEUE_RUNNERS = "queue_runners"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    METRIC_VARIABLES = "metric_variables"


class Dimension:
    """One dim of a TensorShape; ``value`` is an int or None (TF1's `Dimension`).

    It is accepted wherever a shape is (``tf.get_variable('w', [x.shape[1], 50])``): it converts
    with ``int()`` and numpy reads it as its value. Arithmetic follows TF1: a result is unknown when
    either side is."""

    __slots__ = ("value",)

    def __init__(self, value):
        value = value.value if isinstance(value, Dimension) else value
        if value is not None and int(value) < 0:
            raise ValueError(f"Dimension {int(value)} must be >= 0")
        self.value = None if value is None else int(value)

    def __int__(self):
        if self.value is None:
            raise ValueError("cannot convert an unknown Dimension to an int")
        return self.value

    __index__ = __int__

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        return np.asarray(self.value, dtype=dtype)

    def __eq__(self, other):
        other = other.value if isinstance(other, Dimension) else other
        return self.value == other

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return "?" if self.value is None else str(self.value)

    def is_compatible_with(self, other) -> bool:
        other = as_dimension(other)
        return self.value is None or other.value is None or self.value == other.value

    def merge_with(self, other) -> "Dimension":
        other = as_dimension(other)
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {other} are not compatible")
        return self if self.value is not None else other

    def _combine(self, other, fn):
        other = as_dimension(other)
        if self.value is None or other.value is None:
            return Dimension(None)
        return Dimension(fn(self.value, other.value))

    def __add__(self, other):
        return self._combine(other, lambda a, b: a + b)

    def __sub__(self, other):
        return self._combine(other, lambda a, b: a - b)

    def __mul__(self, other):
        return self._combine(other, lambda a, b: a * b)

    def __floordiv__(self, other):
        return self._combine(other, lambda a, b: a // b)

    def __mod__(self, other):
        return self._combine(other, lambda a, b: a % b)

    def __radd__(self, other):
        return as_dimension(other) + self

    def __rsub__(self, other):
        return as_dimension(other) - self

    def __rmul__(self, other):
        return as_dimension(other) * self

    def __rfloordiv__(self, other):
        return as_dimension(other) // self

    def __rmod__(self, other):
        return as_dimension(other) % self

    def _compare(self, other, fn):
        """TF1's rule: a comparison with an unknown side is None."""
        other = as_dimension(other)
        if self.value is None or other.value is None:
            return None
        return fn(self.value, other.value)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)


def as_dimension(value) -> Dimension:
    return value if isinstance(value, Dimension) else Dimension(value)


def dimension_value(value):
    """The int or None a Dimension (or an int, or None) stands for (`tf.dimension_value`)."""
    return value.value if isinstance(value, Dimension) else value


def _dim_value(d):
    d = dimension_value(d)
    return None if d is None else int(d)


class TensorShape:
    """A static shape whose dims may be unknown, printed as TensorFlow 1 prints it: ``(?, 3)``.

    Built from a list of ints, Nones and Dimensions, another TensorShape, or None (unknown
    rank)."""

    def __init__(self, dims):
        if isinstance(dims, TensorShape):
            dims = dims._dims
        elif dims is not None and not hasattr(dims, "__iter__"):
            dims = [dims]  # TF takes one int (or Dimension) as a rank-1 shape
        self._dims = None if dims is None else tuple(_dim_value(d) for d in dims)

    @property
    def dims(self):
        return None if self._dims is None else [Dimension(d) for d in self._dims]

    @property
    def ndims(self):
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def as_list(self):
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape")
        return list(self._dims)

    def is_fully_defined(self) -> bool:
        return self._dims is not None and all(d is not None for d in self._dims)

    def assert_is_fully_defined(self) -> None:
        if not self.is_fully_defined():
            raise ValueError(f"Shape {self} is not fully defined")

    def num_elements(self):
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims:
            n *= d
        return n

    def is_compatible_with(self, other) -> bool:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        return len(self._dims) == len(other._dims) and all(
            a.is_compatible_with(b) for a, b in zip(self, other)
        )

    def assert_is_compatible_with(self, other) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def merge_with(self, other) -> "TensorShape":
        other = as_shape(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        self.assert_is_compatible_with(other)
        return TensorShape([a.merge_with(b) for a, b in zip(self, other)])

    def concatenate(self, other) -> "TensorShape":
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return TensorShape(None)
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank) -> "TensorShape":
        if self._dims is not None and len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")
        return self if self._dims is not None else TensorShape([None] * rank)

    def __add__(self, other):
        return self.concatenate(other)

    def __radd__(self, other):
        return as_shape(other).concatenate(self)

    def __len__(self):
        if self._dims is None:
            raise ValueError("Cannot take the length of a shape with unknown rank.")
        return len(self._dims)

    def __iter__(self):
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(Dimension(d) for d in self._dims)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return TensorShape(self._dims[index])
        return Dimension(self._dims[index])

    def __eq__(self, other):
        if isinstance(other, TensorShape):
            return self._dims == other._dims
        try:
            return self._dims == tuple(_dim_value(d) for d in other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self._dims)

    def __repr__(self):
        if self._dims is None:
            return "<unknown>"
        inner = ", ".join("?" if d is None else str(d) for d in self._dims)
        return f"({inner}{',' if len(self._dims) == 1 else ''})"


def as_shape(shape) -> TensorShape:
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


class Tensor:
    """One output of an Operation: ``name`` is ``op_name:index`` as in TensorFlow."""

    # numpy defers to the Tensor's operators (`np.ones(3) * x` is a Tensor, not an array of
    # Tensors).
    __array_priority__ = 100
    __array_ufunc__ = None

    def __init__(self, op: "Operation", index: int, spec: TensorSpec):
        self.op = op
        self.value_index = index
        self.spec = spec
        self._consumers: list = []

    @property
    def name(self) -> str:
        return f"{self.op.name}:{self.value_index}"

    @property
    def graph(self) -> "Graph":
        return self.op.graph

    @property
    def dtype(self):
        return as_dtype(self.spec.dtype)

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self.spec.shape)

    def get_shape(self) -> TensorShape:
        return self.shape

    def set_shape(self, shape) -> None:
        """TF's ``set_shape``: the static shape merged with ``shape`` (TF's ValueError when they
        are incompatible). A host op's output (a dequeue, a decoder's: its value's shape is
        checked where compiled code takes it) is refined; a computed tensor's shape is what its op
        infers, so one that ``shape`` would refine raises ValueError (use tf.reshape)."""
        if not self.shape.is_compatible_with(shape):
            raise ValueError(
                f"Tensor's shape {self.shape} is not compatible with supplied shape "
                f"{as_shape(shape)}"
            )
        merged = self.shape.merge_with(shape)
        dims = None if merged.ndims is None else tuple(merged.as_list())
        if dims == self.spec.shape:
            return
        if getattr(self.op, "host_fn", None) is None:
            raise ValueError(
                f"tgc cannot refine the shape of '{self.name}' ({self.op.type}) from {self.shape} "
                f"to {merged}: compiled ops keep the shapes they infer; use tf.reshape"
            )
        self.spec = TensorSpec(dims, self.spec.dtype)

    @property
    def device(self) -> str:
        return self.op.device

    def consumers(self) -> list:
        return list(self._consumers)

    def eval(self, feed_dict=None, session=None):
        session = session or get_default_session()
        return session.run(self, feed_dict=feed_dict)

    def __repr__(self) -> str:
        return f'<tgc.Tensor "{self.name}" shape={self.shape} dtype={self.spec.dtype}>'

    def __bool__(self):
        raise TypeError(
            f"using tensor '{self.name}' as a Python bool is not allowed: its value exists only "
            "when a Session runs the graph; use tgc.where for a data-dependent choice"
        )


class Operation:
    """A node of the graph: one registry op (or a Placeholder), its inputs, attributes and
    outputs."""

    def __init__(
        self, graph, op_type, name, inputs, attrs, specs, opdef=None, control_inputs=(), device=""
    ):
        self.graph = graph
        self.type = op_type
        self.name = name
        self.opdef = opdef  # the registry name, or None for Placeholder
        self.inputs = list(inputs)
        self.attrs = dict(attrs)
        self.outputs = [Tensor(self, i, s) for i, s in enumerate(specs)]
        self.control_inputs = list(control_inputs)
        self.device = device
        self.location = user_location()
        self.variable = None  # the Variable this op reads or writes, if any
        self.use_locking = (
            False  # an assignment whose read-modify-write runs under the session's lock
        )
        self.host_fn = (
            None  # for host ops (summaries): numpy inputs -> the output value, run by Session
        )
        for t in self.inputs:
            t._consumers.append(self)

    def get_attr(self, key):
        return self.attrs[key]

    def run(self, feed_dict=None, session=None):
        (session or get_default_session()).run(self, feed_dict=feed_dict)

    def __repr__(self) -> str:
        return f'<tgc.Operation "{self.name}" type={self.type}>'


class Graph:
    """A TF1 graph: ops in creation order, unique scoped names, collections, a seed."""

    def __init__(self):
        self._ops: list[Operation] = []
        self._by_name: dict[str, Operation] = {}
        self._name_counts: dict[str, int] = {}
        self._scope = ""
        self._device_stack: list = []  # device strings, functions and None, outermost first
        self._control_stack: list[list] = []
        self._collections: dict[str, list] = {}
        self.seed = None
        self._op_seed_counter = 0
        self._rng_step = None
        self._variable_store = {}
        self._var_scope_stack = []
        self.version = 0

    # ---- names ---------------------------------------------------------------------------------

    def unique_name(self, base: str, mark_as_used: bool = True) -> str:
        if base.endswith("/"):  # an absolute name, as TensorFlow's name scopes allow
            if base[:-1] in self._by_name:
                raise ValueError(f"duplicate op name '{base[:-1]}'")
            return base[:-1]
        full = f"{self._scope}/{base}" if self._scope else base
        count = self._name_counts.get(full, 0)
        name = full if count == 0 else f"{full}_{count}"
        while name in self._by_name or (count and name in self._name_counts):
            count += 1
            name = f"{full}_{count}"
        if mark_as_used:
            self._name_counts[full] = count + 1
            self._name_counts.setdefault(name, 1)
        return name

    @contextlib.contextmanager
    def name_scope(self, name):
        old = self._scope
        if name is None or name == "":
            self._scope = ""
        elif name.endswith("/"):
            self._scope = name[:-1]
        else:
            self._scope = self.unique_name(name)
        try:
            yield self._scope + "/" if self._scope else ""
        finally:
            self._scope = old

    def get_name_scope(self) -> str:
        return self._scope

    # ---- devices and control dependencies ------------------------------------------------------

    @contextlib.contextmanager
    def device(self, device_name_or_function):
        """A device scope, as TF1's: a device string, merged field by field with the enclosing
        scopes (inner fields win); a function, called with each op made in the scope, whose answer
        (a string, a DeviceSpec or None) is the op's device; or None, which clears the enclosing
        scopes."""
        self._device_stack.append(device_name_or_function)
        try:
            yield
        finally:
            self._device_stack.pop()

    def _apply_device_scopes(self, operation) -> None:
        """Innermost scope first, as TF1 does: each string fills the fields still unset, each
        function sees the op with what the inner scopes gave it, and None stops the walk."""
        for scope in reversed(self._device_stack):
            if scope is None:
                break
            if callable(scope):
                operation.device = _device_string(scope(operation))
            else:
                operation.device = _merge_device(scope, operation.device)

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        if control_inputs is None:
            saved, self._control_stack = self._control_stack, []
            try:
                yield
            finally:
                self._control_stack = saved
            return
        ops = [c.op if isinstance(c, Tensor) else c for c in control_inputs]
        self._control_stack.append(ops)
        try:
            yield
        finally:
            self._control_stack.pop()

    # ---- ops -----------------------------------------------------------------------------------

    def create_op(
        self, op_type, base_name, inputs, attrs, specs, opdef=None, name=None
    ) -> Operation:
        name = self.unique_name(name or base_name)
        controls = [c for group in self._control_stack for c in group]
        operation = Operation(self, op_type, name, inputs, attrs, specs, opdef, controls, "")
        self._apply_device_scopes(operation)
        self._ops.append(operation)
        self._by_name[name] = operation
        self.version += 1
        return operation

    def get_operations(self) -> list:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if name not in self._by_name:
            raise KeyError(f"the graph has no operation named '{name}'")
        return self._by_name[name]

    def get_tensor_by_name(self, name: str) -> Tensor:
        if ":" not in name:
            raise ValueError(
                f"'{name}' names an operation, not a tensor; tensor names look like 'op:0'"
            )
        op_name, index = name.rsplit(":", 1)
        operation = self.get_operation_by_name(op_name)
        index = int(index)
        if index >= len(operation.outputs):
            raise KeyError(
                f"operation '{op_name}' has {len(operation.outputs)} outputs; there is no '{name}'"
            )
        return operation.outputs[index]

    def as_graph_element(self, obj):
        if isinstance(obj, (Tensor, Operation)):
            if obj.graph is not self:
                raise ValueError(f"{obj} is not an element of this graph")
            return obj
        if hasattr(obj, "_as_graph_element"):
            return obj._as_graph_element()
        if isinstance(obj, str):
            return self.get_tensor_by_name(obj) if ":" in obj else self.get_operation_by_name(obj)
        raise TypeError(f"cannot fetch {obj!r}: expected a Tensor, an Operation or a name")

    # ---- collections ---------------------------------------------------------------------------

    def add_to_collection(self, name, value):
        self._collections.setdefault(name, []).append(value)

    def get_collection(self, name, scope=None):
        items = list(self._collections.get(name, []))
        if scope:  # TF's rule: the scope is a regular expression matched at the name's start
            pattern = re.compile(scope)
            items = [i for i in items if hasattr(i, "name") and pattern.match(i.name)]
        return items

    def get_collection_ref(self, name):
        return self._collections.setdefault(name, [])

    # ---- random seeds --------------------------------------------------------------------------

    def next_seeds(self, op_seed):
        """TF's seed rule: graph seed and op seed give a reproducible (seed, seed2) pair per op."""
        graph_seed = self.seed
        if graph_seed is None and op_seed is None:
            import random

            return random.getrandbits(31), random.getrandbits(31)
        if graph_seed is None:
            graph_seed = 87654321
        if op_seed is None:
            op_seed = self._op_seed_counter
            self._op_seed_counter += 1
        return int(graph_seed), int(op_seed)

    @contextlib.contextmanager
    def as_default(self):
        _default_graph_stack.append(self)
        try:
            yield self
        finally:
            _default_graph_stack.pop()

    def finalize(self):
        self._finalized = True


def _merge_device(outer: str, inner: str) -> str:
    """Merge a device request into the enclosing one field by field, as TF's device scopes do."""
    from tgc.dialect.devices import DeviceSpec

    return DeviceSpec.from_string(outer).merge(DeviceSpec.from_string(inner)).to_string()


def _device_string(answer) -> str:
    """A device function's answer as a device string: a string, something with ``to_string``
    (a DeviceSpec), or None for no device."""
    if answer is None:
        return ""
    if isinstance(answer, str):
        return answer
    if hasattr(answer, "to_string"):
        return answer.to_string()
    raise TypeError(
        f"a device function returned {answer!r}; expected a device string, a DeviceSpec or None"
    )


_default_graph_stack: list[Graph] = []
_global_graph = [Graph()]
_lock = threading.Lock()


def get_default_graph() -> Graph:
    return _default_graph_stack[-1] if _default_graph_stack else _global_graph[0]


def reset_default_graph():
    if _default_graph_stack:
        raise AssertionError(
            "reset_default_graph cannot be called inside a graph.as_default() block"
        )
    _global_graph[0] = Graph()
