// tgc-accel-tile-generic refuses, naming the op and the reason, a generic the vector unit cannot
// run (placement keeps such ops on the CPU; these would be compiler bugs).
// RUN: not %tgc-opt %s --split-input-file -p tgc-accel-tile-generic 2>&1 | FileCheck %s
// CHECK-NOT: internal error

// CHECK: accel_tile_generic_invalid.mlir:[[@LINE+3]]:3: error: the accelerator cannot run this linalg.generic: the accelerator's vector unit computes on floats, not memref<4xi32>
func.func @integers(%x: memref<4xi32>) -> memref<4xi32> {
  %y = memref.alloc() : memref<4xi32>
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : memref<4xi32>) outs(%y : memref<4xi32>) {
  ^bb0(%in: i32, %out: i32):
    %r = arith.addi %in, %in : i32
    linalg.yield %r : i32
  }
  return %y : memref<4xi32>
}

// -----

// CHECK: accel_tile_generic_invalid.mlir:[[@LINE+3]]:3: error: the accelerator cannot run this linalg.generic: the vector unit has no 'math.erf'
func.func @erf(%x: memref<4xf32>) -> memref<4xf32> {
  %y = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : memref<4xf32>) outs(%y : memref<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.erf %in : f32
    linalg.yield %r : f32
  }
  return %y : memref<4xf32>
}

// -----

// CHECK: accel_tile_generic_invalid.mlir:[[@LINE+5]]:3: error: the accelerator cannot run this linalg.generic: its reduction is not a sum, product, max or min of the body
func.func @sum_of_squares_minus(%x: memref<4xf32>) -> memref<f32> {
  %zero = arith.constant 0.0 : f32
  %s = memref.alloc() : memref<f32>
  linalg.fill ins(%zero : f32) outs(%s : memref<f32>)
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]}
      ins(%x : memref<4xf32>) outs(%s : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.subf %acc, %in : f32
    linalg.yield %r : f32
  }
  return %s : memref<f32>
}
