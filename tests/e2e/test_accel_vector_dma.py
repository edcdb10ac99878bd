"""The program writer carries the N-D DMA of the accel dialect into the simulator's programs.

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
