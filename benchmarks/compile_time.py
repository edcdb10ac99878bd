"""Compile time of training steps whose batch dim is unknown (None) against a fixed batch.

Each case builds one training step (a graph, its loss and GradientDescentOptimizer.minimize), runs
the initializer, then times the first ``Session.run`` of the step (compile and one run) in a fresh
process, once with the batch dim fixed and once with it None:

- ``lstm``: tf.nn.dynamic_rnn of BasicLSTMCell(16) over [B, 9, 16], the mean squared error of the
  last output against a [B, 16] target;
- ``mlp``: relu(x @ w1 + b1) @ w2 + b2 over [B, 784], softmax cross-entropy against [B] labels;
- ``convnet``: conv2d 5x5x8 + relu + max_pool 2x2 over [B, 28, 28, 1], a dense layer to 10,
  softmax cross-entropy.

Besides the first run it reports where the time went: the CPU target's JIT (MLIR's
ExecutionEngine and the first lookups: LLVM's optimization and code generation), the lines of the
LLVM-dialect module it compiled, and the calls in it to the run-time error handler by kind
(``broadcast``: operands whose unknown dims may not broadcast; ``alloc``: an allocation that failed
or whose size would wrap; ``other``: gather indices, asserts). ``--profile CASE`` prints
cProfile's top functions of one compile instead.

Run from the repository root:

    python benchmarks/compile_time.py                 # every case, batch 8 and None, 3 runs each
    python benchmarks/compile_time.py --cases lstm --repeats 5
    python benchmarks/compile_time.py --profile lstm --batch none

The medians (and each run) go to stdout and, with --out (default benchmarks/results), to a
Markdown file compile_time-<UTC time>.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

CASES = ("lstm", "mlp", "convnet")

# Kinds of tgc_runtime_error (tgc/runtime/executable.py): INCOMPATIBLE_SHAPES, OUT_OF_MEMORY.
_KINDS = {1: "broadcast", 2: "alloc"}


def build_lstm(tf, batch):
    x = tf.placeholder(tf.float32, [batch, 9, 16])
    y = tf.placeholder(tf.float32, [batch, 16])
    outputs, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(16), x, dtype=tf.float32)
    loss = tf.reduce_mean(tf.square(outputs[:, -1] - y))
    rng = np.random.default_rng(0)
    feed = {
        x: rng.standard_normal((8, 9, 16)).astype(np.float32),
        y: rng.standard_normal((8, 16)).astype(np.float32),
    }
    return loss, feed


def build_mlp(tf, batch):
    x = tf.placeholder(tf.float32, [batch, 784])
    labels = tf.placeholder(tf.int32, [batch])
    w1 = tf.Variable(tf.random_normal([784, 100], stddev=0.05, seed=1))
    b1 = tf.Variable(tf.zeros([100]))
    w2 = tf.Variable(tf.random_normal([100, 10], stddev=0.05, seed=2))
    b2 = tf.Variable(tf.zeros([10]))
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    rng = np.random.default_rng(0)
    feed = {
        x: rng.standard_normal((8, 784)).astype(np.float32),
        labels: rng.integers(0, 10, 8).astype(np.int32),
    }
    return loss, feed


def build_convnet(tf, batch):
    x = tf.placeholder(tf.float32, [batch, 28, 28, 1])
    labels = tf.placeholder(tf.int32, [batch])
    w1 = tf.Variable(tf.random_normal([5, 5, 1, 8], stddev=0.1, seed=1))
    b1 = tf.Variable(tf.zeros([8]))
    w2 = tf.Variable(tf.random_normal([14 * 14 * 8, 10], stddev=0.05, seed=2))
    b2 = tf.Variable(tf.zeros([10]))
    h = tf.nn.relu(tf.nn.conv2d(x, w1, strides=[1, 1, 1, 1], padding="SAME") + b1)
    h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    logits = tf.matmul(tf.reshape(h, [-1, 14 * 14 * 8]), w2) + b2
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    rng = np.random.default_rng(0)
    feed = {
        x: rng.standard_normal((8, 28, 28, 1)).astype(np.float32),
        labels: rng.integers(0, 10, 8).astype(np.int32),
    }
    return loss, feed


BUILDERS = {"lstm": build_lstm, "mlp": build_mlp, "convnet": build_convnet}


def module_stats(text: str) -> dict:
    """Lines of an LLVM-dialect module and its calls to tgc_runtime_error by kind."""
    constants = {}
    calls = {"broadcast": 0, "alloc": 0, "other": 0}
    # SSA names restart in each function: resolve a call's kind within its function.
    for function in re.split(r"\n\s*llvm\.func ", text):
        constants = dict(re.findall(r"(%\d+) = llvm\.mlir\.constant\((\d+) : i64\)", function))
        for kind in re.findall(r"llvm\.call @tgc_runtime_error\((%\d+),", function):
            calls[_KINDS.get(int(constants.get(kind, -1)), "other")] += 1
    return {"llvm_lines": text.count("\n"), "error_calls": calls}


def measure(case: str, batch) -> dict:
    """First run of the case's training step in this process (call once per process)."""
    import tgc as tf
    import tgc.lowering.cpu.jit as cpu_jit

    jit_seconds, stats = [0.0], []
    jit_functions = cpu_jit.jit_functions

    # The engine optimizes the module when made and generates code at the first lookup: timed
    # together, around the CPU target's whole JIT step.
    def timed_jit(module, *args, **kwargs):
        stats.append(module_stats(str(module)))
        start = time.perf_counter()
        out = jit_functions(module, *args, **kwargs)
        jit_seconds[0] += time.perf_counter() - start
        return out

    cpu_jit.jit_functions = timed_jit
    loss, feed = BUILDERS[case](tf, batch)
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        jit_seconds[0], stats[:] = 0.0, []
        start = time.perf_counter()
        sess.run([train, loss], feed)
        first = time.perf_counter() - start
    return {
        "case": case,
        "batch": batch,
        "first_run_s": first,
        "jit_s": jit_seconds[0],
        **stats[-1],
    }


def run_child(case: str, batch) -> dict:
    command = [sys.executable, __file__, "--child", case, "--batch", str(batch)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_batch(text: str):
    return None if text.lower() == "none" else int(text)


def profile(case: str, batch, top: int) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    measure(case, batch)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def table(rows: list) -> str:
    lines = [
        "| case | batch | first run (s), median | runs (s) | JIT (s), median | LLVM lines "
        "| error calls: broadcast / alloc / other |",
        "|---|---|---|---|---|---|---|",
    ]
    for (case, batch), runs in rows:
        calls = runs[0]["error_calls"]
        each = ", ".join(f"{r['first_run_s']:.2f}" for r in runs)
        lines.append(
            f"| {case} | {batch} | {statistics.median(r['first_run_s'] for r in runs):.2f} "
            f"| {each} "
            f"| {statistics.median(r['jit_s'] for r in runs):.2f} | {runs[0]['llvm_lines']} "
            f"| {calls['broadcast']} / {calls['alloc']} / {calls['other']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES)
    )
    parser.add_argument("--batches", default="8,none", help="comma-separated batch dims")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per measurement")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--no-save", action="store_true", help="print only")
    parser.add_argument("--profile", metavar="CASE", help="cProfile one compile of CASE")
    parser.add_argument("--batch", default="none", help="the batch dim of --profile/--child")
    parser.add_argument("--top", type=int, default=30, help="functions --profile prints")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, parse_batch(args.batch))))
        return
    if args.profile:
        profile(args.profile, parse_batch(args.batch), args.top)
        return
    rows = []
    for case in args.cases.split(","):
        for batch in [parse_batch(b) for b in args.batches.split(",")]:
            runs = [run_child(case, batch) for _ in range(args.repeats)]
            rows.append(((case, batch), runs))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = table(rows)
    print(text)
    if not args.no_save:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S+0000")
        path = os.path.join(args.out, f"compile_time-{stamp}.md")
        load = os.getloadavg()[0]
        with open(path, "w") as fh:
            fh.write(
                f"# compile_time {stamp}\n\n`python benchmarks/compile_time.py "
                f"{' '.join(argv if argv is not None else sys.argv[1:])}`; "
                f"1-minute load {load:.1f}, {os.cpu_count()} CPUs.\n\n{text}\n"
            )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
