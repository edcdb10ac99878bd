// tgc-to-core checks tgc.gather's indices (tgc/lowering/to_core/gather.py): a reduction over the
// flattened indices finds the position of the first one outside [0, rows) (the count when none),
// and where there is one the run fails with kind 5 (its position, its value, the row count, the
// indices' rank and dims) before the generic that reads the rows. A function placed on a GPU gets
// no check (its kernels cannot call the host; placement keeps gathers off such devices).
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @gather(
// CHECK-SAME:      %[[P:.*]]: tensor<5x2xf32>, %[[I:.*]]: tensor<2x?xi32>
// CHECK:         arith.muli
// CHECK:         %[[COUNT:.*]] = arith.muli
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %[[I]] {{\[\[}}0, 1]] : tensor<2x?xi32> into tensor<?xi32>
// CHECK:         %[[INIT:.*]] = linalg.fill ins(%[[COUNT]] : index)
// CHECK:         %[[FIRST:.*]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%[[FLAT]] : tensor<?xi32>) outs(%[[INIT]] : tensor<index>)
// CHECK:           linalg.index 0
// CHECK:           arith.minui
// CHECK:         %[[POS:.*]] = tensor.extract %[[FIRST]][] : tensor<index>
// CHECK:         %[[BAD:.*]] = arith.cmpi ult, %[[POS]], %[[COUNT]] : index
// CHECK:         scf.if %[[BAD]] {
// CHECK:           %[[VALUE:.*]] = tensor.extract %[[FLAT]][%[[POS]]] : tensor<?xi32>
// CHECK:           arith.extsi %[[VALUE]] : i32 to i64
// CHECK:           %[[KIND:.*]] = arith.constant 5 : i64
// CHECK:           llvm.call @tgc_runtime_error(%[[KIND]],
// CHECK:         }
// CHECK:         linalg.generic {{.*}} ins(%[[I]] : tensor<2x?xi32>) outs(%{{.*}} : tensor<2x?x2xf32>)
// CHECK:           tensor.extract %[[P]]
func.func @gather(%p: tensor<5x2xf32>, %i: tensor<2x?xi32>) -> tensor<2x?x2xf32> {
  %0 = "tgc.gather"(%p, %i) : (tensor<5x2xf32>, tensor<2x?xi32>) -> tensor<2x?x2xf32>
  return %0 : tensor<2x?x2xf32>
}

// CHECK-LABEL: func.func @on_gpu(
// CHECK-NOT:     tgc_runtime_error
// CHECK:         linalg.generic
// CHECK:         return
func.func @on_gpu(%p: tensor<5x2xf32>, %i: tensor<3xi32>) -> tensor<3x2xf32> attributes {tgc.device = "/job:localhost/replica:0/task:0/device:GPU:0"} {
  %0 = "tgc.gather"(%p, %i) : (tensor<5x2xf32>, tensor<3xi32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
