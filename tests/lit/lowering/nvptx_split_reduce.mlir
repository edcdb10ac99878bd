// tgc-nvptx-split-reduce: a static float linalg.generic with parallel and reduction dims and 64
// or more reduced points per output element becomes a flat grid of 256-thread blocks whose
// threads accumulate in registers (the generic's body cloned into the loop). With few outputs the
// reduced points are split K = ceil(sqrt(R)) ways into partials, which a second launch combines
// with the output's start; a fill of the output with the combiner's identity just before goes.
// conv2d's forward (linalg.conv_2d_nhwc_hwcf) is taken whatever its window.
// RUN: %tgc-opt %s -p tgc-nvptx-split-reduce | FileCheck %s

// A bias gradient: 16 outputs of 50x8x8 = 3200 points, K = 57. The channel (the input's
// contiguous dim) is parallel: consecutive threads take consecutive outputs, partials [k][p].
// CHECK-LABEL: func.func @bias_gradient(
// CHECK-SAME:      %[[G:.+]]: memref<50x8x8x16xf32>, %[[OUT:.+]]: memref<16xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         %[[PARTIALS:.+]] = memref.alloc() : memref<57x16xf32>
// CHECK:         gpu.launch blocks(%[[BX:[[:alnum:]]+]], {{[^)]+}}) in ({{%[[:alnum:]]+}} = %c4, {{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1)
// CHECK-SAME:        threads(%[[TX:[[:alnum:]]+]], {{[^)]+}}) in ({{%[[:alnum:]]+}} = %c256, {{%[[:alnum:]]+}} = %c1, {{%[[:alnum:]]+}} = %c1)
// CHECK-DAG:       %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:       %[[R:.+]] = arith.constant 3200 : index
// CHECK-DAG:       %[[K:.+]] = arith.constant 57 : index
// CHECK:           %[[T0:.+]] = arith.muli %[[BX]], %c256
// CHECK:           %[[T:.+]] = arith.addi %[[T0]], %[[TX]]
// CHECK:           %[[LIVE:.+]] = arith.cmpi ult, %[[T]], %c912
// CHECK:           scf.if %[[LIVE]] {
// CHECK:             %[[P:.+]] = arith.remui %[[T]], %c16
// CHECK:             %[[KK:.+]] = arith.divui %[[T]], %c16
// CHECK:             %[[ACC:.+]] = scf.for %[[I:.+]] = %[[KK]] to %[[R]] step %[[K]] iter_args(%[[A:.+]] = %[[ZERO]]) -> (f32) {
// CHECK:               %[[V:.+]] = memref.load %[[G]][{{.+}}, {{.+}}, {{.+}}, %[[P]]]
// CHECK:               %[[S:.+]] = arith.addf %[[A]], %[[V]] : f32
// CHECK:               scf.yield %[[S]] : f32
// CHECK:             memref.store %[[ACC]], %[[PARTIALS]][%[[KK]], %[[P]]] : memref<57x16xf32>
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c1{{(_[0-9]+)?}}, {{.+}}) threads({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c256
// CHECK:             %[[SUM:.+]] = scf.for %[[J:.+]] = %c0 to %c57 step %c1{{.*}} iter_args(%[[B:.+]] = %{{.+}}) -> (f32) {
// CHECK:               %[[W:.+]] = memref.load %[[PARTIALS]][%[[J]], %[[T2:.+]]] : memref<57x16xf32>
// CHECK:               arith.addf %[[B]], %[[W]] : f32
// CHECK:             memref.store %[[SUM]], %[[OUT]][%[[T2]]] : memref<16xf32>
// CHECK-NOT:     linalg.generic
func.func @bias_gradient(%g: memref<50x8x8x16xf32>, %out: memref<16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<16xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>,
                                   affine_map<(d0, d1, d2, d3) -> (d3)>],
                  iterator_types = ["reduction", "reduction", "reduction", "parallel"]}
      ins(%g : memref<50x8x8x16xf32>) outs(%out : memref<16xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  return
}

// A max of products along rows onto the output's initial value (no fill): 4096 outputs of 100
// points, K = 10. The reduced dim is the inputs' contiguous one: consecutive threads take
// consecutive points of a row, partials [p][k]; kernel 2 starts from the output's value.
// CHECK-LABEL: func.func @rows_max_onto_init(
// CHECK-SAME:      %[[X:.+]]: memref<4096x100xf32>, %[[Y:.+]]: memref<4096x100xf32>, %[[OUT:.+]]: memref<4096x1xf32>)
// CHECK:         %[[PARTIALS:.+]] = memref.alloc() : memref<4096x10xf32>
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c160,
// CHECK:             %[[NEG:.+]] = arith.constant 0xFF800000 : f32
// CHECK:             %[[KK:.+]] = arith.remui %[[T:.+]], %c10
// CHECK:             %[[P:.+]] = arith.divui %[[T]], %c10
// CHECK:             %[[ACC:.+]] = scf.for %[[I:.+]] = %[[KK]] to %c100 step %c10 iter_args(%[[A:.+]] = %[[NEG]]) -> (f32) {
// CHECK:               %[[U:.+]] = memref.load %[[X]][%[[P]], %[[I]]]
// CHECK:               %[[V:.+]] = memref.load %[[Y]][%[[P]], %[[I]]]
// CHECK:               %[[M:.+]] = arith.mulf %[[U]], %[[V]] : f32
// CHECK:               arith.maximumf %[[M]], %[[A]] : f32
// CHECK:             memref.store %[[ACC]], %[[PARTIALS]][%[[P]], %[[KK]]] : memref<4096x10xf32>
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c16,
// CHECK:             %[[INIT:.+]] = memref.load %[[OUT]][%[[Q:.+]], %c0] : memref<4096x1xf32>
// CHECK:             %[[ALL:.+]] = scf.for %[[J:.+]] = %c0 to %c10 step %c1{{.*}} iter_args(%[[B:.+]] = %[[INIT]]) -> (f32) {
// CHECK:               %[[W:.+]] = memref.load %[[PARTIALS]][%[[Q]], %[[J]]] : memref<4096x10xf32>
// CHECK:               arith.maximumf %[[B]], %[[W]] : f32
// CHECK:             memref.store %[[ALL]], %[[OUT]][%[[Q]], %c0] : memref<4096x1xf32>
// CHECK-NOT:     linalg.generic
func.func @rows_max_onto_init(%x: memref<4096x100xf32>, %y: memref<4096x100xf32>, %out: memref<4096x1xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d0, 0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %y : memref<4096x100xf32>, memref<4096x100xf32>) outs(%out : memref<4096x1xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %m = arith.maximumf %p, %acc : f32
    linalg.yield %m : f32
  }
  return
}


// 63 points per output: below MIN_REDUCED, the generic stays (one thread per output further on).
// CHECK-LABEL: func.func @short(
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.generic
func.func @short(%x: memref<50x63xf32>, %out: memref<50xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<50x63xf32>) outs(%out : memref<50xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// conv2d's forward, whatever its window (here 3x3x1 = 9 points): one flat launch of 2x4x4x4 =
// 128 threads, each accumulating its window in a register; the input read at (oh * 2 + kh,
// ow * 2 + kw) from the op's strides; the fill of the output with 0 went.
// CHECK-LABEL: func.func @conv(
// CHECK-SAME:      %[[X:.+]]: memref<2x9x9x1xf32>, %[[W:.+]]: memref<3x3x1x4xf32>, %[[OUT:.+]]: memref<2x4x4x4xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch blocks({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c1, {{.+}}) threads({{[^)]+}}) in ({{%[[:alnum:]]+}} = %c256,
// CHECK:             arith.cmpi ult, %{{.+}}, %c128
// CHECK:             %[[ACC:.+]] = scf.for %{{.+}} = %c0 to %c9 step %c1{{.*}} iter_args(%[[A:.+]] = %{{.+}}) -> (f32) {
// CHECK:               affine.apply #[[ROWS:.+]](
// CHECK:               memref.load %[[X]][
// CHECK:               memref.load %[[W]][
// CHECK:               arith.mulf
// CHECK:               arith.addf %[[A]],
// CHECK:             memref.store %[[ACC]], %[[OUT]][
// CHECK-NOT:     linalg.conv_2d_nhwc_hwcf
func.func @conv(%x: memref<2x9x9x1xf32>, %w: memref<3x3x1x4xf32>, %out: memref<2x4x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<2x4x4x4xf32>)
  linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%x, %w : memref<2x9x9x1xf32>, memref<3x3x1x4xf32>) outs(%out : memref<2x4x4x4xf32>)
  return
}
