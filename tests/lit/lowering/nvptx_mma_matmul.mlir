// tgc-nvptx-mma-matmul{allow-tf32=true}: a static f32 linalg.matmul on buffers becomes one
// gpu.launch of 4 warps (128 threads) per 128x128 tile of C, each warp 4x8 tiles of
// nvgpu.mma.sync m16n8k8 in TF32 whose vector<2x2xf32> accumulators are the K loop's iter_args.
// K steps of 32 through three stages of dynamic shared memory (96 KiB: the launch's
// dynamic_shared_memory_size, A's stages and B's views of it; unpadded rows, XOR-swizzled) filled
// by cp.async: the first two tiles' copies before the loop, as two groups; in the loop a wait for
// the current tile (one group stays in flight), one barrier, the copies of the tile two ahead (as
// one group; past the last tile, of the last tile again: a min of k), then 4 x 32 mma.sync whose
// fragments of a tile stored along k (A here, and B^T) come by ldmatrix, one per 16x8 (8x8) block.
// Copies past M, N or K copy 0 elements (zero fill); C's fragments are read before the loop and
// stored after it. Without allow-tf32 (the default)
// the pass changes nothing, and f64 has no TF32 form.
// RUN: %tgc-opt %s -p "tgc-nvptx-mma-matmul{allow-tf32=true}" | FileCheck %s
// RUN: %tgc-opt %s -p tgc-nvptx-mma-matmul | FileCheck %s --check-prefix=OFF
// With emulated=true (nvptx-emulated: the host runs the threads one after another) the same kernel
// copies at once and exchanges each k8 step's fragments through a third workgroup buffer (2 halves
// x 4 warps x 32 lanes x 32 tiles x 10 values): the operands cut to TF32 (the low 13 bits
// cleared), a barrier, each thread's own accumulators summed in a loop over k.
// RUN: %tgc-opt %s -p "tgc-nvptx-mma-matmul{allow-tf32=true emulated=true}" | FileCheck %s --check-prefix=EMU

// CHECK-LABEL: func.func @transposed_b(
// CHECK-SAME:      %[[A:.+]]: memref<37x21xf32>, %[[B:.+]]: memref<50x21xf32>, %[[C:.+]]: memref<37x50xf32>)
// CHECK:         %[[BYTES:.+]] = arith.constant 98304 : i32
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        threads({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c128, {{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        dynamic_shared_memory_size %[[BYTES]] {
// CHECK:           %[[SMEM:.+]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK-NEXT:      %[[AS:.+]] = memref.view %[[SMEM]][%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<3x128x32xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT:      %[[BS:.+]] = memref.view %[[SMEM]][%c49152][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<3x128x32xf32, #gpu.address_space<workgroup>>
// CHECK:           memref.load %[[C]]
// CHECK:           vector.from_elements {{.+}} : vector<2x2xf32>
// CHECK:           arith.xori
// CHECK:           nvgpu.device_async_copy %[[A]][{{.+}}], %[[AS]][{{.+}}], 1, {{%.+}} : memref<37x21xf32> to memref<3x128x32xf32
// CHECK:           nvgpu.device_async_copy %[[B]][{{.+}}], %[[BS]][{{.+}}], 1, {{%.+}} : memref<50x21xf32> to memref<3x128x32xf32
// CHECK:           nvgpu.device_async_create_group
// CHECK:           %[[SECOND:.+]] = nvgpu.device_async_create_group
// CHECK:           scf.for {{.+}} = %c0 to %c21 step %c32 iter_args({{.+}}) -> (vector<2x2xf32>, vector<2x2xf32>
// CHECK:             nvgpu.device_async_wait %[[SECOND]] {numGroups = 1 : i32}
// CHECK-NEXT:        gpu.barrier
// CHECK:             arith.minui {{.+}}, %c0 : index
// CHECK:             nvgpu.device_async_copy %[[A]]
// CHECK:             nvgpu.device_async_create_group
// CHECK:             nvgpu.ldmatrix %[[AS]][{{.+}}] {numTiles = 4 : i32, transpose = false} : memref<3x128x32xf32, #gpu.address_space<workgroup>> -> vector<4x1xf32>
// CHECK:             nvgpu.ldmatrix %[[BS]][{{.+}}] {numTiles = 2 : i32, transpose = false} : memref<3x128x32xf32, #gpu.address_space<workgroup>> -> vector<2x1xf32>
// CHECK-COUNT-128:   nvgpu.mma.sync({{.+}}) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK-NEXT:        scf.yield
// CHECK:           nvgpu.device_async_wait %[[SECOND]] {numGroups = 0 : i32}
// CHECK:           vector.extract {{.+}} : f32 from vector<2x2xf32>
// CHECK:           memref.store {{.+}}, %[[C]]
// CHECK:           gpu.terminator
// CHECK-NOT:     linalg.matmul

// EMU-LABEL: func.func @transposed_b(
// EMU-NOT:     nvgpu.
// EMU:         gpu.launch
// EMU-SAME:        dynamic_shared_memory_size {{%.+}} workgroup(%[[XS:[[:alnum:]]+]] : memref<81920xf32, #gpu.address_space<workgroup>>)
// EMU:           scf.for
// EMU:             gpu.barrier
// EMU-COUNT-32:    arith.andi {{.+}}, %c-8192_i32 : i32
// EMU:             memref.store {{.+}}, %[[XS]]
// EMU:             gpu.barrier
// EMU:             scf.for {{.+}} = %c0 to %c8 step {{%.+}} iter_args({{.+}}) -> (f32) {
// EMU:               math.fma
// EMU-NOT:     nvgpu.

// OFF-LABEL: func.func @transposed_b(
// OFF-NOT:     gpu.launch
// OFF:         linalg.matmul
func.func @transposed_b(%a: memref<37x21xf32>, %b: memref<50x21xf32>, %c: memref<37x50xf32>) {
  linalg.matmul indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>]
    ins(%a, %b : memref<37x21xf32>, memref<50x21xf32>) outs(%c : memref<37x50xf32>)
  return
}

// Dims the tiles divide: 16-byte copies (4 floats, bypassing L1), no bound test at all (past
// the last K tile the prefetch fetches it again); the grid covers 2x2 tiles.
// CHECK-LABEL: func.func @divisible(
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c2, {{%[[:alnum:]]+}} = %c2, {{%[[:alnum:]]+}} = %c1)
// CHECK-NOT:       arith.cmpi
// CHECK:           nvgpu.device_async_copy {{.+}}, 4, {{%.+}} {bypassL1} : memref<256x32xf32> to memref<3x128x32xf32
// CHECK-NOT:       arith.cmpi
// CHECK-NOT:       scf.if
// Plain B: the mma computes C^T = B^T A^T; B's fragments come as 8-byte pairs, A's (rows along
// k) by ldmatrix x2, one per 8-row block.
// CHECK:             vector.load {{.+}} {alignment = 8 : i64} : memref<3x32x128xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK:             nvgpu.ldmatrix {{.+}} {numTiles = 2 : i32, transpose = false} : memref<3x128x32xf32, #gpu.address_space<workgroup>> -> vector<2x1xf32>
// CHECK-NOT:         memref.load {{.+}}#gpu.address_space<workgroup>
// CHECK:           gpu.terminator
func.func @divisible(%a: memref<256x32xf32>, %b: memref<32x256xf32>, %c: memref<256x256xf32>) {
  linalg.matmul ins(%a, %b : memref<256x32xf32>, memref<32x256xf32>) outs(%c : memref<256x256xf32>)
  return
}

// C filled with +0.0 right before: the fill goes, the accumulators start at zero and C is only
// stored. A fill of another value (or of -0.0) stays, and C is read.
// CHECK-LABEL: func.func @zero_filled(
// CHECK-SAME:      %{{.+}}: memref<40x30xf32>, %{{.+}}: memref<30x20xf32>, %[[C:.+]]: memref<40x20xf32>, %[[D:.+]]: memref<40x20xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:           %[[ZEROS:.+]] = arith.constant dense<0.000000e+00> : vector<2x2xf32>
// CHECK-NOT:       memref.load %[[C]]
// CHECK:           scf.for {{.+}} iter_args({{%[[:alnum:]]+}} = %[[ZEROS]],
// CHECK:           memref.store {{.+}}, %[[C]]
// CHECK:         gpu.terminator
// CHECK:         linalg.fill ins({{.+}} : f32) outs(%[[D]] : memref<40x20xf32>)
// CHECK:         gpu.launch
// CHECK:           memref.load %[[D]]
func.func @zero_filled(%a: memref<40x30xf32>, %b: memref<30x20xf32>, %c: memref<40x20xf32>,
                       %d: memref<40x20xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<40x20xf32>)
  linalg.matmul ins(%a, %b : memref<40x30xf32>, memref<30x20xf32>) outs(%c : memref<40x20xf32>)
  %minus = arith.constant -0.0 : f32
  linalg.fill ins(%minus : f32) outs(%d : memref<40x20xf32>)
  linalg.matmul ins(%a, %b : memref<40x30xf32>, memref<30x20xf32>) outs(%d : memref<40x20xf32>)
  return
}

// f64 and integers stay linalg (tgc-nvptx-tile-matmul and the parallel loops take them).
// CHECK-LABEL: func.func @left_alone(
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.matmul ins({{.+}} : memref<4x3xf64>, memref<3x2xf64>)
// CHECK:         linalg.matmul ins({{.+}} : memref<4x3xi32>, memref<3x2xi32>)
func.func @left_alone(%a: memref<4x3xf64>, %b: memref<3x2xf64>, %c: memref<4x2xf64>,
                      %d: memref<4x3xi32>, %e: memref<3x2xi32>, %f: memref<4x2xi32>) {
  linalg.matmul ins(%a, %b : memref<4x3xf64>, memref<3x2xf64>) outs(%c : memref<4x2xf64>)
  linalg.matmul ins(%d, %e : memref<4x3xi32>, memref<3x2xi32>) outs(%f : memref<4x2xi32>)
  return
}
