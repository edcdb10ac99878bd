"""Writes tests/e2e/data/meta_graph/ for tests/e2e/test_meta_graph.py: run with TensorFlow 2.21
(compat.v1, v2 behaviour disabled), ``/tmp/tfenv/bin/python tests/oracle/meta_graph.py``.

A softmax classifier (``dense/w``, ``dense/b``) trained 10 steps of GradientDescent on fixed data,
saved by ``tf.train.Saver`` with its meta graph. Kept: ``model.ckpt.meta`` (TF's MetaGraphDef, with
the optimizer's ApplyGradientDescent ops, TF's gradient ops and the Saver's save/ ops);
``model.ckpt.npz``, the trained variables' values in tgc's checkpoint format (TF's binary bundle
is removed: tgc does not read it); ``values.npz``, the inputs ``x`` and TF's ``probs`` for them.

A second graph, ``random_init.ckpt.*``, has variables initialized as TF1 programs do
(``random_normal``, ``random_uniform``, ``truncated_normal``, ``get_variable``'s Glorot uniform):
``random_init_values.npz`` holds ``x``, TF's ``out`` and its variables' shapes."""

import os

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()

OUT = os.path.join(os.path.dirname(__file__), "..", "e2e", "data", "meta_graph")


def random_init():
    t.reset_default_graph()
    x = t.placeholder(tf.float32, [None, 3], name="x")
    w = t.Variable(t.random_normal([3, 2], seed=1), name="w")
    v = t.get_variable("v", [2, 2])
    u = t.Variable(t.random_uniform([2], -1.0, 1.0), name="u")
    k = t.Variable(t.truncated_normal([2], stddev=0.1), name="k")
    out = t.identity(t.matmul(t.matmul(x, w), v) + u + k, name="out")
    xs = np.ones((2, 3), np.float32)
    prefix = os.path.join(OUT, "random_init.ckpt")
    with t.Session() as sess:
        sess.run(t.global_variables_initializer())
        t.train.Saver().save(sess, prefix, write_state=False)
        np.savez(prefix + ".npz", **{var.op.name: sess.run(var) for var in t.global_variables()})
        np.savez(os.path.join(OUT, "random_init_values.npz"), x=xs, out=sess.run(out, {x: xs}))


def main():
    rng = np.random.RandomState(0)
    xs = rng.randn(6, 4).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    x = t.placeholder(tf.float32, [None, 4], name="x")
    y = t.placeholder(tf.float32, [None, 3], name="y")
    with t.variable_scope("dense"):
        w = t.Variable(rng.randn(4, 3).astype(np.float32), name="w")
        b = t.Variable(np.zeros(3, np.float32), name="b")
    logits = t.add(t.matmul(x, w), b, name="logits")
    probs = t.nn.softmax(logits, name="probs")
    loss = t.reduce_mean(t.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    train = t.train.GradientDescentOptimizer(0.5).minimize(loss)
    t.add_to_collection("train_op", train)
    os.makedirs(OUT, exist_ok=True)
    prefix = os.path.join(OUT, "model.ckpt")
    with t.Session() as sess:
        sess.run(t.global_variables_initializer())
        for _ in range(10):
            sess.run(train, {x: xs, y: labels})
        t.train.Saver().save(sess, prefix)
        values = dict(zip(["dense/w", "dense/b"], sess.run([w, b])))
        np.savez(prefix + ".npz", **values)
        np.savez(os.path.join(OUT, "values.npz"), x=xs, probs=sess.run(probs, {x: xs}))
    random_init()
    for name in os.listdir(OUT):
        if name == "checkpoint" or ".data-" in name or name.endswith(".index"):
            os.remove(os.path.join(OUT, name))


if __name__ == "__main__":
    main()
