// tgc-nvptx-linalg-copies: a memref.copy from or to a strided view becomes a linalg.copy (a kernel
// later); a copy between whole buffers stays (the launch plan copies device to device); a copy of
// a buffer onto itself is erased.
// RUN: %tgc-opt %s -p tgc-nvptx-linalg-copies | FileCheck %s

// CHECK-LABEL: func.func @copies(
// CHECK-SAME:      %[[X:.+]]: memref<4x8xf32>, %[[Y:.+]]: memref<4x8xf32>, %[[S:.+]]: memref<f32>,
// CHECK-SAME:      %[[Z:.+]]: memref<4x16xf32>)
// CHECK-NEXT:    memref.copy %[[X]], %[[Y]] : memref<4x8xf32> to memref<4x8xf32>
// CHECK-NEXT:    %[[RIGHT:.+]] = memref.subview %[[Z]][0, 8] [4, 8] [1, 1]
// CHECK-NEXT:    linalg.copy {{.*}}ins(%[[X]] : memref<4x8xf32>) outs(%[[RIGHT]] : memref<4x8xf32, strided<[16, 1], offset: 8>>)
// CHECK-NEXT:    return
func.func @copies(%x: memref<4x8xf32>, %y: memref<4x8xf32>, %s: memref<f32>, %z: memref<4x16xf32>) {
  memref.copy %x, %y : memref<4x8xf32> to memref<4x8xf32>
  memref.copy %s, %s : memref<f32> to memref<f32>
  %right = memref.subview %z[0, 8] [4, 8] [1, 1] : memref<4x16xf32> to memref<4x8xf32, strided<[16, 1], offset: 8>>
  memref.copy %x, %right : memref<4x8xf32> to memref<4x8xf32, strided<[16, 1], offset: 8>>
  return
}

// A reshape of a subview can have an identity layout (tf.shape(x)[0]: the first element of a
// shape, collapsed to 0-d), yet it is a slice: its copy is a kernel too, not a host copy of a view.
// CHECK-LABEL: func.func @copy_of_a_collapsed_element(
// CHECK:         %[[E:.+]] = memref.collapse_shape
// CHECK-NEXT:    linalg.copy {{.*}}ins(%[[E]] : memref<i32>) outs(%{{.+}} : memref<i32>)
// CHECK-NOT:     memref.copy
func.func @copy_of_a_collapsed_element(%shape: memref<2xi32>, %out: memref<i32>) {
  %first = memref.subview %shape[0] [1] [1] : memref<2xi32> to memref<1xi32, strided<[1]>>
  %element = memref.collapse_shape %first [] : memref<1xi32, strided<[1]>> into memref<i32>
  memref.copy %element, %out : memref<i32> to memref<i32>
  return
}
