"""Debugging from compiled code: tf.Print, tf.print, check_numerics, tf.Assert and the assert_*
family (the ops: tgc/dialect/ops/debug.py; how compiled code calls back: tgc/runtime/host_calls.py).

Strings among the data (Python strings, string constants) are known when the graph is built: they
travel in the op's JSON spec, and only tensors are sent from compiled code when the op runs. The
assert_* functions check at build time what TensorFlow checks there (both values constant, a known
rank or dtype), and otherwise build a run-time tf.Assert with TensorFlow's data.
"""

from __future__ import annotations

import itertools
import json
import sys

import numpy as np

from tgc.dialect.types import as_dtype
from tgc.errors import InvalidArgumentError
from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import assert_op, constant, convert_to_tensor, make_op
from tgc.frontend.control import control_dependencies, group
from tgc.graph.graph import Tensor, get_default_graph

_PRINT_KEYS = itertools.count()  # tf.Print's first_n counts per op (its kernel's counter)


# ---- data: text known now, tensors sent at run time ---------------------------------------------


def _static_text(item):
    """The text of a Python string or a string constant; None for anything computed."""
    if isinstance(item, bytes):
        return item.decode("utf-8", "replace")
    if isinstance(item, str):
        return item
    if isinstance(item, Tensor) and item.dtype.name == "string":
        host_fn = getattr(item.op, "host_fn", None)
        if item.op.type == "Const" and host_fn is not None:
            value = host_fn()
            if isinstance(value, bytes):
                return value.decode("utf-8", "replace")
            return " ".join(v.decode("utf-8", "replace") for v in np.asarray(value).reshape(-1))
        raise TypeError(f"'{item.name}' is a string computed on the host: it cannot be printed")
    return None


def _pieces(data) -> tuple:
    """(pieces for the spec, the tensors to send): a piece is {"text": ...} or {"tensor": k}."""
    pieces, tensors = [], []
    for item in data:
        text = _static_text(item)
        if text is not None:
            pieces.append({"text": text})
            continue
        pieces.append({"tensor": len(tensors)})
        tensors.append(convert_to_tensor(item))
    return pieces, tensors


# ---- printing ------------------------------------------------------------------------------------


def Print(input_, data, message=None, first_n=None, summarize=None, name=None):
    """`tf.Print`: returns ``input_``; when it runs, writes ``message`` then ``[values]`` of each of
    ``data`` to stderr (the first ``summarize`` elements, 3 by default; only the first ``first_n``
    runs of this op when given)."""
    pieces, tensors = _pieces(data)
    spec = {
        "style": "Print",
        "message": message or "",
        "pieces": pieces,
        "first_n": -1 if first_n is None else int(first_n),
        "summarize": 3 if summarize is None else int(summarize),
        "key": f"Print-{next(_PRINT_KEYS)}",
    }
    return make_op(
        "print",
        [convert_to_tensor(input_), *tensors],
        name=name or "Print",
        spec=json.dumps(spec, sort_keys=True),
    )


def _stream_name(output_stream) -> str:
    """Where tf.print writes, by name: the stream is looked up when the op runs (so a
    replaced sys.stderr, as under pytest's capture, gets the text)."""
    if output_stream is None or output_stream in (sys.stderr, sys.__stderr__, "stderr"):
        return "stderr"
    if output_stream in (sys.stdout, sys.__stdout__, "stdout"):
        return "stdout"
    if isinstance(output_stream, str) and output_stream.startswith("file://"):
        return output_stream
    raise ValueError(
        f"Unsupported output stream, logging level, or file.{output_stream}. "
        "Supported streams are sys.stdout, sys.stderr, and 'file://' paths"
    )


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """`tf.print`: an op that writes ``inputs`` joined by ``sep``, then ``end``, when it runs
    (fetch it, or make it a control dependency); ``summarize`` elements at each end of every dim
    (-1 or None: all). ``output_stream``: sys.stderr (the default), sys.stdout or "file://PATH"."""
    pieces, tensors = [], []
    for item in inputs:
        if isinstance(item, (Tensor, np.ndarray)) or hasattr(item, "_as_graph_element"):
            more, sent = _pieces([item])
            pieces += [
                dict(p, tensor=p["tensor"] + len(tensors)) if "tensor" in p else p for p in more
            ]
            tensors += sent
        else:
            pieces.append({"text": item if isinstance(item, str) else str(item)})
    spec = {
        "style": "print",
        "pieces": pieces,
        "sep": sep,
        "end": end,
        "summarize": -1 if summarize is None else int(summarize),
        "stream": _stream_name(output_stream),
    }
    anchor = tensors[0] if tensors else constant(0, name="print_anchor")
    out = make_op(
        "print",
        [anchor, *tensors],
        name=name or "PrintV2",
        spec=json.dumps(spec, sort_keys=True),
    )
    return out.op


# ---- check_numerics ------------------------------------------------------------------------------

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def check_numerics(tensor, message, name=None):
    """`tf.debugging.check_numerics`: ``tensor``, failing the run with InvalidArgumentError
    ("``message`` : Tensor had NaN values") when it holds a NaN or an Inf."""
    return make_op(
        "check_numerics",
        [convert_to_tensor(tensor)],
        name=name or "CheckNumerics",
        message=str(message),
    )


def add_check_numerics_ops():
    """`tf.add_check_numerics_ops`: a check_numerics of every float output of the graph, chained by
    control dependencies as TensorFlow does, grouped into one op to fetch."""
    graph = get_default_graph()
    checks = []
    for op in list(graph.get_operations()):
        for output in op.outputs:
            if output.dtype.name in _FLOATS:
                with control_dependencies(checks):
                    checks = [check_numerics(output, message=f"{op.name}:{output.value_index}")]
    return group(*checks)


# ---- assertions ----------------------------------------------------------------------------------


def Assert(condition, data, summarize=None, name=None):
    """`tf.Assert`: an op that fails the run with InvalidArgumentError ("assertion failed: [data]
    ...", the first ``summarize`` elements of each tensor, 3 by default) when the scalar bool
    ``condition`` is false."""
    items = [item if (text := _static_text(item)) is None else text for item in data]
    return assert_op(
        condition, items, summarize=3 if summarize is None else summarize, name=name or "Assert"
    )


def _constant_value(t):
    """The value of a constant tensor (None when computed or fed)."""
    if isinstance(t, Tensor) and t.op.type == "Const" and "value" in t.op.attrs:
        return np.asarray(t.op.attrs["value"])
    return None


def _assert_static(holds: bool, data) -> None:
    """TensorFlow raises at build time when the condition is known to be false."""
    if not holds:
        lines = []
        for item in data:
            value = _constant_value(item) if isinstance(item, Tensor) else None
            lines.append(str(value) if value is not None else str(item))
        raise InvalidArgumentError(None, None, "\n".join(lines))


def _message_prefix(message) -> str:
    return f"{message}.  " if message else ""


def _binary_assert(symbol, scope, compare, static_compare, x, y, data, summarize, message, name):
    graph = get_default_graph()
    with graph.name_scope(name or scope):
        x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, name="y")
        if data is None:
            data = [
                f"Condition x {symbol} y did not hold element-wise:",
                f"x ({x.name}) = ",
                x,
                f"y ({y.name}) = ",
                y,
            ]
        if message is not None:
            data = [message] + list(data)
        x_static, y_static = _constant_value(x), _constant_value(y)
        if x_static is not None and y_static is not None:
            _assert_static(bool(np.all(static_compare(x_static, y_static))), data)
        condition = math_ops.reduce_all(compare(x, y))
        return Assert(condition, data, summarize=summarize)


def assert_equal(x, y, data=None, summarize=None, message=None, name=None):
    return _binary_assert(
        "==", "assert_equal", math_ops.equal, np.equal, x, y, data, summarize, message, name
    )


def assert_none_equal(x, y, data=None, summarize=None, message=None, name=None):
    return _binary_assert(
        "!=",
        "assert_none_equal",
        math_ops.not_equal,
        np.not_equal,
        x,
        y,
        data,
        summarize,
        message,
        name,
    )


def assert_less(x, y, data=None, summarize=None, message=None, name=None):
    return _binary_assert(
        "<", "assert_less", math_ops.less, np.less, x, y, data, summarize, message, name
    )


def assert_less_equal(x, y, data=None, summarize=None, message=None, name=None):
    return _binary_assert(
        "<=",
        "assert_less_equal",
        math_ops.less_equal,
        np.less_equal,
        x,
        y,
        data,
        summarize,
        message,
        name,
    )


def assert_greater(x, y, data=None, summarize=None, message=None, name=None):
    return _binary_assert(
        ">", "assert_greater", math_ops.greater, np.greater, x, y, data, summarize, message, name
    )


def assert_greater_equal(x, y, data=None, summarize=None, message=None, name=None):
    return _binary_assert(
        ">=",
        "assert_greater_equal",
        math_ops.greater_equal,
        np.greater_equal,
        x,
        y,
        data,
        summarize,
        message,
        name,
    )


def _sign_assert(scope, condition_text, against_zero, x, data, summarize, message, name):
    """assert_positive and its kin: TensorFlow's data, then a comparison with zero."""
    message = _message_prefix(message)
    with get_default_graph().name_scope(name or scope):
        x = convert_to_tensor(x, name="x")
        if data is None:
            data = [message, f"Condition {condition_text} did not hold element-wise:"]
            data += [f"x ({x.name}) = ", x]
        zero = constant(0, dtype=x.dtype)
        return against_zero(x, zero, data, summarize)


def assert_positive(x, data=None, summarize=None, message=None, name=None):
    return _sign_assert(
        "assert_positive",
        "x > 0",
        lambda x, zero, d, s: assert_less(zero, x, data=d, summarize=s),
        x,
        data,
        summarize,
        message,
        name,
    )


def assert_non_negative(x, data=None, summarize=None, message=None, name=None):
    return _sign_assert(
        "assert_non_negative",
        "x >= 0",
        lambda x, zero, d, s: assert_less_equal(zero, x, data=d, summarize=s),
        x,
        data,
        summarize,
        message,
        name,
    )


def assert_negative(x, data=None, summarize=None, message=None, name=None):
    return _sign_assert(
        "assert_negative",
        "x < 0",
        lambda x, zero, d, s: assert_less(x, zero, data=d, summarize=s),
        x,
        data,
        summarize,
        message,
        name,
    )


def assert_non_positive(x, data=None, summarize=None, message=None, name=None):
    return _sign_assert(
        "assert_non_positive",
        "x <= 0",
        lambda x, zero, d, s: assert_less_equal(x, zero, data=d, summarize=s),
        x,
        data,
        summarize,
        message,
        name,
    )


def assert_rank(x, rank, data=None, summarize=None, message=None, name=None):
    """`tf.assert_rank`: a ValueError now when x's rank is known and differs; a run-time check when
    it is not (a placeholder of unknown rank)."""
    with get_default_graph().name_scope(name or "assert_rank"):
        x = convert_to_tensor(x, name="x")
        expected = int(rank)
        known = x.spec.rank
        if known is not None:
            if known != expected:
                prefix = _message_prefix(message)
                shape = tuple(x.spec.shape)
                raise ValueError(
                    f"{prefix}Tensor {x.name} must have rank {expected}.  "
                    f"Received rank {known}, shape {shape}"
                )
            return group(name="static_checks_determined_all_ok")
        if data is None:
            data = [
                message or "",
                f"Tensor {x.name} must have rank",
                expected,
                "Received shape: ",
                array_ops.shape(x),
            ]
        condition = math_ops.equal(array_ops.rank(x), constant(expected))
        return Assert(condition, data, summarize=summarize)


def assert_type(tensor, tf_type, message=None, name=None):
    """`tf.assert_type`: a TypeError now when ``tensor``'s dtype is not ``tf_type``; else a
    no-op."""
    tensor = convert_to_tensor(tensor)
    expected = as_dtype(tf_type)
    if tensor.dtype != expected:
        prefix = _message_prefix(message)
        raise TypeError(
            f"{prefix}{tensor.name} must be of type tf.{expected.name}; got tf.{tensor.dtype.name}"
        )
    return group(name=name or "statically_determined_correct_type")


def assert_integer(x, message=None, name=None):
    x = convert_to_tensor(x)
    if not x.dtype.is_integer:
        prefix = _message_prefix(message)
        raise TypeError(f"{prefix}Expected integer type for tensor {x.name}, got: {x.dtype.name}")
    return group(name=name or "statically_determined_was_integer")


def assert_scalar(tensor, name=None, message=None):
    tensor = convert_to_tensor(tensor)
    if tensor.spec.rank is not None and tensor.spec.rank != 0:
        prefix = _message_prefix(message)
        shape = tuple(tensor.spec.shape)
        raise ValueError(f"{prefix}Expected scalar shape for {tensor.name}, saw shape: {shape}.")
    return tensor


class _Debugging:
    """`tf.debugging`: the checks and prints by their TF2-style names."""

    Assert = staticmethod(Assert)
    check_numerics = staticmethod(check_numerics)
    assert_equal = staticmethod(assert_equal)
    assert_none_equal = staticmethod(assert_none_equal)
    assert_less = staticmethod(assert_less)
    assert_less_equal = staticmethod(assert_less_equal)
    assert_greater = staticmethod(assert_greater)
    assert_greater_equal = staticmethod(assert_greater_equal)
    assert_positive = staticmethod(assert_positive)
    assert_non_negative = staticmethod(assert_non_negative)
    assert_negative = staticmethod(assert_negative)
    assert_non_positive = staticmethod(assert_non_positive)
    assert_rank = staticmethod(assert_rank)
    assert_type = staticmethod(assert_type)
    assert_integer = staticmethod(assert_integer)
    assert_scalar = staticmethod(assert_scalar)


debugging = _Debugging()

__all__ = [
    "Assert",
    "Print",
    "add_check_numerics_ops",
    "check_numerics",
    "debugging",
    "print_",
]
