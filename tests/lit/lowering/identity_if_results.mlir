// tgc-identity-if-results: after bufferization, an scf.if whose branches both yield casts of
// identity-layout buffers of one type gets that type (one-shot-bufferize had given it a fully
// dynamic layout, whose vector transfers no pass lowers). Transfers, loads and dims take the new
// result itself; other users get a cast back to the old type. Results whose branches differ in
// type, or yield strided views, keep theirs.
// RUN: %tgc-opt %s -p tgc-identity-if-results | FileCheck %s

// CHECK-LABEL: func.func @cond_batch(
// CHECK:         %[[IF:.*]] = scf.if %{{.*}} -> (memref<?x4xf32>) {
// CHECK:           scf.yield %{{.*}} : memref<?x4xf32>
// CHECK:         } else {
// CHECK:           scf.yield %{{.*}} : memref<?x4xf32>
// CHECK:         }
// CHECK:         %[[BACK:.*]] = memref.cast %[[IF]] : memref<?x4xf32> to memref<?x4xf32, strided<[?, ?], offset: ?>>
// CHECK:         vector.transfer_read %[[IF]][%{{.*}}], %{{.*}} {in_bounds = [true]} : memref<?x4xf32>, vector<4xf32>
// CHECK:         memref.dim %[[IF]], %{{.*}} : memref<?x4xf32>
// CHECK:         call @keep(%[[BACK]])
func.func private @keep(memref<?x4xf32, strided<[?, ?], offset: ?>>)
func.func @cond_batch(%p: i1, %i: index) -> vector<4xf32> {
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0.0 : f32
  %r = scf.if %p -> (memref<?x4xf32, strided<[?, ?], offset: ?>>) {
    %a = memref.alloc() : memref<2x4xf32>
    %ca = memref.cast %a : memref<2x4xf32> to memref<?x4xf32>
    %sa = memref.cast %ca : memref<?x4xf32> to memref<?x4xf32, strided<[?, ?], offset: ?>>
    scf.yield %sa : memref<?x4xf32, strided<[?, ?], offset: ?>>
  } else {
    %b = memref.alloc() : memref<1x4xf32>
    %cb = memref.cast %b : memref<1x4xf32> to memref<?x4xf32>
    %sb = memref.cast %cb : memref<?x4xf32> to memref<?x4xf32, strided<[?, ?], offset: ?>>
    scf.yield %sb : memref<?x4xf32, strided<[?, ?], offset: ?>>
  }
  %v = vector.transfer_read %r[%i, %c0], %pad {in_bounds = [true]} : memref<?x4xf32, strided<[?, ?], offset: ?>>, vector<4xf32>
  %n = memref.dim %r, %c0 : memref<?x4xf32, strided<[?, ?], offset: ?>>
  func.call @keep(%r) : (memref<?x4xf32, strided<[?, ?], offset: ?>>) -> ()
  return %v : vector<4xf32>
}

// A branch yielding a strided view (a column of a matrix): the result keeps its layout.
// CHECK-LABEL: func.func @view_in_a_branch(
// CHECK:         scf.if %{{.*}} -> (memref<?xf32, strided<[?], offset: ?>>)
func.func @view_in_a_branch(%p: i1, %m: memref<4x4xf32>) -> memref<?xf32, strided<[?], offset: ?>> {
  %r = scf.if %p -> (memref<?xf32, strided<[?], offset: ?>>) {
    %col = memref.subview %m[0, 1] [4, 1] [1, 1] : memref<4x4xf32> to memref<4xf32, strided<[4], offset: 1>>
    %c = memref.cast %col : memref<4xf32, strided<[4], offset: 1>> to memref<?xf32, strided<[?], offset: ?>>
    scf.yield %c : memref<?xf32, strided<[?], offset: ?>>
  } else {
    %a = memref.alloc() : memref<4xf32>
    %c = memref.cast %a : memref<4xf32> to memref<?xf32, strided<[?], offset: ?>>
    scf.yield %c : memref<?xf32, strided<[?], offset: ?>>
  }
  return %r : memref<?xf32, strided<[?], offset: ?>>
}
