"""The registry's internal gradient ops (gather_grad, avg_pool_grad, max_pool_grad,
unbroadcast_like) check the operand sizes they read at run time where a dim is known only then:
graphs tgc builds give them agreeing operands, an artifact's hand-written IR need not, and a
mismatch must fail the run, never read or write past a buffer. Messages are TF's kernels' where
TF has the check (UnsortedSegmentSum: "data.shape = [3,2] does not start with segment_ids.shape =
[4]", TF 2.21)."""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
from tgc.frontend.build import make_op


def _cond_of(pred, a, b):
    """A tensor whose shape the graph does not know: a cond of two constants of different sizes."""
    return tf.cond(pred, lambda: tf.constant(a), lambda: tf.constant(b))


# ---- gather_grad (UnsortedSegmentSum) ------------------------------------------------------------


@pytest.mark.parametrize(
    "case, message",
    [
        ("g_rows", r"^data\.shape = \[3,2\] does not start with segment_ids\.shape = \[4\]"),
        ("id_count", r"^data\.shape = \[4,2\] does not start with segment_ids\.shape = \[3\]"),
        ("row_size", r"^UnsortedSegmentSum: data\.shape = \[4,3\] does not end with the output's "),
    ],
)
def test_gather_grad_checks_its_operand_sizes_at_run_time(case, message):
    pred = tf.placeholder(tf.bool, [])
    g, ids, params = tf.ones([4, 2]), tf.constant([0, 1, 1, 2]), tf.zeros([3, 2])
    if case == "g_rows":
        g = _cond_of(pred, np.ones((4, 2)), np.ones((3, 2)))
    elif case == "id_count":
        ids = _cond_of(pred, np.int32([0, 1, 1, 2]), np.int32([0, 1, 1]))
    else:
        g = _cond_of(pred, np.ones((4, 2)), np.ones((4, 3)))
    out = make_op("gather_grad", [g, ids, params])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(out, {pred: True}), [[1, 1], [2, 2], [1, 1]])
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            sess.run(out, {pred: False})


def test_gather_grads_gradient_is_zero_for_the_ids_it_drops():
    """The forward drops an id outside [0, rows) (boolean_mask relies on it); its gradient gives
    such an id 0, as TF's UnsortedSegmentSum gradient gives a negative id (_GatherDropNegatives),
    instead of failing gather's index check. Checked against finite differences."""
    g = tf.placeholder(tf.float64, [None, 2])
    ids = tf.placeholder(tf.int32, [None])
    params = tf.placeholder(tf.float64, [None, 2])
    w = tf.placeholder(tf.float64, [None, 2])
    loss = tf.reduce_sum(tf.square(make_op("gather_grad", [g, ids, params])) * w)
    (dg,) = tf.gradients(loss, [g])
    rng = np.random.default_rng(1)
    gv = rng.normal(size=(5, 2))
    with tf.Session() as sess:
        for rows in (3, 0):
            feeds = {ids: [0, -1, 3, 2, 0], params: np.zeros((rows, 2)), w: np.ones((rows, 2)) * 2}
            got = sess.run(dg, {**feeds, g: gv})
            numeric = np.zeros_like(gv)
            for i in np.ndindex(*gv.shape):
                step = np.zeros_like(gv)
                step[i] = 1e-6
                up = sess.run(loss, {**feeds, g: gv + step})
                down = sess.run(loss, {**feeds, g: gv - step})
                numeric[i] = (up - down) / 2e-6
            np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)
            assert not got[[1, 2]].any()  # the ids -1 and 3 are dropped


# ---- avg_pool_grad and max_pool_grad -------------------------------------------------------------

_POOL = {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"}
_OVERLAPPING = {"ksize": [1, 3, 3, 1], "strides": [1, 1, 1, 1], "padding": "SAME"}


def _ones(*shape):
    return np.ones(shape, np.float32)


@pytest.mark.parametrize("kind", ["avg_pool_grad", "max_pool_grad"])
@pytest.mark.parametrize(
    "attrs, good, bad, shown",
    [
        (_POOL, (2, 2, 2, 3), (1, 2, 2, 3), r"\[1,2,2,3\] is not the pooling's output shape \[2,"),
        (_POOL, (2, 2, 2, 3), (3, 2, 2, 3), r"\[3,2,2,3\]"),  # past x's batch
        (_POOL, (2, 2, 2, 3), (2, 3, 2, 3), r"\[2,3,2,3\]"),  # g's height known at run time only
        (_POOL, (2, 2, 2, 3), (2, 2, 2, 2), r"\[2,2,2,2\]"),
        (_OVERLAPPING, (2, 4, 4, 3), (2, 4, 3, 3), r"\[2,4,3,3\] is not .* \[2,4,4,3\]"),
        (_OVERLAPPING, (2, 4, 4, 3), (1, 4, 4, 3), r"\[1,4,4,3\]"),
    ],
)
def test_pool_gradients_check_the_gradients_shape_at_run_time(kind, attrs, good, bad, shown):
    """g's batch other than x's wrote past the result or read past g (a crash); g's height, width
    or depth known only at run time did not compile ('no size for dynamic dim')."""
    pred = tf.placeholder(tf.bool, [])
    x = tf.constant(np.arange(96, dtype=np.float32).reshape(2, 4, 4, 3))
    out = make_op(kind, [x, _cond_of(pred, _ones(*good), _ones(*bad))], **attrs)
    (want,) = (tf.gradients(getattr(tf.nn, kind[:-5])(x, **attrs), [x]),)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(out, {pred: True}), sess.run(want[0]))
        with pytest.raises(tf.errors.InvalidArgumentError, match=shown):
            sess.run(out, {pred: False})


@pytest.mark.parametrize("kind", ["avg_pool_grad", "max_pool_grad"])
def test_pool_gradients_of_an_input_batch_known_at_run_time(kind):
    pred = tf.placeholder(tf.bool, [])
    x = _cond_of(pred, _ones(2, 4, 4, 3), _ones(1, 4, 4, 3))
    out = make_op(kind, [x, tf.ones([2, 2, 2, 3])], **_POOL)
    with tf.Session() as sess:
        assert sess.run(out, {pred: True}).shape == (2, 4, 4, 3)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[2,2,2,3\] is not .* \[1,2,"):
            sess.run(out, {pred: False})


# ---- unbroadcast_like ----------------------------------------------------------------------------


def test_unbroadcast_like_checks_g_against_an_x_known_now():
    """g [?, 3] of 2 rows summed to a static x [4, 3] read 2 rows past g: the check compared the
    dims after the cast to x's static type."""
    pred = tf.placeholder(tf.bool, [])
    g = _cond_of(pred, _ones(4, 3), 2 * _ones(2, 3))
    out = make_op("unbroadcast_like", [g, tf.ones([4, 3])])
    summed = make_op(
        "unbroadcast_like", [_cond_of(pred, _ones(4, 3), _ones(5, 3)), tf.ones([1, 3])]
    )
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(out, {pred: True}), _ones(4, 3))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"^Incompatible shapes: \[2,3\]"):
            sess.run(out, {pred: False})
        np.testing.assert_array_equal(sess.run(summed, {pred: False}), [[5, 5, 5]])


# ---- strided_slice_grad, tile_grad, split_like ---------------------------------------------------


def test_strided_slice_grad_checks_g_against_the_slice():
    """g of 2 rows for a slice of 3 wrote past the result (SIGABRT in the probe)."""
    pred = tf.placeholder(tf.bool, [])
    g = _cond_of(pred, _ones(3, 2), _ones(4, 2))
    out = make_op(
        "strided_slice_grad",
        [g, tf.zeros([5, 2])],
        begin=[1, 0],
        end=[4, 2],
        strides=[1, 1],
        begin_mask=0,
        end_mask=0,
    )
    with tf.Session() as sess:
        np.testing.assert_array_equal(
            sess.run(out, {pred: True}), [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]]
        )
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^StridedSliceGrad: the gradient's shape \[4,2\] is not the slice's shape "
            r"\[3,2\]",
        ):
            sess.run(out, {pred: False})


def test_tile_grad_checks_g_against_the_tile():
    pred = tf.placeholder(tf.bool, [])
    x = _cond_of(pred, _ones(2, 3), _ones(1, 3))
    out = make_op("tile_grad", [tf.ones([4, 6]), x], multiples=[2, 2])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(out, {pred: True}), 4 * _ones(2, 3))
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^TileGrad: the gradient's shape \[4,6\] is not the tile's shape \[2,6\]",
        ):
            sess.run(out, {pred: False})


def test_split_like_checks_the_pieces_add_up_to_its_gradient():
    pred = tf.placeholder(tf.bool, [])
    x = _cond_of(pred, np.arange(10, dtype=np.float32).reshape(5, 2), _ones(4, 2))
    first, second = make_op("split_like", [x, tf.ones([2, 2]), tf.ones([3, 2])], axis=0)
    wide = _cond_of(pred, _ones(5, 2), _ones(5, 3))
    pieces = make_op("split_like", [wide, tf.ones([2, 2]), tf.ones([3, 2])], axis=0)
    with tf.Session() as sess:
        got = sess.run([first, second], {pred: True})
        np.testing.assert_array_equal(got[0], [[0, 1], [2, 3]])
        np.testing.assert_array_equal(got[1], [[4, 5], [6, 7], [8, 9]])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"pieces of 2 and 3 along axis 0 of a gradient of 4",
        ):
            sess.run(first, {pred: False})
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"a gradient of shape \[5,3\] for pieces of shape"
        ):
            sess.run(pieces[0], {pred: False})
