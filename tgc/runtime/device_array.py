"""A tensor that stays in a device's memory between runs: a variable a GPU partition assigned.

The next run of that partition takes it as it is (no copy to the host and back); anything else
(the CPU's code, a checkpoint, ``np.asarray``) sees a numpy array: the first look copies it to the
host once. Its bytes never change (a run writes a variable's new value into a new buffer), and they
go back to the plan's pool when the last reference goes.
"""

from __future__ import annotations

import numpy as np


class DeviceArray:
    def __init__(self, device, pointer: int, shape: tuple, storage: np.dtype, dtype, release):
        """``storage``: the buffer's element type; ``dtype``: the tensor's (a bool tensor is stored
        as bytes); ``release(pointer)`` takes the buffer back."""
        self.device = device
        self.pointer = pointer
        self.shape = tuple(shape)
        self.storage = np.dtype(storage)
        self.dtype = np.dtype(dtype)
        self._release = release
        self._host = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.storage.itemsize

    def numpy(self) -> np.ndarray:
        """The values on the host (copied once; read-only, as the device's bytes never change)."""
        if self._host is None:
            host = self.device.copy_out(self.pointer, self.shape, self.storage)
            host = host.astype(self.dtype, copy=False)
            host.flags.writeable = False
            self._host = host
        return self._host

    def __array__(self, dtype=None, copy=None):
        host = self.numpy()
        if dtype is not None and np.dtype(dtype) != host.dtype:
            return host.astype(dtype)
        return host.copy() if copy else host

    def copy(self) -> np.ndarray:
        return self.numpy().copy()

    def __repr__(self) -> str:
        return (
            f"DeviceArray(shape={self.shape}, dtype={self.dtype}, on {type(self.device).__name__})"
        )

    def __del__(self):
        release, self._release = self._release, None
        if release is not None:
            try:
                release(self.pointer)
            except Exception:  # noqa: BLE001 - at interpreter exit the device may be gone
                pass
