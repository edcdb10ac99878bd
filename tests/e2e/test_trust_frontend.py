"""Issue 12's frontend findings: each test failed before its fix.

Reads ordered after an assignment by control dependencies, ``use_locking``, fetching a fed tensor,
numpy operands on either side of a Tensor operator, and the graph-build and feed checks TF makes.
"""

import operator
import re

import numpy as np
import pytest

import tgc as tf
from threaded_runs import value_after_threaded_runs


def _run_three_times(fetch):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return [float(sess.run(fetch)) for _ in range(3)]


# ---- 7: a read control-dependent on an assignment sees the assigned value ------------------------


@pytest.mark.parametrize(
    "update, expected",
    [
        (lambda v: tf.assign_add(v, 1.0), [1.0, 2.0, 3.0]),
        (lambda v: tf.assign_sub(v, 1.0), [-1.0, -2.0, -3.0]),
        (lambda v: v.assign_add(2.0), [2.0, 4.0, 6.0]),
        (lambda v: tf.assign(v, v + 5.0), [5.0, 10.0, 15.0]),
    ],
)
def test_identity_under_control_dependency_sees_the_update(update, expected):
    v = tf.Variable(0.0)
    with tf.control_dependencies([update(v)]):
        y = tf.identity(v)
    assert _run_three_times(y) == expected


def test_read_value_and_arithmetic_under_control_dependency_see_the_update():
    v = tf.Variable(10.0)
    with tf.control_dependencies([tf.assign_add(v, 1.0)]):
        read = v.read_value()
        doubled = v * 2.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert float(sess.run(read)) == 11.0
        assert float(sess.run(doubled)) == 24.0
        r, d = sess.run([read, doubled])  # one run, one increment: both see 13
        assert (float(r), float(d)) == (13.0, 26.0)


def test_chain_of_two_control_dependencies():
    v = tf.Variable(1.0)
    first = tf.assign_add(v, 1.0)
    with tf.control_dependencies([first]):
        second = tf.assign(v, v * 10.0)  # reads v after the first update: (1 + 1) * 10
    with tf.control_dependencies([second]):
        y = tf.identity(v)
    with tf.control_dependencies([first]):
        with tf.control_dependencies([tf.assign_add(v, 100.0)]):
            z = v + 0.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert float(sess.run(y)) == 20.0
        assert float(sess.run(y)) == 210.0  # (20 + 1) * 10
        assert float(sess.run(z)) == 311.0  # 210 + 1 + 100


def test_control_dependent_read_on_another_device():
    with tf.device("/cpu:0"):
        v = tf.Variable(0.0)
        inc = tf.assign_add(v, 1.0)
    with tf.device("/cpu:1"):
        with tf.control_dependencies([inc]):
            y = tf.identity(v) * 3.0
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(tf.global_variables_initializer())
        assert [float(sess.run(y)) for _ in range(3)] == [3.0, 6.0, 9.0]


def test_read_not_ordered_after_the_update_keeps_the_value_at_entry():
    v = tf.Variable(0.0)
    before = tf.identity(v)  # no control dependency: the value the run started with
    inc = tf.assign_add(v, 1.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        b, _ = sess.run([before, inc])
        assert float(b) == 0.0 and float(sess.run(v)) == 1.0


def test_gradient_through_a_control_dependent_read():
    w = tf.Variable(3.0)
    x = tf.placeholder(tf.float32, [])
    with tf.control_dependencies([tf.assign_add(w, 1.0)]):
        loss = w * x
    (g,) = tf.gradients(loss, [w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        value, grad = sess.run([loss, g], {x: 2.0})
        assert float(value) == 8.0 and float(grad) == 2.0


# ---- 8: use_locking serializes concurrent updates ------------------------------------------------


@pytest.mark.parametrize(
    "make_update",
    [
        lambda v: tf.assign_add(v, 1.0, use_locking=True),
        lambda v: v.assign_sub(-1.0, use_locking=True),
        lambda v: tf.assign(v, v + 1.0, use_locking=True),
    ],
)
def test_use_locking_updates_from_threads_are_not_lost(make_update):
    v = tf.Variable(0.0)
    assert value_after_threaded_runs(v, make_update(v), threads=8, runs=200) == 8 * 200 + 1


def test_use_locking_is_recorded_on_the_op():
    v = tf.Variable(0.0)
    assert tf.assign_add(v, 1.0, use_locking=True).op.use_locking
    assert not tf.assign_add(v, 1.0).op.use_locking


# ---- 9: a fed tensor cuts the graph; fetching it returns the feed --------------------------------


def test_fetching_a_fed_intermediate_returns_the_feed():
    x = tf.placeholder(tf.float32, [2])
    y = x * 2.0
    z = y + 1.0
    fed = np.array([5.0, 7.0], np.float32)
    with tf.Session() as sess:
        out = sess.run(y, {y: fed})
        np.testing.assert_array_equal(out, fed)
        assert out is not fed
        y_out, z_out = sess.run([y, z], {y: fed})
        np.testing.assert_array_equal(y_out, fed)
        np.testing.assert_array_equal(z_out, fed + 1.0)
        np.testing.assert_array_equal(sess.run({"y": y}, {y: [1.0, 2.0]})["y"], [1.0, 2.0])


# ---- 10: numpy operands defer to the Tensor's operators ------------------------------------------


_OPERATORS = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
]


@pytest.mark.parametrize("fn", _OPERATORS, ids=lambda f: f.__name__)
def test_numpy_operands_on_either_side_give_tensors(fn):
    values = np.array([1.5, 2.0, 3.0], np.float32)
    other = np.array([2.0, 0.5, 4.0], np.float32)
    x = tf.constant(values)
    v = tf.Variable(values)
    cases = {
        "array op tensor": (fn(other, x), fn(other, values)),
        "tensor op array": (fn(x, other), fn(values, other)),
        "numpy scalar op tensor": (fn(np.float32(2.0), x), fn(np.float32(2.0), values)),
        "tensor op numpy scalar": (fn(x, np.float32(2.0)), fn(values, np.float32(2.0))),
        "array op variable": (fn(other, v), fn(other, values)),
        "variable op numpy scalar": (fn(v, np.float32(2.0)), fn(values, np.float32(2.0))),
    }
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for case, (result, expected) in cases.items():
            assert isinstance(result, tf.Tensor), f"{case}: got {type(result).__name__}"
            np.testing.assert_allclose(sess.run(result), expected, rtol=1e-6, err_msg=case)


def test_numpy_matmul_and_logical_operators_defer():
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = tf.constant(np.ones((3, 2), np.float32))
    flags = np.array([True, False, True])
    b = tf.constant([True, True, False])
    results = {
        "matmul": (m @ x, m @ np.ones((3, 2), np.float32)),
        "and": (flags & b, flags & np.array([True, True, False])),
        "or": (flags | b, flags | np.array([True, True, False])),
    }
    with tf.Session() as sess:
        for case, (result, expected) in results.items():
            assert isinstance(result, tf.Tensor), case
            np.testing.assert_array_equal(sess.run(result), expected, err_msg=case)


# ---- 14: what TF refuses at graph build or feed time, and fill with a tensor value ---------------


def test_string_tensors_reach_no_compiled_op():
    s = tf.placeholder(tf.string, [], name="text")
    with tf.Session() as sess:
        assert sess.run(s, {s: "hello"}) == "hello"  # fed and fetched, nothing compiled
        assert sess.run(s, {s: np.array(b"raw", dtype=object)}) == b"raw"
        with pytest.raises(
            ValueError,
            match=r"Cannot feed value of dtype float64 for Tensor 'text:0', which has dtype string",
        ):
            sess.run(s, {s: 3.0})
        with pytest.raises(
            ValueError, match=r"dtype <U5 for Tensor 'x:0', which has dtype float32"
        ):
            sess.run(tf.placeholder(tf.float32, [], name="x"), {"x:0": "hello"})
    with pytest.raises(TypeError, match=r"'text:0' has dtype string.*no tgc op takes strings"):
        tf.identity(s)
    with pytest.raises(TypeError, match=r"dtype string"):
        tf.zeros([2], dtype=tf.string)


@pytest.mark.parametrize("shape", [[-2, 3], [3, -1], -4])
def test_negative_placeholder_dims_are_refused(shape):
    bad = shape if isinstance(shape, int) else min(shape)
    with pytest.raises(ValueError, match=f"Dimension {bad} must be >= 0"):
        tf.placeholder(tf.float32, shape)


@pytest.mark.parametrize(
    "dtype, value, shown",
    [
        (tf.int32, np.array([1, 2**40], np.int64), "1099511627776"),
        (tf.int32, np.int64(-(2**31) - 1), "-2147483649"),
        (tf.int32, 2**40, "1099511627776"),
        (tf.int64, [1, 2**70], "1180591620717411303424"),
        (tf.int64, np.array([2**63], np.uint64), "9223372036854775808"),
        (tf.float32, np.array([1e300]), "1e+300"),
        (tf.float16, [70000.0], "70000"),
        (tf.float16, np.array([1, -70000], np.int32), "-70000"),
        (tf.bool, np.array([0, 1, 2]), "2"),
    ],
)
def test_feeds_that_do_not_fit_the_dtype_are_refused(dtype, value, shown):
    x = tf.placeholder(dtype, None, name="counts")
    y = x + tf.cast(0, dtype)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=rf"'counts:0'.*{re.escape(shown)}.*{dtype.name}"):
            sess.run(y, {x: value})
        with pytest.raises(ValueError, match=r"'counts:0'"):
            sess.run(x, {x: value})


def test_feeds_that_fit_are_converted():
    x = tf.placeholder(tf.int32, [2])
    f = tf.placeholder(tf.float32, [2])
    with tf.Session() as sess:
        assert sess.run(x + 1, {x: np.array([2**31 - 1 - 1, -(2**31)], np.int64)}).tolist() == [
            2**31 - 1,
            -(2**31) + 1,
        ]
        np.testing.assert_array_equal(
            sess.run(f * 1, {f: np.array([1e30, -np.inf])}), np.float32([1e30, -np.inf])
        )


def test_fill_takes_a_tensor_value():
    value = tf.placeholder(tf.float32, [], name="value")
    like = tf.placeholder(tf.float32, [None, 2])
    filled = tf.fill([2, 3], value)
    dynamic = tf.fill(tf.shape(like), value * 2.0)
    (grad,) = tf.gradients(tf.reduce_sum(filled), [value])
    ints = tf.fill([2], tf.constant(4) + 1)
    with tf.Session() as sess:
        out, dyn, g, i = sess.run(
            [filled, dynamic, grad, ints], {value: 1.5, like: np.zeros((4, 2), np.float32)}
        )
    np.testing.assert_array_equal(out, np.full((2, 3), 1.5, np.float32))
    np.testing.assert_array_equal(dyn, np.full((4, 2), 3.0, np.float32))
    assert float(g) == 6.0 and i.dtype == np.int32 and i.tolist() == [5, 5]
    with pytest.raises(ValueError, match="fill value must be a scalar"):
        tf.fill([2], tf.constant([1.0, 2.0]))
