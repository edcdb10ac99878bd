// tgc-simplify applies algebraic identities: x+0 and x*1 are x, neg(neg x) is x, a transpose of a
// transpose that gives the identity vanishes. The dead leftovers are for tgc-dce.
// RUN: %tgc-opt %s --split-input-file -p tgc-simplify,tgc-dce | FileCheck %s

// CHECK-LABEL: func.func @identities(
// CHECK-SAME:      %[[X:[^:]*]]: tensor<?x3xf32>
// CHECK-NOT:     "tgc.
// CHECK:         return %[[X]] : tensor<?x3xf32>
func.func @identities(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %z = "tgc.constant"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %o = "tgc.constant"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %0 = "tgc.add"(%x, %z) : (tensor<?x3xf32>, tensor<f32>) -> tensor<?x3xf32>
  %1 = "tgc.multiply"(%0, %o) : (tensor<?x3xf32>, tensor<f32>) -> tensor<?x3xf32>
  %2 = "tgc.negative"(%1) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %3 = "tgc.negative"(%2) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %4 = "tgc.transpose"(%3) {perm = array<i64: 1, 0>} : (tensor<?x3xf32>) -> tensor<3x?xf32>
  %5 = "tgc.transpose"(%4) {perm = array<i64: 1, 0>} : (tensor<3x?xf32>) -> tensor<?x3xf32>
  return %5 : tensor<?x3xf32>
}

// -----

// x + 0 where the 0 would broadcast x to a bigger shape is not x: it stays.
// CHECK-LABEL: func.func @broadcasting_zero(
// CHECK:         %[[S:.*]] = "tgc.add"(%{{.*}}, %{{.*}}) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK:         return %[[S]]
func.func @broadcasting_zero(%x: tensor<3xf32>) -> tensor<2x3xf32> {
  %z = "tgc.constant"() {value = dense<0.0> : tensor<2x3xf32>} : () -> tensor<2x3xf32>
  %0 = "tgc.add"(%x, %z) : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
