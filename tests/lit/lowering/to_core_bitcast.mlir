// tgc-to-core lowers tgc.bitcast (tgc/lowering/to_core/bitcast.py) to an elementwise linalg.generic
// that reinterprets each element: arith.bitcast between signless types, and an
// unrealized_conversion_cast where a side is ui8 (tgc's uint8, outside arith's signless integers; the
// LLVM lowering removes it). A ui8 constant (tgc/lowering/to_core/array.py) is an i8 arith.constant
// of the same bits read back the same way, since arith.constant is signless.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @to_signed(
// CHECK-SAME:      %[[X:.*]]: tensor<?xui8>
// CHECK:         %[[N:.*]] = tensor.dim %[[X]]
// CHECK:         %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?xi8>
// CHECK:         linalg.generic {{.*}} ins(%[[X]] : tensor<?xui8>) outs(%[[E]] : tensor<?xi8>)
// CHECK-NEXT:    ^bb0(%[[IN:.*]]: ui8, %{{.*}}: i8):
// CHECK-NEXT:      %[[S:.*]] = builtin.unrealized_conversion_cast %[[IN]] : ui8 to i8
// CHECK-NEXT:      linalg.yield %[[S]] : i8
func.func @to_signed(%x: tensor<?xui8>) -> tensor<?xi8> {
  %0 = "tgc.bitcast"(%x) {dtype = i8} : (tensor<?xui8>) -> tensor<?xi8>
  return %0 : tensor<?xi8>
}

// CHECK-LABEL: func.func @float_bits(
// CHECK:         linalg.generic {{.*}} ins(%{{.*}} : tensor<4xf32>) outs(%{{.*}} : tensor<4xi32>)
// CHECK:           arith.bitcast %{{.*}} : f32 to i32
// CHECK-NOT:     "tgc.
func.func @float_bits(%x: tensor<4xf32>) -> tensor<4xi32> {
  %0 = "tgc.bitcast"(%x) {dtype = i32} : (tensor<4xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// CHECK-LABEL: func.func @uint8_constant(
// CHECK:         %[[BITS:.*]] = arith.constant dense<[1, -56, -1]> : tensor<3xi8>
// CHECK:         linalg.generic {{.*}} ins(%[[BITS]] : tensor<3xi8>) outs(%{{.*}} : tensor<3xui8>)
// CHECK:           builtin.unrealized_conversion_cast %{{.*}} : i8 to ui8
// CHECK-NOT:     "tgc.
func.func @uint8_constant() -> tensor<3xui8> {
  %0 = "tgc.constant"() {value = dense<[1, 200, 255]> : tensor<3xui8>} : () -> tensor<3xui8>
  return %0 : tensor<3xui8>
}
