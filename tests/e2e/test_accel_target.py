"""The accel target's walking skeleton: matmul on /accel:0 in a Session, lowered through the accel
dialect to a program that tgc.runtime.accel's simulator runs (bf16 on the matrix unit, f32
accumulation); other ops on the CPU by placement, tensors exchanged between the partitions."""

import numpy as np
import pytest
from mlir import ir

import tgc
import tgc as tf
from tgc.dialect import targets
from tgc.dialect.context import make_context
from tgc.lowering.accel import in_process
from tgc.lowering.accel.program import public_functions, read_function
from tgc.lowering.accel.tile_matmul import TileMatmulPass

ACCEL0 = "/job:localhost/replica:0/task:0/device:ACCEL:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
ONE_ACCEL = tf.ConfigProto(device_count={"ACCEL": 1}, log_device_placement=True)


def _bf16_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|accel - exact| may reach: each operand rounded to bf16 (8 significant bits: relative
    2^-8 each, so 2^-7 + 2^-16 per product) and the f32 sum (K * 2^-24 relative, doubled)."""
    k = a.shape[1]
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    return (2.0**-7 + 2.0**-16 + k * 2.0**-23) * scale + 1e-30


def _bf16(values: np.ndarray) -> np.ndarray:
    """float32 rounded to bf16 (to nearest, ties to even), as float64."""
    bits = np.asarray(values, np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def _matmul_on_accel(a: np.ndarray, b: np.ndarray, dtype=tf.float32):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(dtype, a.shape, name="x")
        w = tf.placeholder(dtype, b.shape, name="w")
        with tf.device("/accel:0"):
            y = tf.matmul(x, w, name="y")
        with tf.Session(config=ONE_ACCEL) as sess:
            return sess.run(y, {x: a, w: b})


@pytest.mark.parametrize(
    "m, k, n",
    [
        (1, 1, 1),
        (3, 4, 5),
        (128, 128, 128),
        (300, 200, 130),
        (129, 257, 2),
        (70, 300, 1000),  # 8 tiles of columns: the last two meet B's panels
        (3, 0, 4),
        (0, 5, 2),
    ],
)
def test_matmul_on_accel_is_float64_numpy_within_bf16_rounding(m, k, n, capsys):
    rng = np.random.default_rng(m * 10000 + k * 100 + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    value = _matmul_on_accel(a, b)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    assert value.dtype == np.float32 and value.shape == (m, n)
    assert np.all(np.abs(value - exact) <= _bf16_bound(a, b))
    # Exactly the products of the bf16-rounded operands, up to the f32 accumulation.
    rounded = _bf16(a) @ _bf16(b)
    assert np.all(np.abs(value - rounded) <= k * 2.0**-23 * (np.abs(_bf16(a)) @ np.abs(_bf16(b))))
    assert f"y: (tgc.matmul): {ACCEL0}" in capsys.readouterr().err
    if m * k * n > 1:  # bf16 inputs: not what float32 arithmetic gives
        assert not np.allclose(value, a @ b, rtol=1e-6, atol=0)


def test_float64_graphs_get_float64_results_computed_in_bf16():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((20, 30)), rng.standard_normal((30, 10))
    value = _matmul_on_accel(a, b, dtype=tf.float64)
    assert value.dtype == np.float64
    assert np.all(np.abs(value - a @ b) <= _bf16_bound(a, b))
    assert np.abs(value - a @ b).max() > 1e-6  # rounded to bf16 on the way


def test_values_exact_in_bf16_give_exact_products():
    """Small integers are exact in bf16 and their sums exact in f32: the accelerator's answer is
    then exactly numpy's."""
    a = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)
    b = np.arange(20, dtype=np.float32).reshape(4, 5) - 7
    np.testing.assert_array_equal(_matmul_on_accel(a, b), a @ b)


def test_a_matmul_of_a_matmul_runs_in_one_program_through_device_memory():
    """The second matmul loads what the first stored: one program, the loads of h waiting for
    the stores of h (a load of an output reads device memory as the program left it)."""
    rng = np.random.default_rng(3)
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in ((5, 7), (7, 6), (6, 4)))
    graph = tf.Graph()
    with graph.as_default():
        x, w, v = (tf.placeholder(tf.float32, t.shape) for t in (a, b, c))
        with tf.device("/accel:0"):
            h = tf.matmul(x, w)
            y = tf.matmul(h, v)
        with tf.Session(config=ONE_ACCEL) as sess:
            h_value, y_value = sess.run([h, y], {x: a, w: b, v: c})
    assert np.all(np.abs(h_value - a.astype(np.float64) @ b) <= _bf16_bound(a, b))
    assert np.all(np.abs(y_value - h_value.astype(np.float64) @ c) <= _bf16_bound(h_value, c))
    (stats,) = in_process.last_stats()
    assert stats.macs == 5 * 7 * 6 + 5 * 6 * 4


@pytest.mark.parametrize("transpose_a, transpose_b", [(True, False), (False, True), (True, True)])
def test_transposed_operands(transpose_a, transpose_b):
    """A gradient's matmuls read an operand transposed: its tiles come in one column at a time."""
    rng = np.random.default_rng(13)
    a = rng.standard_normal((9, 140)).astype(np.float32)  # read as 140 x 9 when transposed
    b = rng.standard_normal((9, 900)).astype(np.float32)  # 8 tiles of columns: panels too
    a_operand = a if transpose_a else np.ascontiguousarray(a.T)
    b_operand = np.ascontiguousarray(b.T) if transpose_b else b
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, a_operand.shape)
        w = tf.placeholder(tf.float32, b_operand.shape)
        with tf.device("/accel:0"):
            y = tf.matmul(x, w, transpose_a=transpose_a, transpose_b=transpose_b)
        with tf.Session(config=ONE_ACCEL) as sess:
            value = sess.run(y, {x: a_operand, w: b_operand})
    lhs = a.T  # 140 x 9, whichever way it was stored
    assert value.shape == (140, 900)
    assert np.all(np.abs(value - lhs.astype(np.float64) @ b) <= _bf16_bound(lhs, b))


def _train(config, device: str) -> list:
    """Five SGD steps of a linear layer whose variable and ops are requested on ``device``."""
    rng = np.random.default_rng(0)
    x_value = rng.standard_normal((64, 30)).astype(np.float32)
    t_value = rng.standard_normal((64, 10)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [64, 30])
        t = tf.placeholder(tf.float32, [64, 10])
        with tf.device(device):
            w = tf.Variable(np.linspace(-1, 1, 300, dtype=np.float32).reshape(30, 10), name="w")
            y = tf.matmul(x, w, name="y")
            loss = tf.reduce_mean(tf.square(y - t))
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            return [float(sess.run([loss, step], {x: x_value, t: t_value})[0]) for _ in range(5)]


def test_a_layer_trains_on_the_accelerator_as_on_the_cpu(capsys):
    """The forward matmul, the loss, the weight gradient's (x^T . dy) and the update run on the
    accelerator; the variable lives there too (its assign_sub is the vector unit's). Only the
    constants (the initial value, the learning rate) come from the CPU, by soft placement."""
    cpu = _train(tf.ConfigProto(), "/cpu:0")
    soft = tf.ConfigProto(
        device_count={"ACCEL": 1}, allow_soft_placement=True, log_device_placement=True
    )
    accel = _train(soft, "/accel:0")
    err = capsys.readouterr().err
    assert f"y: (tgc.matmul): {ACCEL0}" in err
    assert f"w: (tgc.variable): {ACCEL0}" in err
    assert f"w/AssignSub: (tgc.assign_sub): {ACCEL0}" in err
    assert all(later < earlier for earlier, later in zip(accel, accel[1:]))
    np.testing.assert_allclose(accel, cpu, rtol=2e-3)


def _two_layer_net(config, device: str, steps: int = 10) -> list:
    """The lecture's two-layer net (relu hidden layer, squared loss), its weights and step
    requested on ``device``; the losses of ``steps`` SGD steps."""
    rng = np.random.default_rng(1)
    x_value = rng.standard_normal((64, 256)).astype(np.float32)
    y_value = rng.standard_normal((64, 10)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [64, 256])
        y = tf.placeholder(tf.float32, [64, 10])
        with tf.device(device):
            w1 = tf.Variable(rng.standard_normal((256, 64)).astype(np.float32) * 0.05)
            w2 = tf.Variable(rng.standard_normal((64, 10)).astype(np.float32) * 0.05)
            hidden = tf.nn.relu(tf.matmul(x, w1))
            loss = tf.reduce_sum(tf.square(tf.matmul(hidden, w2) - y))
            step = tf.train.GradientDescentOptimizer(1e-3).minimize(loss)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            return [
                float(sess.run([loss, step], {x: x_value, y: y_value})[0]) for _ in range(steps)
            ]


def test_the_lectures_two_layer_net_trains_on_the_accelerator_as_on_the_cpu(capsys):
    cpu = _two_layer_net(tf.ConfigProto(), "/cpu:0")
    soft = tf.ConfigProto(
        device_count={"ACCEL": 1}, allow_soft_placement=True, log_device_placement=True
    )
    accel = _two_layer_net(soft, "/accel:0")
    matmuls_on_accel = capsys.readouterr().err.count(f"(tgc.matmul): {ACCEL0}")
    assert matmuls_on_accel >= 4  # two forward, at least two gradients
    assert accel[-1] < 0.9 * accel[0]
    np.testing.assert_allclose(accel, cpu, rtol=2e-3)


def test_a_variable_requested_on_the_accelerator_without_soft_placement_is_refused():
    """An integer variable: the accelerator holds floats (and bools) only."""
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/accel:0"):
            counter = tf.Variable(0, dtype=tf.int32, name="counter")
            bump = tf.assign_add(counter, 1)
        with tf.Session(config=tf.ConfigProto(device_count={"ACCEL": 1})) as sess:
            with pytest.raises(tgc.errors.CompileError) as caught:
                sess.run(tf.global_variables_initializer())
                sess.run(bump)
    assert "cannot place 'tgc.variable' on requested device '/device:ACCEL:0'" in str(caught.value)


def test_cpu_ops_around_the_accelerators_matmul_exchange_tensors_with_it(capsys):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((40, 30)).astype(np.float32)
    b = rng.standard_normal((30, 20)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [40, 30], name="x")
        w = tf.placeholder(tf.float32, [30, 20], name="w")
        h = tf.atan(x, name="h")  # on the CPU (no atan on the vector unit): sent to the accel
        with tf.device("/accel:0"):
            y = tf.matmul(h, w, name="y")
        z = tf.sinh(y, name="z")  # on the CPU: received from the accelerator
        with tf.Session(config=ONE_ACCEL) as sess:
            y_value, z_value = sess.run([y, z], {x: a, w: b})
    err = capsys.readouterr().err
    assert f"h: (tgc.atan): {CPU0}" in err
    assert f"y: (tgc.matmul): {ACCEL0}" in err
    assert f"z: (tgc.sinh): {CPU0}" in err
    h64 = np.arctan(a.astype(np.float64))
    exact = h64 @ b
    assert np.all(np.abs(y_value - exact) <= _bf16_bound(np.arctan(a), b) + 1e-6)
    np.testing.assert_allclose(z_value, np.sinh(y_value), rtol=1e-5, atol=1e-6)


def test_two_accelerators_and_the_cpu_pass_float64_tensors_along_a_chain(capsys):
    rng = np.random.default_rng(19)
    a, b, c = rng.standard_normal((5, 7)), rng.standard_normal((7, 3)), rng.standard_normal((3, 4))
    graph = tf.Graph()
    with graph.as_default():
        x, w, v = (tf.placeholder(tf.float64, t.shape) for t in (a, b, c))
        h = tf.exp(x, name="h")
        with tf.device("/accel:0"):
            y = tf.matmul(h, w, name="y")
        r = tf.tanh(y, name="r")
        with tf.device("/accel:1"):
            z = tf.matmul(r, v, name="z")
        config = tf.ConfigProto(device_count={"ACCEL": 2}, log_device_placement=True)
        with tf.Session(config=config) as sess:
            y_value, z_value = sess.run([y, z], {x: a, w: b, v: c})
    err = capsys.readouterr().err
    assert f"y: (tgc.matmul): {ACCEL0}" in err
    assert f"z: (tgc.matmul): {ACCEL0[:-1]}1" in err
    assert y_value.dtype == z_value.dtype == np.float64
    assert np.all(np.abs(y_value - np.exp(a) @ b) <= _bf16_bound(np.exp(a), b))
    r_value = np.tanh(y_value)
    assert np.all(np.abs(z_value - r_value @ c) <= _bf16_bound(r_value, c) + 1e-12)


def test_a_reshape_of_an_unknown_length_sent_to_the_other_accelerator_keeps_its_shape():
    """ceil of a [None] placeholder reshaped to [1, -1, 4] on /accel:0, used there both as the
    reshape (a product over its last dim) and as its source (a second reshape to [1, 2, 2]), and
    sent to /accel:1: the send goes through a copy into a buffer of unknown shape, and /accel:1
    must receive [1, 1, 4], not ceil's [4] (the fixed set's accelerator seed 4, shrunk)."""
    x_value = np.float32([-1.81, 0.0559, -0.0796, -1.62])
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None])
        with tf.device("/accel:0"):
            rows = tf.reshape(tf.ceil(x), [1, -1, 4])
            product = tf.reduce_prod(rows, axis=[2], keepdims=True)
            square = tf.reshape(rows, [1, 2, 2])
        with tf.device("/accel:1"):
            scaled = rows * x
        config = tf.ConfigProto(device_count={"ACCEL": 2}, log_device_placement=True)
        with tf.Session(config=config) as sess:
            got = sess.run([product, square, scaled], {x: x_value})
    ceil = np.ceil(x_value)
    assert [g.shape for g in got] == [(1, 1, 1), (1, 2, 2), (1, 1, 4)]
    np.testing.assert_array_equal(got[0], [[[np.prod(ceil)]]])  # products of -1, 1 and -0: exact
    np.testing.assert_array_equal(got[1], ceil.reshape(1, 2, 2))
    np.testing.assert_allclose(got[2], (ceil * x_value).reshape(1, 1, 4), rtol=1e-6)


def test_an_op_the_accelerator_cannot_run_goes_to_the_cpu_with_soft_placement(capsys):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [2, 3], name="x")
        w = tf.placeholder(tf.float32, [3, 2], name="w")
        with tf.device("/accel:0"):
            e = tf.cosh(x, name="e")  # the vector unit has no cosh
            y = tf.matmul(e, w, name="y")
        soft = tf.ConfigProto(
            device_count={"ACCEL": 1}, allow_soft_placement=True, log_device_placement=True
        )
        a, b = np.zeros((2, 3), np.float32), np.ones((3, 2), np.float32)
        with tf.Session(config=soft) as sess:
            np.testing.assert_array_equal(sess.run(y, {x: a, w: b}), np.full((2, 2), 3.0))
        err = capsys.readouterr().err
        assert f"e: (tgc.cosh): {CPU0}" in err
        assert f"y: (tgc.matmul): {ACCEL0}" in err
        with tf.Session(config=ONE_ACCEL) as sess, pytest.raises(tgc.errors.CompileError) as caught:
            sess.run(y, {x: a, w: b})
    message = str(caught.value)
    assert "'e': error: cannot place 'tgc.cosh' on requested device '/device:ACCEL:0'" in message


def test_the_simulators_cycle_counts_of_the_last_run_are_kept():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    b = rng.standard_normal((256, 128)).astype(np.float32)
    _matmul_on_accel(a, b)
    [stats] = in_process.last_stats()  # one program
    assert stats.macs == 256 * 256 * 128
    # Weight-stationary: the 256 rows stream through each of the two weight tiles along K (plus
    # the array's fill and drain).
    assert stats.busy_cycles["matrix"] == 2 * (256 + 128)
    assert stats.total_cycles >= stats.busy_cycles["matrix"]
    assert stats.matrix_utilisation == pytest.approx(stats.macs / (128 * 128) / stats.total_cycles)
    assert 0 < stats.matrix_utilisation < 1


def test_weight_stationary_tiles_keep_the_matrix_unit_busy_on_a_1024_cube():
    """A and B come from device memory once each (all 1024 rows of A stream through each weight
    tile) and their DMAs overlap the matmuls; the schedule is DMA-bound (B's 128 x 128 tiles each
    pay the DMA latency), at about 80 % of the matrix unit (docs/accel-machine.md)."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    b = rng.standard_normal((1024, 1024)).astype(np.float32)
    value = _matmul_on_accel(a, b)
    assert np.all(np.abs(value - a.astype(np.float64) @ b) <= _bf16_bound(a, b))
    [stats] = in_process.last_stats()
    assert stats.matrix_utilisation > 0.75
    assert stats.dma_bytes_in == (1024 * 1024 + 1024 * 1024) * 4  # each operand read once


def test_jit_on_the_accelerator_runs_the_matmul_there():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((6, 50)).astype(np.float32)
    w = rng.standard_normal((50, 3)).astype(np.float32)

    @tgc.jit(device="accel")
    def project(x, w):
        return tgc.matmul(x, w)

    value = project(x, w)
    assert np.all(np.abs(value - x.astype(np.float64) @ w) <= _bf16_bound(x, w))
    [stats] = in_process.last_stats()
    assert stats.macs == 6 * 50 * 3


def test_the_accel_target_is_registered_for_accel_devices():
    target = targets.for_device_type("ACCEL")
    assert target.name == "accel" and target.static_shapes
    assert "matmul" in target.supported_ops() and "atan" not in target.supported_ops()
    assert target.available_devices() is None


# The accel dialect, generated from its registry.


def test_the_accel_dialect_is_generated_from_its_registry_and_verifies_its_ops():
    from tgc.lowering.accel import ops

    text = ops.dialect_irdl()
    for name in ("cast", "dma_load", "dma_store", "matmul", "zero"):
        assert f"irdl.operation @{name} {{" in text
    context = make_context()
    ops.load_dialect(context)
    ops.load_dialect(context)  # once only: loading twice would abort
    box = "begin = array<i64: 0, 0>, count = array<i64: 4, 4>, step = array<i64: 1, 1>"
    load = '"accel.dma_load"(%a) {' + box + ", to = TO}"
    function = "func.func @f(%a: memref<4x4xf32>) {\n  LOAD : (memref<4x4xf32>) -> ()\n  return\n}"
    with context, ir.Location.unknown():
        good = ir.Module.parse(function.replace("LOAD", load.replace("TO", "0")))
        assert good.operation.verify()
        with pytest.raises(ir.MLIRError) as caught:
            ir.Module.parse(function.replace("LOAD", load.replace("TO", '"x"')))
    assert "expected base attribute 'builtin.integer' but got 'builtin.string'" in str(caught.value)


# The program writer on a lowered function.

_TWO_K_TILES = """
func.func @f(%a: memref<2x200xf32>, %b: memref<200x3xf32>) -> memref<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x3xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x3xf32>)
  linalg.matmul ins(%a, %b : memref<2x200xf32>, memref<200x3xf32>) outs(%c : memref<2x3xf32>)
  return %c : memref<2x3xf32>
}
"""


def _program(text: str) -> tuple:
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        TileMatmulPass().run(module)
        [function] = public_functions(module)
        return read_function(function)


def test_the_program_lists_the_tensors_and_each_instruction_waits_for_what_it_needs():
    [program], host = _program(_TWO_K_TILES)
    assert program["tensors"] == [
        {"shape": [2, 200], "dtype": "float32", "kind": "input", "index": 0},
        {"shape": [200, 3], "dtype": "float32", "kind": "input", "index": 1},
        {"shape": [2, 3], "dtype": "float32", "kind": "output", "index": 0},
    ]
    ops = [(i["op"], i["waits"]) for i in program["instructions"]]
    assert ops == [
        ("zero", []),  # the accumulator, zeroed before the first DMA lands
        ("dma_load", []),  # A's first tile
        ("cast", [1]),
        ("dma_load", []),  # B's block of both K tiles (200 x 3) in one DMA
        ("cast", [3]),  # cast 128 elements a row: 600 = 4 x 128 ...
        ("cast", [3]),  # ... + 88
        ("matmul", [4]),  # B's rows [0, 128): the first cast's (the vector unit runs in order)
        ("dma_load", []),  # A's second tile, into the other slot: overlaps the first matmul
        ("cast", [7]),  # 2 x 72 = 128 + 16 elements
        ("cast", [7]),
        ("matmul", [9]),  # B's block's rows [128, 200)
        ("dma_store", [10]),
    ]
    assert program["instructions"][7]["begin"] == [0, 128]  # A's columns [128, 200)
    assert program["instructions"][7]["count"] == [2, 72]
    # Slots for chunks of 2 rows: A staging 2 x 1 KiB, B staging 2 x (200 x 3 f32), B bf16
    # 2 x (200 x 3 bf16), A bf16 2 x 512 bytes, then the accumulator (2 x 3 f32) ends the buffer.
    assert program["buffer_bytes"] == 2048 + 2 * 2400 + 2 * 1200 + 1024 + 2 * 3 * 4
    assert host["programs"] == [
        {
            "inputs": [
                {"source": ["argument", 0], "dtype": "float32"},
                {"source": ["argument", 1], "dtype": "float32"},
            ]
        }
    ]
    assert host["allocs"] == [{"shape": [2, 3], "dtype": "float32", "from": [0, 0]}]
    assert host["results"] == [["alloc", 0]]
    assert host["steps"] == [{"program": 0}]


def test_reusing_a_slot_waits_for_its_last_reader():
    """Three tiles along K: the third A tile reuses the first's staging slot, so its DMA waits for
    the cast that read that slot."""
    [program], _ = _program(_TWO_K_TILES.replace("200", "300"))
    loads_of_a = [
        index
        for index, i in enumerate(program["instructions"])
        if i["op"] == "dma_load" and i["tensor"] == 0
    ]
    first, _, third = loads_of_a
    first_cast = first + 1
    assert program["instructions"][third]["to"] == program["instructions"][first]["to"]
    assert program["instructions"][third]["waits"] == [first_cast]


def test_tgc_compile_emits_the_accel_ir_and_the_programs_the_simulator_runs(tmp_path):
    import json

    from click.testing import CliRunner

    from tgc.runtime.accel.simulator import Simulator
    from tgc.tools.cli import main

    source = tmp_path / "model.py"
    source.write_text(
        "import tgc as tf\n"
        "x = tf.placeholder(tf.float32, [130, 3], name='x')\n"
        "w = tf.placeholder(tf.float32, [3, 2], name='w')\n"
        "y = tf.matmul(x, w, name='y')\n"
    )
    args = ["compile", str(source), "--fetch", "y", "--target", "accel", "--emit"]
    accel_ir = CliRunner().invoke(main, [*args, "accel"])
    assert accel_ir.exit_code == 0, accel_ir.output
    # The 130 rows stream through the one weight tile.
    assert accel_ir.output.count('"accel.matmul"()') == 1
    assert "lhs_shape = array<i64: 130, 3>" in accel_ir.output
    emitted = CliRunner().invoke(main, [*args, "program"])
    assert emitted.exit_code == 0, emitted.output
    [(name, function)] = json.loads(emitted.output).items()
    assert name == "model_main" and function["host"]["results"] == [["alloc", 0]]
    [program] = function["programs"]
    a = np.arange(390, dtype=np.float32).reshape(130, 3) % 7 - 3
    b = np.array([[1, 2], [3, 4], [5, 6]], np.float32)
    [value] = Simulator(program).run([a, b])
    np.testing.assert_array_equal(value, a @ b)  # small integers: exact in bf16


def test_tgc_graph_shows_the_accelerators_partition_and_its_transfers(tmp_path):
    from click.testing import CliRunner

    from tgc.tools.cli import main

    source = tmp_path / "model.py"
    source.write_text(
        "import numpy as np\n"
        "import tgc as tf\n"
        "x = tf.placeholder(tf.float32, [4, 3], name='x')\n"
        "w = tf.placeholder(tf.float32, [3, 2], name='w')\n"
        "h = tf.atan(x, name='h')\n"
        "with tf.device('/accel:0'):\n"
        "    y = tf.matmul(h, w, name='y')\n"
        "z = tf.sinh(y, name='z')\n"
        "with tf.Session(config=tf.ConfigProto(device_count={'ACCEL': 1})) as sess:\n"
        "    sess.run(z, {x: np.ones((4, 3)), w: np.ones((3, 2))})\n"
    )
    result = CliRunner().invoke(main, ["graph", str(source), "--stage", "partitioned"])
    assert result.exit_code == 0, result.output
    assert "@ ACCEL:0" in result.output  # the accelerator's partition
    assert 'label="y\\nMatMul\\n@ACCEL:0"' in result.output
    assert 'label="h\\n_Send\\n@CPU:0"' in result.output
    assert 'label="h\\n_Recv\\n@ACCEL:0"' in result.output
    assert 'label="y\\n_Send\\n@ACCEL:0"' in result.output
