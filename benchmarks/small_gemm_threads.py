"""Benchmark: the harness's small 2-thread workloads (GEMM 256 and the MLP 784-1024-1024-10 at
batch 1) as Sessions at intra_op_parallelism_threads 1 and 2, beside numpy (OpenBLAS) at 1 and 2.

Each implementation runs in blocks of steps (as benchmarks/harness.py does: a library's workers
poll after a call, so a block starts after a pause), the blocks interleaved in rounds, every step
timed in wall-clock time. Reported per implementation: median, mean, p99 and minimum, and for
tgc's 2-thread Sessions how many runs had which thread counts: OpenBLAS's (the ThreadScope lowers
it while other processes keep the cores busy) and the generated GEMM's runtime's (which keeps the
scope's: tgc/runtime/blas_threads.py).

``--busy N`` runs N busy processes (Python spin loops) meanwhile: the graceful-degradation check
(mean and p99 against the quiet run's). ``--half-busy N`` runs N processes that spin 2 ms and sleep
2 ms in turn (half a core each: another user's light job). ``--ignore-load`` counts every core as
free for every run (what the runtime's own 2-thread code costs on a busy machine). Run from the
repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/small_gemm_threads.py \
        [--rounds 10] [--block 30] [--busy 1] [--half-busy 1] [--ignore-load] [--only gemm|mlp]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, gemv_threads
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tgc

import harness  # noqa: E402
import gemv_threads  # noqa: E402
from gemv_threads import busy_processes  # noqa: E402

import tgc as tf  # noqa: E402
from tgc.lowering.cpu.tiered import wait_for_optimized_code  # noqa: E402
from tgc.runtime import blas_threads  # noqa: E402

# Per 2-thread run: (OpenBLAS's count, the count tgc's generated GEMM's runtime had).
RUNTIME_COUNTS: list = []


def record_runtime_counts() -> None:
    """Each 2-thread run's counts go to RUNTIME_COUNTS from now on."""
    enter = blas_threads.ThreadScope.__enter__

    def recording_enter(scope):
        result = enter(scope)
        if scope.limit == 2:
            RUNTIME_COUNTS.append((scope.threads, scope.runtime_threads))
        return result

    blas_threads.ThreadScope.__enter__ = recording_enter


def workload_calls(name: str) -> dict:
    """{(workload, who, threads): step}: tgc Sessions at 1 and 2 threads, numpy at 1 and 2."""
    impls = harness.gemm(256) if name == "gemm" else harness.mlp_inference(1)
    build = impls["tgc"].__closure__[0].cell_contents  # harness's tgc_build
    label = "GEMM 256" if name == "gemm" else "MLP b1"
    calls = {}
    for count in (1, 2):
        tf.reset_default_graph()
        fetch, feed = build(tf)
        config = tf.ConfigProto(intra_op_parallelism_threads=count)
        sess = tf.Session(config=config)
        sess.run(tf.global_variables_initializer())
        calls[(label, "tgc", count)] = lambda s=sess, f=fetch, d=feed: s.run(f, d)
    numpy_step = impls["numpy"]()
    openblas = blas_threads.openblas()
    for count in (1, 2):

        def numpy_call(count=count):
            openblas.set(count)
            numpy_step()

        calls[(label, "numpy", count)] = numpy_call
    return calls


HALF_BUSY = """
import time
while True:
    end = time.perf_counter() + 0.002
    while time.perf_counter() < end:
        pass
    time.sleep(0.002)
"""


@contextlib.contextmanager
def half_busy_processes(count: int):
    """``count`` processes each using about half a core, ended on the way out."""
    spinners = [subprocess.Popen([sys.executable, "-c", HALF_BUSY]) for _ in range(count)]
    try:
        time.sleep(0.5 if count else 0)  # let the load measure see them
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def measure(calls: dict, rounds: int, block: int) -> dict:
    times = {key: [] for key in calls}
    order = list(calls.items())
    for r in range(rounds):
        order = order[1:] + order[:1]  # a different implementation starts each round
        for key, call in order:
            time.sleep(0.1)  # OpenBLAS's workers go to sleep, tgc's too
            call()
            for _ in range(block):
                t = time.perf_counter()
                call()
                times[key].append(time.perf_counter() - t)
    return times


def report(times: dict) -> None:
    gemv_threads.report(times, name_width=9)
    counts = collections.Counter(RUNTIME_COUNTS)
    print(f"tgc 2-thread runs by (OpenBLAS, tgc runtime) count: {dict(sorted(counts.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=30)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--half-busy", type=int, default=0)
    parser.add_argument("--ignore-load", action="store_true")
    parser.add_argument("--only", choices=("gemm", "mlp"))
    args = parser.parse_args()
    if args.ignore_load:
        load = blas_threads.core_load()
        load.free_cores = lambda: float(len(load.cpus))
    calls = {}
    for name in ("gemm", "mlp"):
        if args.only in (None, name):
            calls.update(workload_calls(name))
    for call in calls.values():
        call()
    wait_for_optimized_code()
    record_runtime_counts()
    with busy_processes(args.busy), half_busy_processes(args.half_busy):
        times = measure(calls, args.rounds, args.block)
    report(times)


if __name__ == "__main__":
    main()
