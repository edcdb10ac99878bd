"""tgc-nvptx-serial-kernels: host computation with no parallel loop becomes a one-thread kernel.

Runs after the linalg ops became loops and before the outermost scf.parallel loops are mapped to
GPU blocks and threads. What has no parallel loop is still computed in the host function: arithmetic
on 0-d tensors (a loss, a learning rate times a scalar), the fill of a 0-d result, a reduction of
every axis (a sum to a scalar is an scf.for nest with no parallel dim), a scatter-like loop. Its
buffers live on the GPU, so each maximal run of such ops is wrapped in a one-iteration scf.parallel,
which the mapping turns into a launch of one block of one thread.

This is the naive schedule (one thread does all the work of the run): correct for any size, fast
only for small ones. A float full reduction of tree_reduce.MIN_ELEMENTS elements or more never
gets here: tgc-nvptx-tree-reduce made it two launches of shared-memory trees before.

Ops that stay on the host and end a run: buffer handling (alloc, dealloc, views, globals,
whole-buffer copies), the loops already parallel (they become kernels of their own), calls (the
transfers between partitions) and the return.
Allocs, globals, constants and arithmetic on values from outside the run (the tiling's index
arithmetic) move before it instead of joining or splitting it; one that uses a value the run
computes (an alloc sized by a dim the run reads) ends the run instead. A loop that threads a buffer
through its iterations unchanged (a scatter's) hands back the buffer it was given, and the
temporaries its iterations allocate are allocated once, on the host. A run whose
result is still used after it is left alone, and tgc-nvptx-check-host names its op.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops, body_ops, functions
from tgc.passes.base import ModulePass

# Host ops that need nothing a run computes: they can move before the run they interrupt.
_MOVABLE_HOST_OPS = {"arith.constant", "memref.alloc", "memref.get_global"}
# Host ops that stay where they are: a run ends before them.
_FIXED_HOST_OPS = {
    "memref.dealloc",
    "memref.expand_shape",
    "memref.collapse_shape",
    "memref.cast",
    "memref.reinterpret_cast",
    "memref.subview",
    "memref.copy",  # of whole buffers: the launch plan's device-to-device copies
    "scf.parallel",
    "gpu.launch",
    "func.call",  # the runtime's transfers between partitions (tgc_send_*, tgc_recv_*)
    "func.return",
}


def _is_movable(op, work_results: set) -> bool:
    """Host ops that can move before the current run: allocs, globals, constants, and arithmetic
    on nothing the run computes (the index arithmetic of the loop tiling, say)."""
    if any(v in work_results for v in op.operands):
        return False  # moved before the run, it would use a value before its definition
    return op.name in _MOVABLE_HOST_OPS or op.name.startswith("arith.")


def _ends_run(op, work_results: set) -> bool:
    """Host ops that stay where they are: the fixed ones, and an alloc sized by a value the run
    computes (a dim read from a buffer of unknown shape), which cannot move before it."""
    return op.name in _FIXED_HOST_OPS or (
        op.name in _MOVABLE_HOST_OPS and any(v in work_results for v in op.operands)
    )


def _runs(ops: list) -> list:
    """Maximal runs of device work among a block's ops, each as (its ops, the movable host ops
    between them)."""
    runs, work, movable = [], [], []
    work_results = set()
    for op in ops:
        if _is_movable(op, work_results):
            (movable if work else []).append(op)
        elif _ends_run(op, work_results):
            if work:
                runs.append((work, movable))
            work, movable, work_results = [], [], set()
        else:
            work.append(op)
            work_results.update(op.results)
    if work:
        runs.append((work, movable))
    return runs


def _used_after(work: list) -> bool:
    """Whether a result of the run is used by an op outside it."""
    inside = set()
    for op in work:
        op.walk(lambda o: inside.add(o) or ir.WalkResult.ADVANCE)
    for op in work:
        for result in op.results:
            for use in result.uses:
                if use.owner not in inside:
                    return True
    return False


@dataclasses.dataclass(frozen=True)
class SerialKernelsPass(ModulePass):
    """Wraps each run of host computation in a one-iteration scf.parallel."""

    name = "tgc-nvptx-serial-kernels"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for op in body_ops(function):
                if op.name == "scf.for":
                    _forward_unchanged_buffers(op)
            for work, movable in _runs(body_ops(function)):
                for op in movable + _loop_temporaries(work):
                    op.move_before(work[0])
                if not _used_after(work):
                    _wrap_in_one_iteration_loop(work)


def _loop_temporaries(work: list) -> list:
    """Static allocs inside the run's loops whose buffer lives one iteration (not yielded): the
    host allocates each once instead (a kernel would call malloc in every iteration and never
    free), and its deallocs go."""
    temporaries = []
    for op in work:
        for inner in all_ops(op):
            if inner.name != "memref.alloc" or len(inner.operands):
                continue
            users = [use.owner.name for use in inner.results[0].uses]
            if "scf.yield" in users:
                continue
            for use in list(inner.results[0].uses):
                if use.owner.name == "memref.dealloc":
                    use.owner.erase()
            temporaries.append(inner)
    return temporaries


def _forward_unchanged_buffers(loop) -> None:
    """Uses of an scf.for result that is its iter_arg yielded unchanged (a buffer that bufferization
    threads through a loop updating it in place, as a scatter does) take the initial buffer
    instead: the same memory, and the loop's result is then used nowhere after it."""
    body = loop.regions[0].blocks[0]
    yielded = list(body.operations)[-1].operands
    inits = list(loop.operands)[3:]
    for index, result in enumerate(loop.results):
        if yielded[index] == body.arguments[1 + index]:
            result.replace_all_uses_with(inits[index])


def _wrap_in_one_iteration_loop(work: list) -> None:
    index = ir.IndexType.get()
    with ir.InsertionPoint(work[0]), work[0].location:
        zero, one = (_index_constant(n) for n in (0, 1))
        loop = ir.Operation.create(
            "scf.parallel",
            operands=[zero, one, one],
            attributes={"operandSegmentSizes": ir.DenseI32ArrayAttr.get([1, 1, 1, 0])},
            regions=1,
        )
    body = loop.regions[0].blocks.append(index)
    with ir.InsertionPoint(body), work[0].location:
        terminator = ir.Operation.create("scf.reduce")
    for op in work:
        op.move_before(terminator)


def _index_constant(value: int) -> ir.Value:
    index = ir.IndexType.get()
    attributes = {"value": ir.IntegerAttr.get(index, value)}
    return ir.Operation.create("arith.constant", results=[index], attributes=attributes).result
