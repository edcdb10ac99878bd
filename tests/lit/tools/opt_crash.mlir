// MLIR's assertion build aborts on some IR its verifiers let through: here `tensor.dim` with a
// constant index of -1 reaches buffer deallocation. `tgc opt` runs each input in a child process, so
// the abort becomes one error line naming the pass and MLIR's assertion, exit 1 (`not` fails on a
// signal); the next chunk is still processed.
// RUN: not %tgc-opt %s --split-input-file -p 'one-shot-bufferize{bufferize-function-boundaries},buffer-deallocation-pipeline' 2> %t.err | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s --check-prefix=ERR < %t.err
// The same through the default compile pipeline.
// RUN: not %tgc-opt %s --split-input-file --default-pipeline 2>&1 | FileCheck %s --check-prefix=DEFAULT

// ERR: opt_crash.mlir: error: MLIR crashed (SIGABRT) while running pass 'buffer-deallocation-pipeline': assertion `idx < getRank() && "invalid index for shaped type"' failed; the input is not valid there
// ERR-NOT: {{.}}
// DEFAULT: opt_crash.mlir: error: MLIR crashed (SIGABRT) while running pass '{{.*}}'
// DEFAULT-NOT: Traceback
func.func @negative_dim(%x: tensor<?xf32>) -> index {
  %c = arith.constant -1 : index
  %d = tensor.dim %x, %c : tensor<?xf32>
  return %d : index
}

// -----

// OUT: // -----
// OUT: func.func @after_the_crash(
func.func @after_the_crash(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
