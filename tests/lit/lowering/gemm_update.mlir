// tgc-gemm-update folds an SGD update of an outlined GEMM's result, w - c * (A @ B), into one GEMM that
// accumulates into w: the scale -c moves onto the operand with the smaller free dim, the zero-filling
// function (*_z) gives way to one without the fill (BLAS beta = 1), and the update generic is gone.
// RUN: %tgc-opt %s -p tgc-gemm-update | FileCheck %s

#lhs_t = affine_map<(d0, d1, d2) -> (d2, d0)>
#rhs = affine_map<(d0, d1, d2) -> (d2, d1)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// CHECK-NOT:   func.func private @tgc_mm_wgrad_z(
// CHECK-LABEL: func.func private @tgc_mm_wgrad(
// CHECK-SAME:      %{{.*}}: tensor<?x8xf32>, %{{.*}}: tensor<?x4xf32>, %[[C:.*]]: tensor<8x4xf32>)
// CHECK-NOT:     linalg.fill
// CHECK:         linalg.matmul {{.*}} outs(%[[C]] : tensor<8x4xf32>)
func.func private @tgc_mm_wgrad_z(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>, %c: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%c : tensor<8x4xf32>) -> tensor<8x4xf32>
  %r = linalg.matmul indexing_maps = [#lhs_t, #rhs, #out] ins(%a, %b : tensor<?x8xf32>, tensor<?x4xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

// w (8x4) - 0.5 * x^T d: d, with 4 columns against x's 8, takes the scale -0.5.
// CHECK-LABEL: func.func @sgd(
// CHECK-SAME:      %[[X:.*]]: tensor<?x8xf32>, %[[D:.*]]: tensor<?x4xf32>, %[[W:.*]]: tensor<8x4xf32>)
// CHECK:         %[[NEG:.*]] = arith.constant -5.000000e-01 : f32
// CHECK:         %[[S:.*]] = linalg.generic {{.*}} ins(%[[D]] : tensor<?x4xf32>)
// CHECK:           arith.mulf %{{.*}}, %[[NEG]] : f32
// CHECK:         %[[N:.*]] = call @tgc_mm_wgrad(%[[X]], %[[S]], %[[W]])
// CHECK-NOT:     arith.subf
// CHECK:         return %[[N]]
func.func @sgd(%x: tensor<?x8xf32>, %d: tensor<?x4xf32>, %w: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %lr = arith.constant 0.5 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %g = call @tgc_mm_wgrad_z(%x, %d, %e) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %n = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g : tensor<8x4xf32>, tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %gi, %lr : f32
    %s = arith.subf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  return %n : tensor<8x4xf32>
}

// A 2x6 weight: A's free dim (2) is the smaller, so A takes the scale; the factor may come first.
// CHECK-LABEL: func.func @scale_lhs(
// CHECK-SAME:      %[[X:.*]]: tensor<?x2xf32>, %[[D:.*]]: tensor<?x6xf32>, %[[W:.*]]: tensor<2x6xf32>)
// CHECK:         %[[S:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<?x2xf32>)
// CHECK:         call @tgc_mm_wide(%[[S]], %[[D]], %[[W]])
func.func private @tgc_mm_wide_z(%a: tensor<?x2xf32>, %b: tensor<?x6xf32>, %c: tensor<2x6xf32>) -> tensor<2x6xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%c : tensor<2x6xf32>) -> tensor<2x6xf32>
  %r = linalg.matmul indexing_maps = [#lhs_t, #rhs, #out] ins(%a, %b : tensor<?x2xf32>, tensor<?x6xf32>) outs(%f : tensor<2x6xf32>) -> tensor<2x6xf32>
  return %r : tensor<2x6xf32>
}

func.func @scale_lhs(%x: tensor<?x2xf32>, %d: tensor<?x6xf32>, %w: tensor<2x6xf32>) -> tensor<2x6xf32> {
  %lr = arith.constant 0.25 : f32
  %e = tensor.empty() : tensor<2x6xf32>
  %g = call @tgc_mm_wide_z(%x, %d, %e) : (tensor<?x2xf32>, tensor<?x6xf32>, tensor<2x6xf32>) -> tensor<2x6xf32>
  %n = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g : tensor<2x6xf32>, tensor<2x6xf32>) outs(%e : tensor<2x6xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %lr, %gi : f32
    %s = arith.subf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<2x6xf32>
  return %n : tensor<2x6xf32>
}

// Left alone: a gradient that is also returned (fetched), an update that adds, and a learning rate
// that is not a constant (a decayed rate fed at run time).
// CHECK-LABEL: func.func @left_alone(
// CHECK-COUNT-3: call @tgc_mm_kept_z(
// CHECK-NOT:     call @tgc_mm_kept(
func.func private @tgc_mm_kept_z(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>, %c: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%c : tensor<8x4xf32>) -> tensor<8x4xf32>
  %r = linalg.matmul indexing_maps = [#lhs_t, #rhs, #out] ins(%a, %b : tensor<?x8xf32>, tensor<?x4xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

func.func @left_alone(%x: tensor<?x8xf32>, %d: tensor<?x4xf32>, %w: tensor<8x4xf32>, %rate: f32) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %lr = arith.constant 0.5 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %g1 = call @tgc_mm_kept_z(%x, %d, %e) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %n1 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g1 : tensor<8x4xf32>, tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %gi, %lr : f32
    %s = arith.subf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  %g2 = call @tgc_mm_kept_z(%x, %d, %e) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %n2 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g2 : tensor<8x4xf32>, tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %gi, %lr : f32
    %s = arith.addf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  %g3 = call @tgc_mm_kept_z(%x, %d, %e) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %n3 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g3 : tensor<8x4xf32>, tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %gi, %rate : f32
    %s = arith.subf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  return %g1, %n1, %n2, %n3 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}

// Left alone: updates of calls that only look like outlined GEMMs by name: a *_z function whose body
// holds no matmul (here: one that calls the real GEMM, as a user's wrapper would), a *_z declaration,
// and a *_z GEMM whose accumulating name is already taken by a function of another type.
// CHECK-LABEL: func.func @not_outlined_gemms(
// CHECK:         call @tgc_mm_wrapper_z(
// CHECK:         arith.subf
// CHECK:         call @tgc_mm_external_z(
// CHECK:         arith.subf
// CHECK:         call @tgc_mm_taken_z(
// CHECK:         arith.subf
// CHECK-NOT:     call @tgc_mm_wrapper(
// CHECK-NOT:     call @tgc_mm_external(
// CHECK-NOT:     call @tgc_mm_taken(
func.func private @tgc_mm_wrapper_z(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>, %c: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %r = call @tgc_mm_kept_z(%a, %b, %c) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

func.func private @tgc_mm_external_z(tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>

func.func private @tgc_mm_taken_z(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>, %c: tensor<8x4xf32>) -> tensor<8x4xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%c : tensor<8x4xf32>) -> tensor<8x4xf32>
  %r = linalg.matmul indexing_maps = [#lhs_t, #rhs, #out] ins(%a, %b : tensor<?x8xf32>, tensor<?x4xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

func.func private @tgc_mm_taken(tensor<8x4xf32>) -> tensor<8x4xf32>

func.func @not_outlined_gemms(%x: tensor<?x8xf32>, %d: tensor<?x4xf32>, %w: tensor<8x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>) {
  %lr = arith.constant 0.5 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %g1 = call @tgc_mm_wrapper_z(%x, %d, %e) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %n1 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g1 : tensor<8x4xf32>, tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %gi, %lr : f32
    %s = arith.subf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  %g2 = call @tgc_mm_external_z(%x, %d, %e) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %n2 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g2 : tensor<8x4xf32>, tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %gi, %lr : f32
    %s = arith.subf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  %g3 = call @tgc_mm_taken_z(%x, %d, %e) : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  %n3 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%w, %g3 : tensor<8x4xf32>, tensor<8x4xf32>) outs(%e : tensor<8x4xf32>) {
  ^bb0(%wi: f32, %gi: f32, %o: f32):
    %m = arith.mulf %gi, %lr : f32
    %s = arith.subf %wi, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x4xf32>
  return %n1, %n2, %n3 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
}
