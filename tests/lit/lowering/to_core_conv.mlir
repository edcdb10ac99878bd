// tgc -> core for convolution and pooling: SAME padding is a tensor.pad, the batch dim may be unknown
// (read with tensor.dim), pooling uses linalg's named pooling ops.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s --check-prefix=GEMM

// CHECK-LABEL: func.func @conv_same_strided(
// CHECK:         tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 1, 1, 0]
// CHECK:         tensor.dim
// CHECK:         linalg.
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

// The input gradient (f32) is one GEMM of the gradient [N*OH*OW, O] with the filter [KH*KW*C, O] read
// transposed (B's map is (n, k)) into a tensor its function zero-fills (BLAS beta = 0), giving the columns [N, OH, OW, KH, KW, C]; then col2im: one
// accumulating slice add per window tap, over the outputs whose tap lands in the input. SAME 3x3 at
// stride 2 on 5x5 pads 1 before: tap 0 reaches outputs 1..2 (input 1, 3), tap 1 all three (0, 2, 4),
// tap 2 outputs 0..1 (1, 3).
// GEMM:        #map1 = affine_map<(d0, d1, d2) -> (d1, d2)>
// GEMM:        func.func private @tgc_gemm_dx3xf32_36x3xf32_dx36xf32_tb_z(%{{.*}}, %{{.*}}, %[[C:.*]]: tensor<?x36xf32>)
// GEMM-NEXT:     %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// GEMM-NEXT:     %[[F:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%[[C]] : tensor<?x36xf32>)
// GEMM-NEXT:     linalg.matmul indexing_maps = [#{{.*}}, #map1, #{{.*}}] {{.*}} outs(%[[F]] : tensor<?x36xf32>)
// CHECK-LABEL: func.func @conv_input_gradient(
// CHECK:         call @tgc_gemm_dx3xf32_36x3xf32_dx36xf32_tb_z(
// CHECK:         tensor.expand_shape {{.*}} into tensor<?x3x3x3x3x4xf32>
// CHECK:         tensor.extract_slice %{{.*}}[0, 1, 1, 0, 0, 0] [%{{.*}}, 2, 2, 1, 1, 4]
// CHECK:         tensor.insert_slice %{{.*}} into %{{.*}}[0, 1, 1, 0] [%{{.*}}, 2, 2, 4] [1, 2, 2, 1]
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 0, 1, 1, 0] [%{{.*}}, 3, 3, 1, 1, 4]
// CHECK:         tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0, 0] [%{{.*}}, 3, 3, 4] [1, 2, 2, 1]
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 0, 2, 2, 0] [%{{.*}}, 2, 2, 1, 1, 4]
// CHECK:         tensor.insert_slice %{{.*}} into %{{.*}}[0, 1, 1, 0] [%{{.*}}, 2, 2, 4] [1, 2, 2, 1]
// CHECK-NOT:     tensor.insert_slice
// CHECK:         return {{.*}} : tensor<?x5x5x4xf32>
func.func @conv_input_gradient(%f: tensor<3x3x4x3xf32>, %g: tensor<?x3x3x3xf32>, %x: tensor<?x5x5x4xf32>) -> tensor<?x5x5x4xf32> {
  %dx = "tgc.conv2d_backprop_input"(%f, %g, %x) {strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<3x3x4x3xf32>, tensor<?x3x3x3xf32>, tensor<?x5x5x4xf32>) -> tensor<?x5x5x4xf32>
  return %dx : tensor<?x5x5x4xf32>
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
