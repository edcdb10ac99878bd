// tgc-shape-equality (tgc/passes/shape_equality.py) marks, on each op, the unknown dims of its
// operands that are one run-time value by construction (tgc.dim_classes: per operand, per dim, equal
// classes for equal dims, -1 otherwise), so that tgc-to-core tests only the others for broadcasting.
// Dims of two placeholders stay unproven; a loop variable keeps its initial dim's class while the body
// returns it, and loses it when the body changes it; a tgc.if's result has the class both branches give.
// RUN: %tgc-opt %s -p tgc-shape-equality | FileCheck %s

// The batch dim of x reaches both operands of the multiply through matmul and tanh.
// CHECK-LABEL: func.func @one_placeholder(
// CHECK:         "tgc.multiply"(%{{.*}}, %{{.*}}) {tgc.dim_classes = [array<i64: 0, -1>, array<i64: 0, -1>]}
// Two placeholders have dims of their own: no class, the check stays.
// CHECK:         "tgc.add"(%{{.*}}, %{{.*}}) :
func.func @one_placeholder(%x: tensor<?x16xf32>, %y: tensor<?x16xf32>, %w: tensor<16x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %a = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false} : (tensor<?x16xf32>, tensor<16x16xf32>) -> tensor<?x16xf32>
  %b = "tgc.tanh"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %c = "tgc.multiply"(%a, %b) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %d = "tgc.add"(%c, %y) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %c, %d : tensor<?x16xf32>, tensor<?x16xf32>
}

// A recurrent state made from x keeps x's batch dim through the loop: proven inside the body and
// after the loop.
// CHECK-LABEL: func.func @loop_keeps_the_dim(
// CHECK:         %[[R:.*]]:2 = "tgc.while"
// CHECK:         "tgc.multiply"(%[[R]]#1, %{{.*}}) {tgc.dim_classes = [array<i64: 0, -1>, array<i64: 0, -1>]}
func.func @loop_keeps_the_dim(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %i0 = "tgc.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
  %h0 = "tgc.fill_like"(%x) {value = 0.0 : f64} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %r:2 = "tgc.while"(%i0, %h0, %x) {body = "keep/body", cond = "keep/cond", num_vars = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<i32>, tensor<?x16xf32>, tensor<?x16xf32>) -> (tensor<i32>, tensor<?x16xf32>)
  %y = "tgc.multiply"(%r#1, %x) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// A body that doubles the rows changes the dim: the loop's result and the state inside the body get
// their own, and both adds keep their run-time check.
// CHECK-LABEL: func.func @loop_changes_the_dim(
// CHECK:         %[[R:.*]]:2 = "tgc.while"
// CHECK:         "tgc.add"(%[[R]]#1, %{{.*}}) :
func.func @loop_changes_the_dim(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %i0 = "tgc.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
  %r:2 = "tgc.while"(%i0, %x, %x) {body = "grow/body", cond = "keep/cond", num_vars = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<i32>, tensor<?x16xf32>, tensor<?x16xf32>) -> (tensor<i32>, tensor<?x16xf32>)
  %y = "tgc.add"(%r#1, %x) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// Both branches return a tensor of x's shape: the result has x's class.
// CHECK-LABEL: func.func @conditional(
// CHECK:         %[[R:.*]] = "tgc.if"
// CHECK:         "tgc.subtract"(%[[R]], %{{.*}}) {tgc.dim_classes = [array<i64: 0, -1>, array<i64: 0, -1>]}
func.func @conditional(%p: tensor<i1>, %x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %r = "tgc.if"(%p, %x) {else_branch = "c/false", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, result_types = "tensor<?x16xf32>", resultSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, then_branch = "c/true"} : (tensor<i1>, tensor<?x16xf32>) -> tensor<?x16xf32>
  %y = "tgc.subtract"(%r, %x) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// Inside the loops' functions: the state and x share x's class in the body that keeps the dim; in the
// body that doubles it they do not.
// CHECK:       module @tgc.loops
// CHECK-LABEL: func.func private @"keep/body"(
// CHECK:         "tgc.add"(%{{.*}}, %{{.*}}) {tgc.dim_classes = [array<i64: 0, -1>, array<i64: 0, -1>]}
// CHECK-LABEL: func.func private @"grow/body"(
// CHECK:         "tgc.concat"
// CHECK:         "tgc.add"(%{{.*}}, %{{.*}}) :
module @tgc.loops {
  func.func private @"keep/cond"(%i: tensor<i32>, %h: tensor<?x16xf32>, %x: tensor<?x16xf32>) -> tensor<i1> {
    %n = "tgc.constant"() {value = dense<3> : tensor<i32>} : () -> tensor<i32>
    %p = "tgc.less"(%i, %n) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    return %p : tensor<i1>
  }
  func.func private @"keep/body"(%i: tensor<i32>, %h: tensor<?x16xf32>, %x: tensor<?x16xf32>) -> (tensor<i32>, tensor<?x16xf32>) {
    %one = "tgc.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %j = "tgc.add"(%i, %one) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %t = "tgc.tanh"(%h) : (tensor<?x16xf32>) -> tensor<?x16xf32>
    %s = "tgc.add"(%t, %x) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    return %j, %s : tensor<i32>, tensor<?x16xf32>
  }
  func.func private @"grow/body"(%i: tensor<i32>, %h: tensor<?x16xf32>, %x: tensor<?x16xf32>) -> (tensor<i32>, tensor<?x16xf32>) {
    %one = "tgc.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %j = "tgc.add"(%i, %one) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %g = "tgc.concat"(%h, %h) {axis = 0 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    %s = "tgc.add"(%h, %x) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x16xf32>
    return %j, %g : tensor<i32>, tensor<?x16xf32>
  }
  func.func private @"c/true"(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
    %y = "tgc.tanh"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
    return %y : tensor<?x16xf32>
  }
  func.func private @"c/false"(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
    %y = "tgc.negative"(%x) : (tensor<?x16xf32>) -> tensor<?x16xf32>
    return %y : tensor<?x16xf32>
  }
}
