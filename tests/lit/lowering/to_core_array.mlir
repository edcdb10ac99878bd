// tgc-to-core lowers shape ops to tensor reshapes (collapse then expand, or a copy), linalg.transpose, and
// broadcasts to a linalg.generic that only yields its input. Unknown dims come from tensor.dim.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>

// reshape(?x6 -> -1x2x3): the unknown output dim is (dim 0 * 6) / 6, computed at run time.
// CHECK-LABEL: func.func @reshape(
// CHECK-SAME:      %[[X:.*]]: tensor<?x6xf32>
// CHECK:         %[[N:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x6xf32>
// CHECK:         %[[TOTAL:.*]] = arith.muli %[[N]], %{{.*}} : index
// CHECK:         %[[LEAD:.*]] = arith.divui %[[TOTAL]], %{{.*}} : index
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1]] : tensor<?x6xf32> into tensor<?xf32>
// CHECK:         %[[R:.*]] = tensor.expand_shape %[[FLAT]] {{\[}}[0, 1, 2]] output_shape [%[[LEAD]], 2, 3] : tensor<?xf32> into tensor<?x2x3xf32>
// CHECK-NOT:     "tgc.
// CHECK:         return %[[R]] : tensor<?x2x3xf32>
func.func @reshape(%x: tensor<?x6xf32>) -> tensor<?x2x3xf32> {
  %0 = "tgc.reshape"(%x) {shape = array<i64: -1, 2, 3>} : (tensor<?x6xf32>) -> tensor<?x2x3xf32>
  return %0 : tensor<?x2x3xf32>
}

// CHECK-LABEL: func.func @transpose(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3x4xf32>
// CHECK:         %[[N:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x3x4xf32>
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<4x?x3xf32>
// CHECK:         %[[R:.*]] = linalg.transpose ins(%[[X]] : tensor<?x3x4xf32>) outs(%[[E]] : tensor<4x?x3xf32>) permutation = [2, 0, 1]
// CHECK:         return %[[R]] : tensor<4x?x3xf32>
func.func @transpose(%x: tensor<?x3x4xf32>) -> tensor<4x?x3xf32> {
  %0 = "tgc.transpose"(%x) {perm = array<i64: 2, 0, 1>} : (tensor<?x3x4xf32>) -> tensor<4x?x3xf32>
  return %0 : tensor<4x?x3xf32>
}

// expand_dims and squeeze reshape x itself: the size-1 dim joins its neighbour's group, so each
// group keeps at most one unknown size (what memref.expand_shape can lower).
// CHECK-LABEL: func.func @expand_then_squeeze(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>
// CHECK:         %[[N:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x3xf32>
// CHECK:         %[[E:.*]] = tensor.expand_shape %[[X]] {{\[}}[0, 1], [2]] output_shape [%[[N]], 1, 3] : tensor<?x3xf32> into tensor<?x1x3xf32>
// CHECK:         %[[R:.*]] = tensor.collapse_shape %[[E]] {{\[}}[0, 1], [2]] : tensor<?x1x3xf32> into tensor<?x3xf32>
// CHECK:         return %[[R]] : tensor<?x3xf32>
func.func @expand_then_squeeze(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.expand_dims"(%x) {axis = 1 : i64} : (tensor<?x3xf32>) -> tensor<?x1x3xf32>
  %1 = "tgc.squeeze"(%0) {axes = array<i64: 1>} : (tensor<?x1x3xf32>) -> tensor<?x3xf32>
  return %1 : tensor<?x3xf32>
}

// Several unknown dims: expand_dims/squeeze still take one group per kept dim; a reshape into two
// unknown dims cannot be one expand_shape group (expand-strided-metadata asserts on it), so the
// flat elements are copied out, row-major, by a generic that computes each element's flat index.
// CHECK-LABEL: func.func @two_unknown(
// CHECK-SAME:      %[[X:.*]]: tensor<?x?xf32>, %[[T:.*]]: tensor<?x2x?xf32>
// CHECK:         %[[E:.*]] = tensor.expand_shape %[[X]] {{\[}}[0, 1], [2]] output_shape [%{{.*}}, 1, %{{.*}}] : tensor<?x?xf32> into tensor<?x1x?xf32>
// CHECK:         %[[S:.*]] = tensor.collapse_shape %[[E]] {{\[}}[0, 1], [2]] : tensor<?x1x?xf32> into tensor<?x?xf32>
// CHECK:         %[[D0:.*]] = tensor.dim %[[T]], %{{.*}} : tensor<?x2x?xf32>
// CHECK:         %[[D2:.*]] = tensor.dim %[[T]], %{{.*}} : tensor<?x2x?xf32>
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1]] : tensor<?x?xf32> into tensor<?xf32>
// CHECK:         %[[INIT:.*]] = tensor.empty(%[[D0]], %[[D2]]) : tensor<?x2x?xf32>
// CHECK:         %[[R:.*]] = linalg.generic {{.*}} outs(%[[INIT]] : tensor<?x2x?xf32>)
// CHECK:           %[[LEAD:.*]] = arith.addi
// CHECK:           %[[SCALED:.*]] = arith.muli %[[LEAD]], %[[D2]] : index
// CHECK:           %[[K:.*]] = arith.addi %[[SCALED]], %{{.*}} : index
// CHECK:           tensor.extract %[[FLAT]][%[[K]]] : tensor<?xf32>
// CHECK-NOT:     tensor.expand_shape
// CHECK:         return %[[E]], %[[S]], %[[R]]
func.func @two_unknown(%x: tensor<?x?xf32>, %t: tensor<?x2x?xf32>) -> (tensor<?x1x?xf32>, tensor<?x?xf32>, tensor<?x2x?xf32>) {
  %0 = "tgc.expand_dims"(%x) {axis = 1 : i64} : (tensor<?x?xf32>) -> tensor<?x1x?xf32>
  %1 = "tgc.squeeze"(%0) {axes = array<i64: 1>} : (tensor<?x1x?xf32>) -> tensor<?x?xf32>
  %2 = "tgc.reshape_like"(%x, %t) : (tensor<?x?xf32>, tensor<?x2x?xf32>) -> tensor<?x2x?xf32>
  return %0, %1, %2 : tensor<?x1x?xf32>, tensor<?x?xf32>, tensor<?x2x?xf32>
}

// broadcast_like takes the target's unknown dim and reads the input through a projected map.
// CHECK-LABEL: func.func @broadcast_like(
// CHECK-SAME:      %[[X:.*]]: tensor<3xf32>, %[[T:.*]]: tensor<?x3xf32>
// CHECK:         %[[N:.*]] = tensor.dim %[[T]], %{{.*}} : tensor<?x3xf32>
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?x3xf32>
// CHECK:         %[[R:.*]] = linalg.generic {indexing_maps = [#[[ROW]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:        ins(%[[X]] : tensor<3xf32>) outs(%[[E]] : tensor<?x3xf32>)
// CHECK-NEXT:    ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:      linalg.yield %[[IN]] : f32
// CHECK-NOT:     "tgc.
// CHECK:         return %[[R]] : tensor<?x3xf32>
func.func @broadcast_like(%x: tensor<3xf32>, %t: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.broadcast_like"(%x, %t) : (tensor<3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// An identity permutation (the only one a 0-d tensor has) is x itself: linalg.transpose with an empty
// permutation asserts in MLIR.
// CHECK-LABEL: func.func @transpose_identity(
// CHECK-SAME:      %[[S:.*]]: tensor<f64>, %[[X:.*]]: tensor<?x3xf32>
// CHECK-NOT:     linalg.transpose
// CHECK:         return %[[S]], %[[X]]
func.func @transpose_identity(%s: tensor<f64>, %x: tensor<?x3xf32>) -> (tensor<f64>, tensor<?x3xf32>) {
  %0 = "tgc.transpose"(%s) {perm = array<i64>} : (tensor<f64>) -> tensor<f64>
  %1 = "tgc.transpose"(%x) {perm = array<i64: 0, 1>} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %0, %1 : tensor<f64>, tensor<?x3xf32>
}

// A slice known to be empty is never built: x[:, 4:] of 4 columns starts at the dim's size, which
// extract_slice/insert_slice reject as out of bounds. The slice is a tensor.empty, and its gradient is
// the zeros it would have been inserted into.
// CHECK-LABEL: func.func @empty_slices(
// CHECK-NOT:     tensor.extract_slice
// CHECK:         %[[E:.*]] = tensor.empty() : tensor<2x0xf32>
// CHECK-NOT:     tensor.insert_slice
// CHECK:         %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x4xf32>)
// CHECK-NEXT:    return %[[E]], %[[Z]]
func.func @empty_slices(%x: tensor<2x4xf32>, %g: tensor<2x0xf32>) -> (tensor<2x0xf32>, tensor<2x4xf32>) {
  %0 = "tgc.strided_slice"(%x) {begin = array<i64: 0, 4>, end = array<i64: 0, 0>, strides = array<i64: 1, 1>, begin_mask = 1 : i64, end_mask = 3 : i64} : (tensor<2x4xf32>) -> tensor<2x0xf32>
  %1 = "tgc.strided_slice_grad"(%g, %x) {begin = array<i64: 0, 4>, end = array<i64: 0, 0>, strides = array<i64: 1, 1>, begin_mask = 1 : i64, end_mask = 3 : i64} : (tensor<2x0xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0, %1 : tensor<2x0xf32>, tensor<2x4xf32>
}

// A result less static than x (a known 3 under an unknown dim): x is cast first, since expand_shape
// needs each collapsed dim unknown exactly when its group has an unknown dim.
// CHECK-LABEL: func.func @expand_less_static(
// CHECK-SAME:      %[[X:.*]]: tensor<3xf32>
// CHECK:         %[[C:.*]] = tensor.cast %[[X]] : tensor<3xf32> to tensor<?xf32>
// CHECK:         %[[R:.*]] = tensor.expand_shape %[[C]] {{\[}}[0, 1]] output_shape [%{{.*}}, 1] : tensor<?xf32> into tensor<?x1xf32>
// CHECK:         return %[[R]]
func.func @expand_less_static(%x: tensor<3xf32>) -> tensor<?x1xf32> {
  %0 = "tgc.expand_dims"(%x) {axis = 1 : i64} : (tensor<3xf32>) -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}

// A reshape into a shape with a known 0 moves no element: a tensor.empty, not an expand_shape whose
// unknown dim memref.expand_shape would size by dividing by the group's known sizes (0).
// CHECK-LABEL: func.func @reshape_to_zero_elements(
// CHECK-SAME:      %[[X:.*]]: tensor<0x0xf64>, %[[T:.*]]: tensor<0x?xf64>
// CHECK:         %[[N:.*]] = tensor.dim %[[T]], %{{.*}} : tensor<0x?xf64>
// CHECK-NOT:     tensor.expand_shape
// CHECK:         %[[R:.*]] = tensor.empty(%[[N]]) : tensor<0x?xf64>
// CHECK:         return %[[R]]
func.func @reshape_to_zero_elements(%x: tensor<0x0xf64>, %t: tensor<0x?xf64>) -> tensor<0x?xf64> {
  %0 = "tgc.reshape_like"(%x, %t) : (tensor<0x0xf64>, tensor<0x?xf64>) -> tensor<0x?xf64>
  return %0 : tensor<0x?xf64>
}

// A reshape of a tensor with a known 0 moves no element either: a tensor.empty, not a collapse_shape
// of [0, ?] to [?], which folded to a static [0] that memref.collapse_shape refused for a group with
// an unknown dim.
// CHECK-LABEL: func.func @reshape_from_zero_elements(
// CHECK-SAME:      %[[X:.*]]: tensor<0x?xf64>, %[[T:.*]]: tensor<?x?xf64>
// CHECK-NOT:     tensor.collapse_shape
// CHECK:         %[[N:.*]] = tensor.dim %[[T]], %{{.*}} : tensor<?x?xf64>
// CHECK:         %[[M:.*]] = tensor.dim %[[T]], %{{.*}} : tensor<?x?xf64>
// CHECK-NOT:     tensor.collapse_shape
// CHECK:         %[[R:.*]] = tensor.empty(%[[N]], %[[M]]) : tensor<?x?xf64>
// CHECK:         return %[[R]]
func.func @reshape_from_zero_elements(%x: tensor<0x?xf64>, %t: tensor<?x?xf64>) -> tensor<?x?xf64> {
  %0 = "tgc.reshape_like"(%x, %t) : (tensor<0x?xf64>, tensor<?x?xf64>) -> tensor<?x?xf64>
  return %0 : tensor<?x?xf64>
}

// tgc.range: the count ceil((limit - start) / delta) as an index (0 when delta is 0: the divisor
// is then 1, so no division traps), a tensor.empty of it, one generic yielding start + i * delta.
// CHECK-LABEL: func.func @range_i32(
// CHECK:         %[[S:.*]] = tensor.extract %{{.*}}[] : tensor<i32>
// CHECK:         %[[L:.*]] = tensor.extract %{{.*}}[] : tensor<i32>
// CHECK:         %[[D:.*]] = tensor.extract %{{.*}}[] : tensor<i32>
// CHECK:         %[[ZERO_STEP:.*]] = arith.cmpi eq, %[[D]], %{{.*}} : i32
// CHECK:         %[[STEP:.*]] = arith.select %[[ZERO_STEP]], %{{.*}}, %[[D]] : i32
// CHECK:         arith.ceildivsi %{{.*}}, %[[STEP]] : i32
// CHECK:         %[[N:.*]] = arith.select %[[ZERO_STEP]], %{{.*}}, %{{.*}} : index
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?xi32>
// CHECK:         linalg.generic {{.*}} outs(%[[E]] : tensor<?xi32>)
// CHECK:           linalg.index 0 : index
// CHECK:           arith.muli %{{.*}}, %[[D]] : i32
// CHECK:           arith.addi %[[S]], %{{.*}} : i32
// CHECK-NOT:     "tgc.
func.func @range_i32(%s: tensor<i32>, %l: tensor<i32>, %d: tensor<i32>) -> tensor<?xi32> {
  %0 = "tgc.range"(%s, %l, %d) : (tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<?xi32>
  return %0 : tensor<?xi32>
}

// CHECK-LABEL: func.func @range_f32(
// CHECK:         arith.divf
// CHECK:         arith.fptosi %{{.*}} : f32 to i64
// CHECK:         linalg.generic
// CHECK:           arith.sitofp %{{.*}} : i64 to f32
// CHECK:           arith.mulf
// CHECK:           arith.addf
func.func @range_f32(%s: tensor<f32>, %l: tensor<f32>, %d: tensor<f32>) -> tensor<?xf32> {
  %0 = "tgc.range"(%s, %l, %d) : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// tgc.reshape_to_shape: the shape vector's values read as index dims, its -1 sized as the total
// over the others' product (0 when that is 0, so no division traps), then the flat reshape.
// CHECK-LABEL: func.func @reshape_to_shape(
// CHECK:         %[[D0:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<2xi32>
// CHECK:         %[[D1:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<2xi32>
// CHECK:         arith.cmpi eq, %{{.*}}, %{{.*}} : index
// CHECK:         arith.divui
// CHECK:         tensor.collapse_shape
// CHECK-NOT:     "tgc.
func.func @reshape_to_shape(%x: tensor<?x4x3xf32>, %s: tensor<2xi32>) -> tensor<?x?xf32> {
  %0 = "tgc.reshape_to_shape"(%x, %s) {known = array<i64: -1, -1>} : (tensor<?x4x3xf32>, tensor<2xi32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
