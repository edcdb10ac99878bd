"""`tf.cond` that runs only the taken branch (tgc.if -> scf.if), `tf.case` and `tf.switch_case`,
checked against numpy and TensorFlow's own numbers.

``TF_VALUES`` are the output of

    /tmp/tfenv/bin/python tests/oracle/cond_oracle.py

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled; the venv as in
tests/e2e/test_while_loop.py); the script builds the same programs. float32 values are compared at
rtol 1e-6 (the same float32 operations on both sides; a matvec of 3 terms may round its sum in
another order, 1e-6 covers that); the error messages are TF's where tgc raises the same error.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf

W0 = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -0.5], [-0.25, 0.5, 1.0]], np.float32)
X0 = np.array([0.3, -0.7, 1.1], np.float32)

# Printed by tests/oracle/cond_oracle.py under TensorFlow 2.21.0.
TF_VALUES = {
    "sqrt_or_neg": [[1.0, -1.0], [2.0, 0.25]],
    "assigns": [2.0, 11.0, 33.0, 33.0],
    "matvec": [
        [
            1.308598,
            [
                [0.16754074, -0.3909284, 0.61431605],
                [-0.2304093, 0.5376217, -0.844834],
                [0.23081566, -0.53856987, 0.8463241],
            ],
            [-1.0651582, -0.7497995, 1.2930183],
        ],
        [
            0.55407,
            [
                [6.8514383e-01, -1.1104187e00, 1.6699625e00],
                [1.1221499e00, -8.9109993e-01, 1.1350437e00],
                [1.6895628e-01, -9.8128617e-04, -5.8849946e-02],
            ],
            [-2.5842187, 2.1662345, 0.06849996],
        ],
    ],
    "in_loop": [11.8125, 27.0],
    # (case with default, switch_case of 3, switch_case dict with default) at a = -3, 0, 1, 2, 7
    "case": [
        [-1.0, 12.0, -7.0],
        [5.0, 10.0, 20.0],
        [5.0, 11.0, 21.0],
        [5.0, 12.0, -7.0],
        [99.0, 12.0, -7.0],
    ],
    "case_assigns": [1.0, 101.0, 101.0, 101.0],
    "case_grad": [-4.0, 0.5403023, 3.0],
}


def matvec(m, v):
    """tf.linalg.matvec (the oracle's) as a matmul: the same three products and sums."""
    return tf.reshape(tf.matmul(m, tf.reshape(v, [3, 1])), [3])


def run(fetches, feeds=None, init=False):
    with tf.Session() as sess:
        if init:
            sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feeds)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_only_the_taken_branch_runs_and_its_gradient_has_no_nan():
    # A select computes sqrt(-1) = NaN and its gradient NaN * 0 = NaN at x = -1; TF's cond, and
    # tgc's, run -x only.
    x = tf.placeholder(tf.float32, [])
    y = tf.cond(x > 0, lambda: tf.sqrt(x), lambda: -x)
    (g,) = tf.gradients(y, [x])
    with tf.Session() as sess:
        got = [sess.run([y, g], {x: -1.0}), sess.run([y, g], {x: 4.0})]
    np.testing.assert_array_equal(np.array(got), np.array(TF_VALUES["sqrt_or_neg"], np.float32))


def test_branches_assign_variables_only_when_taken():
    x = tf.placeholder(tf.float32, [])
    v = tf.Variable(1.0)

    def adds_ten():
        with tf.control_dependencies([v.assign_add(10.0)]):
            return tf.identity(x)

    z = tf.cond(x > 0, adds_ten, lambda: v.assign(v * 3.0))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = [sess.run(z, {x: 2.0}), sess.run(v), sess.run(z, {x: -2.0}), sess.run(v)]
    assert got == TF_VALUES["assigns"]  # 2, then v = 1 + 10; -2 -> v = 11 * 3


def test_gradients_to_a_variable_and_a_placeholder_through_each_branch():
    W = tf.Variable(W0)
    h = tf.placeholder(tf.float32, [3])
    m = tf.cond(
        tf.reduce_sum(h) > 0,
        lambda: tf.tanh(matvec(W, h)),
        lambda: matvec(W, matvec(W, h)) * h,
    )
    loss = tf.reduce_sum(m * m)
    gW, gh = tf.gradients(loss, [W, h])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for feed, (want_loss, want_gW, want_gh) in zip((X0, -X0), TF_VALUES["matvec"]):
            got_loss, got_gW, got_gh = sess.run([loss, gW, gh], {h: feed})
            np.testing.assert_allclose(got_loss, want_loss, rtol=1e-6)
            np.testing.assert_allclose(got_gW, np.array(want_gW, np.float32), rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(got_gh, np.array(want_gh, np.float32), rtol=1e-5, atol=1e-7)
    # numpy, float64: the true branch at X0 (sum 0.7 > 0): loss = |tanh(W x)|^2
    a = np.tanh(W0.astype(np.float64) @ X0)
    np.testing.assert_allclose(TF_VALUES["matvec"][0][0], np.sum(a * a), rtol=1e-6)


def test_cond_inside_a_loop_and_its_gradient():
    x = tf.placeholder(tf.float32, [])

    def body(i, s):
        s = tf.cond(tf.equal(i % 2, 0), lambda: s * x, lambda: s + x * x)
        return i + 1, s

    _, looped = tf.while_loop(lambda i, s: i < 5, body, [0, tf.constant(1.0)])
    (g,) = tf.gradients(looped, [x])
    got = run([looped, g], {x: 1.5})
    assert got == TF_VALUES["in_loop"]
    # numpy: s = ((((1 * x) + x^2) * x) + x^2) * x at x = 1.5
    assert got[0] == ((1.5 + 1.5**2) * 1.5 + 1.5**2) * 1.5


def test_nested_structures_strict_and_old_argument_names():
    pred = tf.placeholder(tf.bool, [])
    out = tf.cond(
        pred,
        lambda: {"a": tf.constant(1), "b": (tf.constant([2.0, 3.0]), tf.constant(True))},
        lambda: {"a": tf.constant(4), "b": (tf.constant([5.0, 6.0]), tf.constant(False))},
    )
    single = tf.cond(pred, lambda: [tf.constant(1.0)], lambda: [tf.constant(2.0)])
    strict = tf.cond(pred, lambda: [tf.constant(1.0)], lambda: [tf.constant(2.0)], strict=True)
    old = tf.cond(pred, fn1=lambda: tf.constant(7), fn2=lambda: tf.constant(8), name="old")
    assert isinstance(out, dict) and isinstance(strict, list) and not isinstance(single, list)
    got = run([out, single, strict, old], {pred: False})
    assert got[0]["a"] == 4 and got[0]["b"][1] == False  # noqa: E712 (numpy bool)
    np.testing.assert_array_equal(got[0]["b"][0], [5.0, 6.0])
    assert got[1:] == [2.0, [2.0], 8]
    assert run(old, {pred: True}) == 7


def test_branches_of_different_lengths_give_an_unknown_dim():
    pred = tf.placeholder(tf.bool, [])
    r = tf.cond(pred, lambda: tf.zeros([2]), lambda: tf.ones([3]))
    assert r.shape.as_list() == [None]  # TF: TensorShape([Dimension(None)])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(r, {pred: True}), np.zeros(2))
        np.testing.assert_array_equal(sess.run(r, {pred: False}), np.ones(3))


def test_branches_must_match_as_in_tf():
    x = tf.placeholder(tf.float32, [])
    with pytest.raises(
        ValueError,
        match=r"Outputs of 'true_fn' and 'false_fn' must have the same type\(s\). Received "
        "float32 from 'true_fn' and int32 from 'false_fn'.",
    ):
        tf.cond(x > 0, lambda: tf.constant(1.0), lambda: tf.constant(1))
    with pytest.raises(ValueError, match="The two structures don't have the same nested structure"):
        tf.cond(x > 0, lambda: (tf.constant(1.0), tf.constant(2.0)), lambda: tf.constant(1.0))
    with pytest.raises(ValueError, match="pred must be a scalar bool"):
        tf.cond(tf.constant([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(
        TypeError,
        match="Input 'pred' of 'Switch' Op has type float32 that does not match expected type "
        "of bool.",
    ):
        tf.cond(x, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="'pred' must not be a Python bool."):
        tf.cond(True, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="pred must be Tensor of type bool: "):
        tf.case([(x, lambda: 1.0)], default=lambda: 2.0)
    with pytest.raises(ValueError, match="tgc needs them of the same rank"):
        tf.cond(x > 0, lambda: tf.zeros([2]), lambda: tf.zeros([2, 3]))


def test_case_and_switch_case_as_tf():
    a = tf.placeholder(tf.int32, [])
    cased = tf.case(
        [(a < 0, lambda: tf.constant(-1.0)), (a < 5, lambda: tf.constant(5.0))],
        default=lambda: tf.constant(99.0),
    )
    switched = tf.switch_case(
        a, [lambda: tf.constant(10.0), lambda: tf.constant(11.0), lambda: tf.constant(12.0)]
    )
    switched_default = tf.switch_case(
        a,
        {1: lambda: tf.constant(21.0), 0: lambda: tf.constant(20.0)},
        default=lambda: tf.constant(-7.0),
    )
    with tf.Session() as sess:
        got = [sess.run([cased, switched, switched_default], {a: k}) for k in (-3, 0, 1, 2, 7)]
    assert got == TF_VALUES["case"]


def test_case_runs_only_the_chosen_fn_and_differentiates_through_it():
    c = tf.Variable(0.0)
    b = tf.placeholder(tf.float32, [])
    assigns = tf.case(
        [(b < 0, lambda: c.assign_add(1.0)), (b < 5, lambda: c.assign_add(100.0))],
        default=lambda: tf.identity(c),
    )
    (grad,) = tf.gradients(
        tf.case([(b < 0, lambda: b * b), (b < 5, lambda: tf.sin(b))], default=lambda: b * 3.0), [b]
    )
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = [sess.run(assigns, {b: k}) for k in (-1.0, 1.0, 9.0)] + [sess.run(c)]
        grads = [sess.run(grad, {b: k}) for k in (-2.0, 1.0, 9.0)]
    assert got == TF_VALUES["case_assigns"]
    np.testing.assert_allclose(grads, TF_VALUES["case_grad"], rtol=1e-6)
    np.testing.assert_allclose(grads, [-4.0, np.cos(1.0), 3.0], rtol=1e-6)  # numpy


def test_case_and_switch_case_errors_as_tf():
    a = tf.placeholder(tf.int32, [])
    with pytest.raises(ValueError, match="Must provide at least one item in 'branch_fns'"):
        tf.switch_case(a, [])
    with pytest.raises(
        ValueError,
        match=r"branch indices \(keys\) must form contiguous range of \[0 to 2\) but found \{1,3\}",
    ):
        tf.switch_case(a, {1: lambda: 1.0, 3: lambda: 2.0})
    with pytest.raises(TypeError, match="'branch_index' must be an integer Tensor, got float32"):
        tf.switch_case(tf.constant(1.0), [lambda: 1.0])
    with pytest.raises(TypeError, match="must be callable"):
        tf.case([(a < 0, 1.0)], default=lambda: 2.0)


def test_the_branches_compile_to_scf_if():
    from tgc.lowering.to_core import conds  # noqa: F401 (the rule this test exercises)

    x = tf.placeholder(tf.float32, [3])
    y = tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])
        np.testing.assert_array_equal(sess.run(y, {x: [-1.0, -2.0, 0.0]}), [-2.0, -3.0, -1.0])


CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


def test_cond_stays_on_the_cpu_with_soft_placement():
    from tgc.dialect import targets

    assert targets.get("cpu").can_run("if")
    for name in ("nvptx", "accel"):
        assert not targets.get(name).can_run("if"), name
    graph = tf.Graph()
    with targets.selected("nvptx-emulated"), graph.as_default():
        x = tf.placeholder(tf.float32, [4], name="x")
        with tf.device("/gpu:0"):
            y = tf.exp(x, name="y")
            r = tf.cond(tf.reduce_sum(x) > 0, lambda: y * 2.0, lambda: y, name="c")
        config = tf.ConfigProto(device_count={"GPU": 1}, allow_soft_placement=True)
        with tf.Session(config=config) as sess:
            got = sess.run(r, {x: np.zeros(4, np.float32)})
            (run_,) = [c for c in sess._cache.values() if c.placement]
    np.testing.assert_array_equal(got, np.ones(4, np.float32))
    placed = {name: device for name, _, device in run_.placement}
    assert placed["c"] == CPU0


def test_nested_conds_a_loop_in_a_branch_and_integer_outputs():
    x = tf.placeholder(tf.float32, [])
    p = tf.placeholder(tf.bool, [])
    # The true branch returns the captured x itself; the false one is a cond of its own.
    y = tf.cond(p, lambda: x, lambda: tf.cond(x > 1.0, lambda: x * x * x, lambda: tf.exp(x)))
    (gy,) = tf.gradients(y, [x])
    # A loop inside a branch: x**5 for x = 3 (3 -> 9 -> 27 -> 81 -> 243), d/dx = 5 x**4.
    z = tf.cond(
        p, lambda: tf.while_loop(lambda s: s < 100.0, lambda s: s * x, [x]), lambda: x + 1.0
    )
    (gz,) = tf.gradients(z, [x])
    pair = tf.cond(p, lambda: (tf.constant(1), x * 2.0), lambda: (tf.constant(2), x * 3.0))
    (gpair,) = tf.gradients(pair[1], [x])  # the int32 output carries no gradient
    with tf.Session() as sess:
        assert sess.run([y, gy], {x: 2.0, p: True}) == [2.0, 1.0]
        assert sess.run([y, gy], {x: 2.0, p: False}) == [8.0, 12.0]
        got = sess.run([y, gy], {x: 0.5, p: False})
        np.testing.assert_allclose(got, [np.exp(0.5)] * 2, rtol=1e-6)
        assert sess.run([z, gz], {x: 3.0, p: True}) == [243.0, 405.0]
        assert sess.run([z, gz], {x: 3.0, p: False}) == [4.0, 1.0]
        assert sess.run([*pair, gpair], {x: 1.0, p: False}) == [2, 3.0, 3.0]


def test_a_cond_in_a_loop_assigns_the_variables_of_the_branch_taken_each_iteration():
    v, u = tf.Variable(0.0), tf.Variable(5.0)
    n = tf.placeholder(tf.int32, [])

    def body(k, acc):
        r = tf.cond(tf.equal(k % 2, 0), lambda: v.assign_add(1.0), lambda: u.assign_sub(1.0))
        return k + 1, acc + r

    out = tf.while_loop(lambda k, acc: k < n, body, [0, tf.constant(0.0)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        # k = 0..4: v 1, u 4, v 2, u 3, v 3; acc = 1 + 4 + 2 + 3 + 3
        assert sess.run(out, {n: 5}) == [5, 13.0]
        assert sess.run([v, u]) == [3.0, 3.0]


def test_jit_and_grad_of_a_function_with_cond():
    def f(a):
        return tf.cond(tf.reduce_sum(a) > 0, lambda: tf.sqrt(a), lambda: -a)

    a = np.array([1.0, 4.0], np.float32)
    np.testing.assert_array_equal(tf.jit(f)(a), [1.0, 2.0])
    np.testing.assert_array_equal(tf.jit(f)(-a), [1.0, 4.0])
    g = tf.grad(lambda a: tf.reduce_sum(f(a)))
    np.testing.assert_array_equal(g(-a), [-1.0, -1.0])
    np.testing.assert_array_equal(g(a), 0.5 / np.sqrt(a))


def test_layers_and_dropout_made_inside_a_branch_train_through_it():
    training = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [2, 3])
    dropped = tf.cond(training, lambda: tf.nn.dropout(x, keep_prob=0.5), lambda: x)
    dense = tf.cond(
        training,
        lambda: tf.layers.dense(x, 2, kernel_initializer=tf.constant_initializer(0.1), name="d"),
        lambda: tf.zeros([2, 2]),
    )
    loss = tf.reduce_sum(dense * dense)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    ones = np.ones((2, 3), np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(dropped, {training: False, x: ones}), ones)
        kept = sess.run(dropped, {training: True, x: ones})
        assert set(np.unique(kept)) <= {0.0, 2.0}  # dropped, or scaled by 1 / keep_prob
        # false branch: loss 0 and no gradient reaches the layer, whose variables stay
        sess.run(train, {training: False, x: ones})
        # true branch: every output 3 * 0.1 = 0.3, loss 4 * 0.09; the kernel's and the bias's
        # gradients are 2 * 2 * 0.3 = 1.2, so after one step each output is 3 * (0.1 - 0.12) - 0.12
        np.testing.assert_allclose(sess.run(loss, {training: True, x: ones}), 0.36, rtol=1e-6)
        sess.run(train, {training: True, x: ones})
        np.testing.assert_allclose(
            sess.run(loss, {training: True, x: ones}), 4 * 0.18**2, rtol=1e-5
        )
    assert [v.name for v in tf.trainable_variables()] == ["d/kernel:0", "d/bias:0"]


def test_a_branch_returning_an_op_gives_tf1s_bool_and_runs_the_op_when_taken():
    # TF 2.21 compat.v1 (/tmp/tfenv/bin/python, the same program): a bool tensor (True from the
    # true branch, False from the false one); True 2.0 False 2.0 True 7.0; None is refused.
    x = tf.placeholder(tf.float32, [])
    v = tf.Variable(1.0)
    r = tf.cond(x > 0, lambda: v.assign_add(1.0).op, lambda: tf.no_op())
    grouped = tf.cond(x > 0, lambda: tf.group(v.assign_add(5.0)), lambda: tf.no_op())
    assert r.dtype == tf.bool and r.shape.as_list() == []
    with pytest.raises(ValueError, match="'true_fn' must have a return value."):
        tf.cond(x > 0, lambda: None, lambda: None)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = [sess.run(r, {x: 1.0}), sess.run(v), sess.run(r, {x: -1.0}), sess.run(v)]
        got += [sess.run(grouped, {x: 1.0}), sess.run(v)]
    assert got == [True, 2.0, False, 2.0, True, 7.0]


def test_a_branch_returning_the_variable_read_after_its_assignment():
    # TF1's idiom: the read under a control dependency on the assign sees the new value (TF:
    # 11.0, then v is 11.0, and the false branch's read sees 11.0).
    x = tf.placeholder(tf.float32, [])
    v = tf.Variable(1.0)

    def adds_ten():
        with tf.control_dependencies([v.assign_add(10.0)]):
            return v.read_value()

    r = tf.cond(x > 0, adds_ten, lambda: v.read_value())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert [sess.run(r, {x: 1.0}), sess.run(v), sess.run(r, {x: -1.0})] == [11.0] * 3


# TF 2.21's texts (tests/oracle/print_oracle.py, cases "case exclusive" and "case no default").
def test_case_exclusive_fails_when_two_predicates_hold():
    a = tf.placeholder(tf.int32, [])
    pairs = [(a < 0, lambda: tf.constant(-1.0)), (a < 5, lambda: tf.constant(5.0))]
    r = tf.case(pairs, default=lambda: tf.constant(9.0), exclusive=True)
    with tf.Session() as sess:
        assert sess.run(r, {a: 7}) == 9.0 and sess.run(r, {a: 2}) == 5.0
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"assertion failed: \[Input error: exclusive=True: more than 1 conditions "
            r"\(Less:0, Less_1:0\) evaluated as True:\] \[1 1\]",
        ):
            sess.run(r, {a: -3})


def test_case_without_default_fails_when_no_predicate_holds():
    a = tf.placeholder(tf.int32, [])
    r = tf.case([(a < 0, lambda: tf.constant(-1.0)), (a < 5, lambda: tf.constant(5.0))])
    with tf.Session() as sess:
        assert sess.run(r, {a: -2}) == -1.0 and sess.run(r, {a: 3}) == 5.0
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"assertion failed: \[Input error: None of conditions evaluated as True:\] "
            r"\[0 0\]",
        ):
            sess.run(r, {a: 9})


def test_the_gradient_through_a_cond_whose_other_branch_could_not_have_run():
    """tf.cond merging [1, 1] and [2, 1] into [?, 1], then a matmul that only the [1, 1] branch can
    feed: the gradient's value is [1, 1], and the [2, 1] branch's part of the backward cond reshaped
    it to [2, 1] when the graph was built ("cannot reshape (1, 1) to (2, 1)"; random-graph campaign
    seed 303507). TF builds it, and runs the branch taken. d/dv0 of sum(v5^T @ v0^T * 1.043) with
    v5 = v0 = [[a]] is 2 * 1.043 * a."""
    v0 = tf.placeholder(tf.float64, [1, 1])
    v1 = tf.placeholder(tf.float64, [2, 1])
    v5, _ = tf.cond(tf.reduce_sum(v0) > -1.7, lambda: [v0, v1], lambda: [v1, v1])
    product = tf.matmul(v5, v0, transpose_a=True, transpose_b=True)
    (grad,) = tf.gradients(tf.reduce_sum(product * 1.043), [v0])
    with tf.Session() as sess:
        got, got_grad = sess.run([product, grad], {v0: [[-0.9587]], v1: [[-1.2987], [-0.257]]})
    np.testing.assert_allclose(got, [[0.9587**2]])
    np.testing.assert_allclose(got_grad, [[2 * 1.043 * -0.9587]])


def test_the_gradient_of_a_branch_whose_size_contradicts_the_adjoint():
    """The false branch's expand_dims gives [1] (then [1, 3]), the true branch [2] ([2, 3]); the
    reshape to [2] after the cond gives the backward cond's false branch an adjoint of static size
    2, which its expand_dims gradient squeezed to a scalar: bufferization folded the casts into a
    collapse of memref<2xf64> to a scalar, which MLIR's verifier refused (random-graph campaign
    seed 302840). Such a branch cannot have run in a step that reaches the gradient (the reshape
    fails first), so it passes no adjoint on. TF 2.21's tf.gradients refuses the graph
    ("Incompatible shapes between op input and calculated input gradient"); tgc runs the branch
    taken."""
    v0 = tf.placeholder(tf.float64, [])
    v1 = tf.placeholder(tf.float64, [2])
    pred = tf.placeholder(tf.bool, [])
    merged = tf.cond(pred, lambda: tf.sqrt(v1), lambda: tf.expand_dims(v0, -1))
    loss = tf.reduce_sum(tf.reshape(merged, [2]) * np.float64([-0.5, 0.25]))
    rows = tf.cond(pred, lambda: tf.sqrt(tf.stack([v1] * 3, 1)), lambda: tf.fill([1, 3], v0))
    # The reshape to another tensor's shape (reshape_like) types its gradient [2, 3] as TF's shape
    # rule does (the campaign's seed reshaped so), which shows the false branch's contradiction.
    like = tf.zeros_like(tf.stack([v1] * 3, 1))
    row_loss = tf.reduce_sum(tf.reshape(rows, tf.shape(like)) * np.float64([-0.5, 0.25, 1.0]))
    grads = tf.gradients([loss, row_loss], [v0, v1])
    with tf.Session() as sess:
        feed = {v0: -1.2, v1: [4.0, 9.0], pred: True}
        got_loss, got_v0, got_v1 = sess.run([loss, *grads], feed)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Input to reshape is a tensor"):
            sess.run(grads, {**feed, pred: False})
    assert got_loss == -0.5 * 2.0 + 0.25 * 3.0
    assert got_v0 == 0.0
    per_row = [1 / (2 * 2.0), 1 / (2 * 3.0)]  # d sqrt(v) / dv
    np.testing.assert_allclose(got_v1, [(-0.5 + 0.75) * per_row[0], (0.25 + 0.75) * per_row[1]])


def test_the_gradient_of_a_cond_whose_branches_know_different_dims_in_a_loop():
    """A loop's body merges elu(b) ([?, 1, 1]: b's invariant) and sigmoid(exp(a)) ([4, 1, 1]) in a
    cond, and loop variable a (declared [4, 1, 1]) takes the merged [?, 1, 1] (tgc takes the size,
    checked at run time; TF refuses such a body). The gradient's cond had a branch yielding
    tensor<4x1x1xf32> for its result tensor<?x1x1xf32>, invalid IR (random-graph cluster
    campaign seed 1185, control flow 15 %). d sum(a) / dx: 1 where elu(x) = x runs, s (1 - s)
    exp(x) with s = sigmoid(exp(x)) where the other branch does."""
    x = tf.placeholder(tf.float32, [4, 1, 1])
    u = tf.reshape(x, [4, 1, -1])

    def body(i, a, b):
        merged = tf.cond(
            tf.reduce_max(b) < 2.75, lambda: tf.nn.elu(b), lambda: tf.sigmoid(tf.exp(a))
        )
        return [i + 1, merged, merged]

    invariants = [tf.TensorShape([]), tf.TensorShape([4, 1, 1]), tf.TensorShape([None, 1, 1])]
    _, a, _ = tf.while_loop(
        lambda i, *_: i < 1, body, [tf.constant(0), x, u], shape_invariants=invariants
    )
    (grad,) = tf.gradients(tf.reduce_sum(a), [x])
    small = np.float32([0.6, 1.8, 0.7, 1.2]).reshape(4, 1, 1)
    large = np.float32([0.6, 2.8, 0.7, 1.2]).reshape(4, 1, 1)
    with tf.Session() as sess:
        got_small = sess.run([a, grad], {x: small})
        got_large = sess.run([a, grad], {x: large})
    np.testing.assert_allclose(got_small[0], small)
    np.testing.assert_allclose(got_small[1], np.ones_like(small))
    s = 1 / (1 + np.exp(-np.exp(large.astype(np.float64))))
    np.testing.assert_allclose(got_large[0], s, rtol=1e-6)
    # x = 2.8 saturates the sigmoid: its float32 s (1 - s) keeps about one digit of 1e-6
    np.testing.assert_allclose(got_large[1], s * (1 - s) * np.exp(large), rtol=1e-5, atol=1e-6)
