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


# ---- TF1's tf.where (Select): a vector condition picks rows --------------------------------------


def test_where_with_a_vector_condition_picks_rows_as_tf1s_select():
    # TF 2.21 compat.v1: square [[1, 1], [0, 0]] (numpy's broadcasting would pick columns)
    square = tf.where([True, False], tf.ones([2, 2]), tf.zeros([2, 2]))
    x = tf.constant(np.arange(12.0).reshape(2, 3, 2), tf.float64)
    rank3 = tf.where([False, True], x, -x)
    with tf.Session() as sess:
        got_square, got_rank3 = sess.run([square, rank3])
    np.testing.assert_array_equal(got_square, [[1, 1], [0, 0]])
    want = np.arange(12.0).reshape(2, 3, 2)
    np.testing.assert_array_equal(got_rank3, np.stack([-want[0], want[1]]))


def test_where_rows_of_a_condition_known_at_run_time_and_its_gradient():
    pred = tf.placeholder(tf.bool, [])
    cond = _cond_of(pred, [True, False], [True])
    x = tf.placeholder(tf.float64, [2, 3])
    picked = tf.where(cond, x, 2 * x)
    weights = tf.constant([[1.0, 2, 3], [4, 5, 6]], tf.float64)
    (grad,) = tf.gradients(tf.reduce_sum(picked * weights), [x])
    value = np.arange(6.0).reshape(2, 3)
    with tf.Session() as sess:
        got, got_grad = sess.run([picked, grad], {pred: True, x: value})
        # TF 2.21: [[0, 1, 2], [6, 8, 10]], gradient [[1, 2, 3], [8, 10, 12]]
        np.testing.assert_array_equal(got, [[0, 1, 2], [6, 8, 10]])
        np.testing.assert_array_equal(got_grad, [[1, 2, 3], [8, 10, 12]])
        message = r"^Number of batches of 'then' must match size of 'cond', but saw: 2 vs\. 1"
        for fetch in (picked, grad):  # the gradient alone checks too
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                sess.run(fetch, {pred: False, x: value})


def test_where_rows_gradient_matches_finite_differences():
    x = tf.placeholder(tf.float64, [None, 2])
    y = tf.placeholder(tf.float64, [None, 2])
    cond = tf.placeholder(tf.bool, [None])
    loss = tf.reduce_sum(tf.square(tf.where(cond, x * y, y)) * [[1.0, 3.0]])
    gx, gy = tf.gradients(loss, [x, y])
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    feeds = {x: xv, y: yv, cond: [True, False, True]}
    with tf.Session() as sess:
        got = sess.run([gx, gy], feeds)
        for k, (var, base) in enumerate(((x, xv), (y, yv))):
            numeric = np.zeros_like(base)
            for i in np.ndindex(*base.shape):
                step = np.zeros_like(base)
                step[i] = 1e-6
                up = sess.run(loss, {**feeds, var: base + step})
                down = sess.run(loss, {**feeds, var: base - step})
                numeric[i] = (up - down) / 2e-6
            np.testing.assert_allclose(got[k], numeric, rtol=1e-6, atol=1e-8)


def test_where_rows_of_another_length_is_tfs_shape_error():
    with pytest.raises(
        ValueError,
        match=r"^Dimension 0 in both shapes must be equal, but are 3 and 2\. Shapes are \[3\] and "
        r"\[2\]\.",
    ):
        tf.where([True, False, True], tf.ones([2, 4]), tf.zeros([2, 4]))


def test_where_v2_keeps_numpys_broadcasting():
    from tgc.frontend.math_ops import where_v2

    columns = where_v2([True, False], tf.ones([2, 2]), tf.zeros([2, 2]))
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(columns), [[1, 0], [1, 0]])


# ---- assign, assign_add, assign_sub of a value of another shape ----------------------------------

_UPDATES = {
    # TF 2.21 (ref variables): value after the update from [1, 2, 3] with [5, 6, 7], the kernel's
    # message for a [2] value at run time
    "assign": ([5.0, 6.0, 7.0], r"Assign requires shapes of both tensors to match\. lhs shape= "),
    "assign_add": ([6.0, 8.0, 10.0], r"Parameters and update must be the same size"),
    "assign_sub": ([-4.0, -4.0, -4.0], r"Parameters and update must be the same size"),
}


@pytest.mark.parametrize("kind", sorted(_UPDATES))
def test_an_update_of_a_value_sized_at_run_time_checks_it_as_tfs_kernel(kind):
    v = tf.Variable([1.0, 2.0, 3.0])
    pred = tf.placeholder(tf.bool, [])
    value = _cond_of(pred, [5.0, 6.0, 7.0], [5.0, 6.0])
    update = getattr(tf, kind)(v, value)
    want, message = _UPDATES[kind]
    if kind == "assign":
        message += r"\[3\] rhs shape= \[2\]"
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(update, {pred: True}), want)
        sess.run(v.initializer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="^" + message):
            sess.run(update, {pred: False})
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0, 3.0])  # not written


@pytest.mark.parametrize("kind", sorted(_UPDATES))
def test_an_update_of_a_fed_value_of_another_size_fails_as_tfs_kernel(kind):
    v = tf.Variable([1.0, 2.0, 3.0])
    value = tf.placeholder(tf.float32, [None])
    update = getattr(v, kind)(value)
    with tf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="^" + _UPDATES[kind][1]):
            sess.run(update, {value: [1.0, 2.0]})


@pytest.mark.parametrize("kind", sorted(_UPDATES))
def test_an_update_of_a_known_other_shape_is_tfs_build_error(kind):
    v = tf.Variable([1.0, 2.0, 3.0])
    with pytest.raises(
        ValueError,
        match=r"^Dimension 0 in both shapes must be equal, but are 3 and 2\. Shapes are \[3\] and "
        r"\[2\]\. for 'Variable/",
    ):
        getattr(tf, kind)(v, tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^Shapes must be equal rank, but are 1 and 2 for "):
        getattr(tf, kind)(v, tf.constant([[1.0, 2.0, 3.0]]))


def test_assign_without_shape_validation_keeps_the_variables_shape():
    """TF's validate_shape=False gives the variable the value's shape; tgc's variables keep the
    one they were made with, and say so."""
    v = tf.Variable([1.0, 2.0, 3.0])
    value = tf.placeholder(tf.float32, [None])
    update = tf.assign(v, value, validate_shape=False)
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(update, {value: [4.0, 5.0, 6.0]}), [4, 5, 6])
        pred = tf.placeholder(tf.bool, [])
        short = tf.assign(v, _cond_of(pred, [1.0, 2.0, 3.0], [1.0]), validate_shape=False)
        with pytest.raises(tf.errors.InvalidArgumentError, match="validate_shape=False cannot"):
            sess.run(short, {pred: False})
    with pytest.raises(ValueError, match="validate_shape=False cannot change it"):
        tf.assign(v, [1.0, 2.0], validate_shape=False)


def test_reduce_any_of_no_elements_is_false():
    """TF 2.21: tf.reduce_any of a [0] vector is False (the int32 max of none, the int minimum,
    was cast to True)."""
    x = tf.placeholder(tf.bool, [None])
    m = tf.placeholder(tf.bool, [2, None])
    with tf.Session() as sess:
        assert not sess.run(tf.reduce_any(x), {x: np.zeros(0, bool)})
        assert sess.run(tf.reduce_any(x), {x: [False, True]})
        got = sess.run(tf.reduce_any(m, axis=1), {m: np.zeros((2, 0), bool)})
        np.testing.assert_array_equal(got, [False, False])
        assert sess.run(tf.reduce_all(x), {x: np.zeros(0, bool)})


# ---- segment ops: TF's id checks -----------------------------------------------------------------

_OUT_OF_RANGE_FIRST = "Segment id -3 out of range [0, 1), possibly because 'segment_ids' input is "
_SORTED_IDS = {
    # TF 2.21: ids -> the kernel's message (segment_sum, _max and _mean alike)
    (0, -1, 0, 0): "segment ids are not increasing",
    (0, 0, -2, -1): "segment ids must be >= 0",
    (-3, -2, -1, 0): _OUT_OF_RANGE_FIRST + "not sorted.",
    (2, 1, 0, 0): "segment ids are not increasing",
}
_UNSORTED_IDS = {
    # TF 2.21, num_segments 3 (sum, max, prod and mean alike); a negative id is dropped
    (0, 1, 3, 1): "segment_ids[2] = 3 is out of range [0, 3)",
    (0, -1, 5, 9): "segment_ids[2] = 5 is out of range [0, 3)",
}


@pytest.mark.parametrize("kind", ["sum", "max", "mean"])
def test_sorted_segment_ids_are_checked_as_tfs_kernel(kind):
    data = tf.constant(np.arange(8.0).reshape(4, 2))
    ids = tf.placeholder(tf.int32, [4])
    out = getattr(tf, f"segment_{kind}")(data, ids)
    with tf.Session() as sess:
        for bad, message in _SORTED_IDS.items():
            with pytest.raises(tf.errors.InvalidArgumentError) as caught:
                sess.run(out, {ids: bad})
            assert str(caught.value).startswith(message), (bad, str(caught.value))
        # TF 2.21: segment_max of ids [0, 0, 1, 3]
        if kind == "max":
            got = sess.run(out, {ids: [0, 0, 1, 3]})
            np.testing.assert_array_equal(got, [[2, 3], [4, 5], [0, 0], [6, 7]])


@pytest.mark.parametrize("kind", ["sum", "max", "prod", "mean"])
def test_unsorted_segment_ids_past_the_segments_fail_as_tfs_kernel(kind):
    data = tf.constant(np.arange(8.0).reshape(4, 2))
    ids = tf.placeholder(tf.int32, [4])
    out = getattr(tf, f"unsorted_segment_{kind}")(data, ids, 3)
    with tf.Session() as sess:
        for bad, message in _UNSORTED_IDS.items():
            with pytest.raises(tf.errors.InvalidArgumentError) as caught:
                sess.run(out, {ids: bad})
            assert str(caught.value).startswith(message), (bad, str(caught.value))


def test_unsorted_segment_ids_of_rank_two_name_the_index():
    data = tf.constant(np.arange(12.0).reshape(2, 3, 2))
    ids = tf.placeholder(tf.int32, [2, 3])
    out = tf.unsorted_segment_sum(data, ids, 2)
    no_ids = tf.placeholder(tf.int32, [None])
    empty = tf.unsorted_segment_sum(tf.zeros([0, 2]), no_ids, 2)
    with tf.Session() as sess:
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^segment_ids\[1,1\] = 7 is out of range \[0, 2\)",
        ):
            sess.run(out, {ids: [[0, 1, 1], [0, 7, 0]]})
        # no ids: nothing to check, two rows of zeros
        got = sess.run(empty, {no_ids: np.zeros(0, np.int32)})
        np.testing.assert_array_equal(got, np.zeros((2, 2)))


def test_segment_ids_of_another_count_at_run_time_fail_as_tfs_kernels():
    pred = tf.placeholder(tf.bool, [])
    data = tf.constant(np.arange(8.0).reshape(4, 2))
    ids = _cond_of(pred, [0, 1, 1, 0], [0, 1])
    unsorted, sorted_ = tf.unsorted_segment_sum(data, ids, 2), tf.segment_sum(data, ids)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(unsorted, {pred: True}), [[6, 8], [6, 8]])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^data\.shape = \[4,2\] does not start with segment_ids\.shape = \[2\]",
        ):
            sess.run(unsorted, {pred: False})
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^segment_ids should be the same size as dimension 0 of input\.",
        ):
            sess.run(sorted_, {pred: False})


# ---- tf.cross: no broadcasting -------------------------------------------------------------------


def test_cross_of_shapes_that_differ_at_run_time_fails_as_tfs_kernel():
    pred = tf.placeholder(tf.bool, [])
    a = _cond_of(pred, [[1.0, 0, 0], [0, 1, 0]], [[1.0, 0, 0]])
    c = tf.cross(a, tf.constant([[0.0, 1, 0], [0, 0, 1]]))
    with tf.Session() as sess:
        # TF 2.21: [[0, 0, 1], [1, 0, 0]]; the [1, 3] broadcast gave [[0, 0, 1], [0, -1, 0]]
        np.testing.assert_array_equal(sess.run(c, {pred: True}), [[0, 0, 1], [1, 0, 0]])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^Both inputs must be of same shape: \[1,3\] vs\. \[2,3\]",
        ):
            sess.run(c, {pred: False})


def test_cross_of_known_other_shapes_is_tfs_build_error():
    with pytest.raises(
        ValueError,
        match=r"^Dimension 0 in both shapes must be equal, but are 1 and 2\. Shapes are \[1,3\] "
        r"and \[2,3\]\. for 'Cross'",
    ):
        tf.cross(tf.ones([1, 3]), tf.ones([2, 3]))
    with pytest.raises(ValueError, match=r"^Shapes must be equal rank, but are 1 and 2 for "):
        tf.cross(tf.ones([3]), tf.ones([2, 3]))


# ---- tf.reshape to a shape known at run time -----------------------------------------------------

_RESHAPES = {
    # TF 2.21: x's shape, the shape vector -> the result's shape or the kernel's message
    (
        (2, 3),
        (2, 4, 1),
    ): "Input to reshape is a tensor with 6 values, but the requested shape has 8",
    ((2, 3), (4, -1, 1)): "Input to reshape is a tensor with 6 values, but the requested shape "
    "requires a multiple of 4",
    ((2, 3), (-1, -1, 1)): "Only one input size may be -1, not both 0 and 1",
    ((2, 3), (1, -2, 6)): "Size 1 must be non-negative, not -2",
    (
        (2, 3),
        (0, -1, 1),
    ): "Input to reshape is a tensor with 6 values, but the requested shape has 0",
    ((2, 3), (-1, 3, -1)): "Only one input size may be -1, not both 0 and 2",
    ((2, 3), (3, -1, 1)): (3, 2, 1),
    ((0, 3), (-1, 0, 1)): (3, 0, 1),
    ((0, 3), (2, 0, -1)): (2, 0, 1),
    ((0, 3), (-1, 2, 3)): (0, 2, 3),
}


def test_reshape_to_a_run_time_shape_is_checked_as_tfs_kernel():
    x = tf.placeholder(tf.float32, [None, 3])
    shape = tf.placeholder(tf.int32, [3])
    reshaped = tf.reshape(x, shape)
    with tf.Session() as sess:
        for (x_shape, value), want in _RESHAPES.items():
            feeds = {x: np.ones(x_shape), shape: value}
            if isinstance(want, tuple):
                assert sess.run(reshaped, feeds).shape == want, (x_shape, value)
                continue
            with pytest.raises(tf.errors.InvalidArgumentError) as caught:
                sess.run(reshaped, feeds)
            assert str(caught.value).startswith(want), (x_shape, value, str(caught.value))


def test_reshape_with_a_minus_one_beside_a_zero_sizes_it_as_tf():
    """TF 2.21 (tests/oracle/kernel_messages.py): a [0, 3] to [-1, 0, 1] is [3, 0, 1], to
    [2, 0, -1] is [2, 0, 1]; a [1, 3] to [-1, 0, 1] fails ('... but the requested shape has 0').
    The lowering divided by the others' product, 0: the process died of SIGFPE."""
    pred = tf.placeholder(tf.bool, [])
    x = _cond_of(pred, np.zeros((0, 3), np.float32), np.zeros((1, 3), np.float32))
    first, last = tf.reshape(x, [-1, 0, 1]), tf.reshape(x, [2, 0, -1])
    fed = tf.placeholder(tf.float32, [None, 3])
    with tf.Session() as sess:
        got = sess.run([tf.shape(first), tf.shape(last)], {pred: True})
        np.testing.assert_array_equal(got[0], [3, 0, 1])
        np.testing.assert_array_equal(got[1], [2, 0, 1])
        assert sess.run(tf.reshape(fed, [-1, 0, 1]), {fed: np.zeros((0, 3))}).shape == (3, 0, 1)
        assert sess.run(tf.reshape(tf.zeros([0, 3]), [2, 0, -1])).shape == (2, 0, 1)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^Input to reshape is a tensor with 3 values, but the requested shape has 0",
        ):
            sess.run(first, {pred: False})
