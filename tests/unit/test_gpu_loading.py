"""Loading a gpu-level module on this machine's GPUs (tgc/lowering/nvptx/in_process.py), with the
CUDA device replaced by a stand-in: each partition runs on the GPU it was placed on, one device
(context, module, stream) per GPU, and the PTX is compiled for the oldest of them."""

import sys

from mlir import ir

from tgc.dialect.context import make_context
from tgc.lowering.nvptx import in_process
from tgc.runtime import cuda_device

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from test_launch_plan import KERNELS, launch  # noqa: E402  (the same hand-written kernels)

TWO_FUNCTIONS = (
    """
module attributes {gpu.container_module} {
  func.func @first(%v: memref<64xf32>, %new: memref<64xf32>)
      attributes {tgc.out_params = 1 : i64} {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
"""
    + launch("step", "%v : memref<64xf32>, %new : memref<64xf32>")
    + """    return
  }
  func.func @second(%v: memref<64xf32>, %new: memref<64xf32>)
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
DEVICE = "/job:localhost/replica:0/task:0/device:GPU:{}"


class StandInGpu:
    made: list = []

    def __init__(self, image=b"", ordinal=0):
        self.ordinal, self.modules = ordinal, []
        StandInGpu.made.append(self)

    def compute_capability(self):
        return {0: "sm_90", 1: "sm_80"}[self.ordinal]

    def load_module(self, image):
        self.modules.append(image.decode())


def test_each_partition_runs_on_its_gpu_with_ptx_for_the_oldest(monkeypatch):
    monkeypatch.setattr(cuda_device, "CudaDevice", StandInGpu)
    monkeypatch.setattr(cuda_device, "cuda_status", lambda: None)
    StandInGpu.made = []
    devices = {"first": DEVICE.format(1), "second": DEVICE.format(0)}
    with make_context():
        code = in_process.load_on_gpu(ir.Module.parse(TWO_FUNCTIONS), None, devices)
    assert sorted(gpu.ordinal for gpu in StandInGpu.made) == [0, 1]
    assert code.device_of("first").ordinal == 1 and code.device_of("second").ordinal == 0
    for gpu in StandInGpu.made:
        [ptx] = gpu.modules
        assert ".target sm_80" in ptx and ".entry step(" in ptx


def test_without_devices_every_function_runs_on_gpu_0(monkeypatch):
    monkeypatch.setattr(cuda_device, "CudaDevice", StandInGpu)
    monkeypatch.setattr(cuda_device, "cuda_status", lambda: None)
    StandInGpu.made = []
    with make_context():
        code = in_process.load_on_gpu(ir.Module.parse(TWO_FUNCTIONS))
    [gpu] = StandInGpu.made
    assert gpu.ordinal == 0 and code.device_of("first") is gpu and code.device_of("second") is gpu
    assert ".target sm_90" in gpu.modules[0]
