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
