// tgc-nvptx-tile-matmul: a static float linalg.matmul on buffers becomes one gpu.launch: 128x128
// tiles of C per block (64x64 in f64), 16x16 threads each holding an 8x8 (f64: 4x4) micro-tile
// in registers (the K loop's iter_args), K in steps of 8 staged through workgroup memory: the
// cooperative loads of the A and B tiles, a barrier, the unrolled FMAs out of shared memory, a
// barrier. Loads and stores past the shapes are guarded; transposed operands are read through
// the matmul's maps. The shared rows are padded by 16 bytes (132 floats, 66 doubles): a warp's
// stores of 8 k x 4 rows into As[k][m] then meet no bank twice.
// RUN: %tgc-opt %s -p tgc-nvptx-tile-matmul | FileCheck %s

// CHECK-LABEL: func.func @transposed_a(
// CHECK-SAME:      %[[A:.+]]: memref<50x37xf32>, %[[B:.+]]: memref<50x21xf32>, %[[C:.+]]: memref<37x21xf32>)
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        threads({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c16, {{%[[:alnum:]]+}} = %c16, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        workgroup(%[[AS:[[:alnum:]]+]] : memref<8x132xf32, #gpu.address_space<workgroup>>, %[[BS:[[:alnum:]]+]] : memref<8x132xf32, #gpu.address_space<workgroup>>)
// CHECK:           memref.load %[[C]]
// CHECK:           scf.for {{.+}} = %c0 to %c50 step %c8 iter_args({{.+}}) -> (f32, f32
// CHECK-COUNT-4:     memref.store {{.+}}, %[[AS]]
// CHECK-COUNT-4:     memref.store {{.+}}, %[[BS]]
// CHECK:             gpu.barrier
// CHECK-COUNT-512:   math.fma
// CHECK:             gpu.barrier
// CHECK-NEXT:        scf.yield
// CHECK-COUNT-64:  memref.store {{.+}}, %[[C]]
// CHECK:           gpu.terminator
// CHECK-NOT:     linalg.matmul

func.func @transposed_a(%a: memref<50x37xf32>, %b: memref<50x21xf32>, %c: memref<37x21xf32>) {
  linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d0)>, affine_map<(d0, d1, d2) -> (d2, d1)>, affine_map<(d0, d1, d2) -> (d0, d1)>]
    ins(%a, %b : memref<50x37xf32>, memref<50x21xf32>) outs(%c : memref<37x21xf32>)
  return
}

// f64: 64x64 tiles of 4x4, B read transposed (as (n, k)).
// CHECK-LABEL: func.func @f64_transposed_b(
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c2, {{%[[:alnum:]]+}} = %c3, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        workgroup({{.+}} : memref<8x66xf64, #gpu.address_space<workgroup>>, {{.+}} : memref<8x66xf64, #gpu.address_space<workgroup>>)
// CHECK:           memref.load {{.+}} : memref<100x9xf64>
// CHECK-COUNT-128:   math.fma
// CHECK-NOT:     linalg.matmul
func.func @f64_transposed_b(%a: memref<130x9xf64>, %b: memref<100x9xf64>, %c: memref<130x100xf64>) {
  linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>]
    ins(%a, %b : memref<130x9xf64>, memref<100x9xf64>) outs(%c : memref<130x100xf64>)
  return
}

// Dims the tiles divide: no bound tests (the grid and the K loop stay inside).
// CHECK-LABEL: func.func @divisible(
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c2, {{%[[:alnum:]]+}} = %c2, {{%[[:alnum:]]+}} = %c1)
// CHECK-NOT:       scf.if
// CHECK:           gpu.terminator
func.func @divisible(%a: memref<256x16xf32>, %b: memref<16x256xf32>, %c: memref<256x256xf32>) {
  linalg.matmul ins(%a, %b : memref<256x16xf32>, memref<16x256xf32>) outs(%c : memref<256x256xf32>)
  return
}

// Integers and unknown shapes stay linalg (the generic parallel loops take them).
// CHECK-LABEL: func.func @left_alone(
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.matmul ins({{.+}} : memref<4x3xi32>, memref<3x2xi32>)
// CHECK:         linalg.matmul ins({{.+}} : memref<?x3xf32>, memref<3x2xf32>)
func.func @left_alone(%a: memref<4x3xi32>, %b: memref<3x2xi32>, %c: memref<4x2xi32>,
                      %x: memref<?x3xf32>, %y: memref<3x2xf32>, %z: memref<?x2xf32>) {
  linalg.matmul ins(%a, %b : memref<4x3xi32>, memref<3x2xi32>) outs(%c : memref<4x2xi32>)
  linalg.matmul ins(%x, %y : memref<?x3xf32>, memref<3x2xf32>) outs(%z : memref<?x2xf32>)
  return
}
