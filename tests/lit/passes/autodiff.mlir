// tgc-autodiff replaces each tgc.gradient(y, x, dy) with the backward graph from the ops' registry
// gradient rules; the result is plain tgc IR that tgc-verify accepts.
// RUN: %tgc-opt %s --split-input-file -p tgc-autodiff,tgc-verify | FileCheck %s

// dA = dY . B^T and dB = A^T . dY, as matmuls with transpose flags.
// CHECK-LABEL: func.func @matmul(
// CHECK-SAME:      %[[A:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<3x4xf32>, %[[DY:.*]]: tensor<2x4xf32>
// CHECK-NOT:     "tgc.gradient"
// CHECK:         %[[DA:.*]] = "tgc.matmul"(%[[DY]], %[[B]]) {transpose_a = false, transpose_b = true} : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
// CHECK:         %[[DB:.*]] = "tgc.matmul"(%[[A]], %[[DY]]) {transpose_a = true, transpose_b = false} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
// CHECK:         return %[[DA]], %[[DB]]
func.func @matmul(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %dy: tensor<2x4xf32>) -> (tensor<2x3xf32>, tensor<3x4xf32>) {
  %y = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = false} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %da = "tgc.gradient"(%y, %a, %dy) : (tensor<2x4xf32>, tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x3xf32>
  %db = "tgc.gradient"(%y, %b, %dy) : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return %da, %db : tensor<2x3xf32>, tensor<3x4xf32>
}

// -----

// relu passes dy where its output is positive, zeros elsewhere; unknown dims stay unknown.
// CHECK-LABEL: func.func @relu(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>, %[[DY:.*]]: tensor<?x3xf32>
// CHECK:         %[[Y:.*]] = "tgc.relu"(%[[X]])
// CHECK:         %[[ZERO:.*]] = "tgc.constant"() {value = dense<0.000000e+00> : tensor<f32>}
// CHECK:         %[[POS:.*]] = "tgc.greater"(%[[Y]], %[[ZERO]]) : (tensor<?x3xf32>, tensor<f32>) -> tensor<?x3xi1>
// CHECK:         %[[ZEROS:.*]] = "tgc.fill_like"(%[[DY]]) {value = 0.000000e+00 : f64}
// CHECK:         %[[DX:.*]] = "tgc.select"(%[[POS]], %[[DY]], %[[ZEROS]]) : (tensor<?x3xi1>, tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
// CHECK:         return %[[DX]] : tensor<?x3xf32>
func.func @relu(%x: tensor<?x3xf32>, %dy: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %y = "tgc.relu"(%x) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %dx = "tgc.gradient"(%y, %x, %dy) : (tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  return %dx : tensor<?x3xf32>
}

// -----

// reduce_sum broadcasts dy back along the reduced axis.
// CHECK-LABEL: func.func @reduce_sum(
// CHECK-SAME:      %[[X:.*]]: tensor<2x3xf32>, %[[DY:.*]]: tensor<2xf32>
// CHECK:         %[[E:.*]] = "tgc.expand_dims"(%[[DY]]) {axis = 1 : i64} : (tensor<2xf32>) -> tensor<2x1xf32>
// CHECK:         %[[DX:.*]] = "tgc.broadcast_like"(%[[E]], %[[X]]) : (tensor<2x1xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK:         return %[[DX]]
func.func @reduce_sum(%x: tensor<2x3xf32>, %dy: tensor<2xf32>) -> tensor<2x3xf32> {
  %y = "tgc.reduce_sum"(%x) {axes = array<i64: 1>, keepdims = false} : (tensor<2x3xf32>) -> tensor<2xf32>
  %dx = "tgc.gradient"(%y, %x, %dy) : (tensor<2xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return %dx : tensor<2x3xf32>
}

// -----

// The gradient of a broadcast operand is summed over the broadcast axis and squeezed to its shape.
// CHECK-LABEL: func.func @broadcast_add(
// CHECK-SAME:      %[[X:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<3xf32>, %[[DY:.*]]: tensor<2x3xf32>
// CHECK:         %[[S:.*]] = "tgc.reduce_sum"(%[[DY]]) {axes = array<i64: 0>, keepdims = true} : (tensor<2x3xf32>) -> tensor<1x3xf32>
// CHECK:         %[[DB:.*]] = "tgc.squeeze"(%[[S]]) {axes = array<i64: 0>} : (tensor<1x3xf32>) -> tensor<3xf32>
// CHECK:         return %[[DB]] : tensor<3xf32>
func.func @broadcast_add(%x: tensor<2x3xf32>, %b: tensor<3xf32>, %dy: tensor<2x3xf32>) -> tensor<3xf32> {
  %y = "tgc.add"(%x, %b) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %db = "tgc.gradient"(%y, %b, %dy) : (tensor<2x3xf32>, tensor<3xf32>, tensor<2x3xf32>) -> tensor<3xf32>
  return %db : tensor<3xf32>
}

// -----

// x used twice (x * x): the two contributions dy * x are summed with tgc.add.
// CHECK-LABEL: func.func @fan_out(
// CHECK-SAME:      %[[X:.*]]: tensor<3xf32>, %[[DY:.*]]: tensor<3xf32>
// CHECK:         "tgc.multiply"(%[[X]], %[[X]])
// CHECK:         %[[G0:.*]] = "tgc.multiply"(%[[DY]], %[[X]])
// CHECK:         %[[G1:.*]] = "tgc.multiply"(%[[DY]], %[[X]])
// CHECK:         %[[DX:.*]] = "tgc.add"(%[[G0]], %[[G1]]) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK:         return %[[DX]]
func.func @fan_out(%x: tensor<3xf32>, %dy: tensor<3xf32>) -> tensor<3xf32> {
  %y = "tgc.multiply"(%x, %x) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %dx = "tgc.gradient"(%y, %x, %dy) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %dx : tensor<3xf32>
}

// -----

// Nothing flows through stop_gradient: the gradient is zeros shaped like x, and no backward op of exp.
// CHECK-LABEL: func.func @stop_gradient(
// CHECK-SAME:      %[[X:.*]]: tensor<3xf32>, %[[DY:.*]]: tensor<3xf32>
// CHECK:         "tgc.stop_gradient"(%[[X]])
// CHECK:         "tgc.exp"
// CHECK-NOT:     "tgc.multiply"
// CHECK:         %[[DX:.*]] = "tgc.fill_like"(%[[X]]) {value = 0.000000e+00 : f64} : (tensor<3xf32>) -> tensor<3xf32>
// CHECK-NEXT:    return %[[DX]]
func.func @stop_gradient(%x: tensor<3xf32>, %dy: tensor<3xf32>) -> tensor<3xf32> {
  %s = "tgc.stop_gradient"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  %y = "tgc.exp"(%s) : (tensor<3xf32>) -> tensor<3xf32>
  %dx = "tgc.gradient"(%y, %x, %dy) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %dx : tensor<3xf32>
}

// -----

// softmax: dx = (dy - sum(dy * y, axis, keepdims)) * y, with the unknown batch dim kept.
// CHECK-LABEL: func.func @softmax(
// CHECK-SAME:      %[[X:.*]]: tensor<?x5xf32>, %[[DY:.*]]: tensor<?x5xf32>
// CHECK:         %[[Y:.*]] = "tgc.softmax"(%[[X]]) {axis = -1 : i64}
// CHECK:         %[[P:.*]] = "tgc.multiply"(%[[DY]], %[[Y]])
// CHECK:         %[[S:.*]] = "tgc.reduce_sum"(%[[P]]) {axes = array<i64: 1>, keepdims = true} : (tensor<?x5xf32>) -> tensor<?x1xf32>
// CHECK:         %[[D:.*]] = "tgc.subtract"(%[[DY]], %[[S]]) : (tensor<?x5xf32>, tensor<?x1xf32>) -> tensor<?x5xf32>
// CHECK:         %[[DX:.*]] = "tgc.multiply"(%[[D]], %[[Y]])
// CHECK:         return %[[DX]] : tensor<?x5xf32>
func.func @softmax(%x: tensor<?x5xf32>, %dy: tensor<?x5xf32>) -> tensor<?x5xf32> {
  %y = "tgc.softmax"(%x) {axis = -1 : i64} : (tensor<?x5xf32>) -> tensor<?x5xf32>
  %dx = "tgc.gradient"(%y, %x, %dy) : (tensor<?x5xf32>, tensor<?x5xf32>, tensor<?x5xf32>) -> tensor<?x5xf32>
  return %dx : tensor<?x5xf32>
}

// -----

// Two requests of one sweep, the second target used twice: its contributions are summed before
// either request is replaced (the sum is built where the first request was).
// CHECK-LABEL: func.func @fan_out_second_target(
// CHECK-SAME:      %[[A:.*]]: tensor<3xf32>, %[[B:.*]]: tensor<3xf32>, %[[DY:.*]]: tensor<3xf32>
// CHECK-NOT:     "tgc.gradient"
// CHECK:         %[[DB:.*]] = "tgc.add"(%[[DY]], %[[DY]]) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK:         return %[[DY]], %[[DB]]
func.func @fan_out_second_target(%a: tensor<3xf32>, %b: tensor<3xf32>, %dy: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %ab = "tgc.add"(%a, %b) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %y = "tgc.add"(%ab, %b) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %da = "tgc.gradient"(%y, %a, %dy) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %db = "tgc.gradient"(%y, %b, %dy) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %da, %db : tensor<3xf32>, tensor<3xf32>
}
