"""Prints TF_VALUES for tests/e2e/test_uint8.py: run with TensorFlow 2.21 (compat.v1, v2 behaviour
disabled), ``/tmp/tfenv/bin/python tests/oracle/uint8.py``. The programs are the test's: uint8
arithmetic with wrap-around (200 + 100 = 44), unsigned comparison and division, reductions (a sum
and a product wrap, a mean does not), image-like uses, and the ops TF has no uint8 kernel for
(their TypeError when the graph is built)."""

import json

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()
A = [200, 7, 0, 255, 100, 3]
B = [100, 3, 5, 2, 156, 9]
IMAGE = [[[255, 0, 10], [128, 64, 32]], [[0, 255, 200], [17, 129, 250]]]


def program(a, b):
    return {
        "add": a + b,
        "sub": a - b,
        "mul": a * b,
        "floordiv": a // b,
        "mod": a % b,
        "div": t.div(a, b),
        "truncatediv": t.truncatediv(a, b),
        "truediv": a / b,
        "maximum": t.maximum(a, b),
        "minimum": t.minimum(a, b),
        "less": a < b,
        "greater": a > b,
        "less_equal": a <= b,
        "greater_equal": a >= b,
        "equal": t.equal(a, b),
        "not_equal": t.not_equal(a, b),
        "square": t.square(a),
        "add_n": t.add_n([a, b, a]),
        "add_scalar": a + 100,
        "scalar_sub": 10 - a,
        "greater_scalar": a > 150,
        "clip": t.clip_by_value(a, 5, 150),
        "where": t.where(a > b, a, b),
        "reduce_sum": t.reduce_sum(a),
        "reduce_max": t.reduce_max(a),
        "reduce_min": t.reduce_min(a),
        "reduce_prod": t.reduce_prod(b),
        "reduce_mean": t.reduce_mean(a),
        "sum_axis": t.reduce_sum(t.reshape(a, [2, 3]), axis=1),
        "mean_axis": t.reduce_mean(t.reshape(a, [2, 3]), axis=0, keepdims=True),
        "max_axis": t.reduce_max(t.reshape(a, [2, 3]), axis=1),
        "argmax": t.argmax(a),
        "argmin": t.argmin(a),
        "count_nonzero": t.count_nonzero(a),
        "div_no_nan": t.div_no_nan(a, b),
        "to_int8": t.cast(a, t.int8),
        "to_int64": t.cast(a, t.int64) * 1000,
        "to_bool": t.cast(a, t.bool),
        "from_int32": t.cast(t.cast(a, t.int32) * 3 - 700, t.uint8),
        "from_float": t.cast(t.constant([-1.5, 255.9, 300.0, 3.7]), t.uint8),
    }


def image_program(img):
    return {
        "scaled": t.cast(img, t.float32) / 255.0,
        "max": t.reduce_max(img),
        "channel_max": t.reduce_max(img, axis=[0, 1]),
        "channel_mean": t.reduce_mean(img, axis=[0, 1]),
        "bright": t.cast(img > 128, t.float32),
        "inverted": 255 - img,
        "halved": img // 2,
    }


REFUSED = {
    "negative": lambda a, b: -a,
    "abs": lambda a, b: t.abs(a),
    "sign": lambda a, b: t.sign(a),
    "pow": lambda a, b: t.pow(a, b),
    "sqrt": lambda a, b: t.sqrt(a),
    "exp": lambda a, b: t.exp(a),
    "sigmoid": lambda a, b: t.sigmoid(a),
    "floor": lambda a, b: t.floor(a),
    "reciprocal": lambda a, b: t.reciprocal(a),
    "squared_difference": lambda a, b: t.squared_difference(a, b),
    "truncatemod": lambda a, b: t.truncatemod(a, b),
}

out = {"version": tf.__version__}
with tf.Graph().as_default():
    a = t.placeholder(t.uint8, [6])
    b = t.placeholder(t.uint8, [6])
    fetches = program(a, b)
    img = t.placeholder(t.uint8, [2, 2, 3])
    pictures = image_program(img)
    big = t.placeholder(t.uint8, [None])
    with t.Session() as sess:
        got = sess.run(fetches, {a: np.array(A, np.uint8), b: np.array(B, np.uint8)})
        out["values"] = {k: np.asarray(v).tolist() for k, v in got.items()}
        out["dtypes"] = {k: v.dtype.name for k, v in fetches.items()}
        got = sess.run(pictures, {img: np.array(IMAGE, np.uint8)})
        out["image"] = {k: np.asarray(v).tolist() for k, v in got.items()}
        many = {big: np.full(70000, 255, np.uint8)}
        out["big_mean"] = int(sess.run(t.reduce_mean(big), many))
        out["big_sum"] = int(sess.run(t.reduce_sum(big), many))
        try:
            sess.run(a // b, {a: np.array(A, np.uint8), b: np.array([1, 0, 1, 1, 1, 1], np.uint8)})
        except tf.errors.InvalidArgumentError as e:
            out["by_zero"] = [line for line in e.message.splitlines() if "division" in line]
out["refused"] = {}
for name, fn in REFUSED.items():
    with tf.Graph().as_default():
        try:
            fn(t.placeholder(t.uint8, [6]), t.placeholder(t.uint8, [6]))
            out["refused"][name] = "built"
        except TypeError:
            out["refused"][name] = "TypeError"
print(json.dumps(out))
