"""The lectures' ps/worker program on a local Ray cluster (tgc/runtime/ray, tgc/frontend/cluster).

One cluster for the module (two ps tasks, two workers; Ray on loopback with a capped object store),
started by tf.test.create_local_cluster and stopped by closing its servers. Skipped where Ray is not
installed.
"""

import importlib.util
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import tgc as tf

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    workers, ps = tf.test.create_local_cluster(num_workers=2, num_ps=2)
    yield workers, ps
    for server in workers + ps:
        server.close()


def _two_layer_net(ps_devices, worker_device):
    """The lecture's two-layer net: w1 and w2 on ``ps_devices``, the step on ``worker_device``."""
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 20], name="x")
    labels = tf.placeholder(tf.float32, [None, 5], name="labels")
    with tf.device(ps_devices[0]):
        w1 = tf.Variable(rng.standard_normal((20, 16)).astype(np.float32) * 0.1, name="w1")
    with tf.device(ps_devices[1]):
        w2 = tf.Variable(rng.standard_normal((16, 5)).astype(np.float32) * 0.1, name="w2")
    with tf.device(worker_device):
        h = tf.nn.relu(tf.matmul(x, w1), name="h")
        scores = tf.matmul(h, w2, name="scores")
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=scores))
        train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    return x, labels, loss, train, (w1, w2)


def _train(target, ps_devices, worker_device, steps=10):
    tf.reset_default_graph()
    x, labels, loss, train, weights = _two_layer_net(ps_devices, worker_device)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 20)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]
    with tf.Session(target) as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([loss, train], {x: a, labels: y})[0] for _ in range(steps)]
        return np.array(losses), sess.run(weights)


def test_two_layer_net_trains_on_ps_and_worker_tasks_as_in_process(cluster):
    workers, _ = cluster
    on_cluster, (w1, w2) = _train(
        workers[0].target, ["/job:ps/task:0", "/job:ps/task:1"], "/job:worker/task:0"
    )
    in_process, (r1, r2) = _train("", [None, None], None)
    assert on_cluster[-1] < 0.7 * on_cluster[0]  # it trains
    # Same float32 kernels in both runs; only the order of the partitions' work differs.
    np.testing.assert_allclose(on_cluster, in_process, rtol=1e-5)
    np.testing.assert_allclose(w1, r1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w2, r2, rtol=1e-5, atol=1e-6)


def test_variables_live_on_their_ps_task_between_runs(cluster):
    workers, _ = cluster
    with tf.device("/job:ps/task:1"):
        v = tf.Variable(np.float32(1.0), name="counter")
    with tf.device("/job:worker/task:0"):
        bump = v.assign_add(tf.constant(2.0) * 3.0)
    with tf.Session(workers[0].target) as sess:
        sess.run(v.initializer)
        for _ in range(3):
            sess.run(bump)
        assert sess.run(v) == 19.0
    assert sess._variables == {}  # the client's session holds none of them


def test_log_device_placement_names_the_tasks(cluster, capfd):
    workers, _ = cluster
    with tf.device("/job:ps/task:0"):
        w = tf.Variable(np.float32(4.0), name="weight")
    with tf.device("/job:worker/task:0"):
        y = tf.multiply(w, 2.0, name="double")
    with tf.Session(workers[0].target, config=tf.ConfigProto(log_device_placement=True)) as sess:
        sess.run(w.initializer)
        assert sess.run(y) == 8.0
    err = capfd.readouterr().err
    assert "double: (tgc.multiply): /job:worker/replica:0/task:0/device:CPU:0" in err
    assert "weight: (tgc.send): /job:ps/replica:0/task:0/device:CPU:0" in err


def test_an_uninitialized_variable_on_a_task_gives_tensorflows_error(cluster):
    workers, _ = cluster
    with tf.device("/job:ps/task:0"):
        w = tf.Variable(np.float32(4.0), name="never_set")
    with tf.device("/job:worker/task:0"):
        y = w * 2.0
    with tf.Session(workers[0].target) as sess:
        with pytest.raises(
            tf.errors.FailedPreconditionError, match="uninitialized value never_set"
        ):
            sess.run(y)


def test_large_tensors_cross_tasks_through_the_object_store(cluster):
    workers, _ = cluster
    big = np.arange(300 * 400, dtype=np.float64).reshape(300, 400)  # 960 kB: above the inline cap
    with tf.device("/job:ps/task:0"):
        v = tf.Variable(big, name="big")
    with tf.device("/job:worker/task:0"):
        total = tf.reduce_sum(v * 2.0)
    with tf.Session(workers[0].target) as sess:
        sess.run(v.initializer)
        assert sess.run(total) == pytest.approx(2.0 * big.sum(), rel=1e-12)
        assert sess.run(total) == pytest.approx(2.0 * big.sum(), rel=1e-12)
        # The initializer ran on the ps alone; the sum's two steps each moved the variable once.
        runs = [compiled.call for compiled in sess._cache.values()]
        assert sorted(run.transfers() for run in runs) == [(0, 0), (2, 2 * big.nbytes)]


def test_an_unknown_job_in_a_device_scope_names_the_cluster_devices(cluster):
    workers, _ = cluster
    with tf.device("/job:chief/task:0"):
        y = tf.add(tf.constant(1.0), 2.0, name="lost")
    with tf.Session(workers[0].target) as sess:
        with pytest.raises(
            tf.errors.CompileError,
            match=r"'lost'.*requested device '/job:chief/task:0'.*/job:worker/replica:0/task:0",
        ):
            sess.run(y)


def test_a_bad_target_gives_tensorflows_error():
    with pytest.raises(tf.errors.NotFoundError, match="No session factory registered"):
        tf.Session("nonsense://here")
    with pytest.raises(tf.errors.NotFoundError, match="no server at 'grpc://localhost:1'"):
        tf.Session("grpc://localhost:1")


def _load_example(name):
    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_ps_worker_example_averages_two_workers_gradients_as_in_process(cluster):
    """In-graph replication: each worker's shard of the batch, gradients averaged on the ps."""
    workers, _ = cluster
    example = _load_example("ps_worker")
    on_cluster = example.main(steps=8, target=workers[1].target, print_every=0)
    # In-process, the same graph: the ps and worker scopes fall back to the one local CPU.
    soft = tf.ConfigProto(allow_soft_placement=True)
    in_process = example.main(steps=8, target="", print_every=0, config=soft)
    assert on_cluster[-1] < on_cluster[0]
    np.testing.assert_allclose(on_cluster, in_process, rtol=1e-5)


def test_two_workers_train_asynchronously_against_the_ps(cluster):
    """Between steps each worker's client updates the ps without waiting for the other
    (asynchronous data parallelism, two client threads): the loss of the whole batch falls."""
    workers, _ = cluster
    x, labels, loss, _, (w1, w2) = _two_layer_net(
        ["/job:ps/task:0", "/job:ps/task:1"], "/job:worker/task:0"
    )
    rng = np.random.default_rng(2)
    a = rng.standard_normal((16, 20)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 16)]
    steps = []
    for k in range(2):
        with tf.device(f"/job:worker/task:{k}"):
            scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
            shard_loss = tf.reduce_sum(
                tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=scores)
            )
            steps.append(tf.train.GradientDescentOptimizer(0.02).minimize(shard_loss))
    with tf.Session(workers[0].target) as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(loss, {x: a, labels: y})
        failures = []

        def worker(k):
            shard = {x: a[8 * k : 8 * (k + 1)], labels: y[8 * k : 8 * (k + 1)]}
            try:
                for _ in range(15):
                    sess.run(steps[k], shard)
            except Exception as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
        after = sess.run(loss, {x: a, labels: y})
    assert after < 0.8 * before


def test_the_actors_run_partitions_without_mlir(cluster):
    import ray

    workers, _ = cluster
    with tf.device("/job:worker/task:0"):
        y = tf.constant(3.0) * 2.0
    with tf.Session(workers[0].target) as sess:
        assert sess.run(y) == 6.0
    actor = ray.get_actor("worker/0", namespace="tgc")
    assert ray.get(actor.loaded_modules.remote("tgc.runtime.ray"))  # it ran a step
    assert ray.get(actor.loaded_modules.remote("mlir")) == []


def test_a_killed_worker_is_restarted_and_training_goes_on_as_without_the_kill(cluster):
    """SIGKILL the worker's process between steps: the next step either fails with
    UnavailableError or runs on the restarted worker; training then goes on. The ps tasks kept the
    weights (a failed step applies no update), so the losses are those of an uninterrupted run."""
    import signal

    import ray

    workers, _ = cluster
    uninterrupted, _ = _train(
        workers[0].target, ["/job:ps/task:0", "/job:ps/task:1"], "/job:worker/task:1", steps=6
    )
    tf.reset_default_graph()
    x, labels, loss, train, _ = _two_layer_net(
        ["/job:ps/task:0", "/job:ps/task:1"], "/job:worker/task:1"
    )
    rng = np.random.default_rng(1)
    feeds = {
        x: rng.standard_normal((8, 20)).astype(np.float32),
        labels: np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)],
    }
    worker = ray.get_actor("worker/1", namespace="tgc")
    with tf.Session(workers[0].target) as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([loss, train], feeds)[0] for _ in range(3)]
        os.kill(ray.get(worker.pid.remote()), signal.SIGKILL)
        while len(losses) < 6:
            try:
                losses.append(sess.run([loss, train], feeds)[0])
            except tf.errors.UnavailableError as lost:
                assert "task worker/1 was lost" in str(lost)
    np.testing.assert_allclose(losses, uninterrupted, rtol=1e-6)


def test_a_killed_ps_task_is_restored_from_the_last_checkpoint(cluster, tmp_path):
    """The ps task holding w2 is SIGKILLed after a checkpoint: Ray restarts it without its
    variables, the program restores them with tf.train.Saver, and training ends with the weights of
    an uninterrupted run restored from the same checkpoint."""
    import signal

    import ray

    workers, _ = cluster
    x, labels, loss, train, (w1, w2) = _two_layer_net(
        ["/job:ps/task:0", "/job:ps/task:1"], "/job:worker/task:0"
    )
    rng = np.random.default_rng(1)
    feeds = {
        x: rng.standard_normal((8, 20)).astype(np.float32),
        labels: np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)],
    }
    saver = tf.train.Saver()
    ps1 = ray.get_actor("ps/1", namespace="tgc")
    with tf.Session(workers[0].target) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, feeds)
        checkpoint = saver.save(sess, str(tmp_path / "model"), global_step=3)
        sess.run(train, feeds)  # an update after the checkpoint: lost with the ps task
        os.kill(ray.get(ps1.pid.remote()), signal.SIGKILL)
        with pytest.raises((tf.errors.UnavailableError, tf.errors.AbortedError)):
            for _ in range(3):  # until the loss is seen (a restarted ps holds no w2)
                sess.run(train, feeds)
        assert sess.is_initialized(w1) and not sess.is_initialized(w2)
        saver.restore(sess, checkpoint)
        for _ in range(3):
            sess.run(train, feeds)
        recovered = sess.run([w1, w2])
    with tf.Session(workers[0].target) as sess:
        saver.restore(sess, checkpoint)
        for _ in range(3):
            sess.run(train, feeds)
        uninterrupted = sess.run([w1, w2])
    np.testing.assert_allclose(recovered[1], uninterrupted[1], rtol=1e-6)
    np.testing.assert_allclose(recovered[0], uninterrupted[0], rtol=1e-6)


def test_a_ray_address_target_names_the_running_cluster(cluster):
    workers, _ = cluster
    address = workers[0]._cluster.ray.address
    with tf.device("/job:ps/task:1"):
        v = tf.Variable(np.float32(5.0), name="by_address")
    with tf.device("/job:worker/task:1"):
        y = v * 3.0
    with tf.Session(f"ray://{address}") as sess:
        sess.run(v.initializer)
        assert sess.run(y) == 15.0
    with pytest.raises(tf.errors.NotFoundError, match="127.0.0.1:1: .* already connected"):
        tf.Session("ray://127.0.0.1:1")


def test_a_failed_send_aborts_the_step_in_every_task(cluster):
    """The ps task cannot reach the worker (its peers are taken away): its send fails, the step is
    aborted in the worker waiting for that tensor, and the error names the tensor."""
    import ray

    from tgc.runtime.rendezvous import RendezvousError

    workers, _ = cluster
    with tf.device("/job:ps/task:0"):
        v = tf.Variable(np.float32(1.5), name="unsent")
    with tf.device("/job:worker/task:0"):
        y = v * 2.0
    ps0 = ray.get_actor("ps/0", namespace="tgc")
    with tf.Session(workers[0].target) as sess:
        sess.run(v.initializer)
        assert sess.run(y) == 3.0  # loaded (a new run's load introduces the tasks again)
        ray.get(ps0.set_peers.remote({}))
        try:
            with pytest.raises(RendezvousError, match=r"sending 'unsent:0;/job:ps/.*' failed"):
                sess.run(y)
        finally:
            workers[0]._cluster.ray.revive()  # gives every task its peers again
        assert sess.run(y) == 3.0


def test_tasks_share_the_cores_without_oversubscribing_them(cluster):
    import ray

    from tgc.runtime.ray.local import THREAD_VARIABLES

    share = str(max(1, (os.cpu_count() or 1) // 4))  # four tasks on this machine
    for name in ("ps/0", "ps/1", "worker/0", "worker/1"):
        actor = ray.get_actor(name, namespace="tgc")
        threads = ray.get(actor.environment.remote(list(THREAD_VARIABLES)))
        assert threads == dict.fromkeys(THREAD_VARIABLES, share)


def test_closing_the_servers_leaves_no_ray_process(cluster):
    """Runs last: it stops the module's cluster (the fixture's close is then a no-op)."""
    import ray

    workers, ps = cluster
    with tf.device("/job:worker/task:0"):
        y = tf.constant(2.0) * 4.0
    stale = tf.Session(workers[0].target)
    assert stale.run(y) == 8.0
    started = _descendants()
    assert len(started) >= 5, "expected Ray's daemons and the four task actors"
    ray_folder = workers[0]._cluster.ray._temp_dir  # Ray's logs and sockets
    assert os.path.isdir(ray_folder)
    for server in workers + ps:
        server.close()
    with pytest.raises(tf.errors.NotFoundError):
        tf.Session(workers[0].target)
    with pytest.raises(tf.errors.UnavailableError, match="cluster of this session was shut down"):
        stale.run(y)
    assert not ray.is_initialized()  # no Ray was started again behind the closed one
    assert not (_descendants() & started)
    assert not os.path.exists(ray_folder)


def _descendants() -> set:
    """Every process started (directly or not) by this one: Ray's daemons and its actors."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict = {}
    for line in out.splitlines():
        pid, ppid = map(int, line.split())
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found - {p for p in found if _is_ps_itself(p)}


def _is_ps_itself(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip() == "ps"
    except OSError:
        return True  # already gone
