"""Run-time broadcast checks after tgc-shape-equality (tgc/passes/shape_equality.py): a check the
pass removes is one whose dims cannot differ, and the checks it keeps still raise TensorFlow's
"Incompatible shapes" for a bad feed and still broadcast a dim of 1.

The expected values are numpy's (or the same program with the batch dim fixed, whose compile has no
run-time check at all).
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf


def lstm_loss(x, y, reuse=None):
    with tf.variable_scope("shared", reuse=reuse):
        outputs, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(5), x, dtype=tf.float32)
    return tf.reduce_mean(tf.square(outputs[:, -1] - y))


@pytest.fixture
def feeds():
    rng = np.random.default_rng(3)
    return (
        rng.uniform(-1, 1, (4, 6, 3)).astype(np.float32),
        rng.uniform(-1, 1, (4, 5)).astype(np.float32),
    )


def test_an_unknown_batch_trains_as_the_fixed_batch_does(feeds):
    """The same weights, once with batch None (its checks proven away but one) and once with batch
    4: the loss and every gradient agree."""
    tf.reset_default_graph()
    x_none, y_none = tf.placeholder(tf.float32, [None, 6, 3]), tf.placeholder(tf.float32, [None, 5])
    x_four, y_four = tf.placeholder(tf.float32, [4, 6, 3]), tf.placeholder(tf.float32, [4, 5])
    loss_none = lstm_loss(x_none, y_none)
    loss_four = lstm_loss(x_four, y_four, reuse=True)
    variables = tf.trainable_variables()
    grads_none = tf.gradients(loss_none, variables)
    grads_four = tf.gradients(loss_four, variables)
    x, y = feeds
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([loss_none, *grads_none], {x_none: x, y_none: y})
        want = sess.run([loss_four, *grads_four], {x_four: x, y_four: y})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_a_target_of_another_batch_still_fails_the_run(feeds):
    """outputs[:, -1] - y compares two placeholders' batch dims: the check stays and names the op
    and both shapes."""
    tf.reset_default_graph()
    x, y = tf.placeholder(tf.float32, [None, 6, 3]), tf.placeholder(tf.float32, [None, 5])
    loss = lstm_loss(x, y)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    xs, ys = feeds
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(tf.errors.InvalidArgumentError) as info:  # the session's own check
            sess.run([train, loss], {x: xs, y: ys[:3]})
        assert "for 'sub' (op: 'Sub') with input shapes: [4, 5], [3, 5]" in str(info.value)
        # A target of one row broadcasts, as TensorFlow's does: the loss against it tiled.
        one = sess.run(loss, {x: xs, y: ys[:1]})
        tiled = sess.run(loss, {x: xs, y: np.repeat(ys[:1], 4, axis=0)})
        np.testing.assert_allclose(one, tiled, rtol=1e-6)


def test_the_compiled_code_checks_the_target_without_the_session(feeds):
    """The same step compiled and called without the session's feed validation (as an artifact or a
    second caller would): the compiled code's own check, the one the pass keeps, raises."""
    from tgc.driver.jit import compile_run
    from tgc.graph.prune import prune

    tf.reset_default_graph()
    x, y = tf.placeholder(tf.float32, [None, 6, 3]), tf.placeholder(tf.float32, [None, 5])
    loss = lstm_loss(x, y)
    fetches = [loss, *tf.gradients(loss, tf.trainable_variables())]
    compiled = compile_run(
        prune([t.op for t in fetches], {x, y}), [(x, x.spec), (y, y.spec)], fetches
    )
    shapes = {v.op.name: tuple(v.shape.as_list()) for v in tf.global_variables()}
    variables = {name: np.full(shapes[name], 0.1, np.float32) for name in compiled.var_inputs}
    xs, ys = feeds
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        compiled.call([xs, ys[:3]], variables)
    assert str(info.value).startswith("Incompatible shapes: [4,5] vs. [3,5]")
    assert "[[node sub (defined at" in str(info.value)
    loss_one = compiled.call([xs, ys[:1]], variables)[0][0]
    loss_tiled = compiled.call([xs, np.repeat(ys[:1], 4, axis=0)], variables)[0][0]
    np.testing.assert_allclose(loss_one, loss_tiled, rtol=1e-6)


def test_a_loop_that_changes_the_dim_keeps_its_check():
    """The loop doubles the rows of its state: after it, the state and x have different dims
    (proven nothing), so adding them is tested at run time."""
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 2])
    _, doubled = tf.while_loop(
        lambda i, h: i < 2,
        lambda i, h: (i + 1, tf.concat([h, h], axis=0)),
        [tf.constant(0), x],
        shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])],
    )
    total = doubled + x
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(total, {x: rows})
        assert str(info.value).startswith("Incompatible shapes: [12,2] vs. [3,2]")
        one = rows[:1]
        np.testing.assert_array_equal(sess.run(total, {x: one}), np.tile(one, (4, 1)) + one)
