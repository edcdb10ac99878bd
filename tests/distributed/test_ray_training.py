"""Training on a local Ray cluster with TF1's helpers: tf.train.replica_device_setter,
tf.train.MonitoredTrainingSession (checkpoints, recovery of a killed task) and
tf.train.SyncReplicasOptimizer. One cluster for the module (two ps tasks, two workers), stopped by
closing its servers. Skipped where Ray is not installed.
"""

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
