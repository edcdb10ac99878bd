// tgc-to-core lowers tgc.while (tgc/lowering/to_core/loops.py) to one scf.while: the cond function of
// the nested module @tgc.loops becomes the "before" region (its i1 tensor extracted for scf.condition),
// the body function the "do" region, each with its arguments replaced by the loop-carried values and the
// captured operands (%scale here). The functions and the nested module are gone afterwards; a loop
// inside a loop's body becomes a nested scf.while.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @main(
// CHECK-SAME:      %[[SCALE:.*]]: tensor<3xf32>
// CHECK:         %[[R:.*]]:2 = scf.while (%[[I:.*]] = %{{.*}}, %[[X:.*]] = %{{.*}}) : (tensor<i32>, tensor<3xf32>) -> (tensor<i32>, tensor<3xf32>) {
// CHECK:           %[[LESS:.*]] = linalg.generic
// CHECK:           %[[FLAG:.*]] = tensor.extract %[[LESS]][] : tensor<i1>
// CHECK:           scf.condition(%[[FLAG]]) %[[I]], %[[X]] : tensor<i32>, tensor<3xf32>
// CHECK:         } do {
// CHECK:         ^bb0(%[[I2:.*]]: tensor<i32>, %[[X2:.*]]: tensor<3xf32>):
// CHECK:           %[[NEXT_I:.*]] = linalg.generic {{.*}} ins(%[[I2]], %{{.*}} : tensor<i32>, tensor<i32>)
// CHECK:           %[[NEXT_X:.*]] = linalg.generic {{.*}} ins(%[[X2]], %[[SCALE]] : tensor<3xf32>, tensor<3xf32>)
// CHECK:           scf.yield %[[NEXT_I]], %[[NEXT_X]] : tensor<i32>, tensor<3xf32>
// CHECK:         return %[[R]]#1 : tensor<3xf32>
// CHECK-NOT:     tgc.loops
// CHECK-NOT:     "tgc.
func.func @main(%scale: tensor<3xf32>) -> tensor<3xf32> {
  %i0 = "tgc.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
  %x0 = "tgc.constant"() {value = dense<1.0> : tensor<3xf32>} : () -> tensor<3xf32>
  %r:2 = "tgc.while"(%i0, %x0, %scale) {cond = "w/cond", body = "w/body", num_vars = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<i32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<i32>, tensor<3xf32>)
  return %r#1 : tensor<3xf32>
}

module @tgc.loops {
  func.func private @"w/cond"(%i: tensor<i32>, %x: tensor<3xf32>, %scale: tensor<3xf32>) -> tensor<i1> {
    %n = "tgc.constant"() {value = dense<4> : tensor<i32>} : () -> tensor<i32>
    %p = "tgc.less"(%i, %n) : (tensor<i32>, tensor<i32>) -> tensor<i1>
    return %p : tensor<i1>
  }
  func.func private @"w/body"(%i: tensor<i32>, %x: tensor<3xf32>, %scale: tensor<3xf32>) -> (tensor<i32>, tensor<3xf32>) {
    %one = "tgc.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %j = "tgc.add"(%i, %one) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    %y = "tgc.multiply"(%x, %scale) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    return %j, %y : tensor<i32>, tensor<3xf32>
  }
  func.func private @"outer/cond"(%x: tensor<f32>) -> tensor<i1> {
    %lim = "tgc.constant"() {value = dense<100.0> : tensor<f32>} : () -> tensor<f32>
    %p = "tgc.less"(%x, %lim) : (tensor<f32>, tensor<f32>) -> tensor<i1>
    return %p : tensor<i1>
  }
  func.func private @"outer/body"(%x: tensor<f32>) -> tensor<f32> {
    %y = "tgc.while"(%x) {cond = "inner/cond", body = "inner/body", num_vars = 1 : i64, operandSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<f32>) -> tensor<f32>
    return %y : tensor<f32>
  }
  func.func private @"inner/cond"(%x: tensor<f32>) -> tensor<i1> {
    %lim = "tgc.constant"() {value = dense<10.0> : tensor<f32>} : () -> tensor<f32>
    %p = "tgc.less"(%x, %lim) : (tensor<f32>, tensor<f32>) -> tensor<i1>
    return %p : tensor<i1>
  }
  func.func private @"inner/body"(%x: tensor<f32>) -> tensor<f32> {
    %y = "tgc.add"(%x, %x) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    return %y : tensor<f32>
  }
}

// CHECK-LABEL: func.func @nested(
// CHECK:         scf.while
// CHECK:           scf.condition
// CHECK:         } do {
// CHECK:           %{{.*}} = scf.while
// CHECK:             scf.condition
// CHECK:           } do {
// CHECK:             scf.yield
// CHECK:           scf.yield
func.func @nested(%a: tensor<f32>) -> tensor<f32> {
  %r = "tgc.while"(%a) {cond = "outer/cond", body = "outer/body", num_vars = 1 : i64, operandSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>} : (tensor<f32>) -> tensor<f32>
  return %r : tensor<f32>
}
