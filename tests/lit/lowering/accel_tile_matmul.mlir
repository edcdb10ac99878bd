// tgc-accel-tile-matmul: a static matmul on buffers runs weight-stationary: each K x N tile of B
// (at most 128 x 128) is held in the array while all of A's rows (a chunk of up to 1024) stream
// through it. Each tile of A along K (cast to bf16) meets the whole row of B's tiles, each adding
// into the f32 accumulator of its column of C: zeroed before its first matmul (the core level's
// zero fill goes), stored after its last. Dims that are not multiples of 128 leave smaller tiles at
// their ends (K = 200 = 128 + 72, N = 130 = 128 + 2). Buffer layout for chunks of 130 rows: A
// staging at 0 / 66560, B staging at 133120 / 198656, B bf16 at 264192 / 296960, A's two bf16
// tiles (kept) at 329728 and 363008, the accumulators of C's two column tiles at 396288 and 462848.
// RUN: %tgc-opt %s --split-input-file -p tgc-accel-tile-matmul | FileCheck %s

// CHECK-LABEL: func.func @tiles(
// CHECK-SAME:      %[[A:.+]]: memref<130x200xf32>, %[[B:.+]]: memref<200x130xf32>)
// CHECK:         %[[C:.+]] = memref.alloc() : memref<130x130xf32>
// CHECK-NOT:     linalg.fill
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 0, 128>, rows = array<i64: 0, 130>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 130, 128>, to_at = 329728 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.zero"() {at = 396288 : i64, shape = array<i64: 130, 128>}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 0, 128>, rows = array<i64: 0, 128>, to = 133120 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 133120 : i64, from_dtype = "float32", shape = array<i64: 128, 128>, to_at = 264192 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 396288 : i64, acc_shape = array<i64: 130, 128>, lhs_at = 329728 : i64, lhs_shape = array<i64: 130, 128>, rhs_at = 264192 : i64, rhs_shape = array<i64: 128, 128>}
// The same tile of A meets B's tile of C's second column (2 wide), into the other accumulator.
// CHECK-NEXT:    "accel.zero"() {at = 462848 : i64, shape = array<i64: 130, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 128, 130>, rows = array<i64: 0, 128>, to = 198656 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 198656 : i64, from_dtype = "float32", shape = array<i64: 128, 2>, to_at = 296960 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 462848 : i64, acc_shape = array<i64: 130, 2>, lhs_at = 329728 : i64, lhs_shape = array<i64: 130, 128>, rhs_at = 296960 : i64, rhs_shape = array<i64: 128, 2>}
// A's second tile along K (72 wide), into the other slots; each accumulator is stored after it.
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 128, 200>, rows = array<i64: 0, 130>, to = 66560 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 66560 : i64, from_dtype = "float32", shape = array<i64: 130, 72>, to_at = 363008 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 0, 128>, rows = array<i64: 128, 200>, to = 133120 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 133120 : i64, from_dtype = "float32", shape = array<i64: 72, 128>, to_at = 264192 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 396288 : i64, acc_shape = array<i64: 130, 128>, lhs_at = 363008 : i64, lhs_shape = array<i64: 130, 72>, rhs_at = 264192 : i64, rhs_shape = array<i64: 72, 128>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {cols = array<i64: 0, 128>, from = 396288 : i64, rows = array<i64: 0, 130>}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 128, 130>, rows = array<i64: 128, 200>, to = 198656 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 462848 : i64, acc_shape = array<i64: 130, 2>, lhs_at = 363008 : i64, lhs_shape = array<i64: 130, 72>, rhs_at = 296960 : i64, rhs_shape = array<i64: 72, 2>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {cols = array<i64: 128, 130>, from = 462848 : i64, rows = array<i64: 0, 130>}
// CHECK-NEXT:    return %[[C]]
func.func @tiles(%a: memref<130x200xf32>, %b: memref<200x130xf32>) -> memref<130x130xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<130x130xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<130x130xf32>)
  linalg.matmul ins(%a, %b : memref<130x200xf32>, memref<200x130xf32>) outs(%c : memref<130x130xf32>)
  return %c : memref<130x130xf32>
}

// -----

// A matmul into a C that was not zero-filled accumulates onto it: the accumulator is loaded from C.
// float64 operands take the same instructions (device memory holds them as float32). Chunks of 2
// rows: B staging at 2048, B bf16 at 133120, A bf16 at 198656, the accumulator at 199168.
// CHECK-LABEL: func.func @accumulate(
// CHECK-SAME:      %[[A:.+]]: memref<2x3xf64>, %[[B:.+]]: memref<3x4xf64>, %[[C:.+]]: memref<2x4xf64>)
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 0, 3>, rows = array<i64: 0, 2>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.dma_load"(%[[C]]) {cols = array<i64: 0, 4>, rows = array<i64: 0, 2>, to = 199168 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[B]])
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 199168 : i64, acc_shape = array<i64: 2, 4>, lhs_at = 198656 : i64, lhs_shape = array<i64: 2, 3>, rhs_at = 133120 : i64, rhs_shape = array<i64: 3, 4>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {cols = array<i64: 0, 4>, from = 199168 : i64, rows = array<i64: 0, 2>}
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
// CHECK:         "accel.dma_load"(%[[A]]) {cols = array<i64: 0, 1>, rows = array<i64: 0, 3>, to = 0 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {cols = array<i64: 1, 2>, rows = array<i64: 0, 3>, to = 12 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 2, 3>, to_at = 198656 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.zero"() {at = 199168 : i64, shape = array<i64: 2, 4>}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 0, 4>, rows = array<i64: 0, 3>, to = 2048 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 199168 : i64, acc_shape = array<i64: 2, 4>, lhs_at = 198656 : i64, lhs_shape = array<i64: 2, 3>, rhs_at = 133120 : i64, rhs_shape = array<i64: 3, 4>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]])
func.func @transposed(%a: memref<3x2xf32>, %b: memref<3x4xf32>, %c: memref<2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<2x4xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>,
                                 affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %b : memref<3x2xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  return
}

// -----

// Beyond the first 6 tiles of C's columns, each column's panel of B (K x 32 here) comes in one DMA
// and one cast, and A's kept tiles meet its rows: tile 0 at the panel's start (460800), tile 1
// (72 rows) 128 rows of 32 bf16 further (468992). The first column's accumulator (592896) is reused.
// CHECK-LABEL: func.func @panels(
// CHECK-SAME:      %[[A:.+]]: memref<2x200xf32>, %[[B:.+]]: memref<200x800xf32>)
// CHECK-COUNT-6: "accel.dma_store"
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {cols = array<i64: 768, 800>, rows = array<i64: 0, 200>, to = 198656 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 198656 : i64, from_dtype = "float32", shape = array<i64: 200, 32>, to_at = 460800 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.zero"() {at = 592896 : i64, shape = array<i64: 2, 32>}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 592896 : i64, acc_shape = array<i64: 2, 32>, lhs_at = 591872 : i64, lhs_shape = array<i64: 2, 128>, rhs_at = 460800 : i64, rhs_shape = array<i64: 128, 32>}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 592896 : i64, acc_shape = array<i64: 2, 32>, lhs_at = 592384 : i64, lhs_shape = array<i64: 2, 72>, rhs_at = 468992 : i64, rhs_shape = array<i64: 72, 32>}
// CHECK-NEXT:    "accel.dma_store"(%{{.+}}) {cols = array<i64: 768, 800>, from = 592896 : i64, rows = array<i64: 0, 2>}
// CHECK-NEXT:    return
func.func @panels(%a: memref<2x200xf32>, %b: memref<200x800xf32>) -> memref<2x800xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x800xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x800xf32>)
  linalg.matmul ins(%a, %b : memref<2x200xf32>, memref<200x800xf32>) outs(%c : memref<2x800xf32>)
  return %c : memref<2x800xf32>
}
