"""Every dtype of the TF1 API compiles and runs: float16, bfloat16, float32,
float64, int32, int64, bool."""

import ml_dtypes
import numpy as np
import pytest

import tgc as tf

NUMERIC = [tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int32, tf.int64]


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: d.name)
def test_matmul_add_reduce_in_each_numeric_dtype(dtype):
    x = tf.placeholder(dtype, [None, 2], name="x")
    y = tf.matmul(x, x, transpose_b=True)
    total = tf.reduce_sum(y + 1)
    a = np.array([[1, 2], [3, 4]], dtype=dtype.as_numpy_dtype)
    got_y, got_total = tf.Session().run([y, total], {x: a})
    ref = a.astype(np.float64) @ a.T.astype(np.float64)
    assert got_y.dtype == np.dtype(dtype.as_numpy_dtype)
    np.testing.assert_allclose(got_y.astype(np.float64), ref)
    np.testing.assert_allclose(float(got_total), ref.sum() + 4)


def test_bfloat16_constants_and_math():
    x = tf.placeholder(tf.bfloat16, [2], name="x")
    y = tf.exp(x * 0.5)
    a = np.array([1.0, 2.0], dtype=ml_dtypes.bfloat16)
    got = tf.Session().run(y, {x: a})
    np.testing.assert_allclose(got.astype(np.float32), np.exp(np.array([0.5, 1.0])), rtol=1e-2)


def test_bool_logic_and_casts():
    a = tf.placeholder(tf.int32, [3], name="a")
    positive = tf.greater(a, 0)
    both = tf.logical_and(positive, tf.less(a, 5))
    as_float = tf.cast(both, tf.float32)
    got = tf.Session().run([both, as_float], {a: [-1, 3, 9]})
    np.testing.assert_array_equal(got[0], [False, True, False])
    np.testing.assert_array_equal(got[1], [0.0, 1.0, 0.0])
