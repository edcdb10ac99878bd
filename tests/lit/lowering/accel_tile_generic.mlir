// tgc-accel-tile-generic: a float linalg.generic on buffers runs tile by tile: one N-D DMA per
// operand (its indexing map gives the box; a transposed map a transposing DMA, `perm`), the body's
// ops as vector instructions on the tile (no trip to device memory between them), a DMA store.
// The last loop dim gives the tile's columns, the dims before it that every operand indexes all of
// or none of its rows; an operand without the columns' dim is a column, one without the rows a
// row, and a constant an immediate. Tiles take two slots of the buffer in turn.
// RUN: %tgc-opt %s --split-input-file -p tgc-accel-tile-generic | FileCheck %s

// relu(x * 2 + b): b is a [1, 6] row broadcast down the rows; 2 and 0 are immediates.
// CHECK-LABEL: func.func @bias_relu(
// CHECK-SAME:      %[[X:.+]]: memref<4x6xf32>, %[[B:.+]]: memref<6xf32>)
// CHECK:         %[[Y:.+]] = memref.alloc() : memref<4x6xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0>, count = array<i64: 4, 6>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0>, count = array<i64: 6>, step = array<i64: 1>, to = 96 : i64}
// CHECK-NEXT:    "accel.binary"() {fn = "mul", lhs = array<i64: 0, 4, 6>, rhs = 2.000000e+00 : f64, to = array<i64: 120, 4, 6>}
// CHECK-NEXT:    "accel.binary"() {fn = "add", lhs = array<i64: 120, 4, 6>, rhs = array<i64: 96, 1, 6>, to = array<i64: 216, 4, 6>}
// CHECK-NEXT:    "accel.binary"() {fn = "max", lhs = array<i64: 216, 4, 6>, rhs = 0.000000e+00 : f64, to = array<i64: 312, 4, 6>}
// CHECK-NEXT:    "accel.dma_store"(%[[Y]]) {begin = array<i64: 0, 0>, count = array<i64: 4, 6>, from = 312 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return %[[Y]]
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
func.func @bias_relu(%x: memref<4x6xf32>, %b: memref<6xf32>) -> memref<4x6xf32> {
  %y = memref.alloc() : memref<4x6xf32>
  linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : memref<4x6xf32>, memref<6xf32>) outs(%y : memref<4x6xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %two = arith.constant 2.0 : f32
    %zero = arith.constant 0.0 : f32
    %s = arith.mulf %in, %two : f32
    %t = arith.addf %s, %bias : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  }
  return %y : memref<4x6xf32>
}

// -----

// A sum along each row of exp(x): the zero fill of the output becomes the accumulator's fill (its
// own region, before the tiles'), each tile's exp is reduced along axis 1 into it, then stored.
// CHECK-LABEL: func.func @row_sums(
// CHECK-SAME:      %[[X:.+]]: memref<4x6xf32>)
// CHECK:         %[[S:.+]] = memref.alloc() : memref<4xf32>
// CHECK-NOT:     linalg.fill
// CHECK-NEXT:    "accel.fill"() {at = 0 : i64, shape = array<i64: 4, 1>, value = 0.000000e+00 : f64}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0>, count = array<i64: 4, 6>, step = array<i64: 1, 1>, to = 192 : i64}
// CHECK-NEXT:    "accel.unary"() {fn = "exp", to = array<i64: 288, 4, 6>, x = array<i64: 192, 4, 6>}
// CHECK-NEXT:    "accel.reduce"() {axis = 1 : i64, fn = "sum", from = array<i64: 288, 4, 6>, to = array<i64: 0, 4, 1>}
// CHECK-NEXT:    "accel.dma_store"(%[[S]]) {begin = array<i64: 0>, count = array<i64: 4>, from = 0 : i64, step = array<i64: 1>}
// CHECK-NEXT:    return %[[S]]
func.func @row_sums(%x: memref<4x6xf32>) -> memref<4xf32> {
  %zero = arith.constant 0.0 : f32
  %s = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%s : memref<4xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x6xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %e = math.exp %in : f32
    %r = arith.addf %e, %acc : f32
    linalg.yield %r : f32
  }
  return %s : memref<4xf32>
}

// -----

// A fill of a whole buffer that no reduction reads: one filled tile, stored over it.
// CHECK-LABEL: func.func @ones(
// CHECK:         %[[O:.+]] = memref.alloc() : memref<3x5xf32>
// CHECK-NEXT:    "accel.fill"() {at = 0 : i64, shape = array<i64: 1, 15>, value = 1.000000e+00 : f64}
// CHECK-NEXT:    "accel.dma_store"(%[[O]]) {begin = array<i64: 0, 0>, count = array<i64: 3, 5>, from = 0 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return %[[O]]
func.func @ones() -> memref<3x5xf32> {
  %one = arith.constant 1.0 : f32
  %o = memref.alloc() : memref<3x5xf32>
  linalg.fill ins(%one : f32) outs(%o : memref<3x5xf32>)
  return %o : memref<3x5xf32>
}

// -----

// Three loop dims: y (d0, d2) indexes d0 but not d1, so d0 cannot join the rows: one tile per d0
// (3 x 4), y a [1, 4] row of it. z is read transposed (d2, d1): a transposing DMA; its box is the
// same in every tile, so it is loaded once, before the tiles, at the bottom of the buffer. The
// comparison's 0.0/1.0 tile selects. The second tile takes the other slot (its loads overlap the
// first tile's vector work).
// CHECK-LABEL: func.func @outer(
// CHECK-SAME:      %[[X:.+]]: memref<2x3x4xf32>, %[[Y:.+]]: memref<2x4xf32>, %[[Z:.+]]: memref<4x3xf32>)
// CHECK:         %[[O:.+]] = memref.alloc() : memref<2x3x4xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[Z]]) {begin = array<i64: 0, 0>, count = array<i64: 4, 3>, perm = array<i64: 1, 0>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 0>, count = array<i64: 1, 3, 4>, step = array<i64: 1, 1, 1>, to = 64 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[Y]]) {begin = array<i64: 0, 0>, count = array<i64: 1, 4>, step = array<i64: 1, 1>, to = 112 : i64}
// CHECK-NEXT:    "accel.binary"() {fn = "sub", lhs = array<i64: 64, 3, 4>, rhs = array<i64: 112, 1, 4>, to = array<i64: 128, 3, 4>}
// CHECK-NEXT:    "accel.binary"() {fn = "gt", lhs = array<i64: 128, 3, 4>, rhs = array<i64: 0, 3, 4>, to = array<i64: 176, 3, 4>}
// CHECK-NEXT:    "accel.select"() {cond = array<i64: 176, 3, 4>, lhs = array<i64: 128, 3, 4>, rhs = array<i64: 0, 3, 4>, to = array<i64: 224, 3, 4>}
// CHECK-NEXT:    "accel.dma_store"(%[[O]]) {begin = array<i64: 0, 0, 0>, count = array<i64: 1, 3, 4>, from = 224 : i64, step = array<i64: 1, 1, 1>}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 1, 0, 0>, count = array<i64: 1, 3, 4>, step = array<i64: 1, 1, 1>, to = 784 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[Y]]) {begin = array<i64: 1, 0>, count = array<i64: 1, 4>, step = array<i64: 1, 1>, to = 832 : i64}
// CHECK-NOT:     "accel.dma_load"(%[[Z]])
// CHECK:         "accel.dma_store"(%[[O]]) {begin = array<i64: 1, 0, 0>, count = array<i64: 1, 3, 4>, from = 944 : i64, step = array<i64: 1, 1, 1>}
// CHECK-NEXT:    return %[[O]]
func.func @outer(%x: memref<2x3x4xf32>, %y: memref<2x4xf32>, %z: memref<4x3xf32>) -> memref<2x3x4xf32> {
  %o = memref.alloc() : memref<2x3x4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %y, %z : memref<2x3x4xf32>, memref<2x4xf32>, memref<4x3xf32>) outs(%o : memref<2x3x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32, %out: f32):
    %s = arith.subf %a, %b : f32
    %t = arith.cmpf ogt, %s, %c : f32
    %r = arith.select %t, %s, %c : f32
    linalg.yield %r : f32
  }
  return %o : memref<2x3x4xf32>
}

// -----

// An epilogue: a generic that reads a matmul's result C (stored tile by tile from its f32
// accumulator, as tgc-accel-tile-matmul leaves it) runs on each accumulator tile before it is
// stored: C's store goes (nothing else reads C), the bias is loaded whole once (below the
// epilogue's slots at the top of the buffer), and the bias add and relu run as late as the
// accumulator stays unchanged (here: before the return), then store the dense layer's output.
// CHECK-LABEL: func.func @dense(
// CHECK-SAME:      %{{.+}}: memref<4x8xf32>, %{{.+}}: memref<8x6xf32>, %[[B:.+]]: memref<6xf32>)
// CHECK:         "accel.matmul"() {acc_at = 5696 : i64
// CHECK-NEXT:    %[[Y:.+]] = memref.alloc() : memref<4x6xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0>, count = array<i64: 6>, step = array<i64: 1>, to = 25163072 : i64}
// CHECK-NEXT:    "accel.binary"() {fn = "add", lhs = array<i64: 5696, 4, 6>, rhs = array<i64: 25163072, 1, 6>, to = array<i64: 25163136, 4, 6>}
// CHECK-NEXT:    "accel.binary"() {fn = "max", lhs = array<i64: 25163136, 4, 6>, rhs = 0.000000e+00 : f64, to = array<i64: 25163232, 4, 6>}
// CHECK-NEXT:    "accel.dma_store"(%[[Y]]) {begin = array<i64: 0, 0>, count = array<i64: 4, 6>, from = 25163232 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return %[[Y]]
func.func @dense(%x: memref<4x8xf32>, %w: memref<8x6xf32>, %b: memref<6xf32>) -> memref<4x6xf32> {
  %c = memref.alloc() : memref<4x6xf32>
  "accel.zero"() {at = 5696 : i64, shape = array<i64: 4, 6>} : () -> ()
  "accel.dma_load"(%x) {begin = array<i64: 0, 0>, count = array<i64: 4, 8>, step = array<i64: 1, 1>, to = 0 : i64} : (memref<4x8xf32>) -> ()
  "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 4, 8>, to_at = 4672 : i64, to_dtype = "bfloat16"} : () -> ()
  "accel.dma_load"(%w) {begin = array<i64: 0, 0>, count = array<i64: 8, 6>, step = array<i64: 1, 1>, to = 4096 : i64} : (memref<8x6xf32>) -> ()
  "accel.cast"() {from_at = 4096 : i64, from_dtype = "float32", shape = array<i64: 8, 6>, to_at = 4480 : i64, to_dtype = "bfloat16"} : () -> ()
  "accel.matmul"() {acc_at = 5696 : i64, acc_shape = array<i64: 4, 6>, lhs_at = 4672 : i64, lhs_shape = array<i64: 4, 8>, rhs_at = 4480 : i64, rhs_shape = array<i64: 8, 6>} : () -> ()
  "accel.dma_store"(%c) {begin = array<i64: 0, 0>, count = array<i64: 4, 6>, from = 5696 : i64, step = array<i64: 1, 1>} : (memref<4x6xf32>) -> ()
  %y = memref.alloc() : memref<4x6xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%c, %b : memref<4x6xf32>, memref<6xf32>) outs(%y : memref<4x6xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %zero = arith.constant 0.0 : f32
    %t = arith.addf %in, %bias : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  }
  return %y : memref<4x6xf32>
}

// -----

// A transpose is the generic it is: one transposing DMA (perm) per tile, stored as loaded.
// CHECK-LABEL: func.func @transpose(
// CHECK-SAME:      %[[X:.+]]: memref<2x3xf32>)
// CHECK:         %[[Y:.+]] = memref.alloc() : memref<3x2xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>, perm = array<i64: 1, 0>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_store"(%[[Y]]) {begin = array<i64: 0, 0>, count = array<i64: 3, 2>, from = 0 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return %[[Y]]
func.func @transpose(%x: memref<2x3xf32>) -> memref<3x2xf32> {
  %y = memref.alloc() : memref<3x2xf32>
  linalg.transpose ins(%x : memref<2x3xf32>) outs(%y : memref<3x2xf32>) permutation = [1, 0]
  return %y : memref<3x2xf32>
}

// -----

// A concatenation: each part's copy into a slice of the result becomes DMAs; the program writer
// reads a box of the slice as a box of the result (offset by the slice's offsets).
// CHECK-LABEL: func.func @concat(
// CHECK-SAME:      %[[A:.+]]: memref<2x3xf32>, %[[B:.+]]: memref<2x3xf32>)
// CHECK:         %[[LEFT:.+]] = memref.subview
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_store"(%[[LEFT]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>, from = 0 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    %[[RIGHT:.+]] = memref.subview
// CHECK-NEXT:    "accel.dma_load"(%[[B]])
// CHECK-NEXT:    "accel.dma_store"(%[[RIGHT]])
// CHECK-NOT:     memref.copy
func.func @concat(%a: memref<2x3xf32>, %b: memref<2x3xf32>) -> memref<2x6xf32> {
  %c = memref.alloc() : memref<2x6xf32>
  %left = memref.subview %c[0, 0] [2, 3] [1, 1] : memref<2x6xf32> to memref<2x3xf32, strided<[6, 1]>>
  memref.copy %a, %left : memref<2x3xf32> to memref<2x3xf32, strided<[6, 1]>>
  %right = memref.subview %c[0, 3] [2, 3] [1, 1] : memref<2x6xf32> to memref<2x3xf32, strided<[6, 1], offset: 3>>
  memref.copy %b, %right : memref<2x3xf32> to memref<2x3xf32, strided<[6, 1], offset: 3>>
  return %c : memref<2x6xf32>
}

// -----

// A reshape that merges dims of size other than 1 (a flatten) is no view of boxes: a buffer of
// the new shape replaces it, filled by DMA in chunks of outer rows, each a box of both shapes
// (here the whole 2 x 12 at once: the outer dim 2 is common, the inner 3 x 4 = 12).
// CHECK-LABEL: func.func @flatten(
// CHECK-SAME:      %[[X:.+]]: memref<2x3x4xf32>)
// CHECK-NEXT:    %[[FLAT:.+]] = memref.alloc() : memref<2x12xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 0>, count = array<i64: 2, 3, 4>, step = array<i64: 1, 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_store"(%[[FLAT]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 12>, from = 0 : i64, step = array<i64: 1, 1>}
// CHECK-NOT:     memref.collapse_shape
// CHECK:         return %[[FLAT]]
func.func @flatten(%x: memref<2x3x4xf32>) -> memref<2x12xf32> {
  %flat = memref.collapse_shape %x [[0], [1, 2]] : memref<2x3x4xf32> into memref<2x12xf32>
  return %flat : memref<2x12xf32>
}

// -----

// Pooling (max here): per window tap one DMA of the (padded) input at the pool's strides, its rows
// the output positions and its columns the channels, maxed into the accumulator (loaded from the
// output's initial value); one tile per image.
// CHECK-LABEL: func.func @max_pool(
// CHECK-SAME:      %[[X:.+]]: memref<1x4x4x2xf32>, %{{.+}}: memref<2x2xf32>, %[[O:.+]]: memref<1x2x2x2xf32>)
// CHECK-NEXT:    "accel.dma_load"(%[[O]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 1, 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 2, 2, 1>, to = 262144 : i64}
// CHECK-NEXT:    "accel.binary"() {fn = "max", lhs = array<i64: 0, 4, 2>, rhs = array<i64: 262144, 4, 2>, to = array<i64: 0, 4, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 1, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 2, 2, 1>, to = 524288 : i64}
// CHECK-NEXT:    "accel.binary"() {fn = "max", lhs = array<i64: 0, 4, 2>, rhs = array<i64: 524288, 4, 2>, to = array<i64: 0, 4, 2>}
// CHECK:         "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 1, 1, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 2, 2, 1>, to = 524288 : i64}
// CHECK-NEXT:    "accel.binary"() {fn = "max"
// CHECK-NEXT:    "accel.dma_store"(%[[O]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 2>, from = 0 : i64, step = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:    return
func.func @max_pool(%x: memref<1x4x4x2xf32>, %window: memref<2x2xf32>, %o: memref<1x2x2x2xf32>) {
  linalg.pooling_nhwc_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %window : memref<1x4x4x2xf32>, memref<2x2xf32>) outs(%o : memref<1x2x2x2xf32>)
  return
}

// -----

// An allocation returned as itself ([1], a reduction kept) and squeezed ([], a reshape of it): the
// program writer gives an allocation the one shape it leaves with, so the squeezed view leaves
// copied into a buffer of its own (a DMA of its one element); the allocation leaves as it is.
// CHECK-LABEL: func.func @leaves_in_two_shapes(
// CHECK:         %[[S:.+]] = memref.alloc() : memref<1xf32>
// CHECK:         "accel.dma_store"(%[[S]])
// CHECK:         %[[V:.+]] = memref.collapse_shape %[[S]] [] : memref<1xf32> into memref<f32>
// CHECK-NEXT:    %[[C:.+]] = memref.alloc() : memref<f32>
// CHECK-NEXT:    "accel.dma_load"(%[[V]]) {begin = array<i64>, count = array<i64>, step = array<i64>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {begin = array<i64>, count = array<i64>, from = 0 : i64, step = array<i64>}
// CHECK-NEXT:    return %[[S]], %[[C]] : memref<1xf32>, memref<f32>
#id1 = affine_map<(d0) -> (d0)>
func.func @leaves_in_two_shapes(%x: memref<1xf32>) -> (memref<1xf32>, memref<f32>) {
  %s = memref.alloc() : memref<1xf32>
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : memref<1xf32>) outs(%s : memref<1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  }
  %v = memref.collapse_shape %s [] : memref<1xf32> into memref<f32>
  return %s, %v : memref<1xf32>, memref<f32>
}

// -----

// A view that is the only way its allocation leaves stays a view (the writer gives the allocation
// the view's shape): no copy.
// CHECK-LABEL: func.func @leaves_once_squeezed(
// CHECK:         %[[S:.+]] = memref.alloc() : memref<1xf32>
// CHECK:         %[[V:.+]] = memref.collapse_shape %[[S]]
// CHECK-NOT:     memref.alloc
// CHECK:         return %[[V]] : memref<f32>
#id1 = affine_map<(d0) -> (d0)>
func.func @leaves_once_squeezed(%x: memref<1xf32>) -> memref<f32> {
  %s = memref.alloc() : memref<1xf32>
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : memref<1xf32>) outs(%s : memref<1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  }
  %v = memref.collapse_shape %s [] : memref<1xf32> into memref<f32>
  return %v : memref<f32>
}

// -----

// A reshape adding a unit dim to a slice (the expand_dims of a split's half) is a view of the
// slice: the generic's DMA reads it as it is (the program writer takes the box through the
// reshape and the slice into the tensor's own dims).
// CHECK-LABEL: func.func @exp_of_expanded_slice(
// CHECK:         %[[HALF:.+]] = memref.subview
// CHECK-NEXT:    %[[ROW:.+]] = memref.expand_shape %[[HALF]]
// CHECK-NEXT:    %[[Y:.+]] = memref.alloc() : memref<1x2xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[ROW]]) {begin = array<i64: 0, 0>, count = array<i64: 1, 2>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.unary"() {fn = "exp"
// CHECK-NEXT:    "accel.dma_store"(%[[Y]])
// CHECK-NEXT:    return %[[Y]]
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @exp_of_expanded_slice(%x: memref<4xf32>) -> memref<1x2xf32> {
  %half = memref.subview %x[2] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 2>>
  %row = memref.expand_shape %half [[0, 1]] output_shape [1, 2] : memref<2xf32, strided<[1], offset: 2>> into memref<1x2xf32, strided<[2, 1], offset: 2>>
  %y = memref.alloc() : memref<1x2xf32>
  linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%row : memref<1x2xf32, strided<[2, 1], offset: 2>>) outs(%y : memref<1x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  }
  return %y : memref<1x2xf32>
}

// -----

// The same when the reshape is sent (to the CPU, through a cast to the transfer function's dynamic
// type): it leaves in the reshape's shape, [1], while the allocation is returned as []; the sent
// view is copied (the receiver takes a tensor of rank 1; one of rank 0 crashed the CPU's code).
// CHECK-LABEL: func.func @returned_and_sent_reshaped(
// CHECK:         %[[S:.+]] = memref.alloc() : memref<f32>
// CHECK:         %[[V:.+]] = memref.expand_shape %[[S]] [] output_shape [1] : memref<f32> into memref<1xf32>
// CHECK:         %[[C:.+]] = memref.alloc() : memref<1xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[V]])
// CHECK-NEXT:    "accel.dma_store"(%[[C]])
// CHECK-NEXT:    %[[D:.+]] = memref.cast %[[C]] : memref<1xf32> to memref<?xf32>
// CHECK-NEXT:    call @tgc_send_float32_1(%{{.+}}, %[[D]])
// CHECK-NEXT:    return %[[S]] : memref<f32>
func.func private @tgc_send_float32_1(i64, memref<?xf32>)
func.func @returned_and_sent_reshaped(%x: memref<f32>) -> memref<f32> {
  %s = memref.alloc() : memref<f32>
  linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []}
      ins(%x : memref<f32>) outs(%s : memref<f32>) {
  ^bb0(%in: f32, %out: f32):
    %e = math.exp %in : f32
    linalg.yield %e : f32
  }
  %v = memref.expand_shape %s [] output_shape [1] : memref<f32> into memref<1xf32>
  %d = memref.cast %v : memref<1xf32> to memref<?xf32>
  %key = arith.constant 7 : i64
  call @tgc_send_float32_1(%key, %d) : (i64, memref<?xf32>) -> ()
  return %s : memref<f32>
}

// -----

// A strided slice (x[1::2]) copied out for a send: the DMAs copy it into a dense buffer of its own
// (an allocation of the slice's strided type was invalid IR, its cast to the transfer function's
// type incompatible).
// CHECK-LABEL: func.func @sent_strided_slice(
// CHECK:         %[[V:.+]] = memref.subview
// CHECK:         %[[C:.+]] = memref.alloc() : memref<1xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[V]])
// CHECK-NEXT:    "accel.dma_store"(%[[C]])
// CHECK-NEXT:    %[[D:.+]] = memref.cast %[[C]] : memref<1xf32> to memref<?xf32>
// CHECK:         call @tgc_send_float32_1(%{{.+}}, %[[D]])
func.func private @tgc_send_float32_1(i64, memref<?xf32>)
func.func @sent_strided_slice(%x: memref<3xf32>) {
  %v = memref.subview %x[1] [1] [2] : memref<3xf32> to memref<1xf32, strided<[2], offset: 1>>
  %w = memref.cast %v : memref<1xf32, strided<[2], offset: 1>> to memref<?xf32, strided<[2], offset: 1>>
  %c0 = arith.constant 0 : index
  %n = memref.dim %w, %c0 : memref<?xf32, strided<[2], offset: 1>>
  %d = memref.alloc(%n) : memref<?xf32>
  memref.copy %w, %d : memref<?xf32, strided<[2], offset: 1>> to memref<?xf32>
  %key = arith.constant 7 : i64
  call @tgc_send_float32_1(%key, %d) : (i64, memref<?xf32>) -> ()
  return
}

// -----

// A loop dim of size 0 (pow of an empty [2, 1, 0, 2] tensor by a broadcast scalar): the body runs
// for no element, so no instruction; a tile of the empty operand beside the broadcast one would be
// a [0, 2] operand of a [1, 2] result, which the machine refuses.
// CHECK-LABEL: func.func @empty_power(
// CHECK-NEXT:    %[[Y:.+]] = memref.alloc() : memref<2x1x0x2xf32>
// CHECK-NEXT:    return %[[Y]]
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#scalar4 = affine_map<(d0, d1, d2, d3) -> (0)>
func.func @empty_power(%x: memref<2x1x0x2xf32>, %p: memref<1xf32>) -> memref<2x1x0x2xf32> {
  %y = memref.alloc() : memref<2x1x0x2xf32>
  linalg.generic {indexing_maps = [#id4, #scalar4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %p : memref<2x1x0x2xf32>, memref<1xf32>) outs(%y : memref<2x1x0x2xf32>) {
  ^bb0(%in: f32, %e: f32, %out: f32):
    %r = math.powf %in, %e : f32
    linalg.yield %r : f32
  }
  return %y : memref<2x1x0x2xf32>
}

// -----

// A sum over a reduction dim of size 0 into a [3] result: no tile; the result is its initial fill
// (0), stored as a fill of its own.
// CHECK-LABEL: func.func @sum_of_nothing(
// CHECK:         %[[Y:.+]] = memref.alloc() : memref<3xf32>
// CHECK-NEXT:    "accel.fill"() {at = 0 : i64, shape = array<i64: 1, 3>, value = 0.000000e+00 : f64}
// CHECK-NEXT:    "accel.dma_store"(%[[Y]]) {begin = array<i64: 0>, count = array<i64: 3>, from = 0 : i64, step = array<i64: 1>}
// CHECK-NOT:     accel.
// CHECK:         return %[[Y]]
#in2 = affine_map<(d0, d1) -> (d0, d1)>
#out2 = affine_map<(d0, d1) -> (d0)>
func.func @sum_of_nothing(%x: memref<3x0xf32>) -> memref<3xf32> {
  %zero = arith.constant 0.0 : f32
  %y = memref.alloc() : memref<3xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<3xf32>)
  linalg.generic {indexing_maps = [#in2, #out2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<3x0xf32>) outs(%y : memref<3xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return %y : memref<3xf32>
}

// -----

// A 1x1 filter's flip (core's f'[kh, kw, o, c] = f[-kh, -kw, c, o]): -d0 and -d1 index dims of
// size 1, where every in-bounds index is 0; the rest is a transposing DMA.
// CHECK-LABEL: func.func @flip_1x1(
// CHECK-SAME:      %[[W:.+]]: memref<1x1x2x3xf32>)
// CHECK:         %[[F:.+]] = memref.alloc() : memref<1x1x3x2xf32>
// CHECK-NEXT:    "accel.dma_load"(%[[W]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 1, 2, 3>, perm = array<i64: 0, 1, 3, 2>, step = array<i64: 1, 1, 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_store"(%[[F]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 1, 3, 2>, from = 0 : i64, step = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:    return %[[F]]
#flip = affine_map<(d0, d1, d2, d3) -> (-d0, -d1, d3, d2)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @flip_1x1(%w: memref<1x1x2x3xf32>) -> memref<1x1x3x2xf32> {
  %f = memref.alloc() : memref<1x1x3x2xf32>
  linalg.generic {indexing_maps = [#flip, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%w : memref<1x1x2x3xf32>) outs(%f : memref<1x1x3x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  return %f : memref<1x1x3x2xf32>
}
