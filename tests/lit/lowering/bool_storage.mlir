// tgc-bool-storage makes every bool tensor one byte per element (i8), as numpy stores bools;
// linalg bodies keep computing in i1, converting where a byte is read or written.
// RUN: %tgc-opt %s --split-input-file -p tgc-to-core,tgc-bool-storage | FileCheck %s

// CHECK-LABEL: func.func @compare_and_select(
// CHECK-SAME:      -> (tensor<4xi8>, tensor<4xf32>)
// CHECK:         %[[CMP:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4xi8>)
// CHECK:           arith.cmpf ogt
// CHECK:           arith.extui %{{.*}} : i1 to i8
// CHECK:         linalg.generic {{.*}} ins(%[[CMP]], %{{.*}}, %{{.*}} : tensor<4xi8>, tensor<4xf32>, tensor<4xf32>)
// CHECK:           arith.trunci %{{.*}} : i8 to i1
// CHECK:           arith.select
// CHECK-NOT:     tensor<4xi1>
func.func @compare_and_select(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xi1>, tensor<4xf32>) {
  %c = "tgc.greater"(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %s = "tgc.select"(%c, %x, %y) : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %c, %s : tensor<4xi1>, tensor<4xf32>
}

// -----

// A bool constant becomes a byte constant; a function without bools is left as it was.
// CHECK-LABEL: func.func @bool_constant(
// CHECK:         arith.constant dense<[1, 0]> : tensor<2xi8>
func.func @bool_constant() -> tensor<2xi1> {
  %c = "tgc.constant"() {value = dense<[true, false]> : tensor<2xi1>} : () -> tensor<2xi1>
  return %c : tensor<2xi1>
}

// -----

// CHECK-LABEL: func.func @no_bools(
// CHECK-SAME:      %{{.*}}: tensor<4xf32>) -> tensor<4xf32>
// CHECK-NOT:     i8
func.func @no_bools(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = "tgc.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %e : tensor<4xf32>
}

// -----

// A declaration's bool arguments and results are bytes too, so that its calls still match it.
// CHECK-LABEL: func.func private @external(tensor<2xi8>) -> tensor<2xi8>
// CHECK-LABEL: func.func @calls_external(
// CHECK-SAME:      %[[A:.*]]: tensor<2xi8>) -> tensor<2xi8>
// CHECK:         %[[R:.*]] = call @external(%[[A]]) : (tensor<2xi8>) -> tensor<2xi8>
// CHECK:         return %[[R]]
func.func private @external(tensor<2xi1>) -> tensor<2xi1>
func.func @calls_external(%a: tensor<2xi1>) -> tensor<2xi1> {
  %0 = func.call @external(%a) : (tensor<2xi1>) -> tensor<2xi1>
  return %0 : tensor<2xi1>
}

// -----

// A fill of a bool (tf.zeros_like, tf.ones_like, tf.fill of one) fills the byte: linalg.fill
// wants its scalar's type to be the element type, so an i1 scalar next to the widened tensor
// failed to verify.
// CHECK-LABEL: func.func @bool_fills(
// CHECK-SAME:      -> (tensor<?x2xi8>, tensor<3xi8>)
// CHECK:         %[[F:.*]] = arith.extui %{{.*}} : i1 to i8
// CHECK:         linalg.fill ins(%[[F]] : i8) outs(%{{.*}} : tensor<?x2xi8>)
// CHECK:         %[[T:.*]] = arith.extui %{{.*}} : i1 to i8
// CHECK:         linalg.fill ins(%[[T]] : i8) outs(%{{.*}} : tensor<3xi8>)
// CHECK-NOT:     i1>
func.func @bool_fills(%x: tensor<?x2xi1>) -> (tensor<?x2xi1>, tensor<3xi1>) {
  %z = "tgc.fill_like"(%x) {value = 0.0 : f64} : (tensor<?x2xi1>) -> tensor<?x2xi1>
  %o = "tgc.fill"() {dtype = i1, shape = array<i64: 3>, value = 1.0 : f64} : () -> tensor<3xi1>
  return %z, %o : tensor<?x2xi1>, tensor<3xi1>
}
