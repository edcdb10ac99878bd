"""tgc-nvptx-parallel-dims-first: every linalg.generic iterates its parallel dims outermost.

convert-linalg-to-parallel-loops makes one scf.parallel of the leading parallel dims and an scf.for
of each reduction dim, nesting any parallel dim that follows a reduction inside that scf.for. Only
an outermost scf.parallel becomes a kernel, so a reduction over a leading axis (the bias gradient's
sum over the batch, ``reduce_sum(x, axis=0)``) would stay a loop on the host. Reordering the
iteration space so that the parallel dims come first (each reduction dim keeps its order among
the reduction dims, so every output element sums in the same order) gives one thread per output
element, each running its reductions serially. That is the naive schedule: correct for every
reduction, fast only when there are many output elements (no tree reduction, no warp shuffles).
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.passes.base import ModulePass

PARALLEL = "parallel"


def _iterator_kinds(generic) -> list:
    # Printed as #linalg.iterator_type<parallel>; the kind is the text in the angle brackets.
    return [str(a).rpartition("<")[2].rstrip(">") for a in generic.attributes["iterator_types"]]


def _parallel_first_order(kinds: list) -> list:
    """Old dim indices in their new order: parallel dims first, then the others, stably."""
    parallel = [d for d, kind in enumerate(kinds) if kind == PARALLEL]
    return parallel + [d for d, kind in enumerate(kinds) if kind != PARALLEL]


@dataclasses.dataclass(frozen=True)
class ParallelDimsFirstPass(ModulePass):
    """Interchanges linalg.generic dims so that the parallel ones are outermost."""

    name = "tgc-nvptx-parallel-dims-first"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name == "linalg.generic":
                kinds = _iterator_kinds(op)
                order = _parallel_first_order(kinds)
                if order != list(range(len(kinds))):
                    _interchange(op, kinds, order)


def _interchange(generic, kinds: list, order: list) -> None:
    new_position = {old: new for new, old in enumerate(order)}
    rank = len(order)
    # Old dim d is new dim new_position[d]: each map is composed with that substitution.
    substitution = ir.AffineMap.get(
        rank, 0, [ir.AffineDimExpr.get(new_position[d]) for d in range(rank)]
    )
    maps = []
    for attr in generic.attributes["indexing_maps"]:
        old = ir.AffineMapAttr(attr).value
        results = [expr.compose(substitution) for expr in old.results]
        maps.append(ir.AffineMapAttr.get(ir.AffineMap.get(rank, old.n_symbols, results)))
    generic.attributes["indexing_maps"] = ir.ArrayAttr.get(maps)
    iterator_types = list(generic.attributes["iterator_types"])
    generic.attributes["iterator_types"] = ir.ArrayAttr.get([iterator_types[d] for d in order])
    for inner in all_ops(generic):
        if inner.name == "linalg.index":
            dim = ir.IntegerAttr(inner.attributes["dim"]).value
            inner.attributes["dim"] = ir.IntegerAttr.get(
                ir.IntegerType.get_signless(64), new_position[dim]
            )
