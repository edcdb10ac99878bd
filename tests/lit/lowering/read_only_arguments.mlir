// tgc-read-only-arguments marks each argument of a public function read-only for bufferization;
// declarations and private helpers (whose arguments are internal buffers) are left as they are.
// RUN: %tgc-opt %s -p tgc-read-only-arguments | FileCheck %s
// RUN: %tgc-opt %s -p tgc-read-only-arguments,one-shot-bufferize{bufferize-function-boundaries} | FileCheck %s --check-prefix=BUF

// CHECK: func.func private @runtime_callback(i64)
// CHECK: func.func private @helper(%{{.*}}: tensor<4xf32>) -> tensor<4xf32>
// CHECK-LABEL: func.func @two_args(
// CHECK-SAME:      %{{.*}}: tensor<4xf32> {bufferization.writable = false}, %{{.*}}: tensor<4xf32> {bufferization.writable = false})
// An in-place update of an argument becomes a copy into a new buffer:
// BUF-LABEL: func.func @two_args(
// BUF:         memref.alloc
// BUF:         memref.copy
func.func private @runtime_callback(i64)
func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @two_args(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %v = arith.constant 1.0 : f32
  %r = tensor.insert %v into %x[%c0] : tensor<4xf32>
  return %r : tensor<4xf32>
}

// With writable-variables=true, the argument of a variable that the function also assigns stays
// writable and is listed in tgc.in_place_arguments; a variable only read, and the feeds, do not.
// RUN: %tgc-opt %s -p tgc-read-only-arguments{writable-variables=true} | FileCheck %s --check-prefix=VARS
// RUN: %tgc-opt %s -p tgc-read-only-arguments{writable-variables=true},one-shot-bufferize{bufferize-function-boundaries} | FileCheck %s --check-prefix=VBUF
// VARS-LABEL: func.func @train_step(
// VARS-SAME:      %{{.*}}: tensor<4xf32> {bufferization.writable = false}, %{{.*}}: tensor<4xf32> {bufferization.writable = false}, %{{.*}}: tensor<4xf32> {bufferization.writable = true})
// VARS-SAME:      tgc.in_place_arguments = array<i64: 2>
// The assignment then writes into the variable's own buffer:
// VBUF-LABEL: func.func @train_step(
// VBUF-SAME:      %[[W:[^:]*]]: memref<4xf32, strided<[?], offset: ?>>) -> memref<4xf32, strided<[?], offset: ?>>
// VBUF-NOT:     memref.alloc
// VBUF:         memref.store %{{.*}}, %[[W]]
func.func @train_step(%x: tensor<4xf32>, %read: tensor<4xf32>, %w: tensor<4xf32>) -> tensor<4xf32> attributes {tgc.var_inputs = ["read", "w"], tgc.var_outputs = ["w"]} {
  %c0 = arith.constant 0 : index
  %v = arith.constant 1.0 : f32
  %r = tensor.insert %v into %w[%c0] : tensor<4xf32>
  return %r : tensor<4xf32>
}
