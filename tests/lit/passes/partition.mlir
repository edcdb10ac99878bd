// tgc-partition cuts a placed function into one function per device joined by send/recv pairs:
// one pair per (tensor, destination device), however many consumers, keyed by tensor and devices.
// RUN: %tgc-opt %s --split-input-file -p 'tgc-place{devices=/job:ps/task:0/device:CPU:0,/job:worker/task:0/device:CPU:0},tgc-partition' | FileCheck %s

// The parameter-server example: w is read on ps and sent to the worker once although two ops use
// it; the worker's update goes back to ps for the assign.
// CHECK-LABEL: func.func @main_p0(
// CHECK-SAME:      tgc.device = "/job:ps/replica:0/task:0/device:CPU:0"
// CHECK-SAME:      tgc.fetch_indices = array<i64: 1>
// CHECK:         %[[W:.*]] = "tgc.read_variable"()
// CHECK-NEXT:    "tgc.send"(%[[W]]) {{{.*}}key = "w/read:0;/job:ps/replica:0/task:0/device:CPU:0;/job:worker/replica:0/task:0/device:CPU:0", key_id = [[K0:[0-9]+]]
// CHECK:         %[[U:.*]] = "tgc.recv"() {{{.*}}key = "update:0;/job:worker/replica:0/task:0/device:CPU:0;/job:ps/replica:0/task:0/device:CPU:0", key_id = [[K1:[0-9]+]]
// CHECK:         %[[N:.*]] = "tgc.assign_sub"(%[[U]])
// CHECK:         return %[[N]]
// CHECK-LABEL: func.func @main_p1(
// CHECK-SAME:      tgc.device = "/job:worker/replica:0/task:0/device:CPU:0"
// CHECK-SAME:      tgc.fetch_indices = array<i64: 0>
// CHECK:         %[[RW:.*]] = "tgc.recv"() {{{.*}}key_id = [[K0]]
// CHECK-NOT:     "tgc.recv"() {{{.*}}key_id = [[K0]]
// CHECK:         "tgc.matmul"(%{{.*}}, %[[RW]])
// CHECK:         %[[UPD:.*]] = "tgc.multiply"(%{{.*}}, %[[RW]])
// CHECK-NEXT:    "tgc.send"(%[[UPD]]) {{{.*}}key_id = [[K1]]
"tgc.variable"() {sym_name = "w", shape = array<i64: 3, 2>, dtype = f32, device = "/job:ps"} : () -> ()
func.func @main(%x: tensor<?x3xf32>) -> (tensor<?x2xf32>, tensor<3x2xf32>) {
  %w = "tgc.read_variable"() {var = @w, shape = array<i64: 3, 2>, dtype = f32} : () -> tensor<3x2xf32> loc("w/read")
  %y = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false, device = "/job:worker"} : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  %t = "tgc.tanh"(%y) {device = "/job:worker"} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %u = "tgc.multiply"(%w, %w) {device = "/job:worker"} : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32> loc("update")
  %n = "tgc.assign_sub"(%u) {var = @w} : (tensor<3x2xf32>) -> tensor<3x2xf32>
  return %t, %n : tensor<?x2xf32>, tensor<3x2xf32>
}

// -----

// A control edge across devices becomes a token pair, sent right after the op it waits for.
// CHECK-LABEL: func.func @main_p0(
// CHECK:         "tgc.assign"(
// CHECK:         "tgc.send"(%{{.*}}) {{{.*}}key = "^bump;/job:ps/replica:0/task:0/device:CPU:0;/job:worker/replica:0/task:0/device:CPU:0"
// CHECK-LABEL: func.func @main_p1(
// CHECK:         "tgc.recv"() {{{.*}}key = "^bump;
// CHECK-NEXT:    "tgc.exp"
"tgc.variable"() {sym_name = "v", shape = array<i64>, dtype = f32, device = "/job:ps"} : () -> ()
func.func @main(%x: tensor<f32>) -> tensor<f32> {
  %a = "tgc.assign"(%x) {var = @v} : (tensor<f32>) -> tensor<f32> loc("bump")
  %e = "tgc.exp"(%x) {device = "/job:worker", control_deps = ["bump"]} : (tensor<f32>) -> tensor<f32>
  return %e : tensor<f32>
}
