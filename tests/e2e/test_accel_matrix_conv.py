"""conv2d and its two gradients on the matrix unit (tgc-accel-tile-conv): the core level's conv
ops lowered to window DMAs and matmuls, run on the simulator, against float64 numpy within bf16
rounding; VALID and SAME padding, strides 1 and 2."""

import subprocess
import sys

import numpy as np
import pytest
from mlir import ir
from mlir.passmanager import PassManager

import tgc as tf
from tgc.dialect.context import make_context
from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.accel import in_process, pipeline
from tgc.lowering.accel.program import public_functions, read_function
from tgc.lowering.accel.tile_conv import TileConvPass
from tgc.lowering.accel.tile_matmul import TileMatmulPass
from tgc.runtime.accel.machine import Machine
from tgc.runtime.accel.simulator import Simulator

_PROGRAM = """
import tgc as tf
x = tf.placeholder(tf.float32, {x}, name="x")
w = tf.placeholder(tf.float32, {w}, name="w")
dy = tf.placeholder(tf.float32, {y}, name="dy")
strides = [1, {s}, {s}, 1]
y = tf.nn.conv2d(x, w, strides=strides, padding="{padding}", name="y")
dx = tf.nn.conv2d_backprop_input({x}, w, dy, strides=strides, padding="{padding}", name="dx")
dw = tf.nn.conv2d_backprop_filter(x, {w}, dy, strides=strides, padding="{padding}", name="dw")
"""


def _geometry(size: int, k: int, stride: int, padding: str) -> tuple:
    """(padding before, output size) along one spatial dim, as TensorFlow defines them."""
    if padding == "VALID":
        return 0, (size - k) // stride + 1
    out = -(-size // stride)
    return max((out - 1) * stride + k - size, 0) // 2, out


def _canvas(x_shape, kernel, stride, grid) -> np.ndarray:
    """Zeros big enough that every window of x (placed at (kernel[0], kernel[1])) lies inside."""
    n, h, w, c = x_shape
    return np.zeros(
        (n, h + 2 * kernel[0] + stride * grid[0], w + 2 * kernel[1] + stride * grid[1], c)
    )


def _windows(canvas, x_shape, kernel, stride, padding):
    """Per tap (kh, kw): the [N, OH, OW, C] view of ``canvas`` (x placed at (kernel[0],
    kernel[1])) that the tap reads."""
    _, h, w, _ = x_shape
    top, oh = _geometry(h, kernel[0], stride, padding)
    left, ow = _geometry(w, kernel[1], stride, padding)
    for kh in range(kernel[0]):
        for kw in range(kernel[1]):
            h0, w0 = kernel[0] - top + kh, kernel[1] - left + kw
            view = canvas[:, h0 : h0 + stride * oh : stride, w0 : w0 + stride * ow : stride]
            yield kh, kw, view[:, :oh, :ow]


def _references(x, w, dy, stride, padding):
    """y, dx, dw in float64: the conv as a sum of per-tap matmuls, and its adjoints."""
    kernel, (_, h, wd, _) = w.shape[:2], x.shape
    inside = (slice(None), slice(kernel[0], kernel[0] + h), slice(kernel[1], kernel[1] + wd))
    padded = _canvas(x.shape, kernel, stride, dy.shape[1:3])
    padded[inside] = x
    dx = _canvas(x.shape, kernel, stride, dy.shape[1:3])
    y, dw = 0.0, np.zeros(w.shape)
    taps = zip(
        _windows(padded, x.shape, kernel, stride, padding),
        _windows(dx, x.shape, kernel, stride, padding),
    )
    for (kh, kw, window), (_, _, spots) in taps:
        y = y + window @ w[kh, kw]
        dw[kh, kw] = np.einsum("nhwc,nhwf->cf", window, dy)
        spots += dy @ w[kh, kw].T.astype(np.float64)  # a view: adds into dx
    return {"y": y, "dx": dx[inside], "dw": dw}


def _bounds(x, w, dy, stride, padding):
    """|accel - exact| may reach, per output: the same computation on |operands| times bf16's
    rounding of both operands (2^-7 + 2^-16 per product) and the f32 sums (K * 2^-23)."""
    magnitudes = _references(np.abs(x), np.abs(w), np.abs(dy), stride, padding)
    sums = {"y": w[..., 0].size, "dx": w[..., 0, :].size, "dw": dy[..., 0].size}
    return {
        key: (2.0**-7 + 2.0**-16 + sums[key] * 2.0**-23) * value + 1e-30
        for key, value in magnitudes.items()
    }


def _core(shapes: dict, stride: int, padding: str, fetch: str, tmp_path) -> str:
    program = tmp_path / "conv.py"
    program.write_text(_PROGRAM.format(s=stride, padding=padding, **shapes))
    command = [sys.executable, "-m", "tgc.tools.cli", "compile", str(program), "--fetch", fetch]
    done = subprocess.run([*command, "--emit", "core"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _lowered_program(core: str):
    """The core module through bufferization, tgc-accel-tile-conv and tgc-accel-tile-matmul: the
    function's one program and its host plan."""
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(core)
        PassManager.parse(f"builtin.module({pipeline.ONE_SHOT_BUFFERIZE})").run(module.operation)
        for op in all_ops(module):
            if op.name == "memref.get_global" and not list(op.results[0].uses):
                op.erase()  # conv2d_backprop_input's input_sizes, only its shape is read
        TileConvPass().run(module)
        TileMatmulPass().run(module)
        [function] = public_functions(module)
        [program], host = read_function(function)
    return program, host


CASES = [
    ([2, 8, 8, 3], [3, 3, 3, 4], 1, "SAME"),
    ([2, 8, 8, 3], [3, 3, 3, 4], 1, "VALID"),
    ([2, 9, 7, 3], [3, 2, 3, 5], 2, "SAME"),
    ([2, 9, 7, 3], [3, 2, 3, 5], 2, "VALID"),
    ([1, 6, 6, 200], [2, 2, 200, 130], 2, "VALID"),  # channels in two tiles each way
    ([6, 40, 40, 2], [3, 3, 2, 3], 1, "SAME"),  # 9600 positions: chunks of 5 whole images
    ([1, 100, 100, 1], [3, 3, 1, 2], 1, "SAME"),  # 10000 in one image: chunks of whole rows
    # A 1x1 kernel at stride 1: core's spread of dy covers its whole zeros, and canonicalize folds
    # it away (the input gradient reads dy itself).
    ([2, 4, 4, 2], [1, 1, 2, 3], 1, "SAME"),
    ([2, 7, 8, 6], [1, 1, 6, 3], 1, "VALID"),
    ([2, 7, 8, 6], [1, 1, 6, 3], 2, "SAME"),
    ([2, 1, 1, 4], [1, 1, 4, 3], 2, "SAME"),  # one position: a stride-2 spread folds too
    ([2, 7, 8, 6], [1, 3, 6, 3], 1, "SAME"),
    ([2, 7, 8, 6], [3, 1, 6, 3], 2, "VALID"),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CASES)
def test_conv2d_and_its_gradients_on_the_matrix_unit(x_shape, w_shape, stride, padding, tmp_path):
    n, h, w, _ = x_shape
    oh = _geometry(h, w_shape[0], stride, padding)[1]
    ow = _geometry(w, w_shape[1], stride, padding)[1]
    y_shape = [n, oh, ow, w_shape[3]]
    rng = np.random.default_rng(sum(x_shape) + stride)
    x = rng.standard_normal(x_shape).astype(np.float32)
    filters = rng.standard_normal(w_shape).astype(np.float32)
    dy = rng.standard_normal(y_shape).astype(np.float32)
    exact = _references(x, filters, dy, stride, padding)
    bounds = _bounds(x, filters, dy, stride, padding)
    shapes = {"x": x_shape, "w": w_shape, "y": y_shape}
    arguments = {"y": [x, filters], "dx": [filters, dy], "dw": [x, dy]}
    for fetch in ("y", "dx", "dw"):
        program, host = _lowered_program(_core(shapes, stride, padding, fetch, tmp_path))
        ops = {instruction["op"] for instruction in program["instructions"]}
        assert ops <= {"dma_load", "dma_store", "cast", "zero", "matmul"}
        sources = [entry["source"] for entry in host["programs"][0]["inputs"]]
        assert all(kind == "argument" for kind, _ in sources)
        [value] = Simulator({"machine": Machine().to_dict(), **program}).run(
            [arguments[fetch][index] for _, index in sources]
        )
        error = np.abs(value - exact[fetch])
        assert np.all(error <= bounds[fetch]), (fetch, error.max())
        assert error.max() > 0  # rounded to bf16 on the way: the matrix unit computed it


_ON_ACCEL = "conv2d" in pipeline.ACCEL_OPS


@pytest.mark.skipif(not _ON_ACCEL, reason="conv2d is not yet one of pipeline.ACCEL_OPS")
@pytest.mark.parametrize("stride, padding", [(1, "SAME"), (2, "VALID")])
def test_a_conv_layers_step_runs_its_convs_on_the_accelerator(stride, padding):
    """Through a Session: the conv and both gradients requested on /accel:0 run there."""
    rng = np.random.default_rng(7)
    x_value = rng.standard_normal((2, 9, 9, 3)).astype(np.float32)
    w_value = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, x_value.shape)
        w = tf.placeholder(tf.float32, w_value.shape)
        with tf.device("/accel:0"):
            y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=padding)
            dx, dw = tf.gradients(tf.reduce_sum(y), [x, w])
        config = tf.ConfigProto(device_count={"ACCEL": 1}, allow_soft_placement=True)
        with tf.Session(config=config) as sess:
            y_value, dx_value, dw_value = sess.run([y, dx, dw], {x: x_value, w: w_value})
    ones = np.ones(y_value.shape, np.float32)
    exact = _references(x_value, w_value, ones, stride, padding)
    bounds = _bounds(x_value, w_value, ones, stride, padding)
    for key, value in (("y", y_value), ("dx", dx_value), ("dw", dw_value)):
        assert np.all(np.abs(value - exact[key]) <= bounds[key]), key
    assert sum(stats.macs for stats in in_process.last_stats()) > 0


@pytest.mark.skipif(not _ON_ACCEL, reason="conv2d is not yet one of pipeline.ACCEL_OPS")
@pytest.mark.parametrize("kernel, stride", [((1, 1), 1), ((1, 1), 2), ((3, 3), 1), ((1, 3), 2)])
@pytest.mark.parametrize("wrt", ["x", "w"])
def test_a_gradient_from_an_elementwise_op_stays_a_convolution(kernel, stride, wrt):
    """dy = c + c (exact in f32): a one-use elementwise op that linalg-fuse-elementwise-ops
    would fold into the gradient's generic (a 1x1 kernel's input gradient failed to compile:
    "the indexing map result -d0 is not a loop dim or 0"; any filter gradient: "... d1 + d3 ...").
    Each gradient alone, so that nothing else reads dy."""
    rng = np.random.default_rng(11)
    x_value = rng.standard_normal((2, 7, 8, 6)).astype(np.float32)
    w_value = rng.standard_normal((*kernel, 6, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, x_value.shape)
        w = tf.placeholder(tf.float32, w_value.shape)
        with tf.device("/accel:0"):
            y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME")
            c = tf.placeholder(tf.float32, y.shape)
            [gradient] = tf.gradients(tf.reduce_sum(y * (c + c)), [{"x": x, "w": w}[wrt]])
        c_value = rng.standard_normal(c.shape.as_list()).astype(np.float32)
        with tf.Session(config=tf.ConfigProto(device_count={"ACCEL": 1})) as sess:
            value = sess.run(gradient, {x: x_value, w: w_value, c: c_value})
    key = {"x": "dx", "w": "dw"}[wrt]
    exact = _references(x_value, w_value, 2 * c_value, stride, "SAME")[key]
    bound = _bounds(x_value, w_value, 2 * c_value, stride, "SAME")[key]
    assert np.all(np.abs(value - exact) <= bound)
    assert sum(stats.macs for stats in in_process.last_stats()) > 0
