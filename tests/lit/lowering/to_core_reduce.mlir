// tgc-to-core lowers reductions to linalg.generic with "reduction" iterators into an accumulator
// filled with the reduction's identity; unknown kept dims are sized with tensor.dim.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROWS:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[KEEP0:.*]] = affine_map<(d0, d1) -> (0, d1)>

// Sum over axis 1 of a ?x3 tensor: the kept, unknown dim comes from tensor.dim.
// CHECK-LABEL: func.func @sum_rows(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[N:.*]] = tensor.dim %[[X]], %[[C0]] : tensor<?x3xf32>
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?xf32>
// CHECK:         %[[ACC:.*]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[E]] : tensor<?xf32>)
// CHECK:         %[[R:.*]] = linalg.generic {indexing_maps = [#[[ID]], #[[ROWS]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:        ins(%[[X]] : tensor<?x3xf32>) outs(%[[ACC]] : tensor<?xf32>)
// CHECK:           arith.addf
// CHECK:         return %[[R]] : tensor<?xf32>
func.func @sum_rows(%x: tensor<?x3xf32>) -> tensor<?xf32> {
  %0 = "tgc.reduce_sum"(%x) {axes = array<i64: 1>, keepdims = false} : (tensor<?x3xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// Max keeps the reduced dim as 1 (map to constant 0) and starts from -inf.
// CHECK-LABEL: func.func @max_keepdims(
// CHECK:         %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:         linalg.fill ins(%[[NEGINF]] : f32) outs(%{{.*}} : tensor<1x3xf32>)
// CHECK:         linalg.generic {indexing_maps = [#[[ID]], #[[KEEP0]]], iterator_types = ["reduction", "parallel"]}
// CHECK:           arith.maximumf
// CHECK-NOT:     "tgc.
// CHECK:         return
func.func @max_keepdims(%x: tensor<?x3xf32>) -> tensor<1x3xf32> {
  %0 = "tgc.reduce_max"(%x) {axes = array<i64: 0>, keepdims = true} : (tensor<?x3xf32>) -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}

// Mean over an unknown dim divides the sum by that dim's size, read at run time.
// CHECK-LABEL: func.func @mean(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>
// CHECK:         linalg.generic
// CHECK:           arith.addf
// CHECK:         %[[N:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x3xf32>
// CHECK:         %[[NI:.*]] = arith.index_cast %[[N]] : index to i64
// CHECK:         %[[NF:.*]] = arith.sitofp %[[NI]] : i64 to f32
// CHECK:         linalg.generic
// CHECK:           arith.divf %{{.*}}, %[[NF]] : f32
// CHECK-NOT:     "tgc.
// CHECK:         return
func.func @mean(%x: tensor<?x3xf32>) -> tensor<3xf32> {
  %0 = "tgc.reduce_mean"(%x) {axes = array<i64: 0>, keepdims = false} : (tensor<?x3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// argmax carries (value, index) through one generic and returns the index result.
// CHECK-LABEL: func.func @argmax(
// CHECK:         %[[R:.*]]:2 = linalg.generic {indexing_maps = [#[[ID]], #[[ROWS]], #[[ROWS]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME:        outs(%{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xi64>)
// CHECK:           linalg.index 1 : index
// CHECK:           arith.cmpf ogt
// CHECK:         return %[[R]]#1 : tensor<4xi64>
func.func @argmax(%x: tensor<4x3xf32>) -> tensor<4xi64> {
  %0 = "tgc.argmax"(%x) {axis = 1 : i64, output_type = i64} : (tensor<4x3xf32>) -> tensor<4xi64>
  return %0 : tensor<4xi64>
}

// A reduction over no axes is its operand: no accumulator that a fused broadcasting consumer could
// add into on every iteration.
// CHECK-LABEL: func.func @no_axes(
// CHECK-SAME:      %[[S:.*]]: tensor<f32>, %[[V:.*]]: tensor<2x3xf32>
// CHECK-NOT:     linalg.fill
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[S]], %[[S]], %[[V]], %[[V]]
func.func @no_axes(%s: tensor<f32>, %v: tensor<2x3xf32>) -> (tensor<f32>, tensor<f32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = "tgc.reduce_sum"(%s) {axes = array<i64>, keepdims = false} : (tensor<f32>) -> tensor<f32>
  %1 = "tgc.reduce_prod"(%s) {axes = array<i64>, keepdims = true} : (tensor<f32>) -> tensor<f32>
  %2 = "tgc.reduce_mean"(%v) {axes = array<i64>, keepdims = false} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = "tgc.reduce_max"(%v) {axes = array<i64>, keepdims = true} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0, %1, %2, %3 : tensor<f32>, tensor<f32>, tensor<2x3xf32>, tensor<2x3xf32>
}
