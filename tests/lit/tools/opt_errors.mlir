// `tgc opt` reports bad input as `file:line:col: error: message` (with the source line and a caret)
// on stderr and exits 1; with --split-input-file an error in one chunk leaves the others printed, and
// line numbers are the file's own.
// RUN: not %tgc-opt %s --split-input-file 2> %t.err | FileCheck %s --check-prefix=OUT
// RUN: FileCheck %s --check-prefix=ERR < %t.err
// Without splitting, the first error stops the file and nothing is printed.
// RUN: not %tgc-opt %s 2>&1 | FileCheck %s --check-prefix=WHOLE
// A file that cannot be read, an unknown pass, a bad pass option: one error line each, exit 1.
// RUN: not %tgc-opt %t.does-not-exist.mlir 2>&1 | FileCheck %s --check-prefix=NOFILE
// RUN: not %tgc-opt %s -p 'tgc-autodiff,no-such-pass' 2>&1 | FileCheck %s --check-prefix=NOPASS
// RUN: not %tgc-opt %s -p 'tgc-autodiff{bogus=1}' 2>&1 | FileCheck %s --check-prefix=NOOPT

// OUT-LABEL: func.func @first(
// OUT:         "tgc.negative"
// OUT:       // -----
// OUT-NEXT:  // -----
// OUT-NEXT:  module {
// OUT-NEXT:    func.func @third(
// ERR-NOT:   Traceback
func.func @first(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "tgc.negative"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// ERR: opt_errors.mlir:[[# @LINE + 5]]:26: error: expected SSA operand
// ERR-NEXT: {{^}}  %0 = "tgc.negative"(%x, ) : (tensor<2xf32>) -> tensor<2xf32>
// ERR-NEXT: {{^}}                         ^{{$}}
// WHOLE: opt_errors.mlir:[[# @LINE + 2]]:26: error: expected SSA operand
func.func @second(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "tgc.negative"(%x, ) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// ERR-NOT:   error:
func.func @third(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}

// NOFILE: does-not-exist.mlir: error: cannot read input file: No such file or directory
// NOPASS: tgc opt: error: invalid pipeline element 'no-such-pass': {{.*}}'no-such-pass' does not refer to a registered pass
// NOOPT: tgc opt: error: pass 'tgc-autodiff' has no option 'bogus' (options: none)
