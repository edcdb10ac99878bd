// tgc-nvptx-sink-views: a view with a strided layout (a subview, and views of it) used inside a
// gpu.launch is cloned into the launch, sources first, so the kernel gets the whole buffer and
// computes the view's offset itself; views of identity layout stay on the host.
// RUN: %tgc-opt %s -p tgc-nvptx-sink-views | FileCheck %s

// CHECK-LABEL: func.func @concat_half(
// CHECK-SAME:      %[[X:.+]]: memref<4x8xf32>, %[[Y:.+]]: memref<4x16xf32>)
// CHECK:         %[[WHOLE:.+]] = memref.expand_shape %[[X]] {{.+}} into memref<4x2x4xf32>
// CHECK:         gpu.launch
// CHECK-NEXT:      %[[RIGHT:.+]] = memref.subview %[[Y]][0, 8] [4, 8] [1, 1]
// CHECK-NEXT:      %[[SPLIT:.+]] = memref.expand_shape %[[RIGHT]]
// CHECK-NEXT:      %[[V:.+]] = memref.load %[[X]]
// CHECK-NEXT:      memref.store %[[V]], %[[RIGHT]]
// CHECK-NEXT:      %[[W:.+]] = memref.load %[[WHOLE]]
// CHECK-NEXT:      memref.store %[[W]], %[[SPLIT]]
// CHECK-NEXT:      gpu.terminator

func.func @concat_half(%x: memref<4x8xf32>, %y: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %right = memref.subview %y[0, 8] [4, 8] [1, 1] : memref<4x16xf32> to memref<4x8xf32, strided<[16, 1], offset: 8>>
  %split = memref.expand_shape %right [[0], [1, 2]] output_shape [4, 2, 4] : memref<4x8xf32, strided<[16, 1], offset: 8>> into memref<4x2x4xf32, strided<[16, 4, 1], offset: 8>>
  %whole = memref.expand_shape %x [[0], [1, 2]] output_shape [4, 2, 4] : memref<4x8xf32> into memref<4x2x4xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c8, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%bx, %tx] : memref<4x8xf32>
    memref.store %v, %right[%bx, %tx] : memref<4x8xf32, strided<[16, 1], offset: 8>>
    %w = memref.load %whole[%bx, %c1, %c0] : memref<4x2x4xf32>
    memref.store %w, %split[%bx, %c1, %c0] : memref<4x2x4xf32, strided<[16, 4, 1], offset: 8>>
    gpu.terminator
  }
  return
}

// A view the kernel takes itself (inside the launch, as a scatter's loop does) stays where it is.
// CHECK-LABEL: func.func @view_inside(
// CHECK-SAME:      %[[Y:.+]]: memref<4x16xf32>)
// CHECK:         gpu.launch
// CHECK-NEXT:      scf.for %[[I:.+]] =
// CHECK-NEXT:        %[[ROW:.+]] = memref.subview %[[Y]][%[[I]], 0] [1, 16] [1, 1]
// CHECK-NEXT:        memref.store %{{.+}}, %[[ROW]]
func.func @view_inside(%y: memref<4x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    scf.for %i = %c0 to %c4 step %c1 {
      %row = memref.subview %y[%i, 0] [1, 16] [1, 1] : memref<4x16xf32> to memref<1x16xf32, strided<[16, 1], offset: ?>>
      memref.store %zero, %row[%c0, %c0] : memref<1x16xf32, strided<[16, 1], offset: ?>>
    }
    gpu.terminator
  }
  return
}

// A view of identity layout taken from a strided one (the first half of a buffer, reshaped) is
// sunk with its source: on the host it would leave the subview there (the host's copies are left
// for canonicalize to erase).
// CHECK-LABEL: func.func @identity_of_strided(
// CHECK-SAME:      %[[Y:.+]]: memref<6xf32>)
// CHECK:         gpu.launch
// CHECK-NEXT:      %[[HALF:.+]] = memref.subview %[[Y]][0] [3] [1]
// CHECK-NEXT:      %[[SHAPED:.+]] = memref.expand_shape %[[HALF]]
// CHECK:           memref.store %{{.+}}, %[[SHAPED]]
func.func @identity_of_strided(%y: memref<6xf32>) {
  %c1 = arith.constant 1 : index
  %half = memref.subview %y[0] [3] [1] : memref<6xf32> to memref<3xf32, strided<[1]>>
  %shaped = memref.expand_shape %half [[0, 1, 2]] output_shape [1, 3, 1] : memref<3xf32, strided<[1]>> into memref<1x3x1xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %zero = arith.constant 0.0 : f32
    memref.store %zero, %shaped[%bx, %tx, %bx] : memref<1x3x1xf32>
    gpu.terminator
  }
  return
}
