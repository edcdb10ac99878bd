// tgc-nvptx-kernels-on-host with dynamic shared memory (the TF32 matmul's stages): every
// gpu.dynamic_shared_memory of a kernel is one host buffer, allocated before the loops, of the
// bytes its memref.views take (the largest offset + size: the launch's dynamic size comes from
// the same kernel), 16-byte aligned as on the GPU; each view is remade on it at its offset, with
// the host's (default) memory space. A view at an offset known only at run time is refused,
// naming the op.
// RUN: not %tgc-opt %s --split-input-file -p tgc-nvptx-kernels-on-host 2>&1 | FileCheck %s
// CHECK-NOT: internal error
// (Diagnostics print before the output, so the refused kernel comes first.)

// CHECK: nvptx_kernels_on_host_dynamic_shared.mlir:[[@LINE+6]]:{{[0-9]+}}: error: nvptx-emulated takes dynamic shared memory through memref.view at constant offsets into static shapes only, not 'memref.view'
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @moving(%o: memref<16xf32>) kernel {
      %t = gpu.thread_id x
      %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %v = memref.view %smem[%t][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4xf32, #gpu.address_space<workgroup>>
      gpu.return
    }
  }
}

// -----

// CHECK-LABEL: func.func @staged(
// CHECK-SAME:      %[[O:[^:]*]]: memref<16xf32>,
// CHECK:         %[[BUF:.*]] = memref.alloc() {alignment = 16 : i64} : memref<320xi8>
// CHECK-DAG:     %[[AT0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[AT256:.*]] = arith.constant 256 : index
// CHECK-DAG:     %[[A:.*]] = memref.view %[[BUF]][%[[AT0]]][] : memref<320xi8> to memref<8x8xf32>
// CHECK-DAG:     %[[B:.*]] = memref.view %[[BUF]][%[[AT256]]][] : memref<320xi8> to memref<16xf32>
// CHECK:         scf.for
// CHECK:           memref.store {{.*}}, %[[A]]
// CHECK:           memref.load %[[B]]
// CHECK-NOT:     gpu.dynamic_shared_memory
// CHECK:         memref.dealloc %[[BUF]] : memref<320xi8>
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @staged(%o: memref<16xf32>) kernel {
      %t = gpu.thread_id x
      %c0 = arith.constant 0 : index
      %c256 = arith.constant 256 : index
      %f = arith.constant 1.0 : f32
      %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %a = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<8x8xf32, #gpu.address_space<workgroup>>
      %b = memref.view %smem[%c256][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<16xf32, #gpu.address_space<workgroup>>
      memref.store %f, %a[%t, %t] : memref<8x8xf32, #gpu.address_space<workgroup>>
      %v = memref.load %b[%t] : memref<16xf32, #gpu.address_space<workgroup>>
      memref.store %v, %o[%t] : memref<16xf32>
      gpu.return
    }
  }
}
