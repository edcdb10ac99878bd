// `tgc compile --emit=...` prints each stage of ahead-of-time compilation of a small graph
// (y = relu(x @ w) with an unknown batch dim, as tgc.export_graph writes it).
// RUN: %tgc compile %s --emit=llvm-dialect | FileCheck %s --check-prefix=LLVMD
// RUN: %tgc compile %s --emit=llvm-ir | FileCheck %s --check-prefix=IR
// RUN: %tgc compile %s --emit=llvm-ir --name=relu_net --target-triple=aarch64-unknown-linux-gnu | FileCheck %s --check-prefix=CROSS
// RUN: %tgc compile %s --emit=header | FileCheck %s --check-prefix=HEADER
// RUN: not %tgc compile %s --emit=so --target-triple=aarch64-unknown-linux-gnu -o %t.so 2>&1 | FileCheck %s --check-prefix=ERR

module {
  func.func @main(%arg0: tensor<?x4xf32>) -> tensor<?x1xf32> attributes {llvm.emit_c_interface, tgc.feed_names = ["x"], tgc.fetch_names = ["y"]} {
    %0 = "tgc.constant"() {value = dense<[[1.000000e+00], [2.000000e+00], [3.000000e+00], [4.000000e+00]]> : tensor<4x1xf32>} : () -> tensor<4x1xf32>
    %1 = "tgc.matmul"(%arg0, %0) {transpose_a = false, transpose_b = false} : (tensor<?x4xf32>, tensor<4x1xf32>) -> tensor<?x1xf32>
    %2 = "tgc.relu"(%1) : (tensor<?x1xf32>) -> tensor<?x1xf32>
    return %2 : tensor<?x1xf32>
  }
}

// The entry is renamed <name>_main; the C interface wrapper takes the result struct, then the input.
// LLVMD:     llvm.func @model_main(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64) -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// LLVMD:       llvm.call @malloc
// LLVMD:       llvm.intr.maximum
// LLVMD:     llvm.func @_mlir_ciface_model_main(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// LLVMD-NOT: "tgc.
// LLVMD-NOT: linalg.

// IR:      target triple = "{{x86_64|aarch64}}-
// IR:      declare ptr @malloc(i64)
// IR:      define { ptr, ptr, i64, [2 x i64], [2 x i64] } @model_main(ptr %0, ptr %1, i64 %2, i64 %3, i64 %4, i64 %5, i64 %6)
// IR:        call ptr @malloc(
// IR:      define void @_mlir_ciface_model_main(ptr %0, ptr %1)
// IR-NOT:  scipy_cblas

// CROSS:   target triple = "aarch64-unknown-linux-gnu"
// CROSS:   define void @_mlir_ciface_relu_net_main(

// HEADER:  typedef struct { float *allocated; float *aligned; int64_t offset; int64_t sizes[2]; int64_t strides[2]; } tgc_memref_float32_2d;
// HEADER:  typedef struct {
// HEADER-NEXT: tgc_memref_float32_2d y;  /* float32[?x1] */
// HEADER-NEXT: } model_results;
// HEADER:  void _mlir_ciface_model_main(model_results *results, const tgc_memref_float32_2d *x);

// ERR: tgc compile: error: cannot link a shared library for aarch64-unknown-linux-gnu on this machine; use --emit=obj
