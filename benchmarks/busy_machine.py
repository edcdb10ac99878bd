"""Benchmark: the two-layer SGD step on a quiet machine and beside 1 and 2 busy processes.

Issue 18's bar: with one busy competing process, tgc's mean step time at most 1.5x its quiet mean.
A busy process is a Python spin loop in a subprocess (it never sleeps, as a training job or a
compile on the other cores would not). The workload is benchmarks/two_layer_step.py's (N, D, H, C =
64, 1000, 100, 10; summed softmax cross-entropy; plain gradient descent), run by:

- tgc: a Session running the train op, with the default config, and with each
  ``intra_op_parallelism_threads`` given by ``--tgc-threads`` (e.g. ``--tgc-threads 1,2``), in this
  process;
- with ``--tgc-codegen-threads`` (e.g. ``1,2``), a Session per value whose matmuls call tgc's
  generated GEMM (TGC_GEMM=codegen: no BLAS; on several threads through its parallel runtime,
  tgc/lowering/cpu/parallel_gemm.py) with that ``intra_op_parallelism_threads``;
- with ``--tgc-unscoped``, tgc as before tgc/runtime/blas_threads.py: a Session whose runs leave
  OpenBLAS's thread count alone (its ThreadScope replaced by a no-op), in a worker process;
- numpy by hand (its OpenBLAS threads itself), in a worker process;
- TensorFlow 2 (``tf.function(jit_compile=True)`` over tf.Variables) in a worker process when
  ``--tf2-python`` names an interpreter with tensorflow (it must not share a process with tgc's MLIR
  bindings, see benchmarks/harness.py);
- PyTorch (eager: ``torch.autograd.grad`` and in-place updates) and JAX (one ``jax.jit`` of the
  step, parameters donated) in worker processes when ``--torch-python`` / ``--jax-python`` name an
  interpreter with them. ``--peers-python`` names one for all three (a venv with the ``bench``
  extra). Each worker's first two losses must be numpy's before its times count.

Libraries whose threads spin after a step share no process with tgc's sessions: OpenBLAS's worker
left spinning by a two-thread numpy step took the core the next tgc step wanted.

Conditions are interleaved in time: each round runs a block of steps per condition (quiet, 1 busy, 2
busy, in an order that rotates per round), and within a block tgc's sessions alternate step by step
(in an order shuffled each step) and each worker process then runs its steps as a block, so drifts
of the machine's load hit all of them alike. Reported per implementation and condition: mean,
median, p99 and max (ms), and busy/quiet ratios of the mean and the median. A JSON record and a
Markdown table go to benchmarks/results/busy_machine-<time>.*.

The machine may be shared (other jobs add load to every condition); the record keeps the 1-minute
load average before and after. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/busy_machine.py \
        --peers-python /tmp/peers/bin/python --tgc-threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# The checkout this file is in, not whichever tgc the interpreter would find: a script's sys.path
# starts at benchmarks/, and an editable install may point at another checkout (or none).
sys.path.insert(0, str(REPO))
CONDITIONS = {"quiet": 0, "1 busy": 1, "2 busy": 2}  # name -> busy processes
SPIN = "while True:\n    pass\n"
SETTLE_S = 0.2  # after starting or stopping busy processes, before timing


# ---- busy processes ------------------------------------------------------------------------------


class BusyProcesses:
    """``count`` Python spin loops running for the duration of a ``with`` block."""

    def __init__(self, count: int):
        self.count = count
        self.procs: list = []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(self.count)]
        time.sleep(SETTLE_S)
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()
        time.sleep(SETTLE_S if self.procs else 0)


# ---- implementations: each a callable running one step ------------------------------------------


def tgc_steps(data, variants: list) -> tuple:
    """{name: step} for tgc with each of ``variants``: None (the default config), an
    intra_op_parallelism_threads value, ("codegen", value) (that value with the generated GEMM) or
    "unscoped" (runs without a thread scope); returns (steps, sessions to close)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import two_layer_step as tls

    import tgc as tf

    xa, ya, w1_0, w2_0 = data
    steps, sessions = {}, []
    for variant in variants:
        codegen = isinstance(variant, tuple)
        threads = variant[1] if codegen else variant
        x, y, loss, train_op, variables = tls.build_tgc_step(w1_0, w2_0)
        config = (
            tf.ConfigProto(intra_op_parallelism_threads=threads) if type(threads) is int else None
        )
        sess = tf.Session(config=config)
        if threads == "unscoped":
            sess._blas_threads = contextlib.nullcontext()
        # The GEMM callee is chosen when the step compiles: on its first run.
        with _gemm_environment("codegen" if codegen else None):
            sess.run(tf.global_variables_initializer())
            tls.check_same_step(sess, x, y, loss, train_op, variables, data)
        feed = {x: xa, y: ya}
        name = {None: "tgc", "unscoped": "tgc unscoped (before)"}.get(
            threads, f"tgc intra_op={threads}"
        )
        if codegen:
            name = f"tgc codegen intra_op={threads}"
        steps[name] = lambda sess=sess, op=train_op, feed=feed: sess.run(op, feed)
        sessions.append(sess)
    _optimized(steps)
    return steps, sessions


@contextlib.contextmanager
def _gemm_environment(callee):
    """TGC_GEMM=callee inside the block (None: as it was)."""
    old = os.environ.get("TGC_GEMM")
    if callee is not None:
        os.environ["TGC_GEMM"] = callee
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TGC_GEMM", None)
        else:
            os.environ["TGC_GEMM"] = old


def _optimized(steps: dict) -> None:
    """Runs each step twice and waits for the JIT's optimized tier (a second call queues it;
    tgc/lowering/cpu/tiered.py), so no timed step runs the quick tier's code."""
    for fn in steps.values():
        fn()
        fn()
    try:
        from tgc.lowering.cpu.tiered import wait_for_optimized_code
    except ImportError:  # a tgc before the tiers: its code is optimized from the first call
        return
    wait_for_optimized_code()


def numpy_step_fn(data):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import two_layer_step as tls

    xa, ya, w1_0, w2_0 = data
    w1, w2 = w1_0.copy(), w2_0.copy()
    return lambda: tls.numpy_step(xa, ya, w1, w2)


class WorkerStep:
    """A step run by a worker process (another interpreter): one line in, its time out."""

    def __init__(self, python: str, kind: str, data_path: str):
        self.proc = subprocess.Popen(
            [python, __file__, "--worker", kind, "--data", data_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self.proc.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise RuntimeError(f"{kind} worker did not start ({python})")
        self.kind, self.python = kind, python
        self.version, self.first_losses = ready[1], [float(v) for v in ready[2:]]
        self.last_s = 0.0

    def run(self, count: int) -> list:
        """Seconds of each of ``count`` steps, run back to back in the worker."""
        self.proc.stdin.write(f"{count}\n")
        return [float(t) for t in self.proc.stdout.readline().split()]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def serve_steps(step, version: str, first_losses: list) -> None:
    """Worker mode's loop: says it is ready (with the losses of its first steps), then for each
    line (a count) runs that many steps and answers their times in seconds."""
    print(f"ready {version} " + " ".join(repr(float(v)) for v in first_losses), flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
        print(" ".join(map(repr, times)), flush=True)


def numpy_losses(data, steps: int = 2) -> list:
    """The losses of numpy's first ``steps`` steps from the initial weights."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import two_layer_step as tls

    xa, ya, w1_0, w2_0 = data
    w1, w2 = w1_0.copy(), w2_0.copy()
    return [tls.numpy_step(xa, ya, w1, w2) for _ in range(steps)]


def load_data(data_path: str) -> tuple:
    d = np.load(data_path)
    return (d["x"], d["y"], d["w1"], d["w2"])


def numpy_worker(data_path: str) -> None:
    data = load_data(data_path)
    serve_steps(numpy_step_fn(data), np.__version__, numpy_losses(data))


def tgc_unscoped_worker(data_path: str) -> None:
    data = load_data(data_path)
    steps, _ = tgc_steps(data, ["unscoped"])  # checks its step against numpy's
    serve_steps(next(iter(steps.values())), "tgc", numpy_losses(data))


def tf2_worker(data_path: str) -> None:
    """Worker mode: TensorFlow 2's step, timed in this process."""
    import tensorflow as tf

    d = np.load(data_path)
    x, y = tf.constant(d["x"]), tf.constant(d["y"])
    w1, w2 = tf.Variable(d["w1"]), tf.Variable(d["w2"])
    lr = float(d["lr"])

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
            loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
        g1, g2 = tape.gradient(loss, [w1, w2])
        w1.assign_sub(lr * g1)
        w2.assign_sub(lr * g2)
        return loss

    first_losses = [float(step()) for _ in range(2)]
    serve_steps(lambda: step().numpy(), tf.__version__, first_losses)


def torch_worker(data_path: str) -> None:
    """Worker mode: PyTorch eager's step (autograd.grad, in-place updates under no_grad)."""
    import torch

    d = np.load(data_path)
    x, labels = torch.from_numpy(d["x"]), torch.from_numpy(d["y"]).argmax(1)
    w1, w2 = (torch.tensor(d[k], requires_grad=True) for k in ("w1", "w2"))
    lr = float(d["lr"])

    def step():
        scores = torch.relu(x @ w1) @ w2
        loss = torch.nn.functional.cross_entropy(scores, labels, reduction="sum")
        g1, g2 = torch.autograd.grad(loss, [w1, w2])
        with torch.no_grad():
            w1.sub_(lr * g1)
            w2.sub_(lr * g2)
        return loss

    first_losses = [step().item() for _ in range(2)]
    serve_steps(lambda: step().item(), torch.__version__, first_losses)


def jax_worker(data_path: str) -> None:
    """Worker mode: JAX's step, forward, grad and update in one jit, parameters donated."""
    import functools

    import jax
    import jax.numpy as jnp

    d = np.load(data_path)
    x, y = jax.device_put(d["x"]), jax.device_put(d["y"])
    lr = float(d["lr"])

    def loss_fn(ws):
        scores = jax.nn.relu(x @ ws[0]) @ ws[1]
        return -jnp.sum(y * jax.nn.log_softmax(scores, axis=1))

    @functools.partial(jax.jit, donate_argnums=0)
    def update(ws):
        loss, grads = jax.value_and_grad(loss_fn)(ws)
        return [w - lr * g for w, g in zip(ws, grads)], loss

    state = {"ws": [jax.device_put(d["w1"].copy()), jax.device_put(d["w2"].copy())]}

    def step():
        state["ws"], loss = update(state["ws"])
        return float(loss)  # waits for the step, as the other workers' fetches do

    first_losses = [step() for _ in range(2)]
    serve_steps(step, jax.__version__, first_losses)


# worker name -> (its --worker kind, its library, the option naming its interpreter)
PEER_WORKERS = {
    "tf2 (XLA)": ("tf2", "tensorflow", "--tf2-python"),
    "torch": ("torch", "torch", "--torch-python"),
    "jax": ("jax", "jax", "--jax-python"),
}


def peer_steps(peer_pythons: dict, unscoped: bool, data_path: str) -> tuple:
    """{name: step} for numpy and the peers given an interpreter (``peer_pythons``: worker name
    -> python or None), each in a worker process of its own; (steps, workers, notes)."""
    kinds = {"numpy": (sys.executable, "numpy")}
    if unscoped:
        kinds["tgc unscoped (before)"] = (sys.executable, "tgc-unscoped")
    for name, python in peer_pythons.items():
        if python:
            kinds[name] = (python, PEER_WORKERS[name][0])
    steps = {name: WorkerStep(python, kind, data_path) for name, (python, kind) in kinds.items()}
    workers, notes = list(steps.values()), {}
    for name, (_, library, option) in PEER_WORKERS.items():
        python = peer_pythons.get(name)
        notes[name] = (
            f"{library} {steps[name].version} ({python})"
            if python
            else f"not run (no {option} or --peers-python)"
        )
    return steps, workers, notes


# ---- timing --------------------------------------------------------------------------------------


def run_block(steps: dict, count: int, seed: int, times: dict) -> None:
    """``count`` steps of each implementation: the in-process ones (tgc's sessions) alternate step
    by step in an order shuffled anew each step, so each follows every other equally often (a
    rotation of one order would not: rotated, tgc's default session always followed numpy, whose
    OpenBLAS worker spins after its step, and its median step beside one busy process was 1.4x the
    intra_op=1 session's; equal when timed without numpy). Then each worker process runs its
    steps as one block, the workers in shuffled order (interleaved step by step, TF2's spinning
    threads made tgc's and numpy's steps 40 ms each)."""
    order = random.Random(seed)
    local = [(name, fn) for name, fn in steps.items() if not isinstance(fn, WorkerStep)]
    for _ in range(count):
        order.shuffle(local)
        for name, fn in local:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    workers = [(name, fn) for name, fn in steps.items() if isinstance(fn, WorkerStep)]
    order.shuffle(workers)
    for name, fn in workers:
        times[name].extend(fn.run(count))


def measure(steps: dict, rounds: int, per_block: int, warmup: int) -> dict:
    """{condition: {name: [seconds]}}, conditions interleaved round by round."""
    times = {c: {name: [] for name in steps} for c in CONDITIONS}
    names = list(CONDITIONS)
    for r in range(rounds):
        for condition in names[r % len(names) :] + names[: r % len(names)]:
            with BusyProcesses(CONDITIONS[condition]):
                run_block(steps, warmup, r, {name: [] for name in steps})
                run_block(steps, per_block, r, times[condition])
        print(f"round {r + 1}/{rounds} done", flush=True)
    return times


def stats(seconds: list) -> dict:
    ms = np.asarray(seconds) * 1e3
    return {
        "mean_ms": float(ms.mean()),
        "median_ms": float(np.median(ms)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "steps": int(ms.size),
    }


def summarise(times: dict) -> dict:
    out = {}
    for name in times["quiet"]:
        per = {c: stats(times[c][name]) for c in CONDITIONS}
        quiet = per["quiet"]
        for c in CONDITIONS:
            per[c]["mean_ratio"] = per[c]["mean_ms"] / quiet["mean_ms"]
            per[c]["median_ratio"] = per[c]["median_ms"] / quiet["median_ms"]
        out[name] = per
    return out


def markdown(rec: dict) -> str:
    lines = [
        f"# Two-layer SGD step beside busy processes ({rec['when']})",
        "",
        f"cpu: {rec['cpu_model']} ({rec['nproc']} cores); load average before/after "
        f"{rec['load_before']:.2f} / {rec['load_after']:.2f} (the machine was shared with other "
        "jobs); "
        f"{rec['rounds']} rounds x {rec['per_block']} steps per condition; git {rec['git']}",
        "",
        "| implementation | condition | mean ms | median ms | p99 ms | max ms | mean / quiet "
        "| median / quiet |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, per in rec["results"].items():
        for c, s in per.items():
            lines.append(
                f"| {name} | {c} | {s['mean_ms']:.3f} | {s['median_ms']:.3f} | {s['p99_ms']:.3f} "
                f"| {s['max_ms']:.2f} | {s['mean_ratio']:.2f} | {s['median_ratio']:.2f} |"
            )
    lines += ["", "Peers: " + "; ".join(f"{k}: {v}" for k, v in rec["peers"].items())]
    return "\n".join(lines) + "\n"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def git_head() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True)
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "tgc"], cwd=REPO).returncode
    return out.stdout.decode().strip() + (" + uncommitted changes under tgc/" if dirty else "")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--per-block", type=int, default=300, help="timed steps per condition a round")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps after each switch")
    ap.add_argument("--tgc-threads", default="", help="comma-separated intra_op values to add")
    ap.add_argument(
        "--tgc-codegen-threads", default="", help="intra_op values of generated-GEMM sessions"
    )
    ap.add_argument("--tgc-unscoped", action="store_true", help="add tgc without thread scope")
    ap.add_argument("--tf2-python", help="an interpreter with tensorflow for the TF2 peer")
    ap.add_argument("--torch-python", help="an interpreter with torch for the PyTorch peer")
    ap.add_argument("--jax-python", help="an interpreter with jax for the JAX peer")
    ap.add_argument(
        "--peers-python",
        help="an interpreter with all three (the bench extra), for each peer not named above",
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        workers = {
            "tf2": tf2_worker,
            "torch": torch_worker,
            "jax": jax_worker,
            "numpy": numpy_worker,
            "tgc-unscoped": tgc_unscoped_worker,
        }
        return workers[args.worker](args.data)

    sys.path.insert(0, str(REPO / "benchmarks"))
    import two_layer_step as tls

    data = tls.make_data()
    thread_options = [int(t) for t in args.tgc_threads.split(",") if t.strip()]
    thread_options += [
        ("codegen", int(t)) for t in args.tgc_codegen_threads.split(",") if t.strip()
    ]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "data.npz")
        np.savez(data_path, x=data[0], y=data[1], w1=data[2], w2=data[3], lr=tls.LEARNING_RATE)
        steps, sessions = tgc_steps(data, [None] + thread_options)
        peer_pythons = {
            "tf2 (XLA)": args.tf2_python or args.peers_python,
            "torch": args.torch_python or args.peers_python,
            "jax": args.jax_python or args.peers_python,
        }
        peers, workers, notes = peer_steps(peer_pythons, args.tgc_unscoped, data_path)
        _check_worker_losses(workers, data)
        steps.update(peers)
        try:
            times = measure(steps, args.rounds, args.per_block, args.warmup)
        finally:
            for closable in sessions + workers:
                closable.close()
    rec = {
        "benchmark": "busy_machine",
        "workload": "two-layer SGD step (64, 1000, 100, 10)",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": git_head(),
        "cpu_model": cpu_model(),
        "nproc": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "rounds": args.rounds,
        "per_block": args.per_block,
        "thread_env": {k: os.environ.get(k) for k in tls.THREAD_VARS},
        "peers": notes,
        "results": summarise(times),
    }
    text = markdown(rec)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"busy_machine-{rec['when'].replace(':', '')}"
    stem.with_suffix(".json").write_text(json.dumps(rec, indent=2) + "\n")
    stem.with_suffix(".md").write_text(text)
    print(f"record: {stem}.json / .md")
    return rec


def _check_worker_losses(workers, data) -> None:
    """A worker's first two steps must compute numpy's losses (the second checks the first's
    update) before its times mean anything."""
    expected = numpy_losses(data)
    for worker in workers:
        np.testing.assert_allclose(
            worker.first_losses,
            expected,
            rtol=1e-4,
            err_msg=f"the {worker.kind} worker ({worker.python}): its first two losses are not "
            "numpy's",
        )


if __name__ == "__main__":
    main()
