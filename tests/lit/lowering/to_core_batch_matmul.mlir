// tgc-to-core lowers tgc.batch_matmul (tf.matmul on rank > 2) to one linalg.batch_matmul over the
// batch dims broadcast and collapsed to one; a transposed operand is read through the indexing
// maps. Unknown batch dims that may be 1 are broadcast at run time (scf.if) and mismatches
// reported. A batch times one matrix is a single linalg.matmul of the batch's rows.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[BT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// CHECK-LABEL: func.func @unknown_batch_transpose_b(
// CHECK:         scf.if
// CHECK:         linalg.fill
// CHECK:         %[[R:.*]] = linalg.batch_matmul indexing_maps = [#[[A]], #[[BT]], #[[C]]] ins({{.*}} : tensor<?x3x4xf32>, tensor<?x5x4xf32>) outs({{.*}} : tensor<?x3x5xf32>)
// CHECK-NOT:     "tgc.
// CHECK:         return %[[R]] : tensor<?x3x5xf32>
func.func @unknown_batch_transpose_b(%a: tensor<?x3x4xf32>, %b: tensor<?x5x4xf32>) -> tensor<?x3x5xf32> {
  %0 = "tgc.batch_matmul"(%a, %b) {transpose_a = false, transpose_b = true} : (tensor<?x3x4xf32>, tensor<?x5x4xf32>) -> tensor<?x3x5xf32>
  return %0 : tensor<?x3x5xf32>
}

// [2, 1] against [3]: both operands broadcast to the batch [2, 3], collapsed to 6 matrices.
// CHECK-LABEL: func.func @broadcast_batches(
// CHECK:         linalg.generic
// CHECK:         linalg.generic
// CHECK:         linalg.batch_matmul ins({{.*}} : tensor<6x3x4xf32>, tensor<6x4x2xf32>) outs({{.*}} : tensor<6x3x2xf32>)
// CHECK:         tensor.expand_shape {{.*}} into tensor<2x3x3x2xf32>
func.func @broadcast_batches(%a: tensor<2x1x3x4xf32>, %b: tensor<3x4x2xf32>) -> tensor<2x3x3x2xf32> {
  %0 = "tgc.batch_matmul"(%a, %b) {transpose_a = false, transpose_b = false} : (tensor<2x1x3x4xf32>, tensor<3x4x2xf32>) -> tensor<2x3x3x2xf32>
  return %0 : tensor<2x3x3x2xf32>
}

// CHECK-LABEL: func.func @rows_times_matrix(
// CHECK-NOT:     linalg.batch_matmul
// CHECK:         linalg.matmul ins({{.*}} : tensor<6x4xf32>, tensor<4x5xf32>) outs({{.*}} : tensor<6x5xf32>)
// CHECK:         tensor.expand_shape {{.*}} into tensor<2x1x3x5xf32>
func.func @rows_times_matrix(%a: tensor<2x1x3x4xf32>, %b: tensor<4x5xf32>) -> tensor<2x1x3x5xf32> {
  %0 = "tgc.batch_matmul"(%a, %b) {transpose_a = false, transpose_b = false} : (tensor<2x1x3x4xf32>, tensor<4x5xf32>) -> tensor<2x1x3x5xf32>
  return %0 : tensor<2x1x3x5xf32>
}
