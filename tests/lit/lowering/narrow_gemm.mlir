// tgc-narrow-gemm: an outlined f32/f64 matmul whose C is 2 to 16 (f32 on AVX-512) columns wide, B
// not transposed, becomes a call of a narrow kernel defined once per module: A @ B (nn) or A^T @ B
// (tn), the zero fill before it dropped (C = A B) or, without one, C += A B (_acc). N = 1, N past
// one vector, a transposed B and a function with other work keep the general path.
// RUN: %tgc-opt %s -p 'tgc-narrow-gemm{isa=avx512}' | FileCheck %s

// CHECK-DAG:   func.func private @tgc_narrow_gemm_f32_16l_n10_nn(%{{.*}}: memref<?x?xf32, strided<[?, 1], offset: ?>>
// CHECK-DAG:   func.func private @tgc_narrow_gemm_f32_16l_n10_tn_acc(
// CHECK-DAG:   func.func private @tgc_narrow_gemm_f64_8l_n3_nn(

// CHECK-LABEL: func.func private @forward_z(
// CHECK-NOT:     linalg.fill
// CHECK:         %[[A:.*]] = memref.cast %{{.*}} : memref<?x784xf32> to memref<?x?xf32, strided<[?, 1], offset: ?>>
// CHECK:         call @tgc_narrow_gemm_f32_16l_n10_nn(%[[A]],
// CHECK-NOT:     linalg.matmul
// CHECK:         return
func.func private @forward_z(%a: memref<?x784xf32>, %b: memref<784x10xf32>, %c: memref<?x10xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x10xf32>)
  linalg.matmul ins(%a, %b : memref<?x784xf32>, memref<784x10xf32>) outs(%c : memref<?x10xf32>)
  return
}

// The weight's SGD update: C += A^T B. Its one call (@artifact_step's, below) reads the weight as
// Cin through @update_cin, so @update itself is dropped.
// CHECK-NOT:   func.func private @update(
func.func private @update(%a: memref<?x784xf32>, %b: memref<?x10xf32>, %c: memref<784x10xf32>) {
  linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d0)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>] ins(%a, %b : memref<?x784xf32>, memref<?x10xf32>) outs(%c : memref<784x10xf32>)
  return
}

// CHECK-LABEL: func.func private @f64_z(
// CHECK:         call @tgc_narrow_gemm_f64_8l_n3_nn(
func.func private @f64_z(%a: memref<5x7xf64>, %b: memref<7x3xf64>, %c: memref<5x3xf64>) {
  %zero = arith.constant 0.0 : f64
  linalg.fill ins(%zero : f64) outs(%c : memref<5x3xf64>)
  linalg.matmul ins(%a, %b : memref<5x7xf64>, memref<7x3xf64>) outs(%c : memref<5x3xf64>)
  return
}

// CHECK-LABEL: func.func private @one_column(
// CHECK:         linalg.matmul
func.func private @one_column(%a: memref<?x8xf32>, %b: memref<8x1xf32>, %c: memref<?x1xf32>) {
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x1xf32>) outs(%c : memref<?x1xf32>)
  return
}

// CHECK-LABEL: func.func private @seventeen(
// CHECK:         linalg.matmul
func.func private @seventeen(%a: memref<?x8xf32>, %b: memref<8x17xf32>, %c: memref<?x17xf32>) {
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x17xf32>) outs(%c : memref<?x17xf32>)
  return
}

// CHECK-LABEL: func.func private @b_transposed(
// CHECK:         linalg.matmul
func.func private @b_transposed(%a: memref<?x8xf32>, %b: memref<10x8xf32>, %c: memref<?x10xf32>) {
  linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>] ins(%a, %b : memref<?x8xf32>, memref<10x8xf32>) outs(%c : memref<?x10xf32>)
  return
}

// Other work beside the matmul (an epilogue joined to it): left to the general GEMM.
// CHECK-LABEL: func.func private @with_bias(
// CHECK:         linalg.matmul
func.func private @with_bias(%a: memref<?x8xf32>, %b: memref<8x10xf32>, %c: memref<?x10xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x10xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x10xf32>) outs(%c : memref<?x10xf32>)
  linalg.fill ins(%zero : f32) outs(%c : memref<?x10xf32>)
  return
}

// A public function is not tgc-outline-gemm's: left alone.
// CHECK-LABEL: func.func @main(
// CHECK:         linalg.matmul
func.func @main(%a: memref<?x8xf32>, %b: memref<8x10xf32>, %c: memref<?x10xf32>) {
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x10xf32>) outs(%c : memref<?x10xf32>)
  return
}

// An artifact's update of a weight it may not write: the copy into the fresh buffer folds into a
// variant of the update that reads the weight as the kernel's Cin (as tgc-blas-matmul's fold).
// CHECK-LABEL: func.func @artifact_step(
// CHECK-SAME:    %[[X:[^:]*]]: memref<?x784xf32>, %[[D:[^:]*]]: memref<?x10xf32>, %[[W:[^:]*]]: memref<784x10xf32>)
// CHECK:         %[[NEW:.*]] = memref.alloc() : memref<784x10xf32>
// CHECK-NOT:     memref.copy
// CHECK:         call @update_cin(%[[X]], %[[D]], %[[NEW]], %[[W]])
// CHECK:       func.func private @update_cin(
// CHECK-SAME:    %{{[^:]*}}: memref<?x784xf32>, %{{[^:]*}}: memref<?x10xf32>, %[[C:[^:]*]]: memref<784x10xf32>, %[[CIN:[^:]*]]: memref<784x10xf32>)
// CHECK-DAG:     %[[CV:.*]] = memref.cast %[[C]]
// CHECK-DAG:     %[[CINV:.*]] = memref.cast %[[CIN]]
// CHECK:         call @tgc_narrow_gemm_f32_16l_n10_tn_acc(%{{.*}}, %{{.*}}, %[[CV]], %[[CINV]])
func.func @artifact_step(%x: memref<?x784xf32>, %d: memref<?x10xf32>, %w: memref<784x10xf32>) -> memref<784x10xf32> {
  %new = memref.alloc() : memref<784x10xf32>
  memref.copy %w, %new : memref<784x10xf32> to memref<784x10xf32>
  call @update(%x, %d, %new) : (memref<?x784xf32>, memref<?x10xf32>, memref<784x10xf32>) -> ()
  return %new : memref<784x10xf32>
}
