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


# TF 2.21 compat.v1 (with tf-keras 2.21 for tf.layers) names the variables of the program below
# so; `TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python` on the same program printed them.
TF_SCOPE_NAMES = [
    "block/w:0",
    "block_1/w:0",
    "dense/bias:0",
    "dense/kernel:0",
    "dense_1/bias:0",
    "dense_1/kernel:0",
    "discriminator/dense/bias:0",
    "discriminator/dense/kernel:0",
    "discriminator/dense_1/bias:0",
    "discriminator/dense_1/kernel:0",
    "outer/inner/v:0",
    "s/dense/bias:0",
    "s/dense/kernel:0",
]


def test_unnamed_layers_restart_their_numbering_in_a_scope_entered_again():
    """golbin's GAN2: a discriminator of two unnamed dense layers built twice, the second time
    under scope.reuse_variables(), shares the first build's variables (TF resets the numbering of
    a scope's unnamed subscopes when the scope is left)."""
    x = tf.placeholder(tf.float32, [None, 2])

    def discriminator(inputs, reuse=None):
        with tf.variable_scope("discriminator") as scope:
            if reuse:
                scope.reuse_variables()
            hidden = tf.layers.dense(inputs, 3, activation=tf.nn.relu)
            return tf.layers.dense(hidden, 1)

    real, fake = discriminator(x), discriminator(x * 2.0, True)
    for _ in range(2):
        with tf.variable_scope(None, default_name="block"):
            tf.get_variable("w", [1])
    with tf.variable_scope("outer"):
        with tf.variable_scope(None, default_name="inner"):
            tf.get_variable("v", [1])
    with tf.variable_scope("outer", reuse=tf.AUTO_REUSE):
        with tf.variable_scope(None, default_name="inner"):
            tf.get_variable("v", [1])
    with tf.variable_scope("s") as scope_object:
        tf.layers.dense(x, 1)
    with pytest.raises(ValueError, match="Variable s/dense/kernel already exists, disallowed"):
        with tf.variable_scope(scope_object):
            tf.layers.dense(x, 1)
    tf.layers.dense(x, 1)
    tf.layers.dense(x, 1)
    assert sorted(v.name for v in tf.global_variables()) == TF_SCOPE_NAMES
    feed = {x: np.array([[1.0, -0.5]], np.float32)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_real, got_fake = sess.run([real, fake], feed)
        twice = sess.run(real, {x: feed[x] * 2.0})
    np.testing.assert_allclose(got_fake, twice, rtol=1e-6)  # the same weights
    np.testing.assert_allclose(got_fake, 2.0 * got_real, rtol=1e-6)  # zero biases, relu: linear


def test_gpu_options_are_accepted_as_tf1_programs_set_them():
    """nlintz's LSTM: session_conf.gpu_options.allow_growth = True."""
    session_conf = tf.ConfigProto(allow_soft_placement=True)
    session_conf.gpu_options.allow_growth = True
    config = tf.ConfigProto(gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=0.333))
    x = tf.constant(2.0)
    for conf in (session_conf, config):
        with tf.Session(config=conf) as sess:
            assert sess.run(x * 3.0) == 6.0
    with pytest.raises(ValueError, match="per_process_gpu_memory_fraction must be in"):
        tf.GPUOptions(per_process_gpu_memory_fraction=1.5)


def test_dense_on_a_batch_of_sequences_of_unknown_length():
    """golbin's Seq2Seq: tf.layers.dense on the [batch, time, 128] outputs of dynamic_rnn, both
    of unknown size."""
    x = tf.placeholder(tf.float32, [None, None, 4])
    y = tf.layers.dense(x, 3, kernel_initializer=tf.constant_initializer(0.5), name="fc")
    assert y.shape.as_list() == [None, None, 3]
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(y, {x: values})
    np.testing.assert_allclose(got, values @ np.full((4, 3), 0.5, np.float32), rtol=1e-6)


def test_operators_name_their_ops_as_tf1_does():
    """TF1 names `a + b` "add" (type AddV2), `a * b` "mul", ...: programs fetch tensors by those
    names (`get_tensor_by_name("layer/add:0")`)."""
    a = tf.placeholder(tf.float32, [2], name="a")
    b = tf.placeholder(tf.float32, [2], name="b")
    with tf.name_scope("layer"):
        ops = [a + b, a * b, a - b, a / b, a // b, a**b, a % b, 2.0 * a, a + b, a < b, -a]
    names = [t.op.name for t in ops]
    assert names == [
        "layer/add",
        "layer/mul",
        "layer/sub",
        "layer/truediv",
        "layer/floordiv",
        "layer/pow",
        "layer/mod",
        "layer/mul_1",
        "layer/add_1",
        "layer/Less",
        "layer/Neg",
    ]
    assert ops[0].op.type == "AddV2"
    fetched = tf.get_default_graph().get_tensor_by_name("layer/add:0")
    with tf.Session() as sess:
        assert list(sess.run(fetched, {a: [1.0, 2.0], b: [3.0, 4.0]})) == [4.0, 6.0]
