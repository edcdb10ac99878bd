"""Prints TF_VALUES for tests/e2e/test_cond.py: run with TensorFlow 2.21 (compat.v1, v2
behaviour disabled), e.g. ``/tmp/tfenv/bin/python tests/oracle/cond_oracle.py``. Each program is
the test's."""

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()
W0 = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -0.5], [-0.25, 0.5, 1.0]], np.float32)
X0 = np.array([0.3, -0.7, 1.1], np.float32)
out = {"version": tf.__version__}

x = t.placeholder(tf.float32, [])
y = t.cond(x > 0, lambda: tf.sqrt(x), lambda: -x)
(g,) = t.gradients(y, [x])
v = t.Variable(1.0)


def adds_ten():
    with t.control_dependencies([v.assign_add(10.0)]):
        return tf.identity(x)


z = t.cond(x > 0, adds_ten, lambda: v.assign(v * 3.0))
W = t.Variable(W0)
h = t.placeholder(tf.float32, [3])
m = t.cond(
    tf.reduce_sum(h) > 0,
    lambda: tf.tanh(tf.linalg.matvec(W, h)),
    lambda: tf.linalg.matvec(W, tf.linalg.matvec(W, h)) * h,
)
loss = tf.reduce_sum(m * m)
gW, gh = t.gradients(loss, [W, h])


def loop_body(i, s):
    s = t.cond(tf.equal(i % 2, 0), lambda: s * x, lambda: s + x * x)
    return i + 1, s


_, looped = t.while_loop(lambda i, s: i < 5, loop_body, [0, tf.constant(1.0)])
(glooped,) = t.gradients(looped, [x])
a = t.placeholder(tf.int32, [])
cased = t.case(
    [(a < 0, lambda: tf.constant(-1.0)), (a < 5, lambda: tf.constant(5.0))],
    default=lambda: tf.constant(99.0),
)
switched = t.switch_case(
    a, [lambda: tf.constant(10.0), lambda: tf.constant(11.0), lambda: tf.constant(12.0)]
)
switched_default = t.switch_case(
    a,
    {1: lambda: tf.constant(21.0), 0: lambda: tf.constant(20.0)},
    default=lambda: tf.constant(-7.0),
)
c = t.Variable(0.0)
b = t.placeholder(tf.float32, [])
case_assigns = t.case(
    [(b < 0, lambda: c.assign_add(1.0)), (b < 5, lambda: c.assign_add(100.0))],
    default=lambda: tf.identity(c),
)
(case_grad,) = t.gradients(
    t.case([(b < 0, lambda: b * b), (b < 5, lambda: tf.sin(b))], default=lambda: b * 3.0), [b]
)
with t.Session() as s:
    s.run(t.global_variables_initializer())
    out["sqrt_or_neg"] = [s.run([y, g], {x: -1.0}), s.run([y, g], {x: 4.0})]
    out["assigns"] = [s.run(z, {x: 2.0}), s.run(v), s.run(z, {x: -2.0}), s.run(v)]
    out["matvec"] = [s.run([loss, gW, gh], {h: X0}), s.run([loss, gW, gh], {h: -X0})]
    out["in_loop"] = s.run([looped, glooped], {x: 1.5})
    out["case"] = [s.run([cased, switched, switched_default], {a: k}) for k in (-3, 0, 1, 2, 7)]
    out["case_assigns"] = [s.run(case_assigns, {b: k}) for k in (-1.0, 1.0, 9.0)] + [s.run(c)]
    out["case_grad"] = [s.run(case_grad, {b: k}) for k in (-2.0, 1.0, 9.0)]
np.set_printoptions(precision=9)
for key, value in out.items():
    print(repr(key), ":", repr(value))
