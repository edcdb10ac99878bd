"""int8 and int16 arithmetic (TF1's basic_operations tutorial adds int16 placeholders): TF's
numbers, wrap-around included.

``TF_VALUES`` is the output of ``/tmp/tfenv/bin/python tests/oracle/narrow_int_oracle.py`` with
tensorflow-cpu 2.21.0; the programs here are the oracle's. uint8 arithmetic is tested in
tests/e2e/test_uint8.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf

A = [100, -7, 127, -128, 5, -9]
B = [7, 3, 2, 3, -2, 4]
TF_VALUES = {
    "int8": {
        "add": [107, -4, -127, -125, 3, -5],
        "sub": [93, -10, 125, 125, 7, -13],
        "mul": [-68, -21, -2, -128, -10, -36],
        "floordiv": [14, -3, 63, -43, -3, -3],
        "floormod": [2, 2, 1, 1, -1, 3],
        "maximum": [100, 3, 127, 3, 5, 4],
        "minimum": [7, -7, 2, -128, -2, -9],
        "negative": [-7, -3, -2, -3, 2, -4],
        "abs": [7, 3, 2, 3, 2, 4],
        "square": [49, 9, 4, 9, 4, 16],
        "sign": [1, -1, 1, -1, 1, -1],
        "less": [False, True, False, True, False, True],
        "equal": [False, False, False, False, False, False],
        "reduce_sum": 88,
        "reduce_mean": 2,
        "reduce_max": 127,
        "reduce_min": -128,
        "reduce_prod": 16,
        "to_float": [100.0, -7.0, 127.0, -128.0, 5.0, -9.0],
        "to_int32": [100000, -7000, 127000, -128000, 5000, -9000],
        "from_int32": [44, -21, 125, -128, 15, -27],
    },
    "int16": {
        "add": [107, -4, 129, -125, 3, -5],
        "sub": [93, -10, 125, -131, 7, -13],
        "mul": [700, -21, 254, -384, -10, -36],
        "floordiv": [14, -3, 63, -43, -3, -3],
        "floormod": [2, 2, 1, 1, -1, 3],
        "maximum": [100, 3, 127, 3, 5, 4],
        "minimum": [7, -7, 2, -128, -2, -9],
        "negative": [-7, -3, -2, -3, 2, -4],
        "abs": [7, 3, 2, 3, 2, 4],
        "square": [49, 9, 4, 9, 4, 16],
        "sign": [1, -1, 1, -1, 1, -1],
        "less": [False, True, False, True, False, True],
        "equal": [False, False, False, False, False, False],
        "reduce_sum": 88,
        "reduce_mean": 2,
        "reduce_max": 127,
        "reduce_min": -128,
        "reduce_prod": -1008,
        "to_float": [100.0, -7.0, 127.0, -128.0, 5.0, -9.0],
        "to_int32": [100000, -7000, 127000, -128000, 5000, -9000],
        "from_int32": [300, -21, 381, -384, 15, -27],
    },
}


def _program(dtype):
    a = tf.placeholder(dtype, [6])
    b = tf.placeholder(dtype, [6])
    return (a, b), {
        "add": a + b,
        "sub": a - b,
        "mul": a * b,
        "floordiv": a // b,
        "floormod": a % b,
        "maximum": tf.maximum(a, b),
        "minimum": tf.minimum(a, b),
        "negative": -b,
        "abs": tf.abs(b),
        "square": tf.square(b),
        "sign": tf.sign(a),
        "less": a < b,
        "equal": tf.equal(a, b),
        "reduce_sum": tf.reduce_sum(a),
        "reduce_mean": tf.reduce_mean(b),
        "reduce_max": tf.reduce_max(a),
        "reduce_min": tf.reduce_min(a),
        "reduce_prod": tf.reduce_prod(b),
        "to_float": tf.cast(a, tf.float32),
        "to_int32": tf.cast(a, tf.int32) * 1000,
        "from_int32": tf.cast(tf.cast(a, tf.int32) * 3, dtype),
    }


@pytest.mark.parametrize("name", ["int8", "int16"])
def test_narrow_int_arithmetic_gives_tfs_numbers(name):
    dtype = getattr(tf, name)
    (a, b), fetches = _program(dtype)
    with tf.Session() as sess:
        got = sess.run(fetches, {a: np.array(A), b: np.array(B)})
    for key, expected in TF_VALUES[name].items():
        value = np.asarray(got[key])
        assert value.tolist() == expected, key
        if key not in ("less", "equal", "to_float", "to_int32"):
            assert value.dtype == np.dtype(name), key


def test_the_basic_operations_tutorials_int16_placeholders():
    a = tf.placeholder(tf.int16)
    b = tf.placeholder(tf.int16)
    with tf.Session() as sess:
        assert sess.run(tf.add(a, b), {a: 2, b: 3}) == 5
        assert sess.run(tf.multiply(a, b), {a: 2, b: 3}) == 6


def test_matmul_of_int8_is_refused_as_tf_refuses_it():
    m = tf.constant(np.ones((2, 2), np.int8))
    with pytest.raises(ValueError, match="dtype int8 is not supported"):
        tf.matmul(m, m)


def test_uint8_casts_to_float():
    x = tf.placeholder(tf.uint8, [2])
    with tf.Session() as sess:
        got = sess.run(tf.cast(x, tf.float32) * 2.0, {x: np.array([200, 3], np.uint8)})
    np.testing.assert_array_equal(got, [400.0, 6.0])


def test_true_division_of_8_and_16_bit_ints_is_float32_as_in_tf():
    # TF 2.21 (compat.v1): (a / b).dtype is float32 for int8, uint8 and int16, float64 for int32
    # and int64 (TF's truediv table); a / b of [7] and [2] is 3.5 in each.
    for name, want in (("int8", "float32"), ("int16", "float32"), ("int32", "float64")):
        a = tf.placeholder(getattr(tf, name), [1])
        q = a / a
        assert q.dtype.name == want, name
        with tf.Session() as sess:
            assert sess.run(tf.truediv(a, 2), {a: [7]}).tolist() == [3.5], name


def test_integer_means_sum_without_wrapping_as_tf():
    # TF 2.21 (compat.v1): the mean of 1000 int8 100s is 100, of 1000 int16 30000s 30000, of three
    # int32 2**30s 2**30 (TF sums them wider); an int64 sum wraps (three 2**62s give
    # -1537228672809129301); integer means truncate toward zero (-7 and 2 give -2).
    x8 = tf.placeholder(tf.int8, [None])
    x16 = tf.placeholder(tf.int16, [None])
    x32 = tf.placeholder(tf.int32, [None, 3])
    x64 = tf.placeholder(tf.int64, [None])
    means = [
        tf.reduce_mean(x8),
        tf.reduce_mean(x16),
        tf.reduce_mean(x32),
        tf.reduce_mean(x64),
        tf.reduce_mean(x32, axis=0),
    ]
    feed = {
        x8: np.full(1000, 100, np.int8),
        x16: np.full(1000, 30000, np.int16),
        x32: np.array([[2**30] * 3, [2**30] * 3], np.int32),
        x64: np.full(3, 2**62, np.int64),
    }
    with tf.Session() as sess:
        got = sess.run(means, feed)
        columns = sess.run(means[-1], {x32: [[-7, 2, 3], [2, 2, 2]]})
    assert [int(v) for v in got[:4]] == [100, 30000, 2**30, -1537228672809129301]
    assert got[4].tolist() == [2**30] * 3
    assert columns.tolist() == [-2, 2, 2]


def _bool_and_byte_fills(gpu: bool):
    """Fills of bools and bytes, the numpy arrays they equal, and the feed. Unknown dims and uint8
    on the CPU only: the GPU targets compile static shapes and leave uint8 on the CPU
    (tgc/lowering/nvptx/target.py)."""
    b = tf.placeholder(tf.bool, [3 if gpu else None, 2])
    u8 = tf.placeholder(tf.uint8, [3])
    i8 = tf.placeholder(tf.int8, [2 if gpu else None])
    n = tf.placeholder(tf.int32, [])
    bv = np.array([[True, False], [False, True], [True, True]])
    u8v, i8v = np.array([1, 2, 255], np.uint8), np.array([-1, 7], np.int8)
    cases = [
        (tf.zeros_like(b), np.zeros_like(bv)),
        (tf.ones_like(b), np.ones_like(bv)),
        (tf.fill([2, 3], True), np.full((2, 3), True)),
        (tf.zeros([4], tf.bool), np.zeros(4, bool)),
        (tf.ones([2, 2], tf.bool), np.ones((2, 2), bool)),
        (tf.zeros_like(i8), np.zeros_like(i8v)),
        (tf.ones_like(i8), np.ones_like(i8v)),
        (tf.logical_or(tf.zeros_like(b), b), bv),
    ]
    if not gpu:
        cases.append((tf.fill(tf.stack([n, 2]), False), np.full((4, 2), False)))
        cases.append((tf.zeros_like(u8), np.zeros_like(u8v)))
        cases.append((tf.ones_like(u8), np.ones_like(u8v)))
    return cases, {b: bv, u8: u8v, i8: i8v, n: 4}


@pytest.mark.parametrize("target", ["cpu", "nvptx-emulated"])
def test_zeros_and_ones_of_bools_and_bytes(target):
    # zeros_like of a bool failed to compile: linalg.fill of an i1 scalar into the tensor that
    # tgc-bool-storage had widened to bytes. The values are numpy's (np.zeros_like and friends).
    # On the GPU they are placed there (hard placement), so the fills compile as GPU kernels.
    from tgc.dialect import targets

    gpu = target != "cpu"
    with tf.device("/gpu:0" if gpu else None):
        cases, feed = _bool_and_byte_fills(gpu)
    config = tf.ConfigProto(device_count={"GPU": 1}) if gpu else None
    with targets.selected(target):
        with tf.Session(config=config) as sess:
            got = sess.run([t for t, _ in cases], feed)
    for value, (tensor, expected) in zip(got, cases):
        assert value.dtype == expected.dtype, tensor.name
        np.testing.assert_array_equal(value, expected, err_msg=tensor.name)
