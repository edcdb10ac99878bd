"""The program writer carries the accel dialect's N-D DMA and vector ops into programs.

A hand-written accel-level function (what the lowering passes produce) is read into a program by
tgc/lowering/accel/program.py and run on the simulator: boxes of 4-D tensors with strides and a
fill (a convolution window with SAME padding), a transposing load and a broadcast, against numpy.
"""

from __future__ import annotations

import numpy as np
from mlir import ir

from tgc.dialect.context import make_context
from tgc.lowering.accel import ops
from tgc.lowering.accel.program import public_functions, read_function
from tgc.runtime.accel import Simulator

# x: NHWC [1, 4, 4, 2]; w: [3, 2]. Tile 0 (bytes 0..): the 3 x 3 window of tap (0, 0) at stride 2
# with SAME padding (the first row and column are fill) as 4 positions x 2 channels; tile 1 (at
# 64): w transposed (2 x 3); tile 2 (at 128): w's row 1 broadcast to 4 rows.
_FUNCTION = """
func.func @f(%x: memref<1x4x4x2xf32>, %w: memref<3x2xf32>)
    -> (memref<4x2xf32>, memref<2x3xf32>, memref<4x2xf32>) {
  %window = memref.alloc() : memref<4x2xf32>
  %wt = memref.alloc() : memref<2x3xf32>
  %rows = memref.alloc() : memref<4x2xf32>
  "accel.dma_load"(%x) {begin = array<i64: 0, -1, -1, 0>, count = array<i64: 1, 2, 2, 2>,
      step = array<i64: 1, 2, 2, 1>, fill = -2.5 : f64, to = 0 : i64} : (memref<1x4x4x2xf32>) -> ()
  "accel.dma_load"(%w) {begin = array<i64: 0, 0>, count = array<i64: 3, 2>,
      step = array<i64: 1, 1>, perm = array<i64: 1, 0>, to = 64 : i64} : (memref<3x2xf32>) -> ()
  "accel.dma_load"(%w) {begin = array<i64: 1, 0>, count = array<i64: 4, 2>,
      step = array<i64: 0, 1>, to = 128 : i64} : (memref<3x2xf32>) -> ()
  "accel.dma_store"(%window) {begin = array<i64: 0, 0>, count = array<i64: 4, 2>,
      step = array<i64: 1, 1>, from = 0 : i64} : (memref<4x2xf32>) -> ()
  "accel.dma_store"(%wt) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>,
      step = array<i64: 1, 1>, from = 64 : i64} : (memref<2x3xf32>) -> ()
  "accel.dma_store"(%rows) {begin = array<i64: 0, 0>, count = array<i64: 4, 2>,
      step = array<i64: 1, 1>, from = 128 : i64} : (memref<4x2xf32>) -> ()
  return %window, %wt, %rows : memref<4x2xf32>, memref<2x3xf32>, memref<4x2xf32>
}
"""


def test_n_d_boxes_strides_fill_transposes_and_broadcasts_reach_the_simulator():
    with make_context() as context, ir.Location.unknown():
        ops.load_dialect(context)
        module = ir.Module.parse(_FUNCTION)
        (programs,), host = read_function(public_functions(module)[0])
    load = programs["instructions"][0]
    assert load["begin"] == [0, -1, -1, 0] and load["step"] == [1, 2, 2, 1]
    assert load["fill"] == -2.5 and "perm" not in load
    assert programs["instructions"][1]["perm"] == [1, 0]
    assert programs["tensors"][0]["shape"] == [1, 4, 4, 2]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 4, 2)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    window, transposed, rows = Simulator(programs).run([x, w])
    padded = np.pad(x, ((0, 0), (1, 0), (1, 0), (0, 0)), constant_values=-2.5)
    assert np.array_equal(window, padded[0, 0:4:2, 0:4:2, :].reshape(4, 2))
    assert np.array_equal(transposed, w.T)
    assert np.array_equal(rows, np.broadcast_to(w[1], (4, 2)))


def test_the_builder_takes_rows_and_cols_for_a_2_d_box():
    with make_context() as context, ir.Location.unknown():
        ops.load_dialect(context)
        module = ir.Module.parse("func.func @g(%a: memref<4x6xf32>) { return }")
        block = public_functions(module)[0].regions[0].blocks[0]
        with ir.InsertionPoint.at_block_begin(block):
            op = ops.create("dma_load", [block.arguments[0]], rows=[1, 3], cols=[2, 6], to=0)
        assert ops.read(op) == {"begin": [1, 2], "count": [2, 4], "step": [1, 1], "to": 0}


# x [2, 3] at 0, b [1, 3] at 32 (a row), out at 64, the row sums at 96:
# out = relu(x * 2 + b); sums = sum of out along each row, accumulated onto 0.5.
_VECTOR = """
func.func @v(%x: memref<2x3xf32>, %b: memref<1x3xf32>) -> (memref<2x3xf32>, memref<2x1xf32>) {
  %out = memref.alloc() : memref<2x3xf32>
  %sums = memref.alloc() : memref<2x1xf32>
  "accel.dma_load"(%x) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>,
      step = array<i64: 1, 1>, to = 0 : i64} : (memref<2x3xf32>) -> ()
  "accel.dma_load"(%b) {begin = array<i64: 0, 0>, count = array<i64: 1, 3>,
      step = array<i64: 1, 1>, to = 32 : i64} : (memref<1x3xf32>) -> ()
  "accel.binary"() {fn = "mul", lhs = array<i64: 0, 2, 3>, rhs = 2.0 : f64,
      to = array<i64: 64, 2, 3>} : () -> ()
  "accel.binary"() {fn = "add", lhs = array<i64: 64, 2, 3>, rhs = array<i64: 32, 1, 3>,
      to = array<i64: 64, 2, 3>} : () -> ()
  "accel.unary"() {fn = "relu", x = array<i64: 64, 2, 3>, to = array<i64: 64, 2, 3>} : () -> ()
  "accel.fill"() {at = 96 : i64, shape = array<i64: 2, 1>, value = 0.5 : f64} : () -> ()
  "accel.reduce"() {fn = "sum", axis = 1 : i64, from = array<i64: 64, 2, 3>,
      to = array<i64: 96, 2, 1>} : () -> ()
  "accel.dma_store"(%out) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>,
      step = array<i64: 1, 1>, from = 64 : i64} : (memref<2x3xf32>) -> ()
  "accel.dma_store"(%sums) {begin = array<i64: 0, 0>, count = array<i64: 2, 1>,
      step = array<i64: 1, 1>, from = 96 : i64} : (memref<2x1xf32>) -> ()
  return %out, %sums : memref<2x3xf32>, memref<2x1xf32>
}
"""


def test_vector_ops_become_instructions_with_waits_and_compute_what_numpy_does():
    with make_context() as context, ir.Location.unknown():
        ops.load_dialect(context)
        module = ir.Module.parse(_VECTOR)
        (program,), host = read_function(public_functions(module)[0])
    instructions = [(i["op"], i.get("fn"), i["waits"]) for i in program["instructions"]]
    assert instructions == [
        ("dma_load", None, []),
        ("dma_load", None, []),
        ("binary", "mul", [0]),
        ("binary", "add", [1]),  # the vector unit runs in order: the mul needs no wait
        ("unary", "relu", []),
        ("fill", None, []),
        ("reduce", "sum", []),
        ("dma_store", None, [4]),  # out's last writer on the vector unit
        ("dma_store", None, [6]),
    ]
    assert program["instructions"][2]["rhs"] == 2.0
    assert program["instructions"][3]["rhs"] == {"at": 32, "shape": [1, 3]}
    x = np.array([[1.0, -2.0, 3.0], [-0.5, 0.25, 4.0]], np.float32)
    b = np.array([[0.5, 1.0, -7.0]], np.float32)
    out, sums = Simulator(program).run([x, b])
    expected = np.maximum(x.astype(np.float64) * 2 + b, 0.0)
    assert np.array_equal(out, expected.astype(np.float32))
    assert np.array_equal(sums, (expected.sum(axis=1, keepdims=True) + 0.5).astype(np.float32))
