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


def launch(cluster: dict, command: list, timeout: float | None = None) -> int:
    """Runs ``command`` once per task of ``cluster`` ({job: [addresses]}); returns the exit
    status."""
    from tgc.runtime.ray.local import LocalRayCluster

    ray_cluster = LocalRayCluster({job: len(tasks) for job, tasks in cluster.items()})
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
    parser.add_argument("script", help="the program (a Python file) each task runs")
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
    return launch(cluster, [sys.executable, options.script, *options.args], options.timeout)


if __name__ == "__main__":
    sys.exit(main())
