"""tgc-nvptx-kernels-on-host: the kernels of a gpu-level module become host functions that run a
launch's blocks and threads as plain loops, one after another.

This is the GPU schedule run on the CPU: the same tiles, the same mapping to blocks and threads,
the same launch plan (the host functions go: the plan, tgc/lowering/nvptx/launch_plan.py, says
what they did). Each kernel ``@k(args...)`` becomes ``func.func @k(args..., grid x, y, z, block
x, y, z)`` whose body loops over every block and thread and runs the kernel's body with
``gpu.block_id``, ``gpu.thread_id``, ``gpu.block_dim`` and ``gpu.grid_dim`` read from the loops and
sizes. Threads of a block run one after another. A block's workgroup (shared) memory is one host
buffer (blocks too run one after another), its dynamic shared memory one too (sized by the
memref.views taken of it, at constant offsets); a kernel with gpu.barrier runs in phases, each a
loop over the block's threads, values that live across a barrier kept per thread in host buffers
(barrier_phases.py). Other gpu ops (warp shuffles, say) are refused, naming the op.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import arith, func, memref, scf

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.nvptx.barrier_phases import Phases, contains_barrier
from tgc.passes.base import ModulePass

_DIMS = ("x", "y", "z")
_HOST_ALIGNMENT = 16  # bytes: as the GPU's dynamic shared memory (MLIR's lowering declares 16)
# gpu ops a sequential loop over threads computes exactly (the ids and sizes of the launch).
_INDEX_OPS = ("gpu.block_id", "gpu.thread_id", "gpu.block_dim", "gpu.grid_dim")
# ... and what the phases make of a block's synchronisation (barrier_phases.py).
_EMULATED_OPS = (*_INDEX_OPS, "gpu.return", "gpu.barrier", "gpu.dynamic_shared_memory")


def _symbol(op) -> str:
    return ir.StringAttr(op.attributes["sym_name"]).value


def _is_host_code(op) -> bool:
    """A function with a body that is not a kernel made here (declarations stay)."""
    return (
        op.name == "func.func"
        and "tgc.kernel_on_host" not in op.attributes
        and len(op.regions[0].blocks) > 0
    )


def _host_buffer(type_: ir.Type):
    """A block's workgroup memory as a host buffer (blocks run one after another: one buffer)."""
    shared = ir.MemRefType(type_)
    return memref.AllocOp(ir.MemRefType.get(shared.shape, shared.element_type), [], []).result


def _host_type(type_: ir.Type) -> ir.MemRefType:
    shared = ir.MemRefType(type_)
    return ir.MemRefType.get(shared.shape, shared.element_type)


def _bytes(type_: ir.Type) -> int:
    shaped = ir.MemRefType(type_)
    count = 1
    for n in shaped.shape:
        count *= n
    return count * shaped.element_type.width // 8


def _dimension(op) -> str:
    text = str(op.attributes["dimension"])  # #gpu<dim x>
    return text.rstrip(">").split()[-1]


@dataclasses.dataclass(frozen=True)
class KernelsOnHostPass(ModulePass):
    """gpu.func kernels -> host functions looping over blocks and threads (the functions they call
    come along); host code removed."""

    name = "tgc-nvptx-kernels-on-host"

    def run(self, module: ir.Module) -> None:
        body = module.body
        gpu_modules = [op.operation for op in body.operations if op.operation.name == "gpu.module"]
        for gpu_module in gpu_modules:
            for op in list(gpu_module.regions[0].blocks[0].operations):
                if op.operation.name == "gpu.func" and "gpu.kernel" in op.attributes:
                    self._to_host_function(op.operation, gpu_module)
        for op in list(body.operations):
            if _is_host_code(op.operation):
                op.operation.erase()
        for gpu_module in gpu_modules:
            self._keep_helpers(gpu_module)
            gpu_module.erase()
        if "gpu.container_module" in module.operation.attributes:
            del module.operation.attributes["gpu.container_module"]

    @staticmethod
    def _keep_helpers(gpu_module) -> None:
        """Functions the kernels call (an integer power's loop) move out of the gpu.module with
        them, taking the place of their host copies."""
        for op in list(gpu_module.regions[0].blocks[0].operations):
            if op.operation.name == "func.func":
                op.operation.attributes["tgc.kernel_on_host"] = ir.UnitAttr.get()
                op.operation.move_before(gpu_module)

    def _to_host_function(self, kernel, gpu_module) -> None:
        region = kernel.regions[0]
        if len(region.blocks) != 1:
            self.fail(kernel, f"kernel @{_symbol(kernel)} has several blocks (unstructured flow)")
        block = region.blocks[0]
        self._check_emulable(kernel)
        index = ir.IndexType.get()
        inputs = ir.FunctionType(ir.TypeAttr(kernel.attributes["function_type"]).value).inputs
        arg_types = list(inputs)
        with ir.InsertionPoint(gpu_module), kernel.location:  # just before the gpu.module
            host = func.FuncOp(_symbol(kernel), (arg_types + [index] * 6, []))
            host.attributes["tgc.kernel_on_host"] = ir.UnitAttr.get()
            entry = host.add_entry_block()
        sizes = list(entry.arguments[len(arg_types) :])
        ids = {}
        barriers = contains_barrier(kernel)
        with ir.InsertionPoint(entry), kernel.location:
            zero = arith.ConstantOp(index, 0).result
            one = arith.ConstantOp(index, 1).result
            shared = [_host_buffer(a.type) for a in list(block.arguments)[len(arg_types) :]]
            shared += self._dynamic_shared_on_host(kernel)
            inner = self._loop_nest(sizes, zero, one, ids, threads=not barriers)
            returned = func.ReturnOp([])
        for old, new in zip(block.arguments, list(entry.arguments[: len(arg_types)]) + shared):
            old.replace_all_uses_with(new)
        values = {
            "gpu.block_id": ids["block"],
            "gpu.thread_id": ids.get("thread"),
            "gpu.grid_dim": dict(zip(_DIMS, sizes[:3])),
            "gpu.block_dim": dict(zip(_DIMS, sizes[3:])),
        }
        terminator = inner.operations[len(inner.operations) - 1]
        body = [op.operation for op in block.operations if op.operation.name != "gpu.return"]
        if barriers:
            blocks_loop = entry.operations[len(entry.operations) - 2]
            for op in body:  # constants before the loops: every phase (and loop bound) sees them
                if op.name == "arith.constant":
                    op.move_before(blocks_loop)
            body = [op for op in body if op.name != "arith.constant"]
            with kernel.location:
                phases = Phases(self.fail, entry, blocks_loop, sizes[3:], zero, one)
                phases.run(body, terminator)
                phases.free_buffers(returned)
        else:
            for op in body:
                op.move_before(terminator)
        with ir.InsertionPoint(returned), kernel.location:
            for buffer in shared:
                memref.DeallocOp(buffer)
        self._replace_index_ops(entry, values)
        kernel.erase()

    def _dynamic_shared_on_host(self, kernel) -> list:
        """The kernel's dynamic shared memory (every gpu.dynamic_shared_memory: one region, as on
        the GPU) as one host buffer of the bytes its views take, made at the insertion point
        with the views remade on it (constant offsets: the size comes from the views, being the
        launch's own). Returns [the buffer], or [] when the kernel takes none."""
        found = [op for op in all_ops(kernel) if op.name == "gpu.dynamic_shared_memory"]
        if not found:
            return []
        views = [self._constant_view(use.owner) for op in found for use in op.result.uses]
        size = max((offset + _bytes(view.result.type) for view, offset in views), default=0)
        host = ir.MemRefType.get([size], ir.IntegerType.get_signless(8))
        buffer = memref.AllocOp(host, [], [], alignment=_HOST_ALIGNMENT).result
        for view, offset in views:
            shift = arith.ConstantOp(ir.IndexType.get(), offset).result
            on_host = memref.ViewOp(_host_type(view.result.type), buffer, shift, []).result
            view.result.replace_all_uses_with(on_host)
            view.erase()
        for op in found:
            op.erase()
        return [buffer]

    def _constant_view(self, use) -> tuple:
        """(the memref.view ``use``, its constant byte offset), or the pass fails naming it."""
        use = use.operation if isinstance(use, ir.OpView) else use
        if use.name == "memref.view" and not list(use.operands)[2:]:
            shift = use.operands[1].owner
            if isinstance(shift, ir.OpView) and shift.operation.name == "arith.constant":
                return use, ir.IntegerAttr(shift.operation.attributes["value"]).value
        self.fail(
            use,
            "nvptx-emulated takes dynamic shared memory through memref.view at constant offsets "
            f"into static shapes only, not '{use.name}'",
        )

    @staticmethod
    def _loop_nest(sizes: list, zero, one, ids: dict, threads: bool = True):
        """Loops over blocks z, y, x, then (``threads``) threads z, y, x at the current insertion
        point; returns the innermost body."""
        ids["block"] = {}
        loops = [("block", d, sizes[i]) for i, d in reversed(list(enumerate(_DIMS)))]
        if threads:
            ids["thread"] = {}
            loops += [("thread", d, sizes[3 + i]) for i, d in reversed(list(enumerate(_DIMS)))]
        point = ir.InsertionPoint.current
        for kind, dim, size in loops:
            loop = scf.ForOp(zero, size, one, ip=point)
            ids[kind][dim] = loop.induction_variable
            with ir.InsertionPoint(loop.body):
                scf.YieldOp([])
            point = ir.InsertionPoint.at_block_begin(loop.body)
        return loop.body

    def _check_emulable(self, kernel) -> None:
        refused = []

        def visit(op):
            name = op.operation.name
            if name.startswith("gpu.") and name not in (*_EMULATED_OPS, "gpu.func"):
                refused.append(op.operation)
                return ir.WalkResult.INTERRUPT
            return ir.WalkResult.ADVANCE

        kernel.walk(visit)
        if refused:  # raised here: an exception inside the walk's callback loses its type
            self.fail(
                refused[0], f"'{refused[0].name}' cannot run on the host one thread at a time"
            )

    @staticmethod
    def _replace_index_ops(block, values: dict) -> None:
        found = []

        def visit(op):
            if op.operation.name in _INDEX_OPS:
                found.append(op.operation)
            return ir.WalkResult.ADVANCE

        for op in block.operations:
            op.operation.walk(visit)
        for op in found:
            op.result.replace_all_uses_with(values[op.name][_dimension(op)])
            op.erase()
