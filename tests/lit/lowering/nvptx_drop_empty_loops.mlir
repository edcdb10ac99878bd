// tgc-nvptx-drop-empty-loops: loops whose iteration space is statically empty are erased before
// they become kernels (a launch of zero blocks, a kernel taking an empty buffer); a loop's results
// become its initial values; loops over a non-empty space stay.
// RUN: %tgc-opt %s -p tgc-nvptx-drop-empty-loops | FileCheck %s

// CHECK-LABEL: func.func @empty_axis(
// CHECK-SAME:      %[[X:.+]]: memref<4x0xf32>, %[[Y:.+]]: memref<4xf32>, %[[Z:.+]]: memref<4x0xf32>,
// CHECK-SAME:      %[[INIT:.+]]: memref<4xf32>)
// The sum over the empty axis: the loop over the outputs stays, its empty inner loop goes.
// CHECK:         scf.parallel (%[[I:.+]]) =
// CHECK-NEXT:      scf.reduce
// CHECK-NEXT:    }
// The elementwise op on the empty tensor: the whole loop goes.
// CHECK-NOT:     scf.parallel
// CHECK-NOT:     memref.load %[[X]]
// CHECK:         memref.copy %[[INIT]], %[[Y]]
// CHECK-NEXT:    return
func.func @empty_axis(%x: memref<4x0xf32>, %y: memref<4xf32>, %z: memref<4x0xf32>, %init: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %j = %c0 to %c0 step %c1 {
      %v = memref.load %x[%i, %j] : memref<4x0xf32>
      %a = memref.load %y[%i] : memref<4xf32>
      %s = arith.addf %v, %a : f32
      memref.store %s, %y[%i] : memref<4xf32>
    }
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c0) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<4x0xf32>
    %e = math.exp %v : f32
    memref.store %e, %z[%i, %j] : memref<4x0xf32>
    scf.reduce
  }
  %done = scf.for %k = %c4 to %c4 step %c1 iter_args(%buf = %init) -> (memref<4xf32>) {
    scf.yield %y : memref<4xf32>
  }
  memref.copy %done, %y : memref<4xf32> to memref<4xf32>
  return
}
