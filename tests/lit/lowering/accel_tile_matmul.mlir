// tgc-accel-tile-matmul: a static matmul on buffers becomes accel ops over tiles of at most 128 rows
// and 128 x 128 weights. For each tile of C: a zeroed f32 accumulator (the core level's zero fill
// goes), then along K: DMA of A's and B's tiles into f32 staging, their casts to bf16 and one
// matmul into the accumulator; then a DMA of the accumulator into C. Dims that are not multiples of
// 128 leave smaller tiles at their ends (130 = 128 + 2 rows, K = 200 = 128 + 72). Each kind of tile
// takes its two slots in turn (A f32 at 0 / 65536, A bf16 at 131072 / 163840, B f32 at 196608 /
// 262144, B bf16 at 327680 / 360448, accumulators at 393216 / 458752), so the next tile's DMA can
// overlap the current tile's work.
// RUN: %tgc-opt %s --split-input-file -p tgc-accel-tile-matmul | FileCheck %s

// CHECK-LABEL: func.func @tiles(
// CHECK-SAME:      %[[A:.+]]: memref<130x200xf32>, %[[B:.+]]: memref<200x5xf32>)
// CHECK:         %[[C:.+]] = memref.alloc() : memref<130x5xf32>
// CHECK-NOT:     linalg.fill
// CHECK-NEXT:    "accel.zero"() {at = 393216 : i64, shape = array<i64: 128, 5>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 0, 128>, rows = array<i64: 0, 128>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 128, 128>, to_at = 131072 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 0, 5>, rows = array<i64: 0, 128>, to = 196608 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 196608 : i64, from_dtype = "float32", shape = array<i64: 128, 5>, to_at = 327680 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 393216 : i64, acc_shape = array<i64: 128, 5>, lhs_at = 131072 : i64, lhs_shape = array<i64: 128, 128>, rhs_at = 327680 : i64, rhs_shape = array<i64: 128, 5>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 128, 200>, rows = array<i64: 0, 128>, to = 65536 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 65536 : i64, from_dtype = "float32", shape = array<i64: 128, 72>, to_at = 163840 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 0, 5>, rows = array<i64: 128, 200>, to = 262144 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 262144 : i64, from_dtype = "float32", shape = array<i64: 72, 5>, to_at = 360448 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 393216 : i64, acc_shape = array<i64: 128, 5>, lhs_at = 163840 : i64, lhs_shape = array<i64: 128, 72>, rhs_at = 360448 : i64, rhs_shape = array<i64: 72, 5>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {cols = array<i64: 0, 5>, from = 393216 : i64, rows = array<i64: 0, 128>}
// The second tile of rows: 2 rows, the other accumulator.
// CHECK-NEXT:    "accel.zero"() {at = 458752 : i64, shape = array<i64: 2, 5>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 0, 128>, rows = array<i64: 128, 130>, to = 0 : i64}
// CHECK-COUNT-3: "accel.
// CHECK-NEXT:    "accel.matmul"() {acc_at = 458752 : i64, acc_shape = array<i64: 2, 5>, lhs_at = 131072 : i64, lhs_shape = array<i64: 2, 128>, rhs_at = 327680 : i64, rhs_shape = array<i64: 128, 5>}
// CHECK-COUNT-4: "accel.
// CHECK-NEXT:    "accel.matmul"() {acc_at = 458752 : i64, acc_shape = array<i64: 2, 5>, lhs_at = 163840 : i64, lhs_shape = array<i64: 2, 72>, rhs_at = 360448 : i64, rhs_shape = array<i64: 72, 5>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {cols = array<i64: 0, 5>, from = 458752 : i64, rows = array<i64: 128, 130>}
// CHECK-NEXT:    return %[[C]]
func.func @tiles(%a: memref<130x200xf32>, %b: memref<200x5xf32>) -> memref<130x5xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<130x5xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<130x5xf32>)
  linalg.matmul ins(%a, %b : memref<130x200xf32>, memref<200x5xf32>) outs(%c : memref<130x5xf32>)
  return %c : memref<130x5xf32>
}

// -----

// A matmul into a C that was not zero-filled accumulates onto it: the accumulator is loaded from C.
// float64 operands take the same instructions (device memory holds them as float32).
// CHECK-LABEL: func.func @accumulate(
// CHECK-SAME:      %[[A:.+]]: memref<2x3xf64>, %[[B:.+]]: memref<3x4xf64>, %[[C:.+]]: memref<2x4xf64>)
// CHECK-NEXT:    "accel.dma_load"(%[[C]]) {cols = array<i64: 0, 4>, rows = array<i64: 0, 2>, to = 393216 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[A]])
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.dma_load"(%[[B]])
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 393216 : i64, acc_shape = array<i64: 2, 4>, lhs_at = 131072 : i64, lhs_shape = array<i64: 2, 3>, rhs_at = 327680 : i64, rhs_shape = array<i64: 3, 4>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {cols = array<i64: 0, 4>, from = 393216 : i64, rows = array<i64: 0, 2>}
// CHECK-NEXT:    return
func.func @accumulate(%a: memref<2x3xf64>, %b: memref<3x4xf64>, %c: memref<2x4xf64>) {
  linalg.matmul ins(%a, %b : memref<2x3xf64>, memref<3x4xf64>) outs(%c : memref<2x4xf64>)
  return
}

// -----

// An operand read transposed (a gradient's transpose_a: A is stored K x M) comes in one row of its
// tile at a time: a DMA of one column of A (K elements) lands as one row of the f32 staging tile.
// CHECK-LABEL: func.func @transposed(
// CHECK-SAME:      %[[A:.+]]: memref<3x2xf32>, %[[B:.+]]: memref<3x4xf32>, %[[C:.+]]: memref<2x4xf32>)
// CHECK-NOT:     linalg
// CHECK:         "accel.zero"() {at = 393216 : i64, shape = array<i64: 2, 4>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 0, 1>, rows = array<i64: 0, 3>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 1, 2>, rows = array<i64: 0, 3>, to = 12 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 2, 3>, to_at = 131072 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 0, 4>, rows = array<i64: 0, 3>, to = 196608 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 393216 : i64, acc_shape = array<i64: 2, 4>, lhs_at = 131072 : i64, lhs_shape = array<i64: 2, 3>, rhs_at = 327680 : i64, rhs_shape = array<i64: 3, 4>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]])
func.func @transposed(%a: memref<3x2xf32>, %b: memref<3x4xf32>, %c: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>,
                                 affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %b : memref<3x2xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  return
}
