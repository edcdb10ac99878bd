"""Op counts of the seed examples' training steps before and after the default pipeline, and the
compile-time share of each stage (the figures issue 3 asks for).

Run:  python benchmarks/pipeline_report.py     (prints a Markdown table; writes a JSON record)

Each example is run for one step so its graph exists; its train op is then compiled stage by stage.
Op counts: as emitted (gradient requests unexpanded), after tgc-autodiff and tgc-decompose (what an
unoptimizing compile lowers), and after the optimizing passes.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import sys
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = [
    "two_layer_net",
    "linear_regression",
    "linear_regression_scoped",
    "softmax_regression_digits",
    "convnet",
]


def _load_example(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "examples", f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count_tgc_ops(module) -> Counter:
    from mlir import ir

    counts: Counter = Counter()

    def visit(op):
        name = (op.operation if hasattr(op, "operation") else op).name
        if name.startswith("tgc."):
            counts[name] += 1
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return counts


def _stages():
    """Each element of the default Session pipeline, the CPU's pipeline from core as one stage."""
    from tgc.driver import pipelines
    from tgc.passes.pipeline import split_top_level

    plan = pipelines.session_pipelines()
    return split_top_level((plan.graph + plan.lower).spec()) + [plan.target.spec()]


def report_example(name: str) -> dict:
    import contextlib
    import io

    import tgc
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.graph.prune import prune
    from tgc.graph.emit import emit_function, emit_variables
    from tgc.graph.prune import variables_of
    from tgc.passes.pipeline import run_pipeline

    tgc.reset_default_graph()
    with contextlib.redirect_stdout(io.StringIO()):
        _load_example(name).main(steps=1)
    graph = tgc.get_default_graph()
    train_op = graph.get_collection("train_op")[-1]
    ops = [op for op in prune([train_op], set()) if op.opdef is not None]
    from tgc.dialect.types import TensorSpec

    placeholders = [op.outputs[0] for op in prune([train_op], set()) if op.opdef is None]
    # A placeholder of unknown rank (keep_prob) is fed a scalar in every example.
    feeds = [
        (t, t.spec if t.spec.shape is not None else TensorSpec((), t.spec.dtype))
        for t in placeholders
    ]
    timings = []
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        emit_function(module, ops, feeds, [])
        emit_variables(module, variables_of(ops))
        before = _count_tgc_ops(module)
        counts = {}
        for stage in _stages():
            start = time.perf_counter()
            run_pipeline(module, stage)
            timings.append(
                (
                    stage if len(stage) < 40 else "cpu pipeline (upstream passes)",
                    time.perf_counter() - start,
                )
            )
            if stage in ("tgc-decompose", "tgc-dce"):
                counts[stage] = _count_tgc_ops(module)
    expanded, optimized = counts["tgc-decompose"], counts["tgc-dce"]
    return {
        "example": name,
        "ops_before": sum(before.values()),
        "ops_expanded": sum(expanded.values()),
        "ops_after": sum(optimized.values()),
        "ops_after_by_kind": dict(optimized.most_common(8)),
        "timings": timings,
    }


def main():
    sys.path.insert(0, ROOT)
    results = [report_example(name) for name in EXAMPLES]
    print(
        "| example | tgc ops as emitted | after autodiff + decompose "
        "| after fold, simplify, cse, dce |"
    )
    print("| --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['example']} | {r['ops_before']} | {r['ops_expanded']} | {r['ops_after']} |")
    print()
    stages = [s for s, _ in results[0]["timings"]]
    print("| stage | " + " | ".join(r["example"] for r in results) + " |")
    print("| --- | " + " | ".join("---" for _ in results) + " |")
    for i, stage in enumerate(stages):
        cells = []
        for r in results:
            total = sum(t for _, t in r["timings"])
            seconds = r["timings"][i][1]
            cells.append(f"{seconds * 1000:.1f} ms ({100 * seconds / total:.0f}%)")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    out = os.path.join(ROOT, "benchmarks", "results")
    os.makedirs(out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S")
    with open(os.path.join(out, f"pipeline_report-{stamp}.json"), "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
