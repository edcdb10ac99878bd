// tgc-fold replaces ops whose operands are all constants by constants computed with the registry's
// numpy reference; a constant subgraph folds in one run. The originals are left to tgc-dce.
// RUN: %tgc-opt %s --split-input-file -p tgc-fold | FileCheck %s
// RUN: %tgc-opt %s --split-input-file -p tgc-fold,tgc-dce | FileCheck %s --check-prefix=DCE

// [1, 2] * 3 = [3, 6], then exp of that folds too.
// CHECK-LABEL: func.func @chain(
// CHECK:         %[[P:.*]] = "tgc.constant"() {value = dense<[3.000000e+00, 6.000000e+00]> : tensor<2xf32>}
// CHECK:         %[[E:.*]] = "tgc.constant"() {value = dense<[20.08{{[0-9]*}}, 403.42{{[0-9]*}}]> : tensor<2xf32>}
// CHECK-NOT:     "tgc.multiply"
// CHECK-NOT:     "tgc.exp"
// CHECK:         return %[[P]], %[[E]]
// DCE-LABEL:   func.func @chain(
// DCE-NEXT:      "tgc.constant"() {value = dense<[3.000000e+00, 6.000000e+00]>
// DCE-NEXT:      "tgc.constant"() {value = dense<[20.08
// DCE-NEXT:      return
func.func @chain() -> (tensor<2xf32>, tensor<2xf32>) {
  %a = "tgc.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %b = "tgc.constant"() {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
  %c = "tgc.multiply"(%a, %b) : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %d = "tgc.exp"(%c) : (tensor<2xf32>) -> tensor<2xf32>
  return %c, %d : tensor<2xf32>, tensor<2xf32>
}

// -----

// An op with a non-constant operand stays.
// CHECK-LABEL: func.func @not_constant(
// CHECK:         "tgc.add"(%{{.*}}, %{{.*}}) : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
func.func @not_constant(%x: tensor<2xf32>) -> tensor<2xf32> {
  %b = "tgc.constant"() {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
  %c = "tgc.add"(%x, %b) : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  return %c : tensor<2xf32>
}
