// tgc -> core for random ops: one linalg.generic whose body hashes (seed, seed2, step, element index)
// with 64-bit splitmix arithmetic, so compiled draws equal the numpy reference's bit for bit.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @uniform(
// CHECK-SAME:      %[[STEP:.*]]: tensor<i64>
// CHECK:         linalg.generic {{.*}} ins(%[[STEP]] : tensor<i64>) outs(%{{.*}} : tensor<2x3xf32>)
// CHECK:           arith.muli {{.*}} : i64
// CHECK:           arith.shrui {{.*}} : i64
// CHECK:           arith.xori {{.*}} : i64
// CHECK:           linalg.index 0
// CHECK:           linalg.index 1
// CHECK:           arith.uitofp {{.*}} : i64 to f32
// CHECK-NOT:     "tgc.
func.func @uniform(%step: tensor<i64>) -> tensor<2x3xf32> {
  %u = "tgc.random_uniform"(%step) {shape = array<i64: 2, 3>, dtype = f32, seed = 1 : i64, seed2 = 2 : i64, minval = 0.0 : f64, maxval = 1.0 : f64} : (tensor<i64>) -> tensor<2x3xf32>
  return %u : tensor<2x3xf32>
}
