"""Queues held by a cluster's tasks (tgc/runtime/ray/queues.py): a queue with a ``shared_name``
or placed on another task lives in that task's actor, so sessions of one client and the processes
of between-graph workers use the same queue. One cluster for the in-graph tests (one ps task, two
workers); the between-graph test starts its own under the launcher. Skipped without Ray.
"""

import collections
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tgc as tf

pytest.importorskip("ray")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def cluster():
    workers, ps = tf.test.create_local_cluster(num_workers=2, num_ps=1)
    yield workers, ps
    for server in workers + ps:
        server.close()


def _queue_keys(ps_server, task="ps/0"):
    import ray

    return ray.get(ps_server._cluster.ray.actors[task].queue_keys.remote())


def _sessions(workers):
    return tf.Session(workers[0].target), tf.Session(workers[1].target)


def test_two_sessions_share_a_queue_by_its_shared_name_on_the_ps_task(cluster):
    workers, ps = cluster
    tf.reset_default_graph()
    with tf.device("/job:ps/task:0"):
        q = tf.FIFOQueue(10, [tf.float32], shapes=[[2]], shared_name="shared_rows")
    assert q.op.device == "/job:ps/task:0" and q.op.type == "FIFOQueueV2"
    x = tf.placeholder(tf.float32, [None, 2])
    enqueue, dequeue, size = q.enqueue_many([x]), q.dequeue(), q.size()
    assert dequeue.op.device == "/job:ps/task:0"  # a queue's ops go where the queue is
    a, b = _sessions(workers)
    try:
        got = []
        blocked = threading.Thread(target=lambda: got.append(b.run(dequeue)))
        blocked.start()  # waits in the ps task's queue: empty so far
        time.sleep(0.5)
        assert got == []
        rows = np.arange(6, dtype=np.float32).reshape(3, 2)
        a.run(enqueue, {x: rows})
        blocked.join(30)
        np.testing.assert_array_equal(got, [rows[0]])
        assert a.run(size) == b.run(size) == 2
        np.testing.assert_array_equal(a.run(q.dequeue_many(2)), rows[1:])
        assert "shared_rows" in _queue_keys(ps[0])
        a.run(q.close())
        with pytest.raises(
            tf.errors.OutOfRangeError,
            match=r"FIFOQueue 'shared_rows' is closed and has insufficient elements \(requested 1",
        ):
            b.run(dequeue)
    finally:
        a.close()
        b.close()
    assert "shared_rows" in _queue_keys(ps[0])  # shared queues outlive their sessions, as in TF


def test_a_queue_placed_on_a_task_without_shared_name_is_each_sessions_own(cluster):
    workers, ps = cluster
    tf.reset_default_graph()
    with tf.device("/job:ps/task:0"):
        q = tf.FIFOQueue(4, [tf.int32], shapes=[[]], name="private")
    enqueue, size = q.enqueue([tf.constant(7)]), q.size()
    a, b = _sessions(workers)
    try:
        a.run(enqueue)
        a.run(enqueue)
        assert (a.run(size), b.run(size)) == (2, 0)
        private = [k for k in _queue_keys(ps[0]) if k.endswith("_private")]
        assert len(private) == 2  # one per session, in the ps task's actor
    finally:
        a.close()
        b.close()
    time.sleep(0.5)  # the actor forgets them (a call made without waiting)
    assert not [k for k in _queue_keys(ps[0]) if k.endswith("_private")]


def test_a_blocked_dequeue_ends_at_its_deadline_or_when_its_session_closes(cluster):
    workers, ps = cluster
    tf.reset_default_graph()
    with tf.device("/job:ps/task:0"):
        q = tf.FIFOQueue(4, [tf.float32], shapes=[[]], shared_name="never_filled")
    dequeue = q.dequeue()
    sess = tf.Session(workers[1].target)
    start = time.monotonic()
    with pytest.raises(
        tf.errors.DeadlineExceededError,
        match=r"Timed out waiting for notification while dequeueing from FIFOQueue "
        r"'never_filled' \('fifo_queue_Dequeue'\)",
    ):
        sess.run(dequeue, options=tf.RunOptions(timeout_in_ms=400))
    assert 0.35 < time.monotonic() - start < 5
    errors = []

    def blocked():
        try:
            sess.run(dequeue)
        except tf.errors.CancelledError as exc:
            errors.append(exc)

    thread = threading.Thread(target=blocked)
    thread.start()
    time.sleep(0.5)
    sess.close()
    thread.join(10)
    assert not thread.is_alive()
    assert "Session was closed while dequeueing from FIFOQueue 'never_filled'" in str(errors[0])


def test_users_of_a_shared_queue_must_agree_on_it_and_on_a_task_the_cluster_has(cluster):
    workers, _ = cluster
    tf.reset_default_graph()
    with tf.device("/job:ps/task:0"):
        small = tf.FIFOQueue(3, [tf.float32], shapes=[[]], shared_name="agreed")
        large = tf.FIFOQueue(5, [tf.float32], shapes=[[]], shared_name="agreed")
    with tf.device("/job:ps/task:3"):
        nowhere = tf.FIFOQueue(3, [tf.float32], shapes=[[]], shared_name="x", name="nowhere")
    with tf.Session(workers[0].target) as sess:
        sess.run(small.size())
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match="Shared queue 'agreed' has capacity 3 but requested 5",
        ):
            sess.run(large.size())
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Cannot assign a device for operation nowhere: .*/job:ps/task:3 but the "
            r"cluster's devices are \[.*'/job:ps/replica:0/task:0/device:CPU:0'",
        ):
            sess.run(nowhere.size())


def test_a_queue_on_the_ps_task_feeds_training_on_a_worker_from_its_queue_runner(cluster):
    """In-graph: a QueueRunner enqueues into a queue held by the ps task; each step dequeues a
    batch there and trains on worker 1 (float64 numpy reference)."""
    workers, _ = cluster
    tf.reset_default_graph()
    rows = np.arange(24, dtype=np.float32).reshape(8, 3) / 10.0
    with tf.device("/job:ps/task:0"):
        q = tf.FIFOQueue(8, [tf.float32], shapes=[[3]])
        w = tf.Variable(tf.ones([3, 1]))
    tf.train.add_queue_runner(tf.train.QueueRunner(q, [q.enqueue_many([tf.constant(rows)])]))
    with tf.device("/job:worker/task:1"):
        loss = tf.reduce_sum(tf.matmul(q.dequeue_many(4), w))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session(workers[0].target) as sess:
        sess.run(tf.global_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        losses = [sess.run([loss, train])[0] for _ in range(4)]
        final = sess.run(w)
        coord.request_stop()
        coord.join(threads)
    ref_w, ref_losses = np.ones((3, 1)), []
    for k in range(4):  # the runner enqueues the 8 rows again and again, in order
        batch = rows.astype(np.float64)[(4 * k) % 8 : (4 * k) % 8 + 4]
        ref_losses.append((batch @ ref_w).sum())
        ref_w = ref_w - 0.1 * batch.sum(axis=0)[:, None]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    np.testing.assert_allclose(final, ref_w, rtol=1e-5)


def test_between_graph_workers_share_a_work_queue_on_the_ps_task(tmp_path):
    """examples/ps_worker_shared_queue.py under the launcher: the chief's rows, dequeued by two
    worker processes, each exactly once; every result is numpy's squared norm of its row."""
    sys.path.insert(0, os.path.join(REPO, "examples"))
    try:
        import ps_worker_shared_queue as example
    finally:
        sys.path.pop(0)
    out = tmp_path / "results.json"
    spec = {"ps": ["localhost:1"], "worker": ["localhost:2", "localhost:3", "localhost:4"]}
    done = subprocess.run(
        [sys.executable, "-m", "tgc.runtime.ray.launch", "--cluster", json.dumps(spec)]
        + ["examples/ps_worker_shared_queue.py", "--items", "30", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert [r[0] for r in results] == list(range(30))  # every row once: none lost, none twice
    assert {r[1] for r in results} <= {1, 2}
    want = (example.rows(30).astype(np.float64) ** 2).sum(axis=1)
    np.testing.assert_allclose([r[2] for r in results], want, rtol=1e-5)
    # Each worker's count from the results (r[1]: the worker that took the row). The launcher
    # forwards the workers' prints, but a print right before a worker process exits may not reach
    # it (seen once in 2 CI runs: one of the two lines): a printed count must match, none is needed.
    taken = collections.Counter(r[1] for r in results)
    assert sum(taken.values()) == 30
    for line in done.stdout.splitlines():
        if "processed" in line:  # "worker 2: processed 20 rows"
            worker, count = int(line.split()[1].rstrip(":")), int(line.split()[3])
            assert taken[worker] == count, (line, taken)
