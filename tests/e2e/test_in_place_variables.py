"""Variables updated in place by a training step (tgc-gemm-update, writable
variables, tgc-return-in-place).

A plain SGD step writes each weight's new value into the session's own array (BLAS accumulating with
beta = 1). What a user sees must not change: the numbers match numpy's step, and every array handed
out by ``Session.run`` (an earlier fetch of a variable, a fetched assignment, a fed array) keeps its
value whatever later steps do.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf

RNG = np.random.default_rng(11)


def _two_layer(dtype, lr=0.05, config=None):
    """A two-layer net's SGD step on fixed data; returns the session, step
    op, variables and feeds."""
    tf.reset_default_graph()
    npt = np.float32 if dtype == "float32" else np.float64
    w1 = (RNG.standard_normal((7, 5)) * 0.3).astype(npt)
    w2 = (RNG.standard_normal((5, 3)) * 0.3).astype(npt)
    x = RNG.standard_normal((6, 7)).astype(npt)
    y = np.eye(3, dtype=npt)[RNG.integers(0, 3, 6)]
    xp, yp = (
        tf.placeholder(getattr(tf, dtype), [None, 7]),
        tf.placeholder(getattr(tf, dtype), [None, 3]),
    )
    v1, v2 = tf.Variable(w1), tf.Variable(w2)
    logits = tf.matmul(tf.nn.relu(tf.matmul(xp, v1)), v2)
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=yp, logits=logits))
    step = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    sess = tf.Session(config=config)
    sess.run(tf.global_variables_initializer())
    # As in TensorFlow, the learning rate is a float32 constant cast to the variable's dtype.
    return sess, step, (v1, v2), {xp: x, yp: y}, (w1.copy(), w2.copy(), x, y, float(np.float32(lr)))


def _numpy_steps(w1, w2, x, y, lr, steps):
    for _ in range(steps):
        z = x @ w1
        h = np.maximum(z, 0)
        s = h @ w2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        d = e / e.sum(axis=1, keepdims=True) - y
        g2 = h.T @ d
        g1 = x.T @ ((d @ w2.T) * (z > 0))
        w1, w2 = w1 - lr * g1, w2 - lr * g2
    return w1, w2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_steps_match_numpy_and_update_the_session_arrays_in_place(dtype):
    sess, step, (v1, v2), feed, reference = _two_layer(dtype)
    stored = [sess._variables[v._name] for v in (v1, v2)]
    for _ in range(3):
        sess.run(step, feed)
    # The in-place path: the session still holds the very arrays it started with.
    assert all(sess._variables[v._name] is a for v, a in zip((v1, v2), stored))
    want1, want2 = _numpy_steps(*reference, steps=3)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(sess.run(v1), want1, rtol=tol, atol=tol)
    np.testing.assert_allclose(sess.run(v2), want2, rtol=tol, atol=tol)


def test_a_fetched_variable_keeps_its_value_after_later_steps():
    sess, step, (v1, _), feed, reference = _two_layer("float32")
    before = sess.run(v1)
    sess.run(step, feed)
    after_one = sess.run(v1)
    sess.run(step, feed)
    np.testing.assert_array_equal(before, reference[0])
    want1, _ = _numpy_steps(*reference, steps=1)
    np.testing.assert_allclose(after_one, want1, rtol=1e-5, atol=1e-6)
    assert not np.allclose(sess.run(v1), after_one)


def test_fetching_the_variable_with_the_step_gives_a_snapshot():
    sess, step, (v1, _), feed, reference = _two_layer("float32")
    _, read = sess.run([step, v1.value()], feed)
    sess.run(step, feed)
    np.testing.assert_array_equal(read, reference[0])  # the value read when that step began


def test_a_fetched_assignment_is_a_copy_not_the_variable():
    tf.reset_default_graph()
    w = tf.Variable(np.ones((4, 3), np.float32))
    a, g = tf.placeholder(tf.float32, [None, 4]), tf.placeholder(tf.float32, [None, 3])
    update = tf.assign_sub(w, 0.5 * tf.matmul(a, g, transpose_a=True))
    with tf.Session() as sess:
        sess.run(w.initializer)
        ones = np.ones((2, 4), np.float32), np.ones((2, 3), np.float32)
        first = sess.run(update, {a: ones[0], g: ones[1]})
        sess.run(update, {a: ones[0], g: ones[1]})
        np.testing.assert_array_equal(first, np.zeros((4, 3), np.float32))
        np.testing.assert_array_equal(sess.run(w), -np.ones((4, 3), np.float32))


def test_assigning_a_feed_copies_it():
    tf.reset_default_graph()
    w = tf.Variable(np.zeros(3, np.float32))
    x = tf.placeholder(tf.float32, [3])
    with tf.Session() as sess:
        sess.run(w.initializer)
        value = np.arange(3, dtype=np.float32)
        sess.run(tf.assign(w, x), {x: value})
        value[:] = -7
        np.testing.assert_array_equal(sess.run(w), [0, 1, 2])
        sess.run(tf.assign_add(w, x), {x: np.ones(3, np.float32)})
        np.testing.assert_array_equal(value, [-7, -7, -7])
        np.testing.assert_array_equal(sess.run(w), [1, 2, 3])


def test_partitioned_steps_keep_read_only_variables_and_match_numpy():
    sess, step, (v1, v2), feed, reference = _two_layer(
        "float32", config=tf.ConfigProto(device_count={"CPU": 2})
    )
    for _ in range(2):
        sess.run(step, feed)
    want1, want2 = _numpy_steps(*reference, steps=2)
    np.testing.assert_allclose(sess.run(v1), want1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sess.run(v2), want2, rtol=1e-5, atol=1e-6)


def test_a_read_only_variable_array_is_never_written():
    sess, step, (v1, _), feed, reference = _two_layer("float32")
    frozen = sess._variables[v1._name]
    frozen.flags.writeable = False  # as if the session held memory it may not write
    sess.run(step, feed)
    np.testing.assert_array_equal(frozen, reference[0])
    want1, _ = _numpy_steps(*reference, steps=1)
    np.testing.assert_allclose(sess.run(v1), want1, rtol=1e-5, atol=1e-6)
