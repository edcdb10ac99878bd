"""Lines of public TF1 tutorials (benchmarks/tf1_api_survey.py's programs, run with only their
import lines changed) that stopped with an error inside tgc. Each test is that line's program in
miniature; the expected values are what TF1 gives (noted where they are not plain arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf


def test_hello_world_is_a_string_constant_fetched_as_bytes():
    hello = tf.constant("Hello, TensorFlow!")
    words = tf.constant([["a", "bc"], ["d", "e"]], name="words")
    with tf.Session() as sess:
        assert sess.run(hello) == b"Hello, TensorFlow!"  # TF1 gives bytes
        got = sess.run(words)
    assert got.shape == (2, 2) and got[0, 1] == b"bc"
    assert hello.dtype == tf.string and words.shape.as_list() == [2, 2]
    filled = tf.constant("x", shape=[3])
    with tf.Session() as sess:
        assert list(sess.run(filled)) == [b"x", b"x", b"x"]


def test_a_string_constant_is_not_computed_on():
    with pytest.raises(TypeError, match="'Const:0' has dtype string; no tgc op takes strings"):
        tf.constant("x", name="Const") + 1


def test_contrib_and_nn_import_as_modules():
    from tgc.contrib import layers
    from tgc.nn import relu

    import tgc.contrib.layers as contrib_layers

    assert layers is tf.contrib.layers is contrib_layers and relu is tf.nn.relu
    x = tf.constant(np.array([[1.0, -2.0]], np.float32))
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(layers.flatten(relu(x))), [[1.0, 0.0]])


def test_sgd_on_a_scalar_weight_times_a_placeholder_of_unknown_rank():
    """nlintz's linear regression: X = tf.placeholder("float") has no shape, so the gradient
    of w must still have w's shape () for the optimizer's assign."""
    x = tf.placeholder("float")
    y = tf.placeholder("float")
    w = tf.Variable(0.0, name="weights")
    cost = tf.square(y - tf.multiply(x, w))
    (grad,) = tf.gradients(cost, [w])
    assert grad.shape.as_list() == []
    train_op = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
    expected = 0.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for xv, yv in [(0.5, 1.2), (-1.0, -2.1), (0.25, 0.4)]:
            sess.run(train_op, {x: xv, y: yv})
            expected -= 0.01 * 2.0 * (yv - xv * expected) * -xv
        np.testing.assert_allclose(sess.run(w), expected, rtol=1e-6)
        matrix_feed = np.array([[1.0, 2.0], [3.0, 4.0]])
        sess.run(train_op, {x: matrix_feed, y: 2.0 * matrix_feed})  # a rank-2 feed: summed
        expected -= 0.01 * np.sum(2.0 * (2.0 * matrix_feed - matrix_feed * expected) * -matrix_feed)
        np.testing.assert_allclose(sess.run(w), expected, rtol=1e-6)
