"""Loops and conds beside ops on a GPU (nvptx-emulated: the GPU's kernels and launch plans run on
the host) and on the accelerator, targets that compile static shapes only.

A tf.while_loop or tf.cond result whose shape is known only at run time (a None dim in the shape
invariant, branches of different shapes) cannot be read by a kernel compiled for one shape: the op
reading it is placed on the CPU, by soft placement when it asked for the GPU, and partitioning makes
the transfers. Pinned to the GPU without soft placement, it is a placement error naming the op.
(Random-graph campaigns found these graphs refused at compile time, or an MLIR verifier error;
generator KNOWN_BUGS "dynamic-control-results" until the fix.)"""

import numpy as np
import pytest

import tgc as tf
from tgc.dialect import targets

GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
ONE_GPU_SOFT = dict(device_count={"GPU": 1}, allow_soft_placement=True)


def _placement(session) -> dict:
    """op name -> device, over the session's compiled runs."""
    return {
        name: device for run in session._cache.values() for name, _, device in run.placement or ()
    }


def _growing_loop(x):
    """A loop that appends a column per trip: its result's second dim is unknown."""
    return tf.while_loop(
        lambda i, v: i < 2,
        lambda i, v: [i + 1, tf.concat([v, v[:, :1] * 2.0], axis=1)],
        [tf.constant(0), x],
        shape_invariants=[tf.TensorShape([]), tf.TensorShape([2, None])],
        name="grow",
    )[1]


X = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
GROWN = np.concatenate([X, X[:, :1] * 2.0, X[:, :1] * 2.0], axis=1)  # two trips


@pytest.mark.parametrize("request_gpu", [True, False], ids=["soft-placed", "default-placed"])
def test_an_op_reading_a_loop_result_of_unknown_shape_runs_on_the_cpu(request_gpu):
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [2, 2])
        grown = _growing_loop(x)
        with tf.device("/gpu:0" if request_gpu else None):
            near = tf.exp(x, name="near")  # static shape: may stay on the GPU
            total = tf.reduce_sum(tf.tanh(grown, name="far"), name="total") + tf.reduce_sum(near)
        with tf.Session(config=tf.ConfigProto(**ONE_GPU_SOFT)) as sess:
            value = sess.run(total, {x: X})
            placed = _placement(sess)
    np.testing.assert_allclose(value, np.tanh(GROWN).sum() + np.exp(X).sum(), rtol=1e-5)
    assert placed["far"] == CPU0  # reads the loop's [2, ?] result
    if request_gpu:
        assert placed["near"] == GPU0


def test_a_cond_result_of_unknown_shape_read_on_the_gpu_runs_on_the_cpu():
    """Branches of different shapes make a cond result of unknown shape."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [2, 2])
        p = tf.placeholder(tf.bool, [])
        picked = tf.cond(p, lambda: x, lambda: x[:, :1] * 3.0)
        with tf.device("/gpu:0"):
            doubled = tf.multiply(picked, 2.0, name="doubled")
        with tf.Session(config=tf.ConfigProto(**ONE_GPU_SOFT)) as sess:
            taken = sess.run(doubled, {x: X, p: True})
            other = sess.run(doubled, {x: X, p: False})
            placed = _placement(sess)
    np.testing.assert_allclose(taken, X * 2.0)
    np.testing.assert_allclose(other, X[:, :1] * 6.0)
    assert placed["doubled"] == CPU0


def test_hard_placement_of_such_an_op_on_the_gpu_names_the_op_and_why():
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [2, 2])
        grown = _growing_loop(x)
        with tf.device("/gpu:0"):
            far = tf.tanh(grown, name="far")
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            with pytest.raises(tf.errors.CompileError) as caught:
                sess.run(far, {x: X})
    text = str(caught.value)
    assert "'far'" in text
    assert "cannot place 'tgc.tanh' on requested device '/device:GPU:0'" in text
    assert "compiles static shapes only" in text and "tensor<2x?xf32>" in text


def test_an_accelerator_op_reading_a_loop_result_of_unknown_shape_runs_on_the_cpu():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [2, 2])
        grown = _growing_loop(x)
        with tf.device("/device:ACCEL:0"):
            far = tf.add(grown, 1.0, name="far")
        config = tf.ConfigProto(device_count={"ACCEL": 1}, allow_soft_placement=True)
        with tf.Session(config=config) as sess:
            value = sess.run(far, {x: X})
            placed = _placement(sess)
    np.testing.assert_allclose(value, GROWN + 1.0)
    assert placed["far"] == CPU0


def test_the_gradient_of_a_loop_over_a_placeholder_of_unknown_dim():
    """x: [1, None]; the loop's result keeps the unknown dim, so the gradient's ops that read it
    stay on the CPU beside GPU ops (the campaign's seed 31 failed with an MLIR verifier error,
    'operand #0 does not dominate this use', from tgc-nvptx-serial-kernels)."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float64, [1, None])
        r = tf.while_loop(lambda i, v: i < 2, lambda i, v: [i + 1, v * x], [tf.constant(0), x])[1]
        loss = tf.reduce_sum(r) + tf.reduce_sum(tf.log1p(x))
        (grad,) = tf.gradients(loss, [x])
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            x_value = np.array([[0.5, 2.0, -0.25]])
            r_value, g_value = sess.run([r, grad], {x: x_value})
    np.testing.assert_allclose(r_value, x_value**3)
    np.testing.assert_allclose(g_value, 3.0 * x_value**2 + 1.0 / (1.0 + x_value))
