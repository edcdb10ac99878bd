"""The rendezvous where a send's tensor meets its recv, and the C callbacks compiled code calls.

Compiled partitions call ``_mlir_ciface_tgc_send_<dtype>_<rank>(key_id, MemRef*)`` and
``_mlir_ciface_tgc_recv_<dtype>_<rank>(MemRef* result, key_id)``; this module provides them as
ctypes callbacks bound to a TransferHub. A recv blocks until its send has happened, with bounded
waits: when every running partition is waiting for a tensor that nobody can still send, that is a
deadlock and the run is aborted with an error naming the keys, never a hang.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from tgc.runtime.errors import InvalidArgumentError
from tgc.runtime.executable import _copy_out

_libc = ctypes.CDLL(None)
_malloc = _libc.malloc
_malloc.argtypes = [ctypes.c_size_t]
_malloc.restype = ctypes.c_void_p

SEND = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p)
RECV = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)


class RendezvousError(RuntimeError):
    pass


class Rendezvous:
    """One step's mailbox: key_id -> tensor, with waiting partitions counted for deadlock
    detection."""

    def __init__(self, keys: dict, running: int, timeout: float):
        self.keys = keys  # key_id -> key text, for messages
        self.values: dict = {}
        self.cond = threading.Condition()
        self.running = running
        self.waiting: set = set()
        self.error: Exception | None = None
        self.timeout = timeout

    def send(self, key_id: int, value: np.ndarray) -> None:
        with self.cond:
            if key_id in self.values:
                raise RendezvousError(
                    f"tensor '{self.keys.get(key_id)}' was sent twice in one step"
                )
            self.values[key_id] = value
            self.cond.notify_all()

    def recv(self, key_id: int) -> np.ndarray | None:
        """The sent tensor, or None when the run was aborted (the caller then parks)."""
        with self.cond:
            self.waiting.add(key_id)
            try:
                while key_id not in self.values and self.error is None:
                    # Waiters whose tensor has arrived but who have not woken yet are not stuck.
                    stuck = [k for k in self.waiting if k not in self.values]
                    if len(stuck) >= self.running:
                        names = sorted(self.keys.get(k, str(k)) for k in stuck)
                        self.abort(
                            RendezvousError(
                                f"deadlock: every partition waits for a tensor: {names}"
                            )
                        )
                        break
                    if not self.cond.wait(timeout=self.timeout):
                        self.abort(
                            RendezvousError(
                                f"timed out after {self.timeout} s "
                                f"waiting for '{self.keys.get(key_id)}'"
                            )
                        )
                        break
            finally:
                self.waiting.discard(key_id)
            return None if self.error is not None else self.values[key_id]

    def finished(self) -> None:
        """A partition ended: one fewer that could still send."""
        with self.cond:
            self.running -= 1
            self.cond.notify_all()

    def abort(self, error: Exception) -> None:
        with self.cond:
            if self.error is None:
                self.error = error
            self.cond.notify_all()


class TransferHub:
    """Callbacks for one compiled module; ``current`` is the rendezvous of the step being run."""

    def __init__(self):
        self.current: Rendezvous | None = None
        self._callbacks: dict = {}

    def callback(self, kind: str, dtype: np.dtype, rank: int):
        """The ctypes function for ``tgc_<kind>_<dtype>_<rank>``; kept alive by the hub."""
        key = (kind, dtype.str, rank)
        if key not in self._callbacks:
            make = self._send if kind == "send" else self._recv
            self._callbacks[key] = make(np.dtype(dtype), rank)
        return self._callbacks[key]

    def _send(self, dtype, rank):
        def send(key_id, descriptor):
            words = np.frombuffer(
                (ctypes.c_int64 * (3 + 2 * rank)).from_address(descriptor), np.int64
            )
            shape = tuple(int(v) for v in words[3 : 3 + rank])
            strides = tuple(int(v) * dtype.itemsize for v in words[3 + rank : 3 + 2 * rank])
            value = _copy_out(int(words[1]) + int(words[2]) * dtype.itemsize, shape, strides, dtype)
            try:
                self.current.send(int(key_id), value)
            except RendezvousError as exc:
                self.current.abort(exc)

        return SEND(send)

    def _recv(self, dtype, rank):
        def recv(result, key_id):
            value = self.current.recv(int(key_id))
            if value is None:
                _park_forever()
            mismatch = _mismatch(np.asarray(value), dtype, rank)
            if mismatch:
                # Raising here would only be printed by ctypes, and the caller would go on with
                # an unwritten descriptor: abort the run instead, before writing anything.
                key = self.current.keys.get(int(key_id), str(key_id))
                self.current.abort(
                    InvalidArgumentError(f"the tensor received as '{key}' is {mismatch}")
                )
                _park_forever()
            value = np.asarray(value, dtype=dtype, order="C")
            buffer = _malloc(max(value.nbytes, 1))  # owned by the compiled code, which frees it
            ctypes.memmove(buffer, value.ctypes.data, value.nbytes)
            words = (ctypes.c_int64 * (3 + 2 * rank)).from_address(result)
            words[0] = words[1] = buffer
            words[2] = 0
            strides = [s // dtype.itemsize for s in value.strides] if value.size else [1] * rank
            for i in range(rank):
                words[3 + i] = value.shape[i]
                words[3 + rank + i] = strides[i]

        return RECV(recv)


def _mismatch(value: np.ndarray, dtype: np.dtype, rank: int) -> str:
    """What makes ``value`` unfit for a recv compiled for ``dtype`` and ``rank`` ('' if nothing).
    A float of another width converts (a device may hold float64 as float32); bools travel as
    bytes."""
    kinds = {value.dtype.kind, dtype.kind}
    bytes_for_bools = "b" in kinds and min(value.dtype.itemsize, dtype.itemsize) == 1
    if value.ndim == rank and (len(kinds) == 1 or bytes_for_bools):
        return ""
    return (
        f"{value.dtype} of shape {list(value.shape)}, but the function was compiled for "
        f"{dtype} of rank {rank}"
    )


def _park_forever():
    """An aborted run: this partition's thread can never return a value, so it waits for ever
    (it is a daemon thread; the runner has already reported the error)."""
    threading.Event().wait()
