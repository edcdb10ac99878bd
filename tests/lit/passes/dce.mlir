// tgc-dce removes pure tgc ops nothing uses, transitively (upstream DCE cannot: IRDL ops declare no
// effects); stateful ops such as assigns always stay.
// RUN: %tgc-opt %s -p tgc-dce | FileCheck %s

// CHECK-LABEL: func.func @dead_chain(
// CHECK-SAME:      %[[X:[^:]*]]: tensor<3xf32>
// CHECK-NOT:     "tgc.exp"
// CHECK-NOT:     "tgc.log"
// CHECK:         "tgc.assign"(%[[X]]) {var = @v}
// CHECK-NEXT:    %[[N:.*]] = "tgc.negative"(%[[X]])
// CHECK-NEXT:    return %[[N]]
"tgc.variable"() {dtype = f32, shape = array<i64: 3>, sym_name = "v"} : () -> ()
func.func @dead_chain(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "tgc.exp"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  %1 = "tgc.log"(%0) : (tensor<3xf32>) -> tensor<3xf32>
  %2 = "tgc.assign"(%x) {var = @v} : (tensor<3xf32>) -> tensor<3xf32>
  %3 = "tgc.negative"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  return %3 : tensor<3xf32>
}

// The functions of the module's loops are swept too: a loop gradient's copy of a body computes
// what its backward step does not read.
// CHECK:       module @tgc.loops
// CHECK-LABEL: func.func private @"loop/body"(
// CHECK-SAME:      %[[I:[^:]*]]: tensor<i32>, %[[H:[^:]*]]: tensor<3xf32>
// CHECK-NOT:     "tgc.tanh"
// CHECK:         %[[ONE:.*]] = "tgc.constant"
// CHECK-NEXT:    %[[J:.*]] = "tgc.add"(%[[I]], %[[ONE]])
// CHECK-NEXT:    return %[[J]], %[[H]]
module @tgc.loops {
  func.func private @"loop/body"(%i: tensor<i32>, %h: tensor<3xf32>) -> (tensor<i32>, tensor<3xf32>) {
    %t = "tgc.tanh"(%h) : (tensor<3xf32>) -> tensor<3xf32>
    %e = "tgc.exp"(%t) : (tensor<3xf32>) -> tensor<3xf32>
    %one = "tgc.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
    %j = "tgc.add"(%i, %one) : (tensor<i32>, tensor<i32>) -> tensor<i32>
    return %j, %h : tensor<i32>, tensor<3xf32>
  }
}
