"""Oracle values of tests/e2e/test_while_loop.py: the same programs under TensorFlow's compat.v1.

Run with tensorflow-cpu 2.21.0 in a virtualenv of its own (TensorFlow is not a tgc dependency):

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install -q tensorflow-cpu==2.21.0
    /tmp/tfenv/bin/python tests/oracle/while_loop_oracle.py
"""

import numpy as np
import tensorflow
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
print("version", tensorflow.__version__)


def run(build, feed=None):
    g = tf.Graph()
    with g.as_default():
        out, feeds = build()
        with tf.Session() as s:
            return s.run(out, {feeds[k]: v for k, v in (feed or {}).items()} if feeds else None)


# 1. counting (TF docs)
def b1():
    i = tf.constant(0)
    return tf.while_loop(lambda i: tf.less(i, 10), lambda i: tf.add(i, 1), [i]), None


print("count", run(b1))


# 2. sum of squares
def b2():
    i = tf.constant(1)
    acc = tf.constant(0.0)
    return tf.while_loop(
        lambda i, a: i <= 5, lambda i, a: (i + 1, a + tf.cast(i * i, tf.float32)), [i, acc]
    ), None


print("sumsq", run(b2))

# 3. matrix power
M = np.array([[0.5, 1.0], [-0.25, 0.75]], np.float32)


def b3():
    m = tf.constant(M)
    p = tf.eye(2)
    k = tf.constant(0)
    return tf.while_loop(lambda k, p: k < 7, lambda k, p: (k + 1, tf.matmul(p, m)), [k, p]), None


print("matpow", repr(run(b3)[1]))


# 4. maximum_iterations
def b4():
    i = tf.constant(0)
    x = tf.constant(1.0)
    return tf.while_loop(
        lambda i, x: x < 1000.0, lambda i, x: [i + 1, x * 3.0], [i, x], maximum_iterations=4
    ), None


print("maxit", run(b4))


# 5. captured placeholder
def b5():
    p = tf.placeholder(tf.float32, [3])
    x = tf.zeros([3])
    i = tf.constant(0)
    return tf.while_loop(lambda i, x: i < 4, lambda i, x: (i + 1, x * 0.5 + p), [i, x]), {"p": p}


print("capture", repr(run(b5, {"p": np.array([1.0, 2.0, -4.0], np.float32)})[1]))


# 6. nested loops
def b6():
    def outer_body(i, total):
        j = tf.constant(0)
        _, inner = tf.while_loop(
            lambda j, s: j < i, lambda j, s: (j + 1, s + j), [j, tf.constant(0)]
        )
        return i + 1, total + inner

    return tf.while_loop(lambda i, t: i < 5, outer_body, [tf.constant(0), tf.constant(0)]), None


print("nested", run(b6))


# 7. nested structure
def b7():
    x = (tf.constant(1.0), [tf.constant(2.0), tf.constant(3)])

    def body(a, bc):
        b, c = bc
        return (a + b, [b * 2.0, c - 1])

    return tf.while_loop(lambda a, bc: bc[1] > 0, body, x), None


print("struct", run(b7))


# 8. collatz with int64 (TF: while_loop docs-like)
def b8():
    n = tf.constant(27, tf.int64)
    steps = tf.constant(0)

    def body(n, steps):
        return tf.where(tf.equal(n % 2, 0), n // 2, 3 * n + 1), steps + 1

    return tf.while_loop(lambda n, s: n > 1, body, [n, steps]), None


print("collatz", run(b8))

# 9. shape change error
try:  # noqa: SIM105
    g = tf.Graph()
    with g.as_default():
        tf.while_loop(
            lambda x: tf.reduce_sum(x) < 10.0, lambda x: tf.concat([x, x], 0), [tf.ones([1])]
        )
except ValueError as e:
    print("shape error:", str(e)[:300])


# 10. gradients through a loop: a tanh recurrence h <- tanh(W h + b) run 5 times
W0 = np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [-0.2, 0.3, 0.7]], np.float32)
B0 = np.array([0.1, -0.2, 0.05], np.float32)
H0 = np.array([1.0, -0.5, 0.25], np.float32)


def b10():
    w = tf.constant(W0)
    b = tf.constant(B0)
    h0 = tf.constant(H0)

    def body(i, h):
        return i + 1, tf.tanh(tf.linalg.matvec(w, h) + b)

    _, h = tf.while_loop(lambda i, h: i < 5, body, [tf.constant(0), h0])
    loss = tf.reduce_sum(h * h)
    return tf.gradients(loss, [w, b, h0]) + [loss], None


print("rnn_grads", [repr(a) for a in run(b10)])


# 11. shape invariants: TF's docs example, a matrix doubling its rows 10 times
def b11():
    i0 = tf.constant(0)
    m0 = tf.ones([2, 2])
    _, m = tf.while_loop(
        lambda i, m: i < 10,
        lambda i, m: [i + 1, tf.concat([m, m], axis=0)],
        loop_vars=[i0, m0],
        shape_invariants=[i0.get_shape(), tf.TensorShape([None, 2])],
    )
    return [tf.shape(m), tf.reduce_sum(m), tf.constant(str(m.shape))], None


print("invariants", run(b11))

# 12. an incompatible shape invariant
try:  # noqa: SIM105
    g = tf.Graph()
    with g.as_default():
        tf.while_loop(
            lambda x: True, lambda x: x, [tf.ones([2])], shape_invariants=[tf.TensorShape([3])]
        )
except ValueError as e:
    print("invariant error:", str(e)[:300])


# 13. Variables assigned in the body
def b13():
    v = tf.Variable(1.0)
    total = tf.Variable(0.0)

    def body(i):
        with tf.control_dependencies([v.assign(v * 2.0)]):
            with tf.control_dependencies([total.assign_add(v.read_value())]):
                return i + 1

    r = tf.while_loop(lambda i: i < 4, body, [tf.constant(0)])
    return [r, v, total], None


def run_twice(build):
    g = tf.Graph()
    with g.as_default():
        (r, v, total), _ = build()
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            first = s.run(r), s.run([v, total])
            second = s.run(r), s.run([v, total])
            return first, second


print("assigned", run_twice(b13))


# 14. foldl, foldr, scan, map_fn (and a gradient through map_fn)
def b14():
    e = tf.constant(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    m = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    mapped = tf.map_fn(lambda r: tf.reduce_sum(r) * r, m)
    return [
        tf.foldl(lambda a, x: a + x, e),
        tf.foldl(lambda a, x: a * 2.0 + x, e, initializer=tf.constant(1.0)),
        tf.foldr(lambda a, x: a * 2.0 + x, e),
        tf.foldr(lambda a, x: a * 2.0 + x, e, initializer=tf.constant(1.0)),
        tf.scan(lambda a, x: a + x, e),
        tf.scan(lambda a, x: a * x, e, initializer=tf.constant(1.0)),
        tf.map_fn(lambda x: x * x, e),
        mapped,
        tf.gradients(tf.reduce_sum(mapped * mapped), [m])[0],
    ], None


print("functional", [repr(a) for a in run(b14)])


# 15. a bool loop variable beside a float one, and the gradient
def b15():
    x = tf.placeholder(tf.float32, [])
    _, _, y = tf.while_loop(
        lambda i, go, y: tf.logical_and(go, i < 10),
        lambda i, go, y: (i + 1, y < 100.0, y * x),
        [tf.constant(0), tf.constant(True), x],
    )
    return [y, tf.gradients(y, [x])[0]], {"x": x}


print("bool var", run(b15, {"x": 2.0}))
