"""Calls a compiled function through its C interface, passing numpy arrays as memref descriptors.

The compiled ``main`` takes each input as a memref descriptor (allocated, aligned, offset, sizes,
strides) and returns its results as descriptors of buffers it allocated with malloc. Results are
handed out without a copy: each becomes a numpy array over its malloc'ed buffer, and the buffer is
freed when the last array using it goes away. Descriptors live in one int64 buffer per direction,
packed with ``struct`` in one call per argument, which keeps a call's overhead to a few microseconds.
"""

from __future__ import annotations

import ctypes
import struct

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
        in_words = [descriptor_words(r) for _, r in self.inputs]
        out_words = [descriptor_words(r) for _, r in self.outputs]
        self._in_desc = (ctypes.c_int64 * max(sum(in_words), 1))()
        self._out_desc = (ctypes.c_int64 * max(sum(out_words), 1))()
        self._in_view = memoryview(self._in_desc).cast("B")
        # (dtype, rank, byte offset of the descriptor, struct format) per input
        self._in_plan = [(d, r, 8 * o, struct.Struct(f"={w}q"))
                         for (d, r), o, w in zip(self.inputs, _offsets(in_words), in_words)]
        self._out_format = struct.Struct(f"={max(sum(out_words), 1)}q")
        self._out_plan = [(d, r, o) for (d, r), o in zip(self.outputs, _offsets(out_words))]
        has_result = 1 if self.outputs else 0
        n = has_result + len(self.inputs)
        self._ptrs = (ctypes.c_void_p * max(n, 1))()  # MemRef* for each argument
        if has_result:
            self._ptrs[0] = ctypes.addressof(self._out_desc)
        for i, (_, _, byte_offset, _) in enumerate(self._in_plan):
            self._ptrs[has_result + i] = ctypes.addressof(self._in_desc) + byte_offset
        base = ctypes.addressof(self._ptrs)
        self._packed = (ctypes.c_void_p * max(n, 1))(*[base + 8 * i for i in range(n)])
        self._packed_address = ctypes.addressof(self._packed)

    def __call__(self, *arrays) -> list:
        if len(arrays) != len(self.inputs):
            raise TypeError(f"expected {len(self.inputs)} inputs but got {len(arrays)}")
        keep, pointers = [], set()
        for (dtype, rank, byte_offset, packer), a in zip(self._in_plan, arrays):
            if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
                a = np.asarray(a, dtype=dtype, order="C")
            keep.append(a)  # alive until the call returns
            p = _address(a)
            pointers.add(p)
            strides = [s // a.itemsize for s in a.strides] if a.size else [1] * rank
            packer.pack_into(self._in_view, byte_offset, p, p, 0, *a.shape, *strides)
        self._fn(self._packed_address)
        return self._collect(pointers)

    def _collect(self, input_pointers: set) -> list:
        words = self._out_format.unpack_from(self._out_desc)
        owners: dict = {}
        out = []
        for dtype, rank, o in self._out_plan:
            allocated, aligned, offset = words[o], words[o + 1], words[o + 2]
            shape = words[o + 3: o + 3 + rank]
            strides = tuple(s * dtype.itemsize for s in words[o + 3 + rank: o + 3 + 2 * rank])
            address = aligned + offset * dtype.itemsize
            if allocated == _GLOBAL_SENTINEL or allocated in input_pointers or not allocated:
                # A constant global or a caller's array: never ours to free, so copy it out.
                out.append(_copy_out(address, shape, strides, dtype))
                continue
            if allocated in owners:  # a second result over the same buffer: fetched arrays never alias
                out.append(_copy_out(address, shape, strides, dtype))
                continue
            owners[allocated] = owner = _MallocBlock(allocated)
            out.append(owner.view(address, shape, strides, dtype))
        return out


def _address(array: np.ndarray) -> int:
    """The data pointer of an array (from_buffer is several times faster than ``array.ctypes.data``)."""
    try:
        return _addressof(_char_from_buffer(array))
    except (TypeError, ValueError):  # a read-only or unusual buffer
        return array.ctypes.data


_addressof = ctypes.addressof
_char_from_buffer = ctypes.c_char.from_buffer


class _MallocBlock:
    """A buffer the compiled code malloc'ed for a result; freed when no array uses it any more.

    The block exposes the result through ``__array_interface__``, so numpy wraps it in one call and
    keeps the block as the array's base (about 3x cheaper than a ctypes buffer plus ``frombuffer``).
    """

    __slots__ = ("pointer", "__array_interface__")

    def __init__(self, pointer: int):
        self.pointer = pointer

    def __del__(self):
        _free(self.pointer)

    def view(self, address: int, shape: tuple, strides: tuple, dtype: np.dtype) -> np.ndarray:
        """The result as an array over this block (a copy when the layout is not row-major)."""
        view = _strided_view(address, shape, strides, dtype, memory=self)
        return view if view.flags.c_contiguous else view.copy()


class _Borrowed:
    """Memory that is not ours (a constant global, a caller's array), seen through numpy for a copy."""

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


def _strided_view(address: int, shape: tuple, strides: tuple, dtype: np.dtype, memory=None) -> np.ndarray:
    """An array over memory at ``address`` (no copy); ``memory`` (a _MallocBlock) becomes its base and so
    lives as long as the array."""
    for n in shape:
        if n == 0:
            return np.zeros(shape, dtype)
    memory = memory if memory is not None else _Borrowed()
    memory.__array_interface__ = {
        "data": (address, False),
        "shape": shape,
        "strides": None if _is_c_contiguous(shape, strides, dtype.itemsize) else strides,
        "typestr": dtype.str,
        "version": 3,
    }
    return np.asarray(memory)


def _copy_out(address: int, shape: tuple, strides: tuple, dtype: np.dtype) -> np.ndarray:
    """A copy of the array at ``address``; the memory is not ours to keep."""
    return _strided_view(address, shape, strides, dtype).copy()
