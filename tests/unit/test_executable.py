"""The runtime's calling convention (tgc/runtime/executable.py): results are arrays over the buffers the
compiled code malloc'ed, alive as long as any array uses them, and never alias a caller's array."""

import gc

import numpy as np

import tgc as tf


def _session_and_graph():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    y = x * 2.0 + 1.0
    return tf.Session(), x, y


def test_results_stay_valid_after_later_runs_and_collection():
    sess, x, y = _session_and_graph()
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    first = sess.run(y, {x: a})
    kept = first[1:]  # a view: keeps the result's buffer alive on its own
    del first
    gc.collect()
    for _ in range(20):  # later runs malloc and free their own results
        sess.run(y, {x: a + 100})
    np.testing.assert_array_equal(kept, a[1:] * 2 + 1)


def test_result_is_a_writable_row_major_array_owned_by_its_block():
    sess, x, y = _session_and_graph()
    out = sess.run(y, {x: np.ones((4, 3), np.float32)})
    assert out.flags.c_contiguous and out.flags.writeable and out.dtype == np.float32
    out[0, 0] = -5.0  # the caller may write into it, as into any numpy array
    np.testing.assert_array_equal(out[1:], np.full((3, 3), 3.0, np.float32))
    assert out.base is not None and type(out.base).__name__ == "_MallocBlock"


def test_fetching_a_feed_through_identity_returns_a_copy():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2, 2])
    y = tf.identity(x)
    a = np.array([[1, 2], [3, 4]], np.float32)
    out = tf.Session().run(y, {x: a})
    out[0, 0] = 9.0
    assert a[0, 0] == 1.0


def test_empty_results_have_their_shape():
    sess, x, y = _session_and_graph()
    out = sess.run(y, {x: np.zeros((0, 3), np.float32)})
    assert out.shape == (0, 3) and out.dtype == np.float32
