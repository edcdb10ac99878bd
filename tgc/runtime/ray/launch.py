"""Starts a between-graph program's tasks on a local Ray cluster made from its ClusterSpec.

    python -m tgc.runtime.ray.launch --cluster '{"ps": ["localhost:2222"],
        "worker": ["localhost:2223", "localhost:2224"]}' examples/ps_worker_between_graph.py

Between-graph replication runs the same script once per task, told its ``--job_name`` and
``--task_index`` (TensorFlow's convention). The launcher starts the cluster (one actor per task,
tgc/runtime/ray/local.py), then one process per task with the cluster's address in the
environment (``TGC_RAY_ADDRESS``, and Ray's token). The script's
``tf.train.Server(cluster, job_name, task_index)`` connects there; a worker's Session runs its
partitions on the tasks' actors, and a ps task's ``server.join()`` waits. When every task outside
the ``ps`` job has ended, the launcher ends the ps processes, stops the cluster, and exits with the
first non-zero status of a task (0 when all succeeded). Nothing it started outlives it.

Without a script it serves the cluster (in-graph replication from other processes): it prints
``tgc cluster serving at ray://127.0.0.1:PORT`` and a client's ``tf.Session("ray://127.0.0.1:PORT")``
runs on its tasks, until the launcher gets SIGTERM or Ctrl-C. That address is Ray's GCS address
(not a Ray Client ``ray://`` port). Clients need the cluster's token: the launcher prints the file
that holds it (readable by this user only), to give them as ``RAY_AUTH_TOKEN_PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ADDRESS_VARIABLE = "TGC_RAY_ADDRESS"
CLUSTER_VARIABLE = "TGC_CLUSTER_SPEC"  # the spec as JSON, for scripts that take it from here
JOINING_JOBS = ("ps",)  # tasks that serve until the others are done (server.join())


def launch(
    cluster: dict, command: list, timeout: float | None = None, nodes=None, address=None
) -> int:
    """Runs ``command`` once per task of ``cluster`` ({job: [addresses]}); returns the exit
    status. ``nodes``: Ray nodes to spread the tasks over (tgc/runtime/ray/local.py);
    ``address``: a running Ray cluster to start the tasks on instead of a local one."""
    ray_cluster = _start(cluster, nodes, address)
    processes = {}
    try:
        env = dict(os.environ)  # holds Ray's token since the cluster started
        env[ADDRESS_VARIABLE] = ray_cluster.address
        env[CLUSTER_VARIABLE] = json.dumps(cluster)
        for job, tasks in cluster.items():
            for i in range(len(tasks)):
                argv = [*command, f"--job_name={job}", f"--task_index={i}"]
                processes[(job, i)] = subprocess.Popen(argv, env=env)
        status = 0
        for (job, _), process in processes.items():
            if job not in JOINING_JOBS:
                code = process.wait(timeout)
                status = status or code
        return status
    finally:
        for process in processes.values():
            _end(process)
        ray_cluster.close()


def _start(cluster: dict, nodes, address):
    """The tasks' actors: on the Ray cluster at ``address``, or on a local one started here."""
    from tgc.runtime.ray.local import LocalRayCluster, RayClusterTasks

    jobs = {job: len(tasks) for job, tasks in cluster.items()}
    if address:
        return RayClusterTasks(address, jobs)
    return LocalRayCluster(jobs, nodes=nodes)


def serve(cluster: dict, nodes=None, address=None) -> None:
    """Starts the cluster, prints its target (``ray://127.0.0.1:PORT``) and serves until SIGTERM or
    Ctrl-C; in-graph clients in other processes open Sessions on that target."""
    import signal
    import threading

    ray_cluster = _start(cluster, nodes, address)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"tgc cluster serving at ray://{ray_cluster.address}", flush=True)
    if hasattr(ray_cluster, "temp_dir"):  # a cluster started here, with a token of its own
        path = _token_file(ray_cluster)
        print(f"clients need its token: export RAY_AUTH_TOKEN_PATH={path}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        ray_cluster.close()


def _token_file(ray_cluster) -> str:
    """A file holding the cluster's Ray token, readable by this user only (removed on close)."""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        return path
    path = os.path.join(ray_cluster.temp_dir, "auth_token")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as fh:
        fh.write(os.environ["RAY_AUTH_TOKEN"])
    return path


def _end(process) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tgc.runtime.ray.launch",
        description="Run a between-graph program's tasks on a local Ray cluster.",
    )
    parser.add_argument(
        "--cluster", required=True, help="the ClusterSpec as JSON, or a file holding it"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per worker task")
    parser.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="Ray nodes on this machine to spread the tasks over (default: $TGC_RAY_NODES or 1)",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="a running Ray cluster (HOST:PORT of its head) to start the tasks on, e.g. one made "
        "of several machines by `ray start`, instead of a local cluster",
    )
    parser.add_argument(
        "script",
        nargs="?",
        help="the program (a Python file) each task runs; without one, the cluster is served "
        "for in-graph clients (Session('ray://ADDRESS')) until SIGTERM or Ctrl-C",
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    options = parser.parse_args(argv)
    text = options.cluster
    if os.path.exists(text):
        with open(text, encoding="utf-8") as fh:
            text = fh.read()
    try:
        cluster = json.loads(text)
    except json.JSONDecodeError as exc:
        parser.error(f"--cluster is neither a file nor JSON: {exc}")
    if not isinstance(cluster, dict) or not all(isinstance(t, list) for t in cluster.values()):
        parser.error('--cluster must map each job to a list of addresses: {"ps": ["h:2222"]}')
    if options.script is None:
        serve(cluster, options.nodes, options.address)
        return 0
    command = [sys.executable, options.script, *options.args]
    return launch(cluster, command, options.timeout, options.nodes, options.address)


if __name__ == "__main__":
    sys.exit(main())
