"""Prints TF_VALUES for tests/e2e/test_tensor_array.py: run with TensorFlow 2.21 (compat.v1, v2
behaviour disabled: TF1's graph TensorArray, TensorArrayV3), e.g.
``/tmp/tfenv/bin/python tests/oracle/tensor_array_oracle.py``. Each program is the test's."""

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()
X0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-2.0, 1.0, 0.75], [0.1, 0.2, 0.3]], np.float32)
W0 = np.array([[0.5, -0.25, 0.1], [0.3, 0.8, -0.6], [-0.4, 0.2, 0.9]], np.float32)
out = {"version": tf.__version__}

# 1. An RNN-like loop: unstack the inputs, read one per iteration, write the state, stack.
x = t.placeholder(tf.float32, [4, 3])
w = t.Variable(W0)
inputs = t.TensorArray(tf.float32, size=4).unstack(x)
states = t.TensorArray(tf.float32, size=4)


def rnn_body(i, h, ta):
    h = tf.tanh(tf.linalg.matvec(w, h) + inputs.read(i))
    return i + 1, h, ta.write(i, h)


_, h_final, states = t.while_loop(lambda i, h, ta: i < 4, rnn_body, [0, tf.zeros([3]), states])
stacked = states.stack()
loss = tf.reduce_sum(stacked * stacked) + tf.reduce_sum(h_final)
gx, gw = t.gradients(loss, [x, w])

# 2. dynamic_size: a loop of fed length writes i * x[0] + i^2; size, stack, concat, gather (which
# read index 3 more than once: TF needs clear_after_read=False for that).
n = t.placeholder(tf.int32, [])
dyn = t.TensorArray(tf.float32, size=0, dynamic_size=True, clear_after_read=False)


def dyn_body(i, ta):
    f = tf.cast(i, tf.float32)
    return i + 1, ta.write(i, x[0] * f + f * f)


_, dyn = t.while_loop(lambda i, ta: i < n, dyn_body, [0, dyn])
dyn_stacked = dyn.stack()
dyn_size = dyn.size()
dyn_concat = dyn.concat()
dyn_gathered = dyn.gather([3, 0])
(gdyn,) = t.gradients(tf.reduce_sum(dyn_stacked * dyn_stacked), [x])

# 3. Outside loops: write, read, scatter, split, identity.
ta = t.TensorArray(tf.float32, size=3, clear_after_read=False)
ta = ta.write(0, x[1]).write(2, x[2] * 2.0)
ta = ta.write(1, ta.read(0) + ta.read(2))
plain = ta.stack()
sc = t.TensorArray(tf.float32, size=4).scatter([2, 0, 3, 1], x)
scattered = sc.stack()
sp = t.TensorArray(tf.float32, size=2).split(tf.reshape(x, [12]), [6, 6])
split_read = sp.read(1)
(gplain,) = t.gradients(tf.reduce_sum(plain * plain) + tf.reduce_sum(split_read), [x])

# 4. Errors: a second write of index 0; unstack of the wrong size. Reading an index never written
# (element shape given, or inferred from a write) reads zeros.
errors = {}
cases = {
    "write_twice": lambda: t.TensorArray(tf.float32, size=2).write(0, 1.0).write(0, 2.0).stack(),
    "read_unwritten": lambda: t.TensorArray(tf.float32, size=3).write(0, x[0]).stack(),
    "unstack_size": lambda: t.TensorArray(tf.float32, size=3).unstack(x).stack(),
    "read_unwritten_shape": lambda: (
        t.TensorArray(tf.float32, size=2, element_shape=[3]).write(0, x[0]).stack()
    ),
}

with t.Session() as sess:
    sess.run(t.global_variables_initializer())
    values = sess.run([h_final, stacked, gx, gw], {x: X0})
    out["rnn"] = [v.tolist() for v in values]
    values = sess.run([dyn_stacked, dyn_size, dyn_concat, dyn_gathered, gdyn], {x: X0, n: 5})
    out["dynamic"] = [np.asarray(v).tolist() for v in values]
    values = sess.run([plain, scattered, split_read, gplain], {x: X0})
    out["plain"] = [v.tolist() for v in values]
    for key, make in cases.items():
        try:
            errors[key] = ("value", sess.run(make(), {x: X0}).tolist())
        except Exception as exc:  # noqa: BLE001 (the oracle records whatever TF raises)
            lines = [
                line for line in str(exc).splitlines() if "Could not" in line or "Input" in line
            ]
            errors[key] = (type(exc).__name__, lines[0].strip() if lines else str(exc))
    out["errors"] = errors

print("TF_VALUES =", out)
