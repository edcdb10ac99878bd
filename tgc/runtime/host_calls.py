"""The host side of compiled code's callbacks: tensors it sends, the prints it asks for, and the
messages of its failed checks (tf.Assert, tf.check_numerics, tf.gather's index check, integer
division by zero).

Compiled code calls ``tgc_host_callback(action, message, values, count)``
(tgc/lowering/runtime_errors.py ``host_call``), which calls the handler below. ``HOST_TENSOR``
sends one tensor as ``[data address, offset, rank, dims..., strides...]`` (elements, not bytes);
the handler copies it at once, into this thread's list of sent tensors. ``HOST_PRINT`` prints the
tensors sent since the last print as its JSON message says (tf.Print's message and summarize, or
tf.print's pieces, sep, end and stream), then empties the list. A failed tf.Assert sends its data
tensors the same way and then reports ``ASSERTION_FAILED`` through ``tgc_runtime_error``, whose
message (``check_failure_message``) takes them from the list. Each call happens where the op runs
in the compiled program, so prints keep program order, inside loops and conditionals too.

The formatting is TensorFlow's ``Tensor::SummarizeValue``: tf.Print's (the first ``summarize``
elements in row-major order, ``...`` after them) and tf.print's (``summarize`` elements at each end
of every dim).
"""

from __future__ import annotations

import ctypes
import json
import string
import sys
import threading
import traceback

import numpy as np

# Run-time check kinds reported through ``tgc_runtime_error`` (after INCOMPATIBLE_SHAPES = 1 and
# OUT_OF_MEMORY = 2 of tgc/runtime/executable.py).
ASSERTION_FAILED = 3  # tf.Assert: no values; its data tensors were sent through the host callback
NON_FINITE_VALUES = 4  # tf.check_numerics: values: whether the tensor had NaNs, whether it had Infs
INDEX_OUT_OF_RANGE = 5  # tf.gather: values: flat position, index, row count, indices' rank, dims
INTEGER_DIVISION_BY_ZERO = 6  # an integer floordiv (and mod, truncatediv...) by 0: no values
# tf.reshape of a tensor whose size is known at run time only: values: its element count, the
# requested count (with a -1 in the shape: the product of the other dims), whether a -1 was given.
RESHAPE_SIZE_MISMATCH = 7
# An op's bounds checked at run time (a slice's begin and size, an index into an unknown dim, a
# split's sizes): the payload's "message" with {0}, {1}... replaced by the values.
ARGUMENT_OUT_OF_RANGE = 8

# Compiled code calls HOST_CALLBACK(action, message, values, count) with the same arguments as
# tgc_runtime_error; it calls the handler given to SET_HOST_HANDLER, which returns. The actions:
HOST_CALLBACK = "tgc_host_callback"
HOST_HANDLER_GLOBAL = "tgc_host_handler"
SET_HOST_HANDLER = "tgc_set_host_handler"
HOST_TENSOR = 0  # a tensor for the next print or failed assert: [data, offset, rank, dims, strides]
HOST_PRINT = 1  # prints the tensors sent since the last print as the message (JSON) says


class _Sent(threading.local):
    tensors: list

    def __init__(self):
        self.tensors = []


_sent = _Sent()
_first_n_lock = threading.Lock()
_printed_counts: dict = {}  # tf.Print's first_n: (op key) -> prints so far, for this process


# ---- reading a tensor out of compiled code -------------------------------------------------------


def read_tensor(dtype: str, words: list) -> np.ndarray:
    """A copy of the strided tensor ``[address, offset, rank, dims..., strides...]`` of ``dtype``
    (bools travel as one byte each)."""
    address, offset, rank = words[0], words[1], words[2]
    shape = tuple(words[3 : 3 + rank])
    strides = words[3 + rank : 3 + 2 * rank]
    stored = np.dtype(np.uint8 if dtype == "bool" else dtype)
    if 0 in shape:
        return np.zeros(shape, np.dtype(dtype))
    span = 1 + sum((n - 1) * s for n, s in zip(shape, strides))
    block = (ctypes.c_char * (span * stored.itemsize)).from_address(
        address + offset * stored.itemsize
    )
    base = np.frombuffer(block, stored, count=span)
    view = np.lib.stride_tricks.as_strided(base, shape, tuple(s * stored.itemsize for s in strides))
    out = np.array(view)
    return out.astype(bool) if dtype == "bool" else out


# ---- TensorFlow's formatting ---------------------------------------------------------------------


def format_element(value, v2: bool) -> str:
    """One element as TensorFlow's StrCat writes it: %g with 6 digits for a float32 (9 when 6 do
    not read back as the same float), 15 then 17 for a float64; a bool as 1/0 (tf.Print) or
    True/False (tf.print)."""
    if isinstance(value, (bool, np.bool_)):
        return ("True" if value else "False") if v2 else ("1" if value else "0")
    if isinstance(value, (np.floating, float)):
        return _format_float(value)
    return str(int(value))


def _format_float(value) -> str:
    if np.isnan(value):
        return "-nan" if np.signbit(value) else "nan"
    if np.isinf(value):
        return "-inf" if value < 0 else "inf"
    kind = np.asarray(value).dtype
    digits = (6, 9) if kind.itemsize <= 4 else (15, 17)
    text = f"{float(value):.{digits[0]}g}"
    if kind.type(text) != value:
        text = f"{float(value):.{digits[1]}g}"
    return text


def summarize_v1(array: np.ndarray, summarize) -> str:
    """tf.Print's ``SummarizeValue(summarize)``: the first ``summarize`` elements (all when
    negative) in row-major order, nested as the shape says, ``...`` where elements were left."""
    flat = array.reshape(-1)
    limit = flat.size if summarize is None or summarize < 0 else min(summarize, flat.size)
    if array.ndim == 0:
        text = " ".join(format_element(flat[i], False) for i in range(limit))
        return text + ("..." if flat.size > limit else "")
    out: list = []
    position = [0]
    _one_dim_v1(0, array.shape, limit, flat, position, out)
    text = "".join(out)
    return text + ("..." if flat.size > limit else "")


def _one_dim_v1(axis, shape, limit, flat, position, out) -> None:
    if position[0] >= limit:
        return
    if axis == len(shape) - 1:
        for i in range(shape[axis]):
            if position[0] >= limit:
                if axis != 0:
                    out.append("...")
                return
            if i > 0:
                out.append(" ")
            out.append(format_element(flat[position[0]], False))
            position[0] += 1
        return
    for _ in range(shape[axis]):
        opened = position[0] < limit
        if opened:
            out.append("[")
        _one_dim_v1(axis + 1, shape, limit, flat, position, out)
        if position[0] < limit or opened:
            out.append("]")


def summarize_v2(array: np.ndarray, summarize) -> str:
    """tf.print's ``SummarizeValue(summarize, print_v2=true)``: ``summarize`` elements at each end
    of every dim (all when negative), ``...`` between them."""
    if array.ndim == 0:
        return format_element(array.reshape(-1)[0], True)
    ends = max(array.shape) if summarize is None or summarize < 0 else summarize
    out: list = []
    _one_dim_v2(array, ends, out)
    return "".join(out)


def _spacing(axis: int, rank: int) -> str:
    if axis == rank - 1:
        return " "
    return "\n" * (rank - axis - 1) + " " * (axis + 1)


def _one_dim_v2(array, ends, out, axis=0, index=()) -> None:
    rank = array.ndim
    if axis == rank:
        out.append(format_element(array[index], True))
        return
    out.append("[")
    count = array.shape[axis]
    for i in range(min(ends, count)):
        if i > 0:
            out.append(_spacing(axis, rank))
        _one_dim_v2(array, ends, out, axis + 1, index + (i,))
    if count > 2 * ends:
        out.append(_spacing(axis, rank) + "...")
    for i in range(max(ends, count - ends), count):
        out.append(_spacing(axis, rank))
        _one_dim_v2(array, ends, out, axis + 1, index + (i,))
    out.append("]")


# ---- prints --------------------------------------------------------------------------------------


def print_message(spec: dict, tensors: list) -> str | None:
    """The text one print writes (None when tf.Print's first_n is spent)."""
    if spec["style"] == "Print":  # tf.Print: message, then [values] per data tensor
        first_n = spec.get("first_n", -1)
        if first_n is not None and first_n >= 0:
            key = spec["key"]
            with _first_n_lock:
                done = _printed_counts.get(key, 0)
                if done >= first_n:
                    return None
                _printed_counts[key] = done + 1
        values = "".join(f"[{summarize_v1(t, spec.get('summarize', 3))}]" for t in tensors)
        return spec.get("message", "") + values + "\n"
    pieces = []
    for piece in spec["pieces"]:
        if "text" in piece:
            pieces.append(piece["text"])
        else:
            pieces.append(summarize_v2(tensors[piece["tensor"]], spec.get("summarize", 3)))
    return spec.get("sep", " ").join(pieces) + spec.get("end", "\n")


def write(spec: dict, text: str) -> None:
    """Writes to the stream tf.print names: stderr (tf.Print always), stdout, or file://PATH."""
    stream = spec.get("stream", "stderr")
    if stream.startswith("file://"):
        with open(stream[len("file://") :], "a", encoding="utf-8") as f:
            f.write(text)
        return
    target = sys.stdout if stream == "stdout" else sys.stderr
    target.write(text)
    target.flush()


def _handle(action, message, values, count) -> None:
    """The C-callable handler; never lets an exception into compiled code."""
    try:
        facts = json.loads(ctypes.string_at(message).decode("utf-8")) if message else {}
        words = [values[i] for i in range(count)]
        if action == HOST_TENSOR:
            _sent.tensors.append(read_tensor(facts["dtype"], words))
        elif action == HOST_PRINT:
            tensors, _sent.tensors = _sent.tensors, []
            text = print_message(facts, tensors)
            if text is not None:
                write(facts, text)
    except Exception:  # a bug here must not unwind through compiled frames
        traceback.print_exc()


_HANDLER_TYPE = ctypes.CFUNCTYPE(
    None, ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_int64
)
_handler = _HANDLER_TYPE(_handle)


def handler_address() -> int:
    """The address of ``void handler(int64 action, char *message, int64 *values, int64 count)``."""
    return ctypes.cast(_handler, ctypes.c_void_p).value


def take_sent_tensors() -> list:
    tensors, _sent.tensors = _sent.tensors, []
    return tensors


# ---- failed checks -------------------------------------------------------------------------------


class _CheckFormatter(string.Formatter):
    """``{0:inner}`` writes a vector's entries without the brackets ("segment_ids[1,0]")."""

    def format_field(self, value, format_spec):
        if format_spec == "inner":
            return value[1:-1] if value.startswith("[") else value
        return super().format_field(value, format_spec)


def format_check(message: str, tensors) -> str:
    """A failed build.check_op's message: ``{0}``, ``{1}``... replaced by its integer tensors."""
    return _CheckFormatter().format(message, *(format_check_value(t) for t in tensors))


def format_check_value(array) -> str:
    """An integer tensor in a check's message as TensorFlow's kernels write it: a scalar as its
    number ("3"), a vector as a shape ("[2,3]")."""
    array = np.asarray(array)
    if array.ndim == 0:
        return str(array.item())
    return "[" + ",".join(str(v) for v in array.reshape(-1).tolist()) + "]"


def check_failure_message(kind: int, facts: dict, values: tuple) -> str:
    """TensorFlow's InvalidArgumentError text for a failed tf.Assert, check_numerics, gather,
    integer division, reshape or bounds check."""
    if kind == ASSERTION_FAILED:
        tensors = take_sent_tensors()
        if "format" in facts:  # a check in TensorFlow's own words (build.check_op)
            return format_check(facts["format"], tensors)
        parts = []
        for piece in facts.get("data", []):
            if "text" in piece:
                parts.append(f"[{piece['text']}]")
            elif piece["tensor"] < len(tensors):
                parts.append(f"[{summarize_v1(tensors[piece['tensor']], facts.get('summarize'))}]")
        return "assertion failed: " + " ".join(parts)
    if kind == NON_FINITE_VALUES:
        has_nan, has_inf = (bool(v) for v in values[:2])
        status = "Inf and NaN" if has_nan and has_inf else ("NaN" if has_nan else "Inf")
        return f"{facts.get('message', '')} : Tensor had {status} values"
    if kind == INDEX_OUT_OF_RANGE:
        position, index, limit = values[:3]
        dims = values[4 : 4 + values[3]] if len(values) > 3 else ()
        where = ",".join(str(i) for i in np.unravel_index(position, dims)) if dims else position
        return f"indices[{where}] = {index} is not in [0, {limit})"
    if kind == INTEGER_DIVISION_BY_ZERO:
        return "Integer division by zero"
    if kind == ARGUMENT_OUT_OF_RANGE:
        return facts.get("message", "").format(*values)
    if kind == RESHAPE_SIZE_MISMATCH:
        total, wanted, hole = values[:3]
        requested = f"requires a multiple of {wanted}" if hole else f"has {wanted}"
        return (
            f"Input to reshape is a tensor with {total} values, but the requested shape {requested}"
        )
    return f"compiled code failed a run-time check (kind {kind})"
