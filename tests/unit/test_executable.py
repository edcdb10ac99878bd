"""The runtime's calling convention (tgc/runtime/executable.py): results are arrays over the buffers
the compiled code malloc'ed, alive as long as any array uses them, and never alias a caller's array.

Every test runs on both call paths: the C extension (tgc.runtime._fastcall, skipped where it was not
built) and the pure-Python one. Executables pick their path when they are built, so each test
compiles its graph after the fixture chose.
"""

import gc
import threading

import ml_dtypes
import numpy as np
import pytest

import tgc as tf
from tgc.runtime import executable

BASES = {"c": "PyCapsule", "python": "_MallocBlock"}


@pytest.fixture(params=["c", "python"], autouse=True)
def call_path(request, monkeypatch):
    if request.param == "c" and executable._fastcall is None:
        pytest.skip("tgc.runtime._fastcall was not built (no C compiler at install)")
    if request.param == "python":
        monkeypatch.setattr(executable, "_fastcall", None)
    return request.param


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


def test_result_is_a_writable_row_major_array_owned_by_its_block(call_path):
    sess, x, y = _session_and_graph()
    out = sess.run(y, {x: np.ones((4, 3), np.float32)})
    assert out.flags.c_contiguous and out.flags.writeable and out.dtype == np.float32
    out[0, 0] = -5.0  # the caller may write into it, as into any numpy array
    np.testing.assert_array_equal(out[1:], np.full((3, 3), 3.0, np.float32))
    assert out.base is not None and type(out.base).__name__ == BASES[call_path]


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


def test_constant_results_are_copies_and_scalars_and_other_dtypes_pass_through():
    tf.reset_default_graph()
    c = tf.constant(np.array([1.5, 2.5], np.float32))
    n = tf.placeholder(tf.int64, [])
    flags = tf.placeholder(tf.bool, [3])
    half = tf.placeholder(tf.bfloat16, [2])
    with tf.Session() as sess:
        first = sess.run(c)
        first[0] = -1.0  # the constant global is never handed out itself
        np.testing.assert_array_equal(sess.run(c), [1.5, 2.5])
        assert sess.run(n * 3, {n: np.int64(7)}) == 21
        np.testing.assert_array_equal(
            sess.run(tf.logical_not(flags), {flags: np.array([True, False, True])}),
            [False, True, False],
        )
        got = sess.run(half * 2, {half: np.array([1.5, -3], ml_dtypes.bfloat16)})
        assert got.dtype == ml_dtypes.bfloat16
        np.testing.assert_array_equal(got.astype(np.float32), [3.0, -6.0])


def test_inputs_the_fast_path_leaves_to_python_still_compute():
    sess, x, y = _session_and_graph()
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(sess.run(y, {x: data.T}), data.T * 2 + 1)  # not row-major
    frozen = np.ones((2, 3), np.float32)
    frozen.flags.writeable = False
    np.testing.assert_array_equal(sess.run(y, {x: frozen}), np.full((2, 3), 3.0))
    np.testing.assert_array_equal(sess.run(y, {x: [[1, 2, 3]]}), [[3, 5, 7]])  # a list, converted


def test_a_variable_updated_in_place_comes_back_as_the_same_array():
    tf.reset_default_graph()
    w = tf.Variable(np.ones((3, 2), np.float32))
    a, g = tf.placeholder(tf.float32, [None, 3]), tf.placeholder(tf.float32, [None, 2])
    step = tf.assign_sub(w, 0.125 * tf.matmul(a, g, transpose_a=True))  # an SGD step: GEMM into w
    with tf.Session() as sess:
        sess.run(w.initializer)
        held = sess._variables[w._name]
        fetched = sess.run(step, {a: np.ones((2, 3), np.float32), g: np.ones((2, 2), np.float32)})
        assert sess._variables[w._name] is held and fetched is not held
        np.testing.assert_array_equal(held, np.full((3, 2), 0.75))
        np.testing.assert_array_equal(fetched, np.full((3, 2), 0.75))


def test_threads_running_one_compiled_function_at_once_get_their_own_results():
    sess, x, y = _session_and_graph()
    sess.run(y, {x: np.zeros((1, 3), np.float32)})  # compiled before the threads start
    failures = []

    def work(k):
        data = np.full((k + 1, 3), float(k), np.float32)
        for _ in range(200):
            out = sess.run(y, {x: data})
            if out.shape != data.shape or not np.array_equal(out, data * 2 + 1):
                failures.append(k)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
