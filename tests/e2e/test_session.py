"""Session semantics: pruning, feeds, fetch structures, variables, errors, the compile cache."""

import collections

import numpy as np
import pytest

import tgc as tf


def _linear_model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="w")
    y = tf.matmul(x, w, name="scores")
    return x, w, y


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


def test_fetching_a_variable_needs_no_feeds():
    x, w, y = _linear_model()
    with tf.Session() as sess:
        sess.run(w.initializer)
        np.testing.assert_allclose(sess.run(w), np.arange(6).reshape(3, 2) / 10, rtol=1e-6)


def test_only_what_fetches_need_runs():
    a = tf.placeholder(tf.float32, [2], name="a")
    b = tf.placeholder(tf.float32, [2], name="b")
    c = a * 2.0
    _ = b + 1.0  # needs b, which is never fed
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(c, {a: [1.0, 2.0]}), [2.0, 4.0])


def test_feeding_an_intermediate_tensor_cuts_its_inputs():
    x = tf.placeholder(tf.float32, [2], name="x")
    h = tf.exp(x, name="h")
    y = h * 3.0
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {h: [1.0, 2.0]}), [3.0, 6.0])


def test_missing_feed_names_the_placeholder():
    x, w, y = _linear_model()
    with tf.Session() as sess:
        sess.run(w.initializer)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"placeholder tensor 'x' with dtype float32 and shape \[\?,3\]",
        ):
            sess.run(y)


def test_feed_of_wrong_shape_names_tensor_and_both_shapes():
    x, w, y = _linear_model()
    with tf.Session() as sess:
        with pytest.raises(
            ValueError, match=r"shape \(2, 4\) for Tensor 'x:0', which has shape \(\?, 3\)"
        ):
            sess.run(y, {x: np.zeros((2, 4), np.float32)})


def test_feed_of_wrong_dtype_is_rejected():
    n = tf.placeholder(tf.int32, [2], name="n")
    with tf.Session() as sess:
        with pytest.raises(
            ValueError, match=r"dtype float64 for Tensor 'n:0', which has dtype int32"
        ):
            sess.run(n + 1, {n: np.array([1.5, 2.5])})


def test_fetch_structures_names_and_ops():
    x, w, y = _linear_model()
    Pair = collections.namedtuple("Pair", "scores weights")
    a = np.ones((2, 3), np.float32)
    with tf.Session() as sess:
        assert sess.run(w.initializer) is None
        out = sess.run(
            {"y": y, "both": [y, (w,)], "nt": Pair(y, w), "by_name": "scores:0"}, {"x:0": a}
        )
    ref = a @ (np.arange(6).reshape(3, 2) / 10)
    np.testing.assert_allclose(out["y"], ref, rtol=1e-6)
    np.testing.assert_allclose(out["both"][1][0], np.arange(6).reshape(3, 2) / 10, rtol=1e-6)
    assert isinstance(out["nt"], Pair)
    np.testing.assert_allclose(out["by_name"], ref, rtol=1e-6)


def test_unknown_batch_dim_compiles_once_and_cache_hits():
    x, w, y = _linear_model()
    with tf.Session() as sess:
        sess.run(w.initializer)
        before = sess.compile_count
        for batch in (1, 7, 64):
            out = sess.run(y, {x: np.ones((batch, 3), np.float32)})
            assert out.shape == (batch, 2)
        assert sess.compile_count == before + 1


def test_run_time_shape_mismatch_between_unknown_dims_is_an_error():
    a = tf.placeholder(tf.float32, [None], name="a")
    b = tf.placeholder(tf.float32, [None], name="b")
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(a + b, {a: [1.0], b: [2.0]}), [3.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="not broadcast-compatible"):
            sess.run(a + b, {a: [1.0, 2.0], b: [1.0, 2.0, 3.0]})


def test_build_time_shape_error_names_op_and_both_shapes():
    a = tf.placeholder(tf.float32, [2, 3])
    b = tf.placeholder(tf.float32, [4, 5])
    with pytest.raises(
        ValueError, match=r"for 'scores' \(op: 'MatMul'\) with input shapes: \[2,3\], \[4,5\]"
    ):
        tf.matmul(a, b, name="scores")


def test_each_session_has_its_own_variables():
    v = tf.Variable(1.0, name="v")
    inc = tf.assign_add(v, 1.0)
    s1, s2 = tf.Session(), tf.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    s1.run(inc)
    s1.run(inc)
    assert s1.run(v) == 3.0 and s2.run(v) == 1.0


def test_uninitialized_variable_is_a_failed_precondition():
    v = tf.Variable(1.0, name="v")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value v"):
            sess.run(v)


def test_read_after_assign_under_control_dependency_sees_new_value():
    v = tf.Variable(1.0, name="v")
    assign = v.assign(5.0)
    with tf.control_dependencies([assign]):
        after = v.read_value() * 2.0
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(after) == 10.0


def test_tensor_names_and_shapes():
    x, w, y = _linear_model()
    with tf.name_scope("layer"):
        z = tf.add(y, 1.0, name="out")
    assert y.name == "scores:0" and z.name == "layer/out:0"
    assert y.shape.as_list() == [None, 2] and str(y.get_shape()) == "(?, 2)"
    assert w.name == "w:0" and w.initializer.name == "w/Assign"


def test_unknown_rank_placeholder_takes_rank_of_feed():
    p = tf.placeholder(tf.float32, name="p")
    with tf.Session() as sess:
        assert sess.run(p * 2.0, {p: 3.0}) == 6.0
        np.testing.assert_allclose(sess.run(p * 2.0, {p: [[1.0, 2.0]]}), [[2.0, 4.0]])


def test_fetched_arrays_are_independent_and_feeds_untouched():
    x = tf.placeholder(tf.float32, [4], name="x")
    y = tf.exp(x) + 1.0
    z = tf.reshape(y, [2, 2])
    a = np.ones(4, np.float32)
    with tf.Session() as sess:
        got_y, got_z, got_x = sess.run([y, z, x], {x: a})
        got_y[0] = 100.0
        got_x[1] = -5.0
        np.testing.assert_allclose(got_z, np.full((2, 2), np.e + 1.0), rtol=1e-6)
        np.testing.assert_array_equal(a, np.ones(4))
        again = sess.run(y, {x: a})
    np.testing.assert_allclose(again, np.full(4, np.e + 1.0), rtol=1e-6)


def test_fast_path_checks_each_new_feed_shape_and_takes_views_and_read_only_arrays():
    x, w, y = _linear_model()
    weights = np.arange(6).reshape(3, 2) / 10
    with tf.Session() as sess:
        sess.run(w.initializer)
        good = np.ones((4, 3), np.float32)
        np.testing.assert_allclose(sess.run(y, {x: good}), good @ weights, rtol=1e-6)
        # After a shape that passed, a wrong one is still refused with TF's
        # message, and nothing sticks.
        with pytest.raises(
            ValueError, match=r"shape \(4, 5\) for Tensor 'x:0', which has shape \(\?, 3\)"
        ):
            sess.run(y, {x: np.ones((4, 5), np.float32)})
        np.testing.assert_allclose(sess.run(y, {x: good}), good @ weights, rtol=1e-6)
        # A transposed view (not row-major) and a read-only array give the same numbers as copies.
        data = np.arange(15, dtype=np.float32).reshape(3, 5)
        np.testing.assert_allclose(sess.run(y, {x: data.T}), data.T @ weights, rtol=1e-6)
        frozen = np.ascontiguousarray(data.T)
        frozen.flags.writeable = False
        np.testing.assert_allclose(sess.run(y, {x: frozen}), data.T @ weights, rtol=1e-6)
        np.testing.assert_allclose(sess.run(y, {x: np.ones((0, 3), np.float32)}), np.zeros((0, 2)))
