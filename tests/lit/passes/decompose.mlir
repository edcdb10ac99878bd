// tgc-decompose rewrites composite ops into core tgc ops with their registry rules, until no composite
// is left (a composite whose rule uses another composite is expanded fully). Core ops stay as they are.
// RUN: %tgc-opt %s --split-input-file -p tgc-decompose,tgc-verify | FileCheck %s

// Softmax is stabilized by the row max; the unknown batch dim stays unknown.
// CHECK-LABEL: func.func @softmax(
// CHECK-SAME:      %[[X:.*]]: tensor<?x5xf32>
// CHECK-NOT:     "tgc.softmax"
// CHECK:         %[[MAX:.*]] = "tgc.reduce_max"(%[[X]]) {axes = array<i64: 1>, keepdims = true} : (tensor<?x5xf32>) -> tensor<?x1xf32>
// CHECK:         %[[SH:.*]] = "tgc.subtract"(%[[X]], %[[MAX]]) : (tensor<?x5xf32>, tensor<?x1xf32>) -> tensor<?x5xf32>
// CHECK:         %[[E:.*]] = "tgc.exp"(%[[SH]])
// CHECK:         %[[S:.*]] = "tgc.reduce_sum"(%[[E]]) {axes = array<i64: 1>, keepdims = true}
// CHECK:         %[[Y:.*]] = "tgc.divide"(%[[E]], %[[S]]) : (tensor<?x5xf32>, tensor<?x1xf32>) -> tensor<?x5xf32>
// CHECK:         return %[[Y]] : tensor<?x5xf32>
func.func @softmax(%x: tensor<?x5xf32>) -> tensor<?x5xf32> {
  %y = "tgc.softmax"(%x) {axis = -1 : i64} : (tensor<?x5xf32>) -> tensor<?x5xf32>
  return %y : tensor<?x5xf32>
}

// -----

// l2_loss(t) = sum(t^2) / 2.
// CHECK-LABEL: func.func @l2_loss(
// CHECK-SAME:      %[[X:.*]]: tensor<?x5xf32>
// CHECK:         %[[SQ:.*]] = "tgc.square"(%[[X]])
// CHECK:         %[[S:.*]] = "tgc.reduce_sum"(%[[SQ]]) {axes = array<i64: 0, 1>, keepdims = false} : (tensor<?x5xf32>) -> tensor<f32>
// CHECK:         %[[H:.*]] = "tgc.constant"() {value = dense<5.000000e-01> : tensor<f32>}
// CHECK:         %[[L:.*]] = "tgc.multiply"(%[[S]], %[[H]])
// CHECK:         return %[[L]] : tensor<f32>
func.func @l2_loss(%x: tensor<?x5xf32>) -> tensor<f32> {
  %y = "tgc.l2_loss"(%x) : (tensor<?x5xf32>) -> tensor<f32>
  return %y : tensor<f32>
}

// -----

// Cross-entropy goes through log_softmax, itself a composite: neither is left. The labels are
// broadcast to the logits first, which checks at run time that they broadcast (TF's kernel).
// CHECK-LABEL: func.func @cross_entropy(
// CHECK-SAME:      %[[LABELS:.*]]: tensor<?x5xf32>, %[[LOGITS:.*]]: tensor<?x5xf32>
// CHECK-NOT:     "tgc.log_softmax"
// CHECK-NOT:     "tgc.softmax_cross_entropy_with_logits"
// CHECK:         %[[FULL:.*]] = "tgc.broadcast_like"(%[[LABELS]], %[[LOGITS]])
// CHECK:         "tgc.reduce_max"(%[[LOGITS]])
// CHECK:         %[[LSE:.*]] = "tgc.log"
// CHECK:         %[[LOGP:.*]] = "tgc.subtract"(%{{.*}}, %[[LSE]])
// CHECK:         %[[P:.*]] = "tgc.multiply"(%[[FULL]], %[[LOGP]])
// CHECK:         %[[S:.*]] = "tgc.reduce_sum"(%[[P]]) {axes = array<i64: 1>, keepdims = false} : (tensor<?x5xf32>) -> tensor<?xf32>
// CHECK:         %[[L:.*]] = "tgc.negative"(%[[S]])
// CHECK:         return %[[L]] : tensor<?xf32>
func.func @cross_entropy(%labels: tensor<?x5xf32>, %logits: tensor<?x5xf32>) -> tensor<?xf32> {
  %y = "tgc.softmax_cross_entropy_with_logits"(%labels, %logits) {axis = -1 : i64} : (tensor<?x5xf32>, tensor<?x5xf32>) -> tensor<?xf32>
  return %y : tensor<?xf32>
}

// -----

// Core ops are not composites: the pass leaves them alone.
// CHECK-LABEL: func.func @core_untouched(
// CHECK-NEXT:    %[[M:.*]] = "tgc.reduce_mean"(%{{.*}}) {axes = array<i64: 0>, keepdims = false}
// CHECK-NEXT:    return %[[M]]
func.func @core_untouched(%x: tensor<?x5xf32>) -> tensor<5xf32> {
  %y = "tgc.reduce_mean"(%x) {axes = array<i64: 0>, keepdims = false} : (tensor<?x5xf32>) -> tensor<5xf32>
  return %y : tensor<5xf32>
}
