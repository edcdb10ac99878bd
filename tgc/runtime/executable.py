"""Calls a compiled function through its C interface, passing numpy arrays as memref descriptors.

The compiled ``main`` takes each input as a memref descriptor (allocated, aligned, offset, sizes,
strides) and returns its results as descriptors of buffers it allocated with malloc. Results are
handed out without a copy: each becomes a numpy array over its malloc'ed buffer, and the buffer is
freed when the last array using it goes away. Descriptors live in one int64 buffer per direction.

Two paths do that. ``tgc.runtime._fastcall``, a small C extension built at install, packs, calls and
wraps in one C call; the Python path below (``struct`` packing, ctypes, ``__array_interface__``)
runs where the extension was not built (no compiler; ``TGC_PURE_PYTHON_CALLS=1`` forces it) and for
inputs the C path leaves to it (conversions, views, read-only arrays it would write). With caches
cold, as between the steps of different libraries, the Python path cost about 125 us more per call
than the bare call on a tiny graph; the C path removes most of that.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import threading

import numpy as np

from tgc.runtime import errors, host_calls

try:
    from tgc.runtime import _fastcall
except ImportError:  # built without a C compiler: the Python path does the same work
    _fastcall = None
if os.environ.get("TGC_PURE_PYTHON_CALLS"):
    _fastcall = None

_libc = ctypes.CDLL(None)
_free = _libc.free
_free.argtypes = [ctypes.c_void_p]
_free.restype = None
_GLOBAL_SENTINEL = 0xDEADBEEF  # MLIR's "allocated" pointer for memrefs of constant globals


# Run-time errors (tgc/lowering/runtime_errors.py): compiled code calls ERROR_FUNCTION, which calls
# the handler given to the module's SET_ERROR_HANDLER (kept in ERROR_HANDLER_GLOBAL) with one of
# these kinds.
ERROR_FUNCTION = "tgc_runtime_error"
ERROR_HANDLER_GLOBAL = "tgc_error_handler"
SET_ERROR_HANDLER = "tgc_set_error_handler"
INCOMPATIBLE_SHAPES = 1  # values: operand count, then each operand's rank and dims
OUT_OF_MEMORY = 2  # values: the dims of the tensor that could not be allocated
# The checks that report through the same function, and the host callback (prints, the data of a
# failed assertion), are tgc/runtime/host_calls.py's.
from tgc.runtime.host_calls import (  # noqa: E402
    ARGUMENT_OUT_OF_RANGE,
    ASSERTION_FAILED,
    INDEX_OUT_OF_RANGE,
    INTEGER_DIVISION_BY_ZERO,
    NON_FINITE_VALUES,
    RESHAPE_SIZE_MISMATCH,
)


def descriptor_words(rank: int) -> int:
    return 3 + 2 * rank


class Executable:
    """One compiled function: ``inputs`` and ``outputs`` are lists of (numpy dtype, rank).

    ``in_place`` maps an output's index to the index of the input it may be written into (a variable
    the function assigns, left writable for bufferization): when the function returns that input's
    own buffer, the output is the array that was passed in, not a copy of it.
    """

    # Whether the code may run work on other threads (OpenBLAS, tgc's parallel runtime), which a
    # ThreadScope around each call sizes; the loader that knows the code's calls says False
    # (tgc/lowering/cpu/jit.py calls_thread_pools).
    uses_threads = True

    def __init__(self, address: int, inputs: list, outputs: list, keepalive=None, in_place=None):
        in_place = in_place or {}
        self._address = address
        self._fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
        self.inputs = [(np.dtype(d), r) for d, r in inputs]
        self.outputs = [(np.dtype(d), r) for d, r in outputs]
        self._keepalive = keepalive
        in_words = [descriptor_words(r) for _, r in self.inputs]
        out_words = [descriptor_words(r) for _, r in self.outputs]
        self._in_desc = (ctypes.c_int64 * max(sum(in_words), 1))()
        self._out_desc = (ctypes.c_int64 * max(sum(out_words), 1))()
        self._in_view = memoryview(self._in_desc).cast("B")
        # (dtype, byte offset of the descriptor, struct format, row-major strides of a shape,
        # written in place) per input
        targets = set(in_place.values())
        self._in_plan = [
            (d, 8 * o, struct.Struct(f"={w}q"), _row_major_strides(r), i in targets)
            for i, ((d, r), o, w) in enumerate(zip(self.inputs, _offsets(in_words), in_words))
        ]
        self._out_format = struct.Struct(f"={max(sum(out_words), 1)}q")
        # Results are row-major: the pipeline bufferizes function results to identity layouts. The
        # interface dict of each result slot is reused: numpy reads it once, when it wraps the
        # block.
        self._out_plan = [
            (d, d.itemsize, r, o, {"typestr": _typestr(d), "version": 3}, in_place.get(i))
            for i, ((d, r), o) in enumerate(zip(self.outputs, _offsets(out_words)))
        ]
        has_result = 1 if self.outputs else 0
        n = has_result + len(self.inputs)
        self._ptrs = (ctypes.c_void_p * max(n, 1))()  # MemRef* for each argument
        if has_result:
            self._ptrs[0] = ctypes.addressof(self._out_desc)
        for i, (_, byte_offset, _, _, _) in enumerate(self._in_plan):
            self._ptrs[has_result + i] = ctypes.addressof(self._in_desc) + byte_offset
        base = ctypes.addressof(self._ptrs)
        self._packed = (ctypes.c_void_p * max(n, 1))(*[base + 8 * i for i in range(n)])
        self._packed_address = ctypes.addressof(self._packed)
        self._lock = threading.Lock()
        # What the C path needs, in word offsets: see tgc/runtime/_fastcall.c.
        self._c_plan = (
            None
            if _fastcall is None
            else (
                address,
                tuple(
                    (d, r, o, i in targets)
                    for i, ((d, r), o) in enumerate(zip(self.inputs, _offsets(in_words)))
                ),
                tuple(
                    (d, r, o, in_place.get(i, -1))
                    for i, ((d, r), o) in enumerate(zip(self.outputs, _offsets(out_words)))
                ),
            )
        )

    def retarget(self, address: int, keepalive) -> None:
        """Calls the code at ``address`` from now on: another compile of the same function (a tiered
        JIT's optimized code), with the same signature and results. The previous code stays alive
        with this executable: a call on another thread may still be running it."""
        self._keepalive = (self._keepalive, keepalive)
        self._fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
        self._address = address
        if self._c_plan is not None:
            self._c_plan = (address, *self._c_plan[1:])

    def __call__(self, *arrays) -> list:
        if self._c_plan is not None:
            try:
                out = _fastcall.call(self._c_plan, arrays)
            except _fastcall.Failure as failure:
                raise runtime_error(*failure.args) from None
            if out is not None:
                return out
        if len(arrays) != len(self.inputs):
            raise TypeError(f"expected {len(self.inputs)} inputs but got {len(arrays)}")
        with self._lock:  # one descriptor buffer per Executable: one call at a time on this path
            return self._call_python(arrays)

    def _call_python(self, arrays) -> list:
        passed, pointers = [], []  # the arrays as passed (conversions alive until the call returns)
        view = self._in_view
        for (dtype, byte_offset, packer, strides, written), a in zip(self._in_plan, arrays):
            if type(a) is not np.ndarray or a.dtype != dtype:
                a = np.asarray(a, dtype=dtype, order="C")
            # A writable row-major block: the common case, without asking for the array's flags.
            try:
                p = _addressof(_char_from_buffer(a))
            except (TypeError, ValueError):
                a, p = _row_major_address(a, written)
            passed.append(a)
            pointers.append(p)
            shape = a.shape
            packer.pack_into(view, byte_offset, p, p, 0, *shape, *strides(shape))
        call_packed(self._fn, self._address, self._packed_address)
        return self._collect(pointers, passed)

    def _collect(self, input_pointers: list, passed: list) -> list:
        words = self._out_format.unpack_from(self._out_desc)
        owners = []
        out = []
        for dtype, itemsize, rank, o, interface, source in self._out_plan:
            allocated = words[o]
            shape = words[o + 3 : o + 3 + rank]
            address = words[o + 1] + words[o + 2] * itemsize
            if (
                source is not None
                and allocated == address == input_pointers[source]
                and allocated not in owners
            ):
                owners.append(allocated)  # updated in place: the caller's array is the result
                out.append(passed[source])
                continue
            if (
                allocated == _GLOBAL_SENTINEL
                or not allocated
                or allocated in input_pointers
                or allocated in owners
            ):
                # A constant global or a caller's array is never ours to free, and a second result
                # over one buffer must not alias the first: copy those out.
                strides = tuple(x * itemsize for x in words[o + 3 + rank : o + 3 + 2 * rank])
                out.append(_copy_out(address, shape, strides, dtype))
                continue
            owners.append(allocated)
            block = _MallocBlock(allocated)
            if 0 in shape:
                out.append(np.zeros(shape, dtype))
                continue
            interface["data"] = (address, False)
            interface["shape"] = shape
            block.__array_interface__ = interface
            array = _asarray(block)
            out.append(array if array.dtype == dtype else array.view(dtype))
        return out


_asarray = np.asarray


# ---- run-time errors -----------------------------------------------------------------------------


def library_setter_name(prefix: str, what: str) -> str:
    """``<prefix>_set_<what>`` (what: "error_handler", "threads"): the setter an artifact exports
    under its C prefix (`tgc compile --name`). Unlike ``tgc_set_<what>``, which a process holding
    two tgc libraries resolves to the first one's, it reaches this library's own state."""
    return f"{prefix}_set_{what}"


def own_setter_names(prefix: str | None, what: str) -> list:
    """The names to find a library's setter by, its own first: ``<prefix>_set_<what>``, then
    ``tgc_set_<what>`` (libraries built before the prefixed setters; a cluster's library)."""
    own = [library_setter_name(prefix, what)] if prefix else []
    return own + [library_setter_name("tgc", what)]


def install_error_handler(setter_address: int) -> None:
    """Gives a compiled library's ``void tgc_set_error_handler(void *)`` (at ``setter_address``) the
    runtime's handler."""
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(setter_address)(error_handler_address())


def install_error_handler_packed(packed_setter_address: int, handler_address: int = 0) -> None:
    """The same through the JIT's packed wrapper of ``tgc_set_error_handler`` (arguments by
    pointer); ``handler_address``: another handler that forwards to the runtime's (0: the
    runtime's own)."""
    handler = ctypes.c_void_p(handler_address or error_handler_address())
    arguments = (ctypes.c_void_p * 1)(ctypes.addressof(handler))
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(packed_setter_address)(ctypes.addressof(arguments))


def install_host_handler(setter_address: int) -> None:
    """Gives a compiled library's ``void tgc_set_host_handler(void *)`` the runtime's host callback
    (prints, the data of failed assertions)."""
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(setter_address)(host_calls.handler_address())


def install_host_handler_packed(packed_setter_address: int) -> None:
    """The same through the JIT's packed wrapper of ``tgc_set_host_handler``."""
    handler = ctypes.c_void_p(host_calls.handler_address())
    arguments = (ctypes.c_void_p * 1)(ctypes.addressof(handler))
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(packed_setter_address)(ctypes.addressof(arguments))


def call_packed(fn, address: int, packed_address: int) -> None:
    """Calls a compiled function's C interface (``fn``, its ctypes function at ``address``) with its
    packed arguments; a check that fails inside raises its error here."""
    if _fastcall is not None:
        try:
            _fastcall.call_packed(address, packed_address)
        except _fastcall.Failure as failure:
            raise runtime_error(*failure.args) from None
        return
    _python_errors.failure = None
    fn(packed_address)
    failure, _python_errors.failure = _python_errors.failure, None
    if failure is not None:
        raise runtime_error(*failure)


def raise_pending_error() -> None:
    """After a call made without a guard (an artifact's entry point called by ctypes, where the C
    extension is not built or the entry point has more arguments than its trampoline passes): raises
    what a check recorded. Such a call cannot be unwound: its broadcast checks keep it within its
    buffers, but a failed allocation or a size out of range (runtime_errors.FATAL_KINDS) ends the
    process."""
    if _fastcall is not None:
        failure = _fastcall.take_error()
    else:
        failure, _python_errors.failure = _python_errors.failure, None
    if failure is not None:
        raise runtime_error(*failure)


def runtime_error(kind: int, message: str, values: tuple) -> errors.OpError:
    """The TensorFlow error for a failed check: ``message`` is the check's JSON, ``values`` its
    numbers."""
    try:
        facts = json.loads(message) if message else {}
    except ValueError:
        facts = {}
    node = facts.get("node", "")
    where = f"\n\t [[node {node} ]]" if node else ""
    if kind == INCOMPATIBLE_SHAPES:
        shapes = _shapes(values)
        return errors.InvalidArgumentError(
            None, None, "Incompatible shapes: " + " vs. ".join(shapes) + where
        )
    if kind in (
        ASSERTION_FAILED,
        NON_FINITE_VALUES,
        INDEX_OUT_OF_RANGE,
        INTEGER_DIVISION_BY_ZERO,
        RESHAPE_SIZE_MISMATCH,
        ARGUMENT_OUT_OF_RANGE,
    ):
        return errors.InvalidArgumentError(
            None, None, host_calls.check_failure_message(kind, facts, values) + where
        )
    if kind == OUT_OF_MEMORY:
        shape = "[" + ",".join(str(v) for v in values) + "]"
        device = facts.get("device") or "/job:localhost/replica:0/task:0/device:CPU:0"
        return errors.ResourceExhaustedError(
            None,
            None,
            f"OOM when allocating tensor with shape{shape} "
            f"and type {facts.get('dtype', 'unknown')} "
            f"on {device} by allocator cpu{where}",
        )
    return errors.InternalError(
        None, None, f"compiled code failed a run-time check (kind {kind}){where}"
    )


def _shapes(values: tuple) -> list:
    """'[4,3]' per operand from (count, rank, dims..., rank, dims...)."""
    out, i = [], 1
    for _ in range(values[0] if values else 0):
        rank = values[i]
        out.append("[" + ",".join(str(d) for d in values[i + 1 : i + 1 + rank]) + "]")
        i += 1 + rank
    return out


class _PythonErrors(threading.local):
    failure = None


_python_errors = _PythonErrors()


def _record_failure(kind, message, values, count):
    """The handler without the C extension: records the error, which the call raises once the
    compiled code returns (its checks keep it within its buffers; an allocation that failed cannot
    be survived)."""
    text = ctypes.string_at(message).decode("utf-8", "replace") if message else ""
    _python_errors.failure = (kind, text, tuple(values[i] for i in range(count)))


_HANDLER_TYPE = ctypes.CFUNCTYPE(
    None, ctypes.c_int64, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_int64
)
_python_handler = _HANDLER_TYPE(_record_failure)


def error_handler_address() -> int:
    """The address of the runtime's ``void handler(int64 kind, char *message, int64 *values, int64
    count)``."""
    if _fastcall is not None:
        return _fastcall.handler_address()
    return ctypes.cast(_python_handler, ctypes.c_void_p).value


def _typestr(dtype: np.dtype) -> str:
    """The array-interface type of ``dtype``; an extension dtype that numpy cannot name there
    (ml_dtypes' bfloat16 reads back as raw bytes) is wrapped as the unsigned int of its size, then
    viewed as itself."""
    return dtype.str if np.dtype(dtype.str) == dtype else np.dtype(f"u{dtype.itemsize}").str


def _row_major_strides(rank: int):
    """shape -> the element strides of a row-major array of that shape (specialised for small
    ranks)."""
    if rank == 0:
        return lambda shape: ()
    if rank == 1:
        return lambda shape: (1,)
    if rank == 2:
        return lambda shape: (shape[1], 1)
    if rank == 3:
        return lambda shape: (shape[1] * shape[2], shape[2], 1)

    def strides(shape):
        out, step = [], 1
        for n in reversed(shape):
            out.append(step)
            step *= n
        return out[::-1]

    return strides


def _row_major_address(array: np.ndarray, written: bool):
    """(array, data pointer) for an array ctypes would not take as a writable block: a view that is
    not row-major becomes a row-major copy, a read-only array is copied only when the function may
    write into it, and an empty one is passed as it is. (``from_buffer`` is several times faster
    than ``array.ctypes.data``, so the common case never comes here.)"""
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    elif written and not array.flags.writeable:
        array = array.copy()
    return array, array.ctypes.data


_addressof = ctypes.addressof
_char_from_buffer = ctypes.c_char.from_buffer


class _MallocBlock:
    """A buffer the compiled code malloc'ed for a result; freed when no array uses it any more.

    ``Executable._collect`` sets the block's ``__array_interface__`` and lets numpy wrap it: the
    array keeps the block as its base, and wrapping costs about a third of a ctypes buffer plus
    ``frombuffer``.
    """

    __slots__ = ("pointer", "__array_interface__")

    def __init__(self, pointer: int):
        self.pointer = pointer

    def __del__(self):
        _free(self.pointer)


class _Borrowed:
    """Memory that is not ours (a constant global, a caller's array), seen through numpy for a
    copy."""

    __slots__ = ("__array_interface__",)


def _is_c_contiguous(shape, strides, itemsize) -> bool:
    expected = itemsize
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def _offsets(words: list) -> list:
    out, total = [], 0
    for w in words:
        out.append(total)
        total += w
    return out


def _copy_out(address: int, shape: tuple, strides: tuple, dtype: np.dtype) -> np.ndarray:
    """A copy of the array at ``address`` (byte ``strides``); the memory is not ours to keep."""
    if 0 in shape:
        return np.zeros(shape, dtype)
    memory = _Borrowed()
    memory.__array_interface__ = {
        "data": (address, False),
        "shape": tuple(shape),
        "strides": None if _is_c_contiguous(shape, strides, dtype.itemsize) else tuple(strides),
        "typestr": _typestr(dtype),
        "version": 3,
    }
    return np.array(memory, copy=True).view(dtype)
