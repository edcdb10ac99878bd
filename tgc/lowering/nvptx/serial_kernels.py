"""tgc-nvptx-serial-kernels: host computation with no parallel loop becomes a one-thread kernel.

Runs after the linalg ops became loops and before the outermost scf.parallel loops are mapped to
GPU blocks and threads. What has no parallel loop is still computed in the host function: arithmetic
on 0-d tensors (a loss, a learning rate times a scalar), the fill of a 0-d result, a reduction of
every axis (a sum to a scalar is an scf.for nest with no parallel dim), a scatter-like loop. Its
buffers live on the GPU, so each maximal run of such ops is wrapped in a one-iteration scf.parallel,
which the mapping turns into a launch of one block of one thread.

This is the naive schedule (one thread does all the work of the run): correct for any size, fast
only for small ones. A full reduction of a large tensor wants a tree over blocks and warp shuffles.

Ops that stay on the host and end a run: buffer handling (alloc, dealloc, views, globals,
whole-buffer copies), the loops already parallel (they become kernels of their own), calls (the
transfers between partitions) and the return.
Allocs, globals, constants and arithmetic on values from outside the run (the tiling's index
arithmetic) move before it instead of joining or splitting it. A run whose result is used after
it (never the case for the loops and stores of bufferized code) is left alone, and
tgc-nvptx-check-host names its op.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import body_ops, functions
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
    if op.name in _MOVABLE_HOST_OPS:
        return True
    return op.name.startswith("arith.") and not any(v in work_results for v in op.operands)


def _runs(ops: list) -> list:
    """Maximal runs of device work among a block's ops, each as (its ops, the movable host ops
    between them)."""
    runs, work, movable = [], [], []
    work_results = set()
    for op in ops:
        if _is_movable(op, work_results):
            (movable if work else []).append(op)
        elif op.name in _FIXED_HOST_OPS:
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
            for work, movable in _runs(body_ops(function)):
                for op in movable:
                    op.move_before(work[0])
                if not _used_after(work):
                    _wrap_in_one_iteration_loop(work)


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
