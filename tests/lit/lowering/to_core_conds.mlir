// tgc-to-core lowers tgc.if (tgc/lowering/to_core/conds.py) to one scf.if: the predicate tensor is
// extracted to an i1, the then_branch function of the nested module @tgc.loops becomes the then region
// and the else_branch function the else region, each with its arguments replaced by the op's operands
// after the predicate (%x here). Only the taken region runs. The functions and the nested module are
// gone afterwards; a tgc.if inside a branch becomes a nested scf.if.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @main(
// CHECK-SAME:      %[[P:[^:]*]]: tensor<i1>, %[[X:[^:]*]]: tensor<3xf32>
// CHECK:         %[[FLAG:.*]] = tensor.extract %[[P]][] : tensor<i1>
// CHECK:         %[[R:.*]]:2 = scf.if %[[FLAG]] -> (tensor<3xf32>, tensor<?xi32>)
// CHECK:           %[[SQRT:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<3xf32>)
// CHECK:           math.sqrt
// CHECK:           %[[A:.*]] = tensor.cast %{{.*}} : tensor<2xi32> to tensor<?xi32>
// CHECK:           scf.yield %[[SQRT]], %[[A]] : tensor<3xf32>, tensor<?xi32>
// CHECK:         } else {
// CHECK:           %[[NEG:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<3xf32>)
// CHECK:           arith.negf
// CHECK:           %[[B:.*]] = tensor.cast %{{.*}} : tensor<3xi32> to tensor<?xi32>
// CHECK:           scf.yield %[[NEG]], %[[B]] : tensor<3xf32>, tensor<?xi32>
// CHECK:         }
// CHECK:         return %[[R]]#0, %[[R]]#1 : tensor<3xf32>, tensor<?xi32>
// CHECK-NOT:     tgc.loops
// CHECK-NOT:     "tgc.
func.func @main(%p: tensor<i1>, %x: tensor<3xf32>) -> (tensor<3xf32>, tensor<?xi32>) {
  %r:2 = "tgc.if"(%p, %x) {then_branch = "c/true", else_branch = "c/false", result_types = "tensor<3xf32>;tensor<?xi32>", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<i1>, tensor<3xf32>) -> (tensor<3xf32>, tensor<?xi32>)
  return %r#0, %r#1 : tensor<3xf32>, tensor<?xi32>
}

// CHECK-LABEL: func.func @nested(
// CHECK:         scf.if
// CHECK:           scf.if
// CHECK:           } else {
// CHECK:           scf.yield
// CHECK:         } else {
// CHECK:           scf.yield
func.func @nested(%p: tensor<i1>, %x: tensor<3xf32>) -> tensor<3xf32> {
  %r = "tgc.if"(%p, %p, %x) {then_branch = "outer/true", else_branch = "outer/false", result_types = "tensor<3xf32>", operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<i1>, tensor<i1>, tensor<3xf32>) -> tensor<3xf32>
  return %r : tensor<3xf32>
}

// A branch that knows a dim the result leaves unknown (a gradient cond's branch has no
// tgc.relax_shape): its value is cast to the result type, which an scf.yield must match.
// CHECK-LABEL: func.func @unrelaxed(
// CHECK:         scf.if %{{.*}} -> (tensor<?xf32>)
// CHECK:           %[[C:.*]] = tensor.cast %{{.*}} : tensor<3xf32> to tensor<?xf32>
// CHECK:           scf.yield %[[C]] : tensor<?xf32>
// CHECK:         } else {
// CHECK:           scf.yield %{{.*}} : tensor<?xf32>
func.func @unrelaxed(%p: tensor<i1>, %x: tensor<3xf32>) -> tensor<?xf32> {
  %r = "tgc.if"(%p, %x) {then_branch = "u/true", else_branch = "u/false", result_types = "tensor<?xf32>", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<i1>, tensor<3xf32>) -> tensor<?xf32>
  return %r : tensor<?xf32>
}

module @tgc.loops {
  func.func private @"c/true"(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<?xi32>) {
    %s = "tgc.sqrt"(%x) : (tensor<3xf32>) -> tensor<3xf32>
    %a = "tgc.constant"() {value = dense<[1, 2]> : tensor<2xi32>} : () -> tensor<2xi32>
    %r = "tgc.relax_shape"(%a) {shape = array<i64: -1>} : (tensor<2xi32>) -> tensor<?xi32>
    return %s, %r : tensor<3xf32>, tensor<?xi32>
  }
  func.func private @"c/false"(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<?xi32>) {
    %n = "tgc.negative"(%x) : (tensor<3xf32>) -> tensor<3xf32>
    %b = "tgc.constant"() {value = dense<[3, 4, 5]> : tensor<3xi32>} : () -> tensor<3xi32>
    %r = "tgc.relax_shape"(%b) {shape = array<i64: -1>} : (tensor<3xi32>) -> tensor<?xi32>
    return %n, %r : tensor<3xf32>, tensor<?xi32>
  }
  func.func private @"outer/true"(%q: tensor<i1>, %x: tensor<3xf32>) -> tensor<3xf32> {
    %r = "tgc.if"(%q, %x) {then_branch = "inner/true", else_branch = "inner/false", result_types = "tensor<3xf32>", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<i1>, tensor<3xf32>) -> tensor<3xf32>
    return %r : tensor<3xf32>
  }
  func.func private @"outer/false"(%q: tensor<i1>, %x: tensor<3xf32>) -> tensor<3xf32> {
    return %x : tensor<3xf32>
  }
  func.func private @"u/true"(%x: tensor<3xf32>) -> tensor<3xf32> {
    %y = "tgc.add"(%x, %x) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    return %y : tensor<3xf32>
  }
  func.func private @"u/false"(%x: tensor<3xf32>) -> tensor<?xf32> {
    %r = "tgc.relax_shape"(%x) {shape = array<i64: -1>} : (tensor<3xf32>) -> tensor<?xf32>
    return %r : tensor<?xf32>
  }
  func.func private @"inner/true"(%x: tensor<3xf32>) -> tensor<3xf32> {
    %y = "tgc.add"(%x, %x) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    return %y : tensor<3xf32>
  }
  func.func private @"inner/false"(%x: tensor<3xf32>) -> tensor<3xf32> {
    return %x : tensor<3xf32>
  }
}
