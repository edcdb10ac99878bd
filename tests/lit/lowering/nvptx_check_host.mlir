// tgc-nvptx-check-host: host code may launch kernels, allocate buffers, reshape views of them and
// name constant tensors (the launch plan uploads them), copy whole buffers and send and receive
// tensors (calls of the transfer functions, which the launch plan performs); any op that reads or
// writes a buffer outside a kernel is one located error naming it.
// RUN: not %tgc-opt %s --split-input-file -p tgc-nvptx-check-host 2>&1 | FileCheck %s
// CHECK-NOT: internal error

// A host that only launches, allocates and names constants passes unchanged (no error here).
// CHECK-NOT: nvptx_check_host.mlir:[[@LINE+1]]
module attributes {gpu.container_module} {
  memref.global "private" constant @values : memref<3xf32> = dense<[1.0, 2.0, 3.0]>
  func.func @launches_only(%a: memref<4x4xf32>, %out: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    %g = memref.get_global @values : memref<3xf32>
    %copy = memref.alloc() : memref<3xf32>
    memref.copy %g, %copy : memref<3xf32> to memref<3xf32>
    %tmp = memref.alloc() : memref<4x4xf32>
    %flat = memref.collapse_shape %a [[0, 1]] : memref<4x4xf32> into memref<16xf32>
    gpu.launch_func @k::@k blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%flat : memref<16xf32>, %out : memref<16xf32>)
    memref.dealloc %tmp : memref<4x4xf32>
    return
  }
  gpu.module @k {
    gpu.func @k(%in: memref<16xf32>, %o: memref<16xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %in[%i] : memref<16xf32>
      memref.store %v, %o[%i] : memref<16xf32>
      gpu.return
    }
  }
}

// -----

// CHECK: nvptx_check_host.mlir:[[@LINE+2]]:{{[0-9]+}}: error: the nvptx target cannot run 'memref.load' of @scalar on the host (computation outside a GPU kernel, such as arithmetic on 0-d tensors)
func.func @scalar(%x: memref<f32>, %out: memref<f32>) {
  %v = memref.load %x[] : memref<f32>
  %e = math.exp %v : f32
  memref.store %e, %out[] : memref<f32>
  return
}

// -----

// CHECK: nvptx_check_host.mlir:[[@LINE+2]]:{{[0-9]+}}: error: the nvptx target cannot run 'memref.subview' of @strided_copy on the host (a view of part of a buffer (a slice) outside a kernel)
func.func @strided_copy(%x: memref<4x4xf32>, %out: memref<4xf32>) {
  %row = memref.subview %x[0, 1] [4, 1] [1, 1] : memref<4x4xf32> to memref<4xf32, strided<[4], offset: 1>>
  memref.copy %row, %out : memref<4xf32, strided<[4], offset: 1>> to memref<4xf32>
  return
}

// -----

// Sends and receives are calls the launch plan performs: they pass (no error here).
// CHECK-NOT: nvptx_check_host.mlir:[[@LINE+6]]
// CHECK-NOT: nvptx_check_host.mlir:[[@LINE+7]]
func.func private @tgc_send_float32_2_static_4x3(i64, memref<4x3xf32>)
func.func private @tgc_recv_float32_2_static_4x3(i64) -> memref<4x3xf32>
func.func @transfers(%x: memref<4x3xf32>, %out: memref<4x3xf32>) {
  %c0 = arith.constant 0 : i64
  call @tgc_send_float32_2_static_4x3(%c0, %x) : (i64, memref<4x3xf32>) -> ()
  %c1 = arith.constant 1 : i64
  %r = call @tgc_recv_float32_2_static_4x3(%c1) : (i64) -> memref<4x3xf32>
  memref.copy %r, %out : memref<4x3xf32> to memref<4x3xf32>
  return
}

// -----

// A dim read on the host means a buffer of unknown shape, which the launch plan cannot size.
// CHECK: nvptx_check_host.mlir:[[@LINE+3]]:{{[0-9]+}}: error: the nvptx target cannot run 'memref.dim' of @unknown_dim on the host (a tensor of unknown shape: the target compiles static shapes only)
func.func @unknown_dim(%x: memref<?xf32>) -> index {
  %c0 = arith.constant 0 : index
  %d = memref.dim %x, %c0 : memref<?xf32>
  return %d : index
}
