"""The matrix unit's schedules (tgc-accel-tile-matmul): the 1024^3 matmul at 90 % or more of the
matrix unit on the default machine, compiled by tgc and run on the simulator, and the schedule's
corners (blocks, halves, panels, pieces, chunks, transposed operands) against float64 numpy."""

import numpy as np
import pytest

import tgc
import tgc as tf
from tgc.lowering.accel import in_process

ONE_ACCEL = tf.ConfigProto(device_count={"ACCEL": 1})


def _bf16_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|accel - exact| may reach: each operand rounded to bf16 (8 significant bits: relative
    2^-8 each, so 2^-7 + 2^-16 per product) and the f32 sum (K * 2^-24 relative, doubled)."""
    k = a.shape[1]
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    return (2.0**-7 + 2.0**-16 + k * 2.0**-23) * scale + 1e-30


def _matmul_on_accel(a, b, transpose_a=False, transpose_b=False):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, a.shape)
        w = tf.placeholder(tf.float32, b.shape)
        with tf.device("/accel:0"):
            y = tf.matmul(x, w, transpose_a=transpose_a, transpose_b=transpose_b)
        with tf.Session(config=ONE_ACCEL) as sess:
            return sess.run(y, {x: a, w: b})


def _operands(m: int, k: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    return a, b


def _assert_close(value, a, b):
    exact = a.astype(np.float64) @ b.astype(np.float64)
    assert value.shape == exact.shape
    assert np.all(np.abs(value - exact) <= _bf16_bound(a, b))


def test_the_1024_cube_keeps_the_matrix_unit_busy_90_percent_of_the_time():
    """Compiled through a Session and run on the default machine: 64 matmuls of 1024 rows (65,536
    useful cycles) in at most 72,818 cycles. B comes in blocks of two tiles along K and in whole
    column panels, A in 1024 x 128 tiles kept in bf16 (docs/accel-compiler.md)."""
    a, b = _operands(1024, 1024, 1024, seed=2)
    value = _matmul_on_accel(a, b)
    _assert_close(value, a, b)
    [stats] = in_process.last_stats()
    assert stats.macs == 1024**3
    assert stats.matrix_utilisation >= 0.90
    assert stats.fraction_of_peak == pytest.approx(stats.matrix_utilisation)
    assert stats.dma_bytes_in == 2 * 1024 * 1024 * 4  # each operand read once
    assert stats.dma_bytes_out == 1024 * 1024 * 4


def test_the_1024_cube_through_jit_is_as_fast():
    a, b = _operands(1024, 1024, 1024, seed=3)

    @tgc.jit(device="accel")
    def product(a, b):
        return tgc.matmul(a, b)

    _assert_close(product(a, b), a, b)
    [stats] = in_process.last_stats()
    assert stats.matrix_utilisation >= 0.90


@pytest.mark.parametrize(
    "m, k, n",
    [
        (1, 1, 1),
        (5, 3, 2),
        (130, 200, 130),  # blocks of 200 rows, edges in K and N
        (512, 384, 256),  # A's second tile in halves; a group of one tile
        (600, 1000, 900),  # halves of 300 rows, 8 K tiles (the last 104 wide), a panel column
        (256, 512, 1000),  # the last column (104 wide) in pieces of 128 rows
        (1100, 300, 1030),  # two chunks of rows (1024 + 76): B read once per chunk
        (3, 5000, 260),  # B's panels would not fit: every column K-outer
    ],
)
def test_every_schedule_gives_float64_numpy_within_bf16_rounding(m, k, n):
    a, b = _operands(m, k, n, seed=m + k + n)
    _assert_close(_matmul_on_accel(a, b), a, b)
    [stats] = in_process.last_stats()
    assert stats.macs == m * k * n


@pytest.mark.parametrize("transpose_a, transpose_b", [(True, False), (False, True), (True, True)])
def test_transposed_operands_through_blocks_and_panels(transpose_a, transpose_b):
    """A gradient reads an operand transposed; 8 tiles of columns (blocks and a panel) and 2 tiles
    along K (A's second tile in halves: 512 rows)."""
    a, b = _operands(512, 200, 900, seed=11)
    a_operand = np.ascontiguousarray(a.T) if transpose_a else a
    b_operand = np.ascontiguousarray(b.T) if transpose_b else b
    value = _matmul_on_accel(a_operand, b_operand, transpose_a, transpose_b)
    _assert_close(value, a, b)


def _cycles_on_accel(a, b, transpose_a=False, transpose_b=False) -> int:
    _matmul_on_accel(a, b, transpose_a, transpose_b)
    [stats] = in_process.last_stats()
    return stats.total_cycles


def test_a_transposed_operand_comes_in_one_dma_per_tile():
    """A gradient's matmul reads an operand transposed. One transposing DMA per tile (it gathers:
    8x the bytes of a plain copy, docs/accel-machine.md) instead of one DMA per row of the tile
    (each paying the 500-cycle latency): 256^3 took 261,840 cycles that way, 14,008 now; the plain
    product takes 6,840."""
    a, b = _operands(256, 256, 256, seed=21)
    plain = _cycles_on_accel(a, b)
    a_stored, b_stored = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    for transposed in [(True, False), (False, True)]:
        operands = (a_stored if transposed[0] else a, b_stored if transposed[1] else b)
        cycles = _cycles_on_accel(*operands, *transposed)
        assert plain < cycles < 3 * plain


def test_a_layers_gradients_on_the_accelerator_match_float64_numpy():
    """tf.gradients of sum(x . w): x's gradient is ones . w^T, w's is x^T . ones: both matmuls
    read an operand transposed, through the transposing DMA."""
    rng = np.random.default_rng(23)
    x_value = rng.standard_normal((300, 200)).astype(np.float32)
    w_value = rng.standard_normal((200, 150)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, x_value.shape)
        w = tf.placeholder(tf.float32, w_value.shape)
        with tf.device("/accel:0"):
            loss = tf.reduce_sum(tf.matmul(x, w))
            dx, dw = tf.gradients(loss, [x, w])
        config = tf.ConfigProto(device_count={"ACCEL": 1}, allow_soft_placement=True)
        with tf.Session(config=config) as sess:
            dx_value, dw_value = sess.run([dx, dw], {x: x_value, w: w_value})
    ones = np.ones((300, 150), np.float32)
    _assert_close(dx_value, ones, w_value.T)
    _assert_close(dw_value, x_value.T, ones)


@pytest.mark.parametrize(
    "shape, transposed",
    [
        ((50, 1024, 3136), (False, True)),  # a dense layer's input gradient: dz . W^T
        ((7, 300, 200), (False, True)),
        ((200, 5, 300), (True, True)),
    ],
)
def test_a_wide_product_with_b_transposed_runs_swapped(shape, transposed):
    """C = A . B^T with few rows of A runs as C^T = B . A^T: B's rows stream plain through A^T's
    tiles and only A (small) and C are read or stored transposed. The convnet's 50 x 1024 x 3136
    input gradient: 120,124 cycles (B^T gathered: about 400,000)."""
    m, k, n = shape
    a, b = _operands(m, k, n, seed=m + n)
    a_operand = np.ascontiguousarray(a.T) if transposed[0] else a
    b_operand = np.ascontiguousarray(b.T) if transposed[1] else b
    _assert_close(_matmul_on_accel(a_operand, b_operand, *transposed), a, b)
    [stats] = in_process.last_stats()
    if shape == (50, 1024, 3136):
        assert stats.total_cycles < 130_000


@pytest.mark.parametrize("transpose_a", [False, True])
def test_an_operand_that_is_a_slice_is_read_through_it(transpose_a):
    """A split's second half is a strided view of its tensor: the DMAs read their boxes through
    it (the program writer puts them in the tensor's own dims)."""
    rng = np.random.default_rng(31)
    whole = rng.standard_normal((6, 300)).astype(np.float32)
    w_value = rng.standard_normal((150, 5) if not transpose_a else (6, 5)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, whole.shape)
        w = tf.placeholder(tf.float32, w_value.shape)
        with tf.device("/accel:0"):
            _, half = tf.split(x, 2, axis=1)
            y = tf.matmul(half, w, transpose_a=transpose_a)
        config = tf.ConfigProto(device_count={"ACCEL": 1}, allow_soft_placement=True)
        with tf.Session(config=config) as sess:
            value = sess.run(y, {x: whole, w: w_value})
    lhs = whole[:, 150:].T if transpose_a else whole[:, 150:]
    _assert_close(value, np.ascontiguousarray(lhs), w_value)
