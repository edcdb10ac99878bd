"""Input pipelines with queues (issue 16, in process): TF1's queues, queue runners, the
coordinator and batching, checked against exact values (integers and small float32 sums that are
exact)."""

import threading
import time

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu import tiered


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _threads_now():
    # tgc's JIT worker compiles optimized code in the background and exits when it has none left
    # (tgc/lowering/cpu/tiered.py): a thread of tgc's, not of a test's queue runners.
    return {
        t for t in threading.enumerate() if t.is_alive() and t.name != tiered.WORKER_THREAD_NAME
    }


# ---- FIFO queues ---------------------------------------------------------------------------------


def test_fifo_order_size_and_dequeue_many_shapes():
    q = tf.FIFOQueue(10, [tf.float32, tf.int32], shapes=[[2], []])
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.placeholder(tf.int32, [None])
    one = tf.placeholder(tf.float32, [2])
    enqueue_many = q.enqueue_many([x, y])
    enqueue = q.enqueue([one, tf.constant(99)])
    a, b = q.dequeue_many(3)
    assert a.shape.as_list() == [3, 2] and b.shape.as_list() == [3]
    with tf.Session() as sess:
        sess.run(enqueue_many, {x: np.arange(8, dtype=np.float32).reshape(4, 2), y: np.arange(4)})
        sess.run(enqueue, {one: np.array([8.0, 9.0], np.float32)})
        assert sess.run(q.size()) == 5
        va, vb = sess.run([a, b])
        np.testing.assert_array_equal(va, [[0, 1], [2, 3], [4, 5]])
        np.testing.assert_array_equal(vb, [0, 1, 2])
        assert va.dtype == np.float32 and vb.dtype == np.int32
        va, vb = sess.run(q.dequeue())
        np.testing.assert_array_equal(va, [6, 7])
        assert vb == 3
        va, vb = sess.run(q.dequeue())
        np.testing.assert_array_equal(va, [8, 9])
        assert vb == 99
        assert sess.run(q.size()) == 0


def test_dequeue_feeds_compiled_code_in_the_same_run():
    """A loss computed from dequeue_many runs in one sess.run: the dequeue runs first, its output
    is fed to the compiled part (the planner's host sources)."""
    q = tf.FIFOQueue(8, tf.float32, shapes=[3])
    data = tf.placeholder(tf.float32, [None, 3])
    enqueue = q.enqueue_many(data)
    batch = q.dequeue_many(2)
    total = tf.reduce_sum(batch * 2.0)
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    with tf.Session() as sess:
        sess.run(enqueue, {data: rows})
        got_batch, got_total = sess.run([batch, total])
        np.testing.assert_array_equal(got_batch, rows[:2])
        assert got_total == 2.0 * rows[:2].sum()  # 30: exact in float32
        assert sess.run(total) == 2.0 * rows[2:].sum()  # 102
        assert sess.compile_count == 1  # one compiled function serves both runs


def test_dequeue_compute_enqueue_chain_in_one_run():
    first = tf.FIFOQueue(4, tf.int32, shapes=[])
    second = tf.FIFOQueue(4, tf.int32, shapes=[])
    fill = first.enqueue_many(tf.constant([1, 2, 3], tf.int32))
    move = second.enqueue(first.dequeue() * 10)
    with tf.Session() as sess:
        sess.run(fill)
        for _ in range(3):
            sess.run(move)
        np.testing.assert_array_equal(sess.run(second.dequeue_many(3)), [10, 20, 30])


def test_named_components_are_dicts():
    q = tf.FIFOQueue(4, [tf.int32, tf.float32], shapes=[[], []], names=["label", "weight"])
    enqueue = q.enqueue({"label": tf.constant(7), "weight": tf.constant(0.5)})
    with tf.Session() as sess:
        sess.run(enqueue)
        out = sess.run(q.dequeue())
    assert out == {"label": 7, "weight": 0.5}


def test_closed_queue_out_of_range_up_to_and_cancelled_enqueue():
    q = tf.FIFOQueue(10, tf.int32, shapes=[])
    enqueue = q.enqueue_many(tf.constant([1, 2, 3], tf.int32))
    with tf.Session() as sess:
        sess.run(enqueue)
        assert not sess.run(q.is_closed())
        sess.run(q.close())
        assert sess.run(q.is_closed())
        with pytest.raises(tf.errors.CancelledError, match="FIFOQueue 'fifo_queue' is closed"):
            sess.run(enqueue)
        with pytest.raises(
            tf.errors.OutOfRangeError,
            match=r"closed and has insufficient elements \(requested 5, current size 3\)",
        ):
            sess.run(q.dequeue_many(5))
        np.testing.assert_array_equal(sess.run(q.dequeue_up_to(5)), [1, 2, 3])
        with pytest.raises(tf.errors.OutOfRangeError, match="requested 1, current size 0"):
            sess.run(q.dequeue())


def test_queues_are_per_session():
    q = tf.FIFOQueue(4, tf.int32, shapes=[])
    enqueue = q.enqueue(tf.constant(5))
    with tf.Session() as first, tf.Session() as second:
        first.run(enqueue)
        assert first.run(q.size()) == 1 and second.run(q.size()) == 0


def test_run_options_timeout_raises_deadline_exceeded():
    q = tf.FIFOQueue(1, tf.int32, shapes=[])
    options = tf.RunOptions(timeout_in_ms=50)
    with tf.Session() as sess:
        start = time.monotonic()
        with pytest.raises(tf.errors.DeadlineExceededError, match="dequeueing from FIFOQueue"):
            sess.run(q.dequeue(), options=options)
        sess.run(q.enqueue(tf.constant(1)))
        with pytest.raises(tf.errors.DeadlineExceededError, match="enqueueing into FIFOQueue"):
            sess.run(q.enqueue(tf.constant(2)), options=options)  # full: capacity 1
        assert time.monotonic() - start < 5


def test_enqueue_shape_mismatch_is_an_error_naming_the_component():
    q = tf.FIFOQueue(4, tf.float32, shapes=[2])
    with pytest.raises(ValueError, match=r"component 0 has shape \[2\]; .* has shape \[3\]"):
        q.enqueue(tf.constant([1.0, 2.0, 3.0]))
    x = tf.placeholder(tf.float32)
    enqueue = q.enqueue(x)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected \[2\], got \[3\]"):
            sess.run(enqueue, {x: np.ones(3, np.float32)})


def test_padding_fifo_queue_pads_with_zeros():
    q = tf.PaddingFIFOQueue(4, tf.int32, shapes=[[None]])
    x = tf.placeholder(tf.int32, [None])
    enqueue = q.enqueue(x)
    with tf.Session() as sess:
        sess.run(enqueue, {x: np.array([1, 2, 3])})
        sess.run(enqueue, {x: np.array([4])})
        np.testing.assert_array_equal(sess.run(q.dequeue_many(2)), [[1, 2, 3], [4, 0, 0]])


def test_enqueues_from_several_threads_lose_nothing():
    q = tf.FIFOQueue(200, tf.int32, shapes=[])
    x = tf.placeholder(tf.int32, [])
    enqueue = q.enqueue(x)
    with tf.Session() as sess:

        def produce(base):
            for k in range(25):
                sess.run(enqueue, {x: base + k})

        threads = [threading.Thread(target=produce, args=(100 * i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = sess.run(q.dequeue_many(100))
    expected = np.array([100 * i + k for i in range(4) for k in range(25)])
    np.testing.assert_array_equal(np.sort(got), expected)
    for i in range(4):  # each producer's values stay in its order
        mine = got[(got >= 100 * i) & (got < 100 * i + 25)]
        np.testing.assert_array_equal(mine, 100 * i + np.arange(25))


def test_closing_the_session_cancels_a_blocked_dequeue():
    q = tf.FIFOQueue(2, tf.int32, shapes=[])
    dequeue = q.dequeue()
    sess = tf.Session()
    caught = []

    def consume():
        try:
            sess.run(dequeue)
        except tf.errors.CancelledError as exc:
            caught.append(exc)

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.2)
    sess.close()
    t.join(5)
    assert not t.is_alive() and len(caught) == 1


# ---- RandomShuffleQueue --------------------------------------------------------------------------


def _shuffled(seed):
    tf.reset_default_graph()
    q = tf.RandomShuffleQueue(20, 0, tf.int32, shapes=[], seed=seed)
    enqueue = q.enqueue_many(tf.constant(np.arange(20, dtype=np.int32)))
    with tf.Session() as sess:
        sess.run(enqueue)
        return sess.run(q.dequeue_many(20))


def test_random_shuffle_queue_is_a_seeded_permutation():
    first = _shuffled(seed=3)
    np.testing.assert_array_equal(np.sort(first), np.arange(20))
    assert not np.array_equal(first, np.arange(20))
    np.testing.assert_array_equal(_shuffled(seed=3), first)  # the same order in a new session
    assert not np.array_equal(_shuffled(seed=4), first)


def test_random_shuffle_queue_keeps_min_after_dequeue_until_closed():
    q = tf.RandomShuffleQueue(10, 3, tf.int32, shapes=[], seed=1)
    enqueue = q.enqueue_many(tf.constant([1, 2, 3, 4], tf.int32))
    options = tf.RunOptions(timeout_in_ms=50)
    with tf.Session() as sess:
        sess.run(enqueue)
        first = sess.run(q.dequeue())  # 4 elements: one may leave, 3 stay
        with pytest.raises(tf.errors.DeadlineExceededError):
            sess.run(q.dequeue(), options=options)
        sess.run(q.close())
        rest = sess.run(q.dequeue_up_to(10))  # closed: the last 3 may leave
    assert sorted([int(first), *rest.tolist()]) == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="min_after_dequeue .* must be less than capacity"):
        tf.RandomShuffleQueue(4, 4, tf.int32)


# ---- Coordinator and queue runners ---------------------------------------------------------------


def test_coordinator_stops_threads_and_reraises_the_first_error():
    coord = tf.train.Coordinator()
    ticks = []

    def worker(i):
        with coord.stop_on_exception():
            while not coord.should_stop():
                ticks.append(i)
                if i == 1 and len(ticks) > 5:
                    raise ValueError("worker 1 failed")
                time.sleep(0.001)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    with pytest.raises(ValueError, match="worker 1 failed"):
        coord.join(threads, stop_grace_period_secs=5)
    assert coord.should_stop() and not any(t.is_alive() for t in threads)


def test_coordinator_out_of_range_is_a_clean_stop_and_live_threads_are_reported():
    coord = tf.train.Coordinator()
    coord.request_stop(tf.errors.OutOfRangeError(None, None, "end of input"))
    coord.join([])  # not re-raised
    coord = tf.train.Coordinator()
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="stuck-thread")
    stuck.start()
    coord.request_stop()
    with pytest.raises(RuntimeError, match="threads still running: stuck-thread"):
        coord.join([stuck], stop_grace_period_secs=0.1)
    release.set()
    stuck.join()


def test_queue_runner_fills_the_queue_and_stops_with_the_coordinator():
    before = _threads_now()
    q = tf.FIFOQueue(5, tf.int32, shapes=[])
    counter = tf.Variable(0, dtype=tf.int32)
    enqueue = q.enqueue(counter.assign_add(1))
    tf.train.add_queue_runner(tf.train.QueueRunner(q, [enqueue]))
    batch = q.dequeue_many(5)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        np.testing.assert_array_equal(sess.run(batch), [1, 2, 3, 4, 5])
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=10)  # the runner blocked on a full queue ends
    assert not _threads_now() - before  # no thread of this test left running


def test_batch_of_slices_over_epochs_then_out_of_range():
    before = _threads_now()
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    labels = np.arange(10, dtype=np.int32)
    x, y = tf.train.slice_input_producer(
        [tf.constant(data), tf.constant(labels)], num_epochs=2, shuffle=False
    )
    bx, by = tf.train.batch([x, y], batch_size=4, allow_smaller_final_batch=True)
    seen = []
    with tf.Session() as sess:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        try:
            while not coord.should_stop():
                vx, vy = sess.run([bx, by])
                np.testing.assert_array_equal(vx, data[vy])  # rows stay with their labels
                seen.extend(vy.tolist())
        except tf.errors.OutOfRangeError:
            pass
        finally:
            coord.request_stop()
        coord.join(threads)
    assert seen == list(range(10)) * 2  # two epochs in order, the last batch of 4 + 4 + 4 + 4 + 4
    assert not _threads_now() - before  # no thread of this test left running


def test_shuffle_batch_trains_a_linear_model_and_leaves_no_thread():
    """Linear regression fed by shuffle_batch over in-memory data (slice_input_producer): the loss
    falls and the weights approach the true ones."""
    before = _threads_now()
    rng = np.random.default_rng(0)
    features = rng.normal(size=(256, 3)).astype(np.float32)
    true_w = np.array([[1.5], [-2.0], [0.5]], np.float32)
    targets = features @ true_w + 0.25
    x, y = tf.train.slice_input_producer(
        [tf.constant(features), tf.constant(targets)], shuffle=True, seed=7
    )
    bx, by = tf.train.shuffle_batch(
        [x, y], batch_size=32, capacity=128, min_after_dequeue=64, num_threads=2, seed=7
    )
    w = tf.Variable(tf.zeros([3, 1]))
    b = tf.Variable(tf.zeros([1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(bx, w) + b - by))
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        losses = [sess.run([train_op, loss])[1] for _ in range(150)]
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=10)
        final_w, final_b = sess.run([w, b])
    assert losses[0] > 1.0 and np.mean(losses[-10:]) < 1e-3 * losses[0]
    np.testing.assert_allclose(final_w, true_w, atol=0.02)  # noiseless data: exact in the limit
    np.testing.assert_allclose(final_b, [0.25], atol=0.02)
    assert not _threads_now() - before  # no thread of this test left running


def test_start_queue_runners_uses_the_default_session_and_shuffle_batch_dict():
    q_input = {"v": tf.constant([1.0, 2.0])}
    out = tf.train.shuffle_batch(q_input, batch_size=3, capacity=10, min_after_dequeue=2, seed=1)
    assert set(out) == {"v"} and out["v"].shape.as_list() == [3, 2]
    with tf.Session() as sess:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(coord=coord)
        np.testing.assert_array_equal(sess.run(out["v"]), [[1, 2]] * 3)
        coord.request_stop()
        coord.join(threads)


def test_example_queue_input_pipeline_learns_and_stops_its_producers():
    """examples/queue_input_pipeline.py: producer threads enqueue, the model trains from
    dequeue_many; the first loss is log(10) (zero weights: a uniform softmax)."""
    import importlib.util
    import math
    from pathlib import Path

    before = _threads_now()
    path = Path(__file__).resolve().parents[2] / "examples" / "queue_input_pipeline.py"
    spec = importlib.util.spec_from_file_location("example_queue_input_pipeline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    losses, acc = module.main(steps=150, print_every=0)
    assert losses[0] == pytest.approx(math.log(10), rel=1e-5)
    assert np.mean(losses[-20:]) < 0.5 * losses[0]
    assert acc >= 0.88
    assert not _threads_now() - before  # no thread of this test left running


def test_batch_enqueue_many_and_shape_errors():
    rows = tf.constant(np.arange(12, dtype=np.int32).reshape(6, 2))
    batch = tf.train.batch([rows], batch_size=4, enqueue_many=True, capacity=8)
    assert isinstance(batch, list) and batch[0].shape.as_list() == [4, 2]
    with tf.Session() as sess:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        first, second = sess.run(batch[0]), sess.run(batch[0])
        coord.request_stop()
        coord.join(threads)
    # The runner enqueues the 6 rows again and again: rows 0-3, then 4, 5, 0, 1.
    np.testing.assert_array_equal(first, [[0, 1], [2, 3], [4, 5], [6, 7]])
    np.testing.assert_array_equal(second, [[8, 9], [10, 11], [0, 1], [2, 3]])
    x = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match="all shapes must be fully defined: 'Placeholder"):
        tf.train.batch([x], batch_size=2)


def test_a_queue_op_as_a_control_input_of_compiled_code_is_refused_by_name():
    q = tf.FIFOQueue(2, tf.int32, shapes=[])
    enqueue = q.enqueue(tf.constant(1))
    with tf.control_dependencies([enqueue]):
        y = tf.identity(tf.constant(2.0), name="after_enqueue")
    with tf.Session() as sess:
        with pytest.raises(
            TypeError, match="QueueEnqueueV2\\) runs on the host: .* 'after_enqueue'"
        ):
            sess.run(y)


def test_a_queue_feeds_a_training_step_on_a_ray_cluster():
    """On a cluster session the queue lives in the client's session (not shared between tasks):
    the dequeued batch is fed to the worker's partition, the variable lives on the ps task."""
    pytest.importorskip("ray")
    workers, ps = tf.test.create_local_cluster(num_workers=1, num_ps=1)
    try:
        q = tf.FIFOQueue(10, [tf.float32], shapes=[[3]])
        data = tf.placeholder(tf.float32, [None, 3])
        enqueue = q.enqueue_many([data])
        with tf.device("/job:ps/task:0"):
            w = tf.Variable(tf.ones([3, 1]))
        with tf.device("/job:worker/task:0"):
            loss = tf.reduce_sum(tf.matmul(q.dequeue_many(2), w))
            train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        rows = np.arange(12, dtype=np.float32).reshape(4, 3)
        with tf.Session(workers[0].target) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(enqueue, {data: rows})
            losses = [sess.run([loss, train])[0] for _ in range(2)]
            final_w = sess.run(w)
    finally:
        for server in workers + ps:
            server.close()
    # float64 reference: loss = sum(batch @ w), dloss/dw = the batch's column sums.
    ref_w, ref_losses = np.ones((3, 1)), []
    for batch in (rows[:2].astype(np.float64), rows[2:].astype(np.float64)):
        ref_losses.append((batch @ ref_w).sum())
        ref_w = ref_w - 0.1 * batch.sum(axis=0)[:, None]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-6)  # [15, 24.7]: float32 rounding
    np.testing.assert_allclose(final_w, ref_w, rtol=1e-6)


def test_dequeue_many_of_elements_of_different_shapes_is_an_error():
    q = tf.FIFOQueue(4, tf.float32)  # no shapes: any element goes in
    x = tf.placeholder(tf.float32)
    enqueue = q.enqueue(x)
    with tf.Session() as sess:
        sess.run(enqueue, {x: np.ones(2, np.float32)})
        sess.run(enqueue, {x: np.ones(3, np.float32)})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"shapes \[\(2,\), \(3,\)\]"):
            sess.run(q.dequeue_many(2))


def test_batch_join_and_shuffle_batch_join_take_from_every_list():
    """One enqueue op per list, run by one QueueRunner (a thread each). Run by hand here, so the
    contents do not depend on which thread the scheduler runs first."""
    evens = tf.constant(np.arange(0, 20, 2, dtype=np.int32))
    odds = tf.constant(np.arange(1, 20, 2, dtype=np.int32))
    joined = tf.train.batch_join([[evens], [odds]], batch_size=20, enqueue_many=True, capacity=40)
    shuffled = tf.train.shuffle_batch_join(
        [{"v": evens}, {"v": odds}],
        batch_size=10,
        capacity=60,
        min_after_dequeue=10,
        enqueue_many=True,
        seed=2,
    )
    plain_runner, shuffle_runner = tf.get_collection("queue_runners")
    assert len(plain_runner.enqueue_ops) == 2 and len(shuffle_runner.enqueue_ops) == 2
    with tf.Session() as sess:
        for op in plain_runner.enqueue_ops + shuffle_runner.enqueue_ops:
            sess.run(op)
        plain, mixed = sess.run([joined[0], shuffled["v"]])
    np.testing.assert_array_equal(plain, np.r_[np.arange(0, 20, 2), np.arange(1, 20, 2)])
    assert mixed.shape == (10,) and len(set(mixed.tolist())) == 10
    assert set(mixed.tolist()) <= set(range(20))
    with pytest.raises(ValueError, match="same dtypes"):
        tf.train.batch_join([[evens], [tf.constant([1.0])]], batch_size=2)


def test_coordinator_keeps_the_error_reported_before_the_stop_only():
    coord = tf.train.Coordinator()
    coord.request_stop()
    coord.request_stop(ValueError("after the stop"))  # TF ignores errors once stopping
    coord.join([])
    coord = tf.train.Coordinator()
    coord.request_stop(ValueError("first"))
    coord.request_stop(KeyError("second"))
    with pytest.raises(ValueError, match="first"):
        coord.join([])
    with pytest.raises(KeyError, match="late"):  # after join nothing would report it
        coord.request_stop(KeyError("late"))
