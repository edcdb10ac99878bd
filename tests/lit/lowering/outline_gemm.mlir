// tgc-outline-gemm moves each f32/f64 linalg.matmul on tensors into a private function, out of the
// reach of elementwise fusion; a zero fill feeding it moves in too, so tgc-blas-matmul sees
// fill-then-matmul and calls BLAS with beta = 0 (functions named *_z).
// RUN: %tgc-opt %s -p tgc-outline-gemm | FileCheck %s

// Two matmuls sharing one zero fill of a tensor.empty (what cse makes of two identical fills): each
// gets a tensor.empty of its own and a zero-filling function; the shared fill is gone.
// CHECK:       func.func private @[[MM:tgc_mm_dx8xf32_8x4xf32_dx4xf32_m[0-9a-f]+_z]](%{{.*}}: tensor<?x8xf32>, %{{.*}}: tensor<8x4xf32>, %[[C:.*]]: tensor<?x4xf32>)
// CHECK-NEXT:    %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%[[C]] : tensor<?x4xf32>)
// CHECK-NEXT:    linalg.matmul {{.*}} outs(%[[F]] : tensor<?x4xf32>)
// CHECK-LABEL: func.func @shared_zero_fill(
// CHECK-NOT:     linalg.fill
// CHECK-DAG:     %[[E1:.*]] = tensor.empty(%{{.*}}) : tensor<?x4xf32>
// CHECK-DAG:     %[[E2:.*]] = tensor.empty(%{{.*}}) : tensor<?x4xf32>
// CHECK:         call @[[MM]](%{{.*}}, %{{.*}}, %[[E2]])
// CHECK:         call @[[MM]](%{{.*}}, %{{.*}}, %[[E1]])
// CHECK-NOT:     linalg.matmul
func.func @shared_zero_fill(%a: tensor<?x8xf32>, %b: tensor<8x4xf32>, %c: tensor<8x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %a, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%n) : tensor<?x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<?x4xf32>) -> tensor<?x4xf32>
  %p = linalg.matmul ins(%a, %b : tensor<?x8xf32>, tensor<8x4xf32>) outs(%z : tensor<?x4xf32>) -> tensor<?x4xf32>
  %q = linalg.matmul ins(%a, %c : tensor<?x8xf32>, tensor<8x4xf32>) outs(%z : tensor<?x4xf32>) -> tensor<?x4xf32>
  return %p, %q : tensor<?x4xf32>, tensor<?x4xf32>
}

// An accumulator that is not a zero fill is passed as it is (BLAS then accumulates, beta = 1). A
// matmul already alone in its function (conv's im2col GEMMs are built that way) stays.
// CHECK-LABEL: func.func @accumulate(
// CHECK:         call @tgc_mm_2x3xf32_3x2xf32_2x2xf32_m{{[0-9a-f]+}}(%{{.*}}, %{{.*}}, %arg2)
// CHECK-LABEL: func.func @alone(
// CHECK-NEXT:    linalg.matmul
func.func @accumulate(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %acc: tensor<2x2xf32>) -> (tensor<2x2xf32>, tensor<2x2xf32>) {
  %p = linalg.matmul ins(%a, %b : tensor<2x3xf32>, tensor<3x2xf32>) outs(%acc : tensor<2x2xf32>) -> tensor<2x2xf32>
  %e = tensor.empty() : tensor<2x2xf32>
  return %p, %e : tensor<2x2xf32>, tensor<2x2xf32>
}

func.func @alone(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %acc: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %p = linalg.matmul ins(%a, %b : tensor<2x3xf32>, tensor<3x2xf32>) outs(%acc : tensor<2x2xf32>) -> tensor<2x2xf32>
  return %p : tensor<2x2xf32>
}
