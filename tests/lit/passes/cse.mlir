// tgc-cse merges identical pure tgc ops (upstream cse cannot: IRDL ops declare no traits), but never
// stateful ones.
// RUN: %tgc-opt %s --split-input-file -p tgc-cse | FileCheck %s
// RUN: %tgc-opt %s --split-input-file -p cse | FileCheck %s --check-prefix=UPSTREAM

// CHECK-LABEL: func.func @twice(
// CHECK-SAME:      %[[X:[^:]*]]: tensor<3xf32>
// CHECK:         %[[E:.*]] = "tgc.exp"(%[[X]])
// CHECK-NOT:     "tgc.exp"
// CHECK:         %[[S:.*]] = "tgc.add"(%[[E]], %[[E]])
// CHECK:         return %[[S]]
// UPSTREAM-LABEL: func.func @twice(
// UPSTREAM-COUNT-2: "tgc.exp"
func.func @twice(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "tgc.exp"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  %1 = "tgc.exp"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  %2 = "tgc.add"(%0, %1) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %2 : tensor<3xf32>
}

// -----

// Different attributes are different ops.
// CHECK-LABEL: func.func @different_attributes(
// CHECK-COUNT-2: "tgc.reduce_sum"
func.func @different_attributes(%x: tensor<2x3xf32>) -> (tensor<3xf32>, tensor<2xf32>) {
  %0 = "tgc.reduce_sum"(%x) {axes = array<i64: 0>, keepdims = false} : (tensor<2x3xf32>) -> tensor<3xf32>
  %1 = "tgc.reduce_sum"(%x) {axes = array<i64: 1>, keepdims = false} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0, %1 : tensor<3xf32>, tensor<2xf32>
}

// -----

// Two assigns of the same value are two effects: both stay.
// CHECK-LABEL: func.func @stateful(
// CHECK-COUNT-2: "tgc.assign_add"
"tgc.variable"() {dtype = f32, shape = array<i64: 3>, sym_name = "v"} : () -> ()
func.func @stateful(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "tgc.assign_add"(%x) {var = @v} : (tensor<3xf32>) -> tensor<3xf32>
  %1 = "tgc.assign_add"(%x) {var = @v} : (tensor<3xf32>) -> tensor<3xf32>
  return %1 : tensor<3xf32>
}

// -----

// A declaration (no body) is left as it is; the function next to it is still cleaned.
// CHECK-LABEL: func.func private @external(tensor<3xf32>) -> tensor<3xf32>
// CHECK-LABEL: func.func @beside_a_declaration(
// CHECK-COUNT-1: "tgc.exp"
// CHECK-NOT:     "tgc.exp"
// UPSTREAM-LABEL: func.func @beside_a_declaration(
func.func private @external(tensor<3xf32>) -> tensor<3xf32>
func.func @beside_a_declaration(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = func.call @external(%x) : (tensor<3xf32>) -> tensor<3xf32>
  %1 = "tgc.exp"(%0) : (tensor<3xf32>) -> tensor<3xf32>
  %2 = "tgc.exp"(%0) : (tensor<3xf32>) -> tensor<3xf32>
  %3 = "tgc.add"(%1, %2) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %3 : tensor<3xf32>
}
