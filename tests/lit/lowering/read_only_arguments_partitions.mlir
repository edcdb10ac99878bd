// tgc-read-only-arguments{writable-variables=true} on a module of several partitions: a variable may be
// read on one partition's thread while another assigns it, so every argument stays read-only.
// RUN: %tgc-opt %s -p tgc-read-only-arguments{writable-variables=true} | FileCheck %s
// CHECK-LABEL: func.func @main_p0(
// CHECK-SAME:      %{{.*}}: tensor<4xf32> {bufferization.writable = false})
// CHECK-NOT:     tgc.in_place_arguments
// CHECK-LABEL: func.func @main_p1(
// CHECK-SAME:      %{{.*}}: tensor<4xf32> {bufferization.writable = false})
func.func @main_p0(%w: tensor<4xf32>) -> tensor<4xf32> attributes {tgc.partition_of = "main", tgc.var_inputs = ["w"], tgc.var_outputs = ["w"]} {
  return %w : tensor<4xf32>
}
func.func @main_p1(%w: tensor<4xf32>) -> tensor<4xf32> attributes {tgc.partition_of = "main", tgc.var_inputs = ["w"], tgc.var_outputs = []} {
  return %w : tensor<4xf32>
}
