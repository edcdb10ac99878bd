// The accel dialect (tgc/lowering/accel/ops.py, generated as IRDL): `tgc opt` loads it for an
// input that uses it, prints its ops back unchanged, and its verifier names an attribute of the
// wrong kind.
// RUN: not %tgc-opt %s --split-input-file 2>&1 | FileCheck %s
// CHECK-NOT: internal error

// CHECK: accel_dialect.mlir:[[@LINE+20]]:3: error: expected base attribute 'builtin.integer' but got 'builtin.string'
// CHECK-LABEL: func.func @tile(
// CHECK-NEXT:    "accel.dma_load"(%{{.*}}) {begin = array<i64: 0, 0>, count = array<i64: 4, 4>, step = array<i64: 1, 1>, to = 0 : i64}
// A DMA's optional attributes: a transposing load of a window one column left of the tensor,
// filled with zeros where it leaves it.
// CHECK-NEXT:    "accel.dma_load"(%{{.*}}) {begin = array<i64: 0, -1>, count = array<i64: 4, 4>, fill = 0.000000e+00 : f64, perm = array<i64: 1, 0>, step = array<i64: 1, 1>, to = 128 : i64}
// CHECK-NEXT:    "accel.zero"() {at = 64 : i64, shape = array<i64: 4, 4>}
// CHECK-NEXT:    "accel.dma_store"(%{{.*}}) {begin = array<i64: 0, 0>, count = array<i64: 4, 4>, from = 64 : i64, step = array<i64: 1, 1>}
// CHECK-NEXT:    return
func.func @tile(%a: memref<4x4xf32>, %b: memref<4x4xf32>) {
  "accel.dma_load"(%a) {begin = array<i64: 0, 0>, count = array<i64: 4, 4>, step = array<i64: 1, 1>, to = 0 : i64} : (memref<4x4xf32>) -> ()
  "accel.dma_load"(%a) {begin = array<i64: 0, -1>, count = array<i64: 4, 4>, step = array<i64: 1, 1>, perm = array<i64: 1, 0>, fill = 0.0 : f64, to = 128 : i64} : (memref<4x4xf32>) -> ()
  "accel.zero"() {at = 64 : i64, shape = array<i64: 4, 4>} : () -> ()
  "accel.dma_store"(%b) {begin = array<i64: 0, 0>, count = array<i64: 4, 4>, step = array<i64: 1, 1>, from = 64 : i64} : (memref<4x4xf32>) -> ()
  return
}

// -----

func.func @bad_offset() {
  "accel.zero"() {at = "here", shape = array<i64: 4, 4>} : () -> ()
  return
}
