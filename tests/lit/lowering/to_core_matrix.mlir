// tgc-to-core lowers the matrix ops (tgc/lowering/to_core/matrix.py): diag is one linalg.generic that
// reads x[i] over the result's (i, j) and keeps it where i == j; diag_part reads x[i..., i...] through a
// map that repeats its dims; the determinant and the inverse are scf.for loops of Gaussian elimination
// over the matrix carried as a tensor (a pivot search, a row swap, elimination), sized by tensor.dim;
// a batch loops over its matrices.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[TWICE:.*]] = affine_map<(d0, d1) -> (d0, d1, d0, d1)>

// CHECK-LABEL: func.func @diag(
// CHECK-SAME:      %[[X:.*]]: tensor<?xf32>
// CHECK:         %[[N:.*]] = tensor.dim %[[X]]
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]], %{{.*}}) : tensor<?x?xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[ROW]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[X]] : tensor<?xf32>) outs(%[[E]] : tensor<?x?xf32>)
// CHECK:           %[[I:.*]] = linalg.index 0
// CHECK:           %[[J:.*]] = linalg.index 1
// CHECK:           %[[SAME:.*]] = arith.cmpi eq, %[[I]], %[[J]]
// CHECK:           arith.select %[[SAME]]
// CHECK-NOT:     "tgc.
func.func @diag(%x: tensor<?xf32>) -> tensor<?x?xf32> {
  %0 = "tgc.diag"(%x) : (tensor<?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// CHECK-LABEL: func.func @diag_part(
// CHECK:         linalg.generic {indexing_maps = [#[[TWICE]], #[[ID2]]], iterator_types = ["parallel", "parallel"]} ins(%{{.*}} : tensor<2x3x2x3xf64>) outs(%{{.*}} : tensor<2x3xf64>)
// CHECK-NEXT:    ^bb0(%[[IN:.*]]: f64, %{{.*}}: f64):
// CHECK-NEXT:      linalg.yield %[[IN]] : f64
func.func @diag_part(%x: tensor<2x3x2x3xf64>) -> tensor<2x3xf64> {
  %0 = "tgc.diag_part"(%x) : (tensor<2x3x2x3xf64>) -> tensor<2x3xf64>
  return %0 : tensor<2x3xf64>
}

// The determinant: per column k, the largest |a[r, k]| below k is found, its row swapped into row k
// (negating the determinant when it moves), the pivot multiplied in and eliminated below.
// A matrix of unknown sizes is checked square first (kind 8: an argument out of range).
// CHECK-LABEL: func.func @determinant(
// CHECK-SAME:      %[[A:.*]]: tensor<?x?xf32>
// CHECK:         %[[ROWS:.*]] = tensor.dim %[[A]]
// CHECK:         %[[COLUMNS:.*]] = tensor.dim %[[A]]
// CHECK:         %[[DIFFER:.*]] = arith.cmpi ne, %[[ROWS]], %[[COLUMNS]]
// CHECK:         scf.if %[[DIFFER]]
// CHECK:           %[[KIND:.*]] = arith.constant 8 : i64
// CHECK:           llvm.call @tgc_runtime_error(%[[KIND]],
// CHECK:         %[[N:.*]] = tensor.dim %[[A]]
// CHECK:         %[[LOOP:.*]]:2 = scf.for %[[K:.*]] = %{{.*}} to %[[N]] step %{{.*}} iter_args(%[[M:.*]] = %[[A]], %[[DET:.*]] = %{{.*}}) -> (tensor<?x?xf32>, f32)
// CHECK:           %[[PIVOT:.*]]:2 = scf.for {{.*}} -> (index, f32)
// CHECK:             math.absf
// CHECK:             arith.cmpf ogt
// CHECK:           %[[SWAPPED:.*]] = scf.for {{.*}} -> (tensor<?x?xf32>)
// CHECK:             tensor.insert
// CHECK:             tensor.insert
// CHECK:           %[[MOVED:.*]] = arith.cmpi ne, %[[PIVOT]]#0, %[[K]]
// CHECK:           arith.negf %[[DET]]
// CHECK:           arith.mulf
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               arith.subf
// CHECK:         tensor.from_elements %[[LOOP]]#1 : tensor<f32>
// CHECK-NOT:     "tgc.
func.func @determinant(%x: tensor<?x?xf32>) -> tensor<f32> {
  %0 = "tgc.matrix_determinant"(%x) : (tensor<?x?xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// The inverse: Gauss-Jordan on the matrix and an identity carried alongside, which ends as the result.
// CHECK-LABEL: func.func @inverse(
// CHECK-SAME:      %[[A:.*]]: tensor<3x3xf64>
// CHECK:         %[[EYE:.*]] = linalg.generic {indexing_maps = [#[[ID2]]], iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<3x3xf64>)
// CHECK:         %[[LOOP:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %[[A]], %{{.*}} = %[[EYE]]) -> (tensor<3x3xf64>, tensor<3x3xf64>)
// CHECK:           arith.divf
// CHECK:           arith.divf
// CHECK:           arith.subf
// CHECK:           arith.subf
// CHECK:         return %[[LOOP]]#1 : tensor<3x3xf64>
func.func @inverse(%x: tensor<3x3xf64>) -> tensor<3x3xf64> {
  %0 = "tgc.matrix_inverse"(%x) : (tensor<3x3xf64>) -> tensor<3x3xf64>
  return %0 : tensor<3x3xf64>
}

// A square known on one side only: the op's type has both ([?, 3] -> [3, 3]), the operand is cast to it.
// CHECK-LABEL: func.func @inverse_one_side_known(
// CHECK-SAME:      %[[A:.*]]: tensor<?x3xf64>
// CHECK:         %[[SQUARE:.*]] = tensor.cast %[[A]] : tensor<?x3xf64> to tensor<3x3xf64>
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[SQUARE]], %{{.*}} = %{{.*}}) -> (tensor<3x3xf64>, tensor<3x3xf64>)
func.func @inverse_one_side_known(%x: tensor<?x3xf64>) -> tensor<3x3xf64> {
  %0 = "tgc.matrix_inverse"(%x) : (tensor<?x3xf64>) -> tensor<3x3xf64>
  return %0 : tensor<3x3xf64>
}

// A batch [..., n, n]: reshaped to [b, n, n], one matrix per iteration (extract_slice, the matrix's
// elimination, insert_slice), reshaped back.
// CHECK-LABEL: func.func @inverse_batch(
// CHECK-SAME:      %[[A:.*]]: tensor<?x2x3x3xf32>
// CHECK:         %[[STACKED:.*]] = tensor.expand_shape %{{.*}} output_shape [%[[B:.*]], 3, 3] : tensor<?xf32> into tensor<?x3x3xf32>
// CHECK:         %[[INIT:.*]] = tensor.empty(%[[B]]) : tensor<?x3x3xf32>
// CHECK:         %[[LOOP:.*]] = scf.for %[[K:.*]] = %{{.*}} to %[[B]] step %{{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (tensor<?x3x3xf32>)
// CHECK:           %[[M:.*]] = tensor.extract_slice %[[STACKED]][%[[K]], 0, 0] [1, 3, 3] [1, 1, 1] : tensor<?x3x3xf32> to tensor<3x3xf32>
// CHECK:           %[[INV:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %[[M]], %{{.*}} = %{{.*}}) -> (tensor<3x3xf32>, tensor<3x3xf32>)
// CHECK:           tensor.insert_slice %[[INV]]#1 into %[[ACC]][%[[K]], 0, 0] [1, 3, 3] [1, 1, 1] : tensor<3x3xf32> into tensor<?x3x3xf32>
// CHECK:         tensor.expand_shape %{{.*}} output_shape [%{{.*}}, 2, 3, 3] : tensor<?xf32> into tensor<?x2x3x3xf32>
func.func @inverse_batch(%x: tensor<?x2x3x3xf32>) -> tensor<?x2x3x3xf32> {
  %0 = "tgc.matrix_inverse"(%x) : (tensor<?x2x3x3xf32>) -> tensor<?x2x3x3xf32>
  return %0 : tensor<?x2x3x3xf32>
}

// CHECK-LABEL: func.func @determinant_batch(
// CHECK:         scf.for {{.*}} -> (tensor<4xf64>)
// CHECK:           tensor.extract_slice {{.*}} : tensor<4x2x2xf64> to tensor<2x2xf64>
// CHECK:           tensor.insert %{{.*}} into %{{.*}}[%{{.*}}] : tensor<4xf64>
func.func @determinant_batch(%x: tensor<4x2x2xf64>) -> tensor<4xf64> {
  %0 = "tgc.matrix_determinant"(%x) : (tensor<4x2x2xf64>) -> tensor<4xf64>
  return %0 : tensor<4xf64>
}
