"""Device scopes, placement and partitioned runs on several local CPU devices."""

import threading

import numpy as np
import pytest

import tgc as tf
from tgc.runtime.rendezvous import Rendezvous, RendezvousError

TWO_CPUS = tf.ConfigProto(device_count={"CPU": 2})


def _two_layer_net(split_devices: bool):
    """The lecture's two-layer net; with split_devices the layers go to /cpu:0 and /cpu:1."""
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 20], name="x")
    labels = tf.placeholder(tf.float32, [None, 5], name="labels")
    with tf.device("/cpu:0" if split_devices else None):
        w1 = tf.Variable(rng.standard_normal((20, 16)).astype(np.float32) * 0.1, name="w1")
        h = tf.nn.relu(tf.matmul(x, w1), name="h")
    with tf.device("/cpu:1" if split_devices else None):
        w2 = tf.Variable(rng.standard_normal((16, 5)).astype(np.float32) * 0.1, name="w2")
        scores = tf.matmul(h, w2, name="scores")
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=scores))
    train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    return x, labels, loss, train


def _train(split_devices: bool, config):
    tf.reset_default_graph()
    x, labels, loss, train = _two_layer_net(split_devices)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 20)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]
    losses = []
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            value, _ = sess.run([loss, train], {x: a, labels: y})
            losses.append(value)
    return np.array(losses)


def test_partitioned_two_layer_net_matches_single_device():
    single = _train(False, None)
    split = _train(True, TWO_CPUS)
    assert split[-1] < split[0]
    np.testing.assert_allclose(split, single, rtol=1e-6)


def test_log_device_placement_names_each_op_and_its_device(capfd):
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.device("/cpu:1"):
        y = tf.multiply(x, 2.0, name="double")
    with tf.Session(
        config=tf.ConfigProto(device_count={"CPU": 2}, log_device_placement=True)
    ) as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1.0, 2.0]}), [2.0, 4.0])
    err = capfd.readouterr().err
    assert "double: (tgc.multiply): /job:localhost/replica:0/task:0/device:CPU:1" in err


def test_device_scopes_merge_and_are_reported_as_tensorflow_does():
    with tf.device("/job:ps/task:0"):
        w = tf.Variable(1.0, name="w")
        with tf.device("/cpu:1"):
            y = w * 2.0
    assert w.device == "/job:ps/task:0"
    assert y.device == "/job:ps/task:0/device:CPU:1" and y.op.device == y.device


def test_a_device_function_places_each_op_it_sees_and_string_scopes_merge_around_it():
    """TF1's device functions: called with each op made in the scope (its type and name known, its
    device the inner scopes' request), their answer merged under the outer scopes' strings."""
    seen = []

    def variables_on_ps(op):
        seen.append((op.type, op.device))
        return "/job:ps/task:0" if op.type == "VariableV2" else op.device

    with tf.device("/job:worker"):
        with tf.device(variables_on_ps):
            w = tf.Variable(1.0, name="w")
            with tf.device("/cpu:1"):
                y = tf.multiply(w, 2.0, name="double")
            z = tf.add(y, 1.0, name="plus")
    assert w.op.type == "VariableV2" and w.op.device == "/job:ps/task:0" == w.device
    assert y.op.device == "/job:worker/device:CPU:1"
    assert z.op.device == "/job:worker"
    assert ("Mul", "/device:CPU:1") in seen


def test_device_none_clears_the_enclosing_scopes():
    with tf.device("/job:ps/task:0"):
        with tf.device(None):
            y = tf.constant(1.0, name="anywhere")
        z = tf.constant(2.0, name="on_ps")
    assert y.op.device == "" and z.op.device == "/job:ps/task:0"


def test_unsatisfiable_request_names_op_request_and_devices():
    with tf.device("/cpu:3"):
        y = tf.add(tf.constant(1.0), 2.0, name="far")
    with tf.Session(config=TWO_CPUS) as sess:
        with pytest.raises(
            tf.errors.CompileError, match=r"'far'.*requested device '/device:CPU:3'.*CPU:0.*CPU:1"
        ):
            sess.run(y)


def test_soft_placement_falls_back():
    with tf.device("/cpu:3"):
        y = tf.add(tf.constant(1.0), 2.0, name="far")
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        assert sess.run(y) == 3.0


def test_cross_device_control_dependency_orders_the_read():
    with tf.device("/cpu:0"):
        v = tf.Variable(1.0, name="v")
        bump = v.assign_add(10.0)
    with tf.device("/cpu:1"):
        with tf.control_dependencies([bump]):
            after = tf.identity(v.read_value()) * 2.0
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(v.initializer)
        assert sess.run(after) == 22.0
        assert sess.run(v) == 11.0


def test_rendezvous_reports_a_deadlock_instead_of_hanging():
    rendezvous = Rendezvous({0: "a;cpu0;cpu1", 1: "b;cpu1;cpu0"}, running=2, timeout=30.0)
    results = []

    def waiter(key):
        results.append(rendezvous.recv(key))

    threads = [threading.Thread(target=waiter, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert all(not t.is_alive() for t in threads)
    assert results == [None, None]
    assert isinstance(rendezvous.error, RendezvousError) and "deadlock" in str(rendezvous.error)


def test_rendezvous_times_out_on_a_missing_send():
    rendezvous = Rendezvous({0: "lost;cpu0;cpu1"}, running=2, timeout=0.2)
    assert rendezvous.recv(0) is None
    assert "timed out" in str(rendezvous.error) and "lost;cpu0;cpu1" in str(rendezvous.error)


@pytest.mark.parametrize("optimize", [True, False])
def test_results_identical_with_and_without_graph_optimizations(optimize):
    level = tf.OptimizerOptions.L1 if optimize else tf.OptimizerOptions.L0
    config = tf.ConfigProto(
        graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(opt_level=level))
    )
    losses = _train(False, config)
    reference = _train(False, None)
    np.testing.assert_array_equal(losses, reference)
