// tgc-conv-gemm computes conv2d and its filter gradient directly, without im2col, when the window
// has few elements (K = KH*KW*C) for the output channels O (conv_direct.py): each output pixel's O
// channels are one vector. Here K = 9, O = 8.
// RUN: %tgc-opt %s -p 'tgc-to-core,tgc-conv-gemm,canonicalize' | FileCheck %s
// With the pass's direct=false, the same convs take im2col and a GEMM.
// RUN: %tgc-opt %s -p 'tgc-to-core,tgc-conv-gemm{direct=false}' | FileCheck %s --check-prefix=GEMM

// conv2d: the filter's 9 rows are read once as vectors; per output pixel (loops n, i, j), 9
// broadcast window values times those rows are summed by vector.fma, and the pixel's vector is
// written to the result.
// CHECK-LABEL: func.func @conv2d(
// CHECK:         %[[XP:.*]] = tensor.pad
// CHECK-COUNT-9: vector.transfer_read %arg1{{.*}} : tensor<3x3x1x8xf32>, vector<8xf32>
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               tensor.extract %[[XP]]
// CHECK:               vector.broadcast {{.*}} : f32 to vector<8xf32>
// CHECK-COUNT-9:       vector.fma
// CHECK:               vector.transfer_write {{.*}} : vector<8xf32>, tensor<?x6x6x8xf32>
// CHECK-NOT:     call
// CHECK:         return
// GEMM-LABEL: func.func @conv2d(
// GEMM:         call @tgc_gemm_
func.func @conv2d(%x: tensor<?x6x6x1xf32>, %f: tensor<3x3x1x8xf32>) -> tensor<?x6x6x8xf32> {
  %y = "tgc.conv2d"(%x, %f) {strides = array<i64: 1, 1, 1, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x6x6x1xf32>, tensor<3x3x1x8xf32>) -> tensor<?x6x6x8xf32>
  return %y : tensor<?x6x6x8xf32>
}

// The filter gradient: 9 accumulator vectors carried through the loops over the output pixels,
// each pixel adding its window value times its gradient vector; then written as the filter's rows.
// CHECK-LABEL: func.func @backprop_filter(
// CHECK:         %{{.*}}:9 = scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               vector.transfer_read %arg1{{.*}} : tensor<?x6x6x8xf32>, vector<8xf32>
// CHECK-COUNT-9:       vector.fma
// CHECK:         tensor.empty() : tensor<3x3x1x8xf32>
// CHECK-COUNT-9: vector.transfer_write {{.*}} : vector<8xf32>, tensor<3x3x1x8xf32>
// CHECK-NOT:     call
// CHECK:         return
// GEMM-LABEL: func.func @backprop_filter(
// GEMM:         call @tgc_gemm_
func.func @backprop_filter(%x: tensor<?x6x6x1xf32>, %g: tensor<?x6x6x8xf32>) -> tensor<3x3x1x8xf32> {
  %df = "tgc.conv2d_backprop_filter"(%x, %g) {filter_shape = array<i64: 3, 3, 1, 8>, strides = array<i64: 1, 1, 1, 1>, padding = "SAME", dilations = array<i64: 1, 1, 1, 1>} : (tensor<?x6x6x1xf32>, tensor<?x6x6x8xf32>) -> tensor<3x3x1x8xf32>
  return %df : tensor<3x3x1x8xf32>
}
