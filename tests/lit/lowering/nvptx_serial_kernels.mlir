// tgc-nvptx-serial-kernels: each run of host computation with no parallel loop (0-d arithmetic, a
// reduction of every axis) is wrapped in a one-iteration scf.parallel, later a 1x1x1 launch. An
// alloc, a constant or arithmetic on host values (loop bounds) inside a run moves before it; an
// scf.parallel, a view or a dealloc ends it.
// RUN: %tgc-opt %s -p tgc-nvptx-serial-kernels | FileCheck %s

// CHECK-LABEL: func.func @loss_and_scale(
// CHECK-SAME:      %[[X:.+]]: memref<16xf32>, %[[LOSS:.+]]: memref<f32>, %[[Y:.+]]: memref<16xf32>)
// CHECK:         %[[TMP:.+]] = memref.alloc() : memref<f32>
// CHECK-NEXT:    %[[BOUND:.+]] = arith.muli
// CHECK:         %[[ZERO:.+]] = arith.constant 0 : index
// CHECK:         %[[ONE:.+]] = arith.constant 1 : index
// CHECK:         scf.parallel (%{{.+}}) = (%[[ZERO]]) to (%[[ONE]]) step (%[[ONE]]) {
// CHECK-NEXT:      memref.store %{{.+}}, %[[LOSS]][] : memref<f32>
// CHECK-NEXT:      scf.for
// CHECK:           }
// CHECK-NEXT:      memref.load %[[LOSS]][]
// CHECK-NEXT:      arith.mulf
// CHECK-NEXT:      memref.store %{{.+}}, %[[TMP]][]
// CHECK-NEXT:      scf.reduce
// CHECK-NEXT:    }
// The loop that was already parallel is left as it is.
// CHECK-NEXT:    scf.parallel (%{{.+}}) = (%{{.+}}) to (%[[BOUND]]) step (%{{.+}}) {
// CHECK:           memref.store %{{.+}}, %[[Y]]
// CHECK:         }
// CHECK:         scf.parallel (%{{.+}}) = (%{{.+}}) to (%{{.+}}) step (%{{.+}}) {
// CHECK-NEXT:      memref.load %[[LOSS]][]
// CHECK-NEXT:      arith.mulf
// CHECK-NEXT:      memref.store %{{.+}}, %[[LOSS]][]
// CHECK-NEXT:      scf.reduce
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.dealloc %[[TMP]]
// CHECK-NEXT:    return

func.func @loss_and_scale(%x: memref<16xf32>, %loss: memref<f32>, %y: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  memref.store %zero, %loss[] : memref<f32>
  scf.for %i = %c0 to %c16 step %c1 {
    %v = memref.load %x[%i] : memref<16xf32>
    %acc = memref.load %loss[] : memref<f32>
    %s = arith.addf %v, %acc : f32
    memref.store %s, %loss[] : memref<f32>
  }
  %tmp = memref.alloc() : memref<f32>
  %l = memref.load %loss[] : memref<f32>
  %bound = arith.muli %c16, %c1 : index
  %h = arith.mulf %l, %l : f32
  memref.store %h, %tmp[] : memref<f32>
  scf.parallel (%i) = (%c0) to (%bound) step (%c1) {
    %t = memref.load %tmp[] : memref<f32>
    %v = memref.load %x[%i] : memref<16xf32>
    %p = arith.mulf %t, %v : f32
    memref.store %p, %y[%i] : memref<16xf32>
    scf.reduce
  }
  %two = arith.constant 2.0 : f32
  %l2 = memref.load %loss[] : memref<f32>
  %d = arith.mulf %l2, %two : f32
  memref.store %d, %loss[] : memref<f32>
  memref.dealloc %tmp : memref<f32>
  return
}

// A call (a transfer from another partition) stays on the host and ends the run before it.
// CHECK-LABEL: func.func @after_a_transfer(
// CHECK:         %[[IN:.+]] = call @tgc_recv_float32_0(
// CHECK:         scf.parallel
// CHECK-NEXT:      memref.load %[[IN]][]
// CHECK-NEXT:      arith.mulf
// CHECK-NEXT:      memref.store
// CHECK-NEXT:      scf.reduce
func.func private @tgc_recv_float32_0(i64) -> memref<f32>
func.func @after_a_transfer(%out: memref<f32>) {
  %key = arith.constant 0 : i64
  %in = func.call @tgc_recv_float32_0(%key) : (i64) -> memref<f32>
  %v = memref.load %in[] : memref<f32>
  %d = arith.mulf %v, %v : f32
  memref.store %d, %out[] : memref<f32>
  return
}

// A loop threading a buffer through its iterations unchanged (a scatter's): its result is the
// buffer it was given, so the copy after it reads that buffer and the loop runs in the kernel; the
// temporary each iteration allocates is allocated once, on the host, and never freed in the kernel.
// CHECK-LABEL: func.func @scatter(
// CHECK-SAME:      %[[ROWS:.+]]: memref<4xindex>, %[[OUT:.+]]: memref<5xf32>, %[[RESULT:.+]]: memref<5xf32>)
// CHECK:         %[[TMP:.+]] = memref.alloc() : memref<f32>
// CHECK:         scf.parallel
// CHECK-NEXT:      scf.for {{.+}} iter_args(%[[BUF:.+]] = %[[OUT]]) -> (memref<5xf32>) {
// CHECK:             memref.store %{{.+}}, %[[TMP]][]
// CHECK-NOT:         memref.dealloc
// CHECK:             memref.store %{{.+}}, %[[BUF]][
// CHECK:           scf.reduce
// CHECK-NEXT:    }
// CHECK-NEXT:    memref.copy %[[OUT]], %[[RESULT]]
func.func @scatter(%rows: memref<4xindex>, %out: memref<5xf32>, %result: memref<5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %one = arith.constant 1.0 : f32
  %done = scf.for %i = %c0 to %c4 step %c1 iter_args(%buf = %out) -> (memref<5xf32>) {
    %row = memref.load %rows[%i] : memref<4xindex>
    %v = memref.load %buf[%row] : memref<5xf32>
    %tmp = memref.alloc() : memref<f32>
    memref.store %v, %tmp[] : memref<f32>
    %w = memref.load %tmp[] : memref<f32>
    memref.dealloc %tmp : memref<f32>
    %s = arith.addf %w, %one : f32
    memref.store %s, %buf[%row] : memref<5xf32>
    scf.yield %buf : memref<5xf32>
  }
  memref.copy %done, %result : memref<5xf32> to memref<5xf32>
  return
}

// An alloc sized by a dim read in the run cannot move before the run: it ends it and stays after
// the dim (moved, it used the dim before its definition: "operand #0 does not dominate this use",
// a campaign's loop gradient with a [1, None] placeholder). The dim, still used after its run,
// stays on the host, where tgc-nvptx-check-host names it.
// CHECK-LABEL: func.func @alloc_sized_by_the_run(
// CHECK-SAME:      %[[IN:.+]]: memref<?x?xf32>,
// CHECK:         %[[D:.+]] = memref.dim %[[IN]]
// CHECK-NEXT:    %[[A:.+]] = memref.alloc(%[[D]]) : memref<1x?xf32>
// CHECK-NEXT:    scf.parallel
func.func @alloc_sized_by_the_run(%in: memref<?x?xf32>, %out: memref<1x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d = memref.dim %in, %c1 : memref<?x?xf32>
  %a = memref.alloc(%d) : memref<1x?xf32>
  scf.parallel (%j) = (%c0) to (%d) step (%c1) {
    %v = memref.load %in[%c0, %j] : memref<?x?xf32>
    memref.store %v, %a[%c0, %j] : memref<1x?xf32>
    scf.reduce
  }
  memref.copy %a, %out : memref<1x?xf32> to memref<1x?xf32>
  return
}
