"""Writes tests/e2e/data/meta_graph/ for tests/e2e/test_meta_graph.py: run with TensorFlow 2.21
(compat.v1, v2 behaviour disabled), ``/tmp/tfenv/bin/python tests/oracle/meta_graph.py``.

A softmax classifier (``dense/w``, ``dense/b``) trained 10 steps of GradientDescent on fixed data,
saved by ``tf.train.Saver`` with its meta graph. Kept: ``model.ckpt.meta`` (TF's MetaGraphDef, with
the optimizer's ApplyGradientDescent ops, TF's gradient ops and the Saver's save/ ops);
``model.ckpt.npz``, the trained variables' values in tgc's checkpoint format (TF's binary bundle
is removed: tgc does not read it); ``values.npz``, the inputs ``x`` and TF's ``probs`` for them."""

import os

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()

OUT = os.path.join(os.path.dirname(__file__), "..", "e2e", "data", "meta_graph")


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
    for name in os.listdir(OUT):
        if name == "checkpoint" or ".data-" in name or name.endswith(".index"):
            os.remove(os.path.join(OUT, name))


if __name__ == "__main__":
    main()
