// tgc-parallel-loops: an scf.for tagged tgc.parallel_for (the batch loop of a convolution, a pool,
// im2col) becomes a call of the runtime's tgc_parallel_for with a chunk function, its captured
// memrefs in a struct on the stack and the work of one iteration; the loop itself moves into a
// function of its own over [begin, end). Untagged loops, and tagged loops whose body calls what the
// pass cannot vouch for, stay where they are.
// RUN: %tgc-opt %s -p tgc-parallel-loops | FileCheck %s

// CHECK-LABEL: func.func @tgc_parallel_for(
// CHECK-SAME:    attributes {llvm.linkage = #llvm.linkage<weak>}
// CHECK:         call_indirect

// CHECK-LABEL: func.func @scale(
// CHECK:         llvm.alloca
// CHECK:         llvm.insertvalue
// CHECK:         llvm.insertvalue
// CHECK:         llvm.store
// CHECK:         %[[F:.*]] = constant @scale_loop0_chunk
// CHECK:         %[[N:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK:         %[[WORK:.*]] = arith.constant 257 : i64
// CHECK:         call @tgc_parallel_for(%[[F]], %{{.*}}, %[[N]], %[[WORK]])
// CHECK-NOT:     scf.for
// CHECK:         return
func.func @scale(%x: memref<?x64xf32>, %y: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %two = arith.constant 2.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  scf.for %i = %c0 to %n step %c1 {
    scf.for %j = %c0 to %c64 step %c1 {
      %v = memref.load %x[%i, %j] : memref<?x64xf32>
      %w = arith.mulf %v, %two : f32
      memref.store %w, %y[%i, %j] : memref<?x64xf32>
    }
  } {tgc.parallel_for}
  return
}

// Not tagged: left as it is.
// CHECK-LABEL: func.func @untagged(
// CHECK:         scf.for
// CHECK-NOT:     tgc_parallel_for
// CHECK:         return
func.func @untagged(%x: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  scf.for %i = %c0 to %n step %c1 {
    memref.store %zero, %x[%i, %c0] : memref<?x64xf32>
  }
  return
}

// A body calling a function the pass cannot vouch for (it might start threads or call the host):
// left as it is.
// CHECK-LABEL: func.func @calls_out(
// CHECK:         scf.for
// CHECK:           func.call @host_thing
// CHECK-NOT:     tgc_parallel_for(
// CHECK:         return
func.func private @host_thing(index)
func.func @calls_out(%x: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  scf.for %i = %c0 to %n step %c1 {
    func.call @host_thing(%i) : (index) -> ()
  } {tgc.parallel_for}
  return
}

// A called function may hold a small static stack slot at its top (the narrow GEMM's block): it
// lives in that call's frame on the chunk's thread. The loop is outlined.
// CHECK-LABEL: func.func @calls_small_slot(
// CHECK-NOT:     scf.for
// CHECK:         call @tgc_parallel_for(
// CHECK:         return
func.func private @with_small_slot(%x: memref<?x64xf32>, %i: index) {
  %c0 = arith.constant 0 : index
  %slot = memref.alloca() {alignment = 64 : i64} : memref<4x64xf32>
  %v = memref.load %x[%i, %c0] : memref<?x64xf32>
  memref.store %v, %slot[%c0, %c0] : memref<4x64xf32>
  %w = memref.load %slot[%c0, %c0] : memref<4x64xf32>
  memref.store %w, %x[%i, %c0] : memref<?x64xf32>
  return
}
func.func @calls_small_slot(%x: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  scf.for %i = %c0 to %n step %c1 {
    func.call @with_small_slot(%x, %i) : (memref<?x64xf32>, index) -> ()
  } {tgc.parallel_for}
  return
}

// A slot inside the called function's loop (it grows with every iteration), or one larger than
// 64 KiB, keeps the loop where it is.
// CHECK-LABEL: func.func @calls_slot_in_loop(
// CHECK:         scf.for
// CHECK-NOT:     tgc_parallel_for(
// CHECK:         return
func.func private @with_slot_in_loop(%x: memref<?x64xf32>, %i: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %j = %c0 to %c4 step %c1 {
    %slot = memref.alloca() : memref<64xf32>
    %v = memref.load %x[%i, %j] : memref<?x64xf32>
    memref.store %v, %slot[%j] : memref<64xf32>
  }
  return
}
func.func @calls_slot_in_loop(%x: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  scf.for %i = %c0 to %n step %c1 {
    func.call @with_slot_in_loop(%x, %i) : (memref<?x64xf32>, index) -> ()
  } {tgc.parallel_for}
  return
}
// CHECK-LABEL: func.func @calls_large_slot(
// CHECK:         scf.for
// CHECK-NOT:     tgc_parallel_for(
// CHECK:         return
func.func private @with_large_slot(%x: memref<?x64xf32>, %i: index) {
  %c0 = arith.constant 0 : index
  %slot = memref.alloca() : memref<256x128xf32>
  %v = memref.load %x[%i, %c0] : memref<?x64xf32>
  memref.store %v, %slot[%c0, %c0] : memref<256x128xf32>
  return
}
func.func @calls_large_slot(%x: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  scf.for %i = %c0 to %n step %c1 {
    func.call @with_large_slot(%x, %i) : (memref<?x64xf32>, index) -> ()
  } {tgc.parallel_for}
  return
}

// The loop over [begin, end), the constant it used recomputed inside, the memrefs passed in.
// CHECK-LABEL: func.func private @scale_loop0(
// CHECK-SAME:    %[[B:.*]]: index, %[[E:.*]]: index, %[[X:.*]]: memref<?x64xf32>, %[[Y:.*]]: memref<?x64xf32>)
// CHECK:         arith.constant 2.000000e+00 : f32
// CHECK:         scf.for %[[I:.*]] = %[[B]] to %[[E]]
// CHECK:           memref.load %[[X]][%[[I]],
// CHECK:           memref.store %{{.*}}, %[[Y]][%[[I]],

// What the runtime calls: the context's memrefs loaded back, then the loop function.
// CHECK-LABEL: func.func private @scale_loop0_chunk(
// CHECK-SAME:    %[[CTX:.*]]: !llvm.ptr, %[[B:.*]]: i64, %[[E:.*]]: i64)
// CHECK:         llvm.load %[[CTX]]
// CHECK:         call @scale_loop0(
