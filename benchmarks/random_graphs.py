"""The long random-graph campaign: thousands of drawn graphs through tgc's conformance checks.

    python benchmarks/random_graphs.py --start 0 --count 5000 --log random_graphs.jsonl
    python benchmarks/random_graphs.py --summary --log random_graphs.jsonl

Graph ``seed`` is ``tests/conformance/generator.py``'s drawing from ``RandomChooser(seed)``, so a
seed names one graph on every machine. Graphs run in worker processes (``--jobs``, default 2); a
worker that dies (an MLIR assertion, a segfault) or runs past ``--timeout`` is recorded as a crash
of that seed and replaced, and the campaign goes on. Each graph adds one JSON line to the log (seed,
status, category, variant, dtype, ops, input dims, seconds, detail); seeds already in the log are
skipped, so a campaign killed half-way resumes where it stopped. The summary at the end counts
graphs, passes, wrong numbers, crashes and errors by category, and lists each distinct failure with
its first seed. ``--include-known-bugs`` also draws the situations of generator.KNOWN_BUGS.
``--control-flow PERCENT`` draws loops, conds and cases too (generator.draw_control; at least one
per graph); 0, the default, draws the graphs of earlier campaigns. ``--dense`` draws dense-layer
chains instead (``tests/conformance/dense.py``: matmul by a Variable, bias, relu/relu6, fan-out,
widths and batches that reach the generated GEMM, its epilogue, the narrow kernels and the threaded
one-row split, and SGD steps of an in-place artifact against a Session's). ``--conv`` draws
convolution chains (``tests/conformance/conv.py``: conv2d by a Variable, strides, padding,
dilation, bias, relu, max/avg pool, fan-out, a dense layer; shapes that reach the per-image im2col
loops on the session's threads and the direct conv).
``--variant tf`` builds each graph in TensorFlow 1 too (``tests/conformance/tfdiff.py``: every node
by a TF API call on both sides, ``tensorflow.compat.v1`` in graph mode, a tf.Session and
``tf.gradients``) and compares tgc's forward values, loss and gradients with TensorFlow's; it draws
only the ops TF has a call for, and a graph one side refuses and the other runs counts as
``tf-refuses`` or ``tgc-refuses``. It needs a Python with TensorFlow and tgc both (run the campaign
with it: ``/tmp/peers/bin/python benchmarks/random_graphs.py --variant tf ...``; it stops with a
message where TensorFlow is not importable); ``--control-flow`` works with it. ``--variant
tf_train`` trains the graph's Variables (its float placeholders of static shapes become Variables)
for three steps of an optimizer the seed picks (SGD, Momentum, Nesterov, Adam, Adagrad, Adadelta,
RMSProp, centered RMSProp) in tgc and in TensorFlow, and compares each step's loss and the trained
Variables (``tests/conformance/tftrain.py``).
``tests/conformance/shrink.py SEED`` shrinks a failing seed to a short ``import tgc as tf`` program.
A seed's graph depends on the registry: an op added to it changes the graphs drawn after it.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF_VARIANTS = ("tf", "tf_train")  # against TensorFlow itself: a Python that has it runs them
sys.path.insert(0, os.path.join(ROOT, "tests"))


# ---- the worker: one process, many seeds ---------------------------------------------------------


def draw(seed: int, args, entries=None):
    """Graph ``seed`` as this campaign's options draw it (a dense chain with --dense, a conv
    chain with --conv)."""
    if args.conv:
        from conformance.conv import draw_conv
        from conformance.generator import RandomChooser

        return draw_conv(RandomChooser(seed), seed=seed, variant=args.variant)
    if args.dense:
        from conformance.dense import draw_dense
        from conformance.generator import RandomChooser

        return draw_dense(RandomChooser(seed), seed=seed, variant=args.variant)
    from conformance.checks import draws_control_flow_pinned, entries_for, target_named
    from conformance.generator import KNOWN_BUGS, RandomChooser, catalogue, draw_graph

    target = target_named(args.target)
    if entries is None:  # the ops the target runs, as the suite draws them
        entries = entries_for(target, catalogue())
        if args.variant in TF_VARIANTS:
            from conformance.tfdiff import entries_tf

            entries = entries_tf(entries)  # those TensorFlow has a call for
    return draw_graph(
        RandomChooser(seed),
        seed=seed,
        avoid=set() if args.include_known_bugs else set(KNOWN_BUGS),
        entries=entries,
        variant=args.variant,
        favour=target.favour,  # an accelerator's ops are drawn more often
        control_flow=args.control_flow,
        control_on_pinned_devices=draws_control_flow_pinned(target),
    )


def worker(args) -> None:
    """Reads seeds on stdin, writes one JSON result per seed on the original stdout."""
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything tgc or a library prints goes to stderr, not into the results
    from conformance.checks import close_local_cluster, entries_for, run_checks, target_named
    from conformance.conv import run_conv
    from conformance.dense import run_dense
    from conformance.generator import catalogue

    entries = entries_for(target_named(args.target), catalogue())  # drawn once, not per seed
    if args.variant in TF_VARIANTS:
        from conformance.tfdiff import entries_tf, run_tfdiff, tensorflow_or_none

        entries = entries_tf(entries)
        tensorflow = tensorflow_or_none()
    abort_seed = os.environ.get("TGC_CAMPAIGN_ABORT_SEED")  # the tests' stand-in for a segfault
    for line in sys.stdin:
        seed = int(line)
        if abort_seed is not None and seed == int(abort_seed):
            os.abort()
        started = time.time()
        spec = draw(seed, args, entries)
        record = describe(spec)
        print(f"--- seed {seed}", file=sys.stderr, flush=True)
        try:
            if args.conv:
                outcome = run_conv(spec)
            elif args.variant == "tf":
                outcome = run_tfdiff(spec, tensorflow)
            elif args.variant == "tf_train":
                from conformance.tftrain import run_tftrain

                outcome = run_tftrain(spec, tensorflow)
            else:
                outcome = run_dense(spec) if args.dense else run_checks(spec, args.target)
            record.update(
                status=outcome.status, category=outcome.category, detail=outcome.detail[:600]
            )
        except Exception as exc:  # noqa: BLE001 - a fault of the suite itself: recorded, never fatal
            record.update(
                status="error", category="suite", detail=f"{type(exc).__name__}: {exc}"[:600]
            )
        record["seconds"] = round(time.time() - started, 3)
        results.write(json.dumps(record) + "\n")
    close_local_cluster()  # where the cluster variant started one


def describe(spec) -> dict:
    from conformance.conv import ConvSpec
    from conformance.dense import DenseSpec
    from conformance.generator import control_nodes

    if isinstance(spec, DenseSpec):
        return describe_dense(spec)
    if isinstance(spec, ConvSpec):
        return describe_conv(spec)
    return {
        "seed": spec.seed,
        "variant": spec.variant,
        "dtype": spec.dtype,
        "ops": spec.ops(),
        "dims": [
            {"kind": i.kind, "static": list(i.static), "fed": list(i.shape)} for i in spec.inputs
        ],
        "targets": len(spec.targets),
        "control": [n.op for n in control_nodes(spec.nodes)],
    }


def describe_dense(spec) -> dict:
    """A dense chain's record: its layers as ops, x's dims, the fed batch sizes."""
    ops = []
    for layer in spec.layers:
        ops += ["matmul_t" if layer.transpose_b else "matmul"]
        ops += [] if layer.bias == "none" else [layer.bias]
        ops += [] if layer.activation == "none" else [layer.activation]
        ops += [] if layer.fan_out == "none" else [f"fan_out_{layer.fan_out}"]
    return {
        "seed": spec.seed,
        "variant": spec.variant,
        "dtype": spec.dtype,
        "ops": ops,
        "dims": [
            {"kind": "placeholder", "static": [spec.static_batch, spec.features], "fed": [n]}
            for n in (x.shape[0] for x, _ in spec.steps)
        ],
        "units": [layer.units for layer in spec.layers],
        "threads": spec.threads,
        "targets": len(spec.layers) * 2 + 1,
        "control": [],
    }


def describe_conv(spec) -> dict:
    """A conv chain's record: its layers as ops, x's dims, the fed batch sizes, the conv paths
    its shapes pick (conv.paths)."""
    from conformance.conv import paths

    ops = []
    for layer in spec.layers:
        ops += ["conv2d" if layer.dilation == 1 else "conv2d_dilated"]
        ops += [] if layer.bias == "none" else [layer.bias]
        ops += [] if layer.activation == "none" else [layer.activation]
        ops += [] if layer.pool is None else [f"{layer.pool.kind}_pool"]
        ops += [] if layer.fan_out == "none" else [f"fan_out_{layer.fan_out}"]
    return {
        "seed": spec.seed,
        "variant": spec.variant,
        "dtype": spec.dtype,
        "ops": ops + ["matmul"],
        "dims": [
            {"kind": "placeholder", "static": [spec.static_batch, *spec.image], "fed": [n]}
            for n in (x.shape[0] for x, _ in spec.steps)
        ],
        "conv_paths": sorted(paths(spec)),
        "threads": spec.threads,
        "targets": len(spec.layers) * 2 + 2,
        "control": [],
    }


# ---- the parent: seeds to workers, lines to the log ----------------------------------------------


class Worker:
    def __init__(self, args):
        self.err = tempfile.TemporaryFile()
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--target", args.target]
        if args.include_known_bugs:
            command.append("--include-known-bugs")
        if args.variant:
            command += ["--variant", args.variant]
        command += ["--control-flow", str(args.control_flow)]
        if args.dense:
            command.append("--dense")
        if args.conv:
            command.append("--conv")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
            bufsize=1,
        )
        self.seed = None
        self.started = 0.0
        self.err_mark = 0

    def send(self, seed: int) -> None:
        self.seed, self.started = seed, time.time()
        self.err.seek(0, 2)
        self.err_mark = self.err.tell()
        self.process.stdin.write(f"{seed}\n")
        self.process.stdin.flush()

    def stderr_tail(self) -> str:
        self.err.seek(self.err_mark)
        text = self.err.read().decode(errors="replace")
        return text[-1500:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.err.close()


def done_seeds(path: str) -> set:
    seeds = set()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    seeds.add(json.loads(line)["seed"])
                except (ValueError, KeyError):
                    continue  # a line cut short by a crash of the campaign itself
    return seeds


def crash_record(seed: int, worker: Worker, why: str) -> dict:
    """The record of a seed whose worker died or hung; the graph is described by drawing it
    again."""
    record = {"seed": seed}
    try:
        record.update(describe(draw(seed, ARGS)))
    except Exception as exc:  # noqa: BLE001
        record["draw_error"] = str(exc)
    record.update(
        status="crash",
        category=why,
        detail=worker.stderr_tail()[-600:],
        seconds=round(time.time() - worker.started, 3),
    )
    return record


def campaign(args) -> None:
    todo = [s for s in range(args.start, args.start + args.count) if s not in done_seeds(args.log)]
    print(f"{len(todo)} graphs to run ({args.count - len(todo)} already in {args.log})", flush=True)
    log = open(args.log, "a", encoding="utf-8", buffering=1)
    selector = selectors.DefaultSelector()
    workers = []
    started = time.time()
    finished = 0
    reported = 0

    def start_worker():
        w = Worker(args)
        selector.register(w.process.stdout, selectors.EVENT_READ, w)
        workers.append(w)
        return w

    def feed(w):
        if todo:
            w.send(todo.pop(0))
        else:
            w.seed = None

    def replace(w, record):
        nonlocal finished
        log.write(json.dumps(record) + "\n")
        finished += 1
        selector.unregister(w.process.stdout)
        workers.remove(w)
        w.stop()
        feed(start_worker())

    for _ in range(min(args.jobs, len(todo))):
        feed(start_worker())
    while any(w.seed is not None for w in workers):
        for key, _ in selector.select(timeout=1.0):
            w = key.data
            if w.seed is None:
                continue
            line = w.process.stdout.readline()
            if not line:  # the worker died mid-graph
                code = w.process.wait()
                why = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
                replace(w, crash_record(w.seed, w, why))
                continue
            log.write(line)
            finished += 1
            feed(w)
        for w in list(workers):
            if w.seed is not None and time.time() - w.started > args.timeout:
                replace(w, crash_record(w.seed, w, f"timeout {args.timeout}s"))
        if args.progress and finished >= reported + 100:
            reported = finished - finished % 100
            print(f"{finished} graphs, {finished / (time.time() - started):.2f}/s", flush=True)
    for w in workers:
        w.process.stdin.close()
        w.stop()
    log.close()
    elapsed = time.time() - started
    print(
        f"ran {finished} graphs in {elapsed:.0f} s ({finished / max(elapsed, 1e-9):.2f} graphs/s, "
        f"{args.jobs} jobs)"
    )


# ---- the summary ---------------------------------------------------------------------------------


def signature(record: dict) -> str:
    """A failure's kind without its numbers, to group the same bug met on different graphs."""
    detail = record.get("detail", "").strip().splitlines()
    first = detail[0] if detail else ""
    if (
        first.endswith(":") and len(detail) > 1
    ):  # "Failure while executing pass pipeline:" says little
        first += " " + re.sub(r"^loc\(.*?\)\): ", "", detail[1])
    if record["status"] == "crash":
        assertion = [line for line in detail if "Assertion" in line or "error" in line.lower()]
        first = assertion[-1] if assertion else first
    text = re.sub(r"/tmp/\S+", "<tmp>", first)
    text = re.sub(r"v\d+", "v#", text)
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)
    return f"{record['status']} {record['category']}: {text[:160]}"


def _control_summary(rows: list) -> list:
    """How many graphs hold control flow, and how many of them pass."""
    with_control = [r for r in rows if r.get("control")]
    if not with_control:
        return []
    kinds = collections.Counter(op for r in with_control for op in r["control"])
    passed = sum(r["status"] == "pass" for r in with_control)
    return [
        f"graphs with control flow: {len(with_control)} ({passed} pass); "
        f"loops {kinds['while_loop']}, conds {kinds['cond']}, cases {kinds['case']}"
    ]


def _dense_summary(rows: list) -> list:
    """What the dense chains (--dense) reached: the paths their shapes and threads pick."""
    dense = [r for r in rows if "units" in r]
    if not dense:
        return []

    def fed(r):
        return [d["fed"][0] for d in r["dims"]]

    def widest(r):  # K x N of the chain's largest layer
        ks = [r["dims"][0]["static"][1], *r["units"][:-1]]
        return max(k * n for k, n in zip(ks, r["units"]))

    narrow = sum(any(2 <= n <= 16 for n in r["units"]) for r in dense)
    split = sum(r["threads"] == 2 and 1 in fed(r) and widest(r) >= 2**17 for r in dense)
    empty = sum(0 in fed(r) for r in dense)
    fused = sum(any(op in ("relu", "relu6") for op in r["ops"]) for r in dense)
    return [
        f"dense chains: {len(dense)}; with a 2-16 wide layer {narrow}, relu/relu6 {fused}, "
        f"a batch of 0 {empty}, a threaded one-row GEMM of 2^17+ multiply-adds {split}"
    ]


def _conv_summary(rows: list) -> list:
    """What the conv chains (--conv) reached: the conv paths their shapes and threads pick."""
    convs = [r for r in rows if "conv_paths" in r]
    if not convs:
        return []
    reached = collections.Counter(p for r in convs for p in r["conv_paths"])
    threaded = sum(r["threads"] == 2 and "per_image" in r["conv_paths"] for r in convs)
    empty = sum(any(d["fed"][0] == 0 for d in r["dims"]) for r in convs)
    return [
        f"conv chains: {len(convs)}; paths {dict(sorted(reached.items()))}; per-image loops on 2 "
        f"threads {threaded}, a batch of 0 {empty}"
    ]


def summary(path: str, start: int | None = None, count: int | None = None) -> str:
    records = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if start is None or start <= r["seed"] < start + count:
                records[r["seed"]] = r
    rows = list(records.values())
    by_status = collections.Counter(r["status"] for r in rows)
    by_category = collections.Counter((r["status"], r["category"]) for r in rows)
    by_variant = collections.Counter((r.get("variant"), r["status"]) for r in rows)
    seconds = [r.get("seconds", 0) for r in rows]
    lines = [
        f"graphs {len(rows)}: pass {by_status['pass']}, wrong {by_status['wrong']}, "
        f"crash {by_status['crash']}, error {by_status['error']}"
        + (f", known {by_status['known']}" if by_status["known"] else ""),  # --variant tf's
        f"mean {sum(seconds) / max(len(seconds), 1):.2f} s per graph (one job)",
        f"dtypes: {dict(collections.Counter(r.get('dtype') for r in rows))}; "
        "graphs with None dims: "
        f"{sum(any(None in d['static'] for d in r.get('dims', [])) for r in rows)}",
        *_control_summary(rows),
        *_dense_summary(rows),
        *_conv_summary(rows),
        "by variant:",
    ]
    for variant in sorted({v for v, _ in by_variant if v}):
        counts = {
            s: by_variant[(variant, s)]
            for s in ("pass", "wrong", "crash", "error", "known")
            if by_variant[(variant, s)]
        }
        lines.append(f"  {variant}: {counts}")
    from conformance.checks import NOT_COMPARED

    flips = sum(1 for r in rows if r["status"] == "pass" and NOT_COMPARED in r.get("detail", ""))
    if flips:
        lines.append(f"passes with values not compared (they may flip on the accelerator): {flips}")
    lines.append("failures by category:")
    for (status, category), n in sorted(by_category.items()):
        if status != "pass":
            lines.append(f"  {status:6} {category}: {n}")
    groups = collections.defaultdict(list)
    for r in rows:
        if r["status"] != "pass":
            groups[signature(r)].append(r["seed"])
    lines.append(f"distinct failures: {len(groups)}")
    for sig, seeds in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"  {len(seeds):5} x  {sig}   (seeds {sorted(seeds)[:5]})")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument(
        "--log", default="random_graphs.jsonl", help="JSON lines, one per graph (appended)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds before a graph counts as hung"
    )
    parser.add_argument("--target", default="cpu")
    parser.add_argument(
        "--variant",
        default=None,
        help="run every graph with this variant (also 'cluster': a ps and a worker task of a "
        "local Ray cluster, started once per worker process; 'tf': against TensorFlow 1 itself, "
        "run by a Python that has it, tests/conformance/tfdiff.py; 'tf_train': the graph's "
        "Variables trained in both, tests/conformance/tftrain.py)",
    )
    parser.add_argument(
        "--include-known-bugs", action="store_true", help="draw generator.KNOWN_BUGS too"
    )
    parser.add_argument(
        "--control-flow",
        type=int,
        default=0,
        metavar="PERCENT",
        help="draw loops, conds and cases: this percentage of the node draws (0: none)",
    )
    parser.add_argument(
        "--dense",
        action="store_true",
        help="draw dense-layer chains (tests/conformance/dense.py: the CPU's GEMM fast paths); "
        "--variant then names one of its variants",
    )
    parser.add_argument(
        "--conv",
        action="store_true",
        help="draw convolution chains (tests/conformance/conv.py: the CPU's conv paths); "
        "--variant then names one of its variants",
    )
    parser.add_argument("--summary", action="store_true", help="only summarise the log")
    parser.add_argument("--progress", action="store_true", help="print the rate every 100 graphs")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global ARGS
    ARGS = args
    if args.worker:
        worker(args)
        return
    if args.variant in TF_VARIANTS and not args.summary and not (args.dense or args.conv):
        from conformance.tfdiff import NOT_IMPORTABLE, tensorflow_or_none

        if tensorflow_or_none() is None:
            sys.exit(NOT_IMPORTABLE.format(python=sys.executable))
    if not args.summary:
        campaign(args)
    print(
        summary(
            args.log, None if args.summary else args.start, None if args.summary else args.count
        )
    )


ARGS = None

if __name__ == "__main__":
    main()
