// tgc-nvptx-tree-reduce: a static float linalg.generic reducing every axis into a 0-d buffer, of
// 4096 elements or more, becomes two launches. Kernel 1: blocks of 256 threads, each thread
// accumulating a strided slice of the iteration space (the generic's body cloned into the loop,
// starting from the combiner's identity), then a tree in workgroup memory with a gpu.barrier after
// each halving but the last, thread 0 writing the block's partial. Kernel 2: one block reducing
// the partials the same way into the 0-d buffer. A fill of that buffer with the identity just
// before goes (kernel 2 overwrites it); otherwise its initial value is combined in.
// RUN: %tgc-opt %s -p tgc-nvptx-tree-reduce | FileCheck %s

// A sum of 1000x37 = 37000 elements: ceil(37000 / (256 * 4)) = 37 blocks and 37 partials, kernel
// 2 with 64 threads (37 rounded up to a power of two).
// CHECK-LABEL: func.func @sum(
// CHECK-SAME:      %[[X:.+]]: memref<1000x37xf32>, %[[OUT:.+]]: memref<f32>)
// CHECK-NOT:     linalg.fill
// CHECK:         %[[PARTIALS:.+]] = memref.alloc() : memref<37xf32>
// CHECK:         gpu.launch blocks(%[[BX:[[:alnum:]]+]], {{[^)]+}}) in ({{%[[:alnum:]]+}} = %c37, {{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        threads(%[[TX:[[:alnum:]]+]], {{[^)]+}}) in ({{%[[:alnum:]]+}} = %c256, {{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        workgroup(%[[SH:[[:alnum:]]+]] : memref<256xf32, #gpu.address_space<workgroup>>)
// CHECK-DAG:       %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:       %[[STRIDE:.+]] = arith.constant 9472 : index
// CHECK-DAG:       %[[N:.+]] = arith.constant 37000 : index
// CHECK:           %[[ACC:.+]] = scf.for %[[I:.+]] = %{{.+}} to %[[N]] step %[[STRIDE]] iter_args(%[[A:.+]] = %[[ZERO]]) -> (f32) {
// CHECK:             %[[COL:.+]] = arith.remui %[[I]], %c37
// CHECK:             %[[ROW:.+]] = arith.divui %[[I]], %c37
// CHECK:             %[[V:.+]] = memref.load %[[X]][%[[ROW]], %[[COL]]]
// CHECK:             %[[S:.+]] = arith.addf %[[V]], %[[A]] : f32
// CHECK:             scf.yield %[[S]] : f32
// CHECK:           memref.store %[[ACC]], %[[SH]][%[[TX]]]
// CHECK-NEXT:      gpu.barrier
// CHECK:           arith.cmpi ult, %[[TX]], %c128
// CHECK:           scf.if
// CHECK:             arith.addf
// CHECK:           gpu.barrier
// CHECK-COUNT-6:   gpu.barrier
// CHECK:           arith.cmpi ult, %[[TX]], %c1
// CHECK:           scf.if
// CHECK-NOT:       gpu.barrier
// CHECK:           scf.if
// CHECK:             %[[T:.+]] = memref.load %[[SH]][%c0]
// CHECK:             memref.store %[[T]], %[[PARTIALS]][%[[BX]]] : memref<37xf32>
// CHECK:           gpu.terminator
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c1{{(_[0-9]+)?}}, {{%[[:alnum:]]+}} = %c1{{(_[0-9]+)?}}, {{%[[:alnum:]]+}} = %c1{{(_[0-9]+)?}})
// CHECK-SAME:        threads(%[[TX2:[[:alnum:]]+]], {{[^)]+}}) in ({{%[[:alnum:]]+}} = %c64, {{.+}}) workgroup(%[[SH2:[[:alnum:]]+]] : memref<64xf32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for %[[J:.+]] = %[[TX2]] to %c37{{.*}} step %c64
// CHECK:             memref.load %[[PARTIALS]][%[[J]]]
// CHECK-COUNT-6:   gpu.barrier
// CHECK:           scf.if
// CHECK:             %[[TOTAL:.+]] = memref.load %[[SH2]][%c0
// CHECK-NEXT:        memref.store %[[TOTAL]], %[[OUT]][] : memref<f32>
// CHECK:           gpu.terminator
// CHECK-NOT:     linalg.generic
func.func @sum(%x: memref<1000x37xf32>, %out: memref<f32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<f32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>],
                  iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<1000x37xf32>) outs(%out : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// f64, a fused chain over two inputs (one broadcast along d0), a max with no fill before: the
// identity is -inf, the body is cloned (subf, mulf, then the max), and kernel 2 combines the
// buffer's initial value. 8192 elements: 8 blocks, kernel 2 with one warp.
// CHECK-LABEL: func.func @fused_max(
// CHECK-SAME:      %[[X:.+]]: memref<128x64xf64>, %[[B:.+]]: memref<64xf64>, %[[OUT:.+]]: memref<f64>)
// CHECK:         memref.alloc() : memref<8xf64>
// CHECK:         gpu.launch {{.+}} workgroup({{.+}} : memref<256xf64, #gpu.address_space<workgroup>>)
// CHECK:           %[[NEGINF:.+]] = arith.constant 0xFFF0000000000000 : f64
// CHECK:           scf.for {{.+}} iter_args(%[[A:.+]] = %[[NEGINF]]) -> (f64)
// CHECK:             %[[COL:.+]] = arith.remui
// CHECK:             %[[ROW:.+]] = arith.divui
// CHECK:             %[[XV:.+]] = memref.load %[[X]][%[[ROW]], %[[COL]]]
// CHECK:             %[[BV:.+]] = memref.load %[[B]][%[[COL]]]
// CHECK:             %[[D:.+]] = arith.subf %[[XV]], %[[BV]] : f64
// CHECK:             %[[SQ:.+]] = arith.mulf %[[D]], %[[D]] : f64
// CHECK:             arith.maximumf %[[SQ]], %[[A]] : f64
// CHECK:           arith.maximumf
// CHECK:         gpu.launch {{.+}} threads({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c32
// CHECK:             %[[TOTAL:.+]] = memref.load %{{.+}}[%c0{{.*}}]
// CHECK-NEXT:        %[[INIT:.+]] = memref.load %[[OUT]][]
// CHECK-NEXT:        %[[R:.+]] = arith.maximumf %[[TOTAL]], %[[INIT]] : f64
// CHECK-NEXT:        memref.store %[[R]], %[[OUT]][]
// CHECK-NOT:     linalg.generic
func.func @fused_max(%x: memref<128x64xf64>, %b: memref<64xf64>, %out: memref<f64>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>,
                                   affine_map<(d0, d1) -> ()>],
                  iterator_types = ["reduction", "reduction"]}
      ins(%x, %b : memref<128x64xf64>, memref<64xf64>) outs(%out : memref<f64>) {
  ^bb0(%in: f64, %bias: f64, %acc: f64):
    %d = arith.subf %in, %bias : f64
    %sq = arith.mulf %d, %d : f64
    %m = arith.maximumf %sq, %acc : f64
    linalg.yield %m : f64
  }
  return
}

// A min's identity is +inf, a product's 1: each fill with it goes.
// CHECK-LABEL: func.func @min_and_prod(
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:           arith.constant 0x7F800000 : f32
// CHECK:           arith.minimumf
// CHECK:         gpu.launch
// CHECK:         gpu.launch
// CHECK:           arith.constant 1.000000e+00 : f32
// CHECK:           arith.mulf
// CHECK:         gpu.launch
// CHECK-NOT:     linalg
func.func @min_and_prod(%x: memref<4096xf32>, %lo: memref<f32>, %p: memref<f32>) {
  %inf = arith.constant 0x7F800000 : f32
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%inf : f32) outs(%lo : memref<f32>)
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>],
                  iterator_types = ["reduction"]}
      ins(%x : memref<4096xf32>) outs(%lo : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.minimumf %in, %acc : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%one : f32) outs(%p : memref<f32>)
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>],
                  iterator_types = ["reduction"]}
      ins(%x : memref<4096xf32>) outs(%p : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.mulf %in, %acc : f32
    linalg.yield %m : f32
  }
  return
}

// keepdims: a 1x1 output written at (0, 0); its fill with the identity goes too.
// CHECK-LABEL: func.func @keepdims(
// CHECK-SAME:      %{{.+}}: memref<8192xf32>, %[[OUT:.+]]: memref<1x1xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:         gpu.launch
// CHECK:           memref.store %{{.+}}, %[[OUT]][%c0{{.*}}, %c0{{.*}}] : memref<1x1xf32>
// CHECK-NOT:     linalg
func.func @keepdims(%x: memref<8192xf32>, %out: memref<1x1xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<1x1xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (0, 0)>],
                  iterator_types = ["reduction"]}
      ins(%x : memref<8192xf32>) outs(%out : memref<1x1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// Left alone: fewer than 4096 elements (one thread's loop does it), integers, a reduction that
// keeps a dim (one thread per output element), a fill with a value that is not the identity (kept,
// and kernel 2 combines the buffer's value in).
// CHECK-LABEL: func.func @left_alone(
// CHECK:         linalg.generic {{.+}} ins(%{{.+}} : memref<4095xf32>)
// CHECK:         linalg.generic {{.+}} ins(%{{.+}} : memref<8192xi32>)
// CHECK:         linalg.generic {{.+}} ins(%{{.+}} : memref<64x128xf32>)
// CHECK:         linalg.fill ins(%{{.+}} : f32)
// CHECK:         gpu.launch
// CHECK:         gpu.launch
// CHECK:           memref.load %{{.+}}[] : memref<f32>
func.func @left_alone(%small: memref<4095xf32>, %s: memref<f32>, %ints: memref<8192xi32>,
                      %i: memref<i32>, %rows: memref<64x128xf32>, %r: memref<64xf32>,
                      %big: memref<8192xf32>, %seeded: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>],
                  iterator_types = ["reduction"]}
      ins(%small : memref<4095xf32>) outs(%s : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.addf %in, %acc : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>],
                  iterator_types = ["reduction"]}
      ins(%ints : memref<8192xi32>) outs(%i : memref<i32>) {
  ^bb0(%in: i32, %acc: i32):
    %m = arith.addi %in, %acc : i32
    linalg.yield %m : i32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%rows : memref<64x128xf32>) outs(%r : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.addf %in, %acc : f32
    linalg.yield %m : f32
  }
  %two = arith.constant 2.0 : f32
  linalg.fill ins(%two : f32) outs(%seeded : memref<f32>)
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>],
                  iterator_types = ["reduction"]}
      ins(%big : memref<8192xf32>) outs(%seeded : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %m = arith.addf %in, %acc : f32
    linalg.yield %m : f32
  }
  return
}
