// The IRDL that `tgc dialect --irdl` prints is a dialect plain upstream mlir-opt loads: it accepts tgc
// IR, and rejects a malformed op with the same message `tgc opt` gives.
// RUN: %tgc dialect --irdl > %t.irdl
// RUN: mlir-opt --irdl-file=%t.irdl %s --split-input-file --verify-diagnostics | FileCheck %s
// RUN: FileCheck %s --check-prefix=IRDL < %t.irdl

// IRDL-LABEL: irdl.dialect @tgc {
// IRDL:         irdl.operation @add {
// IRDL:           irdl.operands(x: %{{.*}}, y: %{{.*}})
// IRDL:         irdl.operation @matmul {
// IRDL:           irdl.attributes {{[{]}} "transpose_a" = %{{.*}}, "transpose_b" = %{{.*}} }

// CHECK-LABEL: func.func @dense(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>, %[[W:.*]]: tensor<3x4xf32>, %[[B:.*]]: tensor<4xf32>
func.func @dense(%x: tensor<?x3xf32>, %w: tensor<3x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  // CHECK: %[[M:.*]] = "tgc.matmul"(%[[X]], %[[W]]) {transpose_a = false, transpose_b = false}
  %0 = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false} : (tensor<?x3xf32>, tensor<3x4xf32>) -> tensor<?x4xf32>
  // CHECK: %[[A:.*]] = "tgc.add"(%[[M]], %[[B]])
  %1 = "tgc.add"(%0, %b) : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  // CHECK: %[[R:.*]] = "tgc.relu"(%[[A]])
  %2 = "tgc.relu"(%1) : (tensor<?x4xf32>) -> tensor<?x4xf32>
  // CHECK: return %[[R]]
  return %2 : tensor<?x4xf32>
}

// -----

// CHECK-LABEL: func.func @reduce(
func.func @reduce(%x: tensor<?x3xf32>) -> tensor<f32> {
  // CHECK: "tgc.reduce_sum"(%{{.*}}) {axes = array<i64: 0, 1>, keepdims = false}
  %0 = "tgc.reduce_sum"(%x) {axes = array<i64: 0, 1>, keepdims = false} : (tensor<?x3xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @missing_attribute(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'tgc.matmul' op attribute "transpose_b" is expected but not provided}}
  %0 = "tgc.matmul"(%a, %b) {transpose_a = false} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
