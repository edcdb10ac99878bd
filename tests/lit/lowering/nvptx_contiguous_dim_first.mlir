// tgc-nvptx-contiguous-dim-first: an outermost scf.parallel's dims are reversed (the buffers'
// contiguous dim first, which the tiling and gpu-map-parallel-loops put on threadIdx.x) when the
// grid then fits (y and z at most 65535 blocks of 8 and 1) and the last dim is no narrower than a
// warp; else the loop runs over the flat element index. A 1-d loop longer than a block of 32 x 8
// threads becomes rows of 32 (its warps each take 32 consecutive elements, its blocks 256
// threads); loops with reductions keep their order.
// RUN: %tgc-opt %s -p tgc-nvptx-contiguous-dim-first | FileCheck %s

// A 37x50 elementwise loop: the columns first, each induction variable still indexes its dim.
// CHECK-LABEL: func.func @rows_by_cols(
// CHECK:         scf.parallel (%[[J:.+]], %[[I:.+]]) = (%c0, %c0) to (%c50, %c37) step (%c1, %c1) {
// CHECK-NEXT:      memref.load %{{.+}}[%[[I]], %[[J]]]
func.func @rows_by_cols(%x: memref<37x50xf32>, %y: memref<37x50xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c37 = arith.constant 37 : index
  %c50 = arith.constant 50 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c37, %c50) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<37x50xf32>
    memref.store %v, %y[%i, %j] : memref<37x50xf32>
    scf.reduce
  }
  return
}

// Rank 3: reversed, the leading dim (2 blocks of 1) on z.
// CHECK-LABEL: func.func @rank3(
// CHECK:         scf.parallel (%[[K:.+]], %[[J:.+]], %[[I:.+]]) = (%c0, %c0, %c0) to (%c40, %c4, %c2) step (%c1, %c1, %c1) {
// CHECK-NEXT:      memref.load %{{.+}}[%[[I]], %[[J]], %[[K]]]
func.func @rank3(%x: memref<2x4x40xf32>, %y: memref<2x4x40xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c40 = arith.constant 40 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c2, %c4, %c40) step (%c1, %c1, %c1) {
    %v = memref.load %x[%i, %j, %k] : memref<2x4x40xf32>
    memref.store %v, %y[%i, %j, %k] : memref<2x4x40xf32>
    scf.reduce
  }
  return
}

// 2_000_000 rows would be 250_000 blocks of 8 on y (over 65535): one loop over the 32M elements
// (too many for rows of 32 on y), each index recomputed from the flat one.
// CHECK-LABEL: func.func @tall(
// CHECK:         scf.parallel (%[[E:[^)]+]]) = (%{{.+}}) to (%c32000000) step (%{{.+}}) {
// CHECK-NEXT:      %[[W:.+]] = arith.constant 16 : index
// CHECK-NEXT:      %[[ROW:.+]] = arith.divui %[[E]], %[[W]] : index
// CHECK:           %[[COL:.+]] = arith.remui %[[E]], %{{.+}} : index
// CHECK-NEXT:      memref.load %{{.+}}[%[[ROW]], %[[COL]]]
func.func @tall(%x: memref<2000000x16xf32>, %y: memref<2000000x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c2000000 = arith.constant 2000000 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c2000000, %c16) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<2000000x16xf32>
    memref.store %v, %y[%i, %j] : memref<2000000x16xf32>
    scf.reduce
  }
  return
}

// Rank 3 of 600000 elements whose last dim (3) is narrower than a warp: rows of 32 elements of
// the flat index i, checked against 600000, with i / 6, i / 3 % 2 and i % 3 as the indices.
// CHECK-LABEL: func.func @long_leading(
// CHECK:         scf.parallel (%[[C:.+]], %[[R:.+]]) = (%{{.+}}, %{{.+}}) to (%c32, %c18750) step
// CHECK:           %[[I:.+]] = arith.addi %{{.+}}, %[[C]] : index
// CHECK:           arith.cmpi ult, %[[I]], %c600000 : index
// CHECK-NEXT:      scf.if
// CHECK:             %[[D0:.+]] = arith.divui %[[I]], %c6 : index
// CHECK:             %[[D1:.+]] = arith.divui %[[I]], %c3{{.*}} : index
// CHECK:             %[[M1:.+]] = arith.remui %[[D1]], %c2{{.*}} : index
// CHECK:             %[[M2:.+]] = arith.remui %[[I]], %c3{{.*}} : index
// CHECK-NEXT:        memref.load %{{.+}}[%[[D0]], %[[M1]], %[[M2]]]
func.func @long_leading(%x: memref<100000x2x3xf32>, %y: memref<100000x2x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c100000 = arith.constant 100000 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c100000, %c2, %c3) step (%c1, %c1, %c1) {
    %v = memref.load %x[%i, %j, %k] : memref<100000x2x3xf32>
    memref.store %v, %y[%i, %j, %k] : memref<100000x2x3xf32>
    scf.reduce
  }
  return
}

// A loop with a reduction keeps its order.
// CHECK-LABEL: func.func @with_reduction(
// CHECK:         scf.parallel (%{{.+}}, %{{.+}}) = (%c0, %c0) to (%c3, %c4) step (%c1, %c1) init
func.func @with_reduction(%x: memref<3x4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.parallel (%i, %j) = (%c0, %c0) to (%c3, %c4) step (%c1, %c1) init (%zero) -> f32 {
    %v = memref.load %x[%i, %j] : memref<3x4xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}

// 1000 elements: rows of 32 (c < 32, r < 32) with i = r * 32 + c checked against 1000.
// CHECK-LABEL: func.func @long_1d(
// CHECK:         scf.parallel (%[[C:.+]], %[[R:.+]]) = (%{{.+}}, %{{.+}}) to (%c32{{.*}}, %c32{{.*}}) step
// CHECK:           %[[ROW:.+]] = arith.muli %[[R]], %c32{{.*}} : index
// CHECK-NEXT:      %[[I:.+]] = arith.addi %[[ROW]], %[[C]] : index
// CHECK:           %[[IN:.+]] = arith.cmpi ult, %[[I]], %c1000{{.*}} : index
// CHECK-NEXT:      scf.if %[[IN]] {
// CHECK-NEXT:        memref.load %{{.+}}[%[[I]]]
// CHECK-NEXT:        memref.store
// CHECK-NEXT:      }
// CHECK-NEXT:      scf.reduce
func.func @long_1d(%x: memref<1000xf32>, %y: memref<1000xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1000 = arith.constant 1000 : index
  scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
    %v = memref.load %x[%i] : memref<1000xf32>
    memref.store %v, %y[%i] : memref<1000xf32>
    scf.reduce
  }
  return
}

// 200 elements fit one block of 32 x 8 threads: the loop stays 1-d (blocks of 32).
// CHECK-LABEL: func.func @short_1d(
// CHECK:         scf.parallel (%{{[^,]+}}) = (%c0) to (%c200) step (%c1) {
func.func @short_1d(%x: memref<200xf32>, %y: memref<200xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c200 = arith.constant 200 : index
  scf.parallel (%i) = (%c0) to (%c200) step (%c1) {
    %v = memref.load %x[%i] : memref<200xf32>
    memref.store %v, %y[%i] : memref<200xf32>
    scf.reduce
  }
  return
}
