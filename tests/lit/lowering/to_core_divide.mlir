// tgc-to-core lowers an integer tgc.divide (TF's FloorDiv) on the CPU with TF's run-time check
// (tgc/lowering/to_core/elementwise.py): one reduction over the divisor alone ORs its "is zero"
// into an i8 flag, and tgc_runtime_error reports kind 6 (Integer division by zero) when it is set
// and the result has elements (x's run-time dims are not 0: TF divides nothing then), before the
// division's loop, which divides by 1 where the divisor is 0 (and negates where it is -1:
// INT_MIN // -1 wraps as in TF) so that it never traps. A constant divisor without zeros, a float
// division and a GPU function's division have no check.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG:   llvm.func weak @tgc_runtime_error(%{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64)

// CHECK-LABEL: func.func @by_tensor(
// CHECK-SAME:      %[[X:.*]]: tensor<?x3xi32>, %[[Y:.*]]: tensor<3xi32>
// CHECK:         %[[FLAG:.*]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%[[Y]] : tensor<3xi32>) outs(%{{.*}} : tensor<i8>)
// CHECK:           arith.cmpi eq
// CHECK:           arith.ori
// CHECK:         %[[SEEN:.*]] = tensor.extract %[[FLAG]][] : tensor<i8>
// CHECK:         %[[ANY:.*]] = arith.cmpi ne, %[[SEEN]]
// CHECK:         %[[ROWS:.*]] = tensor.dim %[[X]]
// CHECK:         %[[SOME:.*]] = arith.cmpi ne, %[[ROWS]]
// CHECK:         %[[FAIL:.*]] = arith.andi %[[ANY]], %[[SOME]]
// CHECK:         scf.if %[[FAIL]] {
// CHECK:           %[[KIND:.*]] = arith.constant 6 : i64
// CHECK:           llvm.call @tgc_runtime_error(%[[KIND]],
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%[[X]], %[[Y]]
// CHECK:           arith.select
// CHECK:           arith.floordivsi
func.func @by_tensor(%x: tensor<?x3xi32>, %y: tensor<3xi32>) -> tensor<?x3xi32> {
  %q = "tgc.divide"(%x, %y) : (tensor<?x3xi32>, tensor<3xi32>) -> tensor<?x3xi32>
  return %q : tensor<?x3xi32>
}

// CHECK-LABEL: func.func @by_constant(
// CHECK-NOT:     scf.if
// CHECK-NOT:     tgc_runtime_error
// CHECK:         arith.floordivsi
// CHECK:         return
func.func @by_constant(%x: tensor<4xi64>) -> tensor<4xi64> {
  %c = "tgc.constant"() {value = dense<[1, -2, 3, 4]> : tensor<4xi64>} : () -> tensor<4xi64>
  %q = "tgc.divide"(%x, %c) : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  return %q : tensor<4xi64>
}

// A constant holding a zero is checked: the run fails as TF's does.
// CHECK-LABEL: func.func @by_constant_with_zero(
// CHECK:         scf.if
// CHECK:           llvm.call @tgc_runtime_error(
// CHECK:         arith.floordivsi
func.func @by_constant_with_zero(%x: tensor<2xi32>) -> tensor<2xi32> {
  %c = "tgc.constant"() {value = dense<[3, 0]> : tensor<2xi32>} : () -> tensor<2xi32>
  %q = "tgc.divide"(%x, %c) : (tensor<2xi32>, tensor<2xi32>) -> tensor<2xi32>
  return %q : tensor<2xi32>
}

// CHECK-LABEL: func.func @floats(
// CHECK-NOT:     scf.if
// CHECK:         arith.divf
// CHECK:         return
func.func @floats(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %q = "tgc.divide"(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %q : tensor<4xf32>
}

// A GPU kernel cannot call the host: no check (TF's GPU kernels do not check either).
// CHECK-LABEL: func.func @on_gpu(
// CHECK-NOT:     scf.if
// CHECK:         arith.floordivsi
// CHECK:         return
func.func @on_gpu(%x: tensor<4xi32>, %y: tensor<4xi32>) -> tensor<4xi32> attributes {tgc.device = "/job:localhost/replica:0/task:0/device:GPU:0"} {
  %q = "tgc.divide"(%x, %y) : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  return %q : tensor<4xi32>
}
