"""The generated GEMM's separate beta source (Cin) against copy-then-accumulate, in one process.

The two-layer net's w1 update as a default artifact runs it (benchmarks/gemm_codegen.py's
two_layer: w1 1000x100, batch 64): ``w' = w + x^T @ d'`` into a fresh buffer. Before the copy
fold (tgc-blas-matmul) that was ``copy(w, w')`` then the kernel reading and writing w' (beta = 1);
with it, one kernel call reading w as Cin and writing w'. Both call the kernel compiled once per
process (gemm_library.py) on one thread, interleaved, 30 blocks of 200 calls; median us per update.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_cin_update.py
"""

import ctypes
import os
import statistics
import time

import numpy as np

from tgc.lowering.cpu import gemm_kernel, gemm_library, jit


def kernel_function():
    shape = gemm_kernel.shape_for("f32")
    address = gemm_library.kernel_address(shape.symbol, jit.connect_handlers)
    view = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * 5
    scalars = [ctypes.c_bool, ctypes.c_bool, ctypes.c_float, ctypes.c_float]
    return ctypes.CFUNCTYPE(None, *(view * 4), *scalars)(address.value)


def view_words(*arrays) -> list:
    """Each C-contiguous 2-d array as the kernel's memref fields."""
    words = []
    for a in arrays:
        pointer = a.ctypes.data
        words += [pointer, pointer, 0, *a.shape, a.shape[1], 1]
    return words


def main():
    kernel = kernel_function()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1000)).astype(np.float32)
    d = rng.standard_normal((64, 100)).astype(np.float32)
    w = rng.standard_normal((1000, 100)).astype(np.float32)

    def copy_then_accumulate():
        new = np.empty_like(w)
        np.copyto(new, w)
        kernel(*view_words(x, d, new, new), True, False, 1.0, 1.0)
        return new

    def read_cin():
        new = np.empty_like(w)
        kernel(*view_words(x, d, new, w), True, False, 1.0, 1.0)
        return new

    np.testing.assert_allclose(copy_then_accumulate(), read_cin(), rtol=1e-6)
    times = {"copy+accumulate": [], "cin": []}
    for _ in range(30):
        for name, update in (("copy+accumulate", copy_then_accumulate), ("cin", read_cin)):
            start = time.perf_counter()
            for _ in range(200):
                update()
            times[name].append((time.perf_counter() - start) / 200 * 1e6)
    medians = {name: round(statistics.median(ts), 1) for name, ts in times.items()}
    print("us per update", medians, "load", round(os.getloadavg()[0], 2))


if __name__ == "__main__":
    main()
