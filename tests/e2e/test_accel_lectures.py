"""The lecture programs on /accel:0: the two-layer net, softmax regression and the convnet, each
written entirely under ``tf.device('/accel:0')`` with ``ConfigProto(device_count={'ACCEL': 1},
allow_soft_placement=True)``: the accelerator runs what it can (the matmuls at least, in bf16 on its
matrix unit), the CPU the rest.

How close is close. At every step the accelerator's loss is compared with the CPU's loss *at the
same weights* (the accelerator's, loaded into a CPU session), within a bound derived from the
matrix unit's arithmetic. A product y = a (*) b (matmul or convolution) takes its operands rounded
to bf16, each element within a relative 2^-8 of itself, and sums in float32. To first order the
loss then moves by sum(da * dloss/da) + sum(db * dloss/db) through that product, with
dloss/da = tf.gradients(y, a, grad_ys=dloss/dy) (and b's likewise), so

    |loss_accel - loss| <= sum over products of
        2^-8 (sum |a| |dloss/da| + sum |b| |dloss/db|) + K 2^-23 sum |dloss/dy| (|a| (*) |b|)

(the last term: float32 sums of K products, doubled). ``rounding_bound`` computes it in the graph,
on the CPU, from the accelerator's own values. It is rigorous to first order, and yet a hundred
times what the roundings do: they have either sign, and thousands of them add up like a random
walk. So the check is tightened by the probabilistic analysis of rounding errors (Higham and Mary,
SIAM J. Sci. Comput. 2019): round-to-nearest errors of distinct elements are independent, of mean
zero and at most 2^-8 relative, and Hoeffding's inequality puts a sum of them beyond 6 times
2^-8 sqrt(sum (a dloss/da)^2 + sum (b dloss/db)^2) with probability below 2 e^-18 (``LAMBDA``).

Then the whole run is compared with the CPU's own run: the trajectories differ by that per-step
bound plus what the accelerator's rounded updates add up to (``DRIFT``).
"""

import re
from dataclasses import dataclass, field

import numpy as np
import pytest

import tgc
import tgc as tf
from tgc.datasets import load_digits

ACCEL0 = "/job:localhost/replica:0/task:0/device:ACCEL:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
ON_ACCEL = tf.ConfigProto(
    device_count={"ACCEL": 1}, allow_soft_placement=True, log_device_placement=True
)
# The same program on the CPU alone: with no accelerator in the config, soft placement drops the
# /accel:0 requests.
ON_CPU = tf.ConfigProto(allow_soft_placement=True)
STEPS = 8
BF16 = 2.0**-8  # relative rounding of an operand element to bf16 (8 significant bits)
LAMBDA = 6.0  # Hoeffding: P(|sum| > LAMBDA * 2^-8 * sqrt(sum c^2)) <= 2 exp(-LAMBDA^2 / 2)
# The accelerator's updates carry its gradient matmuls' rounding: dloss/dy of the top layer, the
# product back through a layer and the weight gradient's own product (3 roundings of 2^-7), in
# sums over the batch whose terms may cancel to about sqrt(64) = 8 times that relative: a run's
# loss decrease may differ by 3 * 2^-7 * 8 ~ 0.19 of itself.
DRIFT = 3 * 2.0**-7 * 8
CPU_FLOAT32 = 1e-5  # the CPU's own float32 rounding of a loss, relative


@dataclass
class Program:
    loss: object
    train: object
    batches: list  # a feed dict per step
    products: list = field(default_factory=list)  # (y, a, b, |a| (*) |b|, K) of each product
    names: list = field(default_factory=list)  # the forward matmuls' op names
    bound: tuple = ()  # (worst case, probabilistic) tensors


def dense(program: Program, a, w, name: str):
    """a @ w, recorded as a product the matrix unit rounds."""
    y = tf.matmul(a, w, name=name)
    with tf.device("/cpu:0"):
        magnitude = tf.matmul(tf.abs(a), tf.abs(w))
    program.products.append((y, a, w, magnitude, int(w.shape[0])))
    program.names.append(name)
    return y


def rounding_bound(program: Program) -> tuple:
    """(the first-order worst case of |loss_accel - loss|, its probabilistic bound): see the
    module text."""
    with tf.device("/cpu:0"):
        grads = tf.gradients(program.loss, [p[0] for p in program.products])
        worst, squares, sums = [], [], []
        for g, (y, a, b, magnitude, k) in zip(grads, program.products):
            da, db = tf.gradients(y, [a, b], grad_ys=g)  # dloss/da, dloss/db through y alone
            worst.append(tf.reduce_sum(tf.abs(a * da)) + tf.reduce_sum(tf.abs(b * db)))
            squares.append(tf.reduce_sum(tf.square(a * da)) + tf.reduce_sum(tf.square(b * db)))
            sums.append(k * 2.0**-23 * tf.reduce_sum(tf.abs(g) * magnitude))
        accumulation = tf.add_n(sums)
        return (
            BF16 * tf.add_n(worst) + accumulation,
            LAMBDA * BF16 * tf.sqrt(tf.add_n(squares)) + accumulation,
        )


def two_layer_net() -> Program:
    """The lecture's two-layer net: relu(x w1) w2, softmax cross-entropy summed, plain SGD."""
    n, d, h, c = 64, 256, 64, 10
    rng = np.random.default_rng(1)
    with tf.device("/accel:0"):
        x = tf.placeholder(tf.float32, [n, d])
        y = tf.placeholder(tf.float32, [n, c])
        w1 = tf.Variable((rng.standard_normal((d, h)) * 0.05).astype(np.float32), name="w1")
        w2 = tf.Variable((rng.standard_normal((h, c)) * 0.05).astype(np.float32), name="w2")
        program = Program(None, None, [])
        hidden = tf.nn.relu(dense(program, x, w1, "hidden"))
        scores = dense(program, hidden, w2, "scores")
        program.loss = tf.reduce_sum(
            tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores)
        )
        program.train = tf.train.GradientDescentOptimizer(2e-3).minimize(program.loss)
    batch = {
        x: rng.standard_normal((n, d)).astype(np.float32),
        y: np.eye(c, dtype=np.float32)[rng.integers(0, c, n)],
    }
    program.batches = [batch] * STEPS
    return program


def _digit_batches(x, y, size: int) -> list:
    digits = load_digits(one_hot=True)
    images, labels = digits.train.images, digits.train.labels
    return [
        {x: images[i * size : (i + 1) * size], y: labels[i * size : (i + 1) * size]}
        for i in range(STEPS)
    ]


def softmax_regression() -> Program:
    """The TF1 MNIST tutorial's model on the 8x8 digits: softmax(x W + b), minibatch SGD."""
    with tf.device("/accel:0"):
        x = tf.placeholder(tf.float32, [None, 64])
        y = tf.placeholder(tf.float32, [None, 10])
        w = tf.Variable(np.full((64, 10), 0.01, np.float32), name="W")
        b = tf.Variable(tf.zeros([10]), name="b")
        program = Program(None, None, [])
        logits = dense(program, x, w, "logits") + b
        program.loss = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
        )
        program.train = tf.train.GradientDescentOptimizer(0.5).minimize(program.loss)
    program.batches = _digit_batches(x, y, 100)
    return program


def convnet() -> Program:
    """The lecture's convnet on the digits: conv 3x3x16 + relu, 2x2 max-pool, fc 64 + relu, fc 10,
    Adam. (Its dropout runs with keep_prob 1, the identity, so that both runs see one function.)"""
    rng = np.random.default_rng(2)

    def weights(*shape):
        return tf.Variable(np.clip(rng.normal(0, 0.1, shape), -0.2, 0.2).astype(np.float32))

    with tf.device("/accel:0"):
        x = tf.placeholder(tf.float32, [None, 64])
        y = tf.placeholder(tf.float32, [None, 10])
        program = Program(None, None, [])
        image = tf.reshape(x, [-1, 8, 8, 1])
        w_conv = weights(3, 3, 1, 16)
        conv = tf.nn.conv2d(image, w_conv, strides=[1, 1, 1, 1], padding="SAME", name="conv")
        with tf.device("/cpu:0"):
            magnitude = tf.nn.conv2d(tf.abs(image), tf.abs(w_conv), [1, 1, 1, 1], "SAME")
        program.products.append((conv, image, w_conv, magnitude, 3 * 3 * 1))
        h_conv = tf.nn.relu(conv + tf.Variable(tf.constant(0.1, shape=[16])))
        pool = tf.nn.max_pool(h_conv, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        flat = tf.reshape(pool, [-1, 4 * 4 * 16])
        fc1 = tf.nn.relu(
            dense(program, flat, weights(256, 64), "fc1")
            + tf.Variable(tf.constant(0.1, shape=[64]))
        )
        logits = dense(program, fc1, weights(64, 10), "fc2") + tf.Variable(
            tf.constant(0.1, shape=[10])
        )
        program.loss = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
        )
        program.train = tf.train.AdamOptimizer(5e-3).minimize(program.loss)
    program.batches = _digit_batches(x, y, 50)
    return program


def _train_on_accel(program: Program) -> tuple:
    """(losses, [(worst case, probabilistic bound)] per step, the model's weights before each
    step) on /accel:0."""
    model = tf.trainable_variables()
    losses, bounds, weights = [], [], []
    with tf.Session(config=ON_ACCEL) as sess:
        sess.run(tf.global_variables_initializer())
        for batch in program.batches:
            weights.append(sess.run(model))
            loss, bound, _ = sess.run([program.loss, list(program.bound), program.train], batch)
            losses.append(float(loss))
            bounds.append(bound)
    return np.array(losses), np.array(bounds), weights


def _cpu_loss_at(program: Program, weights: list) -> np.ndarray:
    """The CPU's loss of each step's batch at the accelerator's weights of that step."""
    model = tf.trainable_variables()
    out = []
    with tf.Session(config=ON_CPU) as sess:
        sess.run(tf.global_variables_initializer())
        for batch, values in zip(program.batches, weights):
            for variable, value in zip(model, values):
                variable.load(value, sess)
            out.append(float(sess.run(program.loss, batch)))
    return np.array(out)


def _train_on_cpu(program: Program) -> np.ndarray:
    with tf.Session(config=ON_CPU) as sess:
        sess.run(tf.global_variables_initializer())
        return np.array(
            [float(sess.run([program.loss, program.train], b)[0]) for b in program.batches]
        )


@pytest.mark.parametrize("build", [two_layer_net, softmax_regression, convnet])
def test_a_lecture_program_trains_on_the_accelerator_close_to_the_cpu(build, capsys):
    graph = tf.Graph()
    with graph.as_default():
        program = build()
        program.bound = rounding_bound(program)
        accel, bounds, weights = _train_on_accel(program)
        placement = capsys.readouterr().err
        exact = _cpu_loss_at(program, weights)
        cpu = _train_on_cpu(program)
    for name in program.names:  # the forward matmuls ran on the matrix unit
        assert f"{name}: (tgc.matmul): {ACCEL0}" in placement
    assert accel[-1] < 0.95 * accel[0]
    # Each step: the accelerator's loss is the exact loss at its weights, within the bounds
    # (the worst case, and the probabilistic one where it is tighter).
    bound = bounds.min(axis=1)
    assert np.all(np.abs(accel - exact) <= bound + CPU_FLOAT32 * np.abs(exact)), (
        accel - exact,
        bounds,
    )
    assert np.any(accel != exact)  # bf16 was at work
    # The run: within the per-step bound plus the drift of rounded updates.
    allowed = bound + DRIFT * np.abs(cpu[0] - cpu) + CPU_FLOAT32 * np.abs(cpu)
    assert np.all(np.abs(accel - cpu) <= allowed), (accel - cpu, allowed)


def test_the_placed_graph_shows_what_ran_on_the_accelerator(tmp_path):
    from click.testing import CliRunner

    from tgc.tools.cli import main

    source = tmp_path / "two_layer.py"
    source.write_text(
        "import numpy as np\n"
        "import tgc as tf\n"
        "with tf.device('/accel:0'):\n"
        "    x = tf.placeholder(tf.float32, [8, 16], name='x')\n"
        "    w = tf.Variable(np.ones((16, 4), np.float32), name='w')\n"
        "    scores = tf.matmul(x, w, name='scores')\n"
        "    loss = tf.reduce_sum(tf.square(scores), name='loss')\n"
        "    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)\n"
        "config = tf.ConfigProto(device_count={'ACCEL': 1}, allow_soft_placement=True)\n"
        "with tf.Session(config=config) as sess:\n"
        "    sess.run(tf.global_variables_initializer())\n"
        "    sess.run(step, {x: np.ones((8, 16), np.float32)})\n"
    )
    args = ["graph", str(source), "--stage", "placed", "--soft-placement"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert 'label="scores\\nMatMul\\n@ACCEL:0"' in result.output
    # The variable, its read and its update share a device (the CPU until the accelerator runs
    # all three).
    [device] = re.findall(r'label="w\\n@(\w+:0)"', result.output)
    assert f'label="w\\nIdentity\\n@{device}"' in result.output
    assert f'label="w/AssignSub\\nAssignSub\\n@{device}"' in result.output


def _step_counter(config):
    """A float product and an int32 step counter (no accelerator holds integers), both asked for
    on /accel:0."""
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/accel:0"):
            x = tf.placeholder(tf.float32, [4, 3])
            w = tf.constant(np.ones((3, 2), np.float32))
            step = tf.Variable(0, dtype=tf.int32, name="step")
            y = tf.matmul(x, w, name="y")
            count = tf.assign_add(step, 1)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run([y, count], {x: np.ones((4, 3), np.float32)})


def test_a_variable_the_accelerator_cannot_hold_gets_the_placement_error_without_soft_placement():
    with pytest.raises(tgc.errors.CompileError) as caught:
        _step_counter(tf.ConfigProto(device_count={"ACCEL": 1}))
    message = str(caught.value)
    assert 'loc("step"): error: cannot place' in message  # the variable, by its name
    assert "cannot place 'tgc.variable' on requested device '/device:ACCEL:0'" in message
    assert "with its reads and assigns are ['/job:localhost/replica:0/task:0/device:CPU:0']" in (
        message
    )


def test_with_soft_placement_it_stays_on_the_cpu_and_the_step_runs(capsys):
    y, count = _step_counter(ON_ACCEL)
    np.testing.assert_array_equal(y, np.full((4, 2), 3.0))  # small integers: exact in bf16
    assert count == 1
    err = capsys.readouterr().err
    assert f"step: (tgc.variable): {CPU0}" in err
    assert f"y: (tgc.matmul): {ACCEL0}" in err


def test_the_example_trains_on_the_accelerator_and_reports_its_cycles(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "accel_two_layer_net.py"
    spec = importlib.util.spec_from_file_location("accel_two_layer_net", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    losses, stats = example.main(steps=6, print_every=0)
    assert losses[-1] < 0.8 * losses[0]
    assert stats and all(s.total_cycles > 0 for s in stats)
    out = capsys.readouterr().out
    assert re.search(r"accelerator, last run: \d+ program\(s\), \d+ cycles", out)
    assert "matrix unit" in out and "utilised" in out


def test_a_float_variable_goes_to_the_accelerator_with_its_reads_and_update(capsys):
    """The accelerator runs a float variable's declaration, read and assign_sub, so placement puts
    them all there (tgc-place asks about each). Small integers and a power-of-two rate keep every
    number exact in bf16 and float32: the update is numpy's to the bit."""
    rng = np.random.default_rng(4)
    x_value = rng.integers(-2, 3, (8, 5)).astype(np.float32)
    w_value = rng.integers(-2, 3, (5, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/accel:0"):
            x = tf.placeholder(tf.float32, [8, 5])
            w = tf.Variable(w_value, name="w")
            loss = tf.reduce_sum(tf.square(tf.matmul(x, w, name="y")))
            step = tf.train.GradientDescentOptimizer(2.0**-6).minimize(loss)
        with tf.Session(config=ON_ACCEL) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(step, {x: x_value})
            updated = sess.run(w)
    err = capsys.readouterr().err
    for line in ("w: (tgc.variable)", "w: (tgc.read_variable)", "w/AssignSub: (tgc.assign_sub)"):
        assert f"{line}: {ACCEL0}" in err
    want = w_value - 2.0**-6 * (2 * x_value.T @ (x_value @ w_value))
    np.testing.assert_array_equal(updated, want)
