// tgc-to-core lowers tgc.write_row (tgc/lowering/to_core/rows.py) to one tensor.insert_slice at a
// dynamic offset (in place once bufferized), the index clamped to the rows and the old row written
// back where it was outside; tgc.zero_rows to a tensor.empty of the run-time count, filled.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @write(
// CHECK-SAME:      %[[B:.*]]: tensor<?x3xf32>, %[[I:.*]]: tensor<i32>, %[[R:.*]]: tensor<3xf32>
// CHECK:         %[[ROWS:.*]] = tensor.dim %[[B]], %{{.*}} : tensor<?x3xf32>
// CHECK:         %[[IDX:.*]] = tensor.extract %[[I]][] : tensor<i32>
// CHECK:         %[[INSIDE:.*]] = arith.andi
// CHECK:         %[[AT:.*]] = arith.select %[[INSIDE]], %{{.*}}, %{{.*}} : index
// CHECK:         %[[ROW:.*]] = tensor.expand_shape %[[R]] {{\[\[}}0, 1]] output_shape [1, 3]
// CHECK:         %[[OLD:.*]] = tensor.extract_slice %[[B]][%[[AT]], 0] [1, 3] [1, 1]
// CHECK:         %[[NEW:.*]] = arith.select %[[INSIDE]], %[[ROW]], %[[OLD]] : tensor<1x3xf32>
// CHECK:         tensor.insert_slice %[[NEW]] into %[[B]][%[[AT]], 0] [1, 3] [1, 1]
// CHECK-NOT:     "tgc.
func.func @write(%b: tensor<?x3xf32>, %i: tensor<i32>, %r: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.write_row"(%b, %i, %r) : (tensor<?x3xf32>, tensor<i32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// CHECK-LABEL: func.func @zeros(
// CHECK:         %[[N:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK:         %[[M:.*]] = arith.maxsi %[[N]], %{{.*}} : index
// CHECK:         %[[E:.*]] = tensor.empty(%[[M]]) : tensor<?x2xf64>
// CHECK:         linalg.fill ins(%{{.*}} : f64) outs(%[[E]] : tensor<?x2xf64>)
func.func @zeros(%n: tensor<i64>, %like: tensor<2xf64>) -> tensor<?x2xf64> {
  %0 = "tgc.zero_rows"(%n, %like) : (tensor<i64>, tensor<2xf64>) -> tensor<?x2xf64>
  return %0 : tensor<?x2xf64>
}
