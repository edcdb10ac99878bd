"""A cluster of two Ray nodes on loopback (tgc/runtime/ray/local.py, ``TGC_RAY_NODES`` or the
launcher's ``--nodes``): the ps tasks on one node and the workers on the other, so every Send/Recv
between them crosses nodes (large tensors from one node's object store to the other's), as between
machines. The in-graph test starts and stops its own cluster; the launcher test runs the shared
queue example on two nodes. The layout rule needs no Ray.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import tgc as tf
from tgc.runtime.ray.local import ClusterError, node_resources, nodes_wanted

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_tasks_are_cut_into_runs_of_consecutive_tasks_one_run_per_node(monkeypatch):
    assert node_resources({"worker": 2, "ps": 2}, 2) == [{"worker": 2}, {"ps": 2}]
    assert node_resources({"ps": 1, "worker": 4}, 2) == [{"ps": 1, "worker": 2}, {"worker": 2}]
    assert node_resources({"ps": 1, "worker": 1}, 3) == [{"ps": 1}, {"worker": 1}, {}]
    monkeypatch.setenv("TGC_RAY_NODES", "2")
    assert nodes_wanted() == 2
    monkeypatch.setenv("TGC_RAY_NODES", "zero")
    with pytest.raises(ClusterError, match="TGC_RAY_NODES must be a positive number of nodes"):
        nodes_wanted()


def test_the_lecture_program_on_two_nodes_equals_in_process_training(monkeypatch):
    ray = pytest.importorskip("ray")
    sys.path.insert(0, os.path.join(REPO, "examples"))
    try:
        import ps_worker
    finally:
        sys.path.pop(0)
    monkeypatch.setenv("TGC_RAY_NODES", "2")
    workers, ps = tf.test.create_local_cluster(num_workers=2, num_ps=2)
    try:
        nodes = {
            name: ray.get(ray.get_actor(name, namespace="tgc").node.remote())
            for name in ("worker/0", "worker/1", "ps/0", "ps/1")
        }
        assert nodes["worker/0"][0] == nodes["worker/1"][0]
        assert nodes["ps/0"][0] == nodes["ps/1"][0]
        assert nodes["worker/0"][0] != nodes["ps/0"][0]  # ps tasks on one node, workers on another
        assert {ip for _, ip in nodes.values()} == {"127.0.0.1"}
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        on_nodes = ps_worker.main(steps=6, target=workers[0].target, print_every=0)
    finally:
        for server in workers + ps:
            server.close()
    assert not ray.is_initialized()
    soft = tf.ConfigProto(allow_soft_placement=True)
    in_process = ps_worker.main(steps=6, target="", print_every=0, config=soft)
    assert on_nodes[-1] < on_nodes[0]
    np.testing.assert_allclose(on_nodes, in_process, rtol=1e-5)  # float32 sums, other order


def test_between_graph_workers_on_two_nodes_share_the_ps_tasks_queue(tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "results.json"
    # Tasks in this order, cut in two: both workers' tasks on one node, the ps task on the other.
    spec = {"worker": ["localhost:2", "localhost:3"], "ps": ["localhost:1"]}
    done = subprocess.run(
        [sys.executable, "-m", "tgc.runtime.ray.launch", "--nodes", "2"]
        + ["--cluster", json.dumps(spec), "examples/ps_worker_shared_queue.py"]
        + ["--items", "12", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert [r[0] for r in results] == list(range(12))
    assert {r[1] for r in results} == {1}  # worker 1 consumed every row from the ps task's queue


def test_the_launcher_starts_the_tasks_on_a_ray_cluster_that_runs_already(tmp_path):
    """``--address``: a Ray cluster started beforehand (here two nodes on loopback, as `ray start`
    on two machines would make, with the jobs' resources) runs the between-graph program's tasks;
    the launcher ends them and leaves the cluster running."""
    pytest.importorskip("ray")
    from tgc.runtime.ray.local import _forget_address_file, _start_nodes, prepare_environment

    prepare_environment()  # the token the cluster and the launcher share (inherited)
    spec = {"worker": ["localhost:2", "localhost:3"], "ps": ["localhost:1"]}
    folder = tempfile.mkdtemp(prefix="tgc-ray-")  # short: Ray's socket paths must fit 107 bytes
    cluster = _start_nodes({"worker": 2, "ps": 1}, 2, folder, 160 * 2**20)
    try:
        out = tmp_path / "results.json"
        command = [sys.executable, "-m", "tgc.runtime.ray.launch", "--address", cluster.address]
        done = subprocess.run(
            command
            + ["--cluster", json.dumps(spec), "examples/ps_worker_shared_queue.py"]
            + ["--items", "8", "--out", str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert [r[0] for r in json.loads(out.read_text())] == list(range(8))
        assert cluster.head_node.remaining_processes_alive()  # the cluster still runs
        missing = subprocess.run(
            command + ["--cluster", json.dumps({"chief": ["localhost:4"]}), "nothing.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert missing.returncode != 0
        assert "offers 0 'chief' for the tasks {'chief': 1}" in missing.stderr
    finally:
        address = cluster.address
        cluster.shutdown()
        _forget_address_file(address)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_cluster_on_other_machines_turns_loopback_naming_off(monkeypatch):
    """Local clusters keep every Ray process on 127.0.0.1; a process joining a head elsewhere must
    name itself by its network address (and so must the processes the launcher starts)."""
    pytest.importorskip("ray")
    from ray._private import ray_constants

    from tgc.runtime.ray.local import _allow_remote_nodes

    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    _allow_remote_nodes("127.0.0.1:6379")
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert ray_constants.ENABLE_RAY_CLUSTER is False
    _allow_remote_nodes("10.0.0.7:6379")
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "1"
    assert ray_constants.ENABLE_RAY_CLUSTER is True
