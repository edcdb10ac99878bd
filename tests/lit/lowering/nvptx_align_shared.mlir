// tgc-nvptx-align-shared: every workgroup attribution of every gpu.func gets llvm.align = 16 (the
// 16-byte cp.async copies need it; MLIR would declare the buffers .align 4), keeping the
// attributions' other attributes and a larger alignment; a kernel without attributions is left
// as it is.
// RUN: %tgc-opt %s -p tgc-nvptx-align-shared | FileCheck %s

// CHECK-LABEL: gpu.func @tiles(
// CHECK-SAME:    workgroup(%{{.+}} : memref<2x16x20xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.+}} : memref<8xf64, #gpu.address_space<workgroup>> {llvm.align = 32 : i64, test.kept})
// CHECK-LABEL: gpu.func @plain(
// CHECK-NOT:     llvm.align
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @tiles(%a: memref<4xf32>) workgroup(%s : memref<2x16x20xf32, #gpu.address_space<workgroup>>, %t : memref<8xf64, #gpu.address_space<workgroup>> {llvm.align = 32 : i64, test.kept}) kernel {
      gpu.return
    }
    gpu.func @plain(%a: memref<4xf32>) kernel {
      gpu.return
    }
  }
}
