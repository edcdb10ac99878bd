// tgc-verify re-runs each op's registry result rule and compares with the IR. `tgc opt` runs it before
// any pipeline. It reports every bad op, not just the first; ops from a graph carry a fused location
// (scope/op name over the user's file:line), which the error prints as `file:line:col: 'scope/op'`.
// RUN: not %tgc-opt %s --split-input-file -p tgc-verify 2> %t.err | FileCheck %s
// RUN: not %tgc-opt %s --split-input-file -p tgc-verify -o %t 2>&1 | FileCheck %s --check-prefix=ERR

// Well-formed IR passes unchanged; a known dim may refine one the rule leaves unknown.
// CHECK-LABEL: func.func @valid(
// CHECK-NEXT:    "tgc.matmul"
// CHECK-NEXT:    "tgc.relu"({{.*}}) : (tensor<?x5xf32>) -> tensor<?x5xf32>
// CHECK-NEXT:    "tgc.reduce_sum"({{.*}}) {axes = array<i64: 1>, keepdims = false} : (tensor<?x5xf32>) -> tensor<?xf32>
// CHECK-NEXT:    return
func.func @valid(%x: tensor<?x3xf32>, %w: tensor<3x5xf32>) -> tensor<?xf32> {
  %0 = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false} : (tensor<?x3xf32>, tensor<3x5xf32>) -> tensor<?x5xf32>
  %1 = "tgc.relu"(%0) : (tensor<?x5xf32>) -> tensor<?x5xf32>
  %2 = "tgc.reduce_sum"(%1) {axes = array<i64: 1>, keepdims = false} : (tensor<?x5xf32>) -> tensor<?xf32>
  return %2 : tensor<?xf32>
}

// -----

// Two bad ops from a graph: both are reported with the user's file, line and op name.
// ERR: model.py:12:0: 'dense/MatMul': error: 'tgc.matmul' inner dimensions differ: (?, 3) and (4, 5) (3 vs 4)
// ERR: model.py:14:0: 'dense/Relu_1': error: 'tgc.relu' result #0 expected type 'tensor<?x5xf32>' but got 'tensor<?x4xf32>'
#model = loc("model.py":12:0)
func.func @graph_locations(%x: tensor<?x3xf32>, %w: tensor<4x5xf32>) -> tensor<?x5xf32> {
  %0 = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false} : (tensor<?x3xf32>, tensor<4x5xf32>) -> tensor<?x5xf32> loc("dense/MatMul"(#model))
  %1 = "tgc.relu"(%0) : (tensor<?x5xf32>) -> tensor<?x5xf32> loc("dense/Relu"("model.py":13:0))
  %2 = "tgc.relu"(%0) : (tensor<?x5xf32>) -> tensor<?x4xf32> loc("dense/Relu_1"("model.py":14:0))
  return %1 : tensor<?x5xf32>
}

// -----

// An op in this file (no graph location) is reported at its own line and column.
// ERR: verify.mlir:[[# @LINE + 2]]:8: error: 'tgc.transpose' perm [0, 0] is not a permutation of the 2 axes
func.func @bad_perm(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = "tgc.transpose"(%x) {perm = array<i64: 0, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// A result type tgc has no dtype for (index, i8) is an error at the op, not a traceback.
// ERR: verify.mlir:[[# @LINE + 2]]:8: error: 'tgc.negative' results must be ranked tensors of a supported dtype: unsupported MLIR element type 'index'
func.func @index_result(%x: tensor<2xf32>) -> tensor<2xindex> {
  %0 = "tgc.negative"(%x) : (tensor<2xf32>) -> tensor<2xindex>
  return %0 : tensor<2xindex>
}

// -----

// ERR: verify.mlir:[[# @LINE + 2]]:8: error: 'tgc.add' results must be ranked tensors of a supported dtype: unsupported MLIR element type 'i4'
func.func @i4_result(%x: tensor<2xf32>) -> tensor<2xi4> {
  %0 = "tgc.add"(%x, %x) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xi4>
  return %0 : tensor<2xi4>
}

// -----

// Variables: declared in the module body (tgc-place met one inside a function with a KeyError), read
// with the declared type (a wrong one reached linalg as a confusing shape error), declared at all.
// ERR: verify.mlir:[[# @LINE + 2]]:3: error: 'tgc.variable' must be declared in the module body, not inside a function
func.func @variable_in_function(%x: tensor<2xf32>) -> tensor<2xf32> {
  "tgc.variable"() {dtype = f32, shape = array<i64: 2>, sym_name = "w"} : () -> ()
  return %x : tensor<2xf32>
}

// -----

"tgc.variable"() {dtype = f32, shape = array<i64: 3>, sym_name = "v"} : () -> ()
// ERR: verify.mlir:[[# @LINE + 2]]:8: error: 'tgc.read_variable' reads variable 'v' as 'tensor<2xf32>' but it is declared 'tensor<3xf32>'
func.func @read_of_another_shape() -> tensor<2xf32> {
  %0 = "tgc.read_variable"() {dtype = f32, shape = array<i64: 2>, var = @v} : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

"tgc.variable"() {dtype = f32, shape = array<i64: 5>, sym_name = "u"} : () -> ()
// ERR: verify.mlir:[[# @LINE + 2]]:8: error: 'tgc.assign_add' cannot add tensor<3xf32> to variable 'u' of type tensor<5xf32>
func.func @add_of_another_shape(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "tgc.assign_add"(%x) {var = @u} : (tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// ERR: verify.mlir:[[# @LINE + 2]]:8: error: 'tgc.read_variable' refers to undeclared variable 'nowhere'
func.func @read_of_nothing() -> tensor<2xf32> {
  %0 = "tgc.read_variable"() {dtype = f32, shape = array<i64: 2>, var = @nowhere} : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// ERR-NOT: Traceback
// The chunk after a failing one is still processed and printed.
// CHECK-LABEL: func.func @after_errors(
// CHECK-NEXT:    "tgc.negative"
func.func @after_errors(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "tgc.negative"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
