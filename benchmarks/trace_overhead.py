"""Benchmark: what per-op tracing costs (``tf.RunOptions(trace_level=FULL_TRACE)``).

The step is the lecture's two-layer net of benchmarks/two_layer_step.py (N, D, H, C = 64, 1000,
100, 10; relu, softmax cross-entropy, SGD). Timed interleaved in one process: the ordinary run
(the fast path, uninstrumented) and the traced run (its own variant: fusion left out, each op's
code between two clock reads, the step stats built afterwards). Reported: the median of each, the
traced variant's compile time, how many ops the step stats hold, and how much of the traced step
their summed times cover; and the compiled function alone, each variant called directly, which
shows what the clock reads themselves cost. A JSON record goes to benchmarks/results/ with --save.

Run from the repository root:
    python benchmarks/trace_overhead.py [--steps 200] [--save]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import tgc as tf

N, D, H, C = 64, 1000, 100, 10
REPO = Path(__file__).resolve().parents[1]


def build_step():
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, D], name="x")
    y = tf.placeholder(tf.float32, [None, C], name="y")
    w1 = tf.Variable((rng.standard_normal((D, H)) * 0.01).astype(np.float32), name="w1")
    w2 = tf.Variable((rng.standard_normal((H, C)) * 0.01).astype(np.float32), name="w2")
    scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=scores))
    train = tf.train.GradientDescentOptimizer(1e-3).minimize(loss)
    feeds = {
        x: rng.standard_normal((N, D)).astype(np.float32),
        y: np.eye(C, dtype=np.float32)[rng.integers(0, C, N)],
    }
    return train, loss, feeds


def _compiled_pair(sess):
    """The step's ordinary compiled function and its traced variant, from the session's cache
    (private API: a benchmark's look inside)."""
    step = [c for c in sess._cache.values() if c.var_outputs and len(c.feeds) == 2]
    ordinary = next(c for c in step if c.trace is None)
    traced = next(c for c in step if c.trace is not None)
    return ordinary, traced


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--save", action="store_true", help="write a JSON record to results/")
    args = parser.parse_args()
    train, loss, feeds = build_step()
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, feeds)  # compiles the ordinary function
        start = time.perf_counter()
        sess.run(train, feeds, options=options, run_metadata=tf.RunMetadata())
        traced_compile = time.perf_counter() - start
        ordinary_fn, traced_fn = _compiled_pair(sess)
        plain, traced, coverage, calls = [], [], [], {"ordinary": [], "traced": []}
        for _ in range(args.steps):
            for kind, compiled in (("ordinary", ordinary_fn), ("traced", traced_fn)):
                start = time.perf_counter()
                sess._execute(compiled, feeds)
                calls[kind].append(time.perf_counter() - start)
            start = time.perf_counter()
            sess.run(train, feeds)
            plain.append(time.perf_counter() - start)
            metadata = tf.RunMetadata()
            start = time.perf_counter()
            sess.run(train, feeds, options=options, run_metadata=metadata)
            took = time.perf_counter() - start
            traced.append(took)
            (device,) = metadata.step_stats.dev_stats
            coverage.append(sum(n.all_end_rel_nanos for n in device.node_stats) / 1e9 / took)
    record = {
        "benchmark": "trace_overhead",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "shape": {"N": N, "D": D, "H": H, "C": C},
        "steps": args.steps,
        "untraced_median_ms": statistics.median(plain) * 1e3,
        "traced_median_ms": statistics.median(traced) * 1e3,
        "traced_over_untraced": statistics.median(traced) / statistics.median(plain),
        # The compiled function alone (no Session.run around it): the clock reads' cost.
        "compiled_call_median_ms": statistics.median(calls["ordinary"]) * 1e3,
        "traced_compiled_call_median_ms": statistics.median(calls["traced"]) * 1e3,
        "traced_first_run_s": traced_compile,
        "ops_in_step_stats": len(device.node_stats),
        "op_time_coverage_median": statistics.median(coverage),
        "cpu": _cpu_model(),
        "command": f"python benchmarks/trace_overhead.py --steps {args.steps}",
    }
    print(json.dumps(record, indent=2))
    if args.save:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S+0000")
        path = REPO / "benchmarks" / "results" / f"trace_overhead-{stamp}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"written: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
