"""Training on a local Ray cluster with TF1's helpers: tf.train.replica_device_setter,
tf.train.MonitoredTrainingSession (checkpoints, recovery of a killed task) and
tf.train.SyncReplicasOptimizer. One cluster for the module (two ps tasks, two workers), stopped by
closing its servers. Skipped where Ray is not installed.
"""

import os

import numpy as np
import pytest

import tgc as tf

pytest.importorskip("ray")

D, H, C, N = 20, 16, 5, 8


@pytest.fixture(scope="module")
def cluster():
    workers, ps = tf.test.create_local_cluster(num_workers=2, num_ps=2)
    yield workers, ps
    for server in workers + ps:
        server.close()


def _data(seed=1, n=N):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, D)).astype(np.float32)
    return a, np.eye(C, dtype=np.float32)[rng.integers(0, C, n)]


def _lecture_net_with_setter(worker_device):
    """The lectures' two-layer net, placed by replica_device_setter over the module's cluster."""
    rng = np.random.default_rng(0)
    spec = {"ps": ["a:1", "a:2"], "worker": ["a:3", "a:4"]}
    with tf.device(tf.train.replica_device_setter(cluster=spec, worker_device=worker_device)):
        x = tf.placeholder(tf.float32, [None, D], name="x")
        labels = tf.placeholder(tf.float32, [None, C], name="labels")
        w1 = tf.Variable(rng.standard_normal((D, H)).astype(np.float32) * 0.1, name="weights_1")
        w2 = tf.Variable(rng.standard_normal((H, C)).astype(np.float32) * 0.1, name="weights_2")
        h = tf.nn.relu(tf.matmul(x, w1), name="hidden")
        scores = tf.matmul(h, w2, name="scores")
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=scores))
        train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    return x, labels, loss, train, (w1, w2)


def _train_with_setter(target, steps=8, config=None):
    tf.reset_default_graph()
    x, labels, loss, train, weights = _lecture_net_with_setter("/job:worker/task:1")
    a, y = _data()
    with tf.Session(target, config=config) as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([loss, train], {x: a, labels: y})[0] for _ in range(steps)]
        return np.array(losses), sess.run(weights)


def test_replica_device_setter_places_the_lecture_net_on_ps_and_worker_tasks(cluster, capfd):
    workers, _ = cluster
    log = tf.ConfigProto(log_device_placement=True)
    on_cluster, (w1, w2) = _train_with_setter(workers[0].target, config=log)
    err = capfd.readouterr().err
    assert "weights_1: (tgc.send): /job:ps/replica:0/task:0/device:CPU:0" in err
    assert "weights_2: (tgc.send): /job:ps/replica:0/task:1/device:CPU:0" in err
    assert "scores: (tgc.matmul): /job:worker/replica:0/task:1/device:CPU:0" in err
    assert "hidden: (tgc.relu): /job:worker/replica:0/task:1/device:CPU:0" in err
    # In-process, the same graph: the ps and worker devices fall back to the local CPU.
    soft = tf.ConfigProto(allow_soft_placement=True)
    in_process, (r1, r2) = _train_with_setter("", config=soft)
    assert on_cluster[-1] < 0.7 * on_cluster[0]  # it trains
    np.testing.assert_allclose(on_cluster, in_process, rtol=1e-5)
    np.testing.assert_allclose(w1, r1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w2, r2, rtol=1e-5, atol=1e-6)


class _KillTaskAt(tf.train.SessionRunHook):
    """SIGKILLs the process of ``task`` once the global step reaches ``at`` (between two steps),
    noting the checkpoint that is then the latest."""

    def __init__(self, task, at, checkpoint_dir, step):
        self.task, self.at, self.dir, self.step = task, at, checkpoint_dir, step
        self.restored_from = None

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(self.step)

    def after_run(self, run_context, run_values):
        import os
        import signal

        import ray

        if self.restored_from is None and run_values.results + 1 == self.at:
            self.restored_from = tf.train.latest_checkpoint(self.dir)
            actor = ray.get_actor(self.task, namespace="tgc")
            os.kill(ray.get(actor.pid.remote()), signal.SIGKILL)


def _monitored_net():
    spec = {"ps": ["a:1", "a:2"], "worker": ["a:3", "a:4"]}
    setter = tf.train.replica_device_setter(cluster=spec, worker_device="/job:worker/task:1")
    with tf.device(setter):
        step = tf.train.get_or_create_global_step()  # on ps/0 (round robin: w1 ps/1, w2 ps/0)
    x, labels, loss, _, weights = _lecture_net_with_setter("/job:worker/task:1")
    with tf.device(setter):
        train = tf.train.GradientDescentOptimizer(0.05).minimize(loss, global_step=step)
    return x, labels, train, weights, step


@pytest.mark.parametrize("task", ["worker/1", "ps/1", "ps/0"])
def test_a_killed_task_under_a_monitored_session_is_recovered_from_the_last_checkpoint(
    cluster, tmp_path, task
):
    """The run finishes at its last step, and its weights equal those of an uninterrupted run
    restored from the checkpoint that was the latest when the task died."""
    workers, _ = cluster
    tf.reset_default_graph()
    x, labels, train, weights, step = _monitored_net()
    a, y = _data()
    kill = _KillTaskAt(task, at=6, checkpoint_dir=str(tmp_path), step=step)
    with tf.train.MonitoredTrainingSession(
        master=workers[0].target,
        is_chief=True,
        checkpoint_dir=str(tmp_path),
        save_checkpoint_steps=4,
        hooks=[tf.train.StopAtStepHook(last_step=10), kill],
    ) as sess:
        while not sess.should_stop():
            sess.run(train, {x: a, labels: y})
        recovered, last = sess.run([weights, step])
    assert last == 10 and kill.restored_from.endswith("model.ckpt-4")
    if task.startswith("ps"):
        assert sess.recoveries >= 1  # the lost variables came back from the checkpoint
    saver = tf.train.Saver()
    with tf.Session(workers[0].target) as plain:
        saver.restore(plain, kill.restored_from)
        for _ in range(6):
            plain.run(train, {x: a, labels: y})
        uninterrupted = plain.run(weights)
    for got, want in zip(recovered, uninterrupted):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def _sync_two_worker_training(target, steps=6):
    """The two-layer net, synchronous data parallelism: each worker a half of the batch, the two
    gradients averaged on the ps tasks by SyncReplicasOptimizer, one update per step."""
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    spec = {"ps": ["a:1", "a:2"], "worker": ["a:3", "a:4"]}
    with tf.device(tf.train.replica_device_setter(cluster=spec)):
        step = tf.train.get_or_create_global_step()
        w1 = tf.Variable(rng.standard_normal((D, H)).astype(np.float32) * 0.1, name="w1")
        w2 = tf.Variable(rng.standard_normal((H, C)).astype(np.float32) * 0.1, name="w2")
    x = tf.placeholder(tf.float32, [2 * N, D], name="x")
    labels = tf.placeholder(tf.float32, [2 * N, C], name="labels")
    sync = tf.train.SyncReplicasOptimizer(
        tf.train.GradientDescentOptimizer(0.1), replicas_to_aggregate=2, total_num_replicas=2
    )
    train_ops = []
    for k in range(2):
        with tf.device(f"/job:worker/task:{k}"):
            shard = slice(k * N, (k + 1) * N)
            scores = tf.matmul(tf.nn.relu(tf.matmul(x[shard], w1)), w2)
            loss = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=labels[shard], logits=scores)
            )
            train_ops.append(sync.minimize(loss, global_step=step))
    # The sums of the replicas' gradients (and their count) live beside the weights, on the ps.
    assert all(v.op.device.startswith("/job:ps/task:") for v in sync.variables())
    a, y = _data(seed=3, n=2 * N)
    hooks = [sync.make_session_run_hook(is_chief=True), tf.train.StopAtStepHook(last_step=steps)]
    with tf.train.MonitoredTrainingSession(master=target, hooks=hooks) as sess:
        runs = 0
        while not sess.should_stop():
            sess.run(train_ops, {x: a, labels: y})
            runs += 1
        return runs, sess.run([w1, w2, step])


def _single_process_training(steps=6):
    """The same net trained in-process on the whole (global) batch."""
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    w1 = tf.Variable(rng.standard_normal((D, H)).astype(np.float32) * 0.1, name="w1")
    w2 = tf.Variable(rng.standard_normal((H, C)).astype(np.float32) * 0.1, name="w2")
    x = tf.placeholder(tf.float32, [2 * N, D], name="x")
    labels = tf.placeholder(tf.float32, [2 * N, C], name="labels")
    scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=scores))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    a, y = _data(seed=3, n=2 * N)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            sess.run(train, {x: a, labels: y})
        return sess.run([w1, w2])


def test_sync_replicas_with_two_workers_equals_single_process_training_on_the_global_batch(
    cluster,
):
    workers, _ = cluster
    runs, (w1, w2, step) = _sync_two_worker_training(workers[0].target)
    assert runs == 6 and step == 6  # one update per step
    r1, r2 = _single_process_training()
    # The mean of two half-batch means is the global mean: equal up to float32 summation order.
    np.testing.assert_allclose(w1, r1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w2, r2, rtol=1e-5, atol=1e-6)
    assert not np.allclose(w1, _single_process_training(steps=0)[0], atol=1e-4)  # it trained


def test_a_non_chief_waits_for_the_chiefs_initialization(cluster):
    import threading

    workers, _ = cluster
    tf.reset_default_graph()
    with tf.device("/job:ps/task:0"):
        v = tf.Variable(np.float32(7.0), name="shared_by_chief")
    with tf.device("/job:worker/task:1"):
        doubled = v * 2.0
    with pytest.raises(RuntimeError, match="the chief did not initialize the variables within"):
        tf.train.MonitoredTrainingSession(
            master=workers[1].target, is_chief=False, max_wait_secs=0.3
        )
    seen = []

    def non_chief():
        with tf.train.MonitoredTrainingSession(master=workers[1].target, is_chief=False) as sess:
            seen.append(sess.run(doubled))

    thread = threading.Thread(target=non_chief)
    thread.start()
    with tf.train.MonitoredTrainingSession(master=workers[0].target, is_chief=True) as chief:
        thread.join(timeout=60)
        assert chief.run(v) == 7.0
    assert seen == [14.0]


def test_tensorboard_shows_the_tasks_and_the_chief_writes_summaries_of_a_cluster_run(
    cluster, tmp_path
):
    """The chief's event file holds the graph with each node's task (TensorBoard colours the graph
    by device) and the loss computed on worker 1 at each global step; a non-chief writes none."""
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.graph_pb2 import GraphDef

    from tgc.runtime.events import read_records

    workers, _ = cluster
    tf.reset_default_graph()
    x, labels, train, weights, step = _monitored_net()
    loss = tf.get_default_graph().get_tensor_by_name("Sum:0")
    tf.summary.scalar("loss", loss)
    a, y = _data()
    chief_dir, other_dir = tmp_path / "chief", tmp_path / "other"
    losses = []
    with tf.train.MonitoredTrainingSession(
        master=workers[0].target,
        checkpoint_dir=str(chief_dir),
        save_summaries_steps=1,
        hooks=[tf.train.StopAtStepHook(last_step=4)],
    ) as sess:
        while not sess.should_stop():
            losses.append(sess.run([loss, train], {x: a, labels: y})[0])
        with tf.train.MonitoredTrainingSession(
            master=workers[1].target, is_chief=False, checkpoint_dir=str(other_dir)
        ) as other:
            other.run(loss, {x: a, labels: y})
    assert not other_dir.exists()
    (name,) = [f for f in os.listdir(chief_dir) if f.startswith("events.out.tfevents.")]
    events = [Event.FromString(r) for r in read_records(str(chief_dir / name))]
    (graph,) = [GraphDef.FromString(e.graph_def) for e in events if e.graph_def]
    devices = {n.name: n.device for n in graph.node}
    assert devices["weights_1"] == "/job:ps/task:0"
    assert devices["weights_2"] == "/job:ps/task:1"
    assert devices["global_step"] == "/job:ps/task:0"
    assert devices["scores"] == "/job:worker/task:1"
    summaries = {e.step: v.simple_value for e in events for v in e.summary.value if v.tag == "loss"}
    assert sorted(summaries) == [1, 2, 3, 4]
    np.testing.assert_allclose([summaries[s] for s in (1, 2, 3, 4)], losses, rtol=1e-6)


def test_concurrent_steps_of_two_workers_lose_no_update_of_a_ps_variable(cluster):
    """Two client threads step two workers' assign_add on one ps variable at once (async data
    parallelism's pattern): each task applies a step's change onto the value the variable holds
    when the step ends, as TF's AssignAdd does, so every one of the 2 x 60 additions is kept
    (integers in float32: exact). Each step also reads a large variable on the worker so that
    steps overlap."""
    import threading

    workers, _ = cluster
    tf.reset_default_graph()
    with tf.device("/job:ps/task:0"):
        counter = tf.Variable(np.zeros(1000, np.float32), name="counter")
    with tf.device("/job:ps/task:1"):
        big = tf.Variable(np.zeros((300, 300), np.float32), name="big")
    adds = []
    for k in range(2):
        with tf.device(f"/job:worker/task:{k}"):
            busy = tf.reduce_sum(tf.matmul(tf.ones([50, 300]), big)) * 0.0
            ones = tf.ones([1000]) + busy
        with tf.device("/job:ps/task:0"):
            adds.append(counter.assign_add(ones))
    steps = 60
    with tf.Session(workers[0].target) as sess:
        sess.run(tf.global_variables_initializer())

        def loop(add):
            for _ in range(steps):
                sess.run(add)

        threads = [threading.Thread(target=loop, args=(add,)) for add in adds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        np.testing.assert_array_equal(sess.run(counter), np.full(1000, 2 * steps, np.float32))
