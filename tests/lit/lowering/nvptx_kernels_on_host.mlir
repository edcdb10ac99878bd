// tgc-nvptx-kernels-on-host: each kernel becomes a host function taking its arguments, then the
// grid's and the block's sizes, that loops over blocks (z, y, x) and threads (z, y, x) and reads
// the ids and sizes from the loops; the host functions and the gpu.module go. A kernel with
// barriers runs in phases, each a loop over the block's threads (see the last case); a barrier
// that only some threads might reach (under an scf.if) cannot be split so: refused, naming the op.
// RUN: not %tgc-opt %s --split-input-file -p tgc-nvptx-kernels-on-host 2>&1 | FileCheck %s
// CHECK-NOT: internal error
// (Diagnostics print before the output, so the refused kernel comes first.)

// CHECK: nvptx_kernels_on_host.mlir:[[@LINE+5]]:{{[0-9]+}}: error: a gpu.barrier inside 'scf.if' cannot be split into phases on the host
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @waits(%o: memref<16xf32>, %c: i1) kernel {
      %t = gpu.thread_id x
      scf.if %c {
        gpu.barrier
      }
      gpu.return
    }
  }
}

// -----

// CHECK-NOT: func.func @host
// CHECK-LABEL: func.func @scale(
// CHECK-SAME:      %[[IN:[^:]*]]: memref<64xf32>, %[[OUT:[^:]*]]: memref<64xf32>, %[[F:[^:]*]]: f32,
// CHECK-SAME:      %[[GX:[^:]*]]: index, %[[GY:[^:]*]]: index, %[[GZ:[^:]*]]: index,
// CHECK-SAME:      %[[BX:[^:]*]]: index, %[[BY:[^:]*]]: index, %[[BZ:[^:]*]]: index)
// CHECK-DAG:     %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK:         scf.for %{{.*}} = %[[C0]] to %[[GZ]] step %[[C1]]
// CHECK:           scf.for %{{.*}} = %[[C0]] to %[[GY]] step %[[C1]]
// CHECK:             scf.for %[[BLOCK:.*]] = %[[C0]] to %[[GX]] step %[[C1]]
// CHECK:               scf.for %{{.*}} = %[[C0]] to %[[BZ]] step %[[C1]]
// CHECK:                 scf.for %{{.*}} = %[[C0]] to %[[BY]] step %[[C1]]
// CHECK:                   scf.for %[[THREAD:.*]] = %[[C0]] to %[[BX]] step %[[C1]]
// CHECK:                     %[[BASE:.*]] = arith.muli %[[BLOCK]], %[[BX]] : index
// CHECK:                     %[[I:.*]] = arith.addi %[[BASE]], %[[THREAD]] : index
// CHECK:                     %[[V:.*]] = memref.load %[[IN]][%[[I]]]
// CHECK:                     %[[P:.*]] = arith.mulf %[[V]], %[[F]]
// CHECK:                     memref.store %[[P]], %[[OUT]][%[[I]]]
// CHECK-NOT: gpu.
module attributes {gpu.container_module} {
  func.func @host(%a: memref<64xf32>, %out: memref<64xf32>) attributes {tgc.out_params = 1 : i64} {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c16 = arith.constant 16 : index
    %f = arith.constant 2.0 : f32
    gpu.launch_func @kernels::@scale blocks in (%c4, %c1, %c1) threads in (%c16, %c1, %c1) args(%a : memref<64xf32>, %out : memref<64xf32>, %f : f32)
    return
  }
  gpu.module @kernels {
    gpu.func @scale(%in: memref<64xf32>, %o: memref<64xf32>, %f: f32) kernel {
      %b = gpu.block_id x
      %t = gpu.thread_id x
      %n = gpu.block_dim x
      %base = arith.muli %b, %n : index
      %i = arith.addi %base, %t : index
      %v = memref.load %in[%i] : memref<64xf32>
      %p = arith.mulf %v, %f : f32
      memref.store %p, %o[%i] : memref<64xf32>
      gpu.return
    }
  }
}

// -----

// A function the kernels call (an integer power's loop) comes out of the gpu.module with them.
// CHECK-LABEL: func.func @ipow(
// CHECK-SAME:      %{{.*}}: memref<i32>, %{{.*}}: memref<i32>, %{{.*}}: index
// CHECK:           func.call @helper(
// CHECK-LABEL: func.func private @helper(
// CHECK-SAME:      -> i32 attributes {tgc.kernel_on_host}
// CHECK-NEXT:      arith.muli
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @host(%x: memref<i32>, %out: memref<i32>) attributes {tgc.out_params = 1 : i64} {
    %c1 = arith.constant 1 : index
    gpu.launch_func @kernels::@ipow blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<i32>, %out : memref<i32>)
    return
  }
  func.func private @helper(%a: i32) -> i32 {
    return %a : i32
  }
  gpu.module @kernels {
    gpu.func @ipow(%in: memref<i32>, %o: memref<i32>) kernel {
      %v = memref.load %in[] : memref<i32>
      %p = func.call @helper(%v) : (i32) -> i32
      memref.store %p, %o[] : memref<i32>
      gpu.return
    }
    func.func private @helper(%a: i32) -> i32 {
      %s = arith.muli %a, %a : i32
      return %s : i32
    }
  }
}

// -----

// A block-wide reversal through workgroup memory: the workgroup buffer is one host buffer, the
// barrier splits the body into two loops over the threads, and what a thread computed before the
// barrier and uses after it (its id, its index) is kept per thread in host buffers.
// CHECK-LABEL: func.func @reverse(
// CHECK-SAME:      %[[IN:[^:]*]]: memref<64xf32>, %[[OUT:[^:]*]]: memref<64xf32>,
// CHECK-SAME:      %[[GX:[^:]*]]: index, %[[GY:[^:]*]]: index, %[[GZ:[^:]*]]: index,
// CHECK-SAME:      %[[BX:[^:]*]]: index, %[[BY:[^:]*]]: index, %[[BZ:[^:]*]]: index)
// CHECK:         %[[TILE:.*]] = memref.alloc() : memref<16xf32>
// CHECK:         %[[N:.*]] = arith.muli %{{.*}}, %[[BZ]] : index
// CHECK:         %[[IDS:.*]] = memref.alloc(%[[N]]) : memref<?xindex>
// CHECK:         %[[INDICES:.*]] = memref.alloc(%[[N]]) : memref<?xindex>
// CHECK:         scf.for %[[BLOCK:.*]] = %{{.*}} to %[[GX]]
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               scf.for %[[T:.*]] = %{{.*}} to %[[BX]]
// CHECK:                 %[[LIN:.*]] = arith.addi %{{.*}}, %[[T]] : index
// CHECK:                 %[[V:.*]] = memref.load %[[IN]]
// CHECK:                 memref.store %[[V]], %[[TILE]][%[[T]]]
// CHECK:                 memref.store %[[T]], %[[IDS]][%[[LIN]]]
// CHECK:                 memref.store %{{.*}}, %[[INDICES]][%[[LIN]]]
// CHECK-NOT:     gpu.barrier
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               scf.for %[[T2:.*]] = %{{.*}} to %[[BX]]
// CHECK:                 %[[LIN2:.*]] = arith.addi %{{.*}}, %[[T2]] : index
// CHECK-DAG:             %[[I:.*]] = memref.load %[[INDICES]][%[[LIN2]]]
// CHECK-DAG:             %[[MINE:.*]] = memref.load %[[IDS]][%[[LIN2]]]
// CHECK:                 %[[R:.*]] = arith.subi %{{.*}}, %[[MINE]] : index
// CHECK:                 %[[W:.*]] = memref.load %[[TILE]][%[[R]]]
// CHECK:                 memref.store %[[W]], %[[OUT]][%[[I]]]
// CHECK:         memref.dealloc %[[IDS]]
// CHECK:         memref.dealloc %[[INDICES]]
// CHECK:         memref.dealloc %[[TILE]]
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @reverse(%in: memref<64xf32>, %out: memref<64xf32>) workgroup(%tile : memref<16xf32, #gpu.address_space<workgroup>>) kernel {
      %c15 = arith.constant 15 : index
      %c16 = arith.constant 16 : index
      %b = gpu.block_id x
      %t = gpu.thread_id x
      %base = arith.muli %b, %c16 : index
      %i = arith.addi %base, %t : index
      %v = memref.load %in[%i] : memref<64xf32>
      memref.store %v, %tile[%t] : memref<16xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %r = arith.subi %c15, %t : index
      %w = memref.load %tile[%r] : memref<16xf32, #gpu.address_space<workgroup>>
      memref.store %w, %out[%i] : memref<64xf32>
      gpu.return
    }
  }
}
