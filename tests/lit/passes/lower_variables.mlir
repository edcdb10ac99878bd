// tgc-lower-variables turns variable state into function arguments (values at entry) and results
// (final values), records their order in tgc.var_inputs / tgc.var_outputs, and drops the declarations.
// RUN: not %tgc-opt %s --split-input-file -p tgc-lower-variables 2> %t.err | FileCheck %s
// RUN: FileCheck %s --check-prefix=ERR < %t.err

// A read before any assign is an entry argument; assign_sub subtracts from it; a later read sees the
// assigned value; the assigned variable is returned after the fetches.
// CHECK-NOT:   "tgc.variable"
// CHECK-LABEL: func.func @step(
// CHECK-SAME:      %[[X:[^:]*]]: tensor<?x3xf32>, %[[G:[^:]*]]: tensor<4xf32>, %[[W:[^:]*]]: tensor<3x4xf32>, %[[B:[^:]*]]: tensor<4xf32>)
// CHECK-SAME:      -> (tensor<?x4xf32>, tensor<4xf32>)
// CHECK-SAME:      attributes {tgc.var_inputs = ["w", "b"], tgc.var_outputs = ["b"]}
// CHECK-NOT:     "tgc.read_variable"
// CHECK:         %[[Y:.*]] = "tgc.matmul"(%[[X]], %[[W]])
// CHECK:         %[[NB:.*]] = "tgc.subtract"(%[[B]], %[[G]]) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK:         %[[Z:.*]] = "tgc.add"(%[[Y]], %[[NB]])
// CHECK:         return %[[Z]], %[[NB]] : tensor<?x4xf32>, tensor<4xf32>
"tgc.variable"() {dtype = f32, shape = array<i64: 3, 4>, sym_name = "w"} : () -> ()
"tgc.variable"() {dtype = f32, shape = array<i64: 4>, sym_name = "b"} : () -> ()
func.func @step(%x: tensor<?x3xf32>, %g: tensor<4xf32>) -> tensor<?x4xf32> {
  %w = "tgc.read_variable"() {dtype = f32, shape = array<i64: 3, 4>, var = @w} : () -> tensor<3x4xf32>
  %y = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false} : (tensor<?x3xf32>, tensor<3x4xf32>) -> tensor<?x4xf32>
  %b1 = "tgc.assign_sub"(%g) {var = @b} : (tensor<4xf32>) -> tensor<4xf32>
  %b2 = "tgc.read_variable"() {dtype = f32, shape = array<i64: 4>, var = @b} : () -> tensor<4xf32>
  %z = "tgc.add"(%y, %b2) : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %z : tensor<?x4xf32>
}

// -----

// Assign before read: no entry argument, the read is the assigned value.
// CHECK-LABEL: func.func @overwrite(
// CHECK-SAME:      %[[X:[^:]*]]: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>)
// CHECK-SAME:      attributes {tgc.var_inputs = [], tgc.var_outputs = ["v"]}
// CHECK-NEXT:    return %[[X]], %[[X]] : tensor<2xf32>, tensor<2xf32>
"tgc.variable"() {dtype = f32, shape = array<i64: 2>, sym_name = "v"} : () -> ()
func.func @overwrite(%x: tensor<2xf32>) -> tensor<2xf32> {
  %a = "tgc.assign"(%x) {var = @v} : (tensor<2xf32>) -> tensor<2xf32>
  %r = "tgc.read_variable"() {dtype = f32, shape = array<i64: 2>, var = @v} : () -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

// A reread of the entry read, placed after assign_add, is the updated value; the entry read before it
// stays the value at entry.
// CHECK-LABEL: func.func @reread(
// CHECK-SAME:      %[[D:[^:]*]]: tensor<f32>, %[[V:[^:]*]]: tensor<f32>) -> (tensor<f32>, tensor<f32>, tensor<f32>)
// CHECK-SAME:      attributes {tgc.var_inputs = ["v"], tgc.var_outputs = ["v"]}
// CHECK-NOT:     "tgc.reread_variable"
// CHECK:         %[[NEW:.*]] = "tgc.add"(%[[V]], %[[D]])
// CHECK:         return %[[V]], %[[NEW]], %[[NEW]] : tensor<f32>, tensor<f32>, tensor<f32>
"tgc.variable"() {dtype = f32, shape = array<i64>, sym_name = "v"} : () -> ()
func.func @reread(%d: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %r = "tgc.read_variable"() {dtype = f32, shape = array<i64>, var = @v} : () -> tensor<f32>
  %a = "tgc.assign_add"(%d) {var = @v} : (tensor<f32>) -> tensor<f32>
  %n = "tgc.reread_variable"(%r) {var = @v} : (tensor<f32>) -> tensor<f32>
  return %r, %n : tensor<f32>, tensor<f32>
}

// -----

// ERR: lower_variables.mlir:[[# @LINE + 2]]:8: error: 'tgc.assign' refers to undeclared variable 'nope'
func.func @undeclared(%x: tensor<2xf32>) -> tensor<2xf32> {
  %a = "tgc.assign"(%x) {var = @nope} : (tensor<2xf32>) -> tensor<2xf32>
  return %a : tensor<2xf32>
}

// -----

// ERR: lower_variables.mlir:[[# @LINE + 3]]:8: error: cannot assign tensor<3xf32> to variable 'v' of type tensor<2xf32>
"tgc.variable"() {dtype = f32, shape = array<i64: 2>, sym_name = "v"} : () -> ()
func.func @wrong_type(%x: tensor<3xf32>) -> tensor<3xf32> {
  %a = "tgc.assign"(%x) {var = @v} : (tensor<3xf32>) -> tensor<3xf32>
  return %a : tensor<3xf32>
}
