// tgc-gemm-epilogue moves a bias add and activation over an outlined zero-filling GEMM's result into
// a function of its own, <callee>_ep_<b><act>(A, B, [bias], C): the fill, the matmul, then the same
// elementwise work as a generic in place over C (ins(bias) outs(C), its body reading C's element),
// for tgc-blas-matmul to fuse into the generated kernel's epilogue. The plain GEMM goes when no call
// is left. Left alone: a GEMM result with another user, a bias per row, any other body, a C at
// most one vector wide.
// RUN: %tgc-opt %s -p tgc-gemm-epilogue | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0)>

// The functions come first in the module, the last one defined first.
// CHECK-LABEL: func.func private @tgc_mm_a_z_ep_b(
// CHECK:         linalg.generic
// CHECK-NEXT:    ^bb0(%[[IN:.*]]: f32, %[[OUT:.*]]: f32):
// CHECK-NEXT:      %[[S:.*]] = arith.addf %[[OUT]], %[[IN]] : f32
// CHECK-NEXT:      linalg.yield %[[S]] : f32

// CHECK-LABEL: func.func private @tgc_mm_a_z_ep_relu(
// CHECK-SAME:      %{{.*}}: tensor<?x8xf32>, %{{.*}}: tensor<8x32xf32>, %[[C:.*]]: tensor<?x32xf32>)
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<?x32xf32>)
// CHECK-NEXT:    ^bb0(%[[OUT:.*]]: f32):
// CHECK:           arith.maximumf %[[OUT]]

// CHECK-LABEL: func.func private @tgc_mm_a_z_ep_brelu6(
// CHECK-SAME:      %[[A:.*]]: tensor<?x8xf32>, %[[B:.*]]: tensor<8x32xf32>, %[[BIAS:.*]]: tensor<32xf32>, %[[C:.*]]: tensor<?x32xf32>)
// CHECK:         %[[F:.*]] = linalg.fill {{.*}} outs(%[[C]] : tensor<?x32xf32>)
// CHECK:         %[[P:.*]] = linalg.matmul ins(%[[A]], %[[B]] : {{.*}}) outs(%[[F]] : tensor<?x32xf32>)
// CHECK:         %[[E:.*]] = linalg.generic {{.*}} ins(%[[BIAS]] : tensor<32xf32>) outs(%[[P]] : tensor<?x32xf32>)
// CHECK-NEXT:    ^bb0(%[[IN:.*]]: f32, %[[OUT:.*]]: f32):
// CHECK-NEXT:      %[[S:.*]] = arith.addf %[[OUT]], %[[IN]] : f32
// CHECK:           %[[R:.*]] = arith.maximumf %[[S]], %{{.*}} : f32
// CHECK:           %[[R6:.*]] = arith.minimumf %[[R]], %{{.*}} : f32
// CHECK-NEXT:      linalg.yield %[[R6]] : f32
// CHECK:         return %[[E]]

// CHECK-LABEL: func.func private @tgc_mm_a_z_ep_brelu(
// The plain GEMM stays: @left_alone still calls it.
// CHECK-LABEL: func.func private @tgc_mm_a_z(
func.func private @tgc_mm_a_z(%a: tensor<?x8xf32>, %b: tensor<8x32xf32>, %c: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%c : tensor<?x32xf32>) -> tensor<?x32xf32>
  %r = linalg.matmul ins(%a, %b : tensor<?x8xf32>, tensor<8x32xf32>) outs(%f : tensor<?x32xf32>) -> tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}

// relu(x W + b), the add's operands in TF's order (the product first).
// CHECK-LABEL: func.func @dense(
// CHECK-SAME:      %[[X:.*]]: tensor<?x8xf32>, %[[W:.*]]: tensor<8x32xf32>, %[[BIAS:.*]]: tensor<32xf32>)
// CHECK:         %[[E:.*]] = tensor.empty
// CHECK-NEXT:    %[[Y:.*]] = call @tgc_mm_a_z_ep_brelu(%[[X]], %[[W]], %[[BIAS]], %[[E]])
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[Y]]
func.func @dense(%x: tensor<?x8xf32>, %w: tensor<8x32xf32>, %b: tensor<32xf32>) -> tensor<?x32xf32> {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %g = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%g, %b : tensor<?x32xf32>, tensor<32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %bi: f32, %o: f32):
    %s = arith.addf %gi, %bi : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// relu6(b + x W) (the bias first, max's constant first), relu(x W) without a bias, and x W + b.
// CHECK-LABEL: func.func @variants(
// CHECK:         call @tgc_mm_a_z_ep_brelu6(
// CHECK:         call @tgc_mm_a_z_ep_relu(
// CHECK:         call @tgc_mm_a_z_ep_b(
// CHECK-NOT:     linalg.generic
func.func @variants(%x: tensor<?x8xf32>, %w: tensor<8x32xf32>, %b: tensor<32xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %g1 = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y1 = linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%b, %g1 : tensor<32xf32>, tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%bi: f32, %gi: f32, %o: f32):
    %s = arith.addf %bi, %gi : f32
    %r = arith.maximumf %zero, %s : f32
    %r6 = arith.minimumf %r, %six : f32
    linalg.yield %r6 : f32
  } -> tensor<?x32xf32>
  %g2 = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%g2 : tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %o: f32):
    %r = arith.maximumf %gi, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x32xf32>
  %g3 = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y3 = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%g3, %b : tensor<?x32xf32>, tensor<32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %bi: f32, %o: f32):
    %s = arith.addf %gi, %bi : f32
    linalg.yield %s : f32
  } -> tensor<?x32xf32>
  return %y1, %y2, %y3 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// Left alone: the product also returned (its unfused value is needed), a bias per row (d0), a
// relu with another bound (max(x, 1)), and a body that reads the init.
// CHECK-LABEL: func.func @left_alone(
// CHECK-NOT:     call @tgc_mm_a_z_ep
// CHECK:         call @tgc_mm_a_z(
// CHECK-NEXT:    linalg.generic
// CHECK:         call @tgc_mm_a_z(
// CHECK-NEXT:    linalg.generic
// CHECK:         call @tgc_mm_a_z(
// CHECK-NEXT:    linalg.generic
// CHECK:         call @tgc_mm_a_z(
// CHECK-NEXT:    linalg.generic
func.func @left_alone(%x: tensor<?x8xf32>, %w: tensor<8x32xf32>, %b: tensor<32xf32>, %rb: tensor<?xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %g1 = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y1 = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%g1, %b : tensor<?x32xf32>, tensor<32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %bi: f32, %o: f32):
    %s = arith.addf %gi, %bi : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x32xf32>
  %g2 = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y2 = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%g2, %rb : tensor<?x32xf32>, tensor<?xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %bi: f32, %o: f32):
    %s = arith.addf %gi, %bi : f32
    linalg.yield %s : f32
  } -> tensor<?x32xf32>
  %g3 = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y3 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%g3 : tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %o: f32):
    %r = arith.maximumf %gi, %one : f32
    linalg.yield %r : f32
  } -> tensor<?x32xf32>
  %g4 = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y4 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%g4 : tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %o: f32):
    %s = arith.addf %gi, %o : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x32xf32>
  return %g1, %y1, %y2, %y3, %y4 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// A C known to be at most one vector wide (10 floats: an output layer) is left to tgc-narrow-gemm,
// whose kernels take only a plain GEMM and are about twice as fast there.
// CHECK-LABEL: func.func @narrow(
// CHECK:         call @tgc_mm_n_z(
// CHECK-NEXT:    linalg.generic
func.func private @tgc_mm_n_z(%a: tensor<?x8xf32>, %b: tensor<8x10xf32>, %c: tensor<?x10xf32>) -> tensor<?x10xf32> {
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%c : tensor<?x10xf32>) -> tensor<?x10xf32>
  %r = linalg.matmul ins(%a, %b : tensor<?x8xf32>, tensor<8x10xf32>) outs(%f : tensor<?x10xf32>) -> tensor<?x10xf32>
  return %r : tensor<?x10xf32>
}

func.func @narrow(%x: tensor<?x8xf32>, %w: tensor<8x10xf32>, %b: tensor<10xf32>) -> tensor<?x10xf32> {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%m) : tensor<?x10xf32>
  %g = call @tgc_mm_n_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x10xf32>, tensor<?x10xf32>) -> tensor<?x10xf32>
  %y = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%g, %b : tensor<?x10xf32>, tensor<10xf32>) outs(%e : tensor<?x10xf32>) {
  ^bb0(%gi: f32, %bi: f32, %o: f32):
    %s = arith.addf %gi, %bi : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x10xf32>
  return %y : tensor<?x10xf32>
}

// max(x, -0.0) is not the kernel's relu (it keeps -0.0 where relu gives +0.0): left alone.
// CHECK-LABEL: func.func @negative_zero(
// CHECK:         call @tgc_mm_a_z(
// CHECK-NEXT:    linalg.generic
func.func @negative_zero(%x: tensor<?x8xf32>, %w: tensor<8x32xf32>) -> tensor<?x32xf32> {
  %nzero = arith.constant -0.0 : f32
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %g = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%g : tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %o: f32):
    %r = arith.maximumf %gi, %nzero : f32
    linalg.yield %r : f32
  } -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// A bias that is one constant (tf.constant(0.1, shape=[n]), folded into the body as a scalar) over
// C of a known width becomes a 1-d splat constant passed as the bias.
// CHECK-LABEL: func.func @splat_bias(
// CHECK:         %[[SPLAT:.*]] = arith.constant dense<1.000000e-01> : tensor<32xf32>
// CHECK-NEXT:    %[[Y:.*]] = call @tgc_mm_a_z_ep_brelu(%{{.*}}, %{{.*}}, %[[SPLAT]], %{{.*}})
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[Y]]
func.func @splat_bias(%x: tensor<?x8xf32>, %w: tensor<8x32xf32>) -> tensor<?x32xf32> {
  %zero = arith.constant 0.0 : f32
  %tenth = arith.constant 0.1 : f32
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x8xf32>
  %e = tensor.empty(%m) : tensor<?x32xf32>
  %g = call @tgc_mm_a_z(%x, %w, %e) : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<?x32xf32>) -> tensor<?x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%g : tensor<?x32xf32>) outs(%e : tensor<?x32xf32>) {
  ^bb0(%gi: f32, %o: f32):
    %s = arith.addf %gi, %tenth : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
