"""Per-op step stats of a traced Session.run (tgc/lowering/trace_ops.py, tgc/frontend/session.py).

A run given ``options=tf.RunOptions(trace_level=FULL_TRACE)`` and ``run_metadata=`` gets one
NodeExecStats per graph op its compiled part ran, under TF's name of the CPU device: the op's name,
its wall-clock start, its time, TF's timeline label ``name = Type(inputs)``. The times come from a
variant of the run's function that reads the clock around each op's code; the ordinary function is
left as it was.
"""

import importlib.util
import json
import re
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.dialect.types import TensorSpec
from tgc.frontend.timeline import Timeline

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "timeline_oracle.py"
_spec = importlib.util.spec_from_file_location("timeline_oracle", _ORACLE)
timeline_oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timeline_oracle)
# TensorFlow 2.21's Chrome traces of timeline_oracle.STEPS and ProfilerHook's steps:
#   /tmp/tfenv/bin/python tests/oracle/timeline_oracle.py > tests/e2e/timeline_tf_values.json
_TF_VALUES = json.loads((Path(__file__).parent / "timeline_tf_values.json").read_text())
TF_TRACES = _TF_VALUES["traces"]
TF_PROFILER_HOOK_STEPS = _TF_VALUES["profiler_hook_steps"]

CPU = "/job:localhost/replica:0/task:0/device:CPU:0"
FULL_TRACE = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)


def _training_step():
    """matmul, add, relu, a mean-square loss and its SGD step; returns (x, loss, train, feeds)."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="w")
    b = tf.Variable(np.array([0.5, -0.25], np.float32), name="b")
    h = tf.nn.relu(tf.matmul(x, w) + b)
    loss = tf.reduce_mean(h * h)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    feeds = {x: np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)}
    return x, loss, train, feeds


def _traced(sess, fetches, feeds=None):
    metadata = tf.RunMetadata()
    before = time.time_ns()
    out = sess.run(fetches, feeds, options=FULL_TRACE, run_metadata=metadata)
    after = time.time_ns()
    return out, metadata, before, after


def _node_stats(metadata):
    (device,) = metadata.step_stats.dev_stats
    assert device.device == CPU
    return device.node_stats


def test_a_traced_training_step_has_one_entry_per_graph_op_in_program_order():
    _, loss, train, feeds = _training_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, metadata, before, after = _traced(sess, [loss, train], feeds)
    nodes = _node_stats(metadata)
    names = [n.node_name for n in nodes]
    # Every op that runs code of its own, once: the placeholder and the variables' reads run
    # none. The gradient's backward ops have TF's names, <scope>/<forward op>_grad/<Type>, and
    # fan-out sums <scope>/AddN (TF 2.21 names them gradients/MatMul_grad/MatMul_1,
    # gradients/add_grad/Sum, gradients/Relu_grad/ReluGrad, ...; tgc's types are its own rules').
    backward = [n for n in names if n.startswith("gradients/") and n != "gradients/grad_ys"]
    assert sorted(set(names) - set(backward)) == sorted(
        [
            "MatMul",
            "add",
            "Relu",
            "mul",
            "Mean",
            "gradients/grad_ys",
            "GradientDescent/learning_rate",
            "GradientDescent/update_w/mul",
            "w/AssignSub",
            "GradientDescent/update_b/mul",
            "b/AssignSub",
        ]
    )
    assert len(set(names)) == len(names)
    # w's gradient x^T . dy is the MatMul rule's second matmul (TF's gradients/MatMul_grad/
    # MatMul_1 too: the first, x's, is not needed here); b's is add's sum over the batch.
    assert {"gradients/MatMul_grad/MatMul_1", "gradients/add_grad/Sum"} <= set(backward)
    graph = tf.get_default_graph()
    forward_of = {n: re.match(r"gradients/(.+)_grad/[A-Za-z0-9]+(_\d+)?$", n) for n in backward}
    assert {forward_of[n][1] for n in backward if forward_of[n]} == {
        "MatMul",
        "add",
        "Relu",
        "mul",
        "Mean",
    }
    assert all(forward_of[n] or re.fullmatch(r"gradients/AddN(_\d+)?", n) for n in backward)
    assert all(graph.get_operation_by_name(n) for n in names if n not in backward)
    # Starts are wall-clock times within the run, in order; durations are not negative.
    starts = [n.all_start_nanos for n in nodes]
    assert starts == sorted(starts)
    assert before <= starts[0] and starts[-1] + nodes[-1].all_end_rel_nanos <= after
    for node in nodes:
        assert node.all_end_rel_nanos >= 0 and node.op_end_rel_nanos == node.all_end_rel_nanos
        assert node.all_start_micros == node.all_start_nanos // 1000
        assert node.executions == 1
    # Outputs as the step shaped them (the batch of 4 fed), and their bytes as memory.
    by_name = {n.node_name: n for n in nodes}
    assert [(s.shape, s.dtype) for s in by_name["MatMul"].outputs] == [((4, 2), "float32")]
    assert by_name["MatMul"].output_bytes == 4 * 2 * 4
    assert by_name["Mean"].output_bytes == 4
    # The forward ops ran in program order, before the gradient (backwards) and the updates.
    position = {name: i for i, name in enumerate(names)}
    assert position["MatMul"] < position["add"] < position["Relu"] < position["Mean"]
    assert position["Mean"] < min(position[n] for n in backward)
    assert position["gradients/Relu_grad/SelectV2"] < position["gradients/add_grad/Sum"]
    assert position["gradients/add_grad/Sum"] < position["gradients/MatMul_grad/MatMul_1"]
    assert max(position[n] for n in backward) < position["w/AssignSub"]


def test_timeline_labels_are_tfs_name_type_and_inputs():
    _, loss, train, feeds = _training_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, metadata, _, _ = _traced(sess, [loss, train], feeds)
    labels = {n.node_name: n.timeline_label for n in _node_stats(metadata)}
    assert labels["MatMul"] == "MatMul = MatMul(x, w)"
    assert labels["add"] == "add = AddV2(MatMul, b)"
    assert labels["Relu"] == "Relu = Relu(add)"
    # TF's timeline (tensorflow/python/client/timeline.py) parses them with this pattern.
    for name, label in labels.items():
        match = re.match(r"(.*) = (.*)\((.*)\)", label)
        assert match is not None and match.group(1) == name


def test_an_untraced_run_records_nothing():
    _, loss, train, feeds = _training_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        metadata = tf.RunMetadata()
        sess.run([loss, train], feeds, run_metadata=metadata)
        assert not metadata.HasField("step_stats")
        sess.run([loss, train], feeds, options=tf.RunOptions(), run_metadata=metadata)
        assert not metadata.HasField("step_stats") and metadata.step_stats.dev_stats == []
        # A traced run without run_metadata has nowhere to record and runs as usual.
        sess.run([loss, train], feeds, options=FULL_TRACE)


def test_a_traced_run_computes_what_an_untraced_one_does():
    """Two sessions train side by side from the same start, one traced at every step: the same
    losses and weights (the traced variant leaves fusion out, which may round differently in the
    last place, so the comparison allows float32 rounding)."""
    _, loss, train, feeds = _training_step()
    w, b = tf.global_variables()
    with tf.Session() as plain, tf.Session() as traced:
        plain.run(tf.global_variables_initializer())
        traced.run(tf.global_variables_initializer())
        steps = []
        for _ in range(5):
            expected, _ = plain.run([loss, train], feeds)
            (got, _), metadata, _, _ = _traced(traced, [loss, train], feeds)
            np.testing.assert_allclose(got, expected, rtol=1e-6)
            steps.append(sorted(n.node_name for n in _node_stats(metadata)))
        # Each step's entries: the same ops, the training step's forward, backward and updates.
        assert all(names == steps[0] for names in steps) and "w/AssignSub" in steps[0]
        assert len(steps[0]) > 12  # 11 forward, seed and update ops and the backward ops
        for variable in (w, b):
            np.testing.assert_allclose(
                traced.run(variable), plain.run(variable), rtol=1e-6, atol=1e-7
            )


def test_the_traced_variant_is_compiled_once_and_apart_from_the_ordinary_function():
    _, loss, train, feeds = _training_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([loss, train], feeds)
        compiled = sess.compile_count
        _traced(sess, [loss, train], feeds)
        assert sess.compile_count == compiled + 1  # the traced variant
        _traced(sess, [loss, train], feeds)
        sess.run([loss, train], feeds)
        assert sess.compile_count == compiled + 1  # both cached
        ordinary = [c for c in sess._cache.values() if c.trace is None]
        variants = [c for c in sess._cache.values() if c.trace is not None]
        assert len(variants) == 1 and len(ordinary) == 2  # the initializer's and the step's
        # Only the variant's pipeline leaves fusion out.
        assert "linalg-fuse-elementwise-ops" in ordinary[-1].pipeline
        assert "linalg-fuse-elementwise-ops" not in variants[0].pipeline


def test_an_op_in_a_loop_body_has_one_entry_counting_its_executions():
    x = tf.placeholder(tf.float32, [4], name="x")

    def body(i, v):
        return i + 1, tf.nn.relu(v * 2.0 - 1.0, name="step")

    _, out = tf.while_loop(lambda i, v: i < 5, body, [tf.constant(0), x], name="loop")
    with tf.Session() as sess:
        value, metadata, _, _ = _traced(sess, out, {x: np.arange(4, dtype=np.float32)})
        plain = sess.run(out, {x: np.arange(4, dtype=np.float32)})
    np.testing.assert_array_equal(value, plain)
    nodes = {n.node_name: n for n in _node_stats(metadata)}
    loop = nodes["loop"]
    assert loop.executions == 1 and loop.timeline_label.startswith("loop = While(")
    step = nodes["loop/body/step"]
    assert step.executions == 5  # the body ran five times: one entry, its time summed
    assert nodes["loop/cond/Less"].executions == 6  # the condition once more, to stop
    # The body's ops ran within the loop's time.
    assert loop.all_start_nanos <= step.all_start_nanos
    assert step.all_end_rel_nanos <= loop.all_end_rel_nanos


def test_a_cond_branch_that_ran_has_entries_and_the_other_has_none():
    p = tf.placeholder(tf.bool, [], name="p")
    x = tf.constant([1.0, 2.0], name="x")
    y = tf.cond(p, lambda: tf.square(x, name="sq"), lambda: tf.negative(x, name="neg"), name="c")
    with tf.Session() as sess:
        value, metadata, _, _ = _traced(sess, y, {p: True})
    np.testing.assert_array_equal(value, [1.0, 4.0])
    names = {n.node_name for n in _node_stats(metadata)}
    assert "c" in names and "c/true/sq" in names
    assert not any(name.startswith("c/false/") for name in names)


def test_the_written_step_stats_parse_as_tfs_run_metadata(tmp_path):
    pytest.importorskip("tensorboard")
    # TensorBoard's own reader, without TensorFlow (as tests/e2e/test_tensorboard.py explains).
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.compat.proto.config_pb2 import RunMetadata

    _, loss, train, feeds = _training_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, metadata, _, _ = _traced(sess, [loss, train], feeds)
    ours = _node_stats(metadata)
    parsed = RunMetadata.FromString(metadata.SerializeToString())
    (device,) = parsed.step_stats.dev_stats
    assert device.device == CPU
    assert [n.node_name for n in device.node_stats] == [n.node_name for n in ours]
    for node, mine in zip(device.node_stats, ours):
        assert node.timeline_label == mine.timeline_label
        assert (node.all_start_nanos, node.all_end_rel_nanos) == (
            mine.all_start_nanos,
            mine.all_end_rel_nanos,
        )
        assert node.all_start_micros == mine.all_start_nanos // 1000
        assert node.all_end_rel_micros == mine.all_end_rel_nanos // 1000
    matmul = next(n for n in device.node_stats if n.node_name == "MatMul")
    (output,) = matmul.output
    assert [d.size for d in output.tensor_description.shape.dim] == [4, 2]
    assert output.tensor_description.allocation_description.requested_bytes == 32
    assert [(m.allocator_name, m.total_bytes) for m in matmul.memory] == [("cpu", 32)]
    writer = tf.summary.FileWriter(str(tmp_path))
    writer.add_run_metadata(metadata, "step_1", global_step=1)
    writer.close()
    acc = ea.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.Tags()["run_metadata"] == ["step_1"]
    assert acc.RunMetadata("step_1") == parsed


def test_ops_on_two_cpus_are_reported_under_their_devices_with_their_transfer():
    with tf.device("/cpu:0"):
        x = tf.placeholder(tf.float32, [3], name="x")
        a = tf.square(x, name="a")
    with tf.device("/cpu:1"):
        b = tf.exp(x, name="b")
        c = tf.add(a, b, name="c")
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        value, metadata, _, _ = _traced(sess, c, {x: [1.0, 2.0, 3.0]})
    np.testing.assert_allclose(value, np.square([1.0, 2.0, 3.0]) + np.exp([1.0, 2.0, 3.0]))
    devices = {d.device: {n.node_name for n in d.node_stats} for d in metadata.step_stats.dev_stats}
    # a's value goes to CPU:1 by a send and a recv, timed apart from a (a recv waits for its send).
    assert devices == {CPU: {"a", "a/_Send"}, CPU[:-1] + "1": {"b", "a/_Recv", "c"}}


def test_a_traced_variant_is_refused_where_ops_cannot_time_themselves():
    from tgc.driver.jit import can_trace, compile_run

    assert can_trace(()) and can_trace((CPU,))
    assert not can_trace(("/job:localhost/replica:0/task:0/device:GPU:0",))
    x = tf.placeholder(tf.float32, [2], name="x")
    y = x * 2.0
    with pytest.raises(ValueError, match="per-op tracing compiles for CPU devices in this process"):
        compile_run(
            [y.op],
            [(x, x.spec)],
            [y],
            devices=("/job:localhost/replica:0/task:0/device:GPU:0",),
            trace=True,
        )


def _oracle_run_metadata():
    """timeline_oracle.STEPS as tgc's RunMetadata (times in nanoseconds, as a traced run keeps)."""
    metadata = tf.RunMetadata()
    for device, nodes in timeline_oracle.STEPS.items():
        entries = [
            (name, label, start * 1000, (start + took) * 1000, 1, [TensorSpec((2,), "float32")] * n)
            for name, label, start, took, n in nodes
        ]
        metadata.add_trace(device, entries)
    return metadata


@pytest.mark.parametrize("dataflow", [True, False])
def test_the_timeline_is_tfs_chrome_trace(dataflow):
    metadata = _oracle_run_metadata()
    trace = Timeline(metadata.step_stats).generate_chrome_trace_format(show_dataflow=dataflow)
    assert json.loads(trace) == TF_TRACES[str(dataflow)]


def test_the_timeline_reads_tfs_proto_of_the_step_stats_too():
    pytest.importorskip("tensorboard")
    proto = _oracle_run_metadata().to_proto()
    trace = Timeline(proto.step_stats).generate_chrome_trace_format()
    assert json.loads(trace) == TF_TRACES["True"]


def test_the_timeline_of_a_traced_step_has_one_op_event_per_entry():
    _, loss, train, feeds = _training_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, metadata, _, _ = _traced(sess, [loss, train], feeds)
    events = json.loads(Timeline(metadata.step_stats).generate_chrome_trace_format())["traceEvents"]
    ops = [e for e in events if e["ph"] == "X"]
    assert [e["args"]["name"] for e in ops] == [n.node_name for n in _node_stats(metadata)]
    matmul = next(e for e in ops if e["args"]["name"] == "MatMul")
    assert matmul["args"] == {"name": "MatMul", "op": "MatMul", "input0": "x", "input1": "w"}


def test_the_timeline_refuses_memory_and_unknown_op_times():
    timeline = Timeline(_oracle_run_metadata().step_stats)
    with pytest.raises(ValueError, match=r"show_memory=True\) is not supported by tgc"):
        timeline.generate_chrome_trace_format(show_memory=True)
    with pytest.raises(ValueError, match="op_time must be one of schedule, gpu, all, not 'cpu'"):
        timeline.generate_chrome_trace_format(op_time="cpu")
    assert timeline.generate_chrome_trace_format(op_time="gpu") == (
        timeline.generate_chrome_trace_format()
    )


def test_a_run_with_gpu_devices_is_traced_as_one_entry_for_its_compiled_part():
    """Ops compiled for a GPU cannot read the host's clock: a traced run there keeps one entry
    for the whole compiled part (its numbers unchanged)."""
    from tgc.dialect import targets

    with targets.selected("nvptx-emulated"):
        with tf.device("/gpu:0"):
            x = tf.placeholder(tf.float32, [2, 2], name="x")
            y = tf.matmul(x, x, name="y")
        config = tf.ConfigProto(device_count={"GPU": 1})
        with tf.Session(config=config) as sess:
            value, metadata, before, after = _traced(sess, y, {x: [[1.0, 2.0], [3.0, 4.0]]})
    np.testing.assert_allclose(value, [[7.0, 10.0], [15.0, 22.0]])
    (node,) = _node_stats(metadata)
    assert node.node_name == "tgc/compiled_run"
    assert before <= node.all_start_nanos <= node.all_start_nanos + node.all_end_rel_nanos <= after


def test_profiler_hook_writes_timelines_and_run_metadata_at_tfs_steps(tmp_path):
    pytest.importorskip("tensorboard")  # the run metadata goes to an event file
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from tensorboard.backend.event_processing import event_accumulator as ea

    steps = timeline_oracle.profiler_hook_steps(tf, str(tmp_path))
    assert steps == TF_PROFILER_HOOK_STEPS == [2, 4]
    for step in steps:
        trace = json.loads((tmp_path / f"timeline-{step}.json").read_text())
        names = {e["args"]["name"] for e in trace["traceEvents"] if e["ph"] == "X"}
        # The traced step's ops: the loss, its gradient (TF's name of w * w's backward multiply),
        # w's update and the step's increment.
        assert {
            "mul",
            "gradients/mul_grad/Mul",
            "w/AssignSub",
            "global_step/AssignAdd",
        } <= names
    acc = ea.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert sorted(acc.Tags()["run_metadata"]) == ["step_2", "step_4"]
    (device,) = acc.RunMetadata("step_2").step_stats.dev_stats
    assert device.device == CPU and len(device.node_stats) > 0


def test_profiler_hook_refuses_show_memory_at_once(tmp_path):
    with pytest.raises(ValueError, match=r"show_memory=True\) is not supported by tgc"):
        tf.train.ProfilerHook(save_steps=1, output_dir=str(tmp_path), show_memory=True)


def test_profiler_hook_without_tensorboard_says_what_it_needs(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name)
    )
    with pytest.raises(ImportError, match=r"needs TensorBoard: pip install 'tgc\[tensorboard\]'"):
        tf.train.ProfilerHook(save_steps=1, output_dir=str(tmp_path))
