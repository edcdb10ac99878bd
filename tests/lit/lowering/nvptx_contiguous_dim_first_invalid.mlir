// tgc-nvptx-contiguous-dim-first refuses a parallel loop that fits the GPU's grid neither flattened
// (2.16e17 elements in blocks of 32 on x) nor in any order of its dims (75000 blocks of 8 on y
// whichever dim is there): one located error with its extents.
// RUN: not %tgc-opt %s -p tgc-nvptx-contiguous-dim-first 2>&1 | FileCheck %s
// CHECK-NOT: internal error

func.func @huge(%x: memref<600000x600000x600000xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = arith.constant 600000 : index
  %zero = arith.constant 0.0 : f32
  // CHECK: nvptx_contiguous_dim_first_invalid.mlir:[[@LINE+1]]:{{[0-9]+}}: error: a parallel loop over [600000, 600000, 600000] elements does not fit the GPU's grid in any order of its dims (at most 2147483647 x 65535 x 65535 blocks of 32 x 8 x 1 threads)
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%n, %n, %n) step (%c1, %c1, %c1) {
    memref.store %zero, %x[%i, %j, %k] : memref<600000x600000x600000xf32>
    scf.reduce
  }
  return
}
