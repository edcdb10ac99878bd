// tgc-return-in-place refuses a tgc.in_place_arguments that does not name arguments of its function:
// one located error per chunk, naming the attribute and the argument count, not an internal error.
// RUN: not %tgc-opt %s --split-input-file -p tgc-return-in-place 2>&1 | FileCheck %s
// CHECK-NOT: internal error

// CHECK: return_in_place_invalid.mlir:[[@LINE+1]]:{{[0-9]+}}: error: {{.*}}tgc.in_place_arguments names argument 64, but @past_the_end has 1 argument (index 0)
func.func @past_the_end(%w: memref<4xf32>) -> memref<4xf32> attributes {tgc.in_place_arguments = array<i64: 64>} {
  %0 = bufferization.clone %w : memref<4xf32> to memref<4xf32>
  return %0 : memref<4xf32>
}

// -----

// CHECK: return_in_place_invalid.mlir:[[@LINE+1]]:{{[0-9]+}}: error: {{.*}}tgc.in_place_arguments names argument -1, but @negative has 2 arguments (0 to 1)
func.func @negative(%x: memref<4xf32>, %w: memref<4xf32>) -> memref<4xf32> attributes {tgc.in_place_arguments = array<i64: -1>} {
  %0 = bufferization.clone %w : memref<4xf32> to memref<4xf32>
  return %0 : memref<4xf32>
}

// -----

// CHECK: return_in_place_invalid.mlir:[[@LINE+1]]:{{[0-9]+}}: error: {{.*}}tgc.in_place_arguments must be an array<i64: ...> of argument indices, got 1 : i64
func.func @not_an_array(%w: memref<4xf32>) -> memref<4xf32> attributes {tgc.in_place_arguments = 1} {
  %0 = bufferization.clone %w : memref<4xf32> to memref<4xf32>
  return %0 : memref<4xf32>
}

// -----

// CHECK: return_in_place_invalid.mlir:[[@LINE+1]]:{{[0-9]+}}: error: {{.*}}tgc.in_place_arguments names argument 0, but @no_arguments has no arguments
func.func @no_arguments() -> memref<4xf32> attributes {tgc.in_place_arguments = array<i64: 0>} {
  %0 = memref.alloc() : memref<4xf32>
  return %0 : memref<4xf32>
}
