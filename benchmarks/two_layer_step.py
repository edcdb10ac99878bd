"""Benchmark: one SGD step of the lecture's two-layer net, tgc's Session.run against hand-written
numpy.

The step is N, D, H, C = 64, 1000, 100, 10: scores = relu(x @ w1) @ w2, loss = sum of softmax
cross-entropy, plain gradient descent on w1 and w2. tgc runs it as one compiled train op through the
whole pipeline (frontend -> autodiff -> core -> CPU JIT); numpy runs the same arithmetic by hand,
forward and backward. The two are timed interleaved in one process, so machine noise hits both
alike. Reported: median and spread of each, the ratio tgc/numpy, tgc's first-run (compile) time,
GFLOP/s against the machine's fp32 peak, and the CPU model. A JSON record goes to
benchmarks/results/.

The first call is also measured in fresh processes (``--first-call-runs``, 5 by default): each
imports tgc, builds the graph, runs the initializer and times the step's first ``Session.run``, as
a user's script does (tgc keeps no compiled code on disk, so nothing is warm but the OS's file
cache). tgc's JIT gives that call quick code and compiles the optimized code in the background from
the step's second call (tgc/lowering/cpu/tiered.py): the steady state is timed once that code is in
place, and the time it took is reported.

Run from the repository root (see benchmarks/README.md for why the OpenBLAS variables are unset):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/two_layer_step.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import tgc as tf
from tgc.lowering.cpu.tiered import wait_for_optimized_code

N, D, H, C = 64, 1000, 100, 10
LEARNING_RATE = 1e-3
REPO = Path(__file__).resolve().parents[1]
# Recorded with each result: they decide how many threads numpy's BLAS and the JIT's runtime use.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Multiply-adds of the step: forward x@w1, h@w2; backward dW2 = h^T ds, dh = ds w2^T, dW1 = x^T dh.
FLOPS_PER_STEP = 2 * N * (3 * D * H + 3 * H * C)


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)).astype(np.float32)
    y = np.eye(C, dtype=np.float32)[rng.integers(0, C, N)]
    w1 = (rng.standard_normal((D, H)) * 0.01).astype(np.float32)
    w2 = (rng.standard_normal((H, C)) * 0.01).astype(np.float32)
    return x, y, w1, w2


# ---- the two implementations ---------------------------------------------------------------------


def build_tgc_step(w1_0, w2_0):
    """The TF1 program a lecture would write; returns (x, y, loss, train_op, [w1, w2])."""
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, D], name="x")
    y = tf.placeholder(tf.float32, [None, C], name="y")
    w1 = tf.Variable(w1_0, name="w1")
    w2 = tf.Variable(w2_0, name="w2")
    h = tf.nn.relu(tf.matmul(x, w1))
    scores = tf.matmul(h, w2)
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
    train_op = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
    return x, y, loss, train_op, [w1, w2]


def numpy_step(x, y, w1, w2):
    """One SGD step by hand, updating w1 and w2 in place; returns the loss before the step."""
    a = x @ w1
    h = np.maximum(a, 0)
    s = h @ w2
    z = s - s.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    loss = np.sum(y * (np.log(total) - z))
    ds = (
        e / total * y.sum(axis=1, keepdims=True) - y
    )  # d loss / d scores for a summed cross-entropy
    dw2 = h.T @ ds
    dh = ds @ w2.T
    dh[a <= 0] = 0
    dw1 = x.T @ dh
    w1 -= LEARNING_RATE * dw1
    w2 -= LEARNING_RATE * dw2
    return loss


# ---- measurement ---------------------------------------------------------------------------------


def check_same_step(sess, x, y, loss, train_op, variables, data):
    """Both implementations must compute the same step before their times mean anything."""
    xa, ya, w1_0, w2_0 = data
    w1, w2 = w1_0.copy(), w2_0.copy()
    ref_loss = numpy_step(xa, ya, w1, w2)
    got_loss, _ = sess.run([loss, train_op], {x: xa, y: ya})
    got_w1, got_w2 = sess.run(variables)
    np.testing.assert_allclose(got_loss, ref_loss, rtol=1e-4)
    np.testing.assert_allclose(got_w1, w1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_w2, w2, rtol=1e-4, atol=1e-6)


def time_interleaved(run_tgc, run_numpy, steps):
    """Alternates one tgc step and one numpy step, so drifts in clock or load hit both."""
    t_tgc, t_np = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        run_tgc()
        t1 = time.perf_counter()
        run_numpy()
        t2 = time.perf_counter()
        t_tgc.append(t1 - t0)
        t_np.append(t2 - t1)
    return np.array(t_tgc), np.array(t_np)


def summary(seconds: np.ndarray) -> dict:
    ms = seconds * 1e3
    q25, med, q75 = np.percentile(ms, [25, 50, 75])
    return {
        "median_ms": med,
        "p25_ms": q25,
        "p75_ms": q75,
        "min_ms": ms.min(),
        "max_ms": ms.max(),
        "gflops_at_median": FLOPS_PER_STEP / (med * 1e-3) / 1e9,
    }


# ---- machine facts -------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def machine_peak():
    """The fp32 FMA peak from shared/tools/machine-peak (JSON lines), or None where the tool is
    absent."""
    for tool in (REPO.parent / "shared/tools/machine-peak", REPO / "shared/tools/machine-peak"):
        if tool.exists():
            out = subprocess.run([str(tool)], capture_output=True, text=True, check=True).stdout
            return [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return None


# ---- driver --------------------------------------------------------------------------------------


def first_call() -> dict:
    """The step's first Session.run after the initializer's (compile + one step): its wall time
    and the process's CPU time in it (which a busy machine inflates less)."""
    xa, ya, w1_0, w2_0 = make_data()
    x, y, _, train_op, _ = build_tgc_step(w1_0, w2_0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        t0, c0 = time.perf_counter(), time.process_time()
        sess.run(train_op, {x: xa, y: ya})
        return {"first_call_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


def first_calls_in_fresh_processes(runs: int) -> list:
    """``first_call`` in ``runs`` new interpreters, one after another."""
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, __file__, "--first-call-only"],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        out.append(json.loads(done.stdout.splitlines()[-1]))
    return out


def run(steps=300, warmup=20, peak=True, first_call_runs=5) -> dict:
    fresh = first_calls_in_fresh_processes(first_call_runs)
    data = make_data()
    xa, ya, w1_0, w2_0 = data
    x, y, loss, train_op, variables = build_tgc_step(w1_0, w2_0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        t0 = time.perf_counter()
        sess.run(train_op, {x: xa, y: ya})  # compiles the train op's run signature
        first_run_s = time.perf_counter() - t0
        sess.run(tf.global_variables_initializer())
        check_same_step(sess, x, y, loss, train_op, variables, data)
        w1, w2 = w1_0.copy(), w2_0.copy()
        feed = {x: xa, y: ya}
        run_tgc = lambda: sess.run(train_op, feed)  # noqa: E731
        run_np = lambda: numpy_step(xa, ya, w1, w2)  # noqa: E731
        t0 = time.perf_counter()  # the step's second call, which queues its optimizing compile
        time_interleaved(run_tgc, run_np, warmup)
        wait_for_optimized_code()
        tier_up_s = time.perf_counter() - t0
        t_tgc, t_np = time_interleaved(run_tgc, run_np, steps)
    tgc_s, np_s = summary(t_tgc), summary(t_np)
    return {
        "benchmark": "two_layer_step",
        "shape": {"N": N, "D": D, "H": H, "C": C},
        "flops_per_step": FLOPS_PER_STEP,
        "steps": steps,
        "warmup": warmup,
        "tgc": tgc_s,
        "numpy": np_s,
        "ratio_tgc_over_numpy": tgc_s["median_ms"] / np_s["median_ms"],
        "tgc_first_run_s": first_run_s,
        "tgc_first_call_fresh_process_s": [f["first_call_s"] for f in fresh],
        "tgc_first_call_fresh_process_cpu_s": [f["cpu_s"] for f in fresh],
        "tgc_first_call_fresh_process_median_s": (
            float(np.median([f["first_call_s"] for f in fresh])) if fresh else None
        ),
        "tgc_optimized_code_after_s": tier_up_s,
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "machine_peak": machine_peak() if peak else None,
        "numpy_version": np.__version__,
        "thread_env": {k: os.environ.get(k) for k in THREAD_VARS},
        "load_average_1min": os.getloadavg()[0],
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def report(rec: dict) -> str:
    lines = [
        f"two-layer SGD step, N,D,H,C = {N},{D},{H},{C}; {rec['steps']} interleaved steps after "
        f"{rec['warmup']} warm-up",
        f"cpu: {rec['cpu_model']} ({rec['nproc']} cores), 1-min load average "
        f"{rec['load_average_1min']:.2f}",
    ]
    for name in ("tgc", "numpy"):
        s = rec[name]
        lines.append(
            f"{name:>6}: median {s['median_ms']:.3f} ms  "
            f"(p25 {s['p25_ms']:.3f}, p75 {s['p75_ms']:.3f}, "
            f"min {s['min_ms']:.3f}, max {s['max_ms']:.3f})  {s['gflops_at_median']:.2f} GFLOP/s"
        )
    lines.append(f"ratio tgc/numpy (medians): {rec['ratio_tgc_over_numpy']:.2f}")
    lines.append(f"tgc first run (compile + one step): {rec['tgc_first_run_s']:.3f} s")
    fresh, cpu = rec["tgc_first_call_fresh_process_s"], rec["tgc_first_call_fresh_process_cpu_s"]
    if fresh:
        lines.append(
            f"tgc first call in a fresh process: median {np.median(fresh):.3f} s of "
            f"{len(fresh)} ({', '.join(f'{t:.3f}' for t in fresh)}); CPU median "
            f"{np.median(cpu):.3f} s ({', '.join(f'{t:.3f}' for t in cpu)})"
        )
    lines.append(
        f"tgc optimized code in place {rec['tgc_optimized_code_after_s']:.3f} s after the "
        "step's second call (steps timed after it)"
    )
    for p in rec["machine_peak"] or []:
        lines.append(
            f"peak fp32 {p['isa']}, {p['threads']} thread(s): {p['fma_gflops']} GFLOP/s "
            f"(tgc at {100 * rec['tgc']['gflops_at_median'] / p['fma_gflops']:.2f}% of it)"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument(
        "--no-peak", action="store_true", help="skip the ~15 s machine-peak measurement"
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results")
    ap.add_argument(
        "--first-call-runs",
        type=int,
        default=5,
        help="fresh processes that each time the step's first call (0: none)",
    )
    ap.add_argument(
        "--first-call-only",
        action="store_true",
        help="time the step's first call in this process, print it as JSON and exit",
    )
    args = ap.parse_args(argv)
    if args.first_call_only:
        print(json.dumps(first_call()))
        return None
    rec = run(args.steps, args.warmup, peak=not args.no_peak, first_call_runs=args.first_call_runs)
    print(report(rec))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"two_layer_step-{rec['when'].replace(':', '')}.json"
    path.write_text(json.dumps(rec, indent=2) + "\n")
    print(f"record: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return rec


if __name__ == "__main__":
    main()
