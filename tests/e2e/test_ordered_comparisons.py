"""tf.less, tf.less_equal, tf.greater and tf.greater_equal take real numbers only: TF 2.21 refuses
bools when the graph is built ("Value passed to parameter 'x' has DataType bool not in list of
allowed values: float32, float64, int32, ..."); tf.equal and tf.not_equal take bools. tgc compared
bools (False < True). Found by the random graphs against TensorFlow
(tests/conformance/tfdiff.py)."""

import numpy as np
import pytest

import tgc as tf

ORDERED = ("less", "less_equal", "greater", "greater_equal")


@pytest.mark.parametrize("name", ORDERED)
def test_an_ordered_comparison_of_bools_is_refused_as_in_tf(name):
    with tf.Graph().as_default():
        a = tf.placeholder(tf.bool, [2])
        with pytest.raises((TypeError, ValueError), match="bool"):
            getattr(tf, name)(a, a)


@pytest.mark.parametrize("name", ("equal", "not_equal"))
def test_equality_of_bools_stays(name):
    with tf.Graph().as_default():
        a = tf.placeholder(tf.bool, [2])
        b = tf.placeholder(tf.bool, [2])
        out = getattr(tf, name)(a, b)
        with tf.Session() as sess:
            got = sess.run(out, {a: [True, False], b: [True, True]})
    np.testing.assert_array_equal(got, getattr(np, name)([True, False], [True, True]))


@pytest.mark.parametrize("name", ORDERED)
def test_ordered_comparisons_of_numbers_stay(name):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [3])
        out = getattr(tf, name)(x, 1)
        with tf.Session() as sess:
            got = sess.run(out, {x: [0, 1, 2]})
    np.testing.assert_array_equal(got, getattr(np, name)([0, 1, 2], 1))
