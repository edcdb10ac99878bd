"""TF1 programs as the lectures write them (CS231n lecture 8, CS20si, the TF1 MNIST tutorials), run
with ``import tgc as tf`` and checked against numpy written by hand.

Each test here failed before the change it covers: names TF1 programs use that were missing
(tf.gather/embedding_lookup, clipping, moments, Saver, range, mod, ...) and wrong behaviour found by
running such programs (assign of a wrongly shaped value crashed the process
or failed at compile time).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import tgc as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


# ---- gather and embedding_lookup (CS20si word2vec) -----------------------------------------------


def test_word2vec_style_embedding_lookup_loss_and_gradient_match_numpy():
    vocab, dim, batch = 30, 5, 6
    center = tf.placeholder(tf.int32, shape=[None], name="center_words")
    target = tf.placeholder(tf.int32, shape=[None, 1], name="target_words")
    embed_matrix = tf.Variable(
        tf.random_uniform([vocab, dim], -1.0, 1.0, seed=1), name="embed_matrix"
    )
    embed = tf.nn.embedding_lookup(embed_matrix, center, name="embed")
    weights = tf.Variable(tf.truncated_normal([vocab, dim], stddev=0.3, seed=2))
    logits = tf.matmul(embed, weights, transpose_b=True)
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.squeeze(target, 1), logits=logits)
    )
    (grad_embed,) = tf.gradients(loss, [embed_matrix])
    assert embed.shape.as_list() == [None, dim]

    c = np.array([1, 3, 3, 7, 0, 29])  # a repeated word: its gradient rows add up
    t = np.array([[2], [5], [5], [0], [29], [1]])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        E, W = sess.run([embed_matrix, weights])
        e, loss_value, g = sess.run([embed, loss, grad_embed], {center: c, target: t})
    ls = _log_softmax(E[c] @ W.T)
    np.testing.assert_array_equal(e, E[c])
    np.testing.assert_allclose(loss_value, -ls[np.arange(batch), t[:, 0]].mean(), rtol=1e-5)
    dlogits = np.exp(ls)
    dlogits[np.arange(batch), t[:, 0]] -= 1
    want = np.zeros_like(E)
    np.add.at(want, c, dlogits @ W / batch)
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6)


def test_embedding_training_step_updates_only_the_looked_up_rows():
    embed_matrix = tf.Variable(np.arange(12, dtype=np.float32).reshape(4, 3))
    ids = tf.placeholder(tf.int64, [None])
    loss = tf.reduce_sum(tf.nn.embedding_lookup(embed_matrix, ids))
    step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step, {ids: [2, 0, 2]})
        after = sess.run(embed_matrix)
    want = np.arange(12, dtype=np.float32).reshape(4, 3)
    want[2] -= 1.0  # looked up twice: 2 * 0.5
    want[0] -= 0.5
    np.testing.assert_array_equal(after, want)


def test_gather_on_other_axes_and_with_matrix_indices():
    params = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    p = tf.constant(params)
    got = _run(
        [
            tf.gather(p, [2, 0], axis=1),
            tf.gather(p, [[3, 1], [0, 0]], axis=-1),
            tf.gather(p, [[1], [0]]),
        ]
    )
    np.testing.assert_array_equal(got[0], np.take(params, [2, 0], axis=1))
    np.testing.assert_array_equal(got[1], np.take(params, [[3, 1], [0, 0]], axis=2))
    np.testing.assert_array_equal(got[2], params[[[1], [0]]])


def test_gather_gradient_on_axis_1_matches_finite_differences():
    x0 = np.random.default_rng(0).standard_normal((3, 4))
    x = tf.placeholder(tf.float64, [None, 4])
    w = np.random.default_rng(1).standard_normal((3, 3))
    y = tf.reduce_sum(tf.gather(x, [3, 0, 3], axis=1) * w)
    g = _run(tf.gradients(y, [x])[0], {x: x0})
    want = np.zeros_like(x0)
    for col, k in zip([3, 0, 3], range(3)):
        want[:, col] += w[:, k]
    np.testing.assert_allclose(g, want, rtol=1e-12)


def test_gather_index_outside_the_rows_fails_as_tf():
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 2\)"
    ):
        _run(tf.gather(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([1, 5, -1])))


def test_embedding_lookup_max_norm_clips_rows_and_sharded_params_are_refused():
    table = np.array([[3.0, 4.0], [0.3, 0.4]], np.float32)
    got = _run(tf.nn.embedding_lookup(tf.constant(table), [0, 1], max_norm=1.0))
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    with pytest.raises(ValueError, match="2 sharded tensors"):
        tf.nn.embedding_lookup([tf.constant(table), tf.constant(table)], [0])


def test_gather_needs_integer_indices():
    with pytest.raises(ValueError, match="gather indices must be int32 or int64 but got float32"):
        tf.gather(tf.constant([1.0, 2.0]), tf.constant([0.0]))


# ---- clipping ------------------------------------------------------------------------------------


def test_clip_by_value_and_its_gradient():
    x0 = np.array([[-3.0, 0.5, 4.0]], np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.clip_by_value(x, -1.0, 1.0)
    v, g = _run([y, tf.gradients(tf.reduce_sum(y * [[1.0, 2.0, 3.0]]), [x])[0]], {x: x0})
    np.testing.assert_array_equal(v, np.clip(x0, -1, 1))
    np.testing.assert_array_equal(g, [[0.0, 2.0, 0.0]])


def test_clip_by_norm_over_all_and_over_an_axis():
    x0 = np.array([[3.0, 4.0], [0.0, 0.0], [0.3, 0.4]], np.float32)
    x = tf.constant(x0)
    whole, rows = _run([tf.clip_by_norm(x, 2.0), tf.clip_by_norm(x, 1.0, axes=[1])])
    np.testing.assert_allclose(whole, x0 * 2.0 / np.linalg.norm(x0), rtol=1e-6)
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0], [0.3, 0.4]], rtol=1e-6)


def test_clip_by_global_norm_in_a_training_loop_keeps_none_gradients():
    w = tf.Variable([3.0, 4.0])
    unused = tf.Variable(1.0)
    loss = tf.reduce_sum(w * w) / 2.0  # gradient = w, global norm 5
    opt = tf.train.GradientDescentOptimizer(1.0)
    grads_and_vars = opt.compute_gradients(loss, var_list=[w, unused])
    grads, variables = zip(*grads_and_vars)
    clipped, norm = tf.clip_by_global_norm(grads, 2.5)
    assert clipped[1] is None
    train = opt.apply_gradients([(g, v) for g, v in zip(clipped, variables) if g is not None])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        n, _ = sess.run([norm, train])
        after = sess.run(w)
    assert n == pytest.approx(5.0)
    np.testing.assert_allclose(after, [3.0 - 1.5, 4.0 - 2.0], rtol=1e-6)
    assert _run(
        tf.global_norm([tf.constant([1.0, 2.0]), None, tf.constant([[2.0]])])
    ) == pytest.approx(3.0)


# ---- moments and other tf.nn / tf.math names -----------------------------------------------------


def test_moments_match_numpy_and_keep_dims():
    x0 = np.random.default_rng(3).standard_normal((4, 5, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5, 3])
    mean, variance = tf.nn.moments(x, axes=[0, 1])
    km, kv = tf.nn.moments(x, [0], keep_dims=True)
    m, v, m2, v2 = _run([mean, variance, km, kv], {x: x0})
    np.testing.assert_allclose(m, x0.mean(axis=(0, 1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, x0.var(axis=(0, 1)), rtol=1e-5)
    assert m2.shape == (1, 5, 3) and v2.shape == (1, 5, 3)
    np.testing.assert_allclose(v2, x0.var(axis=0, keepdims=True), rtol=1e-5)
    assert mean.name == "moments/mean:0"


def test_batch_norm_written_with_moments_has_finite_difference_gradients():
    x0 = np.random.default_rng(4).standard_normal((6, 3))
    x = tf.placeholder(tf.float64, [None, 3])
    mean, var = tf.nn.moments(x, [0])
    y = tf.reduce_sum((x - mean) / tf.sqrt(var + 1e-3) * x)
    g = _run(tf.gradients(y, [x])[0], {x: x0})

    def f(a):
        return np.sum((a - a.mean(0)) / np.sqrt(a.var(0) + 1e-3) * a)

    want = np.zeros_like(x0)
    for i in np.ndindex(*x0.shape):
        d = np.zeros_like(x0)
        d[i] = 1e-6
        want[i] = (f(x0 + d) - f(x0 - d)) / 2e-6
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_softplus_leaky_relu_l2_normalize_logsumexp():
    x0 = np.array([[-30.0, -1.0, 0.5, 40.0]], np.float32)
    x = tf.constant(x0)
    sp, lr, l2, lse, lse_keep = _run(
        [
            tf.nn.softplus(x),
            tf.nn.leaky_relu(x),
            tf.nn.l2_normalize(x, axis=1),
            tf.reduce_logsumexp(x, axis=1),
            tf.reduce_logsumexp(x, keep_dims=True),
        ]
    )
    np.testing.assert_allclose(
        sp, np.logaddexp(0, x0), rtol=1e-6
    )  # -30 gives exp(-30), not log(1) = 0
    np.testing.assert_allclose(lr, np.where(x0 > 0, x0, 0.2 * x0), rtol=1e-6)
    np.testing.assert_allclose(l2, x0 / np.linalg.norm(x0), rtol=1e-6)
    np.testing.assert_allclose(lse, [np.logaddexp.reduce(x0[0])], rtol=1e-6)
    assert lse_keep.shape == (1, 1)


def test_softplus_gradient_is_the_sigmoid_in_float64():
    x0 = np.array([-50.0, -36.0, -30.0, -1e-3, 0.0, 2.0, 36.0])
    x = tf.constant(x0)
    y = tf.nn.softplus(x)
    v, g = _run([y, tf.gradients(tf.reduce_sum(y), [x])[0]])
    np.testing.assert_allclose(v, np.logaddexp(0, x0), rtol=1e-15)
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-x0)), rtol=1e-15)


def test_mod_range_lin_space_count_nonzero_to_double():
    a = tf.constant([7, -7, 6])
    got = _run(
        [
            tf.mod(a, 3),
            a % -4,
            tf.floormod(tf.constant([7.5, -7.5]), 2.0),
            tf.range(3, 18, 3),
            tf.range(4),
            tf.range(0.0, 1.0, 0.25),
            tf.lin_space(10.0, 13.0, 4),
            tf.count_nonzero(tf.constant([[0, 1], [2, 0]])),
            tf.to_double(a),
        ]
    )
    np.testing.assert_array_equal(got[0], np.array([7, -7, 6]) % 3)
    np.testing.assert_array_equal(got[1], np.array([7, -7, 6]) % -4)
    np.testing.assert_array_equal(got[2], np.array([7.5, -7.5]) % 2.0)
    np.testing.assert_array_equal(got[3], np.arange(3, 18, 3))
    assert got[3].dtype == np.int32 and got[5].dtype == np.float32 and got[6].dtype == np.float32
    np.testing.assert_array_equal(got[4], np.arange(4))
    np.testing.assert_array_equal(got[5], np.arange(0, 1, 0.25))
    np.testing.assert_array_equal(got[6], np.linspace(10, 13, 4))
    assert got[7] == 2 and got[7].dtype == np.int64
    assert got[8].dtype == np.float64


def test_default_transpose_and_split_still_work_now_that_tf_range_exists():
    # array_ops defines tf.range; its own loops must keep Python's range.
    x0 = np.arange(6.0).reshape(2, 3)
    t, (a, b) = _run([tf.transpose(tf.constant(x0)), tf.split(tf.constant(x0), [1, 2], axis=1)])
    np.testing.assert_array_equal(t, x0.T)
    np.testing.assert_array_equal(b, x0[:, 1:])


# ---- assignments ---------------------------------------------------------------------------------


def test_assign_add_of_a_scalar_to_a_vector_is_a_build_time_error():
    # This used to crash the process (segfault) when run.
    v = tf.Variable(tf.zeros([2]))
    with pytest.raises(
        ValueError,
        match=r"Shapes must be equal rank, but are 1 and 0 for 'Variable/AssignAdd' "
        r"\(op: 'AssignAdd'\)",
    ):
        v.assign_add(1.0)


def test_assign_of_a_wrong_shape_is_a_build_time_error():
    v = tf.Variable(tf.zeros([2]), name="v")
    with pytest.raises(
        ValueError,
        match=r"Dimension 0 in both shapes must be equal, but are 2 and 3\. .* for 'v/Assign_1'",
    ):
        tf.assign(v, [1.0, 2.0, 3.0])


def test_cs231n_two_layer_net_with_assign_updates_matches_numpy():
    n, d, h = 8, 10, 4
    x = tf.placeholder(tf.float32, shape=(n, d))
    y = tf.placeholder(tf.float32, shape=(n, d))
    w1 = tf.Variable(tf.random_normal((d, h), seed=3))
    w2 = tf.Variable(tf.random_normal((h, d), seed=4))
    hidden = tf.maximum(tf.matmul(x, w1), 0)
    loss = tf.reduce_mean(tf.reduce_sum((tf.matmul(hidden, w2) - y) ** 2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
    lr = 1e-3
    updates = tf.group(w1.assign(w1 - lr * grad_w1), w2.assign(w2 - lr * grad_w2))
    rng = np.random.default_rng(5)
    xv, yv = (
        rng.standard_normal((n, d)).astype(np.float32),
        rng.standard_normal((n, d)).astype(np.float32),
    )
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([w1, w2])
        for _ in range(3):
            got, _ = sess.run([loss, updates], {x: xv, y: yv})
            hv = np.maximum(xv @ a, 0)
            diff = hv @ b - yv
            np.testing.assert_allclose(got, np.mean(np.sum(diff**2, axis=1)), rtol=1e-4)
            db = hv.T @ (2 * diff / n)
            da = xv.T @ ((2 * diff / n) @ b.T * (hv > 0))
            a, b = a - lr * da, b - lr * db
        np.testing.assert_allclose(sess.run(w1), a, rtol=1e-4, atol=1e-6)


# ---- tf.train.Saver (CS20si lecture 5) -----------------------------------------------------------


def _regression():
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.placeholder(tf.float32, [None, 1])
    global_step = tf.Variable(0, dtype=tf.int32, trainable=False, name="global_step")
    w = tf.get_variable("w", [2, 1], initializer=tf.random_normal_initializer(seed=7))
    b = tf.get_variable("b", [1], initializer=tf.zeros_initializer())
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    train = tf.train.AdamOptimizer(0.1).minimize(loss, global_step=global_step)
    return x, y, global_step, w, b, loss, train


def test_saver_checkpoints_resume_training_exactly(tmp_path):
    x, y, global_step, w, b, loss, train = _regression()
    saver = tf.train.Saver(max_to_keep=2)
    rng = np.random.default_rng(6)
    xs = rng.random((8, 2)).astype(np.float32)
    feed = {x: xs, y: xs @ np.array([[1.0], [2.0]], np.float32)}
    prefix = os.path.join(tmp_path, "ckpt", "model")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(6):
            sess.run(train, feed)
            if (step + 1) % 2 == 0:
                written = saver.save(sess, prefix, global_step=global_step)
        saved = sess.run([w, b])
        next_loss = sess.run([train, loss], feed)[1]
    assert written == prefix + "-6"
    assert sorted(os.listdir(os.path.dirname(prefix))) == [
        "checkpoint",
        "model-4.meta",  # the graph (write_meta_graph=True, TF's default)
        "model-4.npz",
        "model-6.meta",
        "model-6.npz",
    ]

    with (
        tf.Session() as sess
    ):  # a fresh session: nothing initialized, everything restored (Adam's slots too)
        state = tf.train.get_checkpoint_state(os.path.dirname(prefix))
        assert state.model_checkpoint_path == prefix + "-6"
        assert state.all_model_checkpoint_paths == [prefix + "-4", prefix + "-6"]
        assert tf.train.latest_checkpoint(os.path.dirname(prefix)) == prefix + "-6"
        saver.restore(sess, state.model_checkpoint_path)
        assert sess.run(global_step) == 6
        for got, want in zip(sess.run([w, b]), saved):
            np.testing.assert_array_equal(got, want)
        assert sess.run([train, loss], feed)[1] == next_loss


def test_saver_with_a_var_list_dict_and_restore_errors(tmp_path):
    v = tf.Variable([1.0, 2.0], name="v")
    other = tf.Variable(3.0, name="other")
    path = os.path.join(tmp_path, "only_v")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        tf.train.Saver({"renamed": v}).save(sess, path)
    with tf.Session() as sess:
        tf.train.Saver({"renamed": v}).restore(sess, path)
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])
        with pytest.raises(ValueError, match="Key other not found in checkpoint"):
            tf.train.Saver([other]).restore(sess, path)
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            tf.train.Saver([v]).restore(sess, os.path.join(tmp_path, "missing"))
    assert tf.train.get_checkpoint_state(os.path.join(tmp_path, "nowhere")) is None


# ---- tf.cond (CS20si lecture 3's Huber loss) -----------------------------------------------------


def test_cs20si_huber_loss_with_cond_values_and_gradients():
    def huber_loss(labels, predictions, delta=14.0):
        residual = tf.abs(labels - predictions)

        def f1():
            return 0.5 * tf.square(residual)

        def f2():
            return delta * residual - 0.5 * tf.square(delta)

        return tf.cond(residual < delta, f1, f2)

    X = tf.placeholder(tf.float32, name="X")
    Y = tf.placeholder(tf.float32, name="Y")
    w = tf.Variable(0.5, name="weights")
    b = tf.Variable(1.0, name="bias")
    loss = huber_loss(Y, X * w + b)
    grads = tf.gradients(loss, [w, b])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for x0, y0 in [(2.0, 5.0), (2.0, 40.0)]:
            r = y0 - (x0 * 0.5 + 1.0)
            got = sess.run([loss] + grads, {X: x0, Y: y0})
            if abs(r) < 14.0:
                want = [0.5 * r * r, -r * x0, -r]
            else:
                want = [14.0 * abs(r) - 98.0, -14.0 * np.sign(r) * x0, -14.0 * np.sign(r)]
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_cond_nested_results_and_refused_branches():
    pred = tf.placeholder(tf.bool, [])
    out = tf.cond(
        pred,
        lambda: (tf.constant(1), [tf.constant([2.0, 3.0])]),
        lambda: (tf.constant(4), [tf.constant([5.0, 6.0])]),
    )
    with tf.Session() as sess:
        first, (second,) = sess.run(out, {pred: False})
        assert first == 4
        np.testing.assert_array_equal(second, [5.0, 6.0])
        assert sess.run(out[0], {pred: True}) == 1
    v = tf.Variable(1.0, name="v")  # only the taken branch runs, so it may assign (TF1: 2.0, 2.0)
    assigned = tf.cond(tf.constant(True), lambda: v.assign(2.0), lambda: v.value())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(assigned) == 2.0 and sess.run(v) == 2.0
    with pytest.raises(ValueError, match="pred must be a scalar bool"):
        tf.cond(tf.constant([True, False]), lambda: 1.0, lambda: 2.0)
