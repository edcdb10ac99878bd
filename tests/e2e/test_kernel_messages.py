"""Run-time checks in TensorFlow's kernels' own words (build.check_op): a shape known only at run
time that TF's kernel refuses fails the run with the kernel's message, not a broadcast (a wrong
number) or tf.Assert's "assertion failed: [...]". Each expected message is TF 2.21 compat.v1's,
from tests/oracle/kernel_messages.py (`/tmp/tfenv/bin/python tests/oracle/kernel_messages.py`)."""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
from tgc.frontend.build import check_op


def _cond_of(pred, a, b):
    """A tensor whose shape the graph does not know: a cond of two constants of different sizes."""
    return tf.cond(pred, lambda: tf.constant(a), lambda: tf.constant(b))


def test_check_op_formats_scalars_as_numbers_and_vectors_as_shapes():
    x = tf.placeholder(tf.float32, [None, 3])
    rows = tf.shape(x)[0]
    check = check_op(tf.equal(rows, 2), "want 2 rows, got {0} (shape {1})", [rows, tf.shape(x)])
    with tf.control_dependencies([check]):
        y = tf.identity(x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: np.ones((2, 3))}), np.ones((2, 3)))
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"^want 2 rows, got 1 \(shape \[1,3\]\)"
        ):
            sess.run(y, {x: np.ones((1, 3))})
