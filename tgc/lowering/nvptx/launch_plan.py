"""The launch plan: what a gpu-level module's host side does, as data an MLIR-free runtime runs.

After the nvptx pipeline a public function's body is straight-line host code: index and float
constants, allocations of intermediates, views of buffers, constant tensors (memref.get_global),
kernel launches, whole-buffer copies, sends and receives of tensors (calls of the transfer
functions, made static by tgc-nvptx-static-transfers), calls of a device check's
``tgc_device_check_<N>`` (tgc/lowering/runtime_errors.py: the record a kernel wrote, read and
checked on the host) and a return (tgc-nvptx-check-host refuses anything else). This module reads
that code into a JSON-able plan (format: tgc/runtime/launch_plan.py): the buffers each launch
takes, its grid and block, its dynamic shared memory bytes (when it has any), its scalar
arguments, whole-buffer copies, the buffers sent to or received from other partitions by key, and
the device checks' records.
A received tensor lands in an intermediate of its own. Intermediates share one workspace: two
buffers whose lifetimes (first to last step using them) do not overlap may take the same bytes.
"""

from __future__ import annotations

import base64
import dataclasses

import numpy as np
from mlir import ir

from tgc.dialect.attrs import buffer_dtype_name
from tgc.dialect.ir_helpers import functions
from tgc.lowering.nvptx.contiguous_dim_first import MAX_GRID
from tgc.lowering.runtime_errors import DEVICE_CHECK_PREFIX, device_checks
from tgc.lowering.nvptx.out_params import OUT_PARAMS_ATTR
from tgc.lowering.nvptx.static_transfers import callee_name, transfer_dtype, transfer_kind

WORKSPACE_ALIGNMENT = 256  # bytes: what cudaMalloc guarantees, enough for any vector access
# Threads of a block along x, y and z, and in all (CUDA's limits on every architecture since sm_30).
MAX_BLOCK = (1024, 1024, 64)
MAX_THREADS_PER_BLOCK = 1024
# Dynamic shared memory of a block: at most sm_90's opt-in limit (227 KiB; older GPUs allow less,
# which the CUDA runtime checks against its device when it loads the launch).
MAX_DYNAMIC_SHARED_BYTES = 227 * 1024

# Host ops that give another name to the same bytes.
_VIEWS = {"memref.expand_shape", "memref.collapse_shape", "memref.cast"}


class PlanError(ValueError):
    """Host code that the launch plan cannot express."""


def extract_plan(module: ir.Module) -> dict:
    """{"kernels": [...], "functions": {name: plan}} of a gpu-level module."""
    globals_ = _globals(module)
    _check_bare_pointer_parameters(module)
    written = _written_parameters(module)
    checks = device_checks(module.operation)
    plans = {}
    for function in functions(module):
        if OUT_PARAMS_ATTR in function.attributes:
            reader = _FunctionReader(function, globals_, written, checks)
            plans[_symbol(function)] = reader.read()
    return {"kernels": kernel_names(module), "functions": plans}


def kernel_names(module: ir.Module) -> list:
    """Entry points of the module's gpu.module(s), in order."""
    return [_symbol(kernel) for kernel in _kernels(module)]


def _kernels(module: ir.Module) -> list:
    return [
        kernel
        for op in module.body.operations
        if op.operation.name == "gpu.module"
        for kernel in op.regions[0].blocks[0].operations
        if kernel.operation.name == "gpu.func" and "gpu.kernel" in kernel.attributes
    ]


def _symbol(op) -> str:
    return ir.StringAttr(op.attributes["sym_name"]).value


def _check_bare_pointer_parameters(module: ir.Module) -> None:
    """Every buffer parameter of a kernel must be one pointer, as the plan passes it: a memref with
    a zero dim is not (LLVM's calling convention then falls back to descriptors for the whole
    kernel, and the launch would read garbage)."""
    for kernel in _kernels(module):
        for position, parameter in enumerate(kernel.regions[0].blocks[0].arguments):
            type_ = parameter.type
            if isinstance(type_, ir.MemRefType) and 0 in ir.MemRefType(type_).shape:
                raise PlanError(
                    f"kernel @{_symbol(kernel)} takes an empty buffer ({type_}) as parameter "
                    f"{position}, which cannot be passed as one pointer"
                )


def _written_parameters(module: ir.Module) -> dict:
    """kernel name -> positions of the buffer parameters it may write: any use other than a load
    counts (a store, a view that may be stored through, a call)."""
    return {
        _symbol(kernel): {
            position
            for position, parameter in enumerate(kernel.regions[0].blocks[0].arguments)
            if isinstance(parameter.type, ir.MemRefType)
            and any(use.owner.name != "memref.load" for use in parameter.uses)
        }
        for kernel in _kernels(module)
    }


def _globals(module: ir.Module) -> dict:
    return {
        _symbol(op): op for op in module.body.operations if op.operation.name == "memref.global"
    }


@dataclasses.dataclass
class _Buffer:
    shape: list
    dtype: str
    first_use: int = -1
    last_use: int = -1
    offset: int = 0

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


class _FunctionReader:
    def __init__(self, function, globals_: dict, written_parameters: dict, checks=()):
        self.function = function
        self.checks = checks  # the module's device checks, by id
        self.globals = globals_
        self.written_parameters = written_parameters
        self.written = set()  # argument indices some step may write
        self.name = _symbol(function)
        self.refs = {}  # SSA value -> ("argument" | "buffer" | "constant", index)
        self.scalars = {}  # SSA value -> (kind, number)
        self.buffers = []
        self.constants = []
        self.steps = []

    def read(self) -> dict:
        block = self.function.regions[0].blocks[0]
        arguments = []
        for index, argument in enumerate(block.arguments):
            if not isinstance(argument.type, ir.MemRefType):
                raise PlanError(f"@{self.name}: argument {index} is {argument.type}, not a buffer")
            arguments.append(_describe(ir.MemRefType(argument.type)))
            self.refs[_key(argument)] = ("argument", index)
        for op in block.operations:
            self._read_op(op.operation)
        workspace = _pack(self.buffers)
        return {
            "arguments": arguments,
            "results": ir.IntegerAttr(self.function.attributes[OUT_PARAMS_ATTR]).value,
            "workspace_bytes": workspace,
            "buffers": [
                {"shape": b.shape, "dtype": b.dtype, "offset": b.offset} for b in self.buffers
            ],
            "constants": self.constants,
            "steps": self.steps,
            "written_arguments": sorted(self.written),
        }

    def _read_op(self, op) -> None:
        name = op.name
        if name == "arith.constant":
            self.scalars[_key(op.result)] = _scalar(op)
        elif name == "memref.alloc":
            self._alloc(op)
        elif name in _VIEWS:
            self.refs[_key(op.result)] = self._ref(op.operands[0], op)
        elif name == "memref.get_global":
            self._constant(op)
        elif name == "gpu.launch_func":
            self._launch(op)
        elif name == "memref.copy":
            self._copy(op)
        elif transfer_kind(op) == "send":
            self._send(op)
        elif transfer_kind(op) == "recv":
            self._recv(op)
        elif name == "func.call" and callee_name(op).startswith(DEVICE_CHECK_PREFIX):
            self._check(op)
        elif name == "func.call":
            raise PlanError(
                f"@{self.name}: the launch plan cannot call @{callee_name(op)} on the host "
                "(only sends and receives of tensors)"
            )
        elif name not in ("memref.dealloc", "func.return"):
            raise PlanError(f"@{self.name}: the launch plan cannot run '{name}' on the host")

    def _alloc(self, op) -> None:
        type_ = ir.MemRefType(op.result.type)
        if not type_.has_static_shape:
            raise PlanError(f"@{self.name}: an intermediate of unknown size ({type_})")
        described = _describe(type_)
        self.refs[_key(op.result)] = ("buffer", len(self.buffers))
        self.buffers.append(_Buffer(described["shape"], described["dtype"]))

    def _constant(self, op) -> None:
        symbol = ir.FlatSymbolRefAttr(op.attributes["name"]).value
        global_ = self.globals[symbol]
        type_ = ir.MemRefType(ir.TypeAttr(global_.attributes["type"]).value)
        described = _describe(type_)
        values = _dense_values(global_.attributes["initial_value"], described)
        data = base64.b64encode(values.astype(values.dtype.newbyteorder("<")).tobytes())
        self.refs[_key(op.result)] = ("constant", len(self.constants))
        self.constants.append({**described, "data": data.decode("ascii")})

    def _launch(self, op) -> None:
        launch = op.opview
        if len(launch.asyncDependencies):
            raise PlanError(f"@{self.name}: a launch with async tokens")
        args = []
        kernel = ir.SymbolRefAttr(op.attributes["kernel"]).value[-1]
        may_write = self.written_parameters.get(kernel, set())
        for position, value in enumerate(launch.kernelOperands):
            if isinstance(value.type, ir.MemRefType):
                args.append(self._use(value, op))
                if args[-1][0] == "argument" and position in may_write:
                    self.written.add(args[-1][1])
            else:
                args.append(list(self._scalar_operand(value, op)))
        launch_step = {
            "kernel": kernel,
            "grid": [self._size(v, op) for v in _grid(launch)],
            "block": [self._size(v, op) for v in _block(launch)],
            "args": args,
        }
        shared = launch.dynamicSharedMemorySize
        if shared is not None and self._size(shared, op):
            launch_step["shared_bytes"] = self._size(shared, op)
        self._check_launch_limits(launch_step)
        self.steps.append({"launch": launch_step})

    def _check_launch_limits(self, launch_step: dict) -> None:
        """A grid or block past the GPU's limits would fail at cuLaunchKernel (and the emulated
        target, whose loops know no limits, would run it): refused when the plan is made."""
        grid, block = launch_step["grid"], launch_step["block"]
        over_grid = any(n > most for n, most in zip(grid, MAX_GRID))
        over_block = any(n > most for n, most in zip(block, MAX_BLOCK))
        if over_grid or over_block or int(np.prod(block)) > MAX_THREADS_PER_BLOCK:
            raise PlanError(
                f"@{self.name}: kernel @{launch_step['kernel']} launches a grid of {grid} blocks "
                f"of {block} threads, past the GPU's limits (grid at most {list(MAX_GRID)}, "
                f"block at most {list(MAX_BLOCK)} and {MAX_THREADS_PER_BLOCK} threads)"
            )
        shared = launch_step.get("shared_bytes", 0)
        if not 0 <= shared <= MAX_DYNAMIC_SHARED_BYTES:
            raise PlanError(
                f"@{self.name}: kernel @{launch_step['kernel']} asks for {shared} bytes of "
                f"dynamic shared memory; a block may have at most {MAX_DYNAMIC_SHARED_BYTES} "
                "(sm_90's opt-in limit; the runtime checks its device's own)"
            )

    def _copy(self, op) -> None:
        """A whole-buffer copy (a fetched constant, a feed fetched as it is): device to device."""
        source, target = op.operands
        for value in (source, target):
            if not is_whole_buffer(value.type):
                raise PlanError(
                    f"@{self.name}: a copy of a strided view ({value.type}) on the host"
                )
        nbytes = _Buffer(**_describe(ir.MemRefType(source.type))).nbytes
        copy_step = {"source": self._use(source, op), "target": self._use(target, op)}
        if copy_step["target"][0] == "argument":
            self.written.add(copy_step["target"][1])
        self.steps.append({"copy": {**copy_step, "bytes": nbytes}})

    def _send(self, op) -> None:
        """The buffer's tensor goes to the rendezvous under its key (copied to the host first)."""
        key, value = op.operands
        type_ = self._transferred_type(value.type, op)
        step = {"key": self._key_id(key, op), "source": self._use(value, op)}
        self.steps.append({"send": {**step, **self._tensor(type_, op)}})

    def _recv(self, op) -> None:
        """The key's tensor, from the rendezvous, lands in an intermediate of its own."""
        (key,) = op.operands
        type_ = self._transferred_type(op.results[0].type, op)
        self.refs[_key(op.results[0])] = ("buffer", len(self.buffers))
        self.buffers.append(_Buffer(**_describe(type_)))
        step = {"key": self._key_id(key, op), "target": self._use(op.results[0], op)}
        self.steps.append({"recv": {**step, **self._tensor(type_, op)}})

    def _check(self, op) -> None:
        """The record a check's kernel wrote: the host reads it here and raises when it failed."""
        check_id, record = op.operands
        number = self._key_id(check_id, op)
        if not 0 <= number < len(self.checks):
            raise PlanError(f"@{self.name}: device check {number} is not in the module's checks")
        type_ = ir.MemRefType(record.type)
        if not is_whole_buffer(type_) or _describe(type_) != {
            "shape": [type_.shape[0]],
            "dtype": "int64",
        }:
            raise PlanError(f"@{self.name}: a device check's record is {type_}, not int64s")
        step = {"source": self._use(record, op), "count": type_.shape[0]}
        self.steps.append({"check": {**step, **self.checks[number]}})

    def _transferred_type(self, type_: ir.Type, op) -> ir.MemRefType:
        memref = ir.MemRefType(type_)
        if not memref.has_static_shape:
            raise PlanError(
                f"@{self.name}: a tensor of unknown shape ({memref}) is sent or received "
                f"by @{callee_name(op)}"
            )
        if not is_whole_buffer(memref):
            raise PlanError(f"@{self.name}: a strided view ({memref}) is sent on the host")
        return memref

    @staticmethod
    def _tensor(type_: ir.MemRefType, op) -> dict:
        """Shape and dtype of the transferred tensor: the dtype the symbol names (a bool tensor's
        buffer stores bytes)."""
        return {"shape": list(type_.shape), "dtype": transfer_dtype(callee_name(op))}

    def _key_id(self, value, op) -> int:
        kind, number = self._scalar_operand(value, op)
        if kind != "i64":
            raise PlanError(f"@{self.name}: a transfer key of type {value.type}")
        return int(number)

    def _use(self, value, op) -> list:
        """[kind, index] of a buffer the next step uses; an intermediate's lifetime grows."""
        kind, number = self._ref(value, op)
        if kind == "buffer":
            step = len(self.steps)
            buffer = self.buffers[number]
            buffer.first_use = step if buffer.first_use < 0 else buffer.first_use
            buffer.last_use = step
        return [kind, number]

    def _ref(self, value, op) -> tuple:
        ref = self.refs.get(_key(value))
        if ref is None:
            raise PlanError(f"@{self.name}: '{op.name}' takes a buffer made on the host")
        return ref

    def _scalar_operand(self, value, op) -> tuple:
        scalar = self.scalars.get(_key(value))
        if scalar is None:
            raise PlanError(f"@{self.name}: '{op.name}' takes a scalar computed on the host")
        if scalar[0] == "unsupported":
            raise PlanError(f"@{self.name}: '{op.name}' takes a constant {scalar[1]}")
        return scalar

    def _size(self, value, op) -> int:
        return int(self._scalar_operand(value, op)[1])


def is_whole_buffer(type_: ir.Type) -> bool:
    """A memref of row-major layout: one contiguous range of bytes from its pointer."""
    memref = ir.MemRefType(type_)
    row_major = ir.MemRefType.get(
        list(memref.shape), memref.element_type, loc=ir.Location.unknown(memref.context)
    )
    return memref == row_major


def _key(value):
    return value  # ir.Value hashes and compares by the value it wraps


def _grid(launch) -> tuple:
    return (launch.gridSizeX, launch.gridSizeY, launch.gridSizeZ)


def _block(launch) -> tuple:
    return (launch.blockSizeX, launch.blockSizeY, launch.blockSizeZ)


def _scalar(op) -> tuple:
    attr = op.attributes["value"]
    type_ = attr.type
    if isinstance(type_, ir.IndexType):
        return ("i64", ir.IntegerAttr(attr).value)
    if isinstance(type_, ir.IntegerType):
        width = ir.IntegerType(type_).width
        if width == 1:  # MLIR reads `true` as -1; a kernel takes an i1 as a byte holding 0 or 1
            return ("i8", 1 if ir.IntegerAttr(attr).value else 0)
        return (f"i{max(width, 8)}", ir.IntegerAttr(attr).value)
    if isinstance(type_, (ir.F32Type, ir.F64Type)):
        return (f"f{ir.FloatType(type_).width}", ir.FloatAttr(attr).value)
    return ("unsupported", f"{attr} of type {type_}")


def _describe(type_: ir.MemRefType) -> dict:
    return {"shape": list(type_.shape), "dtype": _numpy_dtype(type_.element_type)}


def _numpy_dtype(element: ir.Type) -> str:
    try:
        return buffer_dtype_name(element)
    except ValueError:
        raise PlanError(f"buffers of {element} are not supported by the launch plan") from None


def _dense_values(attr, described: dict) -> np.ndarray:
    dense = ir.DenseElementsAttr(attr)
    dtype = np.dtype(described["dtype"])
    if dense.is_splat:
        value = dense.get_splat_value()
        number = ir.FloatAttr(value).value if dtype.kind == "f" else ir.IntegerAttr(value).value
        return np.full(described["shape"], number, dtype=dtype)
    return np.array(dense, dtype=dtype).reshape(described["shape"])


def _pack(buffers: list) -> int:
    """Gives each buffer an offset in one workspace (largest first, at the lowest offset free
    during its lifetime); returns the workspace's size."""
    placed = []
    for buffer in sorted(buffers, key=lambda b: -b.nbytes):
        offset = 0
        for other in sorted(placed, key=lambda b: b.offset):
            if not _live_together(buffer, other):
                continue
            if offset + buffer.nbytes <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.nbytes))
        buffer.offset = offset
        placed.append(buffer)
    return max((b.offset + b.nbytes for b in buffers), default=0)


def _live_together(a: _Buffer, b: _Buffer) -> bool:
    return not (a.last_use < b.first_use or b.last_use < a.first_use)


def _align(n: int) -> int:
    return (n + WORKSPACE_ALIGNMENT - 1) // WORKSPACE_ALIGNMENT * WORKSPACE_ALIGNMENT
