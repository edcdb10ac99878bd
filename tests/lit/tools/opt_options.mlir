// The driver's other options: pipelines printed back, pass listing, stdin, -o, IR dumps, timing, and
// the `tgc dialect` listing.
// RUN: %tgc-opt --print-pipeline -p 'tgc-autodiff, tgc-decompose,canonicalize,func.func(cse)' | FileCheck %s --check-prefix=PIPE
// RUN: %tgc-opt --list-passes | FileCheck %s --check-prefix=LIST
// RUN: %tgc-opt -p tgc-autodiff < %s | FileCheck %s --check-prefix=STDIN
// RUN: %tgc-opt %s -p tgc-autodiff -o %t.out && FileCheck %s --check-prefix=STDIN < %t.out
// RUN: %tgc-opt %s -p 'tgc-decompose,tgc-autodiff,canonicalize' --print-ir-after-all 2>&1 >/dev/null | FileCheck %s --check-prefix=ALL
// RUN: %tgc-opt %s -p 'tgc-decompose,tgc-autodiff,canonicalize' --print-ir-after-change 2>&1 >/dev/null | FileCheck %s --check-prefix=CHANGE
// RUN: %tgc-opt %s -p 'tgc-autodiff,canonicalize' --timing 2>&1 >/dev/null | FileCheck %s --check-prefix=TIME
// RUN: %tgc dialect --list-ops | FileCheck %s --check-prefix=OPS
// RUN: not %tgc dialect 2>&1 | FileCheck %s --check-prefix=NOFLAG

// PIPE: tgc-autodiff,tgc-decompose,canonicalize,func.func(cse)

// LIST-DAG: tgc-autodiff{{ +}}Replaces tgc.gradient requests
// LIST-DAG: tgc-decompose
// LIST-DAG: tgc-lower-variables
// LIST-DAG: tgc-to-core
// LIST-DAG: tgc-verify

// STDIN-LABEL: func.func @square_grad(
// STDIN-NOT:     "tgc.gradient"
// STDIN:         "tgc.add"

// ALL:       // -----// IR Dump After tgc-decompose //----- //
// ALL:         "tgc.gradient"
// ALL:       // -----// IR Dump After tgc-autodiff //----- //
// ALL-NOT:     "tgc.gradient"
// ALL:       // -----// IR Dump After canonicalize //----- //

// tgc-decompose and canonicalize change nothing here: only autodiff's dump is printed.
// CHANGE-NOT: IR Dump After tgc-decompose
// CHANGE:     // -----// IR Dump After tgc-autodiff //----- //
// CHANGE-NOT: IR Dump After

// TIME:      Execution time report
// TIME:      Total Execution Time: {{[0-9.]+}} seconds
// TIME:      {{[0-9.]+}} ({{ *[0-9.]+}}%){{ +}}tgc-autodiff
// TIME-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%){{ +}}canonicalize

// OPS-DAG: tgc.add{{ +}}AddV2
// OPS-DAG: tgc.matmul{{ +}}MatMul
// OPS-DAG: tgc.reduce_sum{{ +}}Sum

// NOFLAG: tgc dialect: error: give exactly one of --irdl and --list-ops

func.func @square_grad(%x: tensor<3xf32>, %dy: tensor<3xf32>) -> tensor<3xf32> {
  %y = "tgc.multiply"(%x, %x) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %dx = "tgc.gradient"(%y, %x, %dy) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %dx : tensor<3xf32>
}
