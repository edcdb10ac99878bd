"""tgc-private-loop-buffers: every iteration of a loop that runs on several threads gets buffers of
its own for the empty tensors it writes.

The CPU lowerings build a loop tagged ``tgc.parallel_for`` (parallel_loops.py outlines it onto the
runtime's threads) with a fresh ``tensor.empty`` in its body for each scratch tensor an image
needs: its patch matrix, its GEMM's result, its bias rows. cse then merges such an empty with an
identical one that dominates the loop (a dense layer's result of the same shape before the
convolution), and one-shot-bufferize, which sees a serial loop and an empty whose contents nobody
reads, writes every iteration into that one buffer: threads running different images overwrite
each other's scratch (wrong numbers, and only on more than one thread). This pass runs on tensors,
just before bufferization and after the last cse: each empty defined outside such a loop and used
inside it is recreated at the top of the loop's body for the uses inside, so it bufferizes into an
allocation per iteration. An empty's contents are undefined, so the copy changes no result.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops, defining_op, functions, is_within
from tgc.lowering.cpu.vector_runs import PARALLEL_FOR
from tgc.passes.base import ModulePass


@dataclasses.dataclass(frozen=True)
class PrivateLoopBuffersPass(ModulePass):
    """Gives each iteration of a ``tgc.parallel_for`` loop its own copy of the empty tensors
    defined outside it (cse's merges), so that threads do not share scratch buffers."""

    name = "tgc-private-loop-buffers"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            # Outer loops first (all_ops lists an op after those nested in it): the copies an outer
            # loop's body gets are then outside the parallel loops nested in it, which copy again.
            for loop in reversed(all_ops(function)):
                if loop.name == "scf.for" and PARALLEL_FOR in loop.attributes:
                    _privatize(loop)


def _privatize(loop) -> None:
    body = loop.regions[0].blocks[0]
    copies = []  # (the outside empty, its copy at the top of the body)
    for op in all_ops(loop):
        for index, operand in enumerate(op.operands):
            empty = _outside_empty(operand, loop)
            if empty is None:
                continue
            copy = next((c for e, c in copies if e == empty), None)
            if copy is None:
                copy = empty.clone(ip=ir.InsertionPoint.at_block_begin(body))
                copies.append((empty, copy))
            op.operands[index] = copy.results[0]


def _outside_empty(value: ir.Value, loop):
    """The tensor.empty defining ``value`` when it is built outside ``loop``, else None."""
    owner = defining_op(value)
    if owner is None or owner.name != "tensor.empty" or is_within(owner, loop):
        return None
    return owner
