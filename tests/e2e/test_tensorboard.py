"""The lectures' TensorBoard program, read back by TensorBoard's own loader and served
by a real TensorBoard."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tensorboard")

# TensorBoard's loader imports TensorFlow when it is installed (the `bench` extra installs it), and
# TensorFlow's LLVM clashes with the MLIR libraries already loaded in this process. The module
# `tensorboard.compat.notf` tells TensorBoard to use its own TensorFlow-free reader, which is what
# these tests mean to check: our event files read by TensorBoard alone.
sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))

from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import tensorboard_demo  # noqa: E402

STEPS = 30


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs")
    losses = tensorboard_demo.main(str(path), steps=STEPS)
    return str(path), losses


def test_demo_learns(logdir):
    _, losses = logdir
    assert len(losses) == STEPS and losses[-1] < 0.5 * losses[0]


def test_event_loader_reads_scalars_histograms_and_graph(logdir):
    path, losses = logdir
    acc = ea.EventAccumulator(path, size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    scalars = acc.Scalars("summaries/loss")
    assert [e.step for e in scalars] == list(range(STEPS))
    np.testing.assert_allclose([e.value for e in scalars], losses, rtol=1e-6)
    for tag, size in [("summaries/hidden_weights", 4 * 8), ("summaries/scores_weights", 8)]:
        histos = acc.Histograms(tag)
        assert len(histos) == STEPS and all(h.histogram_value.num == size for h in histos)
    nodes = {n.name: n for n in acc.Graph().node}
    assert nodes["hidden/weights"].op == "VariableV2"
    assert nodes["hidden/MatMul"].op == "MatMul" and list(nodes["hidden/MatMul"].input) == [
        "x",
        "hidden/weights",
    ]
    assert nodes["loss/Mean"].op == "Mean"
    assert nodes["summaries/loss"].op == "ScalarSummary"
    assert any(name.startswith("train/") for name in nodes)
    shape = nodes["scores/MatMul"].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shape.dim] == [-1, 1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float):
    """The body at ``url`` once the server answers it with 200 and data;
    polls until ``deadline``."""
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
                if response.status == 200 and body and body not in (b"[]", b"{}"):
                    return body
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"TensorBoard did not answer {url} in time (last error: {last})")


def test_real_tensorboard_serves_loss_and_graph(logdir):
    path, losses = logdir
    program = shutil.which("tensorboard")
    assert program is not None, "the tensorboard package installs a 'tensorboard' command"
    port = _free_port()
    server = subprocess.Popen(
        [
            program,
            "--logdir",
            path,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast",
            "false",
            "--reload_interval",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        query = urllib.parse.urlencode({"run": ".", "tag": "summaries/loss"})
        points = json.loads(_get(f"{base}/data/plugin/scalars/scalars?{query}", deadline))
        assert [p[1] for p in points] == list(range(STEPS))
        np.testing.assert_allclose([p[2] for p in points], losses, rtol=1e-6)
        graph = _get(f"{base}/data/plugin/graphs/graph?run=.", deadline).decode()
        assert 'name: "hidden/MatMul"' in graph and 'op: "VariableV2"' in graph
        # The demo's traced last step: the graph view's per-node times and memory.
        query = urllib.parse.urlencode({"run": ".", "tag": f"step{STEPS - 1:03d}"})
        stats = _get(f"{base}/data/plugin/graphs/run_metadata?{query}", deadline).decode()
        assert 'node_name: "hidden/MatMul"' in stats and "all_end_rel_nanos" in stats
        assert 'allocator_name: "cpu"' in stats
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_a_traced_runs_step_stats_reach_tensorboard_under_their_tag(tmp_path):
    import tgc as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [2], name="x")
        y = tf.reduce_sum(x * 3.0)
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        metadata = tf.RunMetadata()
        with tf.Session() as sess:
            assert sess.run(y, {x: [1.0, 2.0]}, options=options, run_metadata=metadata) == 9.0
    writer = tf.summary.FileWriter(str(tmp_path))
    writer.add_run_metadata(metadata, "step_7", global_step=7)
    with pytest.raises(ValueError, match="tag was already used"):
        writer.add_run_metadata(metadata, "step_7")
    writer.close()
    acc = ea.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.Tags()["run_metadata"] == ["step_7"]
    (device,) = acc.RunMetadata("step_7").step_stats.dev_stats
    ours = metadata.step_stats.dev_stats[0]
    assert device.device == ours.device
    # One entry per compiled op (x * 3.0's constant, mul, Sum), as written.
    assert [n.node_name for n in device.node_stats] == [n.node_name for n in ours.node_stats]
    assert {n.node_name for n in device.node_stats} >= {y.op.name, y.op.inputs[0].op.name}
    for node, mine in zip(device.node_stats, ours.node_stats):
        assert node.all_start_micros == mine.all_start_micros
        assert node.all_end_rel_micros == mine.all_end_rel_micros
        assert node.all_end_rel_nanos == mine.all_end_rel_nanos
