// tgc-accel-tile-matmul refuses what the accelerator cannot run: one located error each.
// RUN: not %tgc-opt %s --split-input-file -p tgc-accel-tile-matmul 2>&1 | FileCheck %s
// CHECK-NOT: internal error

// CHECK: accel_tile_matmul_invalid.mlir:[[@LINE+2]]:{{[0-9]+}}: error: the accelerator's matmul reads its operands as given or transposed
func.func @other_maps(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %c: memref<4x2xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>,
                                 affine_map<(m, n, k) -> (n, m)>]
      ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<4x2xf32>)
  return
}

// -----

// CHECK: accel_tile_matmul_invalid.mlir:[[@LINE+2]]:{{[0-9]+}}: error: the accelerator multiplies float32 or float64 matrices, not memref<2x3xi32>
func.func @integers(%a: memref<2x3xi32>, %b: memref<3x4xi32>, %c: memref<2x4xi32>) {
  linalg.matmul ins(%a, %b : memref<2x3xi32>, memref<3x4xi32>) outs(%c : memref<2x4xi32>)
  return
}

// -----

// CHECK: accel_tile_matmul_invalid.mlir:[[@LINE+2]]:{{[0-9]+}}: error: the accelerator's matmul needs static shapes, not memref<?x3xf32>
func.func @dynamic(%a: memref<?x3xf32>, %b: memref<3x4xf32>, %c: memref<?x4xf32>) {
  linalg.matmul ins(%a, %b : memref<?x3xf32>, memref<3x4xf32>) outs(%c : memref<?x4xf32>)
  return
}

// -----

// A's kept tiles for one row of a K this large exceed the on-chip buffer.
// CHECK: accel_tile_matmul_invalid.mlir:[[@LINE+2]]:{{[0-9]+}}: error: a matmul with K = 20000000 and N = 1 does not fit the on-chip buffer
func.func @huge(%a: memref<1x20000000xf32>, %b: memref<20000000x1xf32>, %c: memref<1x1xf32>) {
  linalg.matmul ins(%a, %b : memref<1x20000000xf32>, memref<20000000x1xf32>) outs(%c : memref<1x1xf32>)
  return
}
