"""Sends and receives in the launch plan: read from gpu-level host code that calls the transfer
functions (tgc/lowering/nvptx/launch_plan.py), and run by LaunchPlan through a real TransferHub and
Rendezvous (tgc/runtime/launch_plan.py, tgc/runtime/rendezvous.py) on a device made of numpy
bytes."""

import ctypes

import numpy as np
import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.errors import InvalidArgumentError
from tgc.lowering.nvptx.in_process import PlanCode
from tgc.lowering.nvptx.launch_plan import PlanError, extract_plan
from tgc.runtime.launch_plan import LaunchPlan
from tgc.runtime.partitioned import Partition, PartitionedRun
from tgc.runtime.rendezvous import Rendezvous, RendezvousError, TransferHub

KEYS = {0: "a:0;/gpu:0;/cpu:0", 1: "r:0;/cpu:0;/gpu:0"}
SEND = "tgc_send_float32_1_static_64"
RECV = "tgc_recv_float32_1_static_64"


def _module(body: str, declarations: str = "") -> str:
    return f"""
module attributes {{gpu.container_module}} {{
  func.func private @{SEND}(i64, memref<64xf32>)
  func.func private @{RECV}(i64) -> memref<64xf32>
{declarations}
  func.func @f(%x: memref<64xf32>, %out: memref<64xf32>) attributes {{tgc.out_params = 1 : i64}} {{
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %k0 = arith.constant 0 : i64
    %k1 = arith.constant 1 : i64
{body}
    return
  }}
  gpu.module @k {{
    gpu.func @step(%i: memref<64xf32>, %o: memref<64xf32>) kernel {{ gpu.return }}
  }}
}}
"""


def _step(source: str, target: str) -> str:
    sizes = "blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)"
    return (
        f"    gpu.launch_func @k::@step {sizes} "
        f"args({source} : memref<64xf32>, {target} : memref<64xf32>)"
    )


# a = x + 1; send a as key 0; r = the tensor of key 1; out = r + 1. %a's last use (the send) comes
# before %r's first (the recv): they may share bytes.
SEND_THEN_RECV = _module(
    "\n".join(
        [
            "    %a = memref.alloc() : memref<64xf32>",
            _step("%x", "%a"),
            f"    call @{SEND}(%k0, %a) : (i64, memref<64xf32>) -> ()",
            f"    %r = call @{RECV}(%k1) : (i64) -> memref<64xf32>",
            _step("%r", "%out"),
        ]
    )
)


def _plan(text: str) -> dict:
    with make_context():
        return extract_plan(ir.Module.parse(text))["functions"]["f"]


def test_sends_and_receives_are_steps_with_key_buffer_shape_and_dtype():
    plan = _plan(SEND_THEN_RECV)
    kinds = [next(iter(step)) for step in plan["steps"]]
    assert kinds == ["launch", "send", "recv", "launch"]
    assert plan["steps"][1] == {
        "send": {"key": 0, "source": ["buffer", 0], "shape": [64], "dtype": "float32"}
    }
    assert plan["steps"][2] == {
        "recv": {"key": 1, "target": ["buffer", 1], "shape": [64], "dtype": "float32"}
    }
    assert plan["steps"][3]["launch"]["args"] == [["buffer", 1], ["argument", 1]]


def test_a_received_buffer_lives_from_its_recv_step():
    plan = _plan(SEND_THEN_RECV)
    assert [b["shape"] for b in plan["buffers"]] == [[64], [64]]
    a, r = (b["offset"] for b in plan["buffers"])
    assert a == r and plan["workspace_bytes"] == 64 * 4  # %a is sent before %r arrives
    # Sent after the recv, %a is still live when %r arrives: they need separate bytes.
    later = SEND_THEN_RECV.replace(
        f"    call @{SEND}(%k0, %a) : (i64, memref<64xf32>) -> ()\n", ""
    ).replace(
        _step("%r", "%out"),
        _step("%r", "%out") + f"\n    call @{SEND}(%k0, %a) : (i64, memref<64xf32>) -> ()",
    )
    plan = _plan(later)
    assert [next(iter(step)) for step in plan["steps"]] == ["launch", "recv", "launch", "send"]
    a, r = (b["offset"] for b in plan["buffers"])
    assert a != r and plan["workspace_bytes"] > 64 * 4


def test_a_bool_tensor_is_sent_as_bool_from_its_byte_buffer():
    text = _module(
        "\n".join(
            [
                "    %b = call @tgc_recv_bool_1_static_8(%k1) : (i64) -> memref<8xi8>",
                "    call @tgc_send_bool_1_static_8(%k0, %b) : (i64, memref<8xi8>) -> ()",
            ]
        ),
        "  func.func private @tgc_recv_bool_1_static_8(i64) -> memref<8xi8>\n"
        "  func.func private @tgc_send_bool_1_static_8(i64, memref<8xi8>)",
    )
    plan = _plan(text)
    assert plan["buffers"] == [{"shape": [8], "dtype": "int8", "offset": 0}]
    assert [s.get("recv", s.get("send"))["dtype"] for s in plan["steps"]] == ["bool", "bool"]


def test_a_receive_of_unknown_shape_is_refused_naming_the_function():
    text = _module(
        "    %r = call @tgc_recv_float32_1(%k1) : (i64) -> memref<?xf32>",
        "  func.func private @tgc_recv_float32_1(i64) -> memref<?xf32>",
    )
    with pytest.raises(PlanError, match=r"@f: a tensor of unknown shape \(memref<\?xf32>\)"):
        _plan(text)


def test_a_call_of_another_function_is_refused_naming_it():
    text = _module(
        "    call @helper(%x) : (memref<64xf32>) -> ()",
        "  func.func private @helper(memref<64xf32>)",
    )
    with pytest.raises(PlanError, match=r"@f: the launch plan cannot call @helper on the host"):
        _plan(text)


# ---- the runner ---------------------------------------------------------------------------------


class BytesDevice:
    """Device memory as numpy bytes of any dtype; the 'step' kernel computes o = i + 1 (float32)."""

    def __init__(self):
        self.memory, self.calls, self.next = {}, [], 4096

    def kernel(self, name):
        return name

    def alloc(self, nbytes):
        pointer, self.next = self.next, self.next + max(nbytes, 1) + 4096
        self.memory[pointer] = np.zeros(max(nbytes, 1), np.uint8)
        return pointer

    def free(self, pointer):
        pass

    def _bytes(self, pointer, nbytes):
        base = max(p for p in self.memory if p <= pointer)
        return self.memory[base][pointer - base : pointer - base + nbytes]

    def copy_in(self, pointer, array):
        self._bytes(pointer, array.nbytes)[:] = np.frombuffer(array.tobytes(), np.uint8)
        self.calls.append(("copy_in", array.shape, array.dtype))

    def copy_out(self, pointer, shape, dtype):
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.calls.append(("copy_out", tuple(shape), np.dtype(dtype)))
        return self._bytes(pointer, size).view(dtype).reshape(shape).copy()

    def copy(self, target, source, nbytes):
        self._bytes(target, nbytes)[:] = self._bytes(source, nbytes)

    def launch(self, kernel, grid, block, params):
        source, target = (ctypes.c_void_p.from_address(params[i]).value for i in range(2))
        self._bytes(target, 256).view(np.float32)[:] = self._bytes(source, 256).view(np.float32) + 1
        self.calls.append(("launch", kernel))

    def synchronize(self):
        pass


def _hub(running: int = 1) -> TransferHub:
    hub = TransferHub()
    hub.current = Rendezvous(KEYS, running, timeout=10.0)
    return hub


def test_a_send_delivers_the_computed_tensor_and_a_recv_fills_its_buffer():
    hub = _hub()
    run = LaunchPlan(_plan(SEND_THEN_RECV), BytesDevice(), "f", transfers=hub)
    x = np.arange(64, dtype=np.float32)
    received = np.full(64, 10.0, np.float32)
    hub.current.send(1, received)  # sent by the other partition before this one waits for it
    (out,) = run(x)
    sent = hub.current.values[0]
    assert sent.dtype == np.float32 and sent.shape == (64,)
    np.testing.assert_array_equal(sent, x + 1)
    np.testing.assert_array_equal(out, received + 1)


def test_a_partitioned_run_exchanges_tensors_with_another_partition():
    hub = TransferHub()

    def cpu_partition(x):
        a = hub.current.recv(0)  # waits for the GPU partition's send
        hub.current.send(1, a * 2)
        return [a - x]

    gpu = LaunchPlan(_plan(SEND_THEN_RECV), BytesDevice(), "f", transfers=hub)
    run = PartitionedRun(
        [Partition(gpu, "/gpu:0", [0], [], []), Partition(cpu_partition, "/cpu:0", [1], [], [])],
        hub,
        KEYS,
        num_fetches=2,
        timeout=10.0,
    )
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    for _ in range(2):  # the workspace and the hub serve every step
        (out, difference), _ = run([x], {})
        np.testing.assert_allclose(out, (x + 1) * 2 + 1, rtol=1e-6)
        np.testing.assert_allclose(difference, np.ones(64), rtol=1e-6)


@pytest.mark.parametrize(
    "value, found",
    [
        (np.zeros(32, np.float32), r"float32 of shape \[32\]"),
        (np.zeros(64, np.float64), r"float64 of shape \[64\]"),
    ],
)
def test_a_received_tensor_of_another_shape_or_dtype_is_an_error_naming_the_key(value, found):
    hub = _hub()
    run = LaunchPlan(_plan(SEND_THEN_RECV), BytesDevice(), "f", transfers=hub)
    hub.current.send(1, value)
    with pytest.raises(
        InvalidArgumentError,
        match=rf"f: the tensor received as 'r:0;/cpu:0;/gpu:0' is {found}, but the function "
        r"was compiled for float32 of shape \[64\]",
    ):
        run(np.zeros(64, np.float32))


def test_a_recv_in_an_aborted_run_raises_the_runs_error():
    hub = _hub()
    run = LaunchPlan(_plan(SEND_THEN_RECV), BytesDevice(), "f", transfers=hub)
    hub.current.abort(RendezvousError("the CPU partition failed"))
    with pytest.raises(RendezvousError, match="the CPU partition failed"):
        run(np.zeros(64, np.float32))


def test_a_deadlocked_recv_raises_instead_of_hanging():
    # This partition is the only one running and nobody sent key 1: the rendezvous sees a deadlock.
    hub = _hub(running=1)
    run = LaunchPlan(_plan(SEND_THEN_RECV), BytesDevice(), "f", transfers=hub)
    with pytest.raises(RendezvousError, match=r"deadlock: every partition waits for a tensor: "):
        run(np.zeros(64, np.float32))


def test_bool_tensors_cross_as_bool_arrays_and_land_as_bytes():
    text = _module(
        "\n".join(
            [
                "    %b = call @tgc_recv_bool_1_static_8(%k1) : (i64) -> memref<8xi8>",
                "    call @tgc_send_bool_1_static_8(%k0, %b) : (i64, memref<8xi8>) -> ()",
            ]
        ),
        "  func.func private @tgc_recv_bool_1_static_8(i64) -> memref<8xi8>\n"
        "  func.func private @tgc_send_bool_1_static_8(i64, memref<8xi8>)",
    )
    hub, device = _hub(), BytesDevice()
    run = LaunchPlan(_plan(text), device, "f", transfers=hub)
    flags = np.array([True, False, True, True, False, False, True, False])
    hub.current.send(1, flags)
    run(np.zeros(64, np.float32))
    assert ("copy_in", (8,), np.dtype(np.int8)) in device.calls  # one byte per element
    sent = hub.current.values[0]
    assert sent.dtype == np.bool_
    np.testing.assert_array_equal(sent, flags)


def test_a_plan_that_transfers_needs_the_runs_hub():
    with pytest.raises(ValueError, match=r"f sends or receives tensors .* \(keys \[0, 1\]\)"):
        LaunchPlan(_plan(SEND_THEN_RECV), BytesDevice(), "f")


def test_in_process_code_hands_its_hub_to_each_function():
    hub = _hub()
    code = PlanCode(
        {"kernels": ["step"], "functions": {"f": _plan(SEND_THEN_RECV)}}, BytesDevice(), hub
    )
    run = code.executable("f", [(np.dtype(np.float32), 1)], [(np.dtype(np.float32), 1)])
    hub.current.send(1, np.ones(64, np.float32))
    np.testing.assert_array_equal(run(np.zeros(64, np.float32))[0], np.full(64, 2.0))
