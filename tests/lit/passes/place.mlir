// tgc-place gives every tgc op a device: requests (full or partial) are honoured, a variable and its
// reads and assigns share its declaration's device, and the rest go where the cost model finishes
// them first.
// RUN: not %tgc-opt %s --split-input-file -p 'tgc-place{devices=/job:ps/task:0/device:CPU:0,/job:worker/task:0/device:CPU:0}' 2>/dev/null | FileCheck %s
// RUN: not %tgc-opt %s --split-input-file -p 'tgc-place{devices=/job:ps/task:0/device:CPU:0,/job:worker/task:0/device:CPU:0}' 2>&1 >/dev/null | FileCheck %s --check-prefix=ERR
// With the accelerator beside the CPU (soft placement; then without):
// RUN: %tgc-opt %s --split-input-file -p 'tgc-place{devices=/job:localhost/task:0/device:CPU:0,/job:localhost/task:0/device:ACCEL:0 soft=true}' 2>/dev/null | FileCheck %s --check-prefix=SOFT
// RUN: not %tgc-opt %s --split-input-file -p 'tgc-place{devices=/job:localhost/task:0/device:CPU:0,/job:localhost/task:0/device:ACCEL:0}' 2>&1 >/dev/null | FileCheck %s --check-prefix=HARD

// The parameter-server layout: the variable on /job:ps, the compute on /job:worker.
// CHECK:       "tgc.variable"() {device = "/job:ps/replica:0/task:0/device:CPU:0"
// CHECK-LABEL: func.func @parameter_server(
// CHECK:         "tgc.read_variable"() {device = "/job:ps/replica:0/task:0/device:CPU:0"
// CHECK:         "tgc.matmul"({{.*}}) {device = "/job:worker/replica:0/task:0/device:CPU:0"
// CHECK:         "tgc.tanh"({{.*}}) {device = "/job:worker/replica:0/task:0/device:CPU:0"
// CHECK:         "tgc.assign_sub"({{.*}}) {device = "/job:ps/replica:0/task:0/device:CPU:0"
"tgc.variable"() {sym_name = "w", shape = array<i64: 3, 2>, dtype = f32, device = "/job:ps"} : () -> ()
func.func @parameter_server(%x: tensor<?x3xf32>) -> (tensor<?x2xf32>, tensor<3x2xf32>) {
  %w = "tgc.read_variable"() {var = @w, shape = array<i64: 3, 2>, dtype = f32} : () -> tensor<3x2xf32>
  %y = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false, device = "/job:worker"} : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  %t = "tgc.tanh"(%y) : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %n = "tgc.assign_sub"(%w) {var = @w} : (tensor<3x2xf32>) -> tensor<3x2xf32>
  return %t, %n : tensor<?x2xf32>, tensor<3x2xf32>
}

// -----

// Nothing requested and one device would do: every op stays with its input's device, since moving
// a tensor costs more than these ops compute.
// CHECK-LABEL: func.func @chain_stays_together(
// CHECK:         "tgc.exp"({{.*}}) {device = "[[DEV:.*]]"}
// CHECK:         "tgc.negative"({{.*}}) {device = "[[DEV]]"}
func.func @chain_stays_together(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = "tgc.exp"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %n = "tgc.negative"(%e) : (tensor<4xf32>) -> tensor<4xf32>
  return %n : tensor<4xf32>
}

// -----

// A request no available device satisfies is an error naming the op, the request and the devices.
// ERR: place.mlir:{{[0-9]+}}:8: error: cannot place 'tgc.exp' on requested device '/gpu:0': available devices that can run it are ['/job:ps/replica:0/task:0/device:CPU:0', '/job:worker/replica:0/task:0/device:CPU:0']
func.func @impossible(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = "tgc.exp"(%x) {device = "/gpu:0"} : (tensor<4xf32>) -> tensor<4xf32>
  return %e : tensor<4xf32>
}

// -----

// A variable goes where its declaration, reads and assigns can all run: the accelerator runs the
// float matmul but no integer op, so with soft placement the step counter stays on the CPU;
// without, the request is refused naming the ops the accelerator does not run.
// SOFT:         "tgc.variable"() {device = "/job:localhost/replica:0/task:0/device:CPU:0"
// SOFT-LABEL:   func.func @trained_on_the_accelerator(
// SOFT:           "tgc.read_variable"() {device = "/job:localhost/replica:0/task:0/device:CPU:0"
// SOFT:           "tgc.matmul"({{.*}}) {device = "/job:localhost/replica:0/task:0/device:ACCEL:0"
// SOFT:           "tgc.assign_add"({{.*}}) {device = "/job:localhost/replica:0/task:0/device:CPU:0"
// HARD: place.mlir:{{[0-9]+}}:1: error: cannot place 'tgc.variable' on requested device '/device:ACCEL:0': available devices that can run it with its reads and assigns are ['/job:localhost/replica:0/task:0/device:CPU:0'] ('ACCEL' does not run {{.*}}'tgc.read_variable'
"tgc.variable"() {sym_name = "step", shape = array<i64>, dtype = i32, device = "/device:ACCEL:0"} : () -> ()
func.func @trained_on_the_accelerator(%x: tensor<4x3xf32>, %w: tensor<3x2xf32>, %one: tensor<i32>) -> (tensor<4x2xf32>, tensor<i32>, tensor<i32>) {
  %s = "tgc.read_variable"() {var = @step, shape = array<i64>, dtype = i32} : () -> tensor<i32>
  %y = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false, device = "/device:ACCEL:0"} : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %n = "tgc.assign_add"(%one) {var = @step} : (tensor<i32>) -> tensor<i32>
  return %y, %n, %s : tensor<4x2xf32>, tensor<i32>, tensor<i32>
}
