// tgc-accel-tile-conv: core's tagged convolutions on buffers become window DMAs and matmuls, one
// per filter tap (kh, kw) and tile of channels, accumulated in f32 on the matrix unit.
// RUN: %tgc-opt %s --split-input-file -p tgc-accel-tile-conv | FileCheck %s

// conv2d, SAME, strides 2 (1x4x4x2 * 3x3x2x3 -> 1x2x2x3, padding (0, 1, 0, 1)): core's zero-padded
// copy of x goes; each tap's window is one strided DMA of x (steps 2, 2) whose rows are the 4
// output positions, W[kh, kw] (2 x 3) the weights, kept in bf16 above the chunk's slots (from 216:
// a later chunk of rows would reuse them). Windows that reach past x's last row or column take the
// DMA's zero fill.
// CHECK-LABEL: func.func @conv2d(
// CHECK-SAME:      %[[X:.+]]: memref<1x4x4x2xf32>, %[[W:.+]]: memref<3x3x2x3xf32>)
// CHECK-NOT:     linalg.
// CHECK-NOT:     memref.copy
// CHECK:         %[[Y:.+]] = memref.alloc() : memref<1x2x2x3xf32>
// CHECK-NEXT:    "accel.zero"() {at = 168 : i64, shape = array<i64: 4, 3>}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 2, 2, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 1, 8>, to_at = 64 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[W]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 1, 2, 3>, step = array<i64: 1, 1, 1, 1>, to = 96 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 96 : i64, from_dtype = "float32", shape = array<i64: 1, 6>, to_at = 216 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 168 : i64, acc_shape = array<i64: 4, 3>, lhs_at = 64 : i64, lhs_shape = array<i64: 4, 2>, rhs_at = 216 : i64, rhs_shape = array<i64: 2, 3>}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 1, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 2, 2, 1>, to = 32 : i64}
// Tap (0, 2): columns 2 and 4 of x, the second outside it (zero fill).
// CHECK:         "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 2, 0>, count = array<i64: 1, 2, 2, 2>, fill = 0.000000e+00 : f64, step = array<i64: 1, 2, 2, 1>, to = 0 : i64}
// The ninth tap's matmul ends the sum; the accumulator is stored into y.
// CHECK:         "accel.dma_load"(%[[W]]) {begin = array<i64: 2, 2, 0, 0>
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"()
// CHECK-NEXT:    "accel.dma_store"(%[[Y]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 3>, from = 168 : i64, step = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:    return %[[Y]]
func.func @conv2d(%arg0: memref<1x4x4x2xf32>, %arg1: memref<3x3x2x3xf32>) -> memref<1x2x2x3xf32> {
  %alloc = memref.alloc() : memref<1x5x5x2xf32>
  linalg.map outs(%alloc : memref<1x5x5x2xf32>)
    (%init: f32) {
      %0 = linalg.index 0 : index
      %1 = linalg.index 1 : index
      %2 = linalg.index 2 : index
      %3 = linalg.index 3 : index
      %cst_1 = arith.constant 0.000000e+00 : f32
      linalg.yield %cst_1 : f32
    }
  %subview = memref.subview %alloc[0, 0, 0, 0] [1, 4, 4, 2] [1, 1, 1, 1] : memref<1x5x5x2xf32> to memref<1x4x4x2xf32, strided<[50, 10, 2, 1]>>
  memref.copy %arg0, %subview : memref<1x4x4x2xf32> to memref<1x4x4x2xf32, strided<[50, 10, 2, 1]>>
  %cst = arith.constant 0.000000e+00 : f32
  %alloc_0 = memref.alloc() : memref<1x2x2x3xf32>
  linalg.fill ins(%cst : f32) outs(%alloc_0 : memref<1x2x2x3xf32>)
  linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>, tgc.conv = "conv2d", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 1, 0, 1>, tgc.conv_strides = array<i64: 2, 2>} ins(%alloc, %arg1 : memref<1x5x5x2xf32>, memref<3x3x2x3xf32>) outs(%alloc_0 : memref<1x2x2x3xf32>)
  return %alloc_0 : memref<1x2x2x3xf32>
}

// -----

// backprop_filter: dw[kh, kw]^T (3 x 2) = dy^T . window over the 4 output positions. dy^T comes
// once (perm [3, 0, 1, 2]: a 3 x 4 lhs) and serves all 9 taps; each tap's window (4 positions x
// 2 channels, a plain strided DMA) is the weights. The 9 accumulators are zeroed first and stored
// transposed into dw at the end (perm [0, 1, 3, 2]).
// CHECK-LABEL: func.func @backprop_filter(
// CHECK-SAME:      %[[X:.+]]: memref<1x4x4x2xf32>, %[[DY:.+]]: memref<1x2x2x3xf32>)
// CHECK-NOT:     linalg.
// CHECK:         %[[DW:.+]] = memref.alloc() : memref<3x3x2x3xf32>
// CHECK-NEXT:    "accel.zero"() {at = 240 : i64, shape = array<i64: 3, 2>}
// CHECK-COUNT-8: "accel.zero"()
// CHECK-NEXT:    "accel.dma_load"(%[[DY]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 3>, perm = array<i64: 3, 0, 1, 2>, step = array<i64: 1, 1, 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 0 : i64, from_dtype = "float32", shape = array<i64: 1, 12>, to_at = 96 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 2, 2, 1>, to = 144 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 144 : i64, from_dtype = "float32", shape = array<i64: 1, 8>, to_at = 208 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 240 : i64, acc_shape = array<i64: 3, 2>, lhs_at = 96 : i64, lhs_shape = array<i64: 3, 4>, rhs_at = 208 : i64, rhs_shape = array<i64: 4, 2>}
// The second tap, (0, 1), into the next accumulator with the same dy^T.
// CHECK-NEXT:    "accel.dma_load"(%[[X]]) {begin = array<i64: 0, 0, 1, 0>, count = array<i64: 1, 2, 2, 2>, step = array<i64: 1, 2, 2, 1>, to = 176 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 264 : i64, acc_shape = array<i64: 3, 2>, lhs_at = 96 : i64, lhs_shape = array<i64: 3, 4>, rhs_at = 224 : i64, rhs_shape = array<i64: 4, 2>}
// CHECK:         "accel.dma_store"(%[[DW]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 1, 2, 3>, from = 240 : i64, perm = array<i64: 0, 1, 3, 2>, step = array<i64: 1, 1, 1, 1>}
// CHECK-COUNT-8: "accel.dma_store"(%[[DW]])
// CHECK-NEXT:    return %[[DW]]
#map = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 * 2 + d3, d2 * 2 + d4, d5)>
#map1 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>
#map2 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4, d5, d6)>
func.func @backprop_filter(%arg0: memref<1x4x4x2xf32>, %arg1: memref<1x2x2x3xf32>) -> memref<3x3x2x3xf32> {
  %alloc = memref.alloc() : memref<1x5x5x2xf32>
  linalg.map outs(%alloc : memref<1x5x5x2xf32>)
    (%init: f32) {
      %0 = linalg.index 0 : index
      %1 = linalg.index 1 : index
      %2 = linalg.index 2 : index
      %3 = linalg.index 3 : index
      %cst_1 = arith.constant 0.000000e+00 : f32
      linalg.yield %cst_1 : f32
    }
  %subview = memref.subview %alloc[0, 0, 0, 0] [1, 4, 4, 2] [1, 1, 1, 1] : memref<1x5x5x2xf32> to memref<1x4x4x2xf32, strided<[50, 10, 2, 1]>>
  memref.copy %arg0, %subview : memref<1x4x4x2xf32> to memref<1x4x4x2xf32, strided<[50, 10, 2, 1]>>
  %cst = arith.constant 0.000000e+00 : f32
  %alloc_0 = memref.alloc() : memref<3x3x2x3xf32>
  linalg.fill ins(%cst : f32) outs(%alloc_0 : memref<3x3x2x3xf32>)
  linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["reduction", "reduction", "reduction", "parallel", "parallel", "parallel", "parallel"]} ins(%alloc, %arg1 : memref<1x5x5x2xf32>, memref<1x2x2x3xf32>) outs(%alloc_0 : memref<3x3x2x3xf32>) attrs =  {tgc.conv = "backprop_filter", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 1, 0, 1>, tgc.conv_strides = array<i64: 2, 2>} {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %0 = arith.mulf %in, %in_1 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %alloc_0 : memref<3x3x2x3xf32>
}

// -----

// backprop_input, strides 2: dx one phase (rh, rw) of the stride lattice at a time. Phase (0, 0)
// takes the taps (0, 0), (0, 2), (2, 0), (2, 2): dy's windows at offsets 0 and -1 (zero fill)
// times w[kh, kw]^T (a transposing DMA, perm [0, 1, 3, 2]); it is stored with steps 2, 2. Core's
// spread gradient and flipped filter go: the DMAs read dy and w themselves.
// CHECK-LABEL: func.func @backprop_input(
// CHECK-SAME:      %[[W:.+]]: memref<3x3x2x3xf32>, %[[DY:.+]]: memref<1x2x2x3xf32>)
// CHECK-NOT:     linalg.
// CHECK-NOT:     memref.copy
// CHECK:         %[[DX:.+]] = memref.alloc() : memref<1x4x4x2xf32>
// CHECK-NEXT:    "accel.zero"() {at = 216 : i64, shape = array<i64: 4, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[DY]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 3>, step = array<i64: 1, 1, 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.dma_load"(%[[W]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 1, 2, 3>, perm = array<i64: 0, 1, 3, 2>, step = array<i64: 1, 1, 1, 1>, to = 144 : i64}
// CHECK-NEXT:    "accel.cast"() {from_at = 144 : i64, from_dtype = "float32", shape = array<i64: 1, 6>, to_at = 776 : i64, to_dtype = "bfloat16"}
// CHECK-NEXT:    "accel.matmul"() {acc_at = 216 : i64, acc_shape = array<i64: 4, 2>, lhs_at = 96 : i64, lhs_shape = array<i64: 4, 3>, rhs_at = 776 : i64, rhs_shape = array<i64: 3, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[DY]]) {begin = array<i64: 0, 0, -1, 0>, count = array<i64: 1, 2, 2, 3>, fill = 0.000000e+00 : f64, step = array<i64: 1, 1, 1, 1>, to = 48 : i64}
// CHECK:         "accel.dma_store"(%[[DX]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 2>, from = 216 : i64, step = array<i64: 1, 2, 2, 1>}
// CHECK:         "accel.dma_store"(%[[DX]]) {begin = array<i64: 0, 0, 1, 0>, count = array<i64: 1, 2, 2, 2>, from = 216 : i64, step = array<i64: 1, 2, 2, 1>}
// CHECK:         "accel.dma_store"(%[[DX]]) {begin = array<i64: 0, 1, 0, 0>, count = array<i64: 1, 2, 2, 2>, from = 216 : i64, step = array<i64: 1, 2, 2, 1>}
// Phase (1, 1) has one tap, (1, 1), at offset 0.
// CHECK:         "accel.zero"() {at = 216 : i64, shape = array<i64: 4, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[DY]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 2, 2, 3>, step = array<i64: 1, 1, 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.dma_load"(%[[W]]) {begin = array<i64: 1, 1, 0, 0>, count = array<i64: 1, 1, 2, 3>, perm = array<i64: 0, 1, 3, 2>, step = array<i64: 1, 1, 1, 1>, to = 144 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"()
// CHECK-NEXT:    "accel.dma_store"(%[[DX]]) {begin = array<i64: 0, 1, 1, 0>, count = array<i64: 1, 2, 2, 2>, from = 216 : i64, step = array<i64: 1, 2, 2, 1>}
// CHECK-NEXT:    return %[[DX]]
#map = affine_map<(d0, d1, d2, d3) -> (-d0 + 2, -d1 + 2, d3, d2)>
#map1 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#map2 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 + d3, d2 + d4, d5)>
#map3 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4, d5, d6)>
#map4 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>
func.func @backprop_input(%arg0: memref<3x3x2x3xf32>, %arg1: memref<1x2x2x3xf32>) -> memref<1x4x4x2xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %alloc = memref.alloc() : memref<1x6x6x3xf32>
  linalg.fill ins(%cst : f32) outs(%alloc : memref<1x6x6x3xf32>)
  %subview = memref.subview %alloc[0, 2, 2, 0] [1, 2, 2, 3] [1, 2, 2, 1] : memref<1x6x6x3xf32> to memref<1x2x2x3xf32, strided<[108, 36, 6, 1], offset: 42>>
  memref.copy %arg1, %subview : memref<1x2x2x3xf32> to memref<1x2x2x3xf32, strided<[108, 36, 6, 1], offset: 42>>
  %alloc_0 = memref.alloc() : memref<3x3x3x2xf32>
  linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0 : memref<3x3x2x3xf32>) outs(%alloc_0 : memref<3x3x3x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %cst_1 = arith.constant 0.000000e+00 : f32
  %alloc_2 = memref.alloc() : memref<1x4x4x2xf32>
  linalg.fill ins(%cst_1 : f32) outs(%alloc_2 : memref<1x4x4x2xf32>)
  linalg.generic {indexing_maps = [#map2, #map3, #map4], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]} ins(%alloc, %alloc_0 : memref<1x6x6x3xf32>, memref<3x3x3x2xf32>) outs(%alloc_2 : memref<1x4x4x2xf32>) attrs =  {tgc.conv = "backprop_input", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 1, 0, 1>, tgc.conv_strides = array<i64: 2, 2>} {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %0 = arith.mulf %in, %in_3 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %alloc_2 : memref<1x4x4x2xf32>
}

// -----

// backprop_input of a 1x1 kernel at stride 1: core's spread of dy covers the whole of its zeros,
// an identity canonicalize folds away, so the generic reads dy itself (no copy into zeros); its
// flipped filter (maps -d0, -d1 of size-1 dims) is still core's. One tap, one chunk of the 32
// positions: dy . w[0, 0]^T.
// CHECK-LABEL: func.func @backprop_input_1x1(
// CHECK-SAME:      %[[W:.+]]: memref<1x1x2x3xf32>, %[[DY:.+]]: memref<2x4x4x3xf32>)
// CHECK-NOT:     linalg.
// CHECK:         %[[DX:.+]] = memref.alloc() : memref<2x4x4x2xf32>
// CHECK-NEXT:    "accel.zero"() {at = 1224 : i64, shape = array<i64: 32, 2>}
// CHECK-NEXT:    "accel.dma_load"(%[[DY]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 2, 4, 4, 3>, step = array<i64: 1, 1, 1, 1>, to = 0 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.dma_load"(%[[W]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 1, 1, 2, 3>, perm = array<i64: 0, 1, 3, 2>, step = array<i64: 1, 1, 1, 1>, to = 1152 : i64}
// CHECK-NEXT:    "accel.cast"()
// CHECK-NEXT:    "accel.matmul"() {acc_at = 1224 : i64, acc_shape = array<i64: 32, 2>, lhs_at = 768 : i64, lhs_shape = array<i64: 32, 3>, rhs_at = 1480 : i64, rhs_shape = array<i64: 3, 2>}
// CHECK-NEXT:    "accel.dma_store"(%[[DX]]) {begin = array<i64: 0, 0, 0, 0>, count = array<i64: 2, 4, 4, 2>, from = 1224 : i64, step = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:    return %[[DX]]
#map = affine_map<(d0, d1, d2, d3) -> (-d0, -d1, d3, d2)>
#map1 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#map2 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 + d3, d2 + d4, d5)>
#map3 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4, d5, d6)>
#map4 = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>
func.func @backprop_input_1x1(%arg0: memref<1x1x2x3xf32>, %arg1: memref<2x4x4x3xf32>) -> memref<2x4x4x2xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %alloc = memref.alloc() : memref<1x1x3x2xf32>
  linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%arg0 : memref<1x1x2x3xf32>) outs(%alloc : memref<1x1x3x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %alloc_0 = memref.alloc() : memref<2x4x4x2xf32>
  linalg.fill ins(%cst : f32) outs(%alloc_0 : memref<2x4x4x2xf32>)
  linalg.generic {indexing_maps = [#map2, #map3, #map4], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]} ins(%arg1, %alloc : memref<2x4x4x3xf32>, memref<1x1x3x2xf32>) outs(%alloc_0 : memref<2x4x4x2xf32>) attrs =  {tgc.conv = "backprop_input", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 0, 0, 0>, tgc.conv_strides = array<i64: 1, 1>} {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %0 = arith.mulf %in, %in_1 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %alloc_0 : memref<2x4x4x2xf32>
}
