// tgc-blas-matmul with gemm=codegen folds a copy into the C of an accumulating generated GEMM:
// `memref.copy %w, %fresh; call @F(%a, %b, %fresh)`, where F is an outlined GEMM accumulating into its
// C (beta = 1, tgc-gemm-update's SGD step where the weight may not be written), becomes one call of
// F_cin(%a, %b, %fresh, %w), whose kernel reads beta's term from %w and writes %fresh: no copy pass.
// The copy stays for BLAS (no separate C_in there), when something sits between the copy and the call,
// when the call also reads the copy as A, into a buffer that is not a fresh allocation, and where the
// variant's name is taken by a function tgc did not make. F itself
// goes when no call is left.
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen}' | FileCheck %s
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen parallel=true}' | FileCheck %s --check-prefix=PAR
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=blas}' | FileCheck %s --check-prefix=BLAS

#lhs_t = affine_map<(d0, d1, d2) -> (d2, d0)>
#rhs = affine_map<(d0, d1, d2) -> (d2, d1)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>

// CHECK-LABEL: func.func private @tgc_mm_kept(
// CHECK:         call @tgc_gemm_f32_6x16v8(%{{.*}}, %{{.*}}, %[[C:.*]], %[[C]], %{{.*}})
func.func private @tgc_mm_kept(%a: memref<?x8xf32>, %b: memref<?x4xf32>, %c: memref<8x4xf32>) {
  linalg.matmul indexing_maps = [#lhs_t, #rhs, #out] ins(%a, %b : memref<?x8xf32>, memref<?x4xf32>) outs(%c : memref<8x4xf32>)
  return
}

// CHECK-NOT:   func.func private @tgc_mm_wgrad(
func.func private @tgc_mm_wgrad(%a: memref<?x8xf32>, %b: memref<?x4xf32>, %c: memref<8x4xf32>) {
  linalg.matmul indexing_maps = [#lhs_t, #rhs, #out] ins(%a, %b : memref<?x8xf32>, memref<?x4xf32>) outs(%c : memref<8x4xf32>)
  return
}

// CHECK-LABEL: func.func @sgd(
// CHECK-SAME:      %[[X:.*]]: memref<?x8xf32>, %[[D:.*]]: memref<?x4xf32>, %[[W:.*]]: memref<8x4xf32>)
// CHECK:         %[[NEW:.*]] = memref.alloc()
// CHECK-NOT:     memref.copy
// CHECK-NEXT:    call @tgc_mm_wgrad_cin(%[[X]], %[[D]], %[[NEW]], %[[W]])
// CHECK-NEXT:    return %[[NEW]]
// BLAS-LABEL:  func.func @sgd(
// BLAS:          memref.copy
// BLAS-NEXT:     call @tgc_mm_wgrad(
func.func @sgd(%x: memref<?x8xf32>, %d: memref<?x4xf32>, %w: memref<8x4xf32>) -> memref<8x4xf32> {
  %new = memref.alloc() {alignment = 64 : i64} : memref<8x4xf32>
  memref.copy %w, %new : memref<8x4xf32> to memref<8x4xf32>
  call @tgc_mm_wgrad(%x, %d, %new) : (memref<?x8xf32>, memref<?x4xf32>, memref<8x4xf32>) -> ()
  return %new : memref<8x4xf32>
}

// A function of the variant's name that tgc did not make: the call of its GEMM keeps its copy.
// CHECK-LABEL: func.func private @tgc_mm_user_cin(
// CHECK-NEXT:    return
func.func private @tgc_mm_user_cin(%a: memref<?x8xf32>, %b: memref<?x4xf32>, %c: memref<8x4xf32>, %d: memref<8x4xf32>) {
  return
}
func.func private @tgc_mm_user(%a: memref<?x8xf32>, %b: memref<?x4xf32>, %c: memref<8x4xf32>) {
  linalg.matmul indexing_maps = [#lhs_t, #rhs, #out] ins(%a, %b : memref<?x8xf32>, memref<?x4xf32>) outs(%c : memref<8x4xf32>)
  return
}
// CHECK-LABEL: func.func @name_taken(
// CHECK:         memref.copy
// CHECK-NEXT:    call @tgc_mm_user(
func.func @name_taken(%x: memref<?x8xf32>, %d: memref<?x4xf32>, %w: memref<8x4xf32>) -> memref<8x4xf32> {
  %new = memref.alloc() : memref<8x4xf32>
  memref.copy %w, %new : memref<8x4xf32> to memref<8x4xf32>
  call @tgc_mm_user(%x, %d, %new) : (memref<?x8xf32>, memref<?x4xf32>, memref<8x4xf32>) -> ()
  return %new : memref<8x4xf32>
}

// CHECK-LABEL: func.func @copies_kept(
// CHECK:         memref.copy
// CHECK:         memref.store
// CHECK-NEXT:    call @tgc_mm_kept(
// CHECK:         memref.copy %{{.*}}, %[[SQ:.*]] :
// CHECK:         call @tgc_mm_kept(%{{.*}}, %{{.*}}, %{{.*}}) :
// CHECK:         memref.copy %{{.*}}, %[[ARG:.*]] :
// CHECK-NEXT:    call @tgc_mm_kept(%{{.*}}, %{{.*}}, %[[ARG]])
func.func @copies_kept(%x: memref<?x8xf32>, %d: memref<?x4xf32>, %w: memref<8x4xf32>, %out: memref<8x4xf32>, %wx: memref<8x8xf32>) -> (memref<8x4xf32>, memref<8x8xf32>) {
  // Something between the copy and the call (here: a write of the copy's source).
  %new = memref.alloc() : memref<8x4xf32>
  memref.copy %w, %new : memref<8x4xf32> to memref<8x4xf32>
  %zero = arith.constant 0.0 : f32
  %i = arith.constant 0 : index
  memref.store %zero, %w[%i, %i] : memref<8x4xf32>
  call @tgc_mm_kept(%x, %d, %new) : (memref<?x8xf32>, memref<?x4xf32>, memref<8x4xf32>) -> ()
  // The copy is also the GEMM's A.
  %sq = memref.alloc() : memref<8x8xf32>
  memref.copy %wx, %sq : memref<8x8xf32> to memref<8x8xf32>
  %sqa = memref.cast %sq : memref<8x8xf32> to memref<?x8xf32>
  %b8 = memref.alloc() : memref<8x4xf32>
  call @tgc_mm_kept(%sqa, %d, %b8) : (memref<?x8xf32>, memref<?x4xf32>, memref<8x4xf32>) -> ()
  // Into a buffer that is not a fresh allocation (it may overlap the source).
  memref.copy %w, %out : memref<8x4xf32> to memref<8x4xf32>
  call @tgc_mm_kept(%x, %d, %out) : (memref<?x8xf32>, memref<?x4xf32>, memref<8x4xf32>) -> ()
  return %new, %sq : memref<8x4xf32>, memref<8x8xf32>
}

// CHECK-LABEL: func.func private @tgc_mm_wgrad_cin(
// CHECK-SAME:      %{{.*}}: memref<8x4xf32>, %[[CIN:.*]]: memref<8x4xf32>) attributes {tgc.gemm_cin}
// CHECK:         %[[C:.*]] = memref.cast %arg2
// CHECK:         %[[CI:.*]] = memref.cast %[[CIN]]
// CHECK-NEXT:    call @tgc_gemm_f32_6x16v8(%{{.*}}, %{{.*}}, %[[C]], %[[CI]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// PAR-LABEL:   func.func private @tgc_mm_wgrad_cin(
// PAR-SAME:        %{{.*}}: memref<8x4xf32>, %[[CIN:.*]]: memref<8x4xf32>) attributes {tgc.gemm_cin}
// PAR:           %[[CI:.*]] = memref.cast %[[CIN]]
// PAR-NEXT:      call @tgc_parallel_gemm_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[CI]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
