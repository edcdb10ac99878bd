"""tf.pow of floats against numpy's np.power (C's pow, which TensorFlow's kernel calls too) on a
grid of special values: negative bases with integer and fractional exponents, signed zeros,
infinities and NaN, in float32 and float64, in a Session, an artifact and the GPU's kernels
emulated on the host. math-expand-ops turned pow into exp(y * log(x)), NaN for every negative
base: (-2)^3 and (-1)^-1 were NaN (random-graph campaign seed 310178, control flow 40 %)."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

import tgc as tf
import tgc.runtime
from tgc.dialect import targets

SPECIAL = [-np.inf, -3.0, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 3.0, np.inf, np.nan]
BASES, EXPONENTS = (np.array(v) for v in zip(*itertools.product(SPECIAL, SPECIAL)))


def _expected(dtype):
    with np.errstate(all="ignore"):
        return np.power(BASES.astype(dtype), EXPONENTS.astype(dtype))


def _assert_same(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))  # -0.0, -8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pow_of_special_values_in_a_session(dtype):
    x = tf.placeholder(dtype, [len(BASES)])
    y = tf.placeholder(dtype, [len(BASES)])
    with tf.Session() as sess:
        got = sess.run(tf.pow(x, y), {x: BASES.astype(dtype), y: EXPONENTS.astype(dtype)})
    _assert_same(got, _expected(dtype))


def test_pow_of_special_values_in_an_artifact(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(
        "import tgc as tf\n"
        f"x = tf.placeholder(tf.float32, [{len(BASES)}], name='x')\n"
        f"y = tf.placeholder(tf.float32, [{len(BASES)}], name='y')\n"
        "z = tf.pow(x, y, name='z')\n"
    )
    out = tmp_path / "art"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tgc.tools.cli",
            "compile",
            str(model),
            "--fetch",
            "z",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    artifact = tgc.runtime.load(str(out))
    got = artifact(x=BASES.astype(np.float32), y=EXPONENTS.astype(np.float32))["z"]
    _assert_same(got, _expected(np.float32))


def test_pow_of_special_values_on_the_gpu_emulated():
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [len(BASES)])
        y = tf.placeholder(tf.float32, [len(BASES)])
        with tf.device("/gpu:0"):
            z = tf.pow(x, y)
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            got = sess.run(z, {x: BASES.astype(np.float32), y: EXPONENTS.astype(np.float32)})
    _assert_same(got, _expected(np.float32))


def test_the_gradient_of_a_negative_base_to_an_integer_power():
    """d/dx x^y = y x^(y - 1): at x = -2, y = 3 it is 12; d/dy is 0 where x <= 0 (TF's rule)."""
    x = tf.placeholder(tf.float64, [2])
    y = tf.placeholder(tf.float64, [2])
    dx, dy = tf.gradients(tf.reduce_sum(tf.pow(x, y)), [x, y])
    with tf.Session() as sess:
        got_dx, got_dy = sess.run([dx, dy], {x: [-2.0, -1.0], y: [3.0, -1.0]})
    np.testing.assert_allclose(got_dx, [12.0, -1.0])
    np.testing.assert_array_equal(got_dy, [0.0, 0.0])
