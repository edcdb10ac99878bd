// tgc-gemm-autotune gives each f32/f64 matmul a tgc.gemm attribute (which tgc-blas-matmul obeys)
// from the GEMM choice cache in TGC_CACHE_DIR, and lists its choices in the module's
// tgc.gemm_choices (JSON, for an artifact's manifest). Without a cached choice (and without
// tune=true, which would time both GEMMs) a matmul gets the default rule's callee
// (gemm_tuning.default_callee): OpenBLAS for these tiny ones, the generated kernel where a dim is
// unknown; with one, the cached choice; an unknown row count takes the nearest cached shape of its
// kind; another kind (beta = 1 here) does not. A matmul that already has a tgc.gemm keeps it; an
// int matmul gets none (no GEMM for it). A matmul in a loop tagged tgc.parallel_for (or in a
// function called from one: the im2col convolution's per-image GEMM) gets the generated kernel when
// the session has more than one thread (source parallel-loop: OpenBLAS there would keep the loop
// on one thread), and is chosen as any other on one thread.
// RUN: rm -rf %t && env TGC_CACHE_DIR=%t OPENBLAS_NUM_THREADS=1 %tgc-opt %s -p tgc-gemm-autotune | FileCheck %s --check-prefix=EMPTY
// RUN: env TGC_CACHE_DIR=%t OPENBLAS_NUM_THREADS=1 %python -c "from tgc.lowering.cpu import gemm_tuning as g; g.store_choice(g.MatmulShape('f32', 4, 16, 8, threads=1), 'codegen', {'blas': 2e-6, 'codegen': 1e-6})"
// RUN: env TGC_CACHE_DIR=%t OPENBLAS_NUM_THREADS=1 %tgc-opt %s -p tgc-gemm-autotune | FileCheck %s --check-prefix=CACHED
// RUN: rm -rf %t && env TGC_CACHE_DIR=%t OPENBLAS_NUM_THREADS=2 %tgc-opt %s -p tgc-gemm-autotune | FileCheck %s --check-prefix=THREADS

// EMPTY:       module attributes {tgc.gemm_choices = "[{\22matmul\22: \22{{.*}}:{{[0-9]+}}:3\22, \22shape\22: {\22elem\22: \22f32\22, \22m\22: 4, \22n\22: 16, \22k\22: 8, \22trans_a\22: false, \22trans_b\22: false, \22beta_zero\22: true, \22threads\22: 1}, \22callee\22: \22blas\22, \22source\22: \22default\22, \22seconds\22: {}, \22measured_as\22: null}, {{.*}}\22m\22: null, {{.*}}\22callee\22: \22codegen\22, \22source\22: \22default\22{{.*}}\22beta_zero\22: false{{.*}}\22callee\22: \22blas\22, \22source\22: \22default\22
// EMPTY-LABEL: func.func @static_zero(
// EMPTY:         linalg.matmul {tgc.gemm = "blas"}
// EMPTY-LABEL: func.func @unknown_rows(
// EMPTY:         linalg.matmul {tgc.gemm = "codegen"}
// EMPTY-LABEL: func.func @accumulate(
// EMPTY:         linalg.matmul {tgc.gemm = "blas"}

// CACHED:       module attributes {tgc.gemm_choices = "[{{.*}}\22callee\22: \22codegen\22, \22source\22: \22cache\22, \22seconds\22: {\22blas\22: 2e-06, \22codegen\22: 1e-06}, \22measured_as\22: null}, {{.*}}\22callee\22: \22codegen\22, \22source\22: \22nearest\22, {{.*}}\22measured_as\22: \224x16x8 f32 ta=0 tb=0 beta=0 threads=1\22}, {{.*}}\22beta_zero\22: false, {{.*}}\22callee\22: \22blas\22, \22source\22: \22default\22
// CACHED-LABEL: func.func @static_zero(
// CACHED:         linalg.matmul {tgc.gemm = "codegen"}
// CACHED-LABEL: func.func @unknown_rows(
// CACHED:         linalg.matmul {tgc.gemm = "codegen"}
// CACHED-LABEL: func.func @accumulate(
// CACHED:         linalg.matmul {tgc.gemm = "blas"}
// CACHED-LABEL: func.func @chosen(
// CACHED:         linalg.matmul {tgc.gemm = "blas"}
// CACHED-LABEL: func.func @ints(
// CACHED:         linalg.matmul ins(
// CACHED-LABEL: func.func private @per_image_gemm(
// CACHED:         linalg.matmul {tgc.gemm = "blas"}
// CACHED-LABEL: func.func @in_a_loop(
// CACHED:         linalg.matmul {tgc.gemm = "blas"}

// THREADS:       module attributes {tgc.gemm_choices = "[{{.*}}\22source\22: \22parallel-loop\22{{.*}}\22source\22: \22parallel-loop\22
// THREADS-LABEL: func.func @static_zero(
// THREADS:         linalg.matmul {tgc.gemm = "blas"}
// THREADS-LABEL: func.func private @per_image_gemm(
// THREADS:         linalg.matmul {tgc.gemm = "codegen"}
// THREADS-LABEL: func.func @over_images(
// THREADS-NOT:     tgc.gemm
// THREADS-LABEL: func.func @in_a_loop(
// THREADS:         linalg.matmul {tgc.gemm = "codegen"}

func.func @static_zero(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}
func.func @unknown_rows(%a: memref<?x8xf32>, %b: memref<8x16xf32>, %c: memref<?x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x16xf32>) outs(%c : memref<?x16xf32>)
  return
}
func.func @accumulate(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}
func.func @chosen(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  linalg.matmul {tgc.gemm = "blas"} ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}
func.func @ints(%a: memref<4x8xi32>, %b: memref<8x16xi32>, %c: memref<4x16xi32>) {
  linalg.matmul ins(%a, %b : memref<4x8xi32>, memref<8x16xi32>) outs(%c : memref<4x16xi32>)
  return
}
func.func private @per_image_gemm(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}
func.func @over_images(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 32 : index
  scf.for %i = %c0 to %n step %c1 {
    func.call @per_image_gemm(%a, %b, %c) : (memref<4x8xf32>, memref<8x16xf32>, memref<4x16xf32>) -> ()
  } {tgc.parallel_for}
  return
}
func.func @in_a_loop(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 32 : index
  scf.for %i = %c0 to %n step %c1 {
    linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  } {tgc.parallel_for}
  return
}
