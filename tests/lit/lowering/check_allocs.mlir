// tgc-check-allocs: after each memref.alloc the buffer's pointer is tested (malloc failed: null), and
// before an alloc with run-time sizes its byte size is tested in f64 (int64 would wrap); a failed test
// calls tgc_runtime_error with kind 2 (out of memory), the op's JSON (node, dtype, device) and the dims.
// The module defines that function (weak) and its handler setter, so compiled libraries link anywhere.
// RUN: %tgc-opt %s -p tgc-check-allocs | FileCheck %s
// RUN: %tgc-opt %s -p 'tgc-check-allocs,expand-strided-metadata,lower-affine,convert-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts' | FileCheck %s --check-prefix=LLVM

// CHECK-DAG:  llvm.mlir.global weak @tgc_error_handler()
// CHECK-DAG:  llvm.func weak @tgc_set_error_handler(%{{.*}}: !llvm.ptr)
// CHECK-DAG:  llvm.func weak @tgc_runtime_error(%{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64)
// CHECK-DAG:  llvm.mlir.global private constant @[[STATIC:tgc_error_message_[0-9]+]]("{\22device\22: \22/job:localhost/replica:0/task:0/device:CPU:0\22, \22dtype\22: \22float\22, \22node\22: \22Fill (defined at model.py:3)\22}\00")
// CHECK-DAG:  llvm.mlir.global private constant @[[DYNAMIC:tgc_error_message_[0-9]+]]("{\22device\22: \22/cpu:1\22, \22dtype\22: \22bool\22, \22node\22: \22outer\22}\00")

// A static buffer: only its pointer is tested, after the alloc.
// CHECK-LABEL: func.func @static_fill(
// CHECK:         %[[M:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1000000x1000000xf32>
// CHECK-NOT:     scf.if
// CHECK:         %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[M]]
// CHECK-NEXT:    %[[NULL:.*]] = arith.cmpi eq, %[[P]], %{{.*}} : index
// CHECK-NEXT:    scf.if %[[NULL]] {
// CHECK:           %[[KIND:.*]] = arith.constant 2 : i64
// CHECK-NEXT:      %[[MSG:.*]] = llvm.mlir.addressof @[[STATIC]]
// CHECK:           llvm.call @tgc_runtime_error(%[[KIND]], %[[MSG]], %{{.*}}, %{{.*}}) : (i64, !llvm.ptr, !llvm.ptr, i64) -> ()
// CHECK:         }
// CHECK:         linalg.fill
func.func @static_fill() -> memref<1000000x1000000xf32> {
  %c = arith.constant 1.0 : f32
  %m = memref.alloc() {alignment = 64 : i64} : memref<1000000x1000000xf32> loc("Fill"("model.py":3:0))
  linalg.fill ins(%c : f32) outs(%m : memref<1000000x1000000xf32>)
  return %m : memref<1000000x1000000xf32>
}

// Run-time sizes: the f64 size test comes before the alloc, the pointer test (skipped for an empty buffer)
// after it; both report the two dims.
// CHECK-LABEL: func.func @dynamic_outer(
// CHECK-SAME:      %[[N:.*]]: index, %[[K:.*]]: index
// CHECK:         arith.uitofp
// CHECK:         %[[BIG:.*]] = arith.cmpf oge, %{{.*}}, %{{.*}} : f64
// CHECK:         scf.if %[[BIG]] {
// CHECK:           llvm.call @tgc_runtime_error
// CHECK:         }
// CHECK:         %[[M:.*]] = memref.alloc(%[[N]], %[[K]]) : memref<?x?xi8>
// CHECK:         memref.extract_aligned_pointer_as_index %[[M]]
// CHECK:         %[[FAILED:.*]] = arith.andi
// CHECK:         scf.if %[[FAILED]] {
// CHECK:           llvm.mlir.addressof @[[DYNAMIC]]
// CHECK:           llvm.store
// CHECK:           llvm.store
// CHECK:           llvm.call @tgc_runtime_error
// CHECK:         }
// CHECK:         return %[[M]]
func.func @dynamic_outer(%n: index, %k: index) -> memref<?x?xi8> attributes {tgc.device = "/cpu:1"} {
  %m = memref.alloc(%n, %k) : memref<?x?xi8> loc("outer")
  return %m : memref<?x?xi8>
}

// An empty buffer is never tested.
// CHECK-LABEL: func.func @empty(
// CHECK-NEXT:    memref.alloc() : memref<0x4xf32>
// CHECK-NEXT:    return
func.func @empty() -> memref<0x4xf32> {
  %m = memref.alloc() : memref<0x4xf32>
  return %m : memref<0x4xf32>
}

// Lowered to the LLVM dialect, the handler is called only when one was set; when it returns from a
// failed allocation (kind 2), and when none was set, the error is told and the process exits.
// LLVM-LABEL: llvm.func weak @tgc_runtime_error(
// LLVM:         %[[SLOT:.*]] = llvm.mlir.addressof @tgc_error_handler
// LLVM:         %[[H:.*]] = llvm.load %[[SLOT]]
// LLVM:         llvm.icmp "eq" %[[H]]
// LLVM:         llvm.call %[[H]](
// LLVM:         llvm.icmp "eq" %arg0,
// LLVM:         llvm.call @write(
// LLVM:         llvm.call @exit(
// LLVM:         llvm.unreachable
// LLVM-LABEL: llvm.func @static_fill(
// LLVM:         llvm.call @malloc
// LLVM:         llvm.ptrtoint
// LLVM:         llvm.icmp "eq"
// LLVM:         llvm.cond_br
// LLVM:         llvm.call @tgc_runtime_error
