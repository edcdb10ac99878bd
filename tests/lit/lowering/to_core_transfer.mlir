// tgc -> core for send/recv and no_op: transfers call the runtime's rendezvous through C-interface
// functions declared once per dtype and rank, with every dim unknown; no_op disappears.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-DAG:   func.func private @tgc_recv_float32_2(i64) -> tensor<?x?xf32> attributes {llvm.emit_c_interface}
// CHECK-DAG:   func.func private @tgc_send_float32_2(i64, tensor<?x?xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @send_recv(
// CHECK:         %[[K0:.*]] = arith.constant 0 : i64
// CHECK:         call @tgc_send_float32_2(%[[K0]], %{{.*}}) : (i64, tensor<?x?xf32>) -> ()
// CHECK:         %[[K1:.*]] = arith.constant 1 : i64
// CHECK:         %[[R:.*]] = call @tgc_recv_float32_2(%[[K1]]) : (i64) -> tensor<?x?xf32>
// CHECK:         %[[C:.*]] = tensor.cast %[[R]] : tensor<?x?xf32> to tensor<?x2xf32>
// CHECK-NOT:     "tgc.
// CHECK:         return %[[C]]
func.func @send_recv(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  "tgc.send"(%x) {key = "x:0;a;b", key_id = 0 : i64, src_device = "a", dst_device = "b"} : (tensor<?x2xf32>) -> ()
  %r = "tgc.recv"() {key = "y:0;b;a", key_id = 1 : i64, src_device = "b", dst_device = "a", shape = array<i64: -1, 2>, dtype = f32} : () -> tensor<?x2xf32>
  "tgc.no_op"() : () -> ()
  return %r : tensor<?x2xf32>
}
