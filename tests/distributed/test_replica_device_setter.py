"""tf.train.replica_device_setter (tgc/frontend/cluster.py): where it puts each op, as TF1 does.

No Ray needed: only the devices the graph records are checked (the cluster runs are in
tests/distributed/test_ray_training.py).
"""

import numpy as np
import pytest

import tgc as tf

SPEC = {"ps": ["h:2222", "h:2223"], "worker": ["h:2224", "h:2225", "h:2226"]}


def _devices():
    return {op.name: op.device for op in tf.get_default_graph().get_operations()}


def test_variables_go_to_the_ps_tasks_in_turn_and_the_rest_to_the_worker():
    setter = tf.train.replica_device_setter(cluster=SPEC, worker_device="/job:worker/task:1")
    with tf.device(setter):
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w1 = tf.Variable(np.ones((3, 4), np.float32), name="w1")
        w2 = tf.Variable(np.ones((4, 2), np.float32), name="w2")
        w3 = tf.Variable(np.ones((2, 2), np.float32), name="w3")
        y = tf.matmul(tf.matmul(tf.matmul(x, w1), w2), w3, name="y")
    devices = _devices()
    assert devices["w1"] == "/job:ps/task:0"
    assert devices["w2"] == "/job:ps/task:1"
    assert devices["w3"] == "/job:ps/task:0"  # round robin over the two ps tasks
    assert devices["x"] == "/job:worker/task:1"
    assert y.op.device == "/job:worker/task:1"
    assert w1.op.type == "VariableV2"


def test_an_inner_device_scope_is_merged_into_the_setters_choice():
    setter = tf.train.replica_device_setter(ps_tasks=3, worker_device="/job:worker/task:2")
    with tf.device(setter):
        with tf.device("/device:CPU:0"):
            w = tf.Variable(np.float32(1.0), name="w")
            z = tf.identity(w, name="z")
        with tf.device("/job:ps/task:2"):
            pinned = tf.Variable(np.float32(2.0), name="pinned")
        with tf.device("/job:local"):
            other_job = tf.Variable(np.float32(3.0), name="other_job")
    assert w.op.device == "/job:ps/task:0/device:CPU:0"
    assert z.op.device == "/job:worker/task:2/device:CPU:0"
    # The op's own ps task wins over the strategy's; a job other than ps keeps its task unset.
    assert pinned.op.device == "/job:ps/task:2"
    assert other_job.op.device == "/job:local"


def test_without_merging_an_inner_device_stands():
    setter = tf.train.replica_device_setter(ps_tasks=2, merge_devices=False)
    with tf.device(setter):
        with tf.device("/job:worker/task:7"):
            w = tf.Variable(np.float32(1.0), name="w")
        v = tf.Variable(np.float32(1.0), name="v")
    assert w.op.device == "/job:worker/task:7"
    assert v.op.device == "/job:ps/task:0"


def test_a_custom_strategy_and_ps_ops():
    chosen = []

    def strategy(op):
        chosen.append(op.name)
        return 5

    setter = tf.train.replica_device_setter(
        ps_tasks=6, ps_device="/job:params", ps_ops=["Placeholder"], ps_strategy=strategy
    )
    with tf.device(setter):
        x = tf.placeholder(tf.float32, [2], name="x")
        w = tf.Variable(np.float32(1.0), name="w")
    assert x.op.device == "/job:params/task:5" and chosen == ["x"]
    assert w.op.device == "/job:worker"  # VariableV2 is not among these ps_ops


def test_no_ps_task_gives_no_device_function():
    assert tf.train.replica_device_setter() is None
    assert tf.train.replica_device_setter(cluster={"worker": ["h:1"]}) is None
    with tf.device(tf.train.replica_device_setter()):  # tf.device(None): no placement at all
        c = tf.constant(1.0, name="c")
    assert c.op.device == ""
    with pytest.raises(TypeError, match="ps_strategy must be callable"):
        tf.train.replica_device_setter(ps_tasks=1, ps_strategy=3)


def test_greedy_load_balancing_puts_each_variable_on_the_least_loaded_ps_task():
    from tgc.frontend.cluster import GreedyLoadBalancingStrategy, byte_size_load_fn

    strategy = GreedyLoadBalancingStrategy(2, byte_size_load_fn)
    with tf.device(tf.train.replica_device_setter(ps_tasks=2, ps_strategy=strategy)):
        big = tf.Variable(np.zeros((100, 10), np.float32), name="big")  # 4000 bytes -> ps 0
        small = tf.Variable(np.zeros(10, np.float64), name="small")  # 80 bytes -> ps 1
        medium = tf.Variable(np.zeros((30, 10), np.float32), name="medium")  # 1200 -> ps 1
        last = tf.Variable(np.zeros(1, np.float32), name="last")  # ps 1 holds 1280 < 4000
    tasks = [v.op.device for v in (big, small, medium, last)]
    assert tasks == ["/job:ps/task:0", "/job:ps/task:1", "/job:ps/task:1", "/job:ps/task:1"]


def test_tf_contrib_training_names_the_greedy_strategy_of_tf1():
    """TF1 programs spell it ``tf.contrib.training.GreedyLoadBalancingStrategy``."""
    strategy = tf.contrib.training.GreedyLoadBalancingStrategy(
        num_tasks=2, load_fn=tf.contrib.training.byte_size_load_fn
    )
    with tf.device(tf.train.replica_device_setter(ps_tasks=2, ps_strategy=strategy)):
        a = tf.Variable(np.zeros((8, 8), np.float32), name="a")  # 256 bytes -> ps 0
        b = tf.Variable(np.zeros((4, 4), np.float32), name="b")  # 64 bytes -> ps 1
        c = tf.Variable(np.zeros((4, 4), np.float32), name="c")  # ps 1 holds 64 < 256
        d = tf.Variable(np.zeros((12, 12), np.float32), name="d")  # ps 1 holds 128 < 256
    assert [v.op.device for v in (a, b, c, d)] == [
        "/job:ps/task:0",
        "/job:ps/task:1",
        "/job:ps/task:1",
        "/job:ps/task:1",
    ]
    assert tf.contrib.training.byte_size_load_fn(d.op) == 12 * 12 * 4
