"""Prints what TF 2.21 (compat.v1, v2 behaviour disabled) writes and raises for the programs of
tests/e2e/test_debug_ops.py: tf.Print, tf.print, check_numerics, tf.Assert and the assert_* family,
tf.gather out of range. Run: ``/tmp/tfenv/bin/python tests/oracle/print_oracle.py`` (stderr carries
the prints; each case is framed by ``== name`` lines on stdout, flushed, so 2>&1 interleaves them).
"""

import sys

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()
print("version", tf.__version__, flush=True)


def case(name, fetch, feed=None):
    print(f"== {name}", flush=True)
    with t.Session() as s:
        try:
            s.run(fetch, feed)
        except tf.errors.OpError as e:
            print(f"ERROR {type(e).__name__}: {e.message!r}", flush=True)
    sys.stderr.flush()
    print("== end", flush=True)


def fresh():
    t.reset_default_graph()


fresh()
x = tf.constant([1, 2, 3])
case("Print vector", t.Print(x, [x], message="x is "))
fresh()
m = tf.constant([[1.5, 2.0], [3.25, -4.0]])
case("Print matrix summarize 3", t.Print(m, [m], message="m: "))
fresh()
m = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4) / 3)
case("Print summarize 5 two data", t.Print(m, [m, tf.constant(7)], message="", summarize=5))
fresh()
b = tf.constant([True, False, True])
case("Print bool", t.Print(b, [b, tf.constant(2.5, tf.float64)], message="b"))
fresh()
v = tf.constant(np.arange(10, dtype=np.int64))
case("Print summarize -1", t.Print(v, [v], summarize=-1))
fresh()
i = t.placeholder(tf.int32, [])
p = t.Print(i, [i], message="n=", first_n=2)
print("== Print first_n", flush=True)
with t.Session() as s:
    for k in range(4):
        s.run(p, {i: k})
sys.stderr.flush()
print("== end", flush=True)

fresh()
x = tf.constant([1, 2, 3])
case("print vector", tf.print("x:", x))
fresh()
m = tf.constant(np.arange(100, dtype=np.int32).reshape(10, 10))
case("print 10x10", tf.print(m))
fresh()
m = tf.constant(np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 4)
case("print 3d summarize 2", tf.print(m, summarize=2))
fresh()
case(
    "print sep end scalar",
    tf.print(tf.constant(1.5), tf.constant(True), "s", 7, sep="|", end="!\n"),
)
fresh()
f = tf.constant([0.1, 1.0 / 3.0, 1e-7, 123456789.0, float("nan"), float("inf")], tf.float32)
case("print floats", tf.print(f, summarize=-1))
case("Print floats", t.Print(f, [f], summarize=-1))
fresh()
d = tf.constant([0.1, 1.0 / 3.0, 2.0], tf.float64)
case("print doubles", tf.print(d))
case("Print doubles", t.Print(d, [d]))
fresh()
n = t.placeholder(tf.int32, [])
r = t.while_loop(
    lambda i: i < 3,
    lambda i: tf.tuple([i + 1], control_inputs=[tf.print("step", i)])[0],
    [tf.constant(0)],
)
case("print in while", r)
fresh()
x = tf.constant([1.0, 0.0, -1.0])
case("check_numerics nan", t.check_numerics(tf.math.log(x), "log of x"))
case("check_numerics inf", t.check_numerics(1.0 / tf.constant([1.0, 0.0]), "div"))
case(
    "check_numerics both",
    t.check_numerics(tf.constant([1.0, 0.0, -1.0]) / tf.constant([0.0, 0.0, 1.0]), "q"),
)
fresh()
a = tf.constant([1.0, 0.0])
y = tf.math.log(a, name="mylog")
chk = t.add_check_numerics_ops()
case("add_check_numerics_ops", [y, chk])
fresh()
x = t.placeholder(tf.float32, [3])
a = t.Assert(tf.reduce_all(x > 0), ["x must be positive", x])
case("Assert", a, {x: [1.0, -2.0, 3.0]})
fresh()
x = t.placeholder(tf.int32, [None])
y = t.placeholder(tf.int32, [None])
case("assert_equal", t.assert_equal(x, y), {x: [1, 2, 3], y: [1, 5, 3]})
case("assert_less", t.assert_less(x, y), {x: [1, 2, 3], y: [2, 2, 4]})
case("assert_less_equal", t.assert_less_equal(x, y), {x: [1, 2, 3], y: [2, 2, 2]})
case("assert_greater", t.assert_greater(x, y), {x: [1, 2, 3], y: [0, 2, 4]})
case("assert_positive", t.assert_positive(x), {x: [1, 0, 3]})
case("assert_non_negative", t.assert_non_negative(x), {x: [1, -1, 3]})
case("assert_negative", t.assert_negative(x, message="neg!"), {x: [-1, 0]})
fresh()
try:
    t.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]))
except Exception as e:
    print("static assert_equal", type(e).__name__, str(e).splitlines()[:3])
try:
    t.assert_rank(tf.constant([1, 2]), 2)
except Exception as e:
    print("static assert_rank", type(e).__name__, str(e).splitlines()[:3])
try:
    t.assert_type(tf.constant([1, 2]), tf.float32)
except Exception as e:
    print("static assert_type", type(e).__name__, str(e).splitlines()[:3])
fresh()
p = t.placeholder(tf.float32, None)
case("assert_rank dynamic", t.assert_rank(p, 2), {p: [1.0, 2.0]})
fresh()
params = tf.constant(np.arange(10, dtype=np.float32).reshape(5, 2))
idx = t.placeholder(tf.int32, None)
case("gather oob", tf.gather(params, idx), {idx: [0, 1, 4, 7]})
case("gather oob 2d", tf.gather(params, idx), {idx: [[0, 1, 2], [3, -1, 9]]})
case("embedding_lookup oob", tf.nn.embedding_lookup(params, idx), {idx: [5]})
fresh()
a = t.placeholder(tf.int32, [])
exclusive = t.case(
    [(a < 5, lambda: tf.constant(1.0)), (a < 9, lambda: tf.constant(2.0))],
    default=lambda: tf.constant(3.0),
    exclusive=True,
)
case("case exclusive", exclusive, {a: 1})
no_default = t.case([(a < 0, lambda: tf.constant(1.0)), (a > 9, lambda: tf.constant(2.0))])
case("case no default", no_default, {a: 5})
