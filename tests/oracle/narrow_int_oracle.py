"""Prints TF_VALUES for tests/e2e/test_narrow_ints.py: run with TensorFlow 2.21 (compat.v1, v2
behaviour disabled), ``/tmp/tfenv/bin/python tests/oracle/narrow_int_oracle.py``. The programs are
the test's: int8 and int16 arithmetic, with wrap-around and negative operands. (TF's MatMul takes
no int8 or int16; neither does tgc's.)"""

import json

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()
A = [100, -7, 127, -128, 5, -9]
B = [7, 3, 2, 3, -2, 4]


def program(dtype):
    a = t.placeholder(dtype, [6])
    b = t.placeholder(dtype, [6])
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


out = {"version": tf.__version__}
for name, dtype in (("int8", tf.int8), ("int16", tf.int16)):
    (a, b), fetches = program(dtype)
    with t.Session() as sess:
        got = sess.run(fetches, {a: np.array(A), b: np.array(B)})
    out[name] = {k: np.asarray(v).tolist() for k, v in got.items()}
print(json.dumps(out))
