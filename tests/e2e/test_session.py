"""Session semantics: pruning, feeds, fetch structures, variables, the compile cache."""

import numpy as np
import pytest

import tgc as tf


def test_gradient_descent_step_matches_numpy():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w0 = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    w = tf.Variable(w0, name="w")
    loss = tf.reduce_sum(tf.square(tf.matmul(x, w) - 1.0))
    (gw,) = tf.gradients(loss, [w])
    step = tf.assign_sub(w, 0.01 * gw)
    a = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_loss, _ = sess.run([loss, step], {x: a})
        got_w = sess.run(w)
    ref_loss = np.sum((a @ w0 - 1.0) ** 2)
    ref_w = w0 - 0.01 * (a.T @ (2 * (a @ w0 - 1.0)))
    np.testing.assert_allclose(got_loss, ref_loss, rtol=1e-5)
    np.testing.assert_allclose(got_w, ref_w, rtol=1e-5)
