// tgc-accel-outline-conv: a tagged convolution generic moves behind a call of a private function
// for the span of linalg-fuse-elementwise-ops; `inline` puts it back. Without it the fusion folds
// dy's one-use elementwise producer (here 2 * c) into the filter gradient, whose fused generic has
// lost its tgc.conv tag and reaches tgc-accel-tile-generic ("the indexing map result d1 + d3 is
// not a loop dim or 0").
// RUN: %tgc-opt %s -p tgc-accel-outline-conv | FileCheck %s --check-prefix=OUTLINED
// RUN: %tgc-opt %s -p "tgc-accel-outline-conv,func.func(linalg-fuse-elementwise-ops),inline" | FileCheck %s

// OUTLINED:      func.func private @tgc_accel_conv_0(%[[A0:.+]]: tensor<1x4x4x2xf32>, %[[A1:.+]]: tensor<1x4x4x3xf32>, %[[A2:.+]]: tensor<1x1x2x3xf32>)
// OUTLINED-NEXT:   %[[R:.+]] = linalg.generic {{.*}} ins(%[[A0]], %[[A1]] : {{.*}}) outs(%[[A2]] : {{.*}}) attrs = {tgc.conv = "backprop_filter"
// OUTLINED:        return %[[R]]
// OUTLINED-LABEL: func.func @backprop_filter(
// OUTLINED:        %[[DY:.+]] = linalg.generic
// OUTLINED:        %[[INIT:.+]] = linalg.fill
// OUTLINED-NEXT:   %[[DW:.+]] = call @tgc_accel_conv_0(%arg0, %[[DY]], %[[INIT]])
// OUTLINED-NEXT:   return %[[DW]]

// After the fusion and the inliner: the two generics as they were, the private function gone.
// CHECK-NOT:     func.func private
// CHECK-LABEL:   func.func @backprop_filter(
// CHECK:           %[[DY:.+]] = linalg.generic {{.*}} ins(%arg1 : tensor<1x4x4x3xf32>)
// CHECK:             arith.addf %[[IN:.+]], %[[IN]] : f32
// CHECK:           %[[INIT:.+]] = linalg.fill
// CHECK-NEXT:      %[[DW:.+]] = linalg.generic {{.*}} ins(%arg0, %[[DY]] : {{.*}}) outs(%[[INIT]] : {{.*}}) attrs = {tgc.conv = "backprop_filter"
// CHECK-NOT:       call
// CHECK:           return %[[DW]]
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#x = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 + d3, d2 + d4, d5)>
#dy = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>
#dw = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4, d5, d6)>
func.func @backprop_filter(%x: tensor<1x4x4x2xf32>, %c: tensor<1x4x4x3xf32>) -> tensor<1x1x2x3xf32> {
  %e = tensor.empty() : tensor<1x4x4x3xf32>
  %dy = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%c : tensor<1x4x4x3xf32>) outs(%e : tensor<1x4x4x3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %twice = arith.addf %in, %in : f32
    linalg.yield %twice : f32
  } -> tensor<1x4x4x3xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %e2 = tensor.empty() : tensor<1x1x2x3xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x1x2x3xf32>) -> tensor<1x1x2x3xf32>
  %dw = linalg.generic {indexing_maps = [#x, #dy, #dw], iterator_types = ["reduction", "reduction", "reduction", "parallel", "parallel", "parallel", "parallel"]} ins(%x, %dy : tensor<1x4x4x2xf32>, tensor<1x4x4x3xf32>) outs(%init : tensor<1x1x2x3xf32>) attrs = {tgc.conv = "backprop_filter", tgc.conv_dilations = array<i64: 1, 1>, tgc.conv_padding = array<i64: 0, 0, 0, 0>, tgc.conv_strides = array<i64: 1, 1>} {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %0 = arith.mulf %in, %in_1 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  } -> tensor<1x1x2x3xf32>
  return %dw : tensor<1x1x2x3xf32>
}
