// tgc-blas-matmul hands f32/f64 linalg.matmul on memrefs to numpy's OpenBLAS (ILP64 CBLAS): row-major
// (101), transposes read from the indexing maps as flags (111 no, 112 yes), a zero fill right before the
// matmul becomes beta = 0 and disappears, otherwise BLAS accumulates (beta = 1). With an unknown row
// count the one-row case goes to ?gemv at run time. Other element types keep the linalg op.
// With gemm=codegen the same matmuls call tgc's generated kernel (tgc/lowering/cpu/gemm_kernel.py), defined
// once per element type, with the operands cast to its strided types and the transposes as i1 flags; a
// matmul's tgc.gemm attribute chooses its callee whatever the option says. TGC_GEMM_ISA=avx2 fixes the
// kernel's blocking (and so its name) on any host. With kernel=external (a Session's compiles) the module
// only declares the kernel, which the JIT links from the copy compiled once per process; the calls are
// the same.
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p tgc-blas-matmul | FileCheck %s
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen}' | FileCheck %s --check-prefix=GEN
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen kernel=external}' | FileCheck %s --check-prefix=EXT
// RUN: not %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen kernel=shared}' 2>&1 | FileCheck %s --check-prefix=BAD-PLACE
// With parallel=true the kernel's address and its register tile (MR, NR) go to the parallel runtime's
// driver (tgc/lowering/cpu/parallel_gemm.py), which an inline module defines as a weak serial fallback
// (the kernel on the whole GEMM, replaced by the runtime linked into an artifact's library) and an
// external one only declares.
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen parallel=true}' | FileCheck %s --check-prefix=PAR
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen kernel=external parallel=true}' | FileCheck %s --check-prefix=PAR-EXT

// PAR:         func.func @tgc_parallel_gemm_f64(%[[K:.*]]: (memref<?x?xf64, strided<[?, 1], offset: ?>>, {{.*}}) -> (), %[[A:[^:]*]]: memref{{.*}}, %[[B:[^:]*]]: memref{{.*}}, %[[C:[^:]*]]: memref{{.*}}, %[[CI:[^:]*]]: memref{{.*}}, %[[TA:[^:]*]]: i1, %[[TB:[^:]*]]: i1, %[[AL:[^:]*]]: f64, %[[BE:[^:]*]]: f64, %{{.*}}: i64, %{{.*}}: i64) attributes {llvm.linkage = #llvm.linkage<weak>} {
// PAR-NEXT:      call_indirect %[[K]](%[[A]], %[[B]], %[[C]], %[[CI]], %[[TA]], %[[TB]], %[[AL]], %[[BE]])
// PAR-NEXT:      return
// PAR-LABEL:   func.func @static_zero(
// PAR:           %[[F:.*]] = constant @tgc_gemm_f32_6x16v8 :
// PAR-NEXT:      %[[MR:.*]] = arith.constant 6 : i64
// PAR-NEXT:      %[[NR:.*]] = arith.constant 16 : i64
// PAR-NEXT:      call @tgc_parallel_gemm_f32(%[[F]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[MR]], %[[NR]])
// PAR-NOT:       call @tgc_gemm_

// PAR-EXT:     func.func private @tgc_parallel_gemm_f64((memref<?x?xf64, strided<[?, 1], offset: ?>>, {{.*}}) -> (), {{.*}}, i64, i64){{$}}
// PAR-EXT-NOT: llvm.linkage
// PAR-EXT-LABEL: func.func @static_zero(
// PAR-EXT:       call @tgc_parallel_gemm_f32(

// EXT:         func.func private @tgc_gemm_f64_6x8v4(memref<?x?xf64, strided<[?, 1], offset: ?>>, memref<?x?xf64, strided<[?, 1], offset: ?>>, memref<?x?xf64, strided<[?, 1], offset: ?>>, memref<?x?xf64, strided<[?, 1], offset: ?>>, i1, i1, f64, f64){{$}}
// EXT-NEXT:    func.func private @tgc_gemm_f32_6x16v8(memref<?x?xf32, strided<[?, 1], offset: ?>>, memref<?x?xf32, strided<[?, 1], offset: ?>>, memref<?x?xf32, strided<[?, 1], offset: ?>>, memref<?x?xf32, strided<[?, 1], offset: ?>>, i1, i1, f32, f32){{$}}
// EXT-NOT:     vector.fma
// EXT-NOT:     func.func private @tgc_gemm
// EXT-LABEL:   func.func @static_zero(
// EXT:           call @tgc_gemm_f32_6x16v8(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// EXT-LABEL:   func.func @transposed_accumulate(
// EXT:           call @tgc_gemm_f64_6x8v4(
// EXT-NOT:     vector.fma

// BAD-PLACE: unknown place 'shared' for the generated GEMM (tgc-blas-matmul's kernel option): choose one of inline, external

// GEN:         func.func private @tgc_gemm_f64_6x8v4(%{{.*}}: memref<?x?xf64, strided<[?, 1], offset: ?>>, %{{.*}}: memref<?x?xf64, strided<[?, 1], offset: ?>>, %{{.*}}: memref<?x?xf64, strided<[?, 1], offset: ?>>, %{{.*}}: memref<?x?xf64, strided<[?, 1], offset: ?>>, %{{.*}}: i1, %{{.*}}: i1, %{{.*}}: f64, %{{.*}}: f64)
// GEN:         vector.fma
// GEN:         func.func private @tgc_gemm_f32_6x16v8(
// GEN-NOT:     func.func private @tgc_gemm

// GEN-LABEL:   func.func @static_zero(
// GEN-NOT:       linalg.
// GEN:           %[[A:.*]] = memref.cast %arg0 : memref<4x8xf32> to memref<?x?xf32, strided<[?, 1], offset: ?>>
// GEN-NEXT:      %[[B:.*]] = memref.cast %arg1 : memref<8x16xf32> to memref<?x?xf32, strided<[?, 1], offset: ?>>
// GEN-NEXT:      %[[C:.*]] = memref.cast %arg2 : memref<4x16xf32> to memref<?x?xf32, strided<[?, 1], offset: ?>>
// GEN-NEXT:      %[[NO:.*]] = arith.constant false
// GEN-NEXT:      %[[NO2:.*]] = arith.constant false
// GEN-NEXT:      %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// GEN-NEXT:      %[[BETA:.*]] = arith.constant 0.000000e+00 : f32
// GEN-NEXT:      call @tgc_gemm_f32_6x16v8(%[[A]], %[[B]], %[[C]], %[[C]], %[[NO]], %[[NO2]], %[[ONE]], %[[BETA]])
// GEN-NOT:       linalg.

// GEN-LABEL:   func.func @transposed_accumulate(
// GEN:           %[[T:.*]] = arith.constant true
// GEN-NEXT:      %[[T2:.*]] = arith.constant true
// GEN-NEXT:      %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// GEN-NEXT:      %[[BETA:.*]] = arith.constant 1.000000e+00 : f64
// GEN-NEXT:      call @tgc_gemm_f64_6x8v4(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[T]], %[[T2]], %[[ONE]], %[[BETA]])

// GEN-LABEL:   func.func @dynamic_rows(
// GEN-NOT:       gemv
// GEN:           call @tgc_gemm_f32_6x16v8(

// GEN-LABEL:   func.func @integers_stay(
// GEN:           linalg.matmul

// CHECK-LABEL: func.func @static_zero(
// CHECK-NOT:     linalg.
// CHECK:         %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT:    %[[BETA:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[ROW:.*]] = arith.constant 101 : i32
// CHECK-NEXT:    %[[NO:.*]] = arith.constant 111 : i32
// CHECK-NEXT:    %[[NO2:.*]] = arith.constant 111 : i32
// CHECK-NEXT:    call @scipy_cblas_sgemm64_(%[[ROW]], %[[NO]], %[[NO2]], %{{.*}}, %{{.*}}, %{{.*}}, %[[ONE]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[BETA]],
// CHECK-NOT:     linalg.
// CHECK:         return
func.func @static_zero(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}

// CHECK-LABEL: func.func @transposed_accumulate(
// CHECK:         %[[ONE:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %[[BETA:.*]] = arith.constant 1.000000e+00 : f64
// CHECK-NEXT:    %[[ROW:.*]] = arith.constant 101 : i32
// CHECK-NEXT:    %[[T:.*]] = arith.constant 112 : i32
// CHECK-NEXT:    %[[T2:.*]] = arith.constant 112 : i32
// CHECK-NEXT:    call @scipy_cblas_dgemm64_(%[[ROW]], %[[T]], %[[T2]], %{{.*}}, %{{.*}}, %{{.*}}, %[[ONE]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[BETA]],
// CHECK-NOT:     linalg.matmul
func.func @transposed_accumulate(%a: memref<8x4xf64>, %b: memref<16x8xf64>, %c: memref<4x16xf64>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %b : memref<8x4xf64>, memref<16x8xf64>) outs(%c : memref<4x16xf64>)
  return
}

// CHECK-LABEL: func.func @dynamic_rows(
// CHECK:         %[[M1:.*]] = arith.cmpi eq, %{{.*}}, %{{.*}} : i64
// CHECK:         scf.if
// CHECK:           func.call @scipy_cblas_sgemv64_(
// CHECK:         } else {
// CHECK:           func.call @scipy_cblas_sgemm64_(
func.func @dynamic_rows(%a: memref<?x8xf32>, %b: memref<8x16xf32>, %c: memref<?x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x16xf32>) outs(%c : memref<?x16xf32>)
  return
}

// CHECK-LABEL: func.func @integers_stay(
// CHECK:         linalg.matmul ins(%{{.*}}, %{{.*}} : memref<4x8xi32>, memref<8x16xi32>)
// CHECK-NOT:     call
func.func @integers_stay(%a: memref<4x8xi32>, %b: memref<8x16xi32>, %c: memref<4x16xi32>) {
  linalg.matmul ins(%a, %b : memref<4x8xi32>, memref<8x16xi32>) outs(%c : memref<4x16xi32>)
  return
}

// A matmul's tgc.gemm attribute overrides the pass option, either way.
// CHECK-LABEL: func.func @chosen_per_matmul(
// CHECK:         call @tgc_gemm_f32_6x16v8(
// CHECK:         call @scipy_cblas_sgemm64_(
// GEN-LABEL:   func.func @chosen_per_matmul(
// GEN:           call @tgc_gemm_f32_6x16v8(
// GEN:           call @scipy_cblas_sgemm64_(
func.func @chosen_per_matmul(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  linalg.matmul {tgc.gemm = "codegen"} ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  linalg.matmul {tgc.gemm = "blas"} ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}
