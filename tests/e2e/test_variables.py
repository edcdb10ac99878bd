"""Variables, get_variable and variable_scope as TensorFlow 1 names and shares them."""

import numpy as np
import pytest

import tgc as tf


def test_get_variable_names_follow_variable_scopes():
    with tf.variable_scope("layer1"):
        w = tf.get_variable("w", [3, 2], initializer=tf.ones_initializer())
        with tf.variable_scope("inner"):
            b = tf.get_variable("b", [2], initializer=tf.zeros_initializer())
    assert w.name == "layer1/w:0" and b.name == "layer1/inner/b:0"
    assert w.shape.as_list() == [3, 2] and w.dtype == tf.float32


def test_reuse_shares_and_unreused_duplicates_fail():
    with tf.variable_scope("shared"):
        a = tf.get_variable("w", [2], initializer=tf.constant_initializer(1.5))
    with tf.variable_scope("shared", reuse=True):
        b = tf.get_variable("w", [2])
    assert a is b
    with pytest.raises(ValueError, match="Variable shared/w already exists"):
        with tf.variable_scope("shared"):
            tf.get_variable("w", [2])
    with pytest.raises(ValueError, match="Variable shared/missing does not exist"):
        with tf.variable_scope("shared", reuse=True):
            tf.get_variable("missing", [2])
    with tf.variable_scope("shared", reuse=tf.AUTO_REUSE):
        assert tf.get_variable("w", [2]) is a
        fresh = tf.get_variable("other", [1])
    assert fresh.name == "shared/other:0"


def test_reuse_variables_and_shape_mismatch():
    with tf.variable_scope("s") as scope:
        v = tf.get_variable("v", [4])
        scope.reuse_variables()
        assert tf.get_variable("v", [4]) is v
        with pytest.raises(ValueError, match=r"specified shape \[5\] and found shape \[4\]"):
            tf.get_variable("v", [5])


def test_variable_collections_and_initializers_run():
    w = tf.Variable(np.arange(4, dtype=np.float32), name="w")
    step = tf.Variable(0, trainable=False, name="step")
    assert w in tf.trainable_variables() and step not in tf.trainable_variables()
    assert set(tf.global_variables()) == {w, step}
    with tf.Session() as sess:
        sess.run(tf.initialize_all_variables())
        np.testing.assert_array_equal(sess.run(w), [0, 1, 2, 3])
        assert sess.run(step) == 0 and sess.run(step).dtype == np.int32
        sess.run(step.assign_add(5))
        assert step.eval() == 5
        w.load(np.ones(4), sess)
        np.testing.assert_array_equal(sess.run(w), np.ones(4))


def test_variable_with_dtype_and_initialized_value():
    a = tf.Variable(2, dtype=tf.float64, name="a")
    b = tf.Variable(a.initialized_value() * 3, name="b")
    with tf.Session() as sess:
        sess.run(b.initializer)
        assert sess.run(b) == 6.0 and sess.run(b).dtype == np.float64


def test_load_of_wrong_shape_keeps_the_old_value():
    w = tf.Variable(np.zeros(3, np.float32), name="w")
    with tf.Session() as sess:
        sess.run(w.initializer)
        with pytest.raises(ValueError, match=r"shape \(2,\) into variable 'w' of shape \(3,\)"):
            w.load([1.0, 2.0], sess)
        np.testing.assert_array_equal(sess.run(w), np.zeros(3))


def test_assign_of_a_fed_batch_is_checked_at_run_time():
    w = tf.Variable(np.zeros((2, 3), np.float32), name="w")
    batch = tf.placeholder(tf.float32, [None, 3], name="batch")
    store = tf.assign(w, batch)
    with tf.Session() as sess:
        sess.run(w.initializer)
        sess.run(store, {batch: np.ones((2, 3), np.float32)})
        np.testing.assert_array_equal(sess.run(w), np.ones((2, 3)))
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"lhs shape= \[2,3\] rhs shape= \[4,3\]"
        ):
            sess.run(store, {batch: np.ones((4, 3), np.float32)})
        np.testing.assert_array_equal(sess.run(w), np.ones((2, 3)))
