"""tgc-nvptx-contiguous-dim-first: a kernel's parallel loop puts the buffers' contiguous dim first.

scf-parallel-loop-tiling then gives the loop's first dim the first tile size and
gpu-map-parallel-loops maps it to threadIdx.x / blockIdx.x. Buffers are row-major, so with the
loop's dims in the tensor's order a warp's 32 consecutive threads walked down a column (one
element of each of 16 rows: a 32-byte sector read for 4 bytes used). Reversed, the last dim is
first: a warp reads one row's 32 consecutive elements (128 bytes), the second-to-last dim is y.

The grid caps y and z at 65535 blocks (x at 2^31-1). The reversed order is taken when its grid
fits; otherwise the first order whose grid fits, preferring those with the last dim first (a tall
[2_000_000, 16] tensor keeps its rows on x), and a loop that fits in no order is refused with its
extents. Loops whose bounds are not constants, that carry reductions, or that hold another
parallel loop keep their order. A 1-d loop longer than one block of 32 x 8 threads becomes rows of
32 elements (2-d, the element's index checked against the length), so that its blocks have 256
threads, not 32.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

from mlir import ir
from mlir.dialects import arith, scf

from tgc.dialect.ir_helpers import all_ops, defining_op
from tgc.passes.base import ModulePass

# Threads of a block along the loop's first two dims (the others 1): 8 rows of 32 consecutive
# elements, 256 threads; a 1-d loop gets blocks of 32.
TILE_SIZES = (32, 8)
# Blocks of a grid along x, y and z (CUDA's limits on every architecture since sm_30); dims past
# the third run serially in each thread.
MAX_GRID = (2**31 - 1, 65535, 65535)


def grid_fits(extents: list) -> bool:
    """Whether a loop over ``extents`` (in loop order), tiled by TILE_SIZES, fits the grid."""
    for dim, extent in enumerate(extents[: len(MAX_GRID)]):
        tile = TILE_SIZES[dim] if dim < len(TILE_SIZES) else 1
        if math.ceil(extent / tile) > MAX_GRID[dim]:
            return False
    return True


def loop_order(extents: list):
    """Old dim indices in their new order: reversed if that fits, else the first order that fits
    among those with the contiguous (last) dim first, then the others (None when none does)."""
    last = len(extents) - 1
    reversed_order = list(reversed(range(len(extents))))
    every_order = map(list, itertools.permutations(range(len(extents))))
    others = sorted(every_order, key=lambda order: order[0] != last)  # stable: last dim first
    candidates = [reversed_order, *others]
    for order in candidates:
        if grid_fits([extents[d] for d in order]):
            return order
    return None


@dataclasses.dataclass(frozen=True)
class ContiguousDimFirstPass(ModulePass):
    """Reorders each outermost scf.parallel's dims: the contiguous one first when the grid fits."""

    name = "tgc-nvptx-contiguous-dim-first"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name == "scf.parallel" and _is_kernel_loop(op):
                self._reorder(op)

    def _reorder(self, loop) -> None:
        extents = _static_extents(loop)
        if extents is not None and len(extents) == 1 and _splits(loop, extents[0]):
            _split_into_rows(loop, extents[0])
        if extents is None or len(extents) < 2:
            return
        order = loop_order(extents)
        if order is None:
            tiles = " x ".join(map(str, [*TILE_SIZES, *[1] * (len(MAX_GRID) - len(TILE_SIZES))]))
            self.fail(
                loop,
                f"a parallel loop over {extents} elements does not fit the GPU's grid in any "
                f"order of its dims (at most {' x '.join(map(str, MAX_GRID))} blocks of "
                f"{tiles} threads)",
            )
        if order != list(range(len(extents))):
            _permute(loop, order)


def _is_kernel_loop(loop) -> bool:
    """An outermost scf.parallel that will become a kernel of its own (not one already in a launch
    or another loop), with no reductions and no parallel loop inside."""
    if "mapping" in loop.attributes or _segments(loop)[3] != 0:
        return False
    parent = loop.parent
    while parent is not None and parent.name != "func.func":
        if parent.name in ("scf.parallel", "gpu.launch"):
            return False
        parent = parent.parent
    return not any(inner.name == "scf.parallel" for inner in all_ops(loop))


def _segments(loop) -> list:
    """Numbers of lower bounds, upper bounds, steps and initial values."""
    return list(ir.DenseI32ArrayAttr(loop.attributes["operandSegmentSizes"]))


def _constant_index(value: ir.Value):
    op = defining_op(value)
    if op is None or op.name != "arith.constant":
        return None
    attr = op.attributes["value"]
    return ir.IntegerAttr(attr).value if isinstance(attr, ir.IntegerAttr) else None


def _static_extents(loop):
    """Iterations per dim, or None unless every bound and step is a constant."""
    rank = _segments(loop)[0]
    numbers = [_constant_index(v) for v in list(loop.operands)[: 3 * rank]]
    if None in numbers or 0 in numbers[2 * rank :]:
        return None
    lower, upper, steps = numbers[:rank], numbers[rank : 2 * rank], numbers[2 * rank :]
    return [max(0, math.ceil((u - lo) / s)) for lo, u, s in zip(lower, upper, steps)]


def _splits(loop, extent: int) -> bool:
    """Whether a 1-d loop becomes rows of TILE_SIZES[0]: when it fills more than one block of
    TILE_SIZES[0] x TILE_SIZES[1] threads, and its rows fit the grid's y, and it counts from 0
    by 1 (its induction variable is the element's index)."""
    width, rows = TILE_SIZES
    block = width * rows
    fits = math.ceil(extent / block) <= MAX_GRID[1]
    lower, step = (_constant_index(loop.operands[k]) for k in (0, 2))
    return block < extent and fits and lower == 0 and step == 1


def _split_into_rows(loop, extent: int) -> None:
    """A 1-d loop over i < extent becomes a 2-d one over (c < W, r < ceil(extent / W)) with
    i = r * W + c and a check that i < extent, W = TILE_SIZES[0]: its blocks are then W x
    TILE_SIZES[1] threads (256) whose warps each take W consecutive elements, not blocks of W."""
    width = TILE_SIZES[0]
    index = ir.IndexType.get()

    def constant(n: int) -> ir.Value:
        return arith.ConstantOp(index, n).result

    with ir.InsertionPoint(loop), loop.location:
        zero, one = constant(0), constant(1)
        uppers = [constant(width), constant(math.ceil(extent / width))]
        rows = scf.ParallelOp([], [zero, zero], uppers, [one, one], [])
    body = rows.regions[0].blocks.append(index, index)
    column, row = body.arguments
    with ir.InsertionPoint(body), loop.location:
        element = arith.addi(arith.muli(row, constant(width)), column)
        inside = arith.cmpi(arith.CmpIPredicate.ult, element, constant(extent))
        check = scf.IfOp(inside)
        scf.ReduceOp([], 0)
    with ir.InsertionPoint(check.then_block), loop.location:
        end = scf.YieldOp([])
    old_body = loop.regions[0].blocks[0]
    for op in list(old_body.operations)[:-1]:  # all but its scf.reduce
        op.move_before(end)
    old_body.arguments[0].replace_all_uses_with(element)
    loop.erase()


def _permute(loop, order: list) -> None:
    """Loop dim p becomes old dim order[p]: its bounds, step and induction variable."""
    rank = len(order)
    operands = list(loop.operands)
    for group in range(3):  # lower bounds, upper bounds, steps
        for position, old in enumerate(order):
            loop.operands[group * rank + position] = operands[group * rank + old]
    block = loop.regions[0].blocks[0]
    old_ivs = list(block.arguments)[:rank]
    new_ivs = [block.add_argument(iv.type, iv.location) for iv in old_ivs]
    for position, old in enumerate(order):
        old_ivs[old].replace_all_uses_with(new_ivs[position])
    for _ in range(rank):
        block.erase_argument(0)
