// tgc-to-core lowers tgc.write_row (tgc/lowering/to_core/rows.py) to one tensor.insert_slice at a
// dynamic offset (in place once bufferized), the index clamped to the rows and the old row written
// back where it was outside; tgc.zero_rows to a tensor.empty of the run-time count, filled by a
// generic yielding 0 (a linalg.fill's i1 scalar would survive tgc-bool-storage).
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @write(
// CHECK-SAME:      %[[B:.*]]: tensor<?x3xf32>, %[[I:.*]]: tensor<i32>, %[[R:.*]]: tensor<3xf32>
// CHECK:         %[[IDX:.*]] = tensor.extract %[[I]][] : tensor<i32>
// CHECK:         %[[ROWS:.*]] = tensor.dim %[[B]], %{{.*}} : tensor<?x3xf32>
// CHECK:         %[[INSIDE:.*]] = arith.andi
// CHECK:         %[[AT:.*]] = arith.select %[[INSIDE]], %{{.*}}, %{{.*}} : index
// CHECK:         %[[ROW:.*]] = tensor.expand_shape %[[R]] {{\[\[}}0, 1]] output_shape [1, 3]
// CHECK:         %[[OLD:.*]] = tensor.extract_slice %[[B]][%[[AT]], 0] [1, 3] [1, 1]
// CHECK:         %[[NEW:.*]] = arith.select %[[INSIDE]], %[[ROW]], %[[OLD]] : tensor<1x3xf32>
// CHECK:         tensor.insert_slice %[[NEW]] into %[[B]][%[[AT]], 0] [1, 3] [1, 1]
// CHECK-NOT:     "tgc.
func.func @write(%b: tensor<?x3xf32>, %i: tensor<i32>, %r: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.write_row"(%b, %i, %r) {accumulate = false, grow = false} : (tensor<?x3xf32>, tensor<i32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// CHECK-LABEL: func.func @zeros(
// CHECK:         %[[N:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK:         %[[M:.*]] = arith.maxsi %[[N]], %{{.*}} : index
// CHECK:         %[[E:.*]] = tensor.empty(%[[M]]) : tensor<?x2xf64>
// CHECK:         linalg.generic {{.*}} outs(%[[E]] : tensor<?x2xf64>)
// CHECK:           linalg.yield %{{.*}} : f64
func.func @zeros(%n: tensor<i64>, %like: tensor<2xf64>) -> tensor<?x2xf64> {
  %0 = "tgc.zero_rows"(%n, %like) : (tensor<i64>, tensor<2xf64>) -> tensor<?x2xf64>
  return %0 : tensor<?x2xf64>
}

// With grow, an index at or past the end first copies the buffer into max(2 * rows, i + 1) rows of
// zeros, in an scf.if (only the writes that grow copy).
// CHECK-LABEL: func.func @grow(
// CHECK:         %[[CAST:.*]] = tensor.cast %{{.*}} : tensor<2x3xf32> to tensor<?x3xf32>
// CHECK:         %[[PAST:.*]] = arith.cmpi sge
// CHECK:         %[[BUF:.*]] = scf.if %[[PAST]] -> (tensor<?x3xf32>) {
// CHECK:           %[[TWICE:.*]] = arith.muli
// CHECK:           %[[SIZE:.*]] = arith.maxsi %[[TWICE]]
// CHECK:           %[[Z:.*]] = linalg.generic
// CHECK:           %[[COPY:.*]] = tensor.insert_slice %[[CAST]] into %[[Z]][0, 0]
// CHECK:           scf.yield %[[COPY]]
// CHECK:         } else {
// CHECK:           scf.yield %[[CAST]]
// CHECK:         tensor.insert_slice %{{.*}} into %[[BUF]]
func.func @grow(%b: tensor<2x3xf32>, %i: tensor<i32>, %r: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.write_row"(%b, %i, %r) {accumulate = false, grow = true} : (tensor<2x3xf32>, tensor<i32>, tensor<3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// head_rows: the first min(max(count, 0), rows) rows, one extract_slice.
// CHECK-LABEL: func.func @head(
// CHECK:         %[[C:.*]] = arith.minsi
// CHECK:         tensor.extract_slice %{{.*}}[0, 0] [%[[C]], 3] [1, 1] : tensor<?x3xf32> to tensor<?x3xf32>
func.func @head(%b: tensor<?x3xf32>, %n: tensor<i32>) -> tensor<?x3xf32> {
  %0 = "tgc.head_rows"(%b, %n) : (tensor<?x3xf32>, tensor<i32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// accumulate: the old row plus the new one (a generic), written back in place.
// CHECK-LABEL: func.func @accumulate(
// CHECK:         %[[OLD:.*]] = tensor.extract_slice %{{.*}}[%[[AT:.*]], 0] [1, 3] [1, 1]
// CHECK:         %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[OLD]], %{{.*}} : tensor<1x3xf32>, tensor<1x3xf32>)
// CHECK:           arith.addf
// CHECK:         %[[NEW:.*]] = arith.select %{{.*}}, %[[SUM]], %[[OLD]] : tensor<1x3xf32>
// CHECK:         tensor.insert_slice %[[NEW]] into %{{.*}}[%[[AT]], 0] [1, 3] [1, 1]
func.func @accumulate(%b: tensor<4x3xf32>, %i: tensor<i32>, %r: tensor<3xf32>) -> tensor<4x3xf32> {
  %0 = "tgc.write_row"(%b, %i, %r) {accumulate = true, grow = false} : (tensor<4x3xf32>, tensor<i32>, tensor<3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// read_row: the row's slice copied by linalg.copy (not a generic elementwise fusion could move past a
// later write of the buffer), zeros where the index is outside.
// CHECK-LABEL: func.func @read(
// CHECK:         %[[ROW:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}, 0] [1, 3] [1, 1] : tensor<?x3xf32> to tensor<3xf32>
// CHECK:         %[[COPY:.*]] = linalg.copy {{.*}}ins(%[[ROW]] : tensor<3xf32>)
// CHECK:         %[[ZEROS:.*]] = linalg.generic
// CHECK:         arith.select %{{.*}}, %[[COPY]], %[[ZEROS]] : tensor<3xf32>
func.func @read(%b: tensor<?x3xf32>, %i: tensor<i32>) -> tensor<3xf32> {
  %0 = "tgc.read_row"(%b, %i) : (tensor<?x3xf32>, tensor<i32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}
