"""Between-graph replication: the launcher (tgc/runtime/ray/launch.py) runs
examples/ps_worker_between_graph.py once per task, each process with its own graph and Session, all
sharing the ps task's weights on one local Ray cluster. Skipped where Ray is not installed."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
CLUSTER = {"ps": ["localhost:2222"], "worker": ["localhost:2223", "localhost:2224"]}


MARKER = f"tgc-launch-test-{uuid.uuid4().hex}"  # in the environment of all the launcher starts


def _launch(*args, cwd=REPO, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "tgc.runtime.ray.launch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, TGC_LAUNCH_TEST_MARKER=MARKER),
    )


def test_two_worker_processes_train_the_weights_of_one_ps_task(tmp_path):
    script = str(REPO / "examples" / "ps_worker_between_graph.py")
    done = _launch(
        "--cluster", json.dumps(CLUSTER), script, "--steps", "20", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads((tmp_path / f"worker_{k}.json").read_text()) for k in range(2)]
    losses = [r["losses"] for r in records]
    for own in losses:
        assert len(own) == 20 and own[-1] < own[0]
    # Asynchronous workers lose no update: the last to finish counts both workers' 20 steps.
    assert max(r["global_step"] for r in records) == 40
    # The worker that steps first sees the weights the chief (worker 0) initialized; the other
    # starts from them or from weights its peer has already trained (each worker waits for the
    # chief's initialization). Checked against numpy's loss at the initial weights.
    initial = _initial_loss()
    firsts = sorted(own[0] for own in losses)
    assert firsts[1] == pytest.approx(initial, rel=1e-5)
    assert firsts[0] <= firsts[1]
    assert "worker 0: loss" in done.stdout and "worker 1: loss" in done.stdout
    assert _marked_processes() == []  # no Ray daemon, actor or task process outlives the launcher


def test_a_local_server_runs_a_graph_without_device_scopes_in_its_task():
    import tgc as tf

    server = tf.train.Server.create_local_server()
    try:
        assert server.target.startswith("grpc://localhost:")
        v = tf.Variable(np.arange(3, dtype=np.float32), name="v")
        doubled = v.assign(v * 2.0)
        with tf.Session(server.target) as sess:
            sess.run(v.initializer)
            sess.run(doubled)
            np.testing.assert_array_equal(sess.run(v), [0.0, 2.0, 4.0])
            assert sess._variables == {}  # v lives in the task's actor
    finally:
        server.close()


CLIENT = """
import sys
import numpy as np
import tgc as tf

with tf.device("/job:ps/task:0"):
    w = tf.Variable(np.float32(2.0), name="w")
with tf.device("/job:worker/task:0"):
    y = w * 10.0
with tf.Session(sys.argv[1]) as sess:
    sess.run(w.initializer)
    print("result", sess.run(y))
"""


def test_a_served_cluster_runs_an_in_graph_client_from_another_process(tmp_path):
    server = subprocess.Popen(
        [sys.executable, "-m", "tgc.runtime.ray.launch", "--cluster", json.dumps(CLUSTER)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, TGC_LAUNCH_TEST_MARKER=MARKER),
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("tgc cluster serving at ray://127.0.0.1:"), line
        target = line.split()[-1]
        token = server.stdout.readline().split("RAY_AUTH_TOKEN_PATH=")[-1].strip()
        assert oct(os.stat(token).st_mode & 0o777) == "0o600"
        client = tmp_path / "client.py"
        client.write_text(CLIENT)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
        done = subprocess.run(
            [sys.executable, str(client), target],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(environment, RAY_AUTH_TOKEN_PATH=token),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "result 20.0" in done.stdout
    finally:
        server.terminate()
        server.wait(60)
    assert server.returncode == 0
    assert _marked_processes() == [] and not os.path.exists(token)


def test_the_launcher_reports_a_failing_task_and_a_bad_spec(tmp_path):
    failing = tmp_path / "fails.py"
    failing.write_text("import sys\nsys.exit(3 if '--job_name=worker' in sys.argv else 0)\n")
    done = _launch("--cluster", json.dumps({"worker": ["localhost:1"]}), str(failing))
    assert done.returncode == 3
    bad = _launch("--cluster", '{"worker": "localhost:1"}', str(failing))
    assert bad.returncode == 2 and "must map each job to a list of addresses" in bad.stderr


def _initial_loss() -> float:
    """The example's mean softmax cross-entropy at its initial weights, in float64."""
    w = np.random.default_rng(0).standard_normal((20, 5)).astype(np.float32) * 0.1
    images = np.random.default_rng(1).standard_normal((32, 20)).astype(np.float32)
    labels = np.argmax(images[:, :5], axis=1)
    scores = images.astype(np.float64) @ w.astype(np.float64)
    scores -= scores.max(axis=1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(32), labels].mean())


def _marked_processes() -> list:
    """Processes whose environment holds this test's marker: what the launcher started."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    if MARKER.encode() in fh.read():
                        found.append(int(entry))
            except OSError:  # gone, or not ours to read
                continue
    return found


def test_synchronous_workers_in_separate_processes_train_as_one_process_on_the_global_batch(
    tmp_path,
):
    """examples/ps_worker_sync.py: two worker processes, SyncReplicasOptimizer, the chief applies
    the average of both gradients once a step: single-process training on the whole batch."""
    import importlib.util

    cluster = {
        "ps": ["localhost:2222", "localhost:2223"],
        "worker": ["localhost:2224", "localhost:2225"],
    }
    script = REPO / "examples" / "ps_worker_sync.py"
    done = _launch(
        "--cluster", json.dumps(cluster), str(script), "--steps", "8", "--out", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "worker 0: 8 synchronous steps done" in done.stdout
    assert "worker 1: 8 synchronous steps done" in done.stdout
    spec = importlib.util.spec_from_file_location("ps_worker_sync", script)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    want = example.single_process(steps=8)
    got = np.load(tmp_path / "weights.npz")
    # The mean of two half-batch means is the whole batch's: float32 summation order only.
    np.testing.assert_allclose(got["w1"], want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["w2"], want[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(got["w1"], example.initial_weights()[0], atol=1e-4)  # it trained
