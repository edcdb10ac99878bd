"""The launch plan read from gpu-level host code (tgc/lowering/nvptx/launch_plan.py) and its runner
(tgc/runtime/launch_plan.py): buffers, workspace reuse, constants, copies, refusals, and the calls a
device receives."""

import base64
import re

import numpy as np
import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.errors import InvalidArgumentError
from tgc.lowering.nvptx.launch_plan import WORKSPACE_ALIGNMENT, PlanError, extract_plan
from tgc.runtime.launch_plan import LaunchPlan

KERNELS = """
  gpu.module @k {
    gpu.func @fill(%o: memref<64xf32>, %v: f32) kernel { gpu.return }
    gpu.func @step(%i: memref<64xf32>, %o: memref<64xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %i[%c0] : memref<64xf32>
      memref.store %v, %o[%c0] : memref<64xf32>
      gpu.return
    }
  }
"""


def launch(kernel: str, args: str) -> str:
    sizes = "blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)"
    return f"    gpu.launch_func @k::@{kernel} {sizes} args({args})\n"


# Three intermediates: %a lives in steps 0-1, %b in steps 1-2, %c in steps 3-4: %c may reuse
# %a's bytes, %b may not.
THREE_TEMPS = (
    """
module attributes {gpu.container_module} {
  memref.global "private" constant @table : memref<3xf32> = dense<[1.5, -2.0, 4.0]>
  func.func @f(%x: memref<64xf32>, %out: memref<64xf32>, %t: memref<3xf32>)
      attributes {tgc.out_params = 2 : i64} {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %half = arith.constant 0.5 : f32
    %a = memref.alloc() : memref<64xf32>
    %b = memref.alloc() : memref<64xf32>
    %c = memref.alloc() : memref<64xf32>
"""
    + launch("fill", "%a : memref<64xf32>, %half : f32")
    + launch("step", "%a : memref<64xf32>, %b : memref<64xf32>")
    + launch("step", "%b : memref<64xf32>, %x : memref<64xf32>")
    + launch("fill", "%c : memref<64xf32>, %half : f32")
    + launch("step", "%c : memref<64xf32>, %out : memref<64xf32>")
    + """    %g = memref.get_global @table : memref<3xf32>
    memref.copy %g, %t : memref<3xf32> to memref<3xf32>
    return
  }
"""
    + KERNELS
    + "}"
)


def _plan(text: str) -> dict:
    with make_context():
        return extract_plan(ir.Module.parse(text))


def test_the_plan_lists_arguments_results_launches_and_a_copy():
    plan = _plan(THREE_TEMPS)
    assert plan["kernels"] == ["fill", "step"]
    function = plan["functions"]["f"]
    assert function["arguments"] == [{"shape": [64], "dtype": "float32"}] * 2 + [
        {"shape": [3], "dtype": "float32"}
    ]
    assert function["results"] == 2
    launches = [s["launch"] for s in function["steps"] if "launch" in s]
    assert [launch["kernel"] for launch in launches] == ["fill", "step", "step", "fill", "step"]
    assert launches[0]["grid"] == [1, 1, 1] and launches[0]["block"] == [64, 1, 1]
    assert launches[0]["args"] == [["buffer", 0], ["f32", 0.5]]
    assert launches[2]["args"] == [["buffer", 1], ["argument", 0]]
    # %x (input 0) is the target of a step's store; %out and %t are written as outputs.
    assert function["written_arguments"] == [0, 1, 2]
    assert function["steps"][-1] == {
        "copy": {"source": ["constant", 0], "target": ["argument", 2], "bytes": 12}
    }


def test_intermediates_with_disjoint_lifetimes_share_workspace_bytes():
    function = _plan(THREE_TEMPS)["functions"]["f"]
    a, b, c = (buffer["offset"] for buffer in function["buffers"])
    assert a != b  # both live in step 1
    assert c == a  # %a's last use (step 1) is before %c's first (step 3)
    assert b % WORKSPACE_ALIGNMENT == 0
    assert function["workspace_bytes"] == max(a, b, c) + 64 * 4 < 3 * 64 * 4


def test_a_constant_tensor_travels_as_little_endian_bytes():
    [constant] = _plan(THREE_TEMPS)["functions"]["f"]["constants"]
    assert constant["shape"] == [3] and constant["dtype"] == "float32"
    values = np.frombuffer(base64.b64decode(constant["data"]), dtype="<f4")
    np.testing.assert_array_equal(values, [1.5, -2.0, 4.0])


def test_a_scalar_computed_on_the_host_is_refused_naming_the_function():
    text = THREE_TEMPS.replace(
        "%half = arith.constant 0.5 : f32",
        "%one = arith.constant 1.0 : f32\n    %half = arith.addf %one, %one : f32",
    )
    with pytest.raises(PlanError, match="@f: the launch plan cannot run 'arith.addf' on the host"):
        _plan(text)


class RecordingDevice:
    """Device memory as numpy bytes; kernels recorded, 'fill' and 'step' computed in numpy."""

    def __init__(self):
        self.memory, self.calls, self.next = {}, [], 4096

    def kernel(self, name):
        return name

    def alloc(self, nbytes):
        pointer, self.next = self.next, self.next + max(nbytes, 1) + 4096
        self.memory[pointer] = bytearray(max(nbytes, 1))
        self.calls.append(("alloc", nbytes))
        return pointer

    def free(self, pointer):
        self.calls.append(("free",))

    def _view(self, pointer, count):
        base = max(p for p in self.memory if p <= pointer)
        return np.frombuffer(self.memory[base], dtype=np.float32)[
            (pointer - base) // 4 : (pointer - base) // 4 + count
        ]

    def copy_in(self, pointer, array):
        self.calls.append(("copy_in", array.nbytes))
        self._view(pointer, array.size)[:] = array.ravel()

    def copy_out(self, pointer, shape, dtype):
        return self._view(pointer, int(np.prod(shape))).reshape(shape).astype(dtype)

    def copy(self, target, source, nbytes):
        self._view(target, nbytes // 4)[:] = self._view(source, nbytes // 4)

    def launch(self, kernel, grid, block, params):
        import ctypes

        pointer = ctypes.c_void_p.from_address(params[0]).value
        if kernel == "fill":
            value = ctypes.c_float.from_address(params[1]).value
            self._view(pointer, 64)[:] = value
        else:  # step: o = i + 1
            target = ctypes.c_void_p.from_address(params[1]).value
            self._view(target, 64)[:] = self._view(pointer, 64) + 1
        self.calls.append(("launch", kernel, grid, block))

    def synchronize(self):
        self.calls.append(("synchronize",))


def test_the_runner_allocates_the_workspace_once_and_runs_the_steps_in_order():
    function = _plan(THREE_TEMPS)["functions"]["f"]
    device = RecordingDevice()
    run = LaunchPlan(function, device, "f")
    setup = list(device.calls)
    # The workspace and the constant's buffer (its values copied in once).
    assert setup == [("alloc", function["workspace_bytes"]), ("alloc", 12), ("copy_in", 12)]
    for _ in range(2):
        device.calls.clear()
        out, table = run(np.zeros(64, np.float32))  # the outputs: the last `results` arguments
        np.testing.assert_array_equal(out, np.full(64, 1.5))  # fill %c with 0.5, then step
        np.testing.assert_array_equal(table, [1.5, -2.0, 4.0])
        launches = [c[1] for c in device.calls if c[0] == "launch"]
        assert launches == ["fill", "step", "step", "fill", "step"]
        assert ("alloc", function["workspace_bytes"]) not in device.calls


def test_an_input_of_another_shape_is_an_invalid_argument_naming_both_shapes():
    run = LaunchPlan(_plan(THREE_TEMPS)["functions"]["f"], RecordingDevice(), "f")
    with pytest.raises(
        InvalidArgumentError, match=r"f: input 0 has shape \[32\], but the function"
    ):
        run(np.zeros(32, np.float32))
    with pytest.raises(InvalidArgumentError, match="f takes 1 inputs, got 2"):
        run(np.zeros(64, np.float32), np.zeros(64, np.float32))


# A variable's update on the device: v_new = v + 1 (input 0, read only), output 0 stays there.
UPDATE = (
    """
module attributes {gpu.container_module} {
  func.func @update(%v: memref<64xf32>, %new: memref<64xf32>)
      attributes {tgc.out_params = 1 : i64} {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
"""
    + launch("step", "%v : memref<64xf32>, %new : memref<64xf32>")
    + """    return
  }
"""
    + KERNELS
    + "}"
)


def test_a_resident_output_stays_on_the_device_and_comes_back_without_a_copy():
    from tgc.runtime.device_array import DeviceArray

    device = RecordingDevice()
    run = LaunchPlan(_plan(UPDATE)["functions"]["update"], device, "update", resident_outputs=[0])
    [value] = run(np.zeros(64, np.float32))
    assert isinstance(value, DeviceArray) and value.shape == (64,)
    allocations = []
    for expected in (2.0, 3.0, 4.0):
        device.calls.clear()
        [value] = run(value)  # the previous step's buffer, passed as it is
        allocations.append([c for c in device.calls if c[0] in ("alloc", "copy_in")])
        np.testing.assert_array_equal(np.asarray(value), np.full(64, expected))
    # Two buffers take turns (the input's and the output's); no copy to the device.
    assert allocations == [[("alloc", 256)], [], []]
    assert np.asarray(value).dtype == np.float32 and value.copy().flags.writeable


def test_a_resident_input_that_a_step_writes_is_copied_on_the_device_first():
    device = RecordingDevice()
    plan = _plan(THREE_TEMPS)["functions"]["f"]  # a step stores into input 0
    assert 0 in plan["written_arguments"]
    run = LaunchPlan(plan, device, "f", resident_outputs=[0])
    [out, _] = run(np.zeros(64, np.float32))  # out: a DeviceArray of 1.5
    device.calls.clear()
    run(out)
    np.testing.assert_array_equal(np.asarray(out), np.full(64, 1.5))  # unchanged by the step


def test_a_kernel_taking_an_empty_buffer_is_refused_not_launched_with_garbage():
    text = THREE_TEMPS.replace("memref<64xf32>", "memref<0xf32>")
    with pytest.raises(PlanError, match=r"kernel @fill takes an empty buffer \(memref<0xf32>\)"):
        _plan(text)


def _with_sizes(grid: str, block: str) -> str:
    """THREE_TEMPS whose launches take ``grid`` blocks of ``block`` threads (%cN constants)."""
    text = THREE_TEMPS.replace(
        "blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)",
        f"blocks in ({grid}) threads in ({block})",
    )
    numbers = {n for n in re.findall(r"%c(\d+)\b", grid + block)} - {"1", "64"}
    constants = "".join(f"    %c{n} = arith.constant {n} : index\n" for n in sorted(numbers))
    return text.replace(
        "    %c64 = arith.constant 64 : index\n",
        "    %c64 = arith.constant 64 : index\n" + constants,
    )


def test_a_grid_past_65535_blocks_on_y_is_refused_naming_kernel_and_sizes():
    with pytest.raises(
        PlanError,
        match=r"@f: kernel @fill launches a grid of \[1, 65536, 1\] blocks of \[64, 1, 1\] "
        r"threads, past the GPU's limits \(grid at most \[2147483647, 65535, 65535\]",
    ):
        _plan(_with_sizes("%c1, %c65536, %c1", "%c64, %c1, %c1"))


def test_a_block_past_1024_threads_is_refused_and_the_limits_themselves_pass():
    with pytest.raises(PlanError, match=r"blocks of \[64, 32, 1\] threads, past the GPU's"):
        _plan(_with_sizes("%c1, %c1, %c1", "%c64, %c32, %c1"))
    plan = _plan(_with_sizes("%c2147483647, %c65535, %c65535", "%c32, %c32, %c1"))
    launch_step = plan["functions"]["f"]["steps"][0]["launch"]
    assert launch_step["grid"] == [2147483647, 65535, 65535] and launch_step["block"] == [32, 32, 1]


def test_a_launch_without_threads_is_skipped():
    plan = _plan(UPDATE)["functions"]["update"]
    plan["steps"][0]["launch"]["grid"] = [4, 0, 1]  # an empty tensor's grid: nothing to run
    device = RecordingDevice()
    LaunchPlan(plan, device, "update")(np.zeros(64, np.float32))
    assert not [c for c in device.calls if c[0] == "launch"]


def test_a_boolean_constant_is_passed_as_a_byte_holding_one():
    text = THREE_TEMPS.replace("%half = arith.constant 0.5 : f32", "%half = arith.constant true")
    text = text.replace("%half : f32", "%half : i1").replace("%v: f32", "%v: i1")
    launches = [s["launch"] for s in _plan(text)["functions"]["f"]["steps"] if "launch" in s]
    assert launches[0]["args"] == [["buffer", 0], ["i8", 1]]  # MLIR reads `true` as -1


# ---- dynamic shared memory ----------------------------------------------------------------------


def _with_dynamic_shared(text: str, nbytes: int) -> str:
    """THREE_TEMPS with its first launch (of @fill) taking ``nbytes`` of dynamic shared memory."""
    first = "threads in (%c64, %c1, %c1) args(%a : memref<64xf32>, %half"
    assert text.count(first) == 1
    dynamic = first.replace(" args(", " dynamic_shared_memory_size %shared args(")
    text = text.replace(first, dynamic)
    return text.replace(
        "%half = arith.constant 0.5 : f32",
        f"%half = arith.constant 0.5 : f32\n    %shared = arith.constant {nbytes} : i32",
    )


def test_a_launch_with_dynamic_shared_memory_carries_its_bytes_and_the_others_none():
    function = _plan(_with_dynamic_shared(THREE_TEMPS, 98304))["functions"]["f"]
    launches = [s["launch"] for s in function["steps"] if "launch" in s]
    assert launches[0]["shared_bytes"] == 98304
    assert all("shared_bytes" not in launch for launch in launches[1:])


def test_dynamic_shared_memory_past_sm_90s_limit_is_refused_naming_the_kernel():
    _plan(_with_dynamic_shared(THREE_TEMPS, 227 * 1024))
    with pytest.raises(
        PlanError,
        match=r"@f: kernel @fill asks for 232449 bytes of dynamic shared memory; a block may "
        r"have at most 232448 \(sm_90's opt-in limit",
    ):
        _plan(_with_dynamic_shared(THREE_TEMPS, 227 * 1024 + 1))


class SharedRecordingDevice(RecordingDevice):
    """RecordingDevice whose launches also take the dynamic shared bytes (as CudaDevice's)."""

    def launch(self, kernel, grid, block, params, shared_bytes=0):
        super().launch(kernel, grid, block, params)
        self.calls[-1] = (*self.calls[-1], shared_bytes)


def test_the_runner_passes_the_dynamic_shared_bytes_to_the_device_only_where_set():
    function = _plan(_with_dynamic_shared(THREE_TEMPS, 65536))["functions"]["f"]
    device = SharedRecordingDevice()
    out, _ = LaunchPlan(function, device, "f")(np.zeros(64, np.float32))
    np.testing.assert_array_equal(out, np.full(64, 1.5))
    shared = [c[-1] for c in device.calls if c[0] == "launch"]
    assert shared == [65536, 0, 0, 0, 0]
    # A device of four launch arguments (no dynamic shared memory) still runs plans without it.
    plain = _plan(THREE_TEMPS)["functions"]["f"]
    LaunchPlan(plain, RecordingDevice(), "f")(np.zeros(64, np.float32))
