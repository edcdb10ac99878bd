// tgc-nvptx-out-params refuses unknown dims (the kernels take bare pointers to static shapes): one
// located error naming the argument or result and its type.
// RUN: not %tgc-opt %s --split-input-file -p tgc-nvptx-out-params 2>&1 | FileCheck %s
// CHECK-NOT: internal error

// CHECK: nvptx_out_params_invalid.mlir:[[@LINE+1]]:{{[0-9]+}}: error: the nvptx target compiles static shapes only: argument 0 of @dynamic_input is tensor<?x3xf32> (give every feed a full shape)
func.func @dynamic_input(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  return %x : tensor<?x3xf32>
}

// -----

// CHECK: nvptx_out_params_invalid.mlir:[[@LINE+1]]:{{[0-9]+}}: error: the nvptx target compiles static shapes only: result 0 of @dynamic_result is tensor<?xf32>
func.func @dynamic_result(%x: tensor<4xf32>) -> tensor<?xf32> {
  %c = tensor.cast %x : tensor<4xf32> to tensor<?xf32>
  return %c : tensor<?xf32>
}
