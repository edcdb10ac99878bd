// tgc-private-loop-buffers: an empty tensor defined before a tgc.parallel_for loop and used inside
// it (cse merged the loop's own empty with it) is rebuilt at the top of the loop's body, so each
// iteration (each thread's image) bufferizes its scratch into an allocation of its own. The loop's
// carried output (its init) stays shared: iterations write disjoint slices of it. Untagged loops
// and empties built inside the loop are left as they are.
// RUN: %tgc-opt %s -p tgc-private-loop-buffers | FileCheck %s
// RUN: %tgc-opt %s -p 'tgc-private-loop-buffers,one-shot-bufferize{bufferize-function-boundaries}' | FileCheck %s --check-prefix=BUF

// CHECK-LABEL: func.func @per_image_scratch(
// CHECK:         %[[OUTSIDE:.*]] = tensor.empty() : tensor<16x8xf32>
// CHECK:         %[[FILLED:.*]] = linalg.fill ins(%{{.*}}) outs(%[[OUTSIDE]] : tensor<16x8xf32>)
// CHECK:         %[[OUT:.*]] = tensor.empty() : tensor<4x16x8xf32>
// CHECK:         scf.for %[[N:.*]] = %{{.*}} iter_args(%[[ACC:.*]] = %[[OUT]])
// CHECK-NEXT:      %[[OWN:.*]] = tensor.empty() : tensor<16x8xf32>
// CHECK-NEXT:      %[[SCRATCH:.*]] = linalg.fill ins(%{{.*}}) outs(%[[OWN]] : tensor<16x8xf32>)
// CHECK:           tensor.insert_slice %[[SCRATCH]] into %[[ACC]][%[[N]], 0, 0]
// CHECK:         } {tgc.parallel_for}
// BUF-LABEL: func.func @per_image_scratch(
// BUF:         scf.for
// BUF-NEXT:      memref.alloc() {{.*}} : memref<16x8xf32>
// BUF:         } {tgc.parallel_for}
func.func @per_image_scratch(%bias: f32) -> (tensor<16x8xf32>, tensor<4x16x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  %scratch = tensor.empty() : tensor<16x8xf32>
  %dense = linalg.fill ins(%zero : f32) outs(%scratch : tensor<16x8xf32>) -> tensor<16x8xf32>
  %out = tensor.empty() : tensor<4x16x8xf32>
  %images = scf.for %n = %c0 to %c4 step %c1 iter_args(%acc = %out) -> (tensor<4x16x8xf32>) {
    %rows = linalg.fill ins(%bias : f32) outs(%scratch : tensor<16x8xf32>) -> tensor<16x8xf32>
    %next = tensor.insert_slice %rows into %acc[%n, 0, 0] [1, 16, 8] [1, 1, 1]
        : tensor<16x8xf32> into tensor<4x16x8xf32>
    scf.yield %next : tensor<4x16x8xf32>
  } {tgc.parallel_for}
  return %dense, %images : tensor<16x8xf32>, tensor<4x16x8xf32>
}

// A dynamic empty: its size operand, defined before the loop, is used by the copy.
// CHECK-LABEL: func.func @dynamic_scratch(
// CHECK:         %[[ROWS:.*]] = tensor.dim
// CHECK:         scf.for
// CHECK-NEXT:      tensor.empty(%[[ROWS]]) : tensor<?x8xf32>
// CHECK:         } {tgc.parallel_for}
func.func @dynamic_scratch(%x: tensor<?x8xf32>, %bias: f32) -> tensor<4x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %rows = tensor.dim %x, %c0 : tensor<?x8xf32>
  %scratch = tensor.empty(%rows) : tensor<?x8xf32>
  %out = tensor.empty() : tensor<4x8xf32>
  %sums = scf.for %n = %c0 to %c4 step %c1 iter_args(%acc = %out) -> (tensor<4x8xf32>) {
    %filled = linalg.fill ins(%bias : f32) outs(%scratch : tensor<?x8xf32>) -> tensor<?x8xf32>
    %row = tensor.extract_slice %filled[0, 0] [1, 8] [1, 1] : tensor<?x8xf32> to tensor<1x8xf32>
    %next = tensor.insert_slice %row into %acc[%n, 0] [1, 8] [1, 1]
        : tensor<1x8xf32> into tensor<4x8xf32>
    scf.yield %next : tensor<4x8xf32>
  }  {tgc.parallel_for}
  return %sums : tensor<4x8xf32>
}

// Untagged: one serial loop may reuse the buffer, and keeps it.
// CHECK-LABEL: func.func @serial(
// CHECK:         %[[SCRATCH:.*]] = tensor.empty() : tensor<16x8xf32>
// CHECK:         scf.for
// CHECK-NOT:       tensor.empty
// CHECK:           linalg.fill ins(%{{.*}}) outs(%[[SCRATCH]] : tensor<16x8xf32>)
func.func @serial(%bias: f32) -> tensor<4x16x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %scratch = tensor.empty() : tensor<16x8xf32>
  %out = tensor.empty() : tensor<4x16x8xf32>
  %images = scf.for %n = %c0 to %c4 step %c1 iter_args(%acc = %out) -> (tensor<4x16x8xf32>) {
    %rows = linalg.fill ins(%bias : f32) outs(%scratch : tensor<16x8xf32>) -> tensor<16x8xf32>
    %next = tensor.insert_slice %rows into %acc[%n, 0, 0] [1, 16, 8] [1, 1, 1]
        : tensor<16x8xf32> into tensor<4x16x8xf32>
    scf.yield %next : tensor<4x16x8xf32>
  }
  return %images : tensor<4x16x8xf32>
}

// An empty built inside the loop is already one per iteration: not copied again.
// CHECK-LABEL: func.func @inside(
// CHECK:         scf.for
// CHECK-NEXT:      %[[OWN:.*]] = tensor.empty() : tensor<16x8xf32>
// CHECK-NEXT:      linalg.fill ins(%{{.*}}) outs(%[[OWN]] : tensor<16x8xf32>)
// CHECK-NOT:       tensor.empty
// CHECK:         } {tgc.parallel_for}
func.func @inside(%bias: f32) -> tensor<4x16x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %out = tensor.empty() : tensor<4x16x8xf32>
  %images = scf.for %n = %c0 to %c4 step %c1 iter_args(%acc = %out) -> (tensor<4x16x8xf32>) {
    %scratch = tensor.empty() : tensor<16x8xf32>
    %rows = linalg.fill ins(%bias : f32) outs(%scratch : tensor<16x8xf32>) -> tensor<16x8xf32>
    %next = tensor.insert_slice %rows into %acc[%n, 0, 0] [1, 16, 8] [1, 1, 1]
        : tensor<16x8xf32> into tensor<4x16x8xf32>
    scf.yield %next : tensor<4x16x8xf32>
  } {tgc.parallel_for}
  return %images : tensor<4x16x8xf32>
}
