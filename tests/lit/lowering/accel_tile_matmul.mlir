// tgc-accel-tile-matmul: a static matmul on buffers runs weight-stationary: each K x N tile of B
// (at most 128 x 128) is held in the array while all of A's rows (a chunk of up to 1024) stream
// through it. Phase 1 (the first 6 tiles of C's columns) is K-outer: A's tiles along K arrive one
// by one (cast to bf16 and kept), B comes in blocks of two tiles along K per column, and each
// block meets A's tiles into the f32 accumulator of its column of C: zeroed before its first
// matmul (the core level's zero fill goes; the first two accumulators before anything else), stored
// after its last. Dims that are not multiples of 128 leave smaller tiles at their ends (K = 200 =
// 128 + 72, N = 130 = 128 + 2). Buffer layout for chunks of 130 rows: A staging at 0 / 66560, B's
// staging (200 x 128 f32) at 133120 / 235520, B's bf16 blocks from 337920 (51200 bytes each), A's
// two bf16 tiles (kept) at 542720 and 576000, the accumulators of C's two column tiles at 609280
// and 675840. A cast takes its f32 tile 128 elements a row whatever the tile's shape (the vector
// unit converts one row of 128 lanes a cycle): 200 x 2 is cast as 3 x 128 and 1 x 16.
// RUN: %tgc-opt %s --split-input-file -p tgc-accel-tile-matmul | FileCheck %s

// CHECK-LABEL: func.func @tiles(
// CHECK-SAME:      %[[A:.+]]: memref<130x200xf32>, %[[B:.+]]: memref<200x130xf32>)
// CHECK:         %[[C:.+]] = memref.alloc() : memref<130x130xf32>
// CHECK-NOT:     linalg.fill
// CHECK-NEXT:    "accel.zero"() {at = 609280 : i64, shape = array<i64: 130, 128>}
// CHECK-NEXT:    "accel.zero"() {at = 675840 : i64, shape = array<i64: 130, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 0>, count = array<i64: 130, 128>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 130, 128>, to_at = 542720 : i64, to_dtype = "bfloat16"}
// B's block of both tiles along K (all 200 rows) of C's first column, in one DMA.
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0, 0>, count = array<i64: 200, 128>, step = array<i64: 1, 1>, to = 133120 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 133120 : i64, from_dtype = "float32", shape = array<i64: 200, 128>, to_at = 337920 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 609280 : i64, acc_shape = array<i64: 130, 128>, lhs_at = 542720 : i64, lhs_shape = array<i64: 130, 128>, rhs_at = 337920 : i64, rhs_shape = array<i64: 128, 128>}
// The same tile of A meets the block of C's second column (2 wide), into the other accumulator.
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0, 128>, count = array<i64: 200, 2>, step = array<i64: 1, 1>, to = 235520 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 235520 : i64, from_dtype = "float32", shape = array<i64: 3, 128>, to_at = 389120 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.cast"() {from_at = 237056 : i64, from_dtype = "float32", shape = array<i64: 1, 16>, to_at = 389888 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 675840 : i64, acc_shape = array<i64: 130, 2>, lhs_at = 542720 : i64, lhs_shape = array<i64: 130, 128>, rhs_at = 389120 : i64, rhs_shape = array<i64: 128, 2>}
// A's second tile along K (72 wide, 130 rows: too few to halve) meets the rows [128, 200) of each
// block (128 rows further: 337920 + 128 * 128 * 2, 389120 + 128 * 2 * 2); each accumulator is
// stored after its last matmul.
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 128>, count = array<i64: 130, 72>, step = array<i64: 1, 1>, to = 66560 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 66560 : i64, from_dtype = "float32", shape = array<i64: 73, 128>, to_at = 576000 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.cast"() {from_at = 103936 : i64, from_dtype = "float32", shape = array<i64: 1, 16>, to_at = 594688 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 609280 : i64, acc_shape = array<i64: 130, 128>, lhs_at = 576000 : i64, lhs_shape = array<i64: 130, 72>, rhs_at = 370688 : i64, rhs_shape = array<i64: 72, 128>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {begin = array<i64: 0, 0>, count = array<i64: 130, 128>, from = 609280 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 675840 : i64, acc_shape = array<i64: 130, 2>, lhs_at = 576000 : i64, lhs_shape = array<i64: 130, 72>, rhs_at = 389632 : i64, rhs_shape = array<i64: 72, 2>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {begin = array<i64: 0, 128>, count = array<i64: 130, 2>, from = 675840 : i64, step = array<i64: 1, 1>}
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
// rows: B staging at 2048, B bf16 at 2144, A bf16 at 2192, the accumulator at 2704.
// CHECK-LABEL: func.func @accumulate(
// CHECK-SAME:      %[[A:.+]]: memref<2x3xf64>, %[[B:.+]]: memref<3x4xf64>, %[[C:.+]]: memref<2x4xf64>)
// CHECK-NEXT:    "accel.dma_load"(%[[C]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 4>, step = array<i64: 1, 1>, to = 2704 : i64}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.dma_load"(%[[B]])
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 2704 : i64, acc_shape = array<i64: 2, 4>, lhs_at = 2192 : i64, lhs_shape = array<i64: 2, 3>, rhs_at = 2144 : i64, rhs_shape = array<i64: 3, 4>}
// CHECK-NEXT:    "accel.dma_store"(%[[C]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 4>, from = 2704 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return
func.func @accumulate(%a: memref<2x3xf64>, %b: memref<3x4xf64>, %c: memref<2x4xf64>) {
  linalg.matmul ins(%a, %b : memref<2x3xf64>, memref<3x4xf64>) outs(%c : memref<2x4xf64>)
  return
}

// -----

// An operand read transposed (a gradient's transpose_a: A is stored K x M) comes in one
// transposing DMA: the stored tensor's 3 x 2 box, its dims swapped (perm) into the 2 x 3 tile.
// CHECK-LABEL: func.func @transposed(
// CHECK-SAME:      %[[A:.+]]: memref<3x2xf32>, %[[B:.+]]: memref<3x4xf32>, %[[C:.+]]: memref<2x4xf32>)
// CHECK-NOT:     linalg
// CHECK:         "accel.zero"() {at = 2704 : i64, shape = array<i64: 2, 4>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 0>, count = array<i64: 3, 2>, perm = array<i64: 1, 0>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 1, 6>, to_at = 2192 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0, 0>, count = array<i64: 3, 4>, step = array<i64: 1, 1>, to = 2048 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 2704 : i64, acc_shape = array<i64: 2, 4>, lhs_at = 2192 : i64, lhs_shape = array<i64: 2, 3>, rhs_at = 2144 : i64, rhs_shape = array<i64: 3, 4>}
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
// and one cast, and A's kept tiles meet its rows: tile 0 at the panel's start (1026048), tile 1
// (72 rows) 128 rows of 32 bf16 further (1034240). The first column's accumulator (1129472) is
// reused.
// CHECK-LABEL: func.func @panels(
// CHECK-SAME:      %[[A:.+]]: memref<2x200xf32>, %[[B:.+]]: memref<200x800xf32>)
// CHECK-COUNT-6: "accel.dma_store"
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0, 768>, count = array<i64: 200, 32>, step = array<i64: 1, 1>, to = 821248 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 821248 : i64, from_dtype = "float32", shape = array<i64: 50, 128>, to_at = 1026048 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.zero"() {at = 1129472 : i64, shape = array<i64: 2, 32>}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 1129472 : i64, acc_shape = array<i64: 2, 32>, lhs_at = 1128448 : i64, lhs_shape = array<i64: 2, 128>, rhs_at = 1026048 : i64, rhs_shape = array<i64: 128, 32>}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 1129472 : i64, acc_shape = array<i64: 2, 32>, lhs_at = 1128960 : i64, lhs_shape = array<i64: 2, 72>, rhs_at = 1034240 : i64, rhs_shape = array<i64: 72, 32>}
// CHECK-NEXT:    "accel.dma_store"(%{{.+}}) {begin = array<i64: 0, 768>, count = array<i64: 2, 32>, from = 1129472 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return
func.func @panels(%a: memref<2x200xf32>, %b: memref<200x800xf32>) -> memref<2x800xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x800xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x800xf32>)
  linalg.matmul ins(%a, %b : memref<2x200xf32>, memref<200x800xf32>) outs(%c : memref<2x800xf32>)
  return %c : memref<2x800xf32>
}

// -----

// A chunk of 512 rows or more meets a group's second tile of A half by half: each half (256 rows)
// is a DMA and a cast of its own, into its place in the kept bf16 tile (1048576, then 256 rows of
// 128 bf16 further: 1114112), and its matmul starts when that half is in, while the other half's
// DMA runs.
// CHECK-LABEL: func.func @halves(
// CHECK-SAME:      %[[A:.+]]: memref<512x256xf32>, %[[B:.+]]: memref<256x128xf32>)
// CHECK:         "accel.zero"() {at = 1179648 : i64, shape = array<i64: 512, 128>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 0>, count = array<i64: 512, 128>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 512, 128>, to_at = 917504 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0, 0>, count = array<i64: 256, 128>, step = array<i64: 1, 1>, to = 524288 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 524288 : i64, from_dtype = "float32", shape = array<i64: 256, 128>, to_at = 786432 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 1179648 : i64, acc_shape = array<i64: 512, 128>, lhs_at = 917504 : i64, lhs_shape = array<i64: 512, 128>, rhs_at = 786432 : i64, rhs_shape = array<i64: 128, 128>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 128>, count = array<i64: 256, 128>, step = array<i64: 1, 1>, to = 262144 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 262144 : i64, from_dtype = "float32", shape = array<i64: 256, 128>, to_at = 1048576 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 1179648 : i64, acc_shape = array<i64: 256, 128>, lhs_at = 1048576 : i64, lhs_shape = array<i64: 256, 128>, rhs_at = 819200 : i64, rhs_shape = array<i64: 128, 128>}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 256, 128>, count = array<i64: 256, 128>, step = array<i64: 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 256, 128>, to_at = 1114112 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 1310720 : i64, acc_shape = array<i64: 256, 128>, lhs_at = 1114112 : i64, lhs_shape = array<i64: 256, 128>, rhs_at = 819200 : i64, rhs_shape = array<i64: 128, 128>}
// CHECK-NEXT:    "accel.dma_store"(%{{.+}}) {begin = array<i64: 0, 0>, count = array<i64: 512, 128>, from = 1179648 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return
func.func @halves(%a: memref<512x256xf32>, %b: memref<256x128xf32>) -> memref<512x128xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<512x128xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<512x128xf32>)
  linalg.matmul ins(%a, %b : memref<512x256xf32>, memref<256x128xf32>) outs(%c : memref<512x128xf32>)
  return %c : memref<512x128xf32>
}

// -----

// The matmul's last column (a panel, K of 4 tiles) is computed and stored in pieces of 128 rows:
// only the last piece's store is left when the last matmul ends.
// CHECK-LABEL: func.func @pieces(
// CHECK:         "accel.dma_load"(%{{.+}}) {begin = array<i64: 0, 768>, count = array<i64: 512, 32>, step = array<i64: 1, 1>, to = 1310720 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.zero"() {at = 2359296 : i64, shape = array<i64: 256, 32>}
// CHECK-COUNT-4: "accel.matmul"() {acc_at = 2359296 : i64, acc_shape = array<i64: 128, 32>
// CHECK-NEXT:    "accel.dma_store"(%{{.+}}) {begin = array<i64: 0, 768>, count = array<i64: 128, 32>, from = 2359296 : i64, step = array<i64: 1, 1>}
// CHECK-COUNT-4: "accel.matmul"() {acc_at = 2375680 : i64, acc_shape = array<i64: 128, 32>
// CHECK-NEXT:    "accel.dma_store"(%{{.+}}) {begin = array<i64: 128, 768>, count = array<i64: 128, 32>, from = 2375680 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return
func.func @pieces(%a: memref<256x512xf32>, %b: memref<512x800xf32>) -> memref<256x800xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<256x800xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<256x800xf32>)
  linalg.matmul ins(%a, %b : memref<256x512xf32>, memref<512x800xf32>) outs(%c : memref<256x800xf32>)
  return %c : memref<256x800xf32>
}

// -----

// A C that was not zero-filled is loaded, every tile of it, before anything is stored: a load of
// C after a store to it would start a new program, without the chunk's kept tiles of A. So no
// panels (N = 800: 7 tiles of columns, all K-outer) and all 7 accumulators loaded first.
// CHECK-LABEL: func.func @accumulate_wide(
// CHECK-SAME:      %[[A:.+]]: memref<2x3xf32>, %[[B:.+]]: memref<3x800xf32>, %[[C:.+]]: memref<2x800xf32>)
// CHECK-COUNT-7: "accel.dma_load"(%[[C]])
// CHECK-NOT:     "accel.dma_load"(%[[C]])
// CHECK-COUNT-7: "accel.dma_store"(%[[C]])
// CHECK-NEXT:    return
func.func @accumulate_wide(%a: memref<2x3xf32>, %b: memref<3x800xf32>, %c: memref<2x800xf32>) {
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x800xf32>) outs(%c : memref<2x800xf32>)
  return
}

// -----

// C = A . B^T with few rows and many columns runs swapped, C^T = B . A^T: B (stored 300 x 3) is
// read plain and its 300 rows stream through A^T's weights (2 x 3 read transposed), and C's tile
// is stored transposed. The transposing DMAs then gather 2 x 3 + 2 x 300 elements, not 3 x 300
// (a transposing DMA reads each element in a burst of its own). Not when a generic reads C: its
// epilogue fusion expects C's tiles stored as they are.
// CHECK-LABEL: func.func @swapped(
// CHECK-SAME:      %[[A:.+]]: memref<2x3xf32>, %[[B:.+]]: memref<300x3xf32>)
// CHECK:         "accel.zero"() {at = 384072 : i64, shape = array<i64: 300, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[B]]) {begin = array<i64: 0, 0>, count = array<i64: 300, 3>, step = array<i64: 1, 1>, to = 0 : i64}
// The 900 elements cast 128 a row (the vector unit's rate): 7 rows, then the last 4.
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 7, 128>, to_at = 307272 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.cast"() {from_at = 3584 : i64, from_dtype = "float32", shape = array<i64: 1, 4>, to_at = 309064 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[A]]) {begin = array<i64: 0, 0>, count = array<i64: 2, 3>, perm = array<i64: 1, 0>, step = array<i64: 1, 1>, to = 307200 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 384072 : i64, acc_shape = array<i64: 300, 2>, lhs_at = 307272 : i64, lhs_shape = array<i64: 300, 3>, rhs_at = 307248 : i64, rhs_shape = array<i64: 3, 2>}
// CHECK-NEXT:    "accel.dma_store"(%{{.+}}) {begin = array<i64: 0, 0>, count = array<i64: 2, 300>, from = 384072 : i64, perm = array<i64: 1, 0>, step = array<i64: 1, 1>}
// CHECK-NEXT:    return
func.func @swapped(%a: memref<2x3xf32>, %b: memref<300x3xf32>) -> memref<2x300xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<2x300xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<2x300xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
                                 affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %b : memref<2x3xf32>, memref<300x3xf32>) outs(%c : memref<2x300xf32>)
  return %c : memref<2x300xf32>
}
