// tgc-nvptx-static-transfers: a send or receive cast from or to a static tensor calls a declaration
// of its own with the static type, so that the casts cannot fold away into dynamic kernel dims;
// the dynamic declarations no call uses go.
// RUN: %tgc-opt %s -p tgc-nvptx-static-transfers | FileCheck %s

// CHECK-NOT:   @tgc_send_float32_2(
// CHECK-NOT:   @tgc_recv_float32_2(
// CHECK:       func.func private @tgc_recv_float32_2_static_4x3(i64) -> tensor<4x3xf32>
// CHECK-NEXT:  func.func private @tgc_send_float32_2_static_4x3(i64, tensor<4x3xf32>)
// CHECK-NEXT:  func.func private @tgc_recv_float32_0(i64) -> tensor<f32>
// CHECK-NEXT:  func.func @main(
// CHECK-SAME:      %[[X:.*]]: tensor<4x3xf32>
// CHECK:         %[[K0:.*]] = arith.constant 0 : i64
// CHECK:         call @tgc_send_float32_2_static_4x3(%[[K0]], %[[X]]) : (i64, tensor<4x3xf32>) -> ()
// CHECK:         %[[K1:.*]] = arith.constant 1 : i64
// CHECK:         %[[R:.*]] = call @tgc_recv_float32_2_static_4x3(%[[K1]]) : (i64) -> tensor<4x3xf32>
// CHECK-NOT:     tensor.cast
// A 0-d tensor's call is static already: unchanged.
// CHECK:         %[[S:.*]] = call @tgc_recv_float32_0(%{{.*}}) : (i64) -> tensor<f32>
// CHECK:         return %[[R]], %[[S]]
module {
  func.func private @tgc_send_float32_2(i64, tensor<?x?xf32>) attributes {llvm.emit_c_interface}
  func.func private @tgc_recv_float32_2(i64) -> tensor<?x?xf32> attributes {llvm.emit_c_interface}
  func.func private @tgc_recv_float32_0(i64) -> tensor<f32> attributes {llvm.emit_c_interface}
  func.func @main(%x: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<f32>) {
    %k0 = arith.constant 0 : i64
    %cast = tensor.cast %x : tensor<4x3xf32> to tensor<?x?xf32>
    call @tgc_send_float32_2(%k0, %cast) : (i64, tensor<?x?xf32>) -> ()
    %k1 = arith.constant 1 : i64
    %r = call @tgc_recv_float32_2(%k1) : (i64) -> tensor<?x?xf32>
    %static = tensor.cast %r : tensor<?x?xf32> to tensor<4x3xf32>
    %k2 = arith.constant 2 : i64
    %s = call @tgc_recv_float32_0(%k2) : (i64) -> tensor<f32>
    return %static, %s : tensor<4x3xf32>, tensor<f32>
  }
}
