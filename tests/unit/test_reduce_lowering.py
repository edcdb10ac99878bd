"""Reductions lowered to linalg (tgc/lowering/to_core/reduce.py), run through tgc.Session.

Each reduction is compiled once for a placeholder with an unknown batch dim and fed two batch sizes;
results are compared with numpy. Also: the identities of max/min (inf for floats, the type's limits
for integers), first-index ties and NaN in argmax/argmin, integer means, dim_size read at run time.
"""

from __future__ import annotations

import numpy as np
import pytest
from mlir import ir

import tgc as tf
from tgc.dialect.context import make_context
from tgc.frontend.build import make_op
from tgc.passes.pipeline import run_pipeline

RNG = np.random.default_rng(7)

REDUCTIONS = {
    "reduce_sum": (tf.reduce_sum, np.sum),
    "reduce_mean": (tf.reduce_mean, np.mean),
    "reduce_max": (tf.reduce_max, np.max),
    "reduce_min": (tf.reduce_min, np.min),
    "reduce_prod": (tf.reduce_prod, np.prod),
}
AXES = [None, 0, 1, -1, [0, 2], [1, 2]]


def _run_two_batches(build, dtype, inner=(3, 4), batches=(2, 5), make=None):
    """Builds ``build(x)`` for x of shape [None, *inner]; runs it on two batch sizes in one session.

    Returns [(input, output)] per batch and the session's compile count.
    """
    x = tf.placeholder(dtype, [None, *inner])
    y = build(x)
    make = make or (lambda shape: RNG.uniform(0.5, 1.5, size=shape).astype(dtype.as_numpy_dtype))
    out = []
    with tf.Session() as sess:
        for n in batches:
            a = make((n, *inner))
            out.append((a, sess.run(y, {x: a})))
        return out, sess.compile_count


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_float_reductions_with_unknown_batch(name, axis, keepdims):
    tf_fn, np_fn = REDUCTIONS[name]
    runs, compiles = _run_two_batches(lambda x: tf_fn(x, axis=axis, keepdims=keepdims), tf.float32)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    for a, got in runs:
        want = np_fn(a, axis=np_axis, keepdims=keepdims)
        assert got.dtype == np.float32
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-5)
    assert compiles == 1  # one compiled function serves both batch sizes


def _ints(shape):
    return RNG.integers(-9, 10, size=shape).astype(np.int32)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", [None, 0, [1, 2]], ids=str)
def test_int32_reductions_with_unknown_batch(name, axis):
    tf_fn, np_fn = REDUCTIONS[name]
    runs, _ = _run_two_batches(lambda x: tf_fn(x, axis=axis), tf.int32, inner=(2, 3), make=_ints)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    for a, got in runs:
        assert got.dtype == np.int32
        if (
            name == "reduce_mean"
        ):  # integer mean: the sum divided by the count, truncated toward zero
            count = a.size // np.sum(a, axis=np_axis).size
            total = np.sum(a, axis=np_axis)
            want = np.sign(total) * (np.abs(total) // count)
        else:
            want = np_fn(a, axis=np_axis).astype(np.int32)
        np.testing.assert_array_equal(got, want)


def test_int_mean_truncates_toward_zero_as_tensorflow():
    x = tf.placeholder(tf.int64, [None, 2])
    a = np.array([[7, 0], [-7, 0], [5, 1]], dtype=np.int64)
    with tf.Session() as sess:
        got = sess.run(tf.reduce_mean(x, axis=1), {x: a})
    np.testing.assert_array_equal(got, np.array([3, -3, 3], dtype=np.int64))


def test_float_max_min_start_from_infinity():
    x = tf.placeholder(tf.float64, [None, 3])
    a = np.array([[-np.inf, -np.inf, -np.inf], [np.inf, np.inf, np.inf], [-1e308, 2.0, 1e308]])
    with tf.Session() as sess:
        mx, mn = sess.run([tf.reduce_max(x, axis=1), tf.reduce_min(x, axis=1)], {x: a})
    np.testing.assert_array_equal(mx, np.max(a, axis=1))
    np.testing.assert_array_equal(mn, np.min(a, axis=1))


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_int_max_min_start_from_the_type_limits(dtype):
    info = np.iinfo(dtype.as_numpy_dtype)
    x = tf.placeholder(dtype, [None, 2])
    a = np.array(
        [[info.min, info.min], [info.max, info.max], [info.min, info.max]],
        dtype=dtype.as_numpy_dtype,
    )
    with tf.Session() as sess:
        mx, mn = sess.run([tf.reduce_max(x, axis=1), tf.reduce_min(x, axis=1)], {x: a})
    np.testing.assert_array_equal(mx, np.max(a, axis=1))
    np.testing.assert_array_equal(mn, np.min(a, axis=1))


def test_max_propagates_nan_like_numpy():
    x = tf.placeholder(tf.float32, [None, 3])
    a = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    with tf.Session() as sess:
        mx, mn = sess.run([tf.reduce_max(x, axis=1), tf.reduce_min(x, axis=1)], {x: a})
    np.testing.assert_array_equal(mx, np.max(a, axis=1))
    np.testing.assert_array_equal(mn, np.min(a, axis=1))


# ---- argmax / argmin -----------------------------------------------------------------------------


def _with_ties(shape):
    # few distinct values: many ties, so "first index wins" is exercised
    return RNG.integers(0, 3, size=shape).astype(np.float32)


@pytest.mark.parametrize(
    "fn,np_fn", [(tf.argmax, np.argmax), (tf.argmin, np.argmin)], ids=["argmax", "argmin"]
)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("output_type", [tf.int32, tf.int64])
def test_arg_reductions_first_index_on_ties(fn, np_fn, axis, output_type):
    runs, compiles = _run_two_batches(
        lambda x: fn(x, axis=axis, output_type=output_type),
        tf.float32,
        inner=(4, 5),
        make=_with_ties,
    )
    for a, got in runs:
        assert got.dtype == output_type.as_numpy_dtype
        np.testing.assert_array_equal(got, np_fn(a, axis=axis))
    assert compiles == 1


@pytest.mark.parametrize(
    "fn,np_fn", [(tf.argmax, np.argmax), (tf.argmin, np.argmin)], ids=["argmax", "argmin"]
)
def test_arg_reductions_on_ints_and_extremes(fn, np_fn):
    info = np.iinfo(np.int64)
    x = tf.placeholder(tf.int64, [None, 3])
    a = np.array(
        [[info.min, info.min, info.min], [info.max, info.max, 0], [5, -2, 5]], dtype=np.int64
    )
    with tf.Session() as sess:
        got = sess.run(fn(x, axis=1), {x: a})
    np.testing.assert_array_equal(got, np_fn(a, axis=1))


@pytest.mark.parametrize(
    "fn,np_fn", [(tf.argmax, np.argmax), (tf.argmin, np.argmin)], ids=["argmax", "argmin"]
)
def test_arg_reductions_on_infinities_and_nan(fn, np_fn):
    x = tf.placeholder(tf.float64, [None, 4])
    a = np.array(
        [
            [-np.inf, -np.inf, -np.inf, -np.inf],
            [np.inf, np.inf, np.inf, np.inf],
            [1.0, np.nan, 5.0, np.nan],
            [np.nan, 1.0, 2.0, 3.0],
        ]
    )
    with tf.Session() as sess:
        got = sess.run(fn(x, axis=1), {x: a})
    np.testing.assert_array_equal(got, np_fn(a, axis=1))


# ---- dim_size ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [tf.float32, tf.int32, tf.int64])
@pytest.mark.parametrize("axes", [[0], [0, 2], [1], [], [0, 1, 2]], ids=str)
def test_dim_size_is_read_at_run_time(dtype, axes):
    runs, compiles = _run_two_batches(
        lambda x: make_op("dim_size", [x], axes=axes),
        dtype,
        inner=(3, 4),
        make=lambda shape: np.zeros(shape, dtype.as_numpy_dtype),
    )
    for a, got in runs:
        assert got.dtype == dtype.as_numpy_dtype and got.shape == ()
        assert got == int(np.prod([a.shape[i] for i in axes]))
    assert compiles == 1


def test_reduce_mean_gradient_divides_by_the_run_time_count():
    # the mean over the unknown batch axis divides by dim_size(x, [0]), known only when fed
    x = tf.placeholder(tf.float64, [None, 3])
    w = np.array([1.0, -2.0, 0.5])
    (g,) = tf.gradients(tf.reduce_sum(tf.reduce_mean(x, axis=0) * w), [x])
    with tf.Session() as sess:
        for n in (2, 5):
            got = sess.run(g, {x: np.ones((n, 3))})
            np.testing.assert_allclose(got, np.tile(w / n, (n, 1)))


# ---- the core IR ---------------------------------------------------------------------------------


def _to_core(src: str) -> str:
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(src)
        run_pipeline(module, "tgc-to-core")
        return str(module)


def test_float_max_lowers_to_maximumf_from_minus_infinity():
    text = _to_core("""
      func.func @main(%x: tensor<?x4xf32>) -> tensor<?xf32> {
        %0 = "tgc.reduce_max"(%x) {axes = array<i64: 1>, keepdims = false}
            : (tensor<?x4xf32>) -> tensor<?xf32>
        return %0 : tensor<?xf32>
      }""")
    assert "0xFF800000" in text  # -inf in f32
    assert "arith.maximumf" in text
    assert "tensor.dim" in text  # the batch dim is read at run time
    assert "tgc." not in text


def test_argmin_lowers_to_one_generic_with_two_accumulators():
    text = _to_core("""
      func.func @main(%x: tensor<?x4xi32>) -> tensor<?xi64> {
        %0 = "tgc.argmin"(%x) {axis = 1 : i64, output_type = i64}
            : (tensor<?x4xi32>) -> tensor<?xi64>
        return %0 : tensor<?xi64>
      }""")
    assert text.count("linalg.generic") == 1
    assert "linalg.index 1" in text
    assert "2147483647" in text  # the i32 maximum starts the running minimum
    assert "arith.cmpi slt" in text
