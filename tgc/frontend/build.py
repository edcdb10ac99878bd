"""The one way the frontend adds an op: ``make_op`` runs the registry's result rule at build time.

TensorFlow reports shape errors when the graph is built, naming the op and the operand shapes; so do
we. ``convert_to_tensor`` turns Python numbers, lists, numpy arrays and Variables into tensors.
"""

from __future__ import annotations

import json

import numpy as np

from tgc.dialect.registry import REGISTRY, ShapeError, load_all_ops
from tgc.dialect.types import TensorSpec, as_dtype, numpy_dtype
from tgc.graph.graph import Dimension, Graph, Operation, Tensor, get_default_graph, user_location

load_all_ops()


def _shape_list(spec: TensorSpec) -> str:
    if spec.shape is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in spec.shape) + "]"


def _infer(opdef, specs, attrs, name):
    # An operand the op requires to be a scalar is one, whatever rank its placeholder left open (TF1
    # programs write `keep_prob = tf.placeholder(tf.float32)`); the feed is checked at run time.
    specs = [
        TensorSpec((), s.dtype) if s.shape is None and n in opdef.scalar_operands else s
        for s, n in zip(specs, opdef.operands)
    ]
    if any(s.shape is None for s in specs):
        return _infer_unknown_rank(opdef, specs, attrs)
    try:
        return opdef.result_specs(specs, attrs)
    except ShapeError as exc:
        filename, line = user_location()
        shapes = ", ".join(_shape_list(s) for s in specs)
        raise ValueError(
            f"{exc} for '{name}' (op: '{opdef.tf_type}') with input shapes: {shapes} "
            f"[{filename}:{line}]"
        ) from None


def _infer_unknown_rank(opdef, specs, attrs):
    """An operand of unknown rank gives results of unknown rank; the dtype rule still applies."""
    scalars = [TensorSpec((), s.dtype) if s.shape is None else s for s in specs]
    try:
        dtypes = [s.dtype for s in opdef.result_specs(scalars, attrs)]
    except ShapeError:
        dtypes = [specs[0].dtype] * (1 if opdef.results == "variadic" else opdef.results)
    if opdef.name == "gradient":  # d y / d x has x's shape whatever y's rank
        return [specs[1]]
    return [TensorSpec(_shape_from_attrs(opdef, attrs), d) for d in dtypes]


def _shape_from_attrs(opdef, attrs):
    """The result shape of an op whose attributes alone decide it (a reshape: its -1 is the one
    unknown dim), so `tf.reshape(x, [-1])` of an x of unknown rank has rank 1 as in TF; None
    (unknown rank) for every other op."""
    if opdef.name == "reshape":
        return tuple(None if d == -1 else d for d in attrs["shape"])
    return None


def graph_of(values) -> Graph:
    for v in values:
        if isinstance(v, Tensor):
            return v.graph
        if hasattr(v, "_as_graph_element"):
            return v._as_graph_element().graph
    return get_default_graph()


def make_op(opname: str, inputs, name=None, op_type=None, **attrs):
    """Adds a registry op to the graph; returns its output tensor, a list of them, or the
    Operation. ``op_type``: the TF type the op shows (device functions, graph views) when it is
    not the registry's (a variable's first read stands for TF's VariableV2 op)."""
    opdef = REGISTRY[opname]
    tensors = [convert_to_tensor(t) for t in inputs]
    graph = graph_of(tensors)
    for t in tensors:
        if t.graph is not graph:
            raise ValueError(f"{t} must be from the same graph as the other inputs of '{opname}'")
    full = opdef.complete_attrs(attrs)
    scoped = graph.unique_name(name or opdef.tf_type, mark_as_used=False)
    _refuse_strings(opdef, tensors, scoped)
    specs = _infer(opdef, [t.spec for t in tensors], full, scoped)
    if any(s.dtype == "string" for s in specs):
        raise TypeError(
            f"'{scoped}' ({opdef.tf_type}) cannot make a tensor of dtype string: {_NO_STRINGS}"
        )
    operation = graph.create_op(
        op_type or opdef.tf_type, opdef.tf_type, tensors, full, specs, opdef=opname, name=name
    )
    if opdef.results == 0:
        return operation
    if opdef.results == "variadic":
        return list(operation.outputs)
    return operation.outputs[0] if opdef.results == 1 else list(operation.outputs)


_NO_STRINGS = (
    "no tgc op takes strings (a string tensor can be fed, fetched and given to a summary, "
    "never computed on)"
)


def _refuse_strings(opdef, tensors, name) -> None:
    for t in tensors:
        if t.spec.dtype == "string" and t.op.host_fn is not None and t.op.type != "Const":
            raise TypeError(
                f"'{t.op.name}' ({t.op.type}) runs on the host: it can be fetched or merged, "
                f"not used by '{name}' ({opdef.tf_type})"
            )
        if t.spec.dtype == "string":
            raise TypeError(
                f"'{name}' ({opdef.tf_type}) cannot take '{t.name}': '{t.name}' has dtype string; "
                f"{_NO_STRINGS}"
            )


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None) -> Tensor:
    """A Tensor for ``value``: tensors pass through (dtype checked), Variables give their value,
    anything numpy accepts becomes a constant."""
    if isinstance(value, Tensor):
        if dtype is not None and as_dtype(dtype) != value.dtype:
            raise ValueError(
                f"tensor '{value.name}' has dtype {value.dtype.name} but {as_dtype(dtype).name} "
                "was requested"
            )
        return value
    if hasattr(value, "_as_graph_element"):
        return convert_to_tensor(value._as_graph_element(), dtype=dtype)
    if isinstance(value, Operation):
        raise TypeError(f"cannot use operation '{value.name}' as a tensor; it has no value")
    return constant(
        value, dtype=dtype or _default_dtype(value, preferred_dtype), name=name or "Const"
    )


_NUMPY_INTS = ("int8", "int16", "int32", "int64", "uint8")


def _default_dtype(value, preferred=None):
    array = np.asarray(value)
    if preferred is not None:
        pref = as_dtype(preferred)
        if array.dtype.kind in "biu" or (array.dtype.kind == "f" and pref.is_floating):
            return pref
    if array.dtype.kind == "f":
        return (
            "float64"
            if isinstance(value, np.ndarray) and array.dtype == np.float64
            else (array.dtype.name if array.dtype != np.float64 else "float32")
        )
    if array.dtype.kind in "iu":
        if not isinstance(value, (np.ndarray, np.generic)):
            return "int32"  # Python ints, as TF1
        if array.dtype.name not in _NUMPY_INTS:  # a numpy value keeps its dtype, as in TF
            raise TypeError(f"cannot convert {value!r} to a tensor: tgc has no {array.dtype.name}")
        return array.dtype.name
    if array.dtype.kind == "b":
        return "bool"
    raise TypeError(f"cannot convert {value!r} to a tensor")


def _is_text(value) -> bool:
    """Whether ``value`` holds strings: a str or bytes, or an array or list of them (numbers are
    told apart by their numpy dtype, never element by element)."""
    if isinstance(value, (str, bytes)):
        return True
    if not isinstance(value, (np.ndarray, list, tuple)):
        return False
    try:
        array = np.asarray(value)
    except ValueError:  # ragged: not a tensor of either kind
        return False
    if array.dtype.kind in "US":
        return array.size > 0
    return (
        array.dtype.kind == "O"
        and array.size > 0
        and all(isinstance(v, (str, bytes)) for v in array.flat)
    )


def constant(value, dtype=None, shape=None, name="Const", verify_shape=False) -> Tensor:
    """A constant tensor (`tf.constant`); a scalar value with ``shape`` is broadcast to it.
    Strings (``tf.constant('Hello')``) make a host-side string tensor."""
    if isinstance(value, Tensor):
        raise TypeError("tgc.constant takes a Python or numpy value, not a Tensor")
    if (dtype is None and _is_text(value)) or (
        dtype is not None and as_dtype(dtype).name == "string"
    ):
        if shape is not None:
            value = np.broadcast_to(np.asarray(value, dtype=object), tuple(int(d) for d in shape))
        return string_constant(value, name=name)
    dtype = as_dtype(dtype) if dtype is not None else as_dtype(_default_dtype(value))
    array = np.asarray(value)
    if dtype.is_integer and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise TypeError(f"cannot convert {value!r} to {dtype.name} without losing its fractions")
    array = array.astype(numpy_dtype(dtype))
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if array.size == 1:
            array = np.full(shape, array.reshape(()), dtype=array.dtype)
        elif array.size == int(np.prod(shape)) and not verify_shape:
            array = array.reshape(shape)
        else:
            raise ValueError(
                f"constant of shape {array.shape} does not fit the requested shape {list(shape)}"
            )
    return make_op("constant", [], name=name, value=array)


def assert_op(condition, data, summarize=3, name=None) -> Operation:
    """The registry's ``assert``: fails the run with "assertion failed: [text] [values] ..." when
    the scalar bool ``condition`` is false. ``data``: Python strings (texts known now) and tensors
    (sent to the host only when it fails, their first ``summarize`` elements printed)."""
    pieces, tensors = [], []
    for item in data:
        if isinstance(item, str):
            pieces.append({"text": item})
        else:
            pieces.append({"tensor": len(tensors)})
            tensors.append(convert_to_tensor(item))
    spec = json.dumps({"data": pieces, "summarize": int(summarize)}, sort_keys=True)
    return make_op("assert", [convert_to_tensor(condition), *tensors], name=name, spec=spec)


def check_op(condition, message: str, values=(), name=None) -> Operation:
    """A run-time check that fails the run with InvalidArgumentError ``message`` (TensorFlow's
    kernel's own words) when the scalar bool ``condition`` is false: ``{0}``, ``{1}``... in it are
    the integer tensors ``values``, a scalar as its number and a vector as a shape ("[2,3]"),
    ``{0:inner}`` a vector's entries alone ("2,3").
    The registry's ``assert`` with a format instead of tf.Assert's "assertion failed: [...]"."""
    tensors = [convert_to_tensor(v) for v in values]
    pieces = [{"tensor": i} for i in range(len(tensors))]
    spec = json.dumps({"data": pieces, "format": message, "summarize": -1}, sort_keys=True)
    return make_op("assert", [convert_to_tensor(condition), *tensors], name=name, spec=spec)


def string_constant(value, name="Const") -> Tensor:
    """A host-side string tensor (``str``, ``bytes`` or an array of them): strings never reach
    compiled code."""
    array = np.asarray(value, dtype=object)
    array = (
        np.vectorize(lambda s: s if isinstance(s, bytes) else str(s).encode(), otypes=[object])(
            array
        )
        if array.size
        else array
    )
    graph = get_default_graph()
    spec = TensorSpec(array.shape, "string")
    operation = graph.create_op("Const", "Const", [], {}, [spec], name=name)
    operation.host_fn = lambda: array if array.ndim else array.item()
    return operation.outputs[0]


def placeholder(dtype, shape=None, name=None) -> Tensor:
    """A tensor fed at run time (`tf.placeholder`); ``None`` dims (or a ``None`` shape) are
    unknown."""
    graph = get_default_graph()
    dtype = as_dtype(dtype)
    dims = None if shape is None else tuple(_placeholder_dim(d) for d in _dims(shape))
    spec = TensorSpec(dims, dtype.name)
    operation = graph.create_op(
        "Placeholder", "Placeholder", [], {"dtype": dtype.name, "shape": dims}, [spec], name=name
    )
    return operation.outputs[0]


def _placeholder_dim(d):
    """One placeholder dim: None (or a Dimension of None) is unknown; a negative size is TF's
    error."""
    d = getattr(d, "value", d)
    if d is None:
        return None
    if int(d) < 0:
        raise ValueError(f"Dimension {int(d)} must be >= 0")
    return int(d)


def _dims(shape):
    if hasattr(shape, "as_list"):
        return shape.as_list()
    if isinstance(shape, (int, Dimension)):
        return [shape]
    return list(shape)


def placeholder_with_default(input, shape, name=None) -> Tensor:
    """A tensor that is ``input`` unless fed (`tf.placeholder_with_default`)."""
    value = convert_to_tensor(input)
    return make_op("identity", [value], name=name or "PlaceholderWithDefault")
