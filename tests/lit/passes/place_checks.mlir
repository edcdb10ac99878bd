// tgc-place: a run-time check (tgc.assert) requested on a device that cannot run it (a GPU) runs
// on a CPU of the requested job and task, without soft placement, as TF's GPU Assert reads its
// inputs from host memory; the op it guards stays on the GPU.
// RUN: %tgc-opt %s -p 'tgc-place{devices=/job:ps/task:0/device:CPU:0,/job:worker/task:0/device:CPU:0,/job:worker/task:0/device:GPU:0}' | FileCheck %s

// CHECK-LABEL: func.func @checked_on_the_gpu(
// CHECK:         "tgc.greater"({{.*}}) {device = "/job:worker/replica:0/task:0/device:GPU:0"
// CHECK:         "tgc.assert"({{.*}}) {device = "/job:worker/replica:0/task:0/device:CPU:0"
// CHECK:         "tgc.exp"({{.*}}) {{{.*}}device = "/job:worker/replica:0/task:0/device:GPU:0"
func.func @checked_on_the_gpu(%x: tensor<f32>, %y: tensor<f32>) -> tensor<f32> {
  %c = "tgc.greater"(%x, %y) {device = "/job:worker/device:GPU:0"} : (tensor<f32>, tensor<f32>) -> tensor<i1>
  "tgc.assert"(%c, %x) {device = "/job:worker/device:GPU:0", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0>, spec = "{\22data\22: [{\22tensor\22: 0}], \22summarize\22: 3}"} : (tensor<i1>, tensor<f32>) -> ()
  %e = "tgc.exp"(%x) {control_deps = ["Assert"], device = "/job:worker/device:GPU:0"} : (tensor<f32>) -> tensor<f32>
  return %e : tensor<f32>
}
