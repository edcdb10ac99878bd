"""Loading a gpu-level module in this process: its launch plan bound to a device.

On a GPU (the nvptx target) the kernels are lowered to PTX for the GPU's own architecture and loaded
by CudaDevice; on the host (nvptx-emulated) they are compiled for the CPU as loops over blocks and
threads and run by HostDevice. Both run the same launch plan through the runtime's LaunchPlan,
which performs the plan's sends and receives through the run's TransferHub (the compiled code never
calls the transfer symbols: the host code that calls them is the plan).
"""

from __future__ import annotations

from tgc.errors import CompileError
from tgc.lowering.math_expansion import EXPAND_MATH

# The kernels as host functions -> LLVM. Memrefs are passed as bare pointers, as kernels take them
# on the GPU, so one launch plan's argument list serves both.
# convert-vector-to-llvm: the emulated tensor-core matmul's 2-D accumulators (vector<2x2xf32>),
# which convert-to-llvm leaves alone.
HOST_LOWERING = (
    "builtin.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
    f"{EXPAND_MATH},convert-math-to-funcs,convert-math-to-libm,convert-vector-to-llvm,"
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},convert-to-llvm,"
    "reconcile-unrealized-casts)"
)


class PlanCode:
    """A module's launch plan bound to devices; each function becomes a LaunchPlan on its device
    (``devices``: one device for every function, or function name -> device), exchanging tensors
    through ``hub`` (the run's TransferHub; None for a run of one partition)."""

    def __init__(self, plan: dict, devices, hub=None):
        self.plan = plan
        self.devices = devices
        self.hub = hub

    def device_of(self, function: str):
        return self.devices[function] if isinstance(self.devices, dict) else self.devices

    def executable(
        self, function: str, inputs: list, outputs: list, in_place=None, variables_from=None
    ):
        """``variables_from``: the outputs from this index on are variables the function assigned;
        they stay on the device for the next run."""
        from tgc.runtime.launch_plan import LaunchPlan

        output_dtypes = [dtype for dtype, _ in outputs]
        plan = self.plan["functions"][function]
        resident = range(len(outputs))[variables_from:] if variables_from is not None else ()
        return LaunchPlan(
            plan,
            self.device_of(function),
            function,
            output_dtypes,
            transfers=self.hub,
            resident_outputs=resident,
        )


def plan_of(module) -> dict:
    """The module's launch plan; host code it cannot express is the user's CompileError."""
    from tgc.lowering.nvptx.launch_plan import PlanError, extract_plan

    try:
        return extract_plan(module)
    except PlanError as exc:
        raise CompileError(f"the nvptx target cannot run this graph: {exc}") from None


def load_on_host(module, hub=None) -> PlanCode:
    """Reads the launch plan of a gpu-level module, then compiles its kernels for the host."""
    from mlir.execution_engine import ExecutionEngine
    from mlir.passmanager import PassManager

    from tgc.lowering.nvptx.kernels_on_host import KernelsOnHostPass
    from tgc.runtime.host_device import HostDevice

    plan = plan_of(module)
    KernelsOnHostPass().run(module)
    PassManager.parse(HOST_LOWERING).run(module.operation)
    engine = ExecutionEngine(module, opt_level=3)
    kernels = {name: engine.raw_lookup(name) for name in plan["kernels"]}
    return PlanCode(plan, HostDevice(kernels, keepalive=engine), hub)


def load_on_gpu(module, hub=None, devices=None, opt_level: int = 3) -> PlanCode:
    """Reads the launch plan, lowers the kernels to PTX for this machine's GPUs and loads them on
    each GPU a partition was placed on (``devices``: function name -> its device's full name; GPU 0
    for every function when None), one CudaDevice (context, module, stream) per GPU."""
    from tgc.lowering.artifact import Machine
    from tgc.lowering.nvptx.codegen import TRIPLE, lower_to_binary, nvvm_pipeline, ptx_text
    from tgc.runtime.cuda_device import CudaDevice, cuda_status

    reason = cuda_status()
    if reason is not None:
        raise CompileError(f"the nvptx target cannot run here: {reason}")
    plan = plan_of(module)
    ordinals = {name: gpu_ordinal(device) for name, device in (devices or {}).items()}
    gpus = {
        ordinal: CudaDevice(ordinal=ordinal) for ordinal in sorted(set(ordinals.values()) or {0})
    }
    # PTX for the oldest architecture among them: the driver compiles it for each GPU.
    arch = min((gpu.compute_capability() for gpu in gpus.values()), key=_architecture_number)
    lower_to_binary(module, nvvm_pipeline(Machine(TRIPLE, arch), opt_level))
    ptx = ptx_text(module).encode()
    for gpu in gpus.values():
        gpu.load_module(ptx)
    if devices is None:
        return PlanCode(plan, gpus[0], hub)
    return PlanCode(plan, {name: gpus[ordinal] for name, ordinal in ordinals.items()}, hub)


def gpu_ordinal(device: str) -> int:
    """The CUDA ordinal of a TF device name: /device:GPU:1 -> 1."""
    from tgc.dialect.devices import DeviceSpec

    return DeviceSpec.from_string(device).device_index or 0


def _architecture_number(arch: str) -> int:
    return int("".join(c for c in arch if c.isdigit()))
