"""The generated GEMM's parallel runtime on its own (tgc/lowering/cpu/parallel_gemm.py): GEMM
n x n x n f32 through the driver, with the kernel compiled once per machine, at 1 and 2 threads
forced (no ThreadScope: the machine's load decides nothing), against numpy (OpenBLAS) at 1 and 2.

tgc at 1 and 2 threads and numpy at 1 run interleaved; numpy at 2 runs after them, on its own
(OpenBLAS's workers spin after a call and would take the core from whichever came next). GFLOP/s
of the median wall time per call. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/parallel_gemm_driver.py \
        256 1024 2048
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tgc.lowering.cpu import gemm_kernel, gemm_library, jit, parallel_gemm  # noqa: E402
from tgc.runtime import blas_threads  # noqa: E402

VIEW = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * 5
# The f32 driver: kernel, A, B, C, C_in (beta's term), trans A, trans B, alpha, beta, MR, NR.
DRIVER_SIGNATURE = ctypes.CFUNCTYPE(
    None,
    ctypes.c_void_p,
    *(VIEW * 4),
    ctypes.c_bool,
    ctypes.c_bool,
    ctypes.c_float,
    ctypes.c_float,
    ctypes.c_int64,
    ctypes.c_int64,
)


def driver_f32():
    """(the runtime's library, its f32 driver as a ctypes function, the kernel's address, shape)."""
    shape = gemm_kernel.shape_for("f32")
    kernel = gemm_library.kernel_address(shape.symbol, jit.connect_handlers)
    library = parallel_gemm.library()
    if library is None:
        sys.exit(f"no parallel runtime: {parallel_gemm.last_error}")
    address = parallel_gemm.runtime_address(parallel_gemm.driver_symbol("f32"))
    driver = DRIVER_SIGNATURE(address.value)
    return library, driver, kernel, shape


def view_words(x: np.ndarray) -> list:
    return [x.ctypes.data, x.ctypes.data, 0, x.shape[0], x.shape[1], x.shape[1], 1]


def measure(impls: dict, n: int, rounds: int = 9) -> dict:
    """name -> GFLOP/s of the median call, the implementations' order rotating each round."""
    reps = max(3, int(1e9 / (2 * n**3)))
    times = {name: [] for name in impls}
    items = list(impls.items())
    for r in range(rounds):
        for name, fn in items[r % len(items) :] + items[: r % len(items)]:
            fn()
            start = time.perf_counter()
            for _ in range(reps):
                fn()
            times[name].append((time.perf_counter() - start) / reps)
    return {name: round(2 * n**3 / float(np.median(t)) / 1e9) for name, t in times.items()}


def main(sizes: list) -> None:
    library, driver, kernel, shape = driver_f32()
    blas = blas_threads.openblas()
    for n in sizes:
        rng = np.random.default_rng(n)
        a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
        c = np.zeros((n, n), np.float32)
        words = view_words(a) + view_words(b) + view_words(c) + view_words(c)

        def tgc(threads):
            def run():
                library.tgc_set_threads(threads)
                driver(kernel, *words, False, False, 1.0, 0.0, shape.mr, shape.nr)

            return run

        def numpy_at(threads):
            def run():
                blas.set(threads)
                np.matmul(a, b, out=c)

            return run

        first = measure({"tgc@1": tgc(1), "tgc@2": tgc(2), "numpy@1": numpy_at(1)}, n)
        second = measure({"numpy@2": numpy_at(2)}, n)
        print(n, "GFLOP/s", {**first, **second}, "load", round(os.getloadavg()[0], 2))
        tgc(2)()
        np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-3)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [256, 1024, 2048])
