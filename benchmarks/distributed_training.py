"""Benchmark: the lectures' ps/worker programs on a local Ray cluster, steps per second with 1, 2
and 4 workers, against the same graph in-process.

``--model two_layer`` (default) is examples/ps_worker.py's graph (N, D, H, C = 64, 1000, 100, 10; w1
on ps 0, w2 on ps 1; the batch split over the workers, each computing its shard's loss and
gradients; the ps tasks average the gradients and update); ``--model convnet`` the lectures'
convnet (batch 32, 28x28x1, conv5x5x32, pool, conv5x5x64, pool, fc1024, fc10) the same way.
In-process it runs with soft placement (every scope falls back to the
one local CPU). On the cluster (tf.test.create_local_cluster: Ray on loopback, one actor per task)
each step is a Ray call per task plus Send/Recv between actors. Reported per configuration: the
cluster's start time, first-step time (compile + load in the actors), median and quartiles of the
step, steps per second, the tensors and bytes moved between tasks per step, and the time from
SIGKILLing worker 0's process to the next step that succeeds (Ray restarts it), and from SIGKILLing
ps 1 (after a checkpoint) to the next step that succeeds after restoring it. A JSON record goes
to benchmarks/results/. Run from the repository root:
    python benchmarks/distributed_training.py [--model convnet] [--steps 50] [--workers 1 2 4]

The peer: the same program on TensorFlow 2's ``tf.compat.v1`` distributed runtime (a cluster as
``tf.compat.v1.test.create_local_cluster`` makes it: gRPC servers on loopback in one process),
in-process and with 1, 2, 4 workers. TensorFlow is not a dependency of tgc's environment: the peer
runs where ``--tf-python PYTHON`` names an interpreter that has it (or TensorFlow imports here), in
a process of its own (``--peer-only``) that never imports tgc; elsewhere it is skipped and the
record says so. The program is the same text: examples/ps_worker.py's ``build`` (its
``import tgc as tf`` resolved to ``tensorflow.compat.v1``) and this file's ``convnet``:
    python -m venv /tmp/tfenv2 && /tmp/tfenv2/bin/pip install tensorflow-cpu==2.21.0
    python benchmarks/distributed_training.py --tf-python /tmp/tfenv2/bin/python
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# tgc, or tensorflow.compat.v1 in the peer's process (--peer-only): set by _use_tgc / _use_tf.
tf = None

REPO = Path(__file__).resolve().parents[1]


def _example():
    spec = importlib.util.spec_from_file_location("ps_worker", REPO / "examples" / "ps_worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NUM_PS = 2


def two_layer(num_workers: int):
    """examples/ps_worker.py's graph: (feeds, [loss, train_op])."""
    example = _example()
    x, y, loss, train_op = example.build(num_workers=num_workers)
    rng = np.random.default_rng(0)
    feeds = {
        x: rng.standard_normal((example.N, example.D)).astype(np.float32),
        y: np.eye(example.C, dtype=np.float32)[rng.integers(0, example.C, example.N)],
    }
    return feeds, [loss, train_op]


def convnet(num_workers: int, batch: int = 32):
    """The lectures' convnet (benchmarks/harness.py's workload 4: 28x28x1, conv5x5x32, pool,
    conv5x5x64, pool, fc1024, fc10; SGD), its convolutions' weights on ps 0, the fully connected
    ones on ps 1, each worker the gradients of its shard of the batch, averaged on the ps tasks."""
    shapes = {
        "conv1": (5, 5, 1, 32),
        "conv2": (5, 5, 32, 64),
        "fc1": (7 * 7 * 64, 1024),
        "fc2": (1024, 10),
    }
    params = {}
    for name, shape in shapes.items():
        with tf.device("/job:ps/task:0" if name.startswith("conv") else "/job:ps/task:1"):
            params[name] = tf.Variable(tf.truncated_normal(shape, stddev=0.05), name=name)
    x = tf.placeholder(tf.float32, (batch, 28, 28, 1), name="images")
    y = tf.placeholder(tf.float32, (batch, 10), name="labels")
    shard = batch // num_workers
    losses, grads = [], []
    for k in range(num_workers):
        with tf.device(f"/job:worker/task:{k}"), tf.name_scope(f"tower_{k}"):
            h = x[k * shard : (k + 1) * shard]
            for conv in ("conv1", "conv2"):
                h = tf.nn.relu(tf.nn.conv2d(h, params[conv], [1, 1, 1, 1], "SAME"))
                h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
            h = tf.nn.relu(tf.matmul(tf.reshape(h, [shard, 7 * 7 * 64]), params["fc1"]))
            logits = tf.matmul(h, params["fc2"])
            labels = y[k * shard : (k + 1) * shard]
            loss = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
            losses.append(loss)
            grads.append(tf.gradients(loss, list(params.values())))
    averaged = []
    for i, (name, var) in enumerate(params.items()):
        with tf.device("/job:ps/task:0" if name.startswith("conv") else "/job:ps/task:1"):
            averaged.append((tf.add_n([g[i] for g in grads]) / float(num_workers), var))
    train_op = tf.train.GradientDescentOptimizer(0.01).apply_gradients(averaged)
    rng = np.random.default_rng(0)
    feeds = {
        x: rng.standard_normal((batch, 28, 28, 1)).astype(np.float32),
        y: np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)],
    }
    return feeds, [tf.add_n(losses), train_op]


MODELS = {"two_layer": two_layer, "convnet": convnet}


def measure(build, num_workers: int, steps: int, on_cluster: bool) -> dict:
    tf.reset_default_graph()
    servers, target, config = [], "", tf.ConfigProto(allow_soft_placement=True)
    start = time.perf_counter()
    if on_cluster:
        workers, ps = tf.test.create_local_cluster(num_workers=num_workers, num_ps=NUM_PS)
        servers, target, config = workers + ps, workers[0].target, None
    started = time.perf_counter() - start
    try:
        feeds, fetches = build(num_workers)
        loss, train_op = fetches
        with tf.Session(target, config=config) as sess:
            first, times = _time_steps(sess, [loss, train_op], feeds, steps)
            moved = _moved_per_step(sess) if on_cluster else (0, 0)
            recovery = ps_recovery = None
            if on_cluster:
                recovery = _recovery_seconds(sess, [loss, train_op], feeds)
                ps_recovery = _ps_recovery_seconds(sess, [loss, train_op], feeds)
    finally:
        for server in servers:
            server.close()
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {
        "where": f"cluster, {num_workers} worker(s) + {NUM_PS} ps" if on_cluster else "in-process",
        "workers": num_workers,
        "start_s": started,
        "first_step_s": first,
        "median_ms": 1e3 * median,
        "q1_ms": 1e3 * q1,
        "q3_ms": 1e3 * q3,
        "steps_per_s": 1.0 / median,
        "tensors_per_step": moved[0],
        "bytes_per_step": moved[1],
        "recovery_s": recovery,
        "ps_recovery_s": ps_recovery,
    }


def _time_steps(sess, fetches, feeds, steps) -> tuple:
    """(seconds of the first step, [seconds of each of the next ``steps``])."""
    sess.run(tf.global_variables_initializer())
    t0 = time.perf_counter()
    sess.run(fetches, feeds)
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        sess.run(fetches, feeds)
        times.append(time.perf_counter() - t0)
    return first, times


# ---- the peer: TensorFlow 2's tf.compat.v1 distributed runtime -----------------------------------


def _use_tgc() -> None:
    global tf
    import tgc

    tf = tgc


def _use_tf() -> None:
    """tensorflow.compat.v1 in graph mode, also under the name ``tgc``: examples/ps_worker.py's
    ``import tgc as tf`` then builds the same graph with TensorFlow."""
    global tf
    import tensorflow

    v1 = tensorflow.compat.v1
    v1.disable_eager_execution()
    sys.modules["tgc"] = v1
    tf = v1


def measure_peer(build, num_workers: int, steps: int, on_cluster: bool) -> dict:
    """The same program on TensorFlow: in-process or on a local cluster as
    tf.compat.v1.test.create_local_cluster makes it (gRPC servers on loopback, which TF never
    stops: they live until the process ends)."""
    tf.reset_default_graph()
    target, config = "", tf.ConfigProto(allow_soft_placement=True)
    start = time.perf_counter()
    if on_cluster:
        workers = _tf_local_cluster(num_workers, NUM_PS)
        target, config = workers[0].target, None
    started = time.perf_counter() - start
    feeds, fetches = build(num_workers)
    if not on_cluster:
        # TF's soft placement does not drop a job that no device has: clear the requests.
        for op in tf.get_default_graph().get_operations():
            op._set_device("")
    with tf.Session(target, config=config) as sess:
        first, times = _time_steps(sess, fetches, feeds, steps)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {
        "where": f"TF cluster, {num_workers} worker(s) + {NUM_PS} ps"
        if on_cluster
        else "TF in-process",
        "workers": num_workers,
        "start_s": started,
        "first_step_s": first,
        "median_ms": 1e3 * median,
        "q1_ms": 1e3 * q1,
        "q3_ms": 1e3 * q3,
        "steps_per_s": 1.0 / median,
        "tensors_per_step": None,
        "bytes_per_step": None,
        "recovery_s": None,
        "ps_recovery_s": None,
    }


def _tf_local_cluster(num_workers: int, num_ps: int) -> list:
    """tf.compat.v1.test.create_local_cluster's body (gRPC servers on free loopback ports) without
    its portpicker dependency; returns the worker servers."""
    import socket

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("localhost", 0))
            return s.getsockname()[1]

    ports = [free_port() for _ in range(num_workers + num_ps)]
    spec = tf.train.ClusterSpec(
        {
            "worker": [f"localhost:{p}" for p in ports[:num_workers]],
            "ps": [f"localhost:{p}" for p in ports[num_workers:]],
        }
    )
    servers = [tf.train.Server(spec, "worker", i, start=True) for i in range(num_workers)]
    servers += [tf.train.Server(spec, "ps", i, start=True) for i in range(num_ps)]
    return servers[:num_workers]


def _peer(args) -> dict:
    """The peer's rows, measured by ``--tf-python`` (or this interpreter, when TensorFlow imports
    here) in a process of its own; or why it was skipped."""
    python = args.tf_python
    if python is None and importlib.util.find_spec("tensorflow") is not None:
        python = sys.executable
    if python is None:
        return {"skipped": "TensorFlow is not installed here; give --tf-python PYTHON"}
    command = [python, str(Path(__file__).resolve()), "--peer-only", "--model", args.model]
    command += ["--steps", str(args.steps), "--workers", *map(str, args.workers)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        return {"skipped": f"the peer failed: {done.stderr[-2000:]}", "python": python}
    return {"python": python, **json.loads(done.stdout.strip().splitlines()[-1])}


def _peer_only(args) -> None:
    """Runs in the TensorFlow interpreter: prints the peer's rows as one JSON line."""
    _use_tf()
    import tensorflow

    build = MODELS[args.model]
    rows = [measure_peer(build, 2, args.steps, on_cluster=False)]
    rows += [measure_peer(build, n, args.steps, on_cluster=True) for n in args.workers]
    runtime = f"tensorflow {tensorflow.__version__} tf.compat.v1"
    print(json.dumps({"runtime": runtime, "rows": rows}))


def _recovery_seconds(sess, fetches, feeds) -> float:
    """SIGKILL worker 0's process; seconds until a step succeeds again (Ray restarts the actor,
    the run is loaded into it again)."""
    import signal

    import ray

    actor = ray.get_actor("worker/0", namespace="tgc")
    os.kill(ray.get(actor.pid.remote()), signal.SIGKILL)
    start = time.perf_counter()
    while True:
        try:
            sess.run(fetches, feeds)
            return time.perf_counter() - start
        except tf.errors.UnavailableError:
            continue


def _ps_recovery_seconds(sess, fetches, feeds) -> float:
    """Checkpoint, SIGKILL ps 1's process; seconds until a step succeeds again after restoring
    the checkpoint (what MonitoredTrainingSession does on the AbortedError / UnavailableError)."""
    import signal
    import tempfile

    import ray

    saver = tf.train.Saver()
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = saver.save(sess, os.path.join(directory, "model"), global_step=0)
        actor = ray.get_actor("ps/1", namespace="tgc")
        os.kill(ray.get(actor.pid.remote()), signal.SIGKILL)
        start = time.perf_counter()
        while True:
            try:
                sess.run(fetches, feeds)
                return time.perf_counter() - start
            except (tf.errors.UnavailableError, tf.errors.AbortedError):
                try:
                    saver.restore(sess, checkpoint)
                except (tf.errors.UnavailableError, tf.errors.AbortedError):
                    continue


def _moved_per_step(sess) -> tuple:
    """Tensors and bytes moved between tasks per step by the training run (the one with most)."""
    runs = [c.call for c in sess._cache.values() if hasattr(c.call, "transfers")]
    tensors, nbytes = max(run.transfers() for run in runs)
    steps = max(run.steps for run in runs)
    return tensors / steps, nbytes / steps


def _column(value, width: int, spec: str) -> str:
    return " " + ("-".rjust(width) if value is None else format(value, spec))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--model", choices=sorted(MODELS), default="two_layer")
    parser.add_argument(
        "--tf-python", default=None, help="a Python with TensorFlow 2, to run the peer"
    )
    parser.add_argument("--peer-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_only:
        _peer_only(args)
        return
    _use_tgc()
    build = MODELS[args.model]
    rows = [measure(build, 2, args.steps, on_cluster=False)]
    rows += [measure(build, n, args.steps, on_cluster=True) for n in args.workers]
    peer = _peer(args)
    print(
        f"{'where':32} {'start s':>8} {'first s':>8} {'median ms':>10} {'q1-q3 ms':>14} "
        f"{'steps/s':>8} {'tensors':>8} {'kB/step':>8} {'recover s':>9} {'ps rec s':>8}"
    )
    for r in rows + peer.get("rows", []):
        print(
            f"{r['where']:32} {r['start_s']:8.2f} {r['first_step_s']:8.2f} {r['median_ms']:10.2f} "
            f"{r['q1_ms']:6.2f}-{r['q3_ms']:<7.2f} {r['steps_per_s']:8.1f}"
            + _column(r["tensors_per_step"], 8, "8.0f")
            + _column(None if r["bytes_per_step"] is None else r["bytes_per_step"] / 1e3, 8, "8.1f")
            + _column(r["recovery_s"], 9, "9.2f")
            + _column(r["ps_recovery_s"], 8, "8.2f")
        )
    if "skipped" in peer:
        print(f"TensorFlow peer skipped: {peer['skipped']}")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S%z")
    name = "distributed_two_layer" if args.model == "two_layer" else f"distributed_{args.model}"
    out = REPO / "benchmarks" / "results" / f"{name}-{stamp}.json"
    record = {
        "command": " ".join(["python", "benchmarks/distributed_training.py", *sys.argv[1:]]),
        "model": args.model,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "steps": args.steps,
        "rows": rows,
        "peer": peer,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
