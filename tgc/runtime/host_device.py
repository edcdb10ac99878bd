"""A GPU's launch plan run on the host CPU: each kernel is a host function that loops over the
launch's blocks and threads (tgc-nvptx-kernels-on-host made it), and device memory is host memory.

It runs the nvptx target's schedule, launch plan and runtime without a GPU, so that the random-graph
suite checks them numerically on any machine. A kernel is called through the packed interface
MLIR's ExecutionEngine gives every function: one ``void **`` pointing at each argument value,
which is cuLaunchKernel's kernelParams convention, followed here by the grid and block sizes.
"""

from __future__ import annotations

import ctypes

import numpy as np

_PACKED = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_ALIGNMENT = 64


class HostDevice:
    def __init__(self, kernels: dict, keepalive=None):
        """``kernels``: kernel name -> address of its packed host function."""
        self._kernels = {name: _PACKED(address) for name, address in kernels.items()}
        self._keepalive = keepalive
        self._memory = {}  # pointer -> the numpy array that owns its bytes

    def kernel(self, name: str):
        try:
            return self._kernels[name]
        except KeyError:
            raise ValueError(f"the compiled module has no kernel '{name}'") from None

    def alloc(self, nbytes: int) -> int:
        block = np.empty(max(nbytes, 1) + _ALIGNMENT, dtype=np.uint8)
        pointer = block.ctypes.data + (-block.ctypes.data) % _ALIGNMENT
        self._memory[pointer] = block
        return pointer

    def free(self, pointer: int) -> None:
        self._memory.pop(pointer, None)

    def copy_in(self, pointer: int, array: np.ndarray) -> None:
        ctypes.memmove(pointer, array.ctypes.data, array.nbytes)

    def copy_out(self, pointer: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        ctypes.memmove(out.ctypes.data, pointer, out.nbytes)
        return out

    def copy(self, target: int, source: int, nbytes: int) -> None:
        ctypes.memmove(target, source, nbytes)

    def launch(self, kernel, grid: tuple, block: tuple, params, shared_bytes: int = 0) -> None:
        """Runs ``kernel`` (tgc-nvptx-kernels-on-host's function) over the grid. Its dynamic
        shared memory is a host buffer the function allocates, of the bytes its views take: the
        launch's ``shared_bytes`` came from the same kernel, so it goes unused here."""
        sizes = [ctypes.c_int64(n) for n in (*grid, *block)]
        count = len(params)
        packed = (ctypes.c_void_p * (count + len(sizes)))()
        for i in range(count):
            packed[i] = params[i]
        for i, size in enumerate(sizes):
            packed[count + i] = ctypes.addressof(size)
        kernel(ctypes.addressof(packed))

    def synchronize(self) -> None:
        """Launches run to completion on the calling thread."""
