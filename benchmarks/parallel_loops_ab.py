"""Benchmark: the convnet SGD step of benchmarks/harness.py with and without tgc-parallel-loops
(tgc/lowering/cpu/parallel_loops.py: direct convolution, pooling, its gradient and im2col over the
batch on the parallel runtime), at 1 and 2 threads.

"serial loops" sessions are compiled with the pass's loops left as they are (the tags dropped), so
only the GEMMs use the runtime, as before the pass; "serial GEMM loops" ones with only the loops
that call the GEMM left (the im2col conv's per-image loops), as before nested calls were allowed.
All six sessions run in one process, interleaved in rounds of a block of steps each; each step is
timed in wall-clock time, process CPU time (all threads) and the calling thread's CPU time (what
the workers did not take off it).
Reported: medians.

The ThreadScope of a Session takes fewer threads while other processes keep the cores busy;
``--ignore-load`` counts every core as free (a shared machine then measures the 2-thread code).

Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/parallel_loops_ab.py \\
        [--rounds 10] [--ignore-load] [--conv2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tgc

import harness  # noqa: E402
import tgc as tf  # noqa: E402
from tgc.dialect.ir_helpers import all_ops  # noqa: E402
from tgc.lowering.cpu import parallel_loops  # noqa: E402
from tgc.lowering.cpu.tiered import wait_for_optimized_code  # noqa: E402
from tgc.runtime import blas_threads  # noqa: E402

_OUTLINE = parallel_loops.ParallelLoopsPass.run
_SERIAL = ["parallel loops"]  # the kind of session being compiled: which loops stay serial


def _calls(loop) -> bool:
    return any(op.name in ("func.call", "llvm.call") for op in all_ops(loop))


def _run_pass(self, module) -> None:
    for op in all_ops(module.operation):
        if parallel_loops.PARALLEL_FOR not in op.attributes:
            continue
        # "serial GEMM loops": as before loops that call the GEMM were outlined (the im2col
        # conv's per-image loops; its filter gradient's parts then run one after the other)
        if _SERIAL[0] == "serial loops" or (_SERIAL[0] == "serial GEMM loops" and _calls(op)):
            del op.attributes[parallel_loops.PARALLEL_FOR]
    _OUTLINE(self, module)


def _conv2_build(tf):
    """The convnet's second conv layer alone (batch 32, 14x14x32, 5x5x32x64, bias, relu): its
    forward and both gradients, the per-image im2col loops."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 14, 14, 32)).astype(np.float32)
    gy = rng.standard_normal((32, 14, 14, 64)).astype(np.float32)
    xp = tf.placeholder(tf.float32, [None, 14, 14, 32])
    gp = tf.placeholder(tf.float32, [None, 14, 14, 64])
    w = tf.Variable((rng.standard_normal((5, 5, 32, 64)) / 20).astype(np.float32))
    b = tf.Variable(np.zeros(64, np.float32))
    y = tf.nn.relu(tf.nn.conv2d(xp, w, strides=[1, 1, 1, 1], padding="SAME") + b)
    gx, gw = tf.gradients(y, [xp, w], grad_ys=gp)
    return [y, gx, gw], {xp: x, gp: gy}


def _step(threads: int, kind: str, conv2: bool = False):
    build = harness.convnet_step()["tgc"].__closure__[0].cell_contents  # harness's tgc_build
    build = _conv2_build if conv2 else build
    _SERIAL[0] = kind
    tf.reset_default_graph()
    fetch, feed = build(tf)
    sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads))
    sess.run(tf.global_variables_initializer())
    # compiles now, with the pass set as asked; the second run queues the optimizing compile
    # (tiered.TIER_UP_AT_CALL), which main() waits for before timing
    for _ in range(3):
        sess.run(fetch, feed)
    return lambda: sess.run(fetch, feed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=5)
    parser.add_argument("--ignore-load", action="store_true")
    parser.add_argument(
        "--conv2", action="store_true", help="the second conv layer alone instead of the step"
    )
    args = parser.parse_args()
    if args.ignore_load:
        load = blas_threads.core_load()
        load.free_cores = lambda: float(len(load.cpus))
    parallel_loops.ParallelLoopsPass.run = _run_pass
    steps = {
        (threads, kind): _step(threads, kind, args.conv2)
        for threads in (1, 2)
        for kind in ("serial loops", "serial GEMM loops", "parallel loops")
    }
    wait_for_optimized_code()
    samples = {key: [] for key in steps}
    for _ in range(args.rounds):
        for key, step in steps.items():
            step()
            for _ in range(args.per_round):
                wall, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
                step()
                ends = time.perf_counter(), time.process_time(), time.thread_time()
                samples[key].append((ends[0] - wall, ends[1] - cpu, ends[2] - own))
    with open("/proc/loadavg") as fh:
        print(f"load average at the end: {fh.read().split()[0]}")
    what = "conv2 layer" if args.conv2 else "convnet step"
    for (threads, kind), values in samples.items():
        wall, cpu, own = (statistics.median(v[i] for v in values) * 1e3 for i in range(3))
        print(
            f"{what}, {threads} thread(s), {kind:17s}: wall {wall:6.2f} ms  "
            f"process CPU {cpu:6.2f} ms  calling thread CPU {own:6.2f} ms"
        )


if __name__ == "__main__":
    main()
