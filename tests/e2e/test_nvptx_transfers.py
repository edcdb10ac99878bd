"""A run over the CPU and a GPU: the GPU's partition exchanges tensors with the CPU's through its
launch plan's send and receive steps. The GPU is nvptx-emulated (the nvptx kernels and launch plan
run on the host), so this checks the whole path numerically on any machine."""

import numpy as np
import pytest

import tgc as tf
from tgc.dialect import targets


@pytest.fixture
def gpu_session():
    """A session with /cpu:0 and /gpu:0, the GPU's partition compiled for nvptx-emulated."""
    with targets.selected("nvptx-emulated"):

        def make(graph):
            return tf.Session(graph=graph, config=tf.ConfigProto(device_count={"GPU": 1}))

        yield make


def _steps_run(monkeypatch) -> list:
    """Records (function, step kind) of every launch plan step prepared from here on."""
    import tgc.runtime.launch_plan as launch_plan

    seen = []
    prepare = launch_plan.LaunchPlan._prepare

    def recording(self, step):
        seen.append((self.name, next(iter(step))))
        return prepare(self, step)

    monkeypatch.setattr(launch_plan.LaunchPlan, "_prepare", recording)
    return seen


def test_tensors_cross_between_the_cpu_and_the_gpu_both_ways(gpu_session, monkeypatch):
    steps = _steps_run(monkeypatch)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [4, 3], name="x")
        with tf.device("/cpu:0"):
            a = tf.exp(x)
        with tf.device("/gpu:0"):
            b = tf.tanh(a) * 2.0
            big = b > 1.5  # a bool tensor: one byte per element on the GPU
            total = tf.reduce_sum(b)  # a 0-d tensor
        with tf.device("/cpu:0"):
            d = tf.where(big, b + a, a - total)
    values = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    with gpu_session(graph) as session:
        for scale in (1.0, -0.5):  # the workspace and the rendezvous serve every run
            fed = values * scale
            out, flags, sum_ = session.run([d, big, total], {x: fed})
            a_ = np.exp(fed)
            b_ = np.tanh(a_) * 2
            np.testing.assert_allclose(out, np.where(b_ > 1.5, b_ + a_, a_ - b_.sum()), rtol=1e-5)
            assert flags.dtype == np.bool_
            np.testing.assert_array_equal(flags, b_ > 1.5)
            np.testing.assert_allclose(sum_, b_.sum(), rtol=1e-5)
    kinds = {kind for _, kind in steps}
    assert {"recv", "send", "launch"} <= kinds, steps  # the GPU's partition ran its plan


def test_a_gpu_partition_that_only_receives_and_returns(gpu_session):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [2, 5], name="x")
        with tf.device("/cpu:0"):
            a = x * 3.0
        with tf.device("/gpu:0"):
            b = tf.identity(a) + 1.0
    values = np.arange(10, dtype=np.float32).reshape(2, 5)
    with gpu_session(graph) as session:
        np.testing.assert_allclose(session.run(b, {x: values}), values * 3 + 1)


def test_a_slice_goes_to_the_cpu_and_its_result_updates_a_gpu_variable(gpu_session):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [4, 6], name="x")
        with tf.device("/gpu:0"):
            y = tf.sin(x)
            part = y[1:3, 2:5]  # a strided view: copied to a whole buffer before it is sent
            w = tf.Variable(np.ones((2, 3), np.float32), name="w")
        with tf.device("/cpu:0"):
            z = part * 2.0 + 1.0
        with tf.device("/gpu:0"):
            update = tf.assign_add(w, z * z)  # received, squared, kept on the GPU
    values = np.random.RandomState(1).randn(4, 6).astype(np.float32)
    z_ = np.sin(values)[1:3, 2:5] * 2 + 1
    with gpu_session(graph) as session:
        session.run(w.initializer)
        for step in (1, 2):
            sent, updated = session.run([part, update], {x: values})
            np.testing.assert_allclose(sent, np.sin(values)[1:3, 2:5], rtol=1e-6)
            np.testing.assert_allclose(updated, 1 + step * z_ * z_, rtol=1e-5)


def test_an_element_of_a_shape_is_sent_from_the_gpu():
    # tf.shape(x)[0] on the GPU, used by tf.range on the CPU (its result's size is known at run time
    # only): the send copied the slice's element out of the shape's buffer on the host, a view of
    # part of a buffer that tgc-nvptx-check-host refused ("memref.subview ... outside a kernel").
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        with tf.device("/gpu:0"):
            rows = tf.shape(x)[0]
            last = tf.shape(x)[-1]
            doubled = rows * 2
        indices = tf.range(rows)
    config = tf.ConfigProto(device_count={"GPU": 1}, allow_soft_placement=True)
    with targets.selected("nvptx-emulated"):
        with tf.Session(graph=graph, config=config) as session:
            got = session.run([indices, rows, last, doubled], {x: np.ones((3, 4), np.float32)})
    assert got[0].tolist() == [0, 1, 2]
    assert [int(v) for v in got[1:]] == [3, 4, 6]
