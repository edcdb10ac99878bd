// tgc-nvptx-parallel-dims-first: a linalg.generic's parallel dims move outermost (reduction dims
// keep their order after them), rewriting its indexing maps and linalg.index dims, so that
// convert-linalg-to-parallel-loops makes one scf.parallel (a kernel) with the reductions inside.
// RUN: %tgc-opt %s -p tgc-nvptx-parallel-dims-first | FileCheck %s

// CHECK-DAG: #[[TRANSPOSED:.+]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG: #[[FIRST:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[SWAP12:.+]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[KEPT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[IDENTITY:.+]] = affine_map<(d0, d1) -> (d0, d1)>

// A sum over axis 0: the kept axis becomes d0.
// CHECK-LABEL: func.func @sum_axis0(
// CHECK:         linalg.generic {indexing_maps = [#[[TRANSPOSED]], #[[FIRST]]], iterator_types = ["parallel", "reduction"]}

// A reduction between two parallel dims: dims 1 and 2 swap, and so do the linalg.index dims.
// CHECK-LABEL: func.func @reduce_middle(
// CHECK:         linalg.generic {indexing_maps = [#[[SWAP12]], #[[KEPT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:           %[[I:.+]] = linalg.index 2 : index
// CHECK:           %[[J:.+]] = linalg.index 1 : index
// CHECK:           arith.addi %[[I]], %[[J]] : index

// Parallel dims already first: unchanged.
// CHECK-LABEL: func.func @already_parallel_first(
// CHECK:         linalg.generic {indexing_maps = [#[[IDENTITY]], #[[FIRST]]], iterator_types = ["parallel", "reduction"]}

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#mid = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#out3 = affine_map<(d0, d1, d2) -> (d0, d2)>
func.func @sum_axis0(%x: memref<8x4xf32>, %y: memref<4xf32>) {
  linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<8x4xf32>) outs(%y : memref<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  }
  return
}
func.func @reduce_middle(%x: memref<2x8x4xf32>, %y: memref<2x4xi64>) {
  linalg.generic {indexing_maps = [#mid, #out3], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%x : memref<2x8x4xf32>) outs(%y : memref<2x4xi64>) {
  ^bb0(%in: f32, %out: i64):
    %i = linalg.index 1 : index
    %j = linalg.index 2 : index
    %s = arith.addi %i, %j : index
    %c = arith.index_cast %s : index to i64
    linalg.yield %c : i64
  }
  return
}
func.func @already_parallel_first(%x: memref<8x4xf32>, %y: memref<8xf32>) {
  linalg.generic {indexing_maps = [#id, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x4xf32>) outs(%y : memref<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  }
  return
}
