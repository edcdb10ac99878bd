"""Calls a compiled function through its C interface, passing numpy arrays as memref descriptors.

The compiled ``main`` takes each input as a memref descriptor (allocated, aligned, offset, sizes,
strides) and returns its results as descriptors of buffers it allocated with malloc; we copy each
result into numpy and free the buffer. Descriptors live in int64 arrays that are built once per
executable and only refilled per call, which keeps the per-call overhead to a few microseconds.
"""

from __future__ import annotations

import ctypes

import numpy as np

_libc = ctypes.CDLL(None)
_free = _libc.free
_free.argtypes = [ctypes.c_void_p]
_free.restype = None
_GLOBAL_SENTINEL = 0xDEADBEEF  # MLIR's "allocated" pointer for memrefs of constant globals


def descriptor_words(rank: int) -> int:
    return 3 + 2 * rank


class Executable:
    """One compiled function: ``inputs`` and ``outputs`` are lists of (numpy dtype, rank)."""

    def __init__(self, address: int, inputs: list, outputs: list, keepalive=None):
        self._fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
        self.inputs = [(np.dtype(d), r) for d, r in inputs]
        self.outputs = [(np.dtype(d), r) for d, r in outputs]
        self._keepalive = keepalive
        self._in_offsets = np.cumsum([0] + [descriptor_words(r) for _, r in self.inputs]).tolist()
        self._out_offsets = np.cumsum([0] + [descriptor_words(r) for _, r in self.outputs]).tolist()
        self._in_desc = np.zeros(max(self._in_offsets[-1], 1), np.int64)
        self._out_desc = np.zeros(max(self._out_offsets[-1], 1), np.int64)
        has_result = 1 if self.outputs else 0
        n = has_result + len(self.inputs)
        self._ptrs = np.zeros(max(n, 1), np.uint64)  # MemRef* for each argument
        if has_result:
            self._ptrs[0] = self._out_desc.ctypes.data
        for i, off in enumerate(self._in_offsets[:-1]):
            self._ptrs[has_result + i] = self._in_desc.ctypes.data + 8 * off
        self._packed = np.array([self._ptrs.ctypes.data + 8 * i for i in range(n)] or [0], np.uint64)
        self._packed_address = self._packed.ctypes.data

    def __call__(self, *arrays) -> list:
        if len(arrays) != len(self.inputs):
            raise TypeError(f"expected {len(self.inputs)} inputs but got {len(arrays)}")
        keep = []
        desc = self._in_desc
        for (dtype, rank), off, a in zip(self.inputs, self._in_offsets, arrays):
            a = np.asarray(a, dtype=dtype, order="C")
            keep.append(a)
            p = a.ctypes.data
            desc[off] = p
            desc[off + 1] = p
            desc[off + 2] = 0
            if rank:
                desc[off + 3: off + 3 + rank] = a.shape
                desc[off + 3 + rank: off + 3 + 2 * rank] = [s // a.itemsize for s in a.strides] if a.size else 1
        self._fn(self._packed_address)
        return self._collect({a.ctypes.data for a in keep})

    def _collect(self, input_pointers: set) -> list:
        out, freed = [], set()
        d = self._out_desc
        for (dtype, rank), off in zip(self.outputs, self._out_offsets):
            allocated, aligned, offset = int(d[off]), int(d[off + 1]), int(d[off + 2])
            shape = tuple(int(v) for v in d[off + 3: off + 3 + rank])
            strides = tuple(int(v) * dtype.itemsize for v in d[off + 3 + rank: off + 3 + 2 * rank])
            out.append(_copy_out(aligned + offset * dtype.itemsize, shape, strides, dtype))
            if allocated not in freed and allocated != _GLOBAL_SENTINEL and allocated not in input_pointers:
                freed.add(allocated)
        for pointer in freed:
            if pointer:
                _free(pointer)
        return out


def _copy_out(address: int, shape: tuple, strides: tuple, dtype: np.dtype) -> np.ndarray:
    count = int(np.prod(shape)) if shape else 1
    if count == 0:
        return np.zeros(shape, dtype)
    span = 1 + sum((n - 1) * abs(s) for n, s in zip(shape, strides)) // dtype.itemsize if shape else 1
    buf = (ctypes.c_byte * (span * dtype.itemsize)).from_address(address)
    flat = np.frombuffer(buf, dtype=dtype, count=span)
    return np.lib.stride_tricks.as_strided(flat, shape=shape, strides=strides).copy()
