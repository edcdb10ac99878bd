// tgc-return-in-place: a clone of an argument listed in tgc.in_place_arguments that only the return uses
// becomes the argument itself (no allocation, no copy); clones of other arguments stay.
// RUN: %tgc-opt %s -p tgc-return-in-place | FileCheck %s

// CHECK-LABEL: func.func @step(
// CHECK-SAME:      %[[X:.*]]: memref<4xf32>, %[[W:.*]]: memref<4xf32>)
// CHECK:         %[[CX:.*]] = bufferization.clone %[[X]]
// CHECK-NOT:     bufferization.clone %[[W]]
// CHECK:         return %[[CX]], %[[W]] : memref<4xf32>, memref<4xf32>
func.func @step(%x: memref<4xf32>, %w: memref<4xf32>) -> (memref<4xf32>, memref<4xf32>) attributes {tgc.in_place_arguments = array<i64: 1>} {
  %0 = bufferization.clone %x : memref<4xf32> to memref<4xf32>
  %1 = bufferization.clone %w : memref<4xf32> to memref<4xf32>
  return %0, %1 : memref<4xf32>, memref<4xf32>
}

// Without the attribute (an artifact's function, or several partitions) every clone stays.
// CHECK-LABEL: func.func @artifact(
// CHECK:         %[[C:.*]] = bufferization.clone
// CHECK:         return %[[C]]
func.func @artifact(%w: memref<4xf32>) -> memref<4xf32> {
  %0 = bufferization.clone %w : memref<4xf32> to memref<4xf32>
  return %0 : memref<4xf32>
}

// A clone used by something besides the return is a real copy and stays.
// CHECK-LABEL: func.func @used_clone(
// CHECK:         %[[C:.*]] = bufferization.clone
// CHECK:         memref.store %{{.*}}, %[[C]]
func.func @used_clone(%w: memref<4xf32>) -> memref<4xf32> attributes {tgc.in_place_arguments = array<i64: 0>} {
  %0 = bufferization.clone %w : memref<4xf32> to memref<4xf32>
  %c0 = arith.constant 0 : index
  %v = arith.constant 1.0 : f32
  memref.store %v, %0[%c0] : memref<4xf32>
  return %0 : memref<4xf32>
}
