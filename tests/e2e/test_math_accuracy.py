"""Elementwise math against numpy in ulps, over magnitudes from 1e-12 to 30 of both signs, in a
Session and in the GPU's kernels emulated on the host: MLIR's expansions of tanh and sinh through
exp cancelled for small x (tanh(1e-7) in float32 was 8.9e-8, sinh(1e-7) 1.2e-7; below about
1e-11 both were 0, millions of ulps off), so those go to libm as numpy's do
(tgc/lowering/math_expansion.py). sign(NaN) is NaN, as TF 2.21's and numpy's (it was 0)."""

import numpy as np
import pytest

import tgc as tf
from tgc.dialect import targets

_RNG = np.random.default_rng(7)
_MAGNITUDES = np.concatenate([10.0 ** _RNG.uniform(-12, 1.5, 300), _RNG.uniform(0, 5, 100)])
VALUES = np.concatenate([_MAGNITUDES, -_MAGNITUDES])
# op -> (tgc function, numpy reference, its inputs from VALUES, ulps allowed)
FUNCTIONS = {
    "tanh": (tf.tanh, np.tanh, lambda v: v, 4),
    "sinh": (tf.sinh, np.sinh, lambda v: v, 4),
    "cosh": (tf.cosh, np.cosh, lambda v: v, 4),
    "tan": (tf.tan, np.tan, lambda v: v, 4),
    "exp": (tf.exp, np.exp, lambda v: v, 4),
    "expm1": (tf.expm1, np.expm1, lambda v: v, 4),
    "log1p": (tf.log1p, np.log1p, np.abs, 4),
    "rsqrt": (tf.rsqrt, lambda x: 1 / np.sqrt(x), np.abs, 4),
    "sigmoid": (tf.sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda v: v, 4),
}


def _ulps(got, want, dtype) -> np.ndarray:
    want_in_dtype = np.abs(want).astype(dtype)
    ulp = np.spacing(want_in_dtype).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / np.maximum(ulp, np.finfo(dtype).tiny)


def _run(dtype, on_gpu: bool) -> dict:
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(dtype, [len(VALUES)])
        device = tf.device("/gpu:0") if on_gpu else tf.device(None)
        with device:
            outs = {name: fn(prep_tf(x, prep)) for name, (fn, _, prep, _) in FUNCTIONS.items()}
        config = tf.ConfigProto(device_count={"GPU": 1}) if on_gpu else None
        with tf.Session(config=config) as sess:
            return sess.run(outs, {x: VALUES.astype(dtype)})


def prep_tf(x, prep):
    return tf.abs(x) if prep is np.abs else x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", ["cpu", "nvptx-emulated"])
def test_elementwise_math_within_a_few_ulps_of_numpy(dtype, where):
    if where == "cpu":
        got = _run(dtype, on_gpu=False)
    else:
        with targets.selected("nvptx-emulated"):
            got = _run(dtype, on_gpu=True)
    for name, (_, reference, prep, allowed) in FUNCTIONS.items():
        inputs = prep(VALUES.astype(dtype)).astype(np.float64)
        with np.errstate(over="ignore"):
            want = reference(inputs)
        finite = np.isfinite(want) & (np.abs(want) < np.finfo(dtype).max)
        error = _ulps(got[name][finite], want[finite], dtype)
        worst = int(np.argmax(error))
        assert error[worst] <= allowed, (
            f"{name} ({np.dtype(dtype).name}, {where}): {error[worst]:.0f} ulps at "
            f"x = {inputs[finite][worst]:.3g}"
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sign_of_nan_is_nan_and_of_zeros_zero(dtype):
    x = tf.placeholder(dtype, [5])
    with tf.Session() as sess:
        got = sess.run(tf.sign(x), {x: np.array([np.nan, -0.0, 0.0, -3.0, 2.0], dtype)})
    np.testing.assert_array_equal(got, np.array([np.nan, 0.0, 0.0, -1.0, 1.0], dtype))
