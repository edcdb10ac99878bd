// Each chunk is one mistake; IRDL catches attribute kinds and presence while parsing, tgc-verify the
// rest (result types, broadcasting, dtypes). Every error names this file, its line and column.
// RUN: not %tgc-opt %s --split-input-file -o %t 2>&1 | FileCheck %s

// IRDL: an attribute of the wrong kind (axes must be a dense array).
func.func @wrong_attribute_kind(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: expected base attribute 'builtin.dense_array' but got 'builtin.integer'
  %0 = "tgc.reduce_sum"(%a) {axes = 1 : i64, keepdims = false} : (tensor<2x3xf32>) -> tensor<2xf32>
  // CHECK: note: see current operation: {{.*}}"tgc.reduce_sum"
  return %0 : tensor<2xf32>
}

// -----

// IRDL: a missing attribute.
func.func @missing_attribute(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: 'tgc.matmul' op attribute "transpose_b" is expected but not provided
  %0 = "tgc.matmul"(%a, %b) {transpose_a = false} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// IRDL: the wrong number of operands.
func.func @operand_count(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: op expects exactly 2 operands, but got 1
  %0 = "tgc.add"(%a) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// tgc-verify: the result type disagrees with the op's result rule.
func.func @result_type_mismatch(%a: tensor<2x3xf32>) -> tensor<2x4xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: 'tgc.relu' result #0 expected type 'tensor<2x3xf32>' but got 'tensor<2x4xf32>'
  %0 = "tgc.relu"(%a) : (tensor<2x3xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// tgc-verify: shapes that do not broadcast.
func.func @broadcast_mismatch(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: 'tgc.add' shapes (2, 3) and (4,) are not broadcast-compatible
  %0 = "tgc.add"(%a, %b) : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// tgc-verify: a dtype the op does not take.
func.func @bad_dtype(%a: tensor<2x3xi32>) -> tensor<2x3xi32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: 'tgc.tanh' dtype int32 is not supported
  %0 = "tgc.tanh"(%a) : (tensor<2x3xi32>) -> tensor<2x3xi32>
  return %0 : tensor<2x3xi32>
}

// -----

// tgc-verify: operands of different dtypes.
func.func @mixed_dtypes(%a: tensor<2xf32>, %b: tensor<2xi32>) -> tensor<2xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: 'tgc.add' operands must have the same dtype but got float32 and int32
  %0 = "tgc.add"(%a, %b) : (tensor<2xf32>, tensor<2xi32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// tgc-verify: an attribute value the result rule rejects.
func.func @axis_out_of_range(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: 'tgc.reduce_sum' axis 5 is out of range for a tensor of rank 2
  %0 = "tgc.reduce_sum"(%a) {axes = array<i64: 5>, keepdims = false} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// An op the dialect does not have.
func.func @unknown_op(%a: tensor<2xf32>) -> tensor<2xf32> {
  // CHECK: invalid.mlir:[[# @LINE + 1]]:8: error: unregistered operation 'tgc.no_such_op'
  %0 = "tgc.no_such_op"(%a) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
