// tgc-conv-gemm (CPU) rewrites the conv ops that core lowering tagged (tgc.conv) into BLAS GEMMs when
// they are f32 or f64: conv2d and its filter gradient through im2col, the input gradient as a GEMM
// with the transposed filter and col2im. Each GEMM sits in a private function (out of elementwise
// fusion's reach) that zero-fills its output itself (*_z: BLAS beta = 0). Other dtypes keep core's
// loops, tags and all.
// RUN: %tgc-opt %s -p 'tgc-to-core,tgc-conv-gemm{direct=false}' | FileCheck %s

// The GEMM functions come first in the module (the last one built on top), one per signature.
// CHECK:       #[[TB:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK:       func.func private @tgc_gemm_256x800xf32_800x8xf32_256x8xf32_z(
// The input gradient's: B (the filter [KH*KW*C, O]) is read transposed, its map is (n, k).
// CHECK:       func.func private @tgc_gemm_dx3xf32_36x3xf32_dx36xf32_tb_z(%{{.*}}, %{{.*}}, %[[C:.*]]: tensor<?x36xf32>)
// CHECK-NEXT:    %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT:    %[[F:.*]] = linalg.fill ins(%[[Z]] : f32) outs(%[[C]] : tensor<?x36xf32>)
// CHECK-NEXT:    linalg.matmul indexing_maps = [#{{.*}}, #[[TB]], #{{.*}}] {{.*}} outs(%[[F]] : tensor<?x36xf32>)
// CHECK:       func.func private @tgc_gemm_dx27xf32_dx4xf32_27x4xf32_ta_z(
// CHECK:       func.func private @tgc_gemm_32x12xf64_12x5xf64_32x5xf64_z(
// CHECK:       func.func private @tgc_gemm_dx27xf32_27x4xf32_dx4xf32_z(

// conv2d: the padded input's patch matrix [N*OH*OW, KH*KW*C] @ the filter [KH*KW*C, O]. The
// width is not dilated, so im2col copies each window row's KW*C adjacent elements of the padded
// input's collapsed (w, c) dim as one vector: patches [N, OH, OW, KH, KW*C].
// CHECK-LABEL: func.func @conv2d(
// CHECK:         %[[XP:.*]] = tensor.pad %{{.*}} low[0, 0, 0, 0] high[0, 1, 1, 0]
// CHECK:         %[[ROWS:.*]] = tensor.collapse_shape %[[XP]] {{\[}}[0], [1], [2, 3]] : tensor<?x9x9x3xf32> into tensor<?x9x27xf32>
// CHECK:         tensor.empty(%{{.*}}) : tensor<?x4x4x3x9xf32>
// CHECK:         vector.transfer_read %[[ROWS]]{{.*}} : tensor<?x9x27xf32>, vector<9xf32>
// CHECK:         vector.transfer_write {{.*}} : vector<9xf32>, tensor<?x4x4x3x9xf32>
// CHECK:         tensor.collapse_shape {{.*}} into tensor<?x27xf32>
// CHECK:         tensor.collapse_shape {{.*}} into tensor<27x4xf32>
// CHECK:         call @tgc_gemm_dx27xf32_27x4xf32_dx4xf32_z(
// CHECK:         tensor.expand_shape {{.*}} into tensor<?x4x4x4xf32>
// CHECK-NOT:     linalg.conv
// CHECK-NOT:     tgc.conv
// CHECK:         return
func.func @conv2d(%x: tensor<?x8x8x3xf32>, %f: tensor<3x3x3x4xf32>) -> tensor<?x4x4x4xf32> {
  %y = "tgc.conv2d"(%x, %f) {strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<?x4x4x4xf32>
  return %y : tensor<?x4x4x4xf32>
}

// f64 takes the same path (dgemm); VALID with width dilation 2: im2col copies element by element.
// CHECK-LABEL: func.func @conv2d_f64(
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<2x4x4x3x2x2xf64>)
// CHECK:         call @tgc_gemm_32x12xf64_12x5xf64_32x5xf64_z(
// CHECK-NOT:     linalg.conv
func.func @conv2d_f64(%x: tensor<2x9x9x2xf64>, %f: tensor<3x2x2x5xf64>) -> tensor<2x4x4x5xf64> {
  %y = "tgc.conv2d"(%x, %f) {strides = array<i64: 1, 2, 2, 1>, padding = "VALID", dilations = array<i64: 1, 1, 2, 1>} : (tensor<2x9x9x2xf64>, tensor<3x2x2x5xf64>) -> tensor<2x4x4x5xf64>
  return %y : tensor<2x4x4x5xf64>
}

// The filter gradient: the patch matrix read transposed (_ta) against the gradient [N*OH*OW, O].
// CHECK-LABEL: func.func @backprop_filter(
// CHECK:         tensor.collapse_shape {{.*}} into tensor<?x27xf32>
// CHECK:         tensor.collapse_shape {{.*}} into tensor<?x4xf32>
// CHECK:         call @tgc_gemm_dx27xf32_dx4xf32_27x4xf32_ta_z(
// CHECK:         tensor.expand_shape {{.*}} into tensor<3x3x3x4xf32>
// CHECK-NOT:     tgc.conv
// CHECK:         return
func.func @backprop_filter(%x: tensor<?x8x8x3xf32>, %g: tensor<?x4x4x4xf32>) -> tensor<3x3x3x4xf32> {
  %df = "tgc.conv2d_backprop_filter"(%x, %g) {filter_shape = array<i64: 3, 3, 3, 4>, strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x8x8x3xf32>, tensor<?x4x4x4xf32>) -> tensor<3x3x3x4xf32>
  return %df : tensor<3x3x3x4xf32>
}

// The input gradient is one GEMM of the gradient [N*OH*OW, O] with the filter [KH*KW*C, O] read
// transposed, giving the columns [N, OH, OW, KH, KW, C]; then col2im: for each window tap, a loop
// nest over (n, i, j) adds the C channels of the outputs whose tap lands in the input as one vector.
// SAME 3x3 at stride 2 on 5x5 pads 1 before: tap (0, 0) reaches outputs 1..2 (2 of them in each
// dim) at input 1 + 2i; all nine taps reach some. No spread gradient, no flipped filter is left.
// CHECK-LABEL: func.func @backprop_input(
// CHECK:         call @tgc_gemm_dx3xf32_36x3xf32_dx36xf32_tb_z(
// CHECK:         %[[COLS:.*]] = tensor.expand_shape {{.*}} into tensor<?x3x3x3x3x4xf32>
// CHECK:         linalg.fill
// CHECK:         scf.for
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c2{{(_[0-9]+)?}} step
// CHECK:             vector.transfer_read %[[COLS]]{{.*}} {in_bounds = [true]} : tensor<?x3x3x3x3x4xf32>, vector<4xf32>
// CHECK:             vector.transfer_read {{.*}} : tensor<?x5x5x4xf32>, vector<4xf32>
// CHECK:             arith.addf {{.*}} : vector<4xf32>
// CHECK:             vector.transfer_write {{.*}} : vector<4xf32>, tensor<?x5x5x4xf32>
// CHECK-COUNT-8: vector.transfer_write {{.*}} : vector<4xf32>, tensor<?x5x5x4xf32>
// CHECK-NOT:     tensor.insert_slice
// CHECK-NOT:     tgc.conv
// CHECK:         return {{.*}} : tensor<?x5x5x4xf32>
func.func @backprop_input(%f: tensor<3x3x4x3xf32>, %g: tensor<?x3x3x3xf32>, %x: tensor<?x5x5x4xf32>) -> tensor<?x5x5x4xf32> {
  %dx = "tgc.conv2d_backprop_input"(%f, %g, %x) {strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<3x3x4x3xf32>, tensor<?x3x3x3xf32>, tensor<?x5x5x4xf32>) -> tensor<?x5x5x4xf32>
  return %dx : tensor<?x5x5x4xf32>
}

// One image's patch matrix of 800 KB (16x16 pixels, 5x5x32 window) is built and multiplied inside an
// scf.for over the batch, tagged for tgc-parallel-loops (images on several threads, each image's
// GEMM on its thread).
// CHECK-LABEL: func.func @per_image(
// CHECK:         scf.for
// CHECK:           tensor.extract_slice {{.*}} to tensor<1x20x20x32xf32>
// CHECK:           tensor.collapse_shape {{.*}} into tensor<256x800xf32>
// CHECK:           func.call @tgc_gemm_256x800xf32_800x8xf32_256x8xf32_z(
// CHECK:           tensor.insert_slice
// CHECK:           scf.yield
// CHECK-NEXT:    } {tgc.parallel_for}
func.func @per_image(%x: tensor<?x16x16x32xf32>, %f: tensor<5x5x32x8xf32>) -> tensor<?x16x16x8xf32> {
  %y = "tgc.conv2d"(%x, %f) {strides = array<i64: 1, 1, 1, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x16x16x32xf32>, tensor<5x5x32x8xf32>) -> tensor<?x16x16x8xf32>
  return %y : tensor<?x16x16x8xf32>
}

// The filter gradient of the same layer sums its images in 4 parts (conv_direct.GRADIENT_PARTS):
// a tagged loop over the parts, each summing its images (GEMMs with beta = 1 into a zeroed
// [800, 8]) into its row of partials, then the parts added in part order.
// CHECK-LABEL: func.func @per_image_filter_gradient(
// CHECK:         tensor.empty() : tensor<4x800x8xf32>
// CHECK:         scf.for %[[PART:.*]] = %{{.*}} to %c4{{(_[0-9]+)?}} step
// CHECK:           linalg.fill {{.*}} -> tensor<800x8xf32>
// CHECK:           scf.for
// CHECK:             func.call @tgc_gemm_256x800xf32_256x8xf32_800x8xf32_ta(
// CHECK:           tensor.insert_slice {{.*}}[%[[PART]], 0, 0] [1, 800, 8]
// CHECK:         } {tgc.parallel_for}
// CHECK:         tensor.extract_slice %{{.*}}[0, 0, 0] [1, 800, 8]
// CHECK:         tensor.extract_slice %{{.*}}[1, 0, 0] [1, 800, 8]
// CHECK:         arith.addf
// CHECK:         tensor.extract_slice %{{.*}}[2, 0, 0] [1, 800, 8]
// CHECK:         arith.addf
// CHECK:         tensor.extract_slice %{{.*}}[3, 0, 0] [1, 800, 8]
// CHECK:         arith.addf
// CHECK:         tensor.expand_shape {{.*}} into tensor<5x5x32x8xf32>
func.func @per_image_filter_gradient(%x: tensor<?x16x16x32xf32>, %g: tensor<?x16x16x8xf32>) -> tensor<5x5x32x8xf32> {
  %df = "tgc.conv2d_backprop_filter"(%x, %g) {filter_shape = array<i64: 5, 5, 32, 8>, strides = array<i64: 1, 1, 1, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x16x16x32xf32>, tensor<?x16x16x8xf32>) -> tensor<5x5x32x8xf32>
  return %df : tensor<5x5x32x8xf32>
}

// f16 has no BLAS GEMM: core's loops stay as they are, still tagged.
// CHECK-LABEL: func.func @half(
// CHECK:         linalg.conv_2d_nhwc_hwcf {{{.*}}tgc.conv = "conv2d"{{.*}}} ins(%{{.*}} : tensor<?x9x9x3xf16>, tensor<3x3x3x4xf16>)
// CHECK:         tensor.insert_slice
// CHECK:         linalg.generic {{.*}} attrs = {tgc.conv = "backprop_input", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 1, 0, 1>, tgc.conv_strides = array<i64: 2, 2>}
// CHECK:         linalg.generic {{.*}} attrs = {tgc.conv = "backprop_filter", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 1, 0, 1>, tgc.conv_strides = array<i64: 2, 2>}
// CHECK-NOT:     call
// CHECK:         return
func.func @half(%x: tensor<?x8x8x3xf16>, %f: tensor<3x3x3x4xf16>, %g: tensor<?x4x4x4xf16>) -> (tensor<?x4x4x4xf16>, tensor<?x8x8x3xf16>, tensor<3x3x3x4xf16>) {
  %y = "tgc.conv2d"(%x, %f) {strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x8x8x3xf16>, tensor<3x3x3x4xf16>) -> tensor<?x4x4x4xf16>
  %dx = "tgc.conv2d_backprop_input"(%f, %g, %x) {strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<3x3x3x4xf16>, tensor<?x4x4x4xf16>, tensor<?x8x8x3xf16>) -> tensor<?x8x8x3xf16>
  %df = "tgc.conv2d_backprop_filter"(%x, %g) {filter_shape = array<i64: 3, 3, 3, 4>, strides = array<i64: 1, 2, 2, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x8x8x3xf16>, tensor<?x4x4x4xf16>) -> tensor<3x3x3x4xf16>
  return %y, %dx, %df : tensor<?x4x4x4xf16>, tensor<?x8x8x3xf16>, tensor<3x3x3x4xf16>
}

// A tagged input gradient whose operands are not core's spread gradient and flipped filter (here
// function arguments): the gradient and the filter cannot be found, and the loops stay.
// CHECK-LABEL: func.func @untraceable_input_gradient(
// CHECK:         linalg.generic {{.*}} attrs = {tgc.conv = "backprop_input"
// CHECK-NOT:     call
func.func @untraceable_input_gradient(%gp: tensor<1x7x7x3xf32>, %ff: tensor<3x3x3x4xf32>, %init: tensor<1x5x5x4xf32>) -> tensor<1x5x5x4xf32> {
  %dx = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 + d3, d2 + d4, d5)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4, d5, d6)>, affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]} ins(%gp, %ff : tensor<1x7x7x3xf32>, tensor<3x3x3x4xf32>) outs(%init : tensor<1x5x5x4xf32>) attrs = {tgc.conv = "backprop_input", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 1, 1, 1, 1>, tgc.conv_strides = array<i64: 2, 2>} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x5x5x4xf32>
  return %dx : tensor<1x5x5x4xf32>
}

// max_pool_grad of windows that tile the input (2x2, stride 2): per output pixel, the window's 4
// input vectors keep the running maximum and its offset, and each tap's tile gets the gradient
// vector where the offset is its own (pool_vector.py); core's argmax generic is gone.
// CHECK-LABEL: func.func @max_pool_grad(
// CHECK:         tensor.empty(%{{.*}}) : tensor<?x3x2x3x2x8xf32>
// CHECK:         scf.for
// CHECK-COUNT-4:       arith.cmpf ogt, {{.*}} : vector<8xf32>
// CHECK:               vector.transfer_read %arg1{{.*}} : tensor<?x3x3x8xf32>, vector<8xf32>
// CHECK-COUNT-4:       vector.transfer_write {{.*}} : vector<8xf32>, tensor<?x3x2x3x2x8xf32>
// CHECK:         tensor.collapse_shape {{.*}} into tensor<?x6x6x8xf32>
// CHECK-NOT:     linalg.generic
// CHECK:         return
func.func @max_pool_grad(%x: tensor<?x6x6x8xf32>, %g: tensor<?x3x3x8xf32>) -> tensor<?x6x6x8xf32> {
  %dx = "tgc.max_pool_grad"(%x, %g) {ksize = array<i64: 1, 2, 2, 1>, strides = array<i64: 1, 2, 2, 1>, padding = "SAME"} : (tensor<?x6x6x8xf32>, tensor<?x3x3x8xf32>) -> tensor<?x6x6x8xf32>
  return %dx : tensor<?x6x6x8xf32>
}

// max_pool (3x3 at stride 2, SAME: the input padded with -inf): per output pixel, the maximumf of
// the window's 9 input vectors (pool_vector.py) instead of the named pooling op.
// CHECK-LABEL: func.func @max_pool(
// CHECK:         %[[XP:.*]] = tensor.pad
// CHECK:         scf.for
// CHECK-COUNT-9:       vector.transfer_read %[[XP]]{{.*}} : tensor<?x9x9x8xf32>, vector<8xf32>
// CHECK:               vector.transfer_write {{.*}} : vector<8xf32>, tensor<?x4x4x8xf32>
// CHECK-NOT:     linalg.pooling_nhwc_max
// CHECK:         return
func.func @max_pool(%x: tensor<?x7x7x8xf32>) -> tensor<?x4x4x8xf32> {
  %y = "tgc.max_pool"(%x) {ksize = array<i64: 1, 3, 3, 1>, strides = array<i64: 1, 2, 2, 1>, padding = "SAME"} : (tensor<?x7x7x8xf32>) -> tensor<?x4x4x8xf32>
  return %y : tensor<?x4x4x8xf32>
}
