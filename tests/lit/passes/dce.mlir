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
