"""TensorFlow's names for a gradient's backward ops (tgc/dialect/gradient_names.py): traced step
stats, run-time errors and the graph tools name them ``<scope>/<forward op>_grad/<Type>`` as TF's
gradients_util does, and a loop's gradient names its reruns of the body apart from the forward
loop's ops.

TF_NAMES are TensorFlow 2.21's (compat.v1, v2 behaviour disabled), printed by
``/tmp/tfenv/bin/python tests/oracle/gradient_names_oracle.py``; the graphs are built by the same
functions of that file.
"""

import importlib.util
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import tgc as tf

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "gradient_names_oracle.py"
_spec = importlib.util.spec_from_file_location("gradient_names_oracle", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

# Excerpts of the oracle's output (TF 2.21).
TF_DENSE_GRADIENTS = {  # a few of the 28 names tf.gradients(loss, [w, b]) adds
    "gradients/Mean_grad/Tile",
    "gradients/Square_grad/Mul",
    "gradients/dense/Relu_grad/ReluGrad",
    "gradients/dense/add_grad/Sum",
    "gradients/dense/add_grad/Reshape",
    "gradients/dense/MatMul_grad/MatMul",
    "gradients/dense/MatMul_grad/MatMul_1",
}
TF_SECOND_CALL_SCOPE = "gradients_1"  # "second_call_first_op": "gradients_1/Shape"
TF_CHECK_NUMERICS_NODE = "gradients/CheckNumerics_grad/CheckNumerics"
TF_CHECK_NUMERICS_MESSAGE = (  # TF prints the message as bytes: b'x is bad'
    "Not a number (NaN) or infinity (Inf) values detected in gradient. b'x is bad' : "
    "Tensor had Inf values"
)

TF_FED_DY_NODE = "gradients/Sin_grad/mul"
TF_FED_DY_MESSAGE = "Incompatible shapes: [3] vs. [4]"

FULL_TRACE = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def _traced(fetches, feeds=None, initialize=False):
    """(values, {node name: executions}) of one traced run."""
    metadata = tf.RunMetadata()
    with tf.Session() as sess:
        if initialize:
            sess.run(tf.global_variables_initializer())
        out = sess.run(fetches, feeds, options=FULL_TRACE, run_metadata=metadata)
    (device,) = metadata.step_stats.dev_stats
    return out, {n.node_name: n.executions for n in device.node_stats}


def test_a_training_steps_backward_ops_have_tfs_names():
    _, w, b, loss, feeds = oracle.dense_loss(tf)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    _, executions = _traced([loss, train], feeds, initialize=True)
    backward = {n for n in executions if n.startswith("gradients/") and n != "gradients/grad_ys"}
    # The names TF gives the same ops: w's gradient is MatMul's second matmul (x^T . dy), b's the
    # sum over the batch, relu's a select where TF has its ReluGrad kernel.
    assert {
        "gradients/dense/MatMul_grad/MatMul_1",
        "gradients/dense/add_grad/Sum",
    } <= backward & TF_DENSE_GRADIENTS
    assert "gradients/dense/Relu_grad/SelectV2" in backward
    # Every backward op is named after a forward op of the graph (or is a fan-out sum).
    graph = tf.get_default_graph()
    for name in backward:
        found = re.fullmatch(r"gradients/(.+)_grad/[A-Za-z0-9]+(_\d+)?", name)
        assert found or re.fullmatch(r"gradients/AddN(_\d+)?", name), name
        if found:
            assert graph.get_operation_by_name(found[1]).name == found[1]
    assert all(count == 1 for count in executions.values())


def test_a_second_gradient_call_has_its_own_scope():
    _, w, b, loss, feeds = oracle.dense_loss(tf)
    first = tf.gradients(loss, [w])
    # Of another y: the same y's backward ops would be merged with the first call's (CSE keeps the
    # first one's names).
    second = tf.gradients(loss * 2.0, [b])
    values, executions = _traced(first + second, feeds, initialize=True)
    assert TF_SECOND_CALL_SCOPE == "gradients_1"
    assert "gradients/dense/MatMul_grad/MatMul_1" in executions
    assert "gradients_1/dense/add_grad/Sum" in executions
    assert "gradients_1/mul_grad/Mul" in executions
    assert values[0].shape == (3, 2) and values[1].shape == (2,)


def test_an_error_in_a_backward_op_names_it_and_the_gradients_line():
    x, g = oracle.checked_sqrt_gradient(tf)
    line = _line_of("(g,) = t.gradients(", oracle.checked_sqrt_gradient)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {x: [4.0, 1.0, 0.25]}), [0.25, 0.5, 1.0])
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(g, {x: [0.0, 1.0, 4.0]})  # d sqrt(x)/dx at 0 is inf
    message = str(caught.value)
    # TF's node and "defined at" line (the tf.gradients call's); tgc writes the check's message
    # as text, TF as bytes.
    assert TF_CHECK_NUMERICS_MESSAGE.replace("b'x is bad'", "x is bad") in message
    node = f"[[node {TF_CHECK_NUMERICS_NODE} (defined at {_ORACLE}:{line}) ]]"
    assert node in message, message


def test_a_fed_gradient_of_another_shape_fails_in_a_backward_op():
    """A grad_ys of 4 elements for a y of 3 fails where the gradient reaches x's shape. TF fails
    one op later, in sin's gradient (its multiply's gradient does not test the shape: for
    y = x * 2 TF returns a gradient of 4 elements for x of 3); tgc's unbroadcast_like tests it,
    as the dims it proves equal afterwards (tgc-shape-equality) need."""
    x, dy, g = oracle.sin_gradient_fed_dy(tf)
    line = _line_of("(g,) = t.gradients(", oracle.sin_gradient_fed_dy)
    with tf.Session() as sess:
        ones = np.ones(3, np.float32)
        np.testing.assert_allclose(sess.run(g, {x: ones, dy: ones}), 2 * np.cos(ones), rtol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(g, {x: ones, dy: np.ones(4, np.float32)})
    message = str(caught.value)
    # TF's message, its shapes in the order of its failing op's operands (cos(x) times dy).
    assert message.startswith("Incompatible shapes: [4] vs. [3]"), message
    shapes = re.compile(r"\[\d+\]")
    assert sorted(shapes.findall(TF_FED_DY_MESSAGE)) == sorted(shapes.findall(message)[:2])
    assert TF_FED_DY_NODE == "gradients/Sin_grad/mul"  # one op after tgc's
    assert f"[[node gradients/mul_grad/UnbroadcastLike (defined at {_ORACLE}:{line}) ]]" in message


def _line_of(text: str, function) -> int:
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, source in enumerate(lines) if text in source)


def _loop_and_gradient():
    """v -> v * v * 0.5 five times from 2 (each step's derivative is v = 2): d/dv0 = 2**5."""
    i = tf.constant(0)
    v = tf.placeholder(tf.float32, [], name="v")
    _, final = tf.while_loop(lambda i, v: i < 5, lambda i, v: (i + 1, v * v * 0.5), [i, v])
    return v, final, tf.gradients(final, v)


def test_a_loop_gradient_counts_the_forward_body_ops_once_per_iteration():
    v, final, grad = _loop_and_gradient()
    (value, (g,)), executions = _traced([final, grad], {v: 2.0})
    assert value == 2.0 and g == pytest.approx(32.0)
    # The forward loop's ops: five iterations, the condition once more.
    assert executions["while/body/mul"] == 5 and executions["while/body/mul_1"] == 5
    assert executions["while/cond/Less"] == 6
    # The backward ops of the body's ops, once per backward iteration (TF: gradients/while/mul_grad/
    # Mul; tgc's body ops are while/body/...).
    assert executions["gradients/while/body/mul_grad/Mul"] == 5
    assert executions["gradients/while/body/mul_1_grad/Mul"] == 5
    # The gradient's reruns of the body, named apart. The loop recording each iteration's state
    # reruns the whole body; the trip count's loop only what the condition reads (i's add, not
    # the multiplies: tgc-dce removes them); the backward step recomputes nothing here (the
    # multiplies' gradients read v[k], a recorded state, only).
    assert executions["gradients/while_grad/record/while/body/mul"] == 5
    assert executions["gradients/while_grad/record/while/body/mul_1"] == 5
    assert executions["gradients/while_grad/count/while/body/add"] == 5
    assert executions["gradients/while_grad/count/while/cond/Less"] == 6
    assert not [n for n in executions if n.startswith("gradients/while_grad/count/") and "mul" in n]
    assert not [
        n for n in executions if n.startswith("gradients/while_grad/recompute/") and "mul" in n
    ]
    # The forward body's multiply runs twice per iteration in all: the forward loop's and the
    # record's (it was four times: the count's and the recomputation's too).
    assert sum(c for n, c in executions.items() if n.endswith("while/body/mul")) == 10
    assert executions["gradients/while_grad/While"] == 1
    assert executions["gradients/while_grad/cond/GreaterEqual"] == 6


def test_a_cond_gradient_names_its_branchs_backward_ops():
    x = tf.placeholder(tf.float32, [], name="x")
    y = tf.cond(x > 0, lambda: tf.sqrt(x), lambda: -x)
    (g,), executions = _traced(tf.gradients(y, x), {x: 4.0})
    assert g == pytest.approx(0.25)
    assert executions["cond/true/Sqrt"] == 1  # the forward branch's op, once
    assert executions["gradients/cond_grad/If"] == 1
    assert executions["gradients/cond_grad/recompute/cond/true/Sqrt"] == 1
    assert any(n.startswith("gradients/cond/true/Sqrt_grad/") for n in executions)


def test_a_loop_body_with_two_results_is_differentiated_in_one_sweep():
    """Both float results of the body come from one matmul: the backward step runs the matmul's
    gradient rule once for both (two matmuls, dx and dw), not once per result (four)."""
    w0 = np.array([[0.5, -0.25], [0.75, 0.1]], np.float32)
    x0 = np.array([[0.3, -0.2]], np.float32)
    w = tf.constant(w0, name="w")

    def body(i, a, b):
        h = tf.tanh(tf.matmul(a, w))
        return i + 1, h, b + 2.0 * h

    x = tf.placeholder(tf.float32, [1, 2], name="x")
    _, a, b = tf.while_loop(lambda i, a, b: i < 3, body, [tf.constant(0), x, tf.zeros([1, 2])])
    (g,), executions = _traced(tf.gradients(tf.reduce_sum(a) + tf.reduce_sum(b), x), {x: x0})
    grad_ops = [n for n in executions if n.startswith("gradients/while/body/MatMul_grad/")]
    assert sorted(grad_ops) == [
        "gradients/while/body/MatMul_grad/MatMul",
        "gradients/while/body/MatMul_grad/MatMul_1",
    ]
    np.testing.assert_allclose(g, _numeric_gradient(x0.astype(np.float64), w0), rtol=1e-3)


def _numeric_gradient(x0, w0, eps=1e-6):
    """Central differences of the loop's sum(a) + sum(b) in float64."""

    def f(x):
        a, b = x, np.zeros_like(x)
        for _ in range(3):
            h = np.tanh(a @ w0)
            a, b = h, b + 2.0 * h
        return a.sum() + b.sum()

    grad = np.zeros_like(x0)
    for index in np.ndindex(*x0.shape):
        step = np.zeros_like(x0)
        step[index] = eps
        grad[index] = (f(x0 + step) - f(x0 - step)) / (2 * eps)
    return grad
