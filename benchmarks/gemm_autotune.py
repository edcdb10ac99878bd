"""GEMM chosen per shape by measurement (TGC_GEMM=auto, tgc/lowering/cpu/gemm_autotune.py) against
always OpenBLAS (TGC_GEMM=blas) and always tgc's generated kernel (TGC_GEMM=codegen), 1 thread.

The harness's tgc workloads (benchmarks/harness.py: GEMM 256/1024/2048, the two-layer SGD step,
MLP inference at batch 1 and 256, the convnet SGD step), each as three Sessions, one per GEMM
setting. A Session tunes only under TGC_GEMM=tune, and only matmuls of known shapes, so every
workload here is built with its batch known (the harness's ``None`` batch dims replaced by the fed
batch) and the ``auto`` Session is compiled under TGC_GEMM=tune with an empty cache in a temporary
directory: its first run times the new shapes (reported as ``first_run_s`` beside the others'
first runs) and the steady state is what is timed. ``two_layer_dynamic`` is the two-layer step
with the harness's ``None`` batch, compiled after the static one has tuned: its matmuls of unknown
M take the nearest cached shape (the same N and K).

The three Sessions of a workload run interleaved (benchmarks/gemm_codegen.py's ``timed_steps``)
in wall and thread CPU time: the machine may be shared. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_autotune.py
Writes benchmarks/results/gemm_autotune-<time>.json and prints one line per workload.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import gemm_codegen  # noqa: E402
import harness  # noqa: E402

import tgc as tf  # noqa: E402
from tgc.lowering.cpu import gemm_kernel, gemm_tuning, tiered  # noqa: E402
from tgc.lowering.cpu.target import GEMM_ENVIRONMENT  # noqa: E402

SETTINGS = ("blas", "codegen", "auto")


class StaticBatch:
    """``tf`` for a harness builder, with a placeholder's ``None`` first dim replaced by
    ``batch``."""

    def __init__(self, batch: int | None):
        self._batch = batch

    def __getattr__(self, name):
        return getattr(tf, name)

    def placeholder(self, dtype, shape=None, name=None):
        if self._batch is not None and shape and shape[0] is None:
            shape = [self._batch, *shape[1:]]
        return tf.placeholder(dtype, shape, name=name)


def harness_builder(impls: dict):
    """The ``tgc_build`` closure behind a harness workload's "tgc" implementation."""
    captured = []
    original = harness._tgc_session
    harness._tgc_session = captured.append
    try:
        impls["tgc"]()
    finally:
        harness._tgc_session = original
    return captured[0]


def workloads(sizes: list) -> dict:
    """name -> (harness tgc_build, fed batch or None)."""
    found = {f"gemm_{n}": (harness_builder(harness.gemm(n)), None) for n in sizes}
    found["two_layer"] = (harness_builder(harness.dense_step((1000, 100, 10), 64, 1e-3, False)), 64)
    found["mlp_1"] = (harness_builder(harness.mlp_inference(1)), 1)
    found["mlp_256"] = (harness_builder(harness.mlp_inference(256)), 256)
    found["convnet"] = (harness_builder(harness.convnet_step()), 32)
    return found


def session(build, batch, setting: str) -> tuple:
    """(step function, seconds of its first run) of a Session compiled under TGC_GEMM=setting
    (``auto``: under ``tune``, so that its first run measures the shapes the cache lacks)."""
    old = os.environ.get(GEMM_ENVIRONMENT)
    os.environ[GEMM_ENVIRONMENT] = "tune" if setting == "auto" else setting
    try:
        tf.reset_default_graph()
        fetch, feed = build(StaticBatch(batch))
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        start = time.perf_counter()
        sess.run(fetch, feed)
        first = time.perf_counter() - start
        sess.run(fetch, feed)
        tiered.wait_for_optimized_code()
    finally:
        if old is None:
            del os.environ[GEMM_ENVIRONMENT]
        else:
            os.environ[GEMM_ENVIRONMENT] = old
    return (lambda: sess.run(fetch, feed)), first


def run_workload(build, batch, steps: int, settings=SETTINGS) -> dict:
    made = {s: session(build, batch, s) for s in settings}
    times = gemm_codegen.timed_steps({s: fn for s, (fn, _) in made.items()}, steps, warmup=2)
    per_step = gemm_codegen.medians(times)
    return {
        s: {
            "step_ms": {kind: v * 1e3 for kind, v in per_step[s].items()},
            "first_run_s": made[s][1],
        }
        for s in settings
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="256,1024,2048")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="tgc-gemm-autotune-cache-")
    os.environ[gemm_tuning.CACHE_ENVIRONMENT] = cache
    record = {
        "benchmark": "gemm_autotune",
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "isa": gemm_kernel.chosen_isa(),
        "blocking_f32": str(gemm_kernel.shape_for("f32")),
        "cores": os.cpu_count(),
        "load_1min_before": os.getloadavg()[0],
        "workloads": {},
    }
    only = {w for w in args.only.split(",") if w}
    for name, (build, batch) in workloads([int(s) for s in args.sizes.split(",")]).items():
        if only and name not in only:
            continue
        n = int(name.split("_")[1]) if name.startswith("gemm_") else None
        steps = max(5, min(200, int(args.steps * 2e9 / (2 * n**3)))) if n else args.steps * 5
        record["workloads"][name] = run_workload(build, batch, steps)
        print(name, json.dumps(record["workloads"][name]), flush=True)
        if name == "two_layer":
            dynamic = run_workload(build, None, steps, ("blas", "auto"))
            record["workloads"]["two_layer_dynamic"] = dynamic
            print("two_layer_dynamic", json.dumps(dynamic), flush=True)
    record["choices"] = list(gemm_tuning.load_cache().values())
    record["load_1min_after"] = os.getloadavg()[0]
    for entry in record["choices"]:
        shape = gemm_tuning.MatmulShape.from_json(entry["shape"])
        summary = gemm_tuning.Choice(entry["callee"], "tuned", entry["seconds"]).summary()
        print(f"  {shape.describe():52s} {summary}")
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S%z")
    path = os.path.join(args.out, f"gemm_autotune-{stamp}.json")
    with open(path, "w") as fh:
        json.dump(record, fh, indent=1)
    print("written", path)


if __name__ == "__main__":
    main()
