// tgc-to-core lowers elementwise ops to linalg.generic over tensor.empty: broadcast operands read
// through projected indexing maps, unknown dims are sized with tensor.dim, and no tgc op is left.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s
// RUN: %tgc-opt %s -p tgc-to-core,canonicalize | FileCheck %s --check-prefix=NOTGC

// NOTGC-NOT: "tgc.
// NOTGC: func.func @broadcast_add
// NOTGC-NOT: "tgc.

// CHECK-DAG: #[[ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[ID1:.*]] = affine_map<(d0) -> (d0)>

// The batch dim is unknown: the result is allocated with the size tensor.dim reads from x.
// CHECK-LABEL: func.func @broadcast_add(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>, %[[B:.*]]: tensor<3xf32>
// CHECK-NOT:     "tgc.
// CHECK:         %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[N:.*]] = tensor.dim %[[X]], %[[C0]] : tensor<?x3xf32>
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?x3xf32>
// CHECK:         %[[S:.*]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ROW]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:        ins(%[[X]], %[[B]] : tensor<?x3xf32>, tensor<3xf32>) outs(%[[E]] : tensor<?x3xf32>)
// CHECK:           arith.addf
// CHECK:         linalg.generic
// CHECK-SAME:        ins(%[[S]] : tensor<?x3xf32>)
// CHECK:           math.tanh
// CHECK-NOT:     "tgc.
// CHECK:         return
func.func @broadcast_add(%x: tensor<?x3xf32>, %b: tensor<3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.add"(%x, %b) : (tensor<?x3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %1 = "tgc.tanh"(%0) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %1 : tensor<?x3xf32>
}

// A comparison gives i1; select takes the mask as a third input.
// CHECK-LABEL: func.func @compare_select(
// CHECK-SAME:      %[[X:.*]]: tensor<4xf32>, %[[Y:.*]]: tensor<4xf32>
// CHECK:         %[[M:.*]] = linalg.generic {indexing_maps = [#[[ID1]], #[[ID1]], #[[ID1]]], iterator_types = ["parallel"]}
// CHECK-SAME:        ins(%[[X]], %[[Y]] : tensor<4xf32>, tensor<4xf32>) outs(%{{.*}} : tensor<4xi1>)
// CHECK:           arith.cmpf ogt
// CHECK:         linalg.generic
// CHECK-SAME:        ins(%[[M]], %[[X]], %[[Y]] : tensor<4xi1>, tensor<4xf32>, tensor<4xf32>)
// CHECK:           arith.select
// CHECK-NOT:     "tgc.
// CHECK:         return
func.func @compare_select(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %c = "tgc.greater"(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %0 = "tgc.select"(%c, %x, %y) : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// Integer ops use the integer arith ops; cast float -> int uses fptosi.
// CHECK-LABEL: func.func @integers(
// CHECK:           arith.fptosi %{{.*}} : f32 to i32
// CHECK:           arith.muli
// CHECK-NOT:     "tgc.
// CHECK:         return
func.func @integers(%x: tensor<5xf32>, %k: tensor<i32>) -> tensor<5xi32> {
  %0 = "tgc.cast"(%x) {dtype = i32} : (tensor<5xf32>) -> tensor<5xi32>
  %1 = "tgc.multiply"(%0, %k) : (tensor<5xi32>, tensor<i32>) -> tensor<5xi32>
  return %1 : tensor<5xi32>
}

// Both batch dims unknown and read from different arguments: the result's dim is TensorFlow's broadcast
// of the two (the other one where the first is 1), dims that differ otherwise call tgc_runtime_error
// (kind 1, incompatible shapes) with both shapes, and an operand whose dim is not the result's is
// broadcast (a copy, made only then) before the one generic, which reads both through identity maps.
// CHECK-LABEL: func.func @run_time_broadcast(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xf32>, %[[C:.*]]: tensor<?x3xf32>
// CHECK:         %[[DX:.*]] = tensor.dim %[[X]]
// CHECK:         %[[DC:.*]] = tensor.dim %[[C]]
// CHECK:         %[[XONE:.*]] = arith.cmpi eq, %[[DX]], %{{.*}} : index
// CHECK:         %[[N:.*]] = arith.select %[[XONE]], %[[DC]], %[[DX]] : index
// CHECK:         %[[BAD:.*]] = arith.ori
// CHECK:         scf.if %[[BAD]] {
// CHECK:           %[[KIND:.*]] = arith.constant 1 : i64
// CHECK:           llvm.call @tgc_runtime_error(%[[KIND]],
// CHECK:         }
// CHECK:         %[[XB:.*]] = scf.if %{{.*}} -> (tensor<?x3xf32>) {
// CHECK:           tensor.extract %[[X]]
// CHECK:         } else {
// CHECK:           scf.yield %[[X]] : tensor<?x3xf32>
// CHECK:         %[[CB:.*]] = scf.if %{{.*}} -> (tensor<?x3xf32>) {
// CHECK:           scf.yield %[[C]] : tensor<?x3xf32>
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?x3xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[ID2]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:        ins(%[[XB]], %[[CB]] : tensor<?x3xf32>, tensor<?x3xf32>) outs(%[[E]] : tensor<?x3xf32>)
// CHECK:           arith.addf
func.func @run_time_broadcast(%x: tensor<?x3xf32>, %c: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.add"(%x, %c) : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// Dims equal by construction (x's own reduction, kept) need no test: one generic, as for static shapes.
// CHECK-LABEL: func.func @equal_by_construction(
// CHECK-NOT:     scf.if
// CHECK-NOT:     tgc_runtime_error
// CHECK:         return
func.func @equal_by_construction(%x: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %m = "tgc.reduce_max"(%x) {axes = array<i64: 1>, keepdims = true} : (tensor<?x10xf32>) -> tensor<?x1xf32>
  %0 = "tgc.subtract"(%x, %m) : (tensor<?x10xf32>, tensor<?x1xf32>) -> tensor<?x10xf32>
  return %0 : tensor<?x10xf32>
}

// Dims that tgc-shape-equality proved equal (tgc.dim_classes, one class for both batch dims: a loop's
// state and its input, say) need no test either, though they come from different arguments; the
// result's dim is read from the first operand. The same for unbroadcast_like's test of a dim of 1.
// CHECK-LABEL: func.func @proven_equal(
// CHECK-SAME:      %[[X:[^:]*]]: tensor<?x3xf32>, %[[C:[^:]*]]: tensor<?x3xf32>
// CHECK-NOT:     scf.if
// CHECK-NOT:     tgc_runtime_error
// CHECK:         %[[N:.*]] = tensor.dim %[[X]]
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?x3xf32>
// CHECK:         linalg.generic
// CHECK-SAME:        ins(%[[X]], %[[C]] : tensor<?x3xf32>, tensor<?x3xf32>) outs(%[[E]] : tensor<?x3xf32>)
// CHECK-NOT:     scf.if
// CHECK:         return
func.func @proven_equal(%x: tensor<?x3xf32>, %c: tensor<?x3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.add"(%x, %c) {tgc.dim_classes = [array<i64: 0, -1>, array<i64: 0, -1>]} : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  %1 = "tgc.unbroadcast_like"(%0, %c) {tgc.dim_classes = [array<i64: 0, -1>, array<i64: 0, -1>]} : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  return %1 : tensor<?x3xf32>
}

// Classes of other dims say nothing about these: the test stays.
// CHECK-LABEL: func.func @other_classes(
// CHECK:         scf.if
// CHECK:           llvm.call @tgc_runtime_error
func.func @other_classes(%x: tensor<?x?xf32>, %c: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = "tgc.add"(%x, %c) {tgc.dim_classes = [array<i64: 0, -1>, array<i64: 0, -1>]} : (tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
