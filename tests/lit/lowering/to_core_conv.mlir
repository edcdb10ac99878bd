// tgc -> core for convolution and pooling: SAME padding is a tensor.pad, the batch dim may be unknown
// (read with tensor.dim), pooling uses linalg's named pooling ops.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

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
