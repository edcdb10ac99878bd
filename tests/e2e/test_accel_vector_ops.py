"""Every vector-unit op on /accel:0 in a Session, forward and gradient, against float64 numpy.

Each case builds one op (or a small composite) under ``tf.device('/accel:0')`` and its gradient
(of ``sum(out * c)``, c random), runs them with soft placement, checks from the placement log that
the op and every op of its gradient ran on the accelerator, and compares with numpy: the forward
with the case's float64 reference, the gradient with central differences of that reference (in
float64: their own error is ~1e-9, far below float32's).

Tolerances: the vector unit computes in float32 (each op within a few float32 ulps of the exact
value, docs/accel-machine.md), and a case chains at most ~10 of them (the gradients), so 2^-23
relative per op with a margin: rtol 2e-5 and an absolute floor 2e-5 of the result's magnitude for
values that cancel. Inputs stay away from the kinks of abs, relu, sign, floor, ceil, round and of
the comparisons, where a float32 rounding could flip a side.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf

ACCEL0 = "/job:localhost/replica:0/task:0/device:ACCEL:0"
SOFT = tf.ConfigProto(
    device_count={"ACCEL": 1}, allow_soft_placement=True, log_device_placement=True
)
SHAPE = (5, 7)
# The host moves tensors; constants and shape arithmetic (integers) stay on the CPU.
ON_THE_CPU = ("send", "recv", "constant", "dim_size", "shape")


def _inputs(shape=SHAPE, seed=0):
    """a: positive, in [0.5, 2]; b: signed, its fractional part away from 0 and 1/2 (kinks)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape)
    fraction = rng.choice([0.2, 0.3, 0.7, 0.8], shape) + rng.uniform(-0.05, 0.05, shape)
    b = (rng.integers(-3, 3, shape) + fraction) * rng.choice([-1, 1], shape)
    return a.astype(np.float32), b.astype(np.float32)


def _log_softmax(b, axis=1):
    shifted = b - b.max(axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis, keepdims=True))


# name -> (graph builder on (a, b), float64 numpy reference on (a, b), the op that must run on
# the accelerator: None for ops the graph decomposes into others before placement).
CASES = {
    "abs": (lambda a, b: tf.abs(b), lambda a, b: np.abs(b), "abs"),
    "add": (lambda a, b: a + b, lambda a, b: a + b, "add"),
    "subtract": (lambda a, b: a - b, lambda a, b: a - b, "subtract"),
    "multiply": (lambda a, b: a * b, lambda a, b: a * b, "multiply"),
    "divide": (lambda a, b: b / a, lambda a, b: b / a, "divide"),
    "maximum": (lambda a, b: tf.maximum(a, b), np.maximum, "maximum"),
    "minimum": (lambda a, b: tf.minimum(a, b), np.minimum, "minimum"),
    "negative": (lambda a, b: -b, lambda a, b: -b, "negative"),
    "exp": (lambda a, b: tf.exp(b), lambda a, b: np.exp(b), "exp"),
    "expm1": (lambda a, b: tf.expm1(b), lambda a, b: np.expm1(b), "expm1"),
    "log": (lambda a, b: tf.log(a), lambda a, b: np.log(a), "log"),
    "log1p": (lambda a, b: tf.log1p(a), lambda a, b: np.log1p(a), "log1p"),
    "sqrt": (lambda a, b: tf.sqrt(a), lambda a, b: np.sqrt(a), "sqrt"),
    "rsqrt": (lambda a, b: tf.rsqrt(a), lambda a, b: 1 / np.sqrt(a), "rsqrt"),
    "square": (lambda a, b: tf.square(b), lambda a, b: np.square(b), "square"),
    "pow": (lambda a, b: tf.pow(a, b), lambda a, b: a**b, "pow"),
    "tanh": (lambda a, b: tf.tanh(b), lambda a, b: np.tanh(b), "tanh"),
    "sigmoid": (lambda a, b: tf.sigmoid(b), lambda a, b: 1 / (1 + np.exp(-b)), "sigmoid"),
    "relu": (lambda a, b: tf.nn.relu(b), lambda a, b: np.maximum(b, 0), "relu"),
    "floor": (lambda a, b: tf.floor(b), lambda a, b: np.floor(b), "floor"),
    "ceil": (lambda a, b: tf.ceil(b), lambda a, b: np.ceil(b), "ceil"),
    "round": (lambda a, b: tf.round(b), lambda a, b: np.rint(b), "round"),
    "sign": (lambda a, b: tf.sign(b), lambda a, b: np.sign(b), "sign"),
    "sin": (lambda a, b: tf.sin(b), lambda a, b: np.sin(b), "sin"),
    "cos": (lambda a, b: tf.cos(b), lambda a, b: np.cos(b), "cos"),
    "identity": (lambda a, b: tf.identity(b), lambda a, b: b, None),
    "transpose": (lambda a, b: tf.transpose(b), lambda a, b: b.T, "transpose"),
    # A reshape that splits or merges dims is a DMA copy in chunks of rows (each a box of both).
    "reshape": (
        lambda a, b: tf.reshape(b, [7, 5]) * 2.0,
        lambda a, b: b.reshape(7, 5) * 2,
        "reshape",
    ),
    "flatten": (
        lambda a, b: tf.reshape(tf.reshape(b, [35]) * tf.reshape(a, [35]), [5, 7]),
        lambda a, b: a * b,
        "reshape",
    ),
    # Slices and concatenations are DMA boxes of the tensor (a slice's offsets and strides).
    "slice": (lambda a, b: tf.slice(b, [1, 2], [3, 4]), lambda a, b: b[1:4, 2:6], "slice"),
    "strided_slice": (lambda a, b: b[1::2, ::3], lambda a, b: b[1::2, ::3], "strided_slice"),
    "concat": (
        lambda a, b: tf.concat([a, b * b], axis=1),
        lambda a, b: np.concatenate([a, b * b], axis=1),
        "concat",
    ),
    "split": (
        lambda a, b: tf.split(b, [2, 3], axis=0)[1] * tf.split(a, [2, 3], axis=0)[0][:1],
        lambda a, b: b[2:] * a[:1],
        None,  # split into sizes: slices
    ),
    "split_even": (
        lambda a, b: tf.split(tf.concat([a, b], axis=1), 2, axis=1)[1] * 2.0,
        lambda a, b: b * 2.0,
        "split",
    ),
    # A reshape adding or dropping unit dims of a slice is a view of the slice: DMA boxes of the
    # tensor (campaign seeds 567 and 734 were refused: a strided view reaching a generic).
    "expand_dims_of_a_slice": (
        lambda a, b: tf.expand_dims(tf.split(b, [2, 3], axis=0)[1], 1) * 2.0,
        lambda a, b: b[2:, None, :] * 2.0,
        "expand_dims",
    ),
    "squeeze_of_a_slice": (
        lambda a, b: tf.squeeze(tf.split(b, 5, axis=0)[3], [0]) * tf.exp(a[1]),
        lambda a, b: b[3] * np.exp(a[1]),
        "squeeze",
    ),
    "cast": (
        lambda a, b: tf.cast(tf.cast(b, tf.float64) * 3.0, tf.float32),
        lambda a, b: b * 3,
        "cast",
    ),
    # Comparisons and logic make bools (0.0 and 1.0 on the accelerator) that select or cast read.
    "greater": (
        lambda a, b: tf.cast(tf.greater(a, b), tf.float32) * b,
        lambda a, b: (a > b) * b,
        "greater",
    ),
    "less_equal": (
        lambda a, b: tf.cast(tf.less_equal(a, b), tf.float32) * b,
        lambda a, b: (a <= b) * b,
        "less_equal",
    ),
    "equal": (
        lambda a, b: tf.cast(tf.equal(tf.floor(b), 1.0), tf.float32) * a,
        lambda a, b: (np.floor(b) == 1) * a,
        "equal",
    ),
    "select": (
        lambda a, b: tf.where(tf.greater(a, b), a, b * b),
        lambda a, b: np.where(a > b, a, b * b),
        "select",
    ),
    "logic": (
        lambda a, b: tf.where(
            tf.logical_or(
                tf.logical_and(tf.greater(a, b), tf.logical_not(tf.less(b, -1.0))),
                tf.not_equal(tf.floor(b), 0.0),
            ),
            a,
            b,
        ),
        lambda a, b: np.where(((a > b) & ~(b < -1)) | (np.floor(b) != 0), a, b),
        "logical_or",
    ),
    "bias_add": (
        lambda a, b: b + tf.reduce_sum(a, axis=0),  # a [7] row broadcast down the rows
        lambda a, b: b + a.sum(0),
        "add",
    ),
    "reduce_sum_rows": (lambda a, b: tf.reduce_sum(b, axis=0), lambda a, b: b.sum(0), "reduce_sum"),
    "reduce_sum_cols": (lambda a, b: tf.reduce_sum(b, axis=1), lambda a, b: b.sum(1), "reduce_sum"),
    "reduce_sum_all": (lambda a, b: tf.reduce_sum(b), lambda a, b: b.sum(), "reduce_sum"),
    "reduce_mean": (lambda a, b: tf.reduce_mean(b, axis=1), lambda a, b: b.mean(1), "reduce_mean"),
    "reduce_max": (lambda a, b: tf.reduce_max(b, axis=0), lambda a, b: b.max(0), "reduce_max"),
    "reduce_min": (lambda a, b: tf.reduce_min(b), lambda a, b: b.min(), "reduce_min"),
    "reduce_prod": (lambda a, b: tf.reduce_prod(a, axis=1), lambda a, b: a.prod(1), "reduce_prod"),
    "softmax": (
        lambda a, b: tf.nn.softmax(b),
        lambda a, b: np.exp(_log_softmax(b)),
        None,
    ),
    "log_softmax": (lambda a, b: tf.nn.log_softmax(b), lambda a, b: _log_softmax(b), None),
    "softmax_cross_entropy": (
        lambda a, b: tf.nn.softmax_cross_entropy_with_logits(
            labels=a / tf.reduce_sum(a, axis=1, keepdims=True), logits=b
        ),
        lambda a, b: -((a / a.sum(1, keepdims=True)) * _log_softmax(b)).sum(1),
        None,
    ),
    "sigmoid_cross_entropy": (
        lambda a, b: tf.nn.sigmoid_cross_entropy_with_logits(labels=a / 2, logits=b),
        lambda a, b: np.maximum(b, 0) - b * a / 2 + np.log1p(np.exp(-np.abs(b))),
        None,
    ),
    "l2_loss": (lambda a, b: tf.nn.l2_loss(b), lambda a, b: (b * b).sum() / 2, None),
}


def _numeric_gradient(function, inputs: list, index: int) -> np.ndarray:
    """d function / d inputs[index] by central differences, in float64."""
    x = inputs[index].astype(np.float64)
    gradient = np.zeros_like(x)
    for position in np.ndindex(x.shape):
        step = 1e-6 * max(1.0, abs(x[position]))
        values = []
        for sign in (1, -1):
            moved = [v.astype(np.float64) for v in inputs]
            moved[index][position] += sign * step
            values.append(function(*moved))
        gradient[position] = (values[0] - values[1]) / (2 * step)
    return gradient


def _close(got, expected, rtol=2e-5):
    expected = np.asarray(expected, np.float64)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


def _placement(err: str) -> dict:
    """op name -> [devices] from the placement log."""
    placed = {}
    for line in err.splitlines():
        if ": (tgc." in line:
            name, rest = line.split(": (tgc.", 1)
            op, device = rest.split("): ", 1)
            placed.setdefault((name.strip(), op), []).append(device.strip())
    return placed


NO_GRADIENT = ("ceil", "floor", "round")  # TF registers none: tf.gradients is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_op_and_its_gradient_run_on_the_vector_unit(name, capsys):
    build, reference, op = CASES[name]
    a_value, b_value = _inputs()
    expected = reference(a_value.astype(np.float64), b_value.astype(np.float64))
    c_value = np.random.default_rng(1).uniform(-1, 1, np.shape(expected)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        a = tf.placeholder(tf.float32, SHAPE, name="a")
        b = tf.placeholder(tf.float32, SHAPE, name="b")
        c = tf.placeholder(tf.float32, c_value.shape, name="c")
        with tf.device("/accel:0"):
            out = build(a, b)
            gradients = tf.gradients(tf.reduce_sum(out * c), [a, b])
        fetches = [out] + [g for g in gradients if g is not None]
        with tf.Session(config=SOFT) as sess:
            got, *got_gradients = sess.run(fetches, {a: a_value, b: b_value, c: c_value})
    placed = _placement(capsys.readouterr().err)
    assert op is None or any(kind == op for _, kind in placed), f"no tgc.{op} in the graph"
    assert any(ACCEL0 in devices for devices in placed.values())
    off_accel = {k: d for k, d in placed.items() if k[1] not in ON_THE_CPU and ACCEL0 not in d}
    assert not off_accel, f"ran off the accelerator: {off_accel}"
    _close(got, expected)

    def loss(x, y):
        return float((reference(x, y) * c_value.astype(np.float64)).sum())

    connected = [i for i, g in enumerate(gradients) if g is not None]
    assert len(got_gradients) == len(connected)
    assert bool(connected) != (name in NO_GRADIENT)  # floor, ceil, round: None, as in TF
    for index, got_gradient in zip(connected, got_gradients):
        _close(got_gradient, _numeric_gradient(loss, [a_value, b_value], index))


def _bf16(values: np.ndarray) -> np.ndarray:
    """float32 rounded to bf16 (to nearest, ties to even), as float64."""
    bits = np.asarray(values, np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def test_a_dense_layers_bias_and_relu_run_on_the_matmuls_accumulator():
    """relu(x @ w + b) is one program: the bias add and relu run on each f32 accumulator tile of
    the matmul before it is stored (an epilogue), not as a second program reading C back."""
    from tgc.lowering.accel import in_process

    rng = np.random.default_rng(3)
    x_value = rng.standard_normal((300, 200)).astype(np.float32)
    w_value = rng.standard_normal((200, 130)).astype(np.float32)
    b_value = rng.standard_normal(130).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, x_value.shape)
        w = tf.placeholder(tf.float32, w_value.shape)
        b = tf.placeholder(tf.float32, b_value.shape)
        with tf.device("/accel:0"):
            y = tf.nn.relu(tf.matmul(x, w) + b)
        with tf.Session(config=SOFT) as sess:
            got = sess.run(y, {x: x_value, w: w_value, b: b_value})
    (stats,) = in_process.last_stats()  # one program
    assert stats.macs == 300 * 200 * 130 and stats.busy_cycles["vector"] > 0
    # The matmul of the bf16-rounded operands in float64, then the f32 epilogue: the f32 sum's
    # error (K ulps of the magnitudes) and one rounding of the add.
    exact = _bf16(x_value) @ _bf16(w_value)
    bound = 200 * 2.0**-23 * (np.abs(_bf16(x_value)) @ np.abs(_bf16(w_value))) + 1e-6
    expected = np.maximum(exact + b_value, 0)
    assert np.all(np.abs(got - expected) <= bound + 2.0**-23 * np.abs(expected))


def _two_layer_steps(config, device: str, steps: int = 6) -> list:
    """The lecture's two-layer net (relu hidden layer with a bias, squared loss) with its
    variables, constants and SGD step all under ``device``; the losses of ``steps`` steps."""
    rng = np.random.default_rng(5)
    x_value = rng.standard_normal((64, 96)).astype(np.float32)
    t_value = rng.standard_normal((64, 10)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, x_value.shape)
        t = tf.placeholder(tf.float32, t_value.shape)
        with tf.device(device):
            w1 = tf.Variable(rng.standard_normal((96, 32)).astype(np.float32) * 0.1, name="w1")
            b1 = tf.Variable(tf.zeros([32]), name="b1")
            w2 = tf.Variable(rng.standard_normal((32, 10)).astype(np.float32) * 0.1, name="w2")
            hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
            loss = tf.reduce_mean(tf.square(tf.matmul(hidden, w2) - t))
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            return [
                float(sess.run([loss, step], {x: x_value, t: t_value})[0]) for _ in range(steps)
            ]


def test_a_training_step_runs_entirely_on_the_accelerator(capsys):
    """Variables, their initial values and updates (assign_sub on the vector unit), constants
    (the learning rate, zeros) and the whole forward and backward pass run on /accel:0, without
    soft placement: no op is left for the CPU. The losses follow the CPU's within the bf16
    rounding of the matmuls' inputs."""
    cpu = _two_layer_steps(tf.ConfigProto(), "/cpu:0")
    only_accel = tf.ConfigProto(device_count={"ACCEL": 1}, log_device_placement=True)
    accel = _two_layer_steps(only_accel, "/accel:0")
    placed = _placement(capsys.readouterr().err)
    assert all(ACCEL0 in devices for devices in placed.values()), placed
    assert ("w1/AssignSub", "assign_sub") in placed
    assert all(later < earlier for earlier, later in zip(accel, accel[1:]))
    np.testing.assert_allclose(accel, cpu, rtol=1e-2)


def test_constants_travel_in_the_program_even_when_returned():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [4, 3])
        with tf.device("/accel:0"):
            y = x * 2.0 + tf.constant(np.arange(3, dtype=np.float32))
            z = tf.constant(np.array([[1.5, -2.0]], np.float32))
            zeros = tf.zeros([2, 2])
        with tf.Session(config=tf.ConfigProto(device_count={"ACCEL": 1})) as sess:
            got = sess.run([y, z, zeros], {x: np.ones((4, 3), np.float32)})
    assert np.array_equal(got[0], np.tile(np.arange(3, dtype=np.float32) + 2, (4, 1)))
    assert np.array_equal(got[1], np.array([[1.5, -2.0]], np.float32))
    assert np.array_equal(got[2], np.zeros((2, 2), np.float32))


def test_empty_tensors_compute_nothing_beside_a_broadcast_input(capsys):
    """A loop dim of size 0 makes no tile: an input broadcast over every tile is not loaded either
    (campaign seed 620 failed in the lowering); a reduction over an empty dim leaves its start
    value (0 for a sum, 1 for a product)."""
    graph = tf.Graph()
    with graph.as_default():
        empty = tf.placeholder(tf.float32, [0, 3, 3, 3])
        row = tf.placeholder(tf.float32, [1, 3, 3])
        x = tf.placeholder(tf.float32, [0, 3])
        with tf.device("/accel:0"):
            greater = tf.greater(row, empty - empty)
            total = tf.reduce_sum(tf.exp(x) * 2.0, axis=0)
            product = tf.reduce_prod(x * 3.0, axis=0)
        with tf.Session(config=SOFT) as sess:
            feed = {empty: np.zeros((0, 3, 3, 3)), row: np.ones((1, 3, 3)), x: np.zeros((0, 3))}
            got = sess.run([greater, total, product], feed)
    placed = _placement(capsys.readouterr().err)
    for op in ("greater", "reduce_sum", "reduce_prod"):
        assert [ACCEL0] in [d for (_, kind), d in placed.items() if kind == op], op
    assert got[0].shape == (0, 3, 3, 3) and got[0].dtype == np.bool_
    assert np.array_equal(got[1], np.zeros(3, np.float32))
    assert np.array_equal(got[2], np.ones(3, np.float32))


def test_elu_near_zero_is_as_accurate_as_float32_expm1(capsys):
    """elu's negative side is expm1 on the vector unit, not exp(x) - 1, which cancels near 0 (x =
    -0.0117 lost 3e-6 relative, campaign seed 131). Within 2 float32 ulps of float64, as numpy's
    float32 expm1. The gradient is TF's g * (elu + 1), which adds 1 to elu rounded to float32
    (|elu| < 1: half an ulp of 2^-24, and the sum's own rounding): within float32's eps of
    float64's exp(x), absolutely."""
    x_value = np.array([-0.0117, -1e-4, -3e-7, -0.5, -3.0, -20.0, 0.0, 1e-3, 2.5], np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, x_value.shape)
        with tf.device("/accel:0"):
            y = tf.nn.elu(x)
            (dy,) = tf.gradients(tf.reduce_sum(y), [x])
        with tf.Session(config=SOFT) as sess:
            got, got_gradient = sess.run([y, dy], {x: x_value})
    placed = _placement(capsys.readouterr().err)
    assert [ACCEL0] in [d for (_, kind), d in placed.items() if kind == "expm1"]
    x64 = x_value.astype(np.float64)
    expected = np.where(x64 > 0, x64, np.expm1(x64))
    ulp = np.spacing(np.abs(expected).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got - expected) <= 2 * ulp), (got - expected) / ulp
    expected_gradient = np.where(x64 > 0, 1.0, np.exp(x64))
    np.testing.assert_allclose(got_gradient, expected_gradient, rtol=0, atol=np.finfo("f4").eps)


@pytest.mark.parametrize("fetch_the_sum", [False, True])
def test_a_reshaped_result_sent_to_the_cpu_keeps_its_rank(fetch_the_sum):
    """A 0-d sum on the accelerator, reshaped to [1] there and sent to the CPU (tan stays there):
    the CPU receives rank 1, whether or not the sum leaves too as itself (rank 0). A tensor of the
    wrong rank crashed the CPU's code (campaign seeds 41, 945)."""
    x_value = np.float32(-0.7443)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [])
        with tf.device("/accel:0"):
            total = tf.reduce_sum(tf.square(x)) * 0.5
            flat = tf.reshape(total, [-1])
        with tf.device("/cpu:0"):
            out = tf.tan(flat)
        fetches = [out, total, flat] if fetch_the_sum else [out]
        with tf.Session(config=tf.ConfigProto(device_count={"ACCEL": 1})) as sess:
            got = sess.run(fetches, {x: x_value})
    half_square = np.float64(x_value) ** 2 / 2
    assert got[0].shape == (1,)
    np.testing.assert_allclose(got[0], [np.tan(half_square)], rtol=1e-6)  # float32 arithmetic
    if fetch_the_sum:
        assert got[1].shape == () and got[2].shape == (1,)
        np.testing.assert_allclose(got[2], [half_square], rtol=1e-6)


@pytest.mark.parametrize(
    "pool, ksize, strides, padding",
    [
        ("max", 2, 2, "SAME"),
        ("max", 3, 1, "VALID"),
        ("avg", 3, 2, "SAME"),
        ("avg", 2, 2, "VALID"),
    ],
)
def test_pooling_runs_on_the_vector_unit_one_strided_dma_per_window_tap(
    pool, ksize, strides, padding, capsys
):
    """max_pool and avg_pool, and avg_pool's gradient (max_pool's stays on the CPU): per window
    tap a DMA of the padded input at the pool's strides, max or add into the accumulator.
    Against float64 numpy: max is exact, the average within float32 rounding of its ksize^2
    additions, the gradient against central differences."""
    x_value = np.random.default_rng(7).standard_normal((2, 7, 6, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, x_value.shape)
        with tf.device("/accel:0"):
            op = tf.nn.max_pool if pool == "max" else tf.nn.avg_pool
            y = op(x, [1, ksize, ksize, 1], [1, strides, strides, 1], padding)
            c_value = np.random.default_rng(8).uniform(-1, 1, y.shape.as_list()).astype(np.float32)
            (gradient,) = tf.gradients(tf.reduce_sum(y * c_value), [x])
        with tf.Session(config=SOFT) as sess:
            got, got_gradient = sess.run([y, gradient], {x: x_value})
    err = capsys.readouterr().err
    assert f"({'tgc.max_pool' if pool == 'max' else 'tgc.avg_pool'}): {ACCEL0}" in err
    expected = _pool_reference(x_value.astype(np.float64), pool, ksize, strides, padding)
    if pool == "max":
        assert np.array_equal(got, expected.astype(np.float32))
        return  # max_pool_grad stays on the CPU
    _close(got, expected, rtol=1e-6)
    assert f"(tgc.avg_pool_grad): {ACCEL0}" in err

    def loss(values):
        reference = _pool_reference(values, pool, ksize, strides, padding)
        return float((reference * c_value).sum())

    _close(got_gradient, _numeric_gradient(loss, [x_value], 0))


def _pool_reference(x, pool, ksize, strides, padding):
    """TF's pooling in float64: SAME pads so the output is ceil(size / stride) (the padding not
    counted in an average), VALID keeps the windows inside."""
    n, h, w, c = x.shape
    if padding == "SAME":
        out_h, out_w = -(-h // strides), -(-w // strides)
        pad_h = max((out_h - 1) * strides + ksize - h, 0)
        pad_w = max((out_w - 1) * strides + ksize - w, 0)
        top, left = pad_h // 2, pad_w // 2
    else:
        out_h, out_w = (h - ksize) // strides + 1, (w - ksize) // strides + 1
        top = left = 0
    result = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * strides - top, j * strides - left
            window = x[:, max(r0, 0) : r0 + ksize, max(c0, 0) : c0 + ksize, :]
            reduce = np.max if pool == "max" else np.mean
            result[:, i, j, :] = reduce(window, axis=(1, 2))
    return result
