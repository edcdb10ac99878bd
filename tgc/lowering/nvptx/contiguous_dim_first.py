"""tgc-nvptx-contiguous-dim-first: a kernel's parallel loop puts the buffers' contiguous dim first.

scf-parallel-loop-tiling then gives the loop's first dim the first tile size and
gpu-map-parallel-loops maps it to threadIdx.x / blockIdx.x. Buffers are row-major, so with the
loop's dims in the tensor's order a warp's 32 consecutive threads walked down a column (one
element of each of 16 rows: a 32-byte sector read for 4 bytes used). Reversed, the last dim is
first: a warp reads one row's 32 consecutive elements (128 bytes), the second-to-last dim is y.

The grid caps y and z at 65535 blocks (x at 2^31-1). A loop whose reversed order would not fit
(a tall [2_000_000, 16] tensor: 250_000 blocks on y), or whose last dim is narrower than a warp
(reversed, most of each block's x would idle), becomes one loop over the row-major element index
i, each old index recomputed from i (a division and a remainder by constants). A 1-d loop longer
than one block of 32 x 8 threads, flattened or not, becomes rows of 32 elements (2-d, i checked
against the length) when those rows fit y, so that its blocks have 256 threads, not 32. Loops
whose bounds are not constants, that carry reductions, or that hold another parallel loop keep
their order; one that starts elsewhere than 0 or steps by more than 1 takes the first order of
its dims that fits (preferring the last dim first), and is refused with its extents if none does.
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
        if extents is None:
            return
        if _flattens(loop, extents):
            _flatten_into_rows(loop, extents, rows=_rows_fit(math.prod(extents)))
        elif len(extents) >= 2:
            self._permute_to_fit(loop, extents)

    def _permute_to_fit(self, loop, extents: list) -> None:
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


def _rows_fit(elements: int) -> bool:
    """Whether rows of TILE_SIZES[0] elements fill more than one block of TILE_SIZES threads
    and fit the grid's y."""
    width, rows = TILE_SIZES
    return width * rows < elements and math.ceil(elements / (width * rows)) <= MAX_GRID[1]


def _flattens(loop, extents: list) -> bool:
    """Whether the loop becomes one flat index (then rows of it): a 1-d loop whose rows fit; a
    loop whose last dim is narrower than a warp (reversed, most of each block would idle) or
    whose reversed order does not fit the grid (a tall tensor). Its ivs must count from 0 by 1,
    and its elements fit blocks of TILE_SIZES[0] on x."""
    rank = len(extents)
    from_zero_by_one = all(
        _constant_index(loop.operands[k]) == 0 and _constant_index(loop.operands[2 * rank + k]) == 1
        for k in range(rank)
    )
    flat_fits = math.ceil(math.prod(extents) / TILE_SIZES[0]) <= MAX_GRID[0]
    if not from_zero_by_one or 0 in extents or not flat_fits:
        return False
    if rank == 1:
        return _rows_fit(extents[0])
    return extents[-1] < TILE_SIZES[0] or not grid_fits(extents[::-1])


def _flatten_into_rows(loop, extents: list, rows: bool) -> None:
    """The loop over ``extents`` becomes one over their row-major element index i, each old
    induction variable recomputed from i. With ``rows``: 2-d, over (c < W, r < ceil(n / W)) with
    i = r * W + c and a check that i < n, W = TILE_SIZES[0], so that its blocks are W x
    TILE_SIZES[1] threads (256) whose warps each take W consecutive elements; without, 1-d over
    i < n (blocks of W on x, whose 2^31-1 blocks take any tensor)."""
    width, elements = TILE_SIZES[0], math.prod(extents)
    index = ir.IndexType.get()

    def constant(n: int) -> ir.Value:
        return arith.ConstantOp(index, n).result

    with ir.InsertionPoint(loop), loop.location:
        zero, one = constant(0), constant(1)
        if rows:
            uppers = [constant(width), constant(math.ceil(elements / width))]
            flat = scf.ParallelOp([], [zero, zero], uppers, [one, one], [])
        else:
            flat = scf.ParallelOp([], [zero], [constant(elements)], [one], [])
    body = flat.regions[0].blocks.append(*[index] * (2 if rows else 1))
    with ir.InsertionPoint(body), loop.location:
        if rows:
            column, row = body.arguments
            element = arith.addi(arith.muli(row, constant(width)), column)
            inside = arith.cmpi(arith.CmpIPredicate.ult, element, constant(elements))
            check = scf.IfOp(inside)
        else:
            (element,) = body.arguments
        reduce = scf.ReduceOp([], 0)
    if rows:
        with ir.InsertionPoint(check.then_block), loop.location:
            end = scf.YieldOp([])
    else:
        end = reduce
    with ir.InsertionPoint(end), loop.location:
        ivs = _delinearize(element, extents, constant)
    old_body = loop.regions[0].blocks[0]
    for op in list(old_body.operations)[:-1]:  # all but its scf.reduce
        op.move_before(end)
    for old, new in zip(list(old_body.arguments), ivs):
        old.replace_all_uses_with(new)
    loop.erase()


def _delinearize(element: ir.Value, extents: list, constant) -> list:
    """The row-major indices of flat index ``element`` (< the product of ``extents``)."""
    ivs = []
    for k, extent in enumerate(extents):
        stride = math.prod(extents[k + 1 :])
        iv = element if stride == 1 else arith.divui(element, constant(stride))
        ivs.append(iv if k == 0 else arith.remui(iv, constant(extent)))
    return ivs


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
