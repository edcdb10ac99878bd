"""The parallel runtime's GEMM split against another revision's: GEMM n x n x n f32 through each
revision's driver (tgc/lowering/cpu/parallel_gemm.py's runtime built from that revision's source)
with this tree's kernel, threads forced (no ThreadScope), interleaved rounds, then numpy (OpenBLAS)
on its own (its workers spin after a call). Per implementation: GFLOP/s of the median wall time per
call and the median process CPU time per call (what the threads spent, repacking and polling
included: less sensitive than wall time to the machine's other load). Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/parallel_split_ab.py \
        --base HEAD --threads 2 256 1024 2048
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tgc.lowering.cpu import gemm_kernel, gemm_library, jit, parallel_gemm  # noqa: E402
from tgc.runtime import blas_threads  # noqa: E402

from parallel_gemm_driver import DRIVER_SIGNATURE  # noqa: E402


def runtime_source_at(revision: str) -> str:
    """parallel_gemm.runtime_source() of ``revision``'s parallel_gemm.py."""
    text = subprocess.run(
        ["git", "show", f"{revision}:tgc/lowering/cpu/parallel_gemm.py"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(text)
    spec = importlib.util.spec_from_file_location("parallel_gemm_base", fh.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.unlink(fh.name)
    return module.runtime_source()


def build(source: str, directory: str, name: str):
    """(library, f32 driver) of ``source`` compiled as parallel_gemm._build does."""
    c_file, so = os.path.join(directory, f"{name}.c"), os.path.join(directory, f"{name}.so")
    Path(c_file).write_text(source)
    exported = '-DTGC_DRIVER_API=__attribute__((visibility("default")))'
    command = [parallel_gemm.c_compiler(), "-shared", "-fPIC", "-O2", "-pthread", exported]
    subprocess.run([*command, "-o", so, c_file], check=True)
    library = ctypes.CDLL(so)
    return library, DRIVER_SIGNATURE(
        ctypes.cast(library.tgc_parallel_gemm_f32, ctypes.c_void_p).value
    )


def measure(impls: dict, n: int, rounds: int) -> dict:
    """name -> (GFLOP/s of the median call, median process CPU ms per call), the order
    rotating."""
    reps = max(3, int(1e9 / (2 * n**3)))
    walls = {name: [] for name in impls}
    cpus = {name: [] for name in impls}
    items = list(impls.items())
    for r in range(rounds):
        for name, fn in items[r % len(items) :] + items[: r % len(items)]:
            fn()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(reps):
                fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            walls[name].append(wall / reps)
            cpus[name].append(cpu / reps)
    return {
        name: (
            round(2 * n**3 / float(np.median(walls[name])) / 1e9),
            round(1e3 * float(np.median(cpus[name])), 2),
        )
        for name in impls
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[256, 1024, 2048])
    parser.add_argument("--base", default="HEAD", help="the revision to compare with")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    shape = gemm_kernel.shape_for("f32")
    kernel = gemm_library.kernel_address(shape.symbol, jit.connect_handlers)
    blas = blas_threads.openblas()
    with tempfile.TemporaryDirectory() as tmp:
        runtimes = {
            f"base@{args.threads}": build(runtime_source_at(args.base), tmp, "base"),
            f"new@{args.threads}": build(parallel_gemm.runtime_source(), tmp, "new"),
        }
        for n in args.sizes:
            rng = np.random.default_rng(n)
            a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
            c = np.zeros((n, n), np.float32)
            words = [
                w for x in (a, b, c, c)
                for w in (x.ctypes.data, x.ctypes.data, 0, n, n, n, 1)
            ]  # fmt: skip

            def tgc(library, driver):
                def run():
                    library.tgc_set_threads(args.threads)
                    driver(kernel, *words, False, False, 1.0, 0.0, shape.mr, shape.nr)

                return run

            impls = {name: tgc(*runtime) for name, runtime in runtimes.items()}
            found = measure(impls, n, args.rounds)
            for name, run in impls.items():
                c[:] = 0
                run()
                np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-3, err_msg=name)

            def numpy_run():
                blas.set(args.threads)
                np.matmul(a, b, out=c)

            if blas is not None:
                found.update(measure({f"numpy@{args.threads}": numpy_run}, n, args.rounds))
            load = round(os.getloadavg()[0], 2)
            print(n, "GFLOP/s, process CPU ms per call:", found, "load", load, flush=True)


if __name__ == "__main__":
    main()
