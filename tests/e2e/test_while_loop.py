"""`tf.while_loop` compiled as one loop (tgc.while -> scf.while), checked against numpy and against
TensorFlow's own numbers.

``TF_VALUES`` are the output of

    /tmp/tfenv/bin/python tests/oracle/while_loop_oracle.py

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled) in a virtualenv of its
own (``python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0``); the
script builds the same programs. Integer programs are compared exactly; float32 ones at rtol 1e-6
(the same float32 operations in the same order on both sides; the matrix power's 7 products of
2x2 matrices round alike).
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
from tgc.frontend.control import while_loop

# Printed by tests/oracle/while_loop_oracle.py under TensorFlow 2.21.0.
TF_VALUES = {
    "count": 10,
    "sumsq": (6, 55.0),
    "matpow": np.array([[0.03051758, -0.39672852], [0.09918213, -0.06866455]], np.float32),
    "maxit": (4, 81.0),
    "capture": np.array([1.875, 3.75, -7.5], np.float32),
    "nested": (5, 10),
    "struct": (15.0, [16.0, 0]),
    "collatz": (1, 111),
    "invariants": ((2048, 2), 4096.0),
    # d loss / d (W, b, h0) of h <- tanh(W h + b) five times, loss = sum(h * h)
    "rnn_grads": (
        np.array(
            [
                [0.17341208, -0.03143227, -0.17612344],
                [-0.21345621, 0.080328, 0.15048377],
                [0.20373487, -0.16175482, 0.11386789],
            ],
            np.float32,
        ),
        np.array([0.609542, -0.52987504, -0.0301853], np.float32),
        np.array([-0.04161703, 0.06180909, 0.10102119], np.float32),
        np.float32(0.056759935),
    ),
}
RNN_W = np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [-0.2, 0.3, 0.7]], np.float32)
RNN_B = np.array([0.1, -0.2, 0.05], np.float32)
RNN_H0 = np.array([1.0, -0.5, 0.25], np.float32)
MATRIX = np.array([[0.5, 1.0], [-0.25, 0.75]], np.float32)
CAPTURE_FEED = np.array([1.0, 2.0, -4.0], np.float32)


def run(fetches, feed_dict=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed_dict)


def test_counting_loop_as_tf_docs():
    i = tf.constant(0)
    r = while_loop(lambda i: tf.less(i, 10), lambda i: tf.add(i, 1), [i])
    assert isinstance(r, tf.Tensor)  # one loop variable in a list: TF returns the tensor
    assert run(r) == TF_VALUES["count"]


def test_sum_of_squares_int_and_float_vars():
    i, acc = tf.constant(1), tf.constant(0.0)
    out = while_loop(
        lambda i, a: i <= 5, lambda i, a: (i + 1, a + tf.cast(i * i, tf.float32)), [i, acc]
    )
    n, total = run(out)
    assert (n, total) == TF_VALUES["sumsq"]
    assert total == sum(k * k for k in range(1, 6))
    assert out[0].dtype == tf.int32 and out[1].dtype == tf.float32


def test_matrix_power():
    m, k = tf.constant(MATRIX), tf.constant(0)
    _, p = while_loop(
        lambda k, p: k < 7,
        lambda k, p: (k + 1, tf.matmul(p, m)),
        [k, tf.constant(np.eye(2, dtype=np.float32))],
    )
    got = run(p)
    np.testing.assert_allclose(got, TF_VALUES["matpow"], rtol=1e-6)
    expected = np.linalg.matrix_power(MATRIX.astype(np.float64), 7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)  # float32 vs float64


def test_maximum_iterations_stops_first():
    i, x = tf.constant(0), tf.constant(1.0)
    out = while_loop(
        lambda i, x: x < 1000.0, lambda i, x: [i + 1, x * 3.0], [i, x], maximum_iterations=4
    )
    assert tuple(run(out)) == TF_VALUES["maxit"]
    assert isinstance(out, list) and len(out) == 2  # the counter is not returned


def test_maximum_iterations_as_tensor_never_reached():
    limit = tf.placeholder(tf.int32, [])
    r = while_loop(lambda i: i < 5, lambda i: i + 1, [tf.constant(0)], maximum_iterations=limit)
    assert run(r, {limit: 100}) == 5
    assert run(r, {limit: 2}) == 2


def test_captured_placeholder_fed():
    p = tf.placeholder(tf.float32, [3])
    _, x = while_loop(
        lambda i, x: i < 4, lambda i, x: (i + 1, x * 0.5 + p), [tf.constant(0), tf.zeros([3])]
    )
    got = run(x, {p: CAPTURE_FEED})
    np.testing.assert_allclose(got, TF_VALUES["capture"], rtol=1e-6)
    expected = np.zeros(3)
    for _ in range(4):
        expected = expected * 0.5 + CAPTURE_FEED
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_same_graph_runs_with_other_feeds():
    """One compiled loop: the trip count comes from a feed at run time."""
    n = tf.placeholder(tf.int32, [])
    _, fact = while_loop(
        lambda k, f: k <= n,
        lambda k, f: (k + 1, f * tf.cast(k, tf.float64)),
        [tf.constant(1), tf.constant(1.0, tf.float64)],
    )
    with tf.Session() as sess:
        for value in (0, 1, 5, 10):
            assert sess.run(fact, {n: value}) == float(np.prod(np.arange(1, value + 1)))


def test_nested_loops():
    def outer_body(i, total):
        _, inner = while_loop(
            lambda j, s: j < i, lambda j, s: (j + 1, s + j), [tf.constant(0), tf.constant(0)]
        )
        return i + 1, total + inner

    out = while_loop(lambda i, t: i < 5, outer_body, [tf.constant(0), tf.constant(0)])
    assert tuple(run(out)) == TF_VALUES["nested"]
    assert TF_VALUES["nested"][1] == sum(j for i in range(5) for j in range(i))


def test_nested_structure_of_loop_vars():
    x = (tf.constant(1.0), [tf.constant(2.0), tf.constant(3)])

    def body(a, bc):
        b, c = bc
        return (a + b, [b * 2.0, c - 1])

    out = while_loop(lambda a, bc: bc[1] > 0, body, x)
    assert isinstance(out, tuple) and isinstance(out[1], list)
    a, (b, c) = run(out)
    assert (a, [b, c]) == (TF_VALUES["struct"][0], TF_VALUES["struct"][1])


def test_int64_collatz():
    n, steps = tf.constant(27, tf.int64), tf.constant(0)

    def body(n, steps):
        return tf.where(tf.equal(n % 2, 0), n // 2, 3 * n + 1), steps + 1

    out = while_loop(lambda n, s: n > 1, body, [n, steps])
    assert tuple(run(out)) == TF_VALUES["collatz"]


def test_single_tensor_loop_var():
    r = while_loop(lambda x: tf.reduce_sum(x) < 100.0, lambda x: x * 2.0, tf.ones([2, 2]))
    np.testing.assert_array_equal(run(r), np.full((2, 2), 32.0, np.float32))


def test_loop_is_one_scf_while_in_the_ir():
    """Not unrolled: the tgc IR has one tgc.while, the core IR one scf.while."""
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.driver import pipelines
    from tgc.graph.emit import emit_function
    from tgc.graph.prune import prune

    i = tf.constant(0)
    r = while_loop(lambda i: i < 1000, lambda i: i + 3, [i])
    ops = prune([r.op], set())
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        emit_function(module, ops, [], [r])
        text = str(module)
        assert text.count('"tgc.while"') == 1 and "tgc.loops" in text
        (pipelines.graph_and_placement(None) + pipelines.core_lowering()).run(module)
        core = str(module)
    assert core.count("scf.while") == 1 and '"tgc.' not in core and "tgc.loops" not in core
    assert run(r) == 1002


def test_jit_function_with_loop():
    @tf.jit
    def power_sum(x, n):
        _, acc, _ = while_loop(
            lambda k, acc, p: k < n,
            lambda k, acc, p: (k + 1, acc + p, p * x),
            [tf.constant(0), tf.zeros_like(x), tf.ones_like(x)],
        )
        return acc

    x = np.array([0.5, 2.0, -1.0], np.float32)
    np.testing.assert_allclose(
        power_sum(x, np.int32(6)), sum(x.astype(np.float64) ** k for k in range(6)), rtol=1e-6
    )


def test_shape_invariants_let_a_variable_grow_as_tf_docs():
    i0, m0 = tf.constant(0), tf.ones([2, 2])
    _, m = while_loop(
        lambda i, m: i < 10,
        lambda i, m: [i + 1, tf.concat([m, m], axis=0)],
        loop_vars=[i0, m0],
        shape_invariants=[i0.get_shape(), tf.TensorShape([None, 2])],
    )
    assert m.shape.as_list() == [None, 2]  # TF: (?, 2)
    got = run(m)
    # TF 2.21: shape [2048, 2], sum 4096.0
    assert got.shape == TF_VALUES["invariants"][0] and got.sum() == TF_VALUES["invariants"][1]
    np.testing.assert_array_equal(got, np.ones((2048, 2), np.float32))


def test_a_fed_variable_length_tensor_shrinks_in_the_loop():
    m0 = tf.placeholder(tf.float32, [None, 2])
    r = while_loop(lambda m: tf.shape(m)[0] > 1, lambda m: m[1:] * 2.0, [m0])
    feed = np.arange(10, dtype=np.float32).reshape(5, 2)
    np.testing.assert_array_equal(run(r, {m0: feed}), feed[4:] * 16.0)


# ---- gradients through the loop ------------------------------------------------------------------


def _rnn_numpy(w, b, h0, steps=5):
    """loss and its gradients by hand, float64: the forward states kept, then backprop."""
    hs = [h0]
    for _ in range(steps):
        hs.append(np.tanh(w @ hs[-1] + b))
    loss = np.sum(hs[-1] ** 2)
    dh, dw, db = 2 * hs[-1], np.zeros_like(w), np.zeros_like(b)
    for k in reversed(range(steps)):
        da = dh * (1 - hs[k + 1] ** 2)
        dw += np.outer(da, hs[k])
        db += da
        dh = w.T @ da
    return loss, dw, db, dh


def test_gradients_through_a_tanh_recurrence_as_tf_and_by_hand():
    w, b, h0 = tf.constant(RNN_W), tf.constant(RNN_B), tf.constant(RNN_H0)

    def body(i, h):
        return i + 1, tf.tanh(tf.squeeze(tf.matmul(w, tf.expand_dims(h, 1)), [1]) + b)

    _, h = while_loop(lambda i, h: i < 5, body, [tf.constant(0), h0])
    loss = tf.reduce_sum(h * h)
    got = run(tf.gradients(loss, [w, b, h0]) + [loss])
    # float32 on both sides, summed in different orders over 5 steps: rtol 1e-5, atol 1e-7.
    for g, expected in zip(got, TF_VALUES["rnn_grads"]):
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-7)
    by_hand = _rnn_numpy(*(a.astype(np.float64) for a in (RNN_W, RNN_B, RNN_H0)))
    for g, expected in zip(got, (by_hand[1], by_hand[2], by_hand[3], by_hand[0])):
        np.testing.assert_allclose(g, expected, rtol=2e-5, atol=1e-6)  # float32 vs float64


def test_gradient_of_a_power_loop_wrt_captured_placeholder_and_init():
    x = tf.placeholder(tf.float64, [])
    y0 = tf.placeholder(tf.float64, [])
    _, y = while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * x), [tf.constant(0), y0])
    gx, gy0 = tf.gradients(y, [x, y0])
    with tf.Session() as sess:
        values = sess.run([y, gx, gy0], {x: 2.0, y0: 1.5})
    assert values == [12.0, 1.5 * 3 * 4.0, 8.0]  # y = y0 x^3


def test_gradient_when_the_loop_runs_zero_times_is_the_identity():
    x = tf.placeholder(tf.float32, [2])
    n = tf.placeholder(tf.int32, [])
    _, y = while_loop(lambda i, y: i < n, lambda i, y: (i + 1, tf.sin(y)), [tf.constant(0), x])
    (g,) = tf.gradients(tf.reduce_sum(y), [x])
    feed = np.array([0.3, -1.2], np.float32)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {x: feed, n: 0}), np.ones(2, np.float32))
        # two steps: d sin(sin(x)) = cos(sin(x)) cos(x)
        expected = np.cos(np.sin(feed.astype(np.float64))) * np.cos(feed.astype(np.float64))
        np.testing.assert_allclose(sess.run(g, {x: feed, n: 2}), expected, rtol=1e-6)


def test_gradient_through_nested_loops_and_maximum_iterations():
    x = tf.placeholder(tf.float64, [])

    def outer_body(i, y):
        _, z = while_loop(lambda j, z: j < 2, lambda j, z: (j + 1, z * x), [tf.constant(0), y])
        return i + 1, z + x  # y <- y x^2 + x

    _, y = while_loop(
        lambda i, y: i < 10,
        outer_body,
        [tf.constant(0), tf.constant(1.0, tf.float64)],
        maximum_iterations=2,
    )
    (g,) = tf.gradients(y, [x])
    with tf.Session() as sess:
        value, grad = sess.run([y, g], {x: 3.0})
    # y1 = x^2 + x, y2 = y1 x^2 + x = x^4 + x^3 + x; dy2/dx = 4x^3 + 3x^2 + 1
    assert value == 3.0**4 + 3.0**3 + 3.0
    assert grad == 4 * 27.0 + 3 * 9.0 + 1


def test_gradient_is_trained_through_by_an_optimizer():
    """A Variable captured by the loop (its value from before the loop) gets its gradient."""
    w = tf.Variable(0.5, dtype=tf.float64)
    _, y = while_loop(
        lambda i, y: i < 4,
        lambda i, y: (i + 1, y * w),
        [tf.constant(0), tf.constant(2.0, tf.float64)],
    )
    loss = tf.square(y - 1.0)  # minimum at w^4 = 1/2, where d2loss/dw2 = 2 (8 w^3)^2 ~ 38
    train = tf.train.GradientDescentOptimizer(0.02).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(200):
            sess.run(train)
        assert sess.run(loss) < 1e-8 < first
        np.testing.assert_allclose(sess.run(w), 0.5**0.25, rtol=1e-4)


def test_gradient_through_a_loop_whose_variable_grows():
    m0 = tf.placeholder(tf.float32, [2, 2])
    _, m = while_loop(
        lambda i, m: i < 3,
        lambda i, m: [i + 1, tf.concat([m, m * 2.0], axis=0)],
        loop_vars=[tf.constant(0), m0],
        shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])],
    )
    (g,) = tf.gradients(tf.reduce_sum(m * m), [m0])
    feed = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    # after 3 steps m holds m0 * 2^k for k = 0..3, C(3, k) times each: d sum(m^2) / dm0 =
    # 2 m0 sum_k C(3, k) 4^k = 2 m0 5^3
    np.testing.assert_array_equal(run(g, {m0: feed}), 2 * feed * 125.0)


# ---- what is refused, and how --------------------------------------------------------------------


def test_shape_change_is_a_value_error_as_tf():
    with pytest.raises(ValueError) as exc:
        while_loop(
            lambda x: tf.reduce_sum(x) < 10.0, lambda x: tf.concat([x, x], 0), [tf.ones([1])]
        )
    message = str(exc.value)
    # TF 2.21: "Input tensor 'ones:0' enters the loop with shape (1,), but has shape (2,) after
    # one iteration. To allow the shape to vary across iterations, use the `shape_invariants` ..."
    assert "enters the loop with shape (1,), but has shape (2,) after one iteration" in message
    assert "ones" in message


def test_dtype_change_refused():
    with pytest.raises(ValueError, match="enters the loop with dtype int32, but has dtype float32"):
        while_loop(lambda i: i < 3, lambda i: tf.cast(i, tf.float32), [tf.constant(0)])


def test_incompatible_shape_invariant_is_tfs_value_error():
    # TF 2.21: "The shape invariant specified for ones:0 is not compatible with the initial shape of
    # the loop variable. It enters the loop with shape (2,), but the specified shape invariant is
    # (3,)."
    with pytest.raises(
        ValueError,
        match=r"not compatible with the initial shape of the loop variable. It enters the loop "
        r"with shape \(2,\), but the specified shape invariant is \(3,\)",
    ):
        while_loop(
            lambda x: True, lambda x: x, [tf.ones([2])], shape_invariants=[tf.TensorShape([3])]
        )


def test_cond_must_be_scalar_bool():
    with pytest.raises(ValueError, match="must return a scalar bool tensor"):
        while_loop(lambda x: x, lambda x: x + 1.0, [tf.constant(0.0)])


def test_variables_assigned_in_the_body_as_tf():
    v, total = tf.Variable(1.0), tf.Variable(0.0)

    def body(i):
        with tf.control_dependencies([v.assign(v * 2.0)]):
            with tf.control_dependencies([total.assign_add(v.read_value())]):
                return i + 1

    r = while_loop(lambda i: i < 4, body, [tf.constant(0)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(r), sess.run([v, total])
        second = sess.run(r), sess.run([v, total])
    # TF 2.21: (4, [16.0, 30.0]) then (4, [256.0, 510.0]): each run continues from the last
    assert first == (4, [16.0, 30.0]) and second == (4, [256.0, 510.0])


def test_a_nested_loop_counts_into_a_variable():
    count = tf.Variable(0)

    def outer(i):
        def inner(j):
            with tf.control_dependencies([count.assign_add(1)]):
                return j + 1

        j = while_loop(lambda j: j < i, inner, [tf.constant(0)])
        return i + 1 + 0 * j

    r = while_loop(lambda i: i < 5, outer, [tf.constant(0)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(r) == 5 and sess.run(count) == sum(range(5))


def test_variable_assigned_in_cond_refused():
    v = tf.Variable(1.0)
    with pytest.raises(
        ValueError, match="assigns Variable 'Variable' in the cond of tf.while_loop"
    ):
        while_loop(lambda x: v.assign_add(1.0) < 3.0, lambda x: x + 1.0, [tf.constant(0.0)])


def test_variable_read_in_body_reads_its_value_from_before_the_loop():
    v = tf.Variable(3.0)
    r = while_loop(lambda x: x < 50.0, lambda x: x * v.read_value(), [tf.constant(1.0)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(r) == 81.0
        sess.run(v.assign(2.0))
        assert sess.run(r) == 64.0


def test_variable_value_captured_from_before_the_loop():
    v = tf.Variable(2.0)
    r = while_loop(lambda x: x < 50.0, lambda x: x * v, [tf.constant(1.0)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(r) == 64.0


# ---- other targets -------------------------------------------------------------------------------


GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


def _loop_on_gpu_request(graph):
    with graph.as_default():
        x = tf.placeholder(tf.float32, [4], name="x")
        with tf.device("/gpu:0"):
            y = tf.exp(x, name="y")
            _, r = while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0), [0, y], name="w")
    return x, y, r


def test_loop_stays_on_the_cpu_with_soft_placement():
    from tgc.dialect import targets

    graph = tf.Graph()
    with targets.selected("nvptx-emulated"):
        x, y, r = _loop_on_gpu_request(graph)
        config = tf.ConfigProto(device_count={"GPU": 1}, allow_soft_placement=True)
        with graph.as_default(), tf.Session(config=config) as sess:
            got = sess.run(r, {x: np.zeros(4, np.float32)})
            (run_,) = [c for c in sess._cache.values() if c.placement]
    np.testing.assert_array_equal(got, np.full(4, 8.0, np.float32))
    placed = {name: device for name, _, device in run_.placement}
    assert placed["w"] == CPU0


def test_loop_on_the_gpu_without_soft_placement_is_a_placement_error():
    from tgc.dialect import targets

    graph = tf.Graph()
    with targets.selected("nvptx-emulated"):
        x, _, r = _loop_on_gpu_request(graph)
        config = tf.ConfigProto(device_count={"GPU": 1})
        with graph.as_default(), tf.Session(config=config) as sess:
            with pytest.raises(
                tf.errors.CompileError,
                match=r"'w'.*cannot place 'tgc.while' on requested device '/device:GPU:0'",
            ):
                sess.run(r, {x: np.zeros(4, np.float32)})


def test_no_accelerator_target_supports_the_loop():
    from tgc.dialect import targets

    for name in ("nvptx", "accel"):
        assert not targets.get(name).can_run("while"), name
    assert targets.get("cpu").can_run("while")


def test_back_prop_false_stops_the_gradient():
    x = tf.placeholder(tf.float32, [])
    y = while_loop(lambda y: y < 100.0, lambda y: y * x, [x], back_prop=False)
    (g,) = tf.gradients(y + x, [x])
    assert run(g, {x: 3.0}) == 1.0  # only the direct term


# ---- tf.foldl, tf.foldr, tf.scan, tf.map_fn (tgc/frontend/functional_ops.py) ---------------------


def test_folds_scans_and_maps_as_tf():
    from tgc.frontend.functional_ops import foldl, foldr, map_fn, scan

    e = tf.constant(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    m = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    mapped = map_fn(lambda r: tf.reduce_sum(r) * r, m)
    got = run(
        [
            foldl(lambda a, x: a + x, e),
            foldl(lambda a, x: a * 2.0 + x, e, initializer=tf.constant(1.0)),
            foldr(lambda a, x: a * 2.0 + x, e),
            foldr(lambda a, x: a * 2.0 + x, e, initializer=tf.constant(1.0)),
            scan(lambda a, x: a + x, e),
            scan(lambda a, x: a * x, e, initializer=tf.constant(1.0)),
            map_fn(lambda x: x * x, e),
            mapped,
            tf.gradients(tf.reduce_sum(mapped * mapped), [m])[0],
        ]
    )
    # TF 2.21 (tests/oracle/while_loop_oracle.py, case 14); small integers: exact in float32
    expected = [
        10.0,
        42.0,
        49.0,
        65.0,
        [1.0, 3.0, 6.0, 10.0],
        [1.0, 2.0, 6.0, 24.0],
        [1.0, 4.0, 9.0, 16.0],
        [[0.0, 1.0], [10.0, 15.0], [36.0, 45.0]],
        [[2.0, 4.0], [230.0, 280.0], [1386.0, 1548.0]],
    ]
    for g, want in zip(got, expected):
        np.testing.assert_array_equal(g, np.array(want, np.float32))


def test_map_fn_over_a_fed_batch_of_any_length():
    from tgc.frontend.functional_ops import map_fn

    x = tf.placeholder(tf.float32, [None, 3])
    y = map_fn(lambda row: tf.reduce_max(row) - row, x)
    with tf.Session() as sess:
        for n in (0, 1, 4):
            feed = np.arange(3 * n, dtype=np.float32).reshape(n, 3) % 5
            np.testing.assert_array_equal(
                sess.run(y, {x: feed}), feed.max(axis=1, keepdims=True) - feed
            )


def test_tgc_grad_of_a_function_with_a_loop_matches_finite_differences():
    def f(x):
        _, y = while_loop(
            lambda i, y: i < 3, lambda i, y: (i + 1, tf.sin(y) * x), [tf.constant(0), x]
        )
        return tf.reduce_sum(y)

    def f64(x):
        y = x
        for _ in range(3):
            y = np.sin(y) * x
        return y.sum()

    x = np.array([0.5, 1.5], np.float32)
    h, x64 = 1e-4, x.astype(np.float64)
    numeric = [(f64(x64 + h * d) - f64(x64 - h * d)) / (2 * h) for d in np.eye(2)]
    # float32 forward and backward against float64 central differences (error O(h^2) ~ 1e-8)
    np.testing.assert_allclose(tf.grad(f)(x), numeric, rtol=1e-5)


def test_exported_as_tf_while_loop():
    assert tf.while_loop is while_loop and tf.compat.v1.while_loop is while_loop


def test_a_bool_loop_variable_and_the_gradient_beside_it_as_tf():
    x = tf.placeholder(tf.float32, [])
    _, _, y = while_loop(
        lambda i, go, y: tf.logical_and(go, i < 10),
        lambda i, go, y: (i + 1, y < 100.0, y * x),
        [tf.constant(0), tf.constant(True), x],
    )
    (g,) = tf.gradients(y, [x])
    # TF 2.21 (the same program under tensorflow.compat.v1): [256.0, 1024.0], y = x^8
    assert run([y, g], {x: 2.0}) == [256.0, 1024.0]


def test_the_gradient_of_a_growing_variable_whose_result_is_reshaped_to_a_static_shape():
    """rnn's repro (/tmp/notes/repros/rnn_loop_static_grad.py): the incoming adjoint is [4, 2],
    the loop variable [?, 2]; the backward loop carries the variable's type."""
    x = tf.placeholder(tf.float32, [2])
    _, stack = while_loop(
        lambda i, s: i < 4,
        lambda i, s: (i + 1, tf.concat([s, tf.expand_dims(x * tf.cast(i, tf.float32), 0)], 0)),
        [0, tf.zeros([0, 2])],
        shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])],
    )
    static = tf.reshape(stack, [4, 2])
    (g,) = tf.gradients(tf.reduce_sum(static * static), [x])
    # d/dx of sum_i (i x)^2 = 2 x (0 + 1 + 4 + 9), exact in float32
    np.testing.assert_array_equal(run(g, {x: np.array([1.0, 2.0], np.float32)}), [28.0, 56.0])


def test_a_long_loops_gradient_records_states_in_place():
    """2000 iterations: the states are written into a buffer of the trip count (write_row), not
    grown by concat; d/dx of y_N for y <- y * x + 1 against numpy's float64 recursion."""
    n = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float64, [3])
    _, y = while_loop(
        lambda i, y: i < n, lambda i, y: (i + 1, y * x + 1.0), [0, tf.zeros([3], tf.float64)]
    )
    (g,) = tf.gradients(tf.reduce_sum(y), [x])
    xv = np.array([0.999, 0.5, -0.9])
    y64, dy = np.zeros(3), np.zeros(3)
    for _ in range(2000):
        y64, dy = y64 * xv + 1.0, dy * xv + y64
    got_y, got_g = run([y, g], {n: 2000, x: xv})
    np.testing.assert_allclose(got_y, y64, rtol=1e-12)
    np.testing.assert_allclose(got_g, dy, rtol=1e-10)


def test_a_loops_gradient_does_not_print_again(capsys):
    """The gradient's reruns of the body (its trip count, the recorded states, the backward steps)
    leave out the body's prints: tf.Print prints once per forward iteration, as in TF."""
    from tgc.frontend.debug_ops import Print

    x = tf.placeholder(tf.float32, [])
    _, y = while_loop(
        lambda i, y: i < 3, lambda i, y: (i + 1, Print(y, [i], message="step ") * x), [0, x]
    )
    (g,) = tf.gradients(y, [x])
    assert run([y, g], {x: 2.0}) == [16.0, 32.0]  # y = x^4
    assert capsys.readouterr().err == "step [0]\nstep [1]\nstep [2]\n"


def test_a_loop_variable_whose_invariant_knows_more_than_its_adjoint():
    """Two loop variables, [None, None] and [1, None] by their shape invariants, both set to one
    value computed from both: the second's adjoint is a sum typed [?, ?], which the backward loop
    took to the variable's [1, ?] by relaxing it, and relaxing can only forget sizes ("shape
    [None, None] is not an instance of [1, -1]"; random-graph campaign seed 303747). Checked against
    finite differences of numpy's loop."""
    x = tf.placeholder(tf.float64, [1, 3])

    def body(i, a, b):
        out = tf.nn.relu(tf.nn.sigmoid_cross_entropy_with_logits(labels=b, logits=tf.square(a)))
        return [i + 1, out, out]

    shapes = [tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([1, None])]
    _, a, _ = tf.while_loop(lambda i, *_: i < 2, body, [0, x, x], shape_invariants=shapes)
    (grad,) = tf.gradients(tf.reduce_sum(a), [x])

    def loop(value):
        a = b = value
        for _ in range(2):
            logits = a * a
            out = np.maximum(np.maximum(logits, 0) - logits * b + np.log1p(np.exp(-abs(logits))), 0)
            a = b = out
        return a.sum()

    value = np.array([[-0.78, 0.35, 1.2]])
    with tf.Session() as sess:
        got = sess.run(grad, {x: value})
    eps = 1e-6
    want = [
        (loop(value + eps * np.eye(3)[j]) - loop(value - eps * np.eye(3)[j])) / (2 * eps)
        for j in range(3)
    ]
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-8)


def test_a_loop_body_of_a_logistic_loss_whose_labels_broadcast():
    """tf.nn.sigmoid_cross_entropy_with_logits of labels [1, 1] and logits [?, 1] has TF's static
    shape [?, 1] (its composition broadcasts; TF 2.21 prints (?, 1), and (?,) for [?] labels
    beside [1] logits). It claimed [1, 1], and its decomposition's [?, 1] then contradicted a loop
    variable of that type: 'scf.while' op ... 'tensor<?x1xf64>' should match 'tensor<1x1xf64>'
    (random-graph campaign seeds 308004 and 308146, control flow 30 %)."""
    labels = tf.placeholder(tf.float64, [1, 1])
    logits = tf.placeholder(tf.float64, [None, 1])
    assert tf.nn.sigmoid_cross_entropy_with_logits(
        labels=labels, logits=logits
    ).shape.as_list() == [
        None,
        1,
    ]
    short = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.placeholder(tf.float32, [None]), logits=tf.placeholder(tf.float32, [1])
    )
    assert short.shape.as_list() == [None]

    def body(i, x, z):
        return [
            i + 1,
            tf.cos(tf.exp(z)),
            tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
        ]

    _, x, z = tf.while_loop(lambda i, *_: i < 1, body, [tf.constant(0), logits, labels])
    with tf.Session() as sess:
        got_x, got_z = sess.run([x, z], {labels: [[0.3637]], logits: [[0.9873]]})

    def logistic(x, z):
        return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))

    np.testing.assert_allclose(got_x, np.cos(np.exp([[0.3637]])))
    np.testing.assert_allclose(got_z, logistic(np.float64([[0.9873]]), 0.3637))


def test_a_loop_variable_the_body_gives_fewer_known_sizes_is_checked_each_trip():
    """softmax_cross_entropy_with_logits_v2 of labels [1, 3] and logits [?, 3] is [1] to the graph
    (TF 2.21's static shape too), its decomposition's type [?]: as a loop variable's next value it
    is cast to [1], and a run where it is not [1] fails instead of the next trip reading past the
    buffer (it was invalid IR: 'tensor<?xf32>' should match 'tensor<1xf32>'); the same for the
    sparse loss."""
    labels = tf.placeholder(tf.float32, [1, 3])
    class_ids = tf.placeholder(tf.int32, [1])
    logits = tf.placeholder(tf.float32, [None, 3])
    start = tf.placeholder(tf.float32, [1])

    def body(i, x, dense, sparse):
        return [
            i + 1,
            x,
            tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=x),
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=class_ids, logits=x),
        ]

    loop = tf.while_loop(lambda i, *_: i < 1, body, [tf.constant(0), logits, start, start])
    dense, sparse = loop[2], loop[3]
    row = np.float32([[0.0, 1.0, 0.0]])
    log_p = row - np.log(np.exp(row).sum())
    feed = {labels: [[0.2, 0.3, 0.5]], class_ids: [1], start: [0.0]}
    with tf.Session() as sess:
        got_dense, got_sparse = sess.run([dense, sparse], {**feed, logits: row})
        np.testing.assert_allclose(got_dense, [-(log_p * [0.2, 0.3, 0.5]).sum()], rtol=1e-6)
        np.testing.assert_allclose(got_sparse, [-log_p[0, 1]], rtol=1e-6)

    def dense_only(i, x, loss):
        return [i + 1, x, tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=x)]

    alone = tf.while_loop(lambda i, *_: i < 1, dense_only, [tf.constant(0), logits, start])[2]
    with tf.Session() as sess:
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"a tensor of shape \[3\] where the graph's"
        ):
            sess.run(alone, {**feed, logits: np.zeros((3, 3), np.float32)})
