// tgc-nvptx-out-params: each tensor result of a public function becomes one more memref argument,
// written by materialize_in_destination (restrict writable) so that bufferization stores the
// result straight into the caller's buffer; the function returns nothing. Private functions keep
// their results.
// RUN: %tgc-opt %s --split-input-file -p tgc-nvptx-out-params | FileCheck %s

// CHECK-LABEL: func.func @two_results(
// CHECK-SAME:      %[[X:.*]]: tensor<4x3xf32>, %[[OUT0:.*]]: memref<4x3xf32>, %[[OUT1:.*]]: memref<3xf32>)
// CHECK-SAME:      tgc.out_params = 2 : i64
// CHECK:         %[[E:.*]] = math.exp %[[X]]
// CHECK:         %[[R:.*]] = tensor.extract_slice
// CHECK:         bufferization.materialize_in_destination %[[E]] in restrict writable %[[OUT0]] : (tensor<4x3xf32>, memref<4x3xf32>) -> ()
// CHECK:         bufferization.materialize_in_destination %[[R]] in restrict writable %[[OUT1]] : (tensor<3xf32>, memref<3xf32>) -> ()
// CHECK-NEXT:    return{{$}}
// CHECK-LABEL: func.func private @helper(
// CHECK-SAME:      -> tensor<3xf32>
func.func @two_results(%x: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<3xf32>) {
  %e = math.exp %x : tensor<4x3xf32>
  %r = tensor.extract_slice %e[0, 0] [1, 3] [1, 1] : tensor<4x3xf32> to tensor<3xf32>
  return %e, %r : tensor<4x3xf32>, tensor<3xf32>
}
func.func private @helper(%x: tensor<3xf32>) -> tensor<3xf32> {
  return %x : tensor<3xf32>
}
