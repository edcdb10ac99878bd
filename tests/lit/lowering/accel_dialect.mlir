// The accel dialect (tgc/lowering/accel/ops.py, generated as IRDL): `tgc opt` loads it for an
// input that uses it, prints its ops back unchanged, and its verifier names an attribute of the
// wrong kind.
// RUN: not %tgc-opt %s --split-input-file 2>&1 | FileCheck %s
// CHECK-NOT: internal error

// CHECK: accel_dialect.mlir:[[@LINE+14]]:3: error: expected base attribute 'builtin.integer' but got 'builtin.string'
// CHECK-LABEL: func.func @tile(
// CHECK-NEXT:    "accel.dma_load"(%{{.*}}) {cols = array<i64: 0, 4>, rows = array<i64: 0, 4>, to = 0 : i64}
// CHECK-NEXT:    "accel.zero"() {at = 64 : i64, shape = array<i64: 4, 4>}
// CHECK-NEXT:    return
func.func @tile(%a: memref<4x4xf32>) {
  "accel.dma_load"(%a) {cols = array<i64: 0, 4>, rows = array<i64: 0, 4>, to = 0 : i64} : (memref<4x4xf32>) -> ()
  "accel.zero"() {at = 64 : i64, shape = array<i64: 4, 4>} : () -> ()
  return
}

// -----

func.func @bad_offset() {
  "accel.zero"() {at = "here", shape = array<i64: 4, 4>} : () -> ()
  return
}
