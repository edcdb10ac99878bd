// tgc-to-core lowers tgc.matmul to linalg.matmul into a zero-filled accumulator; a transposed operand
// is read in place through the matmul's indexing maps (no linalg.transpose copy). Unknown dims are sized with tensor.dim.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG: #[[MK:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[KM:.*]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-DAG: #[[KN:.*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[NK:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[MN:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>

// CHECK-LABEL: func.func @matmul(
// CHECK-SAME:      %[[A:.*]]: tensor<?x3xf32>, %[[B:.*]]: tensor<3x4xf32>
// CHECK-NOT:     linalg.transpose
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[M:.*]] = tensor.dim %[[A]], %[[C0]] : tensor<?x3xf32>
// CHECK:         %[[E:.*]] = tensor.empty(%[[M]]) : tensor<?x4xf32>
// CHECK:         %[[ACC:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[E]] : tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK:         %[[R:.*]] = linalg.matmul ins(%[[A]], %[[B]] : tensor<?x3xf32>, tensor<3x4xf32>) outs(%[[ACC]] : tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK-NOT:     "tgc.
// CHECK:         return %[[R]] : tensor<?x4xf32>
func.func @matmul(%a: tensor<?x3xf32>, %b: tensor<3x4xf32>) -> tensor<?x4xf32> {
  %0 = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = false} : (tensor<?x3xf32>, tensor<3x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @transpose_b(
// CHECK-SAME:      %[[A:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<4x3xf32>
// CHECK-NOT:     linalg.transpose
// CHECK:         %[[R:.*]] = linalg.matmul indexing_maps = [#[[MK]], #[[NK]], #[[MN]]] ins(%[[A]], %[[B]] : tensor<2x3xf32>, tensor<4x3xf32>) outs(%{{.*}} : tensor<2x4xf32>)
// CHECK:         return %[[R]]
func.func @transpose_b(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %0 = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = true} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// Transposing an operand with an unknown dim: the result is sized from that dim.
// CHECK-LABEL: func.func @transpose_a_dynamic(
// CHECK-SAME:      %[[A:.*]]: tensor<3x?xf32>, %[[B:.*]]: tensor<3x4xf32>
// CHECK:         %[[C1:.*]] = arith.constant 1 : index
// CHECK:         %[[M:.*]] = tensor.dim %[[A]], %[[C1]] : tensor<3x?xf32>
// CHECK:         %[[E:.*]] = tensor.empty(%[[M]]) : tensor<?x4xf32>
// CHECK-NOT:     linalg.transpose
// CHECK:         %[[R:.*]] = linalg.matmul indexing_maps = [#[[KM]], #[[KN]], #[[MN]]] ins(%[[A]], %[[B]] : tensor<3x?xf32>, tensor<3x4xf32>) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK:         return %[[R]] : tensor<?x4xf32>
func.func @transpose_a_dynamic(%a: tensor<3x?xf32>, %b: tensor<3x4xf32>) -> tensor<?x4xf32> {
  %0 = "tgc.matmul"(%a, %b) {transpose_a = true, transpose_b = false} : (tensor<3x?xf32>, tensor<3x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @transpose_both(
// CHECK-SAME:      %[[A:.*]]: tensor<3x2xf32>, %[[B:.*]]: tensor<4x3xf32>
// CHECK-NOT:     linalg.transpose
// CHECK:         %[[R:.*]] = linalg.matmul indexing_maps = [#[[KM]], #[[NK]], #[[MN]]] ins(%[[A]], %[[B]] : tensor<3x2xf32>, tensor<4x3xf32>) outs(%{{.*}} : tensor<2x4xf32>)
// CHECK-NOT:     "tgc.
// CHECK:         return %[[R]] : tensor<2x4xf32>
func.func @transpose_both(%a: tensor<3x2xf32>, %b: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %0 = "tgc.matmul"(%a, %b) {transpose_a = true, transpose_b = true} : (tensor<3x2xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
