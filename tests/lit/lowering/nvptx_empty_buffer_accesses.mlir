// tgc-nvptx-empty-buffer-accesses: in a gpu.launch, a load of a buffer with a 0 dim becomes a zero
// of its type and a store to one goes (every such access is out of bounds: it sits behind a test
// that cannot hold, as a gather's index check reading the bad index of no indices), and a view in
// the launch left unused goes; the kernel then takes no empty buffer. Accesses of other buffers,
// and empty buffers' accesses outside a launch, stay.
// RUN: %tgc-opt %s -p tgc-nvptx-empty-buffer-accesses | FileCheck %s

// CHECK-LABEL: func.func @check_of_no_indices(
// CHECK-SAME:      %[[FLAT:.+]]: memref<0xi32>, %[[RECORD:.+]]: memref<2xi64>, %[[EMPTY:.+]]: memref<2x0xf32>)
// CHECK:         gpu.launch
// CHECK-NOT:       %[[FLAT]]
// CHECK-NOT:       %[[EMPTY]]
// CHECK:           scf.if
// CHECK-NEXT:        %[[ZERO:.+]] = arith.constant 0 : i32
// CHECK-NEXT:        arith.extsi %[[ZERO]] : i32 to i64
// CHECK:           memref.store %{{.+}}, %[[RECORD]]
// CHECK:           gpu.terminator
// CHECK:         memref.load %[[EMPTY]]
func.func @check_of_no_indices(%flat: memref<0xi32>, %record: memref<2xi64>, %empty: memref<2x0xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0 : i64
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %failed = arith.cmpi ult, %c0, %c0 : index
    %bad = scf.if %failed -> (i64) {
      %v = memref.load %flat[%c0] : memref<0xi32>
      %w = arith.extsi %v : i32 to i64
      scf.yield %w : i64
    } else {
      scf.yield %zero : i64
    }
    memref.store %bad, %record[%c1] : memref<2xi64>
    %view = memref.collapse_shape %empty [[0, 1]] : memref<2x0xf32> into memref<0xf32>
    %f = arith.constant 1.0 : f32
    memref.store %f, %view[%c0] : memref<0xf32>
    gpu.terminator
  }
  %host = memref.load %empty[%c0, %c0] : memref<2x0xf32>
  return
}
