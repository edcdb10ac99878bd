"""tf.TensorArray (tgc/frontend/tensor_array.py) against numpy, finite differences and TensorFlow
2.21's numbers (tests/oracle/tensor_array_oracle.py), and the loops' stacks on tgc.write_row."""

import numpy as np
import pytest

import tgc as tf
from tgc.frontend.functional_ops import map_fn, scan
from tgc.frontend.tensor_array import TensorArray
from tgc.runtime import errors

X0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-2.0, 1.0, 0.75], [0.1, 0.2, 0.3]], np.float32)
W0 = np.array([[0.5, -0.25, 0.1], [0.3, 0.8, -0.6], [-0.4, 0.2, 0.9]], np.float32)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def _rnn_numpy(x, w):
    """The oracle's program 1 in float64: states, final state, and the loss."""
    h, states = np.zeros(3), []
    for i in range(4):
        h = np.tanh(w @ h + x[i])
        states.append(h)
    states = np.array(states)
    return h, states, np.sum(states * states) + np.sum(h)


def _rnn_graph():
    x = tf.placeholder(tf.float32, [4, 3])
    w = tf.Variable(W0)
    inputs = TensorArray(tf.float32, size=4).unstack(x)
    states = TensorArray(tf.float32, size=4)

    def body(i, h, ta):
        h = tf.tanh(tf.reshape(tf.matmul(w, tf.reshape(h, [3, 1])), [3]) + inputs.read(i))
        return i + 1, h, ta.write(i, h)

    _, h_final, states = tf.while_loop(lambda i, h, ta: i < 4, body, [0, tf.zeros([3]), states])
    stacked = states.stack()
    loss = tf.reduce_sum(stacked * stacked) + tf.reduce_sum(h_final)
    gx, gw = tf.gradients(loss, [x, w])
    return x, w, h_final, stacked, gx, gw


def _finite_difference(f, a, eps=1e-6):
    out = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[idx] += eps
        down[idx] -= eps
        out[idx] = (f(up) - f(down)) / (2 * eps)
    return out


def test_an_rnn_loop_reads_and_writes_tensor_arrays_with_gradients_as_numpy():
    x, w, h_final, stacked, gx, gw = _rnn_graph()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        h, s, dx, dw = sess.run([h_final, stacked, gx, gw], {x: X0})
    x64, w64 = X0.astype(np.float64), W0.astype(np.float64)
    want_h, want_s, _ = _rnn_numpy(x64, w64)
    # float32 through 4 tanh steps: errors of a few ulps of values below 2.
    np.testing.assert_allclose(h, want_h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s, want_s, rtol=1e-5, atol=1e-6)
    # Central differences of the float64 program (step 1e-6: truncation ~1e-12, rounding ~1e-10).
    np.testing.assert_allclose(
        dx, _finite_difference(lambda a: _rnn_numpy(a, w64)[2], x64), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        dw, _finite_difference(lambda a: _rnn_numpy(x64, a)[2], w64), rtol=1e-4, atol=1e-5
    )


def test_dynamic_size_grows_in_a_loop_of_fed_length():
    x = tf.placeholder(tf.float32, [4, 3])
    n = tf.placeholder(tf.int32, [])
    dyn = TensorArray(tf.float32, size=0, dynamic_size=True)

    def body(i, ta):
        f = tf.cast(i, tf.float32)
        return i + 1, ta.write(i, x[0] * f + f * f)

    _, dyn = tf.while_loop(lambda i, ta: i < n, body, [0, dyn])
    assert dyn.element_shape.as_list() == [3]
    stacked, size = dyn.stack(), dyn.size()
    concat, gathered = dyn.concat(), dyn.gather([3, 0])
    (g,) = tf.gradients(tf.reduce_sum(stacked * stacked), [x])
    with tf.Session() as sess:
        for count in (0, 1, 5, 37):  # capacity doubles past 1, 2, 4, 8, 16, 32
            f = np.arange(count, dtype=np.float64)[:, None]
            want = X0[0] * f + f * f
            if count < 4:
                got = sess.run([stacked, size, concat, g], {x: X0, n: count})
            else:
                got = sess.run([stacked, size, concat, g, gathered], {x: X0, n: count})
                np.testing.assert_allclose(got[4], want[[3, 0]], rtol=1e-6)
            np.testing.assert_allclose(got[0], want.reshape(count, 3), rtol=1e-6, atol=1e-6)
            assert got[1] == count
            np.testing.assert_allclose(got[2], want.reshape(-1), rtol=1e-6, atol=1e-6)
            dg = np.zeros((4, 3))
            dg[0] = np.sum(2 * want * f, axis=0) if count else 0.0
            np.testing.assert_allclose(got[3], dg, rtol=1e-5)


def test_writes_reads_scatter_split_outside_loops():
    x = tf.placeholder(tf.float32, [4, 3])
    ta = TensorArray(tf.float32, size=3)
    ta = ta.write(0, x[1]).write(2, x[2] * 2.0)
    ta = ta.write(1, ta.read(0) + ta.read(2))
    plain = ta.stack()
    scattered = TensorArray(tf.float32, size=4).scatter([2, 0, 3, 1], x).stack()
    split_read = TensorArray(tf.float32, size=2).split(tf.reshape(x, [12]), [6, 6]).read(1)
    (g,) = tf.gradients(tf.reduce_sum(plain * plain) + tf.reduce_sum(split_read), [x])
    with tf.Session() as sess:
        p, s, r, dx = sess.run([plain, scattered, split_read, g], {x: X0})
    want = np.stack([X0[1], X0[1] + 2 * X0[2], 2 * X0[2]])
    np.testing.assert_allclose(p, want, rtol=1e-6)
    np.testing.assert_allclose(s, X0[[1, 3, 0, 2]])
    np.testing.assert_allclose(r, X0.reshape(12)[6:])
    dwant = np.zeros((4, 3))
    dwant[1] = 2 * want[0] + 2 * want[1]
    dwant[2] = 2 * 2 * want[1] + 2 * 2 * want[2]
    dwant.reshape(12)[6:] += 1.0
    np.testing.assert_allclose(dx, dwant, rtol=1e-5)


def test_element_shape_is_learned_before_the_loop_from_the_body():
    ta = TensorArray(tf.float32, size=3)  # no element_shape: the body's first write tells it
    _, ta = tf.while_loop(
        lambda i, ta: i < 3,
        lambda i, ta: (i + 1, ta.write(i, tf.ones([2, 2]) * tf.cast(i, tf.float32))),
        [0, ta],
    )
    assert ta.element_shape.as_list() == [2, 2]
    with tf.Session() as sess:
        out = sess.run(ta.stack())
    np.testing.assert_array_equal(
        out, np.arange(3, dtype=np.float32)[:, None, None] * np.ones((3, 2, 2))
    )


def test_tf_errors_seen_while_building():
    x = tf.placeholder(tf.float32, [4, 3])
    with pytest.raises(
        errors.InvalidArgumentError,
        match="Could not write to TensorArray index 0 because it has already been written to",
    ):
        TensorArray(tf.float32, size=2).write(0, 1.0).write(0, 2.0)
    with pytest.raises(
        errors.InvalidArgumentError,
        match=r"Max scatter index must be < array size \(3 vs. 3\)",
    ):
        TensorArray(tf.float32, size=3).unstack(x)
    with pytest.raises(ValueError, match=r"Inconsistent shapes: saw \(2,\) but expected \(3,\)"):
        TensorArray(tf.float32, size=3).write(0, x[0]).write(1, tf.zeros([2]))
    with pytest.raises(ValueError, match="Size must be provided"):
        TensorArray(tf.float32)


def test_an_unwritten_element_of_a_declared_shape_reads_zeros():
    x = tf.placeholder(tf.float32, [4, 3])
    stacked = TensorArray(tf.float32, size=2, element_shape=[3]).write(0, x[0]).stack()
    with tf.Session() as sess:
        out = sess.run(stacked, {x: X0})
    np.testing.assert_array_equal(out, np.stack([X0[0], np.zeros(3, np.float32)]))


def test_scan_and_map_fn_fill_buffers_of_the_fed_length():
    elems = tf.placeholder(tf.float32, [None, 3])
    running = scan(lambda a, e: a * 0.5 + e, elems)
    mapped = map_fn(lambda e: tf.reduce_sum(e * e), elems)
    de = tf.gradients(tf.reduce_sum(running * running) + tf.reduce_sum(mapped), [elems])[0]
    rng = np.random.default_rng(3)
    with tf.Session() as sess:
        for n in (1, 2, 9):
            e = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
            r, m, g = sess.run([running, mapped, de], {elems: e})
            e64 = e.astype(np.float64)

            def program(a):
                acc, out = a[0], [a[0]]
                for row in a[1:]:
                    acc = acc * 0.5 + row
                    out.append(acc)
                return np.sum(np.array(out) ** 2) + np.sum(a * a)

            acc, want = e64[0], [e64[0]]
            for row in e64[1:]:
                acc = acc * 0.5 + row
                want.append(acc)
            np.testing.assert_allclose(r, np.array(want), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(m, np.sum(e64 * e64, axis=1), rtol=1e-5)
            np.testing.assert_allclose(g, _finite_difference(program, e64), rtol=1e-4, atol=1e-5)


# TensorFlow 2.21.0's values for the programs of tests/oracle/tensor_array_oracle.py, printed by
# ``/tmp/tfenv/bin/python tests/oracle/tensor_array_oracle.py`` (compat.v1, v2 behaviour disabled:
# TF1's TensorArrayV3). The oracle's two TensorArrays read twice use clear_after_read=False (TF
# clears an element once read by default; tgc reads an element as often as asked). Its errors:
# 'write_twice' (InvalidArgumentError), 'unstack_size' ('Max scatter index must be < array size
# (3 vs. 3)'); a stack with unwritten elements (element shape given or inferred) reads zeros.
TF_VALUES = {
    "version": "2.21.0",
    "rnn": [
        [-0.4373156428337097, 0.28182610869407654, 0.7628710865974426],
        [
            [0.46211713552474976, -0.7615941762924194, 0.9640275835990906],
            [0.9652678370475769, -0.66350919008255, 0.03044969029724598],
            [-0.8736854791641235, 0.6294490694999695, 0.25298166275024414],
            [-0.4373156428337097, 0.28182610869407654, 0.7628710865974426],
        ],
        [
            [0.927797257900238, -0.6621465086936951, 0.10768864303827286],
            [0.13484539091587067, 0.07821189612150192, -0.4115275740623474],
            [-0.3993086516857147, 1.5676193237304688, 0.5641040205955505],
            [0.10139258205890656, 1.4394577741622925, 1.0558301210403442],
        ],
        [
            [-0.4117106795310974, 0.22606897354125977, 0.14348632097244263],
            [0.29168224334716797, -0.1936301589012146, 0.48728835582733154],
            [-0.56812584400177, 0.6037201285362244, -0.11244148015975952],
        ],
    ],
    "dynamic": [
        [[0.0, 0.0, 0.0], [1.5, 0.0, 3.0], [5.0, 2.0, 8.0], [10.5, 6.0, 15.0], [18.0, 12.0, 24.0]],
        5,
        [0.0, 0.0, 0.0, 1.5, 0.0, 3.0, 5.0, 2.0, 8.0, 10.5, 6.0, 15.0, 18.0, 12.0, 24.0],
        [[10.5, 6.0, 15.0], [0.0, 0.0, 0.0]],
        [[230.0, 140.0, 320.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    ],
    "plain": [
        [[1.5, 0.25, -0.5], [-2.5, 2.25, 1.0], [-4.0, 2.0, 1.5]],
        [
            [1.5, 0.25, -0.5],
            [0.10000000149011612, 0.20000000298023224, 0.30000001192092896],
            [0.5, -1.0, 2.0],
            [-2.0, 1.0, 0.75],
        ],
        [-2.0, 1.0, 0.75, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896],
        [[0.0, 0.0, 0.0], [-2.0, 5.0, 1.0], [-25.0, 18.0, 11.0], [1.0, 1.0, 1.0]],
    ],
    "errors": {
        "write_twice": (
            "TensorArray TensorArray_6_6: Could not write to TensorArray index 0 because it has "
            "already been written to."
        ),
        "read_unwritten": [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        "read_unwritten_shape": [[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]],
    },
}


def test_tensor_array_programs_give_tf_2_21s_numbers():
    x, w, h_final, stacked, gx, gw = _rnn_graph()
    n = tf.placeholder(tf.int32, [])
    dyn = TensorArray(tf.float32, size=0, dynamic_size=True, clear_after_read=False)

    def dyn_body(i, ta):
        f = tf.cast(i, tf.float32)
        return i + 1, ta.write(i, x[0] * f + f * f)

    _, dyn = tf.while_loop(lambda i, ta: i < n, dyn_body, [0, dyn])
    dyn_stacked = dyn.stack()
    dynamic = [dyn_stacked, dyn.size(), dyn.concat(), dyn.gather([3, 0])]
    dynamic += tf.gradients(tf.reduce_sum(dyn_stacked * dyn_stacked), [x])
    ta = TensorArray(tf.float32, size=3, clear_after_read=False)
    ta = ta.write(0, x[1]).write(2, x[2] * 2.0)
    ta = ta.write(1, ta.read(0) + ta.read(2))
    plain = ta.stack()
    scattered = TensorArray(tf.float32, size=4).scatter([2, 0, 3, 1], x).stack()
    split_read = TensorArray(tf.float32, size=2).split(tf.reshape(x, [12]), [6, 6]).read(1)
    (gplain,) = tf.gradients(tf.reduce_sum(plain * plain) + tf.reduce_sum(split_read), [x])
    unwritten = TensorArray(tf.float32, size=3).write(0, x[0]).stack()
    unwritten_shape = TensorArray(tf.float32, size=2, element_shape=[3]).write(0, x[0]).stack()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        rnn = sess.run([h_final, stacked, gx, gw], {x: X0})
        dyn_values = sess.run(dynamic, {x: X0, n: 5})
        plain_values = sess.run([plain, scattered, split_read, gplain], {x: X0})
        zeros = sess.run([unwritten, unwritten_shape], {x: X0})
    # float32 both sides, the same operations up to summation order: a few ulps.
    for got, want in zip(rnn, TF_VALUES["rnn"]):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    for got, want in zip(dyn_values, TF_VALUES["dynamic"]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    for got, want in zip(plain_values, TF_VALUES["plain"]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_array_equal(zeros[0], TF_VALUES["errors"]["read_unwritten"])
    np.testing.assert_array_equal(zeros[1], TF_VALUES["errors"]["read_unwritten_shape"])


def test_a_loop_reads_and_writes_the_same_tensor_array():
    """a[i] = a[i - 1] * x + a[i - 2] (a loop variable read and written each iteration, under
    maximum_iterations), and d sum(a) / dx, against numpy's float64 recursion."""
    x = tf.placeholder(tf.float64, [2])
    ta = TensorArray(tf.float64, size=12, element_shape=[2])
    ta = ta.write(0, tf.ones([2], tf.float64)).write(1, x)

    def body(i, ta):
        return i + 1, ta.write(i, ta.read(i - 1) * x + ta.read(i - 2))

    _, ta = tf.while_loop(lambda i, ta: i < 100, body, [2, ta], maximum_iterations=10)
    stacked = ta.stack()
    (g,) = tf.gradients(tf.reduce_sum(stacked), [x])
    xv = np.array([0.7, -1.3])
    a, da = [np.ones(2), xv.copy()], [np.zeros(2), np.ones(2)]
    for _ in range(10):
        a.append(a[-1] * xv + a[-2])
        da.append(da[-1] * xv + a[-2] + da[-2])
    with tf.Session() as sess:
        got, dg = sess.run([stacked, g], {x: xv})
    np.testing.assert_allclose(got, np.array(a), rtol=1e-12)
    np.testing.assert_allclose(dg, np.sum(da, axis=0), rtol=1e-12)


def test_a_second_write_at_a_run_time_index_fails_the_run():
    """Indices known only at run time are checked when the write runs (an Assert on the
    TensorArray's written-mask): a second write of an element, a write outside a fixed size."""
    n = tf.placeholder(tf.int32, [])
    ta = TensorArray(tf.float32, size=4, tensor_array_name="twice")
    _, ta = tf.while_loop(
        lambda i, ta: i < n,
        lambda i, ta: (i + 1, ta.write(i % 2, tf.cast(i, tf.float32) + 1.0)),
        [0, ta],
    )
    stacked = ta.stack()
    small = TensorArray(tf.float32, size=2, tensor_array_name="small")
    _, small = tf.while_loop(
        lambda i, ta: i < n, lambda i, ta: (i + 1, ta.write(i, tf.cast(i, tf.float32))), [0, small]
    )
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(stacked, {n: 2}), [1.0, 2.0, 0.0, 0.0])
        with pytest.raises(
            errors.InvalidArgumentError,
            match=r"TensorArray twice: Could not write to TensorArray index\] \[0\] \[because it "
            "has already been written to",
        ):
            sess.run(stacked, {n: 3})
        np.testing.assert_array_equal(sess.run(small.stack(), {n: 2}), [0.0, 1.0])
        with pytest.raises(errors.InvalidArgumentError, match=r"index\] \[2\] \[because"):
            sess.run(small.stack(), {n: 3})


def test_a_tensor_array_through_tf_cond():
    """A branch writes element 1 (x * 2 or x * 3); the gradient follows the taken branch."""
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [2])
    ta = TensorArray(tf.float32, size=2).write(0, x)
    ta = tf.cond(p, lambda: ta.write(1, x * 2.0), lambda: ta.write(1, x * 3.0))
    stacked = ta.stack()
    (g,) = tf.gradients(tf.reduce_sum(stacked), [x])
    with tf.Session() as sess:
        for taken, k in ((True, 2.0), (False, 3.0)):
            s, dx = sess.run([stacked, g], {p: taken, x: [1.0, 2.0]})
            np.testing.assert_array_equal(s, [[1.0, 2.0], [k, 2 * k]])
            np.testing.assert_array_equal(dx, [1.0 + k, 1.0 + k])


def test_a_read_outside_the_size_fails_the_run_as_tfs():
    """TF: "Tried to read from index 5 but array size is: 3" (tgc: the same words in an assert)."""
    i = tf.placeholder(tf.int32, [])
    ta = TensorArray(tf.float32, size=3).unstack(tf.constant(X0[:3]))
    r = ta.read(i)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(r, {i: 2}), X0[2])
        for bad in (5, 3, -1):
            with pytest.raises(
                tf.errors.InvalidArgumentError,
                match=rf"Tried to read from index\] \[{bad}\] \[but array size is:\] \[3\]",
            ):
                sess.run(r, {i: bad})
