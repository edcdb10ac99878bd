"""Prints TF_NAMES for tests/e2e/test_gradient_names.py: run with TensorFlow 2.21 (compat.v1, v2
behaviour disabled), ``/tmp/tfenv/bin/python tests/oracle/gradient_names_oracle.py``. The graphs
are built by the functions here, which take ``t`` (TF's compat.v1 or tgc), so that the test builds
the same ones: the names of the ops ``tf.gradients`` adds (TF's gradients_util), and the node a
run-time error in a backward op names."""

import json

import numpy as np


def dense_loss(t):
    """A dense layer (its own name scope), relu and a mean-square loss; returns (x, w, b, loss,
    feeds)."""
    x = t.placeholder(t.float32, [None, 3], name="x")
    w = t.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="w")
    b = t.Variable(np.array([0.5, -0.25], np.float32), name="b")
    with t.name_scope("dense"):
        h = t.nn.relu(t.matmul(x, w) + b)
    loss = t.reduce_mean(t.square(h))
    feeds = {x: np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)}
    return x, w, b, loss, feeds


def checked_sqrt_gradient(t):
    """d sum(sqrt(check_numerics(x))) / dx, infinite at x = 0: the check's gradient (a
    CheckNumerics of the incoming gradient, TF's _CheckNumericsGrad) fails. Returns (x, g)."""
    x = t.placeholder(t.float32, [3], name="x")
    checked = t.debugging.check_numerics(x, "x is bad")
    (g,) = t.gradients(t.reduce_sum(t.sqrt(checked)), [x])
    return x, g


def sin_gradient_fed_dy(t):
    """d(sin(x) * 2)/dx weighted by a fed grad_ys dy: a dy of another length than x's fails in
    a backward op. Returns (x, dy, g)."""
    x = t.placeholder(t.float32, [None], name="x")
    dy = t.placeholder(t.float32, [None], name="dy")
    (g,) = t.gradients(t.sin(x) * 2.0, [x], grad_ys=[dy])
    return x, dy, g


def _tf_names():
    import tensorflow as tf

    t = tf.compat.v1
    t.disable_v2_behavior()
    names = {}
    graph = t.Graph()
    with graph.as_default():
        _, w, b, loss, _ = dense_loss(t)
        before = len(graph.get_operations())
        t.gradients(loss, [w, b])
        names["dense_gradients"] = [op.name for op in graph.get_operations()[before:]]
        before = len(graph.get_operations())
        t.gradients(loss, [w])
        names["second_call_first_op"] = graph.get_operations()[before].name
    with t.Graph().as_default():
        x, g = checked_sqrt_gradient(t)
        with t.Session() as sess:
            try:
                sess.run(g, {x: np.array([0.0, 1.0, 4.0], np.float32)})
            except t.errors.InvalidArgumentError as error:
                names["check_numerics_error_node"] = error.op.name
                lines = error.message.split("\n")
                names["check_numerics_message"] = next(ln for ln in lines if "gradient." in ln)
    with t.Graph().as_default():
        x, dy, g = sin_gradient_fed_dy(t)
        with t.Session() as sess:
            try:
                sess.run(g, {x: np.ones(3, np.float32), dy: np.ones(4, np.float32)})
            except t.errors.InvalidArgumentError as error:
                names["fed_dy_error_node"] = error.op.name
                lines = error.message.split("\n")
                names["fed_dy_message"] = next(ln for ln in lines if "Incompatible" in ln)
    return names


if __name__ == "__main__":
    print(json.dumps({"tensorflow": "2.21.0", **_tf_names()}, indent=1))
