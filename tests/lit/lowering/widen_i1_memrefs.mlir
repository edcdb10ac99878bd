// tgc-widen-i1-memrefs gives i1 memrefs (the deallocation helper's flags) one byte per element,
// truncating after loads and extending before stores, since LLVM 22 cannot store i1 elements.
// RUN: %tgc-opt %s -p tgc-widen-i1-memrefs | FileCheck %s

// CHECK-LABEL: func.func @flags(
// CHECK-SAME:      %{{.*}}: memref<?xi8>
// CHECK:         %[[A:.*]] = memref.alloc() : memref<2xi8>
// CHECK:         %[[T:.*]] = arith.extui %{{.*}} : i1 to i8
// CHECK:         memref.store %[[T]], %[[A]]
// CHECK:         %[[L:.*]] = memref.load %[[A]]
// CHECK:         %[[N:.*]] = arith.trunci %[[L]] : i8 to i1
// CHECK:         return %[[N]] : i1
// CHECK-NOT:     xi1>
func.func @flags(%arg: memref<?xi1>) -> i1 {
  %c0 = arith.constant 0 : index
  %true = arith.constant true
  %a = memref.alloc() : memref<2xi1>
  memref.store %true, %a[%c0] : memref<2xi1>
  %v = memref.load %a[%c0] : memref<2xi1>
  memref.dealloc %a : memref<2xi1>
  return %v : i1
}
