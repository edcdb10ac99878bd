"""Benchmark: one-row GEMMs (the MLP at batch 1) on tgc's parallel runtime at 1 and 2 threads, and
the MLP 784-1024-1024-10 of benchmarks/harness.py at batch 1, beside numpy at the same counts.

Part 1 calls the runtime's driver (tgc_parallel_gemm_f32, tgc/lowering/cpu/parallel_gemm.py)
through ctypes with prepared arguments, and numpy's matmul with OpenBLAS set to the same count.
Part 2 runs Sessions of the MLP with intra_op_parallelism_threads 1 and 2. All variants run
interleaved in rounds, each call timed in wall-clock time; reported: medians and minimums.

The ThreadScope of a Session takes fewer threads while other processes keep the cores busy
(tgc/runtime/blas_threads.py); ``--ignore-load`` counts every core as free, so that a shared
machine measures the 2-thread code rather than the fallback (then the 2-thread times show what
waking a worker that the scheduler does not run costs).

``--busy N`` runs N busy processes (Python spin loops) meanwhile, for the graceful-degradation
check: a one-row GEMM split between threads must not stall behind a worker the scheduler does not
run (mean and p99 beside the median). ``--no-gemv-split`` builds the runtime with one-row GEMMs on
the calling thread (SERIAL_GEMV past any size): the A/B of the split, in a separate process.

Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemv_threads.py [--rounds 30] \
        [--ignore-load] [--busy 1] [--no-gemv-split] [--mlp-only]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tgc

import harness  # noqa: E402
from parallel_gemm_driver import driver_f32, view_words  # noqa: E402
import tgc as tf  # noqa: E402
from tgc.lowering.cpu import parallel_gemm  # noqa: E402
from tgc.lowering.cpu.tiered import wait_for_optimized_code  # noqa: E402
from tgc.runtime import blas_threads  # noqa: E402

SHAPES = [(1, 1024, 784), (1, 1024, 1024), (1, 10, 1024)]


def driver_calls() -> dict:
    """{(shape, who, threads): call}: the runtime's driver on the generated kernel, and numpy."""
    library, fn, kernel, shape = driver_f32()
    openblas = blas_threads.openblas()
    rng = np.random.default_rng(0)
    calls = {}
    for m, n, k in SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = np.zeros((m, n), np.float32)
        args = (
            kernel,
            *view_words(a),
            *view_words(b),
            *view_words(c),
            *view_words(c),
            False,
            False,
            1.0,
            0.0,
        )
        args += (shape.mr, shape.nr)
        for count in (1, 2):

            def tgc_call(args=args, count=count):
                library.tgc_set_threads(count)
                fn(*args)

            def numpy_call(a=a, b=b, c=c, count=count):
                openblas.set(count)
                np.matmul(a, b, out=c)

            calls[(f"{m}x{n}x{k}", "tgc", count)] = tgc_call
            calls[(f"{m}x{n}x{k}", "numpy", count)] = numpy_call
    return calls


def mlp_calls() -> dict:
    impls = harness.mlp_inference(1)
    build = impls["tgc"].__closure__[0].cell_contents  # harness's tgc_build
    calls = {}
    for count in (1, 2):
        tf.reset_default_graph()
        fetch, feed = build(tf)
        sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=count))
        calls[("mlp b1", "tgc", count)] = lambda sess=sess, fetch=fetch, feed=feed: sess.run(
            fetch, feed
        )
    numpy_fwd = impls["numpy"]()
    openblas = blas_threads.openblas()
    for count in (1, 2):

        def numpy_call(count=count):
            openblas.set(count)
            numpy_fwd()

        calls[("mlp b1", "numpy", count)] = numpy_call
    return calls


@contextlib.contextmanager
def busy_processes(count: int):
    """``count`` processes that never sleep, ended on the way out."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5 if count else 0)  # let the load measure see them
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def report(times: dict, name_width: int = 14) -> None:
    """The load at the end, then per (workload, implementation, threads) the median, mean, p99 and
    minimum in microseconds."""
    with open("/proc/loadavg") as fh:
        print(f"load average at the end: {fh.read().split()[0]}")
    for (what, who, count), samples in times.items():
        us = sorted(s * 1e6 for s in samples)
        median, mean, p99 = statistics.median(us), statistics.fmean(us), us[int(0.99 * len(us))]
        print(
            f"{what:{name_width}s} {who:6s} {count} thread(s): median {median:8.1f} us  mean "
            f"{mean:8.1f}  p99 {p99:8.1f}  min {us[0]:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--ignore-load", action="store_true")
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--no-gemv-split", action="store_true")
    parser.add_argument("--mlp-only", action="store_true")
    args = parser.parse_args()
    if args.ignore_load:
        load = blas_threads.core_load()
        load.free_cores = lambda: float(len(load.cpus))
    if args.no_gemv_split:
        parallel_gemm.SERIAL_GEMV = 1 << 62  # before the runtime is built (its source changes)
    calls = {**({} if args.mlp_only else driver_calls()), **mlp_calls()}
    for call in calls.values():
        call()
    wait_for_optimized_code()
    times = {key: [] for key in calls}
    with busy_processes(args.busy):
        for _ in range(args.rounds):
            for key, call in calls.items():
                for _ in range(3):
                    call()
                for _ in range(args.per_round):
                    start = time.perf_counter()
                    call()
                    times[key].append(time.perf_counter() - start)
    report(times)


if __name__ == "__main__":
    main()
