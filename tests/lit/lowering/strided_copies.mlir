// tgc-strided-copies turns memref.copy between non-contiguous views (a pad's interior, a window of a
// larger buffer) into linalg.copy, so the copy becomes vectorizable loops instead of the runtime's
// element-by-element memrefCopy; copies that memref-to-LLVM makes one memcpy are left alone.
// RUN: %tgc-opt %s -p tgc-strided-copies | FileCheck %s
// RUN: %tgc-opt %s -p 'tgc-strided-copies,func.func(convert-linalg-to-loops),expand-strided-metadata,lower-affine,convert-scf-to-cf,convert-to-llvm,reconcile-unrealized-casts' | FileCheck %s --check-prefix=LLVM

// CHECK-LABEL: func.func @pad_interior(
// CHECK:         %[[V:.*]] = memref.subview
// CHECK-NOT:     memref.copy
// CHECK:         linalg.copy {{.*}}ins(%{{.*}} : memref<?x28x28x1xf32>) outs(%[[V]] : memref<?x28x28x1xf32, strided<[1024, 32, 1, 1], offset: 66>>)
// LLVM-LABEL:  llvm.func @pad_interior(
// LLVM-NOT:      memrefCopy
func.func @pad_interior(%x: memref<?x28x28x1xf32>, %padded: memref<?x32x32x1xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x28x28x1xf32>
  %v = memref.subview %padded[0, 2, 2, 0] [%n, 28, 28, 1] [1, 1, 1, 1]
      : memref<?x32x32x1xf32> to memref<?x28x28x1xf32, strided<[1024, 32, 1, 1], offset: 66>>
  memref.copy %x, %v : memref<?x28x28x1xf32> to memref<?x28x28x1xf32, strided<[1024, 32, 1, 1], offset: 66>>
  return
}

// A whole image of a batch is one dense block at a dynamic offset: memcpy stays.
// CHECK-LABEL: func.func @one_image(
// CHECK:         memref.copy
// CHECK-NOT:     linalg.copy
func.func @one_image(%img: memref<1x14x14x64xf32>, %batch: memref<?x14x14x64xf32>, %i: index) {
  %v = memref.subview %batch[%i, 0, 0, 0] [1, 14, 14, 64] [1, 1, 1, 1]
      : memref<?x14x14x64xf32> to memref<1x14x14x64xf32, strided<[12544, 896, 64, 1], offset: ?>>
  memref.copy %img, %v : memref<1x14x14x64xf32> to memref<1x14x14x64xf32, strided<[12544, 896, 64, 1], offset: ?>>
  return
}

// CHECK-LABEL: func.func @dense(
// CHECK:         memref.copy %{{.*}}, %{{.*}} : memref<?x5xf32> to memref<?x5xf32>
func.func @dense(%a: memref<?x5xf32>, %b: memref<?x5xf32>) {
  memref.copy %a, %b : memref<?x5xf32> to memref<?x5xf32>
  return
}
