"""Prints TF_VALUES for tests/e2e/test_integer_division.py: run with TensorFlow 2.21 (compat.v1,
v2 behaviour disabled), ``/tmp/tfenv/bin/python tests/oracle/integer_division_oracle.py``. For each
integer dtype and each of TF1's integer divisions: the values for divisors without a zero
(negative operands, and the dtype's minimum divided by -1, which wraps), and the error class and
message when a divisor is 0 (the message's last line before TF's node annotation)."""

import json

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()

OPS = {
    "floordiv": lambda a, b: t.floordiv(a, b),
    "operator_floordiv": lambda a, b: a // b,
    "div": lambda a, b: t.div(a, b),
    "floormod": lambda a, b: t.floormod(a, b),
    "mod": lambda a, b: t.mod(a, b),
    "operator_mod": lambda a, b: a % b,
    "truncatediv": lambda a, b: t.truncatediv(a, b),
    "truncatemod": lambda a, b: t.truncatemod(a, b),
}


def operands(dtype):
    low = np.iinfo(dtype.as_numpy_dtype).min
    return [7, -7, 7, -7, low, 0], [2, 2, -2, -2, -1, 3]


def run(dtype, fn, x, y):
    g = tf.Graph()
    with g.as_default():
        a = t.placeholder(dtype, [len(x)])
        b = t.placeholder(dtype, [len(y)])
        try:
            r = fn(a, b)
        except TypeError:
            return "no kernel"
        with t.Session() as sess:
            try:
                return np.asarray(sess.run(r, {a: x, b: y})).tolist()
            except tf.errors.OpError as e:
                line = [s for s in e.message.splitlines() if s and not s.startswith("\t")][-1]
                return {"error": type(e).__name__, "message": line}


out = {"version": tf.__version__}
for dtype in (tf.int32, tf.int64, tf.int8, tf.int16):
    x, y = operands(dtype)
    out[dtype.name] = {
        name: {"values": run(dtype, fn, x, y), "by_zero": run(dtype, fn, [7, 1], [0, 1])}
        for name, fn in OPS.items()
    }
print(json.dumps(out))
