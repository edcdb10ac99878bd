// tgc-nvptx-drop-empty-linalg: a linalg op on buffers one of which holds no element (a 0 dim) does
// nothing, so it is erased before tgc-nvptx-tile-matmul and the loop passes make a kernel of it (a
// launch taking an empty buffer, which has no pointer to pass; random-graph campaign seeds 400853
// and 401398 on nvptx-emulated). Its output keeps what it held: a matmul with an empty inner dim
// leaves C as the fill made it, a reduction over an empty axis its init. Ops on non-empty buffers
// stay.
// RUN: %tgc-opt %s -p tgc-nvptx-drop-empty-linalg | FileCheck %s

// CHECK-LABEL: func.func @empty_operands(
// CHECK-SAME:      %[[A:.+]]: memref<1x0xf64>, %[[B:.+]]: memref<0x1xf64>, %[[C:.+]]: memref<1x1xf64>,
// CHECK-SAME:      %[[D:.+]]: memref<1x0xf64>, %[[S:.+]]: memref<1xf64>)
// The fill of the non-empty C and the sum's init stay; everything else goes.
// CHECK-NEXT:    %[[ZERO:.+]] = arith.constant 0.0
// CHECK-NEXT:    linalg.fill ins(%[[ZERO]] : f64) outs(%[[C]] : memref<1x1xf64>)
// CHECK-NEXT:    linalg.fill ins(%[[ZERO]] : f64) outs(%[[S]] : memref<1xf64>)
// CHECK-NEXT:    return
func.func @empty_operands(%a: memref<1x0xf64>, %b: memref<0x1xf64>, %c: memref<1x1xf64>,
                          %d: memref<1x0xf64>, %s: memref<1xf64>) {
  %zero = arith.constant 0.0 : f64
  linalg.fill ins(%zero : f64) outs(%c : memref<1x1xf64>)
  // A [1, 0] x [0, 1] product: an empty inner dim.
  linalg.matmul ins(%a, %b : memref<1x0xf64>, memref<0x1xf64>) outs(%c : memref<1x1xf64>)
  // A fill and an elementwise op of an empty buffer.
  linalg.fill ins(%zero : f64) outs(%d : memref<1x0xf64>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<1x0xf64>) outs(%d : memref<1x0xf64>) {
  ^bb0(%x: f64, %y: f64):
    %e = math.exp %x : f64
    linalg.yield %e : f64
  }
  // A sum over an empty axis into a non-empty result.
  linalg.fill ins(%zero : f64) outs(%s : memref<1xf64>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<1x0xf64>) outs(%s : memref<1xf64>) {
  ^bb0(%x: f64, %acc: f64):
    %sum = arith.addf %x, %acc : f64
    linalg.yield %sum : f64
  }
  return
}

// CHECK-LABEL: func.func @non_empty(
// CHECK:         linalg.matmul
// CHECK:         linalg.generic
// CHECK:         return
func.func @non_empty(%a: memref<2x3xf32>, %b: memref<3x4xf32>, %c: memref<2x4xf32>) {
  linalg.matmul ins(%a, %b : memref<2x3xf32>, memref<3x4xf32>) outs(%c : memref<2x4xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      outs(%c : memref<2x4xf32>) {
  ^bb0(%y: f32):
    %e = math.exp %y : f32
    linalg.yield %e : f32
  }
  return
}
