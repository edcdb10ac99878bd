// tgc-to-core lowers tgc.print, tgc.assert and tgc.check_numerics (tgc/lowering/to_core/debug.py)
// to calls into the host (tgc/lowering/runtime_errors.py): print sends each data tensor (action 0:
// aligned pointer, offset, rank, dims, strides; a bool tensor widened to i8 first), then asks for
// the print (action 1) and yields its input; assert reports kind 3 only where its condition is
// false, after sending its data; check_numerics reduces its tensor to a NaN and an Inf flag and
// reports kind 4 with both when either is set. Each call's values live in an alloca scope.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG:   llvm.func weak @tgc_set_host_handler(%{{.*}}: !llvm.ptr)
// CHECK-DAG:   llvm.func weak @tgc_host_callback(%{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64)
// CHECK-DAG:   llvm.func weak @tgc_runtime_error(%{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64)
// CHECK-DAG:   llvm.mlir.global private constant @[[F32:tgc_error_message_[0-9]+]]("{\22dtype\22: \22float32\22}\00")
// CHECK-DAG:   llvm.mlir.global private constant @[[BOOL:tgc_error_message_[0-9]+]]("{\22dtype\22: \22bool\22}\00")

// CHECK-LABEL: func.func @print(
// CHECK-SAME:      %[[X:.*]]: tensor<?xf32>, %[[B:.*]]: tensor<2xi1>
// CHECK:         %[[XB:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<?xf32> to memref<?xf32, strided<[?], offset: ?>>
// CHECK:         %[[PTR:.*]] = memref.extract_aligned_pointer_as_index %[[XB]]
// CHECK:         %{{.*}}, %[[OFF:.*]], %[[SIZE:.*]], %[[STRIDE:.*]] = memref.extract_strided_metadata %[[XB]]
// CHECK:         memref.alloca_scope
// CHECK:           %[[TENSOR:.*]] = arith.constant 0 : i64
// CHECK:           llvm.mlir.addressof @[[F32]]
// CHECK:           llvm.call @tgc_host_callback(%[[TENSOR]], %{{.*}}, %{{.*}}, %{{.*}})
// CHECK:         %[[BYTES:.*]] = linalg.generic
// CHECK:           arith.extui %{{.*}} : i1 to i8
// CHECK:         bufferization.to_buffer %[[BYTES]] read_only : tensor<2xi8>
// CHECK:           llvm.mlir.addressof @[[BOOL]]
// CHECK:           llvm.call @tgc_host_callback(
// CHECK:         memref.alloca_scope
// CHECK:           %[[PRINT:.*]] = arith.constant 1 : i64
// CHECK:           llvm.call @tgc_host_callback(%[[PRINT]],
// CHECK:         return %[[X]] : tensor<?xf32>
func.func @print(%x: tensor<?xf32>, %b: tensor<2xi1>) -> tensor<?xf32> {
  %0 = "tgc.print"(%x, %x, %b) {operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, spec = "{\22message\22: \22x \22, \22pieces\22: [{\22tensor\22: 0}, {\22tensor\22: 1}], \22style\22: \22Print\22, \22summarize\22: 3}"} : (tensor<?xf32>, tensor<?xf32>, tensor<2xi1>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// CHECK-LABEL: func.func @assert(
// CHECK-SAME:      %[[C:.*]]: tensor<i1>, %[[X:.*]]: tensor<?xf32>
// CHECK:         %[[HOLDS:.*]] = tensor.extract %[[C]][] : tensor<i1>
// CHECK:         %[[FAILED:.*]] = arith.xori %[[HOLDS]], %{{.*}} : i1
// CHECK:         scf.if %[[FAILED]] {
// CHECK:           bufferization.to_buffer %[[X]] read_only
// CHECK:           llvm.call @tgc_host_callback(
// CHECK:           %[[KIND:.*]] = arith.constant 3 : i64
// CHECK:           llvm.call @tgc_runtime_error(%[[KIND]],
// CHECK:         }
// CHECK-NOT:     "tgc.
func.func @assert(%c: tensor<i1>, %x: tensor<?xf32>) {
  "tgc.assert"(%c, %x) {operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, spec = "{\22data\22: [{\22text\22: \22b\22}, {\22tensor\22: 0}], \22summarize\22: 3}"} : (tensor<i1>, tensor<?xf32>) -> ()
  return
}

// CHECK-LABEL: func.func @check(
// CHECK-SAME:      %[[X:.*]]: tensor<4x?xf64>
// CHECK:         %[[FLAGS:.*]]:2 = linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%[[X]] : tensor<4x?xf64>) outs(%{{.*}}, %{{.*}} : tensor<i8>, tensor<i8>)
// CHECK:           arith.cmpf uno
// CHECK:           math.absf
// CHECK:           arith.cmpf oeq
// CHECK:         %[[NAN:.*]] = arith.cmpi ne, %{{.*}}, %{{.*}} : i8
// CHECK:         %[[INF:.*]] = arith.cmpi ne, %{{.*}}, %{{.*}} : i8
// CHECK:         %[[ANY:.*]] = arith.ori %[[NAN]], %[[INF]] : i1
// CHECK:         scf.if %[[ANY]] {
// CHECK:           %[[KIND:.*]] = arith.constant 4 : i64
// CHECK:           llvm.call @tgc_runtime_error(%[[KIND]],
// CHECK:         return %[[X]] : tensor<4x?xf64>
func.func @check(%x: tensor<4x?xf64>) -> tensor<4x?xf64> {
  %0 = "tgc.check_numerics"(%x) {message = "m"} : (tensor<4x?xf64>) -> tensor<4x?xf64>
  return %0 : tensor<4x?xf64>
}
