"""The extra float math (sin, cos, tan, atan, sinh, cosh, log1p, expm1, erf, ceil, round)
through Session, against numpy, in float32 and float64; the registry-wide tests cover
gradients and unknown dims."""

import math

import numpy as np
import pytest

import tgc as tf

CASES = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "erf": np.vectorize(math.erf),
    "ceil": np.ceil,
    "round": np.round,
}


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=lambda d: d.name)
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy(name, dtype):
    x = tf.placeholder(dtype, [None, 4], name="x")
    y = getattr(tf, name)(x)
    a = np.linspace(-0.95, 0.95, 8).reshape(2, 4).astype(dtype.as_numpy_dtype)
    got = tf.Session().run(y, {x: a})
    assert got.dtype == a.dtype
    np.testing.assert_allclose(
        got, CASES[name](a).astype(a.dtype), rtol=2e-6 if dtype == tf.float32 else 1e-12, atol=1e-7
    )


def test_round_sends_halves_to_even_as_tensorflow():
    x = tf.placeholder(tf.float32, [8], name="x")
    a = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6], np.float32)
    np.testing.assert_array_equal(
        tf.Session().run(tf.round(x), {x: a}), [0, 2, 2, -0, -2, -2, 2, -3]
    )


def test_math_functions_reject_integers_at_build_time():
    n = tf.placeholder(tf.int32, [3], name="n")
    with pytest.raises(ValueError, match=r"dtype int32 is not supported.*'Sin'"):
        tf.sin(n)
