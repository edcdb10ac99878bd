// A uint8 (ui8) constant inside a lowering (tgc.fill_like's value, gather's zero for a masked
// read) is arith's signless constant of the same bits, read as ui8 through
// builtin.unrealized_conversion_cast (as the bitcast rule does; the LLVM lowering removes it):
// arith.constant takes no unsigned type. 255 is i8 -1.
// RUN: %tgc-opt %s -p tgc-to-core | FileCheck %s

// CHECK-LABEL: func.func @fill_uint8(
// CHECK:         %[[BITS:.*]] = arith.constant -1 : i8
// CHECK:         %[[VALUE:.*]] = builtin.unrealized_conversion_cast %[[BITS]] : i8 to ui8
// CHECK:         linalg.fill ins(%[[VALUE]] : ui8) outs(%{{.*}} : tensor<?x3xui8>)
func.func @fill_uint8(%x: tensor<?x3xui8>) -> tensor<?x3xui8> {
  %0 = "tgc.fill_like"(%x) {value = 255.0 : f64} : (tensor<?x3xui8>) -> tensor<?x3xui8>
  return %0 : tensor<?x3xui8>
}
