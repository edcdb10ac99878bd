// tgc-blas-matmul with gemm=codegen fuses the epilogue that tgc-gemm-epilogue leaves right after a
// zero-filled matmul (a generic in place over C: ins(bias) outs(C), body act(C + bias)) into one call
// of the generated kernel's variant for the activation (tgc_gemm_*_relu, _relu6): the bias becomes
// the kernel's Cin with beta = 1, an M x N view of the bias with row stride 0, and no loop over C is
// left. Without a bias, Cin is C and beta 0. OpenBLAS cannot: there the generic stays after the call.
// A static M of 1 with the parallel driver is not fused (the driver splits one row by K).
// Not fused: an op between the matmul and the generic, a C that was not zero-filled (the kernel's
// beta term is taken), a bias that is not contiguous.
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen}' | FileCheck %s
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=codegen kernel=external parallel=true}' | FileCheck %s --check-prefix=PAR
// RUN: env TGC_GEMM_ISA=avx2 %tgc-opt %s -p 'tgc-blas-matmul{gemm=blas}' | FileCheck %s --check-prefix=BLAS

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>

// CHECK-DAG:   func.func private @tgc_gemm_f32_6x16v8(
// CHECK-DAG:   func.func private @tgc_gemm_f32_6x16v8_relu(
// CHECK-DAG:   func.func private @tgc_gemm_f32_6x16v8_relu6(
// The relu variant applies max(x, 0) to the tile on the last K block only.
// CHECK-DAG:   arith.maximumf %{{.*}} : vector<8xf32>

// CHECK-LABEL: func.func private @tgc_mm_dense_z_ep_brelu(
// CHECK-SAME:      %[[A:.*]]: memref<?x8xf32>, %[[B:.*]]: memref<8x4xf32>, %[[BIAS:.*]]: memref<4xf32>, %[[C:.*]]: memref<?x4xf32>)
// CHECK-NOT:     linalg.fill
// CHECK-DAG:     %[[CC:.*]] = memref.cast %[[C]]
// CHECK-DAG:     %[[BASE:[a-z_0-9]+]], %[[OFF:[a-z_0-9]+]], %{{.*}}, %{{.*}} = memref.extract_strided_metadata %[[BIAS]]
// The row stride is a constant 0 (MLIR names it %c0_N).
// CHECK:         %[[ROWS:.*]] = memref.reinterpret_cast %[[BASE]] to offset: [%[[OFF]]], sizes: [%{{.*}}, %{{.*}}], strides: [%c0{{(_[0-9]+)?}}, 1]
// CHECK:         %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:         %[[BETA:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:         call @tgc_gemm_f32_6x16v8_relu(%{{.*}}, %{{.*}}, %[[CC]], %[[ROWS]], %{{.*}}, %{{.*}}, %[[ONE]], %[[BETA]])
// CHECK-NOT:     linalg.generic
// CHECK:         return

// Through the parallel driver, which splits a one-row GEMM by K into partial sums it adds up after
// the kernel calls: an activation must not see them apart, so one row (M = 1, known at run time
// here) takes the plain kernel and then the generic, every other M the fused kernel.
// PAR-LABEL:   func.func private @tgc_mm_dense_z_ep_brelu(
// PAR:           %[[M:.*]] = memref.dim %{{.*}}, %c0
// PAR:           %[[ONE_ROW:.*]] = arith.cmpi eq, %[[M]], %c1
// PAR:           scf.if %[[ONE_ROW]] {
// PAR:             %[[PLAIN:.*]] = {{(func.)?}}constant @tgc_gemm_f32_6x16v8 :
// PAR:             func.call @tgc_parallel_gemm_f32(%[[PLAIN]],
// PAR-NEXT:        linalg.generic
// PAR:           } else {
// PAR:             %[[K:.*]] = {{(func.)?}}constant @tgc_gemm_f32_6x16v8_relu :
// PAR:             func.call @tgc_parallel_gemm_f32(%[[K]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// PAR-NOT:         linalg.generic
// PAR:           }
// PAR-NEXT:      return

// BLAS-LABEL:  func.func private @tgc_mm_dense_z_ep_brelu(
// BLAS:          call @scipy_cblas_sgemm64_(
// BLAS:          linalg.generic {{.*}} ins(%{{.*}} : memref<4xf32>) outs(%{{.*}} : memref<?x4xf32>)
// BLAS:            arith.addf
// BLAS:            arith.maximumf
func.func private @tgc_mm_dense_z_ep_brelu(%a: memref<?x8xf32>, %b: memref<8x4xf32>, %bias: memref<4xf32>, %c: memref<?x4xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x4xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x4xf32>) outs(%c : memref<?x4xf32>)
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%bias : memref<4xf32>) outs(%c : memref<?x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// relu6 without a bias: Cin is C, beta 0.
// PAR-LABEL:   func.func private @tgc_mm_dense_z_ep_relu6(
// BLAS-LABEL:  func.func private @tgc_mm_dense_z_ep_relu6(
// CHECK-LABEL: func.func private @tgc_mm_dense_z_ep_relu6(
// CHECK-SAME:      %{{.*}}: memref<?x8xf32>, %{{.*}}: memref<8x4xf32>, %[[C:.*]]: memref<?x4xf32>)
// CHECK:         %[[CC:.*]] = memref.cast %[[C]]
// CHECK:         %[[BETA:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         call @tgc_gemm_f32_6x16v8_relu6(%{{.*}}, %{{.*}}, %[[CC]], %[[CC]], %{{.*}}, %{{.*}}, %{{.*}}, %[[BETA]])
// CHECK-NOT:     linalg.generic
func.func private @tgc_mm_dense_z_ep_relu6(%a: memref<?x8xf32>, %b: memref<8x4xf32>, %c: memref<?x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<?x4xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x4xf32>) outs(%c : memref<?x4xf32>)
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%c : memref<?x4xf32>) {
  ^bb0(%out: f32):
    %r = arith.maximumf %out, %zero : f32
    %r6 = arith.minimumf %r, %six : f32
    linalg.yield %r6 : f32
  }
  return
}

// One row through the parallel driver: the plain kernel, then the generic.
// PAR-LABEL:   func.func private @tgc_mm_one_row_z_ep_brelu(
// PAR:           {{(func.)?}}constant @tgc_gemm_f32_6x16v8 :
// PAR:           call @tgc_parallel_gemm_f32(
// PAR-NEXT:      linalg.generic
// CHECK-LABEL: func.func private @tgc_mm_one_row_z_ep_brelu(
// CHECK:         call @tgc_gemm_f32_6x16v8_relu(
// CHECK-NOT:     linalg.generic
func.func private @tgc_mm_one_row_z_ep_brelu(%a: memref<1x8xf32>, %b: memref<8x4xf32>, %bias: memref<4xf32>, %c: memref<1x4xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<1x4xf32>)
  linalg.matmul ins(%a, %b : memref<1x8xf32>, memref<8x4xf32>) outs(%c : memref<1x4xf32>)
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%bias : memref<4xf32>) outs(%c : memref<1x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }
  return
}

// Not fused: a C that was not zero-filled, an op between the matmul and the generic, a strided
// bias (a column of a matrix), a bias inside C (its first row, which the kernel would overwrite
// while it reads it). The plain kernel runs, then the generic.
// CHECK-LABEL: func.func @left_alone(
// CHECK:         call @tgc_gemm_f32_6x16v8(
// CHECK-NEXT:    linalg.generic
// CHECK:         call @tgc_gemm_f32_6x16v8(
// CHECK-NEXT:    memref.store
// CHECK-NEXT:    linalg.generic
// CHECK:         call @tgc_gemm_f32_6x16v8(
// CHECK-NEXT:    linalg.generic
// CHECK:         call @tgc_gemm_f32_6x16v8(
// CHECK-NEXT:    linalg.generic
func.func @left_alone(%a: memref<?x8xf32>, %b: memref<8x4xf32>, %bias: memref<4xf32>, %c: memref<?x4xf32>, %m: memref<4x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %i0 = arith.constant 0 : index
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x4xf32>) outs(%c : memref<?x4xf32>)
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%bias : memref<4xf32>) outs(%c : memref<?x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%c : memref<?x4xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x4xf32>) outs(%c : memref<?x4xf32>)
  memref.store %zero, %bias[%i0] : memref<4xf32>
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%bias : memref<4xf32>) outs(%c : memref<?x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  }
  %column = memref.subview %m[0, 1] [4, 1] [1, 1] : memref<4x3xf32> to memref<4xf32, strided<[3], offset: 1>>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x4xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x4xf32>) outs(%c : memref<?x4xf32>)
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%column : memref<4xf32, strided<[3], offset: 1>>) outs(%c : memref<?x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  }
  %row = memref.subview %c[0, 0] [1, 4] [1, 1] : memref<?x4xf32> to memref<4xf32, strided<[1]>>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x4xf32>)
  linalg.matmul ins(%a, %b : memref<?x8xf32>, memref<8x4xf32>) outs(%c : memref<?x4xf32>)
  linalg.generic {indexing_maps = [#col, #id], iterator_types = ["parallel", "parallel"]} ins(%row : memref<4xf32, strided<[1]>>) outs(%c : memref<?x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  }
  return
}
