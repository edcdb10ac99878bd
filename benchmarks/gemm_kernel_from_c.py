"""tgc's generated GEMM kernel against OpenBLAS's sgemm, both called from C, 1 thread.

Times the kernel itself, without Python's call overhead (about 10 us through ctypes, more than the
two-layer net's small GEMMs take): the kernel for the host (gemm_kernel.shape_for("f32")) is built
as gemm_library.py builds its cached copy (opt -O3, llc -O3 -mcpu=native, cc -shared), and a small
C driver dlopens it and numpy's OpenBLAS and calls each 21 blocks of REPS / 21 times, the two
alternating block by block; it prints the median block's time per call (thread CPU time: the
machine may be shared) and the largest difference between the two results. Run from the
repository root:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_kernel_from_c.py \\
        64x100x1000 64x10x100 100x10x64:ta 64x100x10:tb 1000x100x64:ta 2048x2048x2048:reps=21

A shape is MxNxK (C = op(A) @ op(B), C M x N), ``:ta`` / ``:tb`` for a transposed operand
(stored K x M / N x K), ``:reps=R`` for the calls per implementation (default: about 3e10 FLOP).
glibc may trim the heap after the kernel frees its packs and fault them in again on every call
(256 cubed: about 1.4x the time); set MALLOC_TRIM_THRESHOLD_=1000000000 and
MALLOC_MMAP_THRESHOLD_=1000000000 to leave that out.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

DRIVER = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef void (*kernel_fn)(float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *,
                          float *, int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *,
                          int64_t, int64_t, int64_t, int64_t, int64_t, float *, float *, int64_t,
                          int64_t, int64_t, int64_t, int64_t, _Bool, _Bool, float, float);
typedef void (*sgemm_fn)(int, int, int, int64_t, int64_t, int64_t, float, const float *, int64_t,
                         const float *, int64_t, float, float *, int64_t);
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
int main(int argc, char **argv) {
  /* kernel.so symbol openblas.so M N K ta tb reps */
  void *kernel_lib = dlopen(argv[1], RTLD_NOW), *blas = dlopen(argv[3], RTLD_NOW);
  if (!kernel_lib || !blas) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  kernel_fn kernel = (kernel_fn)dlsym(kernel_lib, argv[2]);
  sgemm_fn sgemm = (sgemm_fn)dlsym(blas, "scipy_cblas_sgemm64_");
  void (*threads)(int64_t) = (void (*)(int64_t))dlsym(blas, "scipy_openblas_set_num_threads64_");
  if (!kernel || !sgemm || !threads) { fprintf(stderr, "missing symbol\n"); return 1; }
  threads(1);
  int64_t m = atol(argv[4]), n = atol(argv[5]), k = atol(argv[6]);
  int ta = atoi(argv[7]), tb = atoi(argv[8]), reps = atoi(argv[9]);
  float *a = aligned_alloc(64, 4 * (m * k + 16)), *b = aligned_alloc(64, 4 * (k * n + 16));
  float *c = aligned_alloc(64, 4 * (m * n + 16)), *d = aligned_alloc(64, 4 * (m * n + 16));
  for (int64_t i = 0; i < m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000 - 0.5f;
  for (int64_t i = 0; i < k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000 - 0.5f;
  int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
#define CALL_KERNEL kernel(a, a, 0, a_rows, a_cols, a_cols, 1, b, b, 0, b_rows, b_cols, b_cols, \
                           1, c, c, 0, m, n, n, 1, c, c, 0, m, n, n, 1, ta, tb, 1.0f, 0.0f)
#define CALL_BLAS sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, 1.0f, a, a_cols, b, b_cols, \
                        0.0f, d, n)
  CALL_KERNEL;
  CALL_BLAS;
  double diff = 0;
  for (int64_t i = 0; i < m * n; i++) diff = fmax(diff, fabs(c[i] - d[i]));
  enum { BLOCKS = 21 };
  int per_block = reps / BLOCKS + 1;
  double t_kernel[BLOCKS], t_blas[BLOCKS];
  for (int block = 0; block < BLOCKS; block++) {
    double t0 = now();
    for (int i = 0; i < per_block; i++) CALL_KERNEL;
    double t1 = now();
    for (int i = 0; i < per_block; i++) CALL_BLAS;
    t_kernel[block] = (t1 - t0) / per_block;
    t_blas[block] = (now() - t1) / per_block;
  }
  qsort(t_kernel, BLOCKS, sizeof(double), by_value);
  qsort(t_blas, BLOCKS, sizeof(double), by_value);
  double flop = 2.0 * m * n * k, tk = t_kernel[BLOCKS / 2], tb_ = t_blas[BLOCKS / 2];
  printf("%ldx%ldx%ld%s%s kernel %.2f us %.1f GFLOP/s  openblas %.2f us %.1f GFLOP/s  "
         "kernel/openblas %.2f  max diff %.1e\n", (long)m, (long)n, (long)k, ta ? " ta" : "",
         tb ? " tb" : "", tk * 1e6, flop / tk / 1e9, tb_ * 1e6, flop / tb_ / 1e9, tk / tb_, diff);
  return 0;
}
"""


def openblas_library() -> str:
    import numpy

    site = os.path.dirname(os.path.dirname(numpy.__file__))
    found = sorted(glob.glob(os.path.join(site, "numpy.libs", "libscipy_openblas64_*.so")))
    if not found:
        sys.exit("numpy's scipy-openblas library not found (numpy.libs/libscipy_openblas64_*.so)")
    return found[0]


def build_kernel(path: str) -> str:
    """The host's f32 kernel built into ``path`` as gemm_library.py builds its cached copy;
    returns its symbol."""
    from mlir import ir
    from mlir.passmanager import PassManager

    from tgc.lowering.cpu import gemm_kernel, gemm_library

    shape = gemm_kernel.shape_for("f32")
    with ir.Context(), ir.Location.unknown():
        module = ir.Module.parse(gemm_kernel.gemm_function_text(shape, private=False))
        PassManager.parse(gemm_library.KERNEL_LOWERING).run(module.operation)
        gemm_library._build_library(module, path)
    return shape.symbol


def parse_shape(text: str) -> tuple:
    """ "MxNxK[:ta][:tb][:reps=R]" -> (m, n, k, ta, tb, reps)."""
    size, *flags = text.split(":")
    m, n, k = (int(x) for x in size.split("x"))
    reps = next((int(f[5:]) for f in flags if f.startswith("reps=")), 0)
    reps = reps or max(21, min(20000, int(3e10 / (2 * m * n * k))))
    return m, n, k, int("ta" in flags), int("tb" in flags), reps


def main():
    shapes = [parse_shape(s) for s in sys.argv[1:]] or [parse_shape("1024x1024x1024")]
    with tempfile.TemporaryDirectory(prefix="tgc-gemm-c-") as tmp:
        kernel = os.path.join(tmp, "kernel.so")
        symbol = build_kernel(kernel)
        source, driver = os.path.join(tmp, "driver.c"), os.path.join(tmp, "driver")
        with open(source, "w") as fh:
            fh.write(DRIVER)
        subprocess.run(["cc", "-O2", source, "-o", driver, "-ldl", "-lm"], check=True)
        print(f"kernel {symbol}, load {os.getloadavg()[0]:.1f}", flush=True)
        for m, n, k, ta, tb, reps in shapes:
            args = [kernel, symbol, openblas_library(), m, n, k, ta, tb, reps]
            subprocess.run([driver, *map(str, args)], check=True)


if __name__ == "__main__":
    main()
