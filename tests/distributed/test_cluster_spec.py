"""tf.train.ClusterSpec as TF1 programs use it (no Ray needed: nothing is started)."""

import pytest

import tgc as tf


def test_cluster_spec_names_jobs_tasks_and_addresses():
    spec = tf.train.ClusterSpec(
        {"ps": ["127.0.0.1:2222", "127.0.0.1:2223"], "worker": {1: "127.0.0.1:2225"}}
    )
    assert spec.jobs == ["ps", "worker"]
    assert spec.num_tasks("ps") == 2 and spec.task_indices("worker") == [1]
    assert spec.task_address("ps", 1) == "127.0.0.1:2223"
    assert spec.job_tasks("worker") == [None, "127.0.0.1:2225"]
    assert spec.as_dict() == {
        "ps": ["127.0.0.1:2222", "127.0.0.1:2223"],
        "worker": {1: "127.0.0.1:2225"},
    }
    assert spec.devices() == (
        "/job:ps/replica:0/task:0/device:CPU:0",
        "/job:ps/replica:0/task:1/device:CPU:0",
        "/job:worker/replica:0/task:1/device:CPU:0",
    )
    assert tf.train.ClusterSpec(spec) == spec and len({spec, tf.train.ClusterSpec(spec)}) == 1


def test_cluster_spec_errors_name_the_job_or_task():
    spec = tf.train.ClusterSpec({"ps": ["h:1"]})
    with pytest.raises(ValueError, match="No such job in cluster: 'worker'"):
        spec.num_tasks("worker")
    with pytest.raises(ValueError, match="No task with index 3 in job ps"):
        spec.task_address("ps", 3)
    with pytest.raises(TypeError, match="tasks of job 'ps' must be a list or dict"):
        tf.train.ClusterSpec({"ps": "h:1"})


def test_a_server_needs_its_job_and_task_when_the_cluster_has_several():
    spec = tf.train.ClusterSpec({"ps": ["h:1"], "worker": ["h:2", "h:3"]})
    with pytest.raises(ValueError, match="job_name must be given"):
        tf.train.Server(spec, start=False)
    with pytest.raises(ValueError, match="task_index must be given: job 'worker'"):
        tf.train.Server(spec, job_name="worker", start=False)
    server = tf.train.Server(spec, "worker", 1, start=False)
    assert server.target == "grpc://h:3"
    assert server.server_def["job_name"] == "worker" and server.server_def["task_index"] == 1
