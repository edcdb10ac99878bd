"""The MLP 784-1024-1024-10 inference at batch 256 with and without the GEMM epilogue fusion
(tgc-gemm-epilogue), in one process, interleaved.

Two graphs: harness.py's workload 3b exactly (its biases are zeros, which tgc-fold removes, so what
fuses is relu into the first two GEMMs) and the same net with nonzero biases (bias + relu into the
first two, the bias into the last). Each is compiled twice, once as the pipeline stands ("fused")
and once with tgc-gemm-epilogue turned into a no-op during the compile ("unfused": the GEMM writes
C, then a separate loop reads C and writes the activations). The four Sessions then run in rounds
of blocks (each block one Session alone for STEPS steps, the order shuffled each round) and the
median ms per step is reported, wall time and the process's CPU time (less sensitive to a shared
machine). GEMM choice as a Session makes it (TGC_GEMM, default auto); the
kernels' callee per matmul is printed.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_epilogue.py \
        [--threads N] [--rounds R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tgc as tf  # noqa: E402
from tgc.lowering.cpu import gemm_epilogue, gemm_library  # noqa: E402

ROUNDS = 15
STEPS = 20


def build(zero_biases: bool, threads: int):
    """The 3b net in a fresh graph; returns (a step function, the numpy result)."""
    rng = np.random.default_rng(1)
    sizes = (784, 1024, 1024, 10)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    ws = [(rng.standard_normal((a, b)) * 0.03).astype(np.float32) for a, b in zip(sizes, sizes[1:])]
    bs = [(rng.standard_normal(b) * 0.1).astype(np.float32) for b in sizes[1:]]
    bs = [np.zeros_like(b) for b in bs] if zero_biases else bs
    tf.reset_default_graph()
    xp = tf.placeholder(tf.float32, [None, 784])
    h = xp
    want = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = tf.matmul(h, tf.constant(w)) + tf.constant(b)
        want = want @ w + b
        if i < 2:
            h, want = tf.nn.relu(h), np.maximum(want, 0)
    sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads))
    return (lambda: sess.run(h, {xp: x})), want


def compiled(zero_biases: bool, fused: bool, threads: int):
    """A step function compiled with (or without) the epilogue fusion, warmed up to its optimized
    tier, checked against numpy."""
    original = gemm_epilogue.GemmEpiloguePass.run
    if not fused:
        gemm_epilogue.GemmEpiloguePass.run = lambda self, module: None
    try:
        before = set(gemm_library._KERNELS)
        step, want = build(zero_biases, threads)
        step()  # the compile happens here
    finally:
        gemm_epilogue.GemmEpiloguePass.run = original
    kernels = sorted(set(gemm_library._KERNELS) - before)
    for _ in range(10):  # the optimizing tier compiles in the background after the second call
        step()
        time.sleep(0.2)
    np.testing.assert_allclose(step(), want, rtol=2e-4, atol=2e-4)
    return step, kernels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    impls = {}
    for zero_biases in (True, False):
        for fused in (False, True):
            name = f"{'3b zero biases' if zero_biases else 'nonzero biases'} / " + (
                "fused" if fused else "unfused"
            )
            impls[name], kernels = compiled(zero_biases, fused, args.threads)
            print(f"{name}: kernels loaded by this compile {kernels or '(already loaded)'}")
    wall = {name: [] for name in impls}
    cpu = {name: [] for name in impls}
    for _ in range(args.rounds):
        order = list(impls)
        random.shuffle(order)
        for name in order:
            step = impls[name]
            step()
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(STEPS):
                step()
            wall[name].append((time.perf_counter() - start) / STEPS * 1e3)
            cpu[name].append((time.process_time() - start_cpu) / STEPS * 1e3)
    # The process's CPU time per step is what the other processes on a shared machine change least
    # (a descheduled step's wall time grows, its CPU time does not).
    print(
        f"threads {args.threads}, {args.rounds} rounds x {STEPS} steps, median (quartiles) ms "
        "per step: wall | process CPU"
    )
    for name in impls:
        w, c = wall[name], cpu[name]
        qw, qc = statistics.quantiles(w, n=4), statistics.quantiles(c, n=4)
        print(
            f"  {name:28s} {statistics.median(w):7.3f} ({qw[0]:.3f} - {qw[2]:.3f}) | "
            f"{statistics.median(c):7.3f} ({qc[0]:.3f} - {qc[2]:.3f})"
        )


if __name__ == "__main__":
    main()
