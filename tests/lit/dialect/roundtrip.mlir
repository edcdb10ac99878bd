// Ops of every family parse, pass IRDL and tgc-verify, and print back unchanged (twice through).
// RUN: %tgc-opt %s | %tgc-opt | FileCheck %s

// CHECK-LABEL: func.func @elementwise(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>, %[[B:.*]]: tensor<3xf32>
func.func @elementwise(%x: tensor<?x3xf32>, %b: tensor<3xf32>) -> tensor<?x3xi32> {
  // CHECK: %[[S:.*]] = "tgc.add"(%[[X]], %[[B]]) : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %0 = "tgc.add"(%x, %b) : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  // CHECK: %[[R:.*]] = "tgc.relu"(%[[S]]) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %1 = "tgc.relu"(%0) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  // CHECK: %[[C:.*]] = "tgc.greater"(%[[R]], %[[X]]) : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xi1>
  %2 = "tgc.greater"(%1, %x) : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xi1>
  // CHECK: %[[SEL:.*]] = "tgc.select"(%[[C]], %[[R]], %[[X]])
  %3 = "tgc.select"(%2, %1, %x) : (tensor<?x3xi1>, tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  // CHECK: %[[I:.*]] = "tgc.cast"(%[[SEL]]) {dtype = i32} : (tensor<?x3xf32>) -> tensor<?x3xi32>
  %4 = "tgc.cast"(%3) {dtype = i32} : (tensor<?x3xf32>) -> tensor<?x3xi32>
  // CHECK: return %[[I]] : tensor<?x3xi32>
  return %4 : tensor<?x3xi32>
}

// CHECK-LABEL: func.func @reduce_and_linalg(
// CHECK-SAME:      %[[A:.*]]: tensor<4x3xf32>, %[[W:.*]]: tensor<5x3xf32>
func.func @reduce_and_linalg(%a: tensor<4x3xf32>, %w: tensor<5x3xf32>) -> (tensor<5xf32>, tensor<4xi64>) {
  // CHECK: %[[M:.*]] = "tgc.matmul"(%[[A]], %[[W]]) {transpose_a = false, transpose_b = true} : (tensor<4x3xf32>, tensor<5x3xf32>) -> tensor<4x5xf32>
  %0 = "tgc.matmul"(%a, %w) {transpose_a = false, transpose_b = true} : (tensor<4x3xf32>, tensor<5x3xf32>) -> tensor<4x5xf32>
  // CHECK: %[[SUM:.*]] = "tgc.reduce_sum"(%[[M]]) {axes = array<i64: 0>, keepdims = false} : (tensor<4x5xf32>) -> tensor<5xf32>
  %1 = "tgc.reduce_sum"(%0) {axes = array<i64: 0>, keepdims = false} : (tensor<4x5xf32>) -> tensor<5xf32>
  // CHECK: %[[ARG:.*]] = "tgc.argmax"(%[[M]]) {axis = 1 : i64, output_type = i64} : (tensor<4x5xf32>) -> tensor<4xi64>
  %2 = "tgc.argmax"(%0) {axis = 1 : i64, output_type = i64} : (tensor<4x5xf32>) -> tensor<4xi64>
  // CHECK: return %[[SUM]], %[[ARG]]
  return %1, %2 : tensor<5xf32>, tensor<4xi64>
}

// CHECK-LABEL: func.func @array(
// CHECK-SAME:      %[[T:.*]]: tensor<2x3x4xf32>
func.func @array(%t: tensor<2x3x4xf32>) -> tensor<4x1x6xf32> {
  // CHECK: %[[P:.*]] = "tgc.transpose"(%[[T]]) {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %0 = "tgc.transpose"(%t) {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  // CHECK: %[[RS:.*]] = "tgc.reshape"(%[[P]]) {shape = array<i64: 4, 6>} : (tensor<4x2x3xf32>) -> tensor<4x6xf32>
  %1 = "tgc.reshape"(%0) {shape = array<i64: 4, 6>} : (tensor<4x2x3xf32>) -> tensor<4x6xf32>
  // CHECK: %[[E:.*]] = "tgc.expand_dims"(%[[RS]]) {axis = 1 : i64} : (tensor<4x6xf32>) -> tensor<4x1x6xf32>
  %2 = "tgc.expand_dims"(%1) {axis = 1 : i64} : (tensor<4x6xf32>) -> tensor<4x1x6xf32>
  // CHECK: return %[[E]]
  return %2 : tensor<4x1x6xf32>
}

// Variables live in the module body; reads and assigns name them by symbol.
// CHECK: "tgc.variable"() {dtype = f32, shape = array<i64: 2>, sym_name = "v"} : () -> ()
"tgc.variable"() {dtype = f32, shape = array<i64: 2>, sym_name = "v"} : () -> ()

// CHECK-LABEL: func.func @state(
func.func @state(%d: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: %[[C:.*]] = "tgc.constant"() {value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>} : () -> tensor<2xf32>
  %c = "tgc.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  // CHECK: %[[V:.*]] = "tgc.read_variable"() {dtype = f32, shape = array<i64: 2>, var = @v} : () -> tensor<2xf32>
  %v = "tgc.read_variable"() {dtype = f32, shape = array<i64: 2>, var = @v} : () -> tensor<2xf32>
  // CHECK: "tgc.assign_add"(%[[C]]) {var = @v} : (tensor<2xf32>) -> tensor<2xf32>
  %n = "tgc.assign_add"(%c) {var = @v} : (tensor<2xf32>) -> tensor<2xf32>
  return %v : tensor<2xf32>
}
