"""tf.train.MonitoredTrainingSession in-process (tgc/frontend/monitored.py): initialize or restore,
checkpoints by global step, StopAtStepHook, hooks' fetches, recovery from a preempted step. The
cluster runs (a SIGKILLed worker or ps task) are in tests/distributed/test_ray_training.py."""

import os

import numpy as np
import pytest

import tgc as tf


def _regression():
    """A linear least-squares step: w -= 0.1 * grad; returns (x, y, loss, train, w, step)."""
    step = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float64, [4, 3], name="x")
    y = tf.placeholder(tf.float64, [4], name="y")
    w = tf.Variable(np.zeros(3), name="w")
    loss = tf.reduce_mean(tf.square(tf.reduce_sum(x * w, axis=1) - y))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    return x, y, loss, train, w, step


X = np.array([[1.0, 2, 0], [0, 1, 1], [2, 0, 1], [1, 1, 1]])
Y = np.array([1.0, 2, 3, 4])


def _numpy_training(w, steps):
    rate = float(np.float32(0.1))  # the optimizer's rate is a float32 constant, cast (as TF1's)
    for _ in range(steps):
        w = w - rate * (2.0 / 4.0) * X.T @ (X @ w - Y)
    return w


def test_it_trains_to_the_last_step_and_checkpoints_by_global_step(tmp_path):
    x, y, loss, train, w, step = _regression()
    hooks = [tf.train.StopAtStepHook(last_step=7)]
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), save_checkpoint_steps=3, hooks=hooks
    ) as sess:
        runs = 0
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
            runs += 1
    assert runs == 7
    saved = sorted(f for f in os.listdir(tmp_path) if f.endswith(".npz"))
    assert saved == [f"model.ckpt-{k}.npz" for k in (0, 3, 6, 7)]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-7")
    values = np.load(tmp_path / "model.ckpt-7.npz")
    np.testing.assert_allclose(values["w"], _numpy_training(np.zeros(3), 7), rtol=1e-12)
    assert int(values["global_step"]) == 7


def test_a_new_session_restores_the_latest_checkpoint_and_goes_on(tmp_path):
    x, y, loss, train, w, step = _regression()
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        save_checkpoint_steps=2,
        hooks=[tf.train.StopAtStepHook(last_step=4)],
    ) as sess:
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), hooks=[tf.train.StopAtStepHook(num_steps=3)]
    ) as sess:
        assert sess.run(step) == 4  # restored, not initialized
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
        final = sess.run(w)
        assert sess.run(step) == 7
    np.testing.assert_allclose(final, _numpy_training(np.zeros(3), 7), rtol=1e-12)


class _PreemptOnce(tf.train.SessionRunHook):
    """Raises UnavailableError (as a lost task does) once, in the run after global step ``at``."""

    def __init__(self, step, at, variable):
        self.step, self.at, self.variable, self.fired = step, at, variable, False

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(self.step)

    def after_run(self, run_context, run_values):
        if not self.fired and run_values.results + 1 == self.at:
            self.fired = True
            # What a lost ps task leaves: an update after the checkpoint that is then lost.
            self.variable.load(np.full(3, 99.0), run_context.session)
            raise tf.errors.UnavailableError(None, None, "task ps/0 was lost during the step")


def test_a_preempted_step_is_redone_from_the_last_checkpoint(tmp_path):
    x, y, loss, train, w, step = _regression()
    preempt = _PreemptOnce(step, at=5, variable=w)
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        save_checkpoint_steps=3,
        hooks=[tf.train.StopAtStepHook(last_step=8), preempt],
    ) as sess:
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
        assert sess.recoveries == 1
        final, last = sess.run([w, step])
    # Restored at step 3 (the last checkpoint), steps 4..8 run again: as if never interrupted.
    assert last == 8
    np.testing.assert_allclose(final, _numpy_training(np.zeros(3), 8), rtol=1e-12)


def test_the_end_of_input_ends_training_quietly_and_hooks_need_a_global_step():
    with tf.train.MonitoredTrainingSession() as sess:
        raise tf.errors.OutOfRangeError(None, None, "queue closed")
    assert sess.should_stop()
    tf.Variable(1.0, name="v")
    with pytest.raises(RuntimeError, match="Global step should be created to use StopAtStepHook"):
        tf.train.MonitoredTrainingSession(hooks=[tf.train.StopAtStepHook(last_step=1)])


def _sync_replicas_net(replicas_to_aggregate):
    step = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float64, [4, 3], name="x")
    y = tf.placeholder(tf.float64, [4], name="y")
    w = tf.Variable(np.zeros(3), name="w")
    sync = tf.train.SyncReplicasOptimizer(
        tf.train.GradientDescentOptimizer(0.1), replicas_to_aggregate, total_num_replicas=2
    )
    replicas = []
    for k in range(2):
        xs, ys = x[2 * k : 2 * k + 2], y[2 * k : 2 * k + 2]
        half = tf.reduce_mean(tf.square(tf.reduce_sum(xs * w, axis=1) - ys))
        replicas.append(sync.minimize(half, global_step=step))
    return x, y, w, step, sync, replicas


def test_sync_replicas_in_process_average_the_replicas_gradients_once_a_step():
    """Two replicas of a least-squares step, each a half of the batch, float64: their averaged
    gradient applied once a step is numpy's full-batch gradient descent."""
    x, y, w, step, sync, replicas = _sync_replicas_net(2)
    hooks = [sync.make_session_run_hook(True), tf.train.StopAtStepHook(last_step=5)]
    with tf.train.MonitoredTrainingSession(hooks=hooks) as sess:
        runs = 0
        while not sess.should_stop():
            sess.run(replicas, {x: X, y: Y})
            runs += 1
        final = sess.run(w)
    assert runs == 5
    np.testing.assert_allclose(final, _numpy_training(np.zeros(3), 5), rtol=1e-12)


def test_sync_replicas_leave_out_stale_gradients():
    """One replica of two is enough (replicas_to_aggregate=1) and they take turns: each update is
    the gradient of that step's replica alone, the other's (from an older step) left out."""
    x, y, w, step, sync, replicas = _sync_replicas_net(1)
    with tf.train.MonitoredTrainingSession(hooks=[sync.make_session_run_hook(True)]) as sess:
        for k in range(4):
            sess.run(replicas[k % 2], {x: X, y: Y})
        final, last = sess.run([w, step])
    assert last == 4
    rate, want = float(np.float32(0.1)), np.zeros(3)
    for k in range(4):
        xs, ys = X[2 * (k % 2) : 2 * (k % 2) + 2], Y[2 * (k % 2) : 2 * (k % 2) + 2]
        want = want - rate * xs.T @ (xs @ want - ys)  # the mean of 2 squares: 2/2 * X^T r
    np.testing.assert_allclose(final, want, rtol=1e-12)


def test_sync_replicas_checks_its_arguments():
    with pytest.raises(ValueError, match="replicas_to_aggregate \\(3\\) is more than"):
        tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 3, 2)
    unused = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 2)
    with pytest.raises(ValueError, match="apply_gradients\\(\\) must be called before"):
        unused.make_session_run_hook(True)
    w = tf.Variable(1.0, name="w")
    with pytest.raises(ValueError, match="Global step is required to check staleness"):
        unused.minimize(w * w)


def test_it_starts_the_queue_runners_and_ends_with_the_input():
    """The lectures' input pipeline under a monitored session: its queue runners start with it,
    and the end of the epochs (OutOfRangeError) ends the loop quietly."""
    value = tf.train.range_input_producer(5, num_epochs=2, shuffle=False).dequeue()
    seen = []
    with tf.train.MonitoredTrainingSession() as sess:
        while not sess.should_stop():
            seen.append(int(sess.run(value)))
    assert seen == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]


def _events(logdir):
    """Every Event of the event files in ``logdir``, in the order they were written."""
    from tensorboard.compat.proto.event_pb2 import Event

    from tgc.runtime.events import read_records

    files = sorted(f for f in os.listdir(logdir) if f.startswith("events.out.tfevents."))
    return [Event.FromString(r) for f in files for r in read_records(os.path.join(logdir, f))]


def _scalars(events, tag):
    return {e.step: v.simple_value for e in events for v in e.summary.value if v.tag == tag}


def test_the_chief_writes_the_graph_summaries_and_steps_per_second(tmp_path):
    """TF1's defaults under checkpoint_dir: the graph once, the merged summaries every
    save_summaries_steps at the global step after the run that computed them, global_step/sec
    every log_step_count_steps (from the second trigger on: the first only starts the clock)."""
    pytest.importorskip("tensorboard")
    x, y, loss, train, w, step = _regression()
    tf.summary.scalar("loss", loss)
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        save_summaries_steps=2,
        log_step_count_steps=3,
        hooks=[tf.train.StopAtStepHook(last_step=7)],
    ) as sess:
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
    events = _events(tmp_path)
    assert events[0].file_version == "brain.Event:2"
    graphs = [e for e in events if e.graph_def]
    assert len(graphs) == 1
    from tensorboard.compat.proto.graph_pb2 import GraphDef

    nodes = {n.name for n in GraphDef.FromString(graphs[0].graph_def).node}
    assert {"w", "global_step", "loss"} <= nodes
    starts = [e.step for e in events if e.HasField("session_log")]
    assert starts == [1]
    # The run that makes global step s computes the loss of the weights after s - 1 steps.
    want = {s: _numpy_loss(_numpy_training(np.zeros(3), s - 1)) for s in (1, 3, 5, 7)}
    got = _scalars(events, "loss")
    assert sorted(got) == [1, 3, 5, 7]
    for s in got:
        np.testing.assert_allclose(got[s], want[s], rtol=1e-6)  # stored as float32
    speeds = _scalars(events, "global_step/sec")
    assert sorted(speeds) == [4, 7] and all(v > 0 for v in speeds.values())
    # TensorBoard's own reader finds the same scalars and the graph.
    from tensorboard.backend.event_processing import event_accumulator

    board = event_accumulator.EventAccumulator(str(tmp_path))
    board.Reload()
    assert [e.step for e in board.Scalars("loss")] == [1, 3, 5, 7]
    assert {"global_step/sec", "loss"} <= set(board.Tags()["scalars"])
    assert "w" in {n.name for n in board.Graph().node}


def _numpy_loss(w):
    return float(np.mean((X @ w - Y) ** 2))


def test_summaries_go_to_summary_dir_by_seconds_and_can_be_turned_off(tmp_path):
    pytest.importorskip("tensorboard")
    x, y, loss, train, w, step = _regression()
    tf.summary.scalar("loss", loss)
    summaries, checkpoints = tmp_path / "summaries", tmp_path / "checkpoints"
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(checkpoints),
        summary_dir=str(summaries),
        save_summaries_secs=3600,  # the first run only, within an hour
        log_step_count_steps=None,
        hooks=[tf.train.StopAtStepHook(last_step=3)],
    ) as sess:
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
    assert not [f for f in os.listdir(checkpoints) if f.startswith("events")]
    events = _events(summaries)
    assert sorted(_scalars(events, "loss")) == [1]
    assert _scalars(events, "global_step/sec") == {}
    off = tmp_path / "off"
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(off),
        save_summaries_steps=0,
        log_step_count_steps=0,
        hooks=[tf.train.StopAtStepHook(num_steps=2)],
    ) as sess:
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
    assert not [f for f in os.listdir(off) if f.startswith("events")]


def test_summary_hooks_check_their_arguments():
    tf.train.get_or_create_global_step()
    with pytest.raises(ValueError, match="Exactly one of scaffold or summary_op should be set"):
        tf.train.SummarySaverHook(save_steps=1, output_dir="d")
    with pytest.raises(ValueError, match="Either every_secs or every_steps should be provided"):
        tf.train.SummarySaverHook(output_dir="d", summary_op=tf.constant(1.0))
    with pytest.raises(ValueError, match="exactly one of every_n_steps and every_n_secs"):
        tf.train.StepCounterHook(every_n_steps=None, every_n_secs=None)


def test_without_tensorboard_default_summaries_are_left_out_and_asked_ones_refused(
    tmp_path, monkeypatch
):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name)
    )
    x, y, loss, train, w, step = _regression()
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), hooks=[tf.train.StopAtStepHook(last_step=2)]
    ) as sess:
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
    assert not [f for f in os.listdir(tmp_path) if f.startswith("events")]
    with pytest.raises(ImportError, match=r"need TensorBoard: pip install 'tgc\[tensorboard\]'"):
        tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_summaries_steps=5)
