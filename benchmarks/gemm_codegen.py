"""tgc's generated GEMM (tgc/lowering/cpu/gemm_kernel.py) against the BLAS path and numpy, on 1
thread and on 2 (``--threads``; names ending in ``@2``).

1. GEMM n x n x n (float32) at 256, 1024 and 2048: a Session whose matmul calls the generated kernel
   (TGC_GEMM=codegen), a Session calling numpy's OpenBLAS (the default), and numpy's A @ B; in
   GFLOP/s from the median step, with the machine's measured peak (../shared/tools/machine-peak).
2. The two-layer net's SGD step (64, 1000, 100, 10) and the harness's convnet SGD step (batch 32):
   an artifact built without --blas (so with the generated kernel), loaded through
   tgc.runtime.load, against a Session with BLAS, a Session with the generated kernel and an
   artifact built with --blas.

Every implementation of a workload runs interleaved (benchmarks/harness.py's ``interleaved``) and
is timed in the calling thread's CPU time as well as wall time: the machine may be shared, and
CPU time leaves out the time another process holds the core (for a 1-thread implementation; a
2-thread one's CPU time is its calling thread's only: read its wall time). A Session on 2 threads
has intra_op_parallelism_threads=2 (its ThreadScope still takes 1 where other processes keep a core
busy: the chosen counts, OpenBLAS's and tgc's runtime's, are recorded), an artifact on 2 threads is
loaded with threads=2, numpy on 2 threads has OpenBLAS's count set to 2 around its call.
OpenBLAS's implementations on 2 threads are timed after the others (interleaved among themselves):
its workers spin after each call and would take the core from whichever implementation came next.
Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_codegen.py
Writes benchmarks/results/gemm_codegen-<time>.json and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
# OpenBLAS cannot grow past the count it was loaded with: 2, and each numpy call sets its own.
os.environ["OPENBLAS_NUM_THREADS"] = "2"

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import tgc as tf  # noqa: E402
from tgc.lowering.cpu import gemm_kernel, tiered  # noqa: E402
from tgc.lowering.cpu.target import GEMM_ENVIRONMENT  # noqa: E402


def timed_steps(impls: dict, steps: int, warmup: int) -> dict:
    """name -> {"wall": [...], "cpu": [...]} seconds per step, implementations interleaved with
    the order rotating each round."""
    for fn in impls.values():
        for _ in range(warmup):
            fn()
    times = {name: {"wall": [], "cpu": []} for name in impls}
    order = list(impls.items())
    for step in range(steps):
        shift = step % len(order)
        for name, fn in order[shift:] + order[:shift]:
            wall, cpu = time.perf_counter(), time.thread_time()
            fn()
            times[name]["cpu"].append(time.thread_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return times


def with_gemm(callee: str, make):
    """``make()`` with TGC_GEMM=callee while it compiles (the choice is read at compile time)."""
    old = os.environ.get(GEMM_ENVIRONMENT)
    os.environ[GEMM_ENVIRONMENT] = callee
    try:
        return make()
    finally:
        if old is None:
            del os.environ[GEMM_ENVIRONMENT]
        else:
            os.environ[GEMM_ENVIRONMENT] = old


# name -> the thread count each run's ThreadScope chose last (a Session's or an artifact's)
CHOSEN_THREADS: dict = {}


def session_step(build, callee: str, threads: int = 1, name: str = ""):
    """A Session running ``build``'s fetch, compiled (by one run) with the given GEMM callee, with
    intra_op_parallelism_threads=threads."""

    def make():
        tf.reset_default_graph()
        fetch, feed = build()
        sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads))
        if name:
            CHOSEN_THREADS[name] = sess._blas_threads
        sess.run(tf.global_variables_initializer())
        # Two runs queue the optimizing (-O3) compile of the quick (-O0) first code; the steady
        # state is what is timed.
        sess.run(fetch, feed)
        sess.run(fetch, feed)
        tiered.wait_for_optimized_code()
        return lambda: sess.run(fetch, feed)

    return with_gemm(callee, make)


def artifact_step(
    build,
    fetch_names: list,
    feed_names: dict,
    tmp: str,
    blas: bool = False,
    threads: int = 1,
    name: str = "",
):
    """An artifact of ``build``'s graph compiled without --blas (or with it), loaded without
    MLIR with ``threads``."""
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.driver import aot
    from tgc.frontend.export import export_graph
    from tgc.runtime.artifact import load
    from tgc.tools.compile_cmd import mlir_module

    tf.reset_default_graph()
    _, feed = build()
    os.makedirs(tmp)
    path = os.path.join(tmp, "graph.mlir")
    export_graph(fetch_names, None, path=path)
    options = aot.Options(blas=blas)
    with make_context(), ir.Location.unknown():
        lowered = aot.lower_module(mlir_module(path)(), "artifact", options)
    art = load(aot.write_artifact(lowered, options, os.path.join(tmp, "art")), threads=threads)
    if name:
        CHOSEN_THREADS[name] = art._blas_threads
    inputs = {feed_names[p.name.split(":")[0]]: v for p, v in feed.items()}
    return lambda: art(**inputs)


# ---- workloads ----------------------------------------------------------------------------------


def gemm_builder(n: int):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)

    def build():
        ap, bp = tf.placeholder(tf.float32, [n, n]), tf.placeholder(tf.float32, [n, n])
        return tf.matmul(ap, bp), {ap: a, bp: b}

    return build, a, b


def two_layer_builder():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1000)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    w1 = (rng.standard_normal((1000, 100)) * 0.01).astype(np.float32)
    w2 = (rng.standard_normal((100, 10)) * 0.01).astype(np.float32)

    def build():
        xp = tf.placeholder(tf.float32, [None, 1000], name="x")
        yp = tf.placeholder(tf.float32, [None, 10], name="y")
        h = tf.nn.relu(tf.matmul(xp, tf.Variable(w1.copy(), name="w1")))
        scores = tf.matmul(h, tf.Variable(w2.copy(), name="w2"))
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=yp, logits=scores))
        train = tf.train.GradientDescentOptimizer(1e-3).minimize(loss, name="train")
        return train, {xp: x, yp: y}

    return build


def convnet_builder():
    """The harness's convnet step (benchmarks/harness.py convnet_step)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    shapes = {
        "c1": (5, 5, 1, 32),
        "b1": (32,),
        "c2": (5, 5, 32, 64),
        "b2": (64,),
        "f1": (7 * 7 * 64, 1024),
        "b3": (1024,),
        "f2": (1024, 10),
        "b4": (10,),
    }
    params = {k: (rng.standard_normal(s) * 0.05).astype(np.float32) for k, s in shapes.items()}

    def build():
        v = {k: tf.Variable(p.copy(), name=k) for k, p in params.items()}
        xp = tf.placeholder(tf.float32, [None, 28, 28, 1], name="x")
        yp = tf.placeholder(tf.float32, [None, 10], name="y")

        def layer(h, kernel, bias):
            h = tf.nn.relu(tf.nn.conv2d(h, kernel, strides=[1, 1, 1, 1], padding="SAME") + bias)
            return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

        h = layer(layer(xp, v["c1"], v["b1"]), v["c2"], v["b2"])
        h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), v["f1"]) + v["b3"])
        logits = tf.matmul(h, v["f2"]) + v["b4"]
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=yp, logits=logits))
        return tf.train.GradientDescentOptimizer(1e-3).minimize(loss, name="train"), {xp: x, yp: y}

    return build


def numpy_matmul(a, b, threads: int):
    """numpy's A @ B with OpenBLAS's count set to ``threads`` for the call."""
    from tgc.runtime.blas_threads import openblas

    blas = openblas()

    def run():
        blas.set(threads)
        return a @ b

    return run


def chosen_threads() -> dict:
    """name -> the thread counts the implementation's ThreadScope chose for its last run, OpenBLAS's
    and tgc's runtime's (it keeps its second thread on a busier machine); cleared."""
    chosen = {
        name: {"openblas": scope.threads, "tgc_runtime": scope.runtime_threads}
        for name, scope in CHOSEN_THREADS.items()
    }
    CHOSEN_THREADS.clear()
    return chosen


# ---- report -------------------------------------------------------------------------------------


def medians(times: dict) -> dict:
    return {
        name: {kind: float(np.median(samples)) for kind, samples in kinds.items()}
        for name, kinds in times.items()
    }


def machine_peak() -> list:
    tool = REPO.parent / "shared" / "tools" / "machine-peak"
    if not tool.exists():
        return []
    # Without this script's OMP_NUM_THREADS=1, so that the tool measures every core too.
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([str(tool)], capture_output=True, text=True, timeout=120, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="256,1024,2048")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", default="1,2", help="thread counts to run each at")
    parser.add_argument("--workloads", default="two_layer,convnet", help="the SGD steps to time")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()
    record = {
        "benchmark": "gemm_codegen",
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "isa": gemm_kernel.chosen_isa(),
        "blocking_f32": str(gemm_kernel.shape_for("f32")),
        "load_1min_before": os.getloadavg()[0],
        "peak": machine_peak(),
        "gemm_gflops": {},
        "steps_ms": {},
        "threads_chosen": {},
    }
    thread_counts = [int(t) for t in args.threads.split(",")]
    for n in [int(s) for s in args.sizes.split(",")]:
        build, a, b = gemm_builder(n)
        impls = {}
        for t in thread_counts:
            suffix = "" if t == 1 else f"@{t}"
            for callee in ("codegen", "blas"):
                name = f"tgc-{callee}{suffix}"
                impls[name] = session_step(build, callee, t, name)
            impls[f"numpy{suffix}"] = numpy_matmul(a, b, t)
        steps = max(3, min(200, int(args.steps * 2e10 / (2 * n**3))))
        # OpenBLAS's workers spin after a call on several threads (about 0.1 s) and take the core
        # the next implementation wants: those calls are timed after all the others, interleaved
        # among themselves.
        spinning = {k: v for k, v in impls.items() if "@" in k and not k.startswith("tgc-codegen")}
        others = {k: v for k, v in impls.items() if k not in spinning}
        per_step = medians(timed_steps(others, steps, warmup=2))
        per_step |= medians(timed_steps(spinning, steps, warmup=2)) if spinning else {}
        record["gemm_gflops"][n] = {
            name: {kind: 2 * n**3 / s / 1e9 for kind, s in kinds.items()}
            for name, kinds in per_step.items()
        }
        record["threads_chosen"][n] = chosen_threads()
        print(n, json.dumps(record["gemm_gflops"][n]), flush=True)
        print("threads chosen", json.dumps(record["threads_chosen"][n]), flush=True)
    with tempfile.TemporaryDirectory(prefix="tgc-gemm-bench-") as tmp:
        builders = {"two_layer": two_layer_builder, "convnet": convnet_builder}
        for name in [w for w in args.workloads.split(",") if w]:
            builder = builders[name]()
            directory = os.path.join(tmp, name)
            feeds = {"x": "x", "y": "y"}
            impls = {}
            for t in thread_counts:
                suffix = "" if t == 1 else f"@{t}"
                impls[f"artifact-codegen{suffix}"] = artifact_step(
                    builder,
                    ["train"],
                    feeds,
                    os.path.join(directory, f"codegen{t}"),
                    threads=t,
                    name=f"artifact-codegen{suffix}",
                )
                impls[f"session-codegen{suffix}"] = session_step(
                    builder, "codegen", t, f"session-codegen{suffix}"
                )
            impls |= {
                # The artifact's own overhead (loading, the call from Python) apart from its GEMMs.
                "artifact-blas": artifact_step(
                    builder, ["train"], feeds, os.path.join(directory, "blas"), blas=True
                ),
                "session-blas": session_step(builder, "blas"),
            }
            per_step = medians(timed_steps(impls, args.steps * 10, warmup=3))
            record["steps_ms"][name] = {
                impl: {kind: s * 1e3 for kind, s in kinds.items()}
                for impl, kinds in per_step.items()
            }
            record["threads_chosen"][name] = chosen_threads()
            print(name, json.dumps(record["steps_ms"][name]), flush=True)
            print("threads chosen", json.dumps(record["threads_chosen"][name]), flush=True)
    record["load_1min_after"] = os.getloadavg()[0]
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S%z")
    path = os.path.join(args.out, f"gemm_codegen-{stamp}.json")
    with open(path, "w") as fh:
        json.dump(record, fh, indent=1)
    print("peak", json.dumps(record["peak"]))
    print("written", path)


if __name__ == "__main__":
    main()
