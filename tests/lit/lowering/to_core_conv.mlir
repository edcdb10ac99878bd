// tgc -> core for convolution and pooling: SAME padding is a tensor.pad, the batch dim may be unknown
// (read with tensor.dim), pooling uses linalg's named pooling ops. Convolutions are plain linalg for
// every dtype; the op computing each conv op is tagged (tgc.conv and the geometry) for the targets
// (the CPU's GEMM form: conv_gemm.mlir).
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// The flipped filter's read of f, and the filter gradient's strided read of the padded input.
// CHECK-DAG:   #[[FLIP:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (-d0 + 2, -d1 + 2, d3, d2)>
// CHECK-DAG:   #[[XREAD:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 * 2 + d3, d2 * 2 + d4, d5)>

// CHECK-LABEL: func.func @conv_same_strided(
// CHECK:         tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 1, 1, 0]
// CHECK:         tensor.dim
// CHECK:         linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>, tgc.conv = "conv2d", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 1, 0, 1>, tgc.conv_strides = array<i64: 2, 2>} ins(%{{.*}} : tensor<?x9x9x3xf32>, tensor<3x3x3x4xf32>)
// CHECK-NOT:     "tgc.
// CHECK:         return {{.*}} : tensor<?x4x4x4xf32>
func.func @conv_same_strided(%x: tensor<?x8x8x3xf32>, %f: tensor<3x3x3x4xf32>) -> tensor<?x4x4x4xf32> {
  %y = "tgc.conv2d"(%x, %f) {strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<?x4x4x4xf32>
  return %y : tensor<?x4x4x4xf32>
}

// CHECK-LABEL: func.func @pools(
// CHECK:         linalg.pooling_nhwc_max
// CHECK:         linalg.pooling_nhwc_sum
// CHECK-NOT:     "tgc.
func.func @pools(%x: tensor<?x8x8x3xf32>) -> (tensor<?x4x4x3xf32>, tensor<?x4x4x3xf32>) {
  %m = "tgc.max_pool"(%x) {ksize = array<i64: 1, 2, 2, 1>, strides = array<i64: 1, 2, 2, 1>, padding = "VALID"} : (tensor<?x8x8x3xf32>) -> tensor<?x4x4x3xf32>
  %a = "tgc.avg_pool"(%x) {ksize = array<i64: 1, 2, 2, 1>, strides = array<i64: 1, 2, 2, 1>, padding = "VALID"} : (tensor<?x8x8x3xf32>) -> tensor<?x4x4x3xf32>
  return %m, %a : tensor<?x4x4x3xf32>, tensor<?x4x4x3xf32>
}

// The input gradient is a stride-1 conv of the gradient spread onto the stride lattice (a strided
// insert_slice: SAME 3x3 at stride 2 on 5x5 pads 1 before, so g[i] lands at 1 + 2i of a 7-wide
// tensor) with the flipped filter f'[kh, kw, o, c] = f[2-kh, 2-kw, c, o], output channel innermost.
// CHECK-LABEL: func.func @conv_input_gradient(
// CHECK-SAME:      %[[F:[^:]*]]: tensor<3x3x4x3xf32>, %[[G:[^:]*]]: tensor<?x3x3x3xf32>
// CHECK:         %[[GP:.*]] = tensor.insert_slice %[[G]] into %{{.*}}[0, 1, 1, 0] [%{{.*}}, 3, 3, 3] [1, 2, 2, 1] : tensor<?x3x3x3xf32> into tensor<?x7x7x3xf32>
// CHECK:         %[[FF:.*]] = linalg.generic {indexing_maps = [#[[FLIP]], #{{.*}}], {{.*}} ins(%[[F]] : tensor<3x3x4x3xf32>) outs(%{{.*}} : tensor<3x3x3x4xf32>)
// CHECK:         linalg.generic {{.*}} ins(%[[GP]], %[[FF]] : tensor<?x7x7x3xf32>, tensor<3x3x3x4xf32>) outs(%{{.*}} : tensor<?x5x5x4xf32>) attrs =  {tgc.conv = "backprop_input", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 1, 1, 1, 1>, tgc.conv_strides = array<i64: 2, 2>}
// CHECK-NOT:     call
// CHECK:         return {{.*}} : tensor<?x5x5x4xf32>
func.func @conv_input_gradient(%f: tensor<3x3x4x3xf32>, %g: tensor<?x3x3x3xf32>, %x: tensor<?x5x5x4xf32>) -> tensor<?x5x5x4xf32> {
  %dx = "tgc.conv2d_backprop_input"(%f, %g, %x) {strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<3x3x4x3xf32>, tensor<?x3x3x3xf32>, tensor<?x5x5x4xf32>) -> tensor<?x5x5x4xf32>
  return %dx : tensor<?x5x5x4xf32>
}

// The filter gradient is one generic over (n, i, j, kh, kw, c, o) reading the padded input at the
// strided window position; n, i, j are its reductions.
// CHECK-LABEL: func.func @conv_filter_gradient(
// CHECK:         %[[XP:.*]] = tensor.pad %{{.*}} low[0, 1, 1, 0] high[0, 1, 1, 0]
// CHECK:         linalg.generic {indexing_maps = [#[[XREAD]], #{{.*}}, #{{.*}}], iterator_types = ["reduction", "reduction", "reduction", "parallel", "parallel", "parallel", "parallel"]} ins(%[[XP]], %{{.*}} : tensor<?x7x7x4xf32>, tensor<?x3x3x3xf32>) outs(%{{.*}} : tensor<3x3x4x3xf32>) attrs =  {tgc.conv = "backprop_filter", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 1, 1, 1, 1>, tgc.conv_strides = array<i64: 2, 2>}
// CHECK-NOT:     call
// CHECK:         return {{.*}} : tensor<3x3x4x3xf32>
func.func @conv_filter_gradient(%x: tensor<?x5x5x4xf32>, %g: tensor<?x3x3x3xf32>) -> tensor<3x3x4x3xf32> {
  %df = "tgc.conv2d_backprop_filter"(%x, %g) {filter_shape = array<i64: 3, 3, 4, 3>, strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x5x5x4xf32>, tensor<?x3x3x3xf32>) -> tensor<3x3x4x3xf32>
  return %df : tensor<3x3x4x3xf32>
}

// A pool of 0 channels holds no element: a tensor.empty (batch read with tensor.dim), never the
// padded pooling, whose slices at channel offset 0 of a 0-size dim the verifier refused. conv2d of 0
// input channels sums over nothing: zeros.
// CHECK-LABEL: func.func @no_channels(
// CHECK-SAME:      %[[X:[^:]*]]: tensor<?x2x2x0xf32>
// CHECK-NOT:     tensor.pad
// CHECK-NOT:     linalg.pooling
// CHECK:         %[[N:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x2x2x0xf32>
// CHECK:         %[[P:.*]] = tensor.empty(%[[N]]) : tensor<?x2x2x0xf32>
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<1x3x3x4xf32>
// CHECK:         %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E]] : tensor<1x3x3x4xf32>)
// CHECK-NOT:     linalg.conv
// CHECK:         return %[[P]], %[[Z]]
func.func @no_channels(%x: tensor<?x2x2x0xf32>, %y: tensor<1x3x3x0xf32>, %f: tensor<2x2x0x4xf32>) -> (tensor<?x2x2x0xf32>, tensor<1x3x3x4xf32>) {
  %p = "tgc.avg_pool"(%x) {ksize = array<i64: 1, 2, 2, 1>, strides = array<i64: 1, 1, 1, 1>, padding = "SAME"} : (tensor<?x2x2x0xf32>) -> tensor<?x2x2x0xf32>
  %c = "tgc.conv2d"(%y, %f) {strides = array<i64: 1, 1, 1, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<1x3x3x0xf32>, tensor<2x2x0x4xf32>) -> tensor<1x3x3x4xf32>
  return %p, %c : tensor<?x2x2x0xf32>, tensor<1x3x3x4xf32>
}
