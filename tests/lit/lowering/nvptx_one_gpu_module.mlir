// tgc-nvptx-one-gpu-module: the kernels that gpu-kernel-outlining put in one gpu.module each move
// into the first, under names made unique there, and every launch points at its kernel's new name.
// RUN: %tgc-opt %s --split-input-file -p tgc-nvptx-one-gpu-module | FileCheck %s

// CHECK-LABEL: func.func @main(
// CHECK:         gpu.launch_func @main_kernel::@main_kernel_0 blocks
// CHECK-SAME:      args(%arg0 : memref<16xf32>, %arg1 : memref<16xf32>)
// CHECK:         gpu.launch_func @main_kernel::@main_kernel_1 blocks
// CHECK-SAME:      args(%arg1 : memref<16xf32>, %arg2 : memref<16xf32>)
// CHECK:       gpu.module @main_kernel {
// CHECK:         gpu.func @main_kernel_0(
// CHECK:           math.exp
// CHECK:         gpu.func @main_kernel_1(
// CHECK:           math.tanh
// CHECK-NOT:   gpu.module
module attributes {gpu.container_module} {
  func.func @main(%a: memref<16xf32>, %b: memref<16xf32>, %c: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    gpu.launch_func @main_kernel::@main_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%a : memref<16xf32>, %b : memref<16xf32>)
    gpu.launch_func @main_kernel_0::@main_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%b : memref<16xf32>, %c : memref<16xf32>)
    return
  }
  gpu.module @main_kernel {
    gpu.func @main_kernel(%in: memref<16xf32>, %out: memref<16xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %in[%i] : memref<16xf32>
      %e = math.exp %v : f32
      memref.store %e, %out[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @main_kernel_0 {
    gpu.func @main_kernel(%in: memref<16xf32>, %out: memref<16xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %in[%i] : memref<16xf32>
      %t = math.tanh %v : f32
      memref.store %t, %out[%i] : memref<16xf32>
      gpu.return
    }
  }
}

// -----

// A function the kernels call (outlining copies it into each gpu.module that uses it) is kept once.
// CHECK-LABEL: func.func @powers(
// CHECK:       gpu.module @powers_kernel {
// CHECK:         gpu.func @powers_kernel_0(
// CHECK:           call @__mlir_math_ipowi_i32(
// CHECK:         func.func private @__mlir_math_ipowi_i32(
// CHECK:         gpu.func @powers_kernel_1(
// CHECK:           call @__mlir_math_ipowi_i32(
// CHECK-NOT:     func.func private @__mlir_math_ipowi_i32(
// CHECK-NOT:   gpu.module
module attributes {gpu.container_module} {
  func.func @powers(%a: memref<16xi32>, %b: memref<16xi32>) {
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    gpu.launch_func @powers_kernel::@powers_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%a : memref<16xi32>)
    gpu.launch_func @powers_kernel_0::@powers_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%b : memref<16xi32>)
    return
  }
  gpu.module @powers_kernel {
    gpu.func @powers_kernel(%x: memref<16xi32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %x[%i] : memref<16xi32>
      %p = func.call @__mlir_math_ipowi_i32(%v, %v) : (i32, i32) -> i32
      memref.store %p, %x[%i] : memref<16xi32>
      gpu.return
    }
    func.func private @__mlir_math_ipowi_i32(%b: i32, %e: i32) -> i32 {
      %r = arith.muli %b, %e : i32
      return %r : i32
    }
  }
  gpu.module @powers_kernel_0 {
    gpu.func @powers_kernel(%x: memref<16xi32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %x[%i] : memref<16xi32>
      %p = func.call @__mlir_math_ipowi_i32(%v, %v) : (i32, i32) -> i32
      memref.store %p, %x[%i] : memref<16xi32>
      gpu.return
    }
    func.func private @__mlir_math_ipowi_i32(%b: i32, %e: i32) -> i32 {
      %r = arith.muli %b, %e : i32
      return %r : i32
    }
  }
}
