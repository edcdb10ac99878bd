"""tgc-accel-tile-generic: float linalg.generic ops (and fills) at the buffer level become DMAs and
vector-unit instructions over tiles.

Runs after bufferization (and after tgc-accel-tile-matmul). A ``linalg.generic`` on static
float32/float64 memrefs whose body the vector unit computes (arith/math float ops, comparisons and
selects on their i1 results, constants) runs tile by tile:

- **Iteration tiles.** The last loop dim gives the tile's columns; a run of loop dims before it
  (the *row group*: one iterator type, and every operand indexes all of them or none) gives its
  rows, their product. The row group's outermost dim is cut into chunks so that a tile's working
  set fits the buffer twice; the loop dims before the group run one index at a time.
- **Operands.** Each input is one N-D DMA per tile: its box follows its indexing map (a transposed
  map is a transposing DMA, ``perm``). An input that lacks the columns' dim is a ``[rows, 1]``
  column, one that lacks the row group a ``[1, cols]`` row; the vector unit broadcasts them.
- **The body.** Each op becomes one vector instruction writing a temporary tile of the slot; the
  whole fused body runs on the tile without a trip to device memory. Constants are immediates.
- **Reductions.** The body's yield is ``combine(value, %out)`` with combine one of add, mul,
  max, min. The accumulator (a ``fill`` of the output's initial constant, or a DMA of the
  output's initial contents) takes ``reduce`` of each tile's value along the row group (axis 0),
  the columns (axis 1) or both; reduction dims before the row group are iterated innermost, so an
  accumulator is stored once, after its last tile.
- **Double buffering.** Tiles use two slots of the buffer in turn: the next tile's DMAs fill one
  slot while the vector unit works on the other (the program writer derives the waits from the
  regions each instruction touches).

- **Epilogues.** A generic that reads a matmul's result (as tgc-accel-tile-matmul stored it from
  its accumulator tiles) elementwise, with rows, columns or numbers beside it, runs on each
  accumulator tile before it leaves the buffer (a dense layer's bias add and activation): one
  trip to device memory instead of three, placed as late in the vector unit's in-order queue as
  the accumulator stays unchanged so that it does not hold up the casts of the next matmuls.

Before the generics: a reshape that splits or merges dims becomes a buffer filled by DMA, copies
into or out of slices become DMAs, a view that leaves the function gets a buffer of its own,
linalg.transpose becomes the generic it is, and pooling (linalg.pooling_nhwc_max/_sum) becomes per
window tap a strided DMA combined into the accumulator by max or add.

A ``linalg.fill`` of a whole buffer (or a ``linalg.map`` of a constant) becomes fills and stores,
unless it is the initial value of a reduction's output (then the accumulator's ``fill``). Whatever
the vector unit cannot compute is refused with the op and the reason; placement
(pipeline.runs_on_accel) keeps such ops on the CPU.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.accel import ops as accel
from tgc.passes.base import ModulePass

F32_BYTES = 4
BUFFER_BYTES = 24 * 1024 * 1024  # the machine's on-chip buffer (Machine.buffer_bytes)
MAX_TILE_ELEMENTS = 256 * 1024  # a 1 MiB tile: its DMA's 500 cycles of latency are 1/3 of it
LANES = 128  # the vector unit's lanes (Machine.vector_lanes): column chunks are multiples

_UNARY = {
    "arith.negf": "neg",
    "math.absf": "abs",
    "math.exp": "exp",
    "math.expm1": "expm1",
    "math.log": "log",
    "math.log1p": "log1p",
    "math.sqrt": "sqrt",
    "math.rsqrt": "rsqrt",
    "math.tanh": "tanh",
    "math.floor": "floor",
    "math.ceil": "ceil",
    "math.roundeven": "round",
    "math.sin": "sin",
    "math.cos": "cos",
}
_BINARY = {
    "arith.addf": "add",
    "arith.subf": "sub",
    "arith.mulf": "mul",
    "arith.divf": "div",
    "arith.maximumf": "max",
    "arith.minimumf": "min",
    "arith.maxnumf": "max",
    "arith.minnumf": "min",
    "math.powf": "pow",
    # i1 values are 0.0 and 1.0 in a tile
    "arith.andi": "mul",
    "arith.ori": "max",
    "arith.xori": "ne",
}
# arith.cmpf predicates (their enum values) the unit's comparisons compute, numpy's way: ordered
# comparisons are false on NaN, "une" is true.
_COMPARISONS = {1: "eq", 4: "lt", 5: "le", 2: "gt", 3: "ge", 13: "ne"}
# arith.cmpi predicates on bools (0.0 and 1.0 here; TF compares bools unsigned: false < true).
_BOOL_COMPARISONS = {0: "eq", 1: "ne", 6: "lt", 7: "le", 8: "gt", 9: "ge"}
# Ops whose value is their operand's on a float32 tile: widening, narrowing to float32, bools
# (a bool as a float, or read from and written to its i8 storage).
_SAME_VALUE = ("arith.extf", "arith.truncf", "arith.uitofp", "arith.trunci", "arith.extui")
# A reduction body's combine -> the reduce instruction's fn (and the binary fn for outer dims).
_COMBINE = {
    "arith.addf": ("sum", "add"),
    "arith.mulf": ("prod", "mul"),
    "arith.maximumf": ("max", "max"),
    "arith.minimumf": ("min", "min"),
    "arith.maxnumf": ("max", "max"),
    "arith.minnumf": ("min", "min"),
}


class Unsupported(Exception):
    """A generic the vector unit cannot run; the message says why."""


def _is_float(type_: ir.Type) -> bool:
    return isinstance(type_, (ir.F32Type, ir.F64Type))


def _is_bool(type_: ir.Type) -> bool:
    """i1, or the i8 that stores a bool (tgc-bool-storage): 0 or 1, as 0.0 or 1.0 on the
    accelerator (placement sends it no other integers)."""
    return str(type_) in ("i1", "i8")


def _check_memref(value) -> ir.MemRefType:
    if not isinstance(value.type, ir.MemRefType):
        raise Unsupported("tgc-accel-tile-generic runs after bufferization (memref operands)")
    memref = ir.MemRefType(value.type)
    if not memref.has_static_shape:
        raise Unsupported(f"the accelerator needs static shapes, not {memref}")
    if not _is_float(memref.element_type) and not _is_bool(memref.element_type):
        raise Unsupported(f"the accelerator's vector unit computes on floats, not {memref}")
    if not _row_major(memref) and not _is_static_subview(value):
        raise Unsupported(f"the accelerator's DMA moves row-major tensors, not {memref}")
    return memref


def _row_major(memref: ir.MemRefType) -> bool:
    return memref.layout == ir.MemRefType.get(list(memref.shape), memref.element_type).layout


def _is_static_subview(value) -> bool:
    """A memref.subview (a slice: static offsets, sizes and strides, no dim dropped) of a
    row-major tensor or of such a slice, or a reshape adding or dropping unit dims of one (the
    expand_dims of a split's half): the program writer reads its DMA boxes in the tensor's own
    dims."""
    owner = value.owner
    name = getattr(owner, "name", None)
    if name in ("memref.expand_shape", "memref.collapse_shape"):
        source = owner.operands[0]
        return _non_unit(source) == _non_unit(value) and _is_static_subview(source)
    if name != "memref.subview":
        return False
    source = owner.operands[0]
    if len(owner.operands) > 1 or ir.MemRefType(source.type).rank != ir.MemRefType(value.type).rank:
        return False
    return _row_major(ir.MemRefType(source.type)) or _is_static_subview(source)


def _non_unit(value) -> list:
    return [d for d in ir.MemRefType(value.type).shape if d != 1]


@dataclasses.dataclass
class _Operand:
    """A generic's operand: its memref and, per tensor dim, the loop dim it follows (None: a
    constant index 0)."""

    value: ir.Value
    shape: list
    dims: list

    def loop_dims(self) -> set:
        return {d for d in self.dims if d is not None}


def _operand(value, map_attr) -> _Operand:
    memref = _check_memref(value)
    dims = []
    results = ir.AffineMapAttr(map_attr).value.results
    positions = [e.position for e in results if isinstance(e, ir.AffineDimExpr)]
    if len(set(positions)) != len(positions):
        raise Unsupported(f"the indexing map {map_attr} names a loop dim twice")
    for size, expr in zip(memref.shape, ir.AffineMapAttr(map_attr).value.results):
        if isinstance(expr, ir.AffineDimExpr):
            dims.append(expr.position)
        elif isinstance(expr, ir.AffineConstantExpr) and expr.value == 0:
            dims.append(None)
        elif size == 1:
            # An in-bounds index of a size-1 dim is 0 whatever the expression (-d0 of a 1x1
            # filter's flip, say, with d0 over one value).
            dims.append(None)
        else:
            raise Unsupported(f"the indexing map result {expr} is not a loop dim or 0")
    return _Operand(value, list(memref.shape), dims)


@dataclasses.dataclass
class _Plan:
    """How the loop nest becomes tiles: the row group [group, cols_dim), chunk sizes."""

    sizes: list  # per loop dim
    reductions: set  # loop dims with a reduction iterator
    group: int  # first loop dim of the row group
    row_chunk: int  # chunk of the group's outermost dim
    col_chunk: int  # chunk of the last loop dim

    @property
    def cols_dim(self) -> int:
        return len(self.sizes) - 1

    @property
    def group_dims(self) -> list:
        return list(range(self.group, self.cols_dim))

    def axes(self) -> list:
        """The tile loops: (loop dim, [(begin, count), ...]); parallel ones first, so an
        accumulator sees all its reduction tiles in a row."""
        axes = [(d, [(i, 1) for i in range(self.sizes[d])]) for d in range(self.group)]
        if self.group_dims:
            outer = self.group_dims[0]
            axes.append((outer, _chunks(self.sizes[outer], self.row_chunk)))
        if self.sizes:
            axes.append((self.cols_dim, _chunks(self.sizes[self.cols_dim], self.col_chunk)))
        parallel = [axis for axis in axes if axis[0] not in self.reductions]
        return parallel + [axis for axis in axes if axis[0] in self.reductions]


def _chunks(extent: int, size: int) -> list:
    return [(begin, min(size, extent - begin)) for begin in range(0, extent, max(size, 1))]


def _plan(sizes: list, reductions: set, operands: list, regions: int) -> _Plan:
    """The largest row group and chunks whose `regions` tiles, twice, fit the buffer."""
    budget = min(MAX_TILE_ELEMENTS, BUFFER_BYTES // (2 * regions * F32_BYTES))
    if not sizes:
        return _Plan([], set(), 0, 1, 1)
    cols_dim = len(sizes) - 1
    col_chunk = sizes[cols_dim]
    if col_chunk > budget:
        col_chunk = max(LANES, budget // LANES * LANES)
    group = cols_dim
    while group > 0 and _groupable(group - 1, cols_dim, reductions, operands):
        inner = math.prod(sizes[group:cols_dim]) * col_chunk
        if inner > budget:
            break
        group -= 1
    row_chunk = 1
    if group < cols_dim:
        inner = math.prod(sizes[group + 1 : cols_dim]) * col_chunk
        row_chunk = max(1, min(sizes[group], budget // max(inner, 1)))
    return _Plan(list(sizes), set(reductions), group, row_chunk, col_chunk)


def _groupable(dim: int, cols_dim: int, reductions: set, operands: list) -> bool:
    """Whether `dim` may join the row group [dim + 1, cols_dim): same iterator type as the group,
    and each operand indexes all of the group or none of it."""
    group = set(range(dim, cols_dim))
    if len({d in reductions for d in group}) > 1:
        return False
    return all(len(group & o.loop_dims()) in (0, len(group)) for o in operands)


class _Slots:
    """Buffer space from byte `base`: two accumulator slots (one per reduction output tile, in
    turn), then two slots for one tile's regions, used in turn (double buffering)."""

    def __init__(self, slot_bytes: int, acc_bytes: int = 0, base: int = 0):
        self.slot_bytes, self.acc_bytes, self.base = slot_bytes, acc_bytes, base
        self.turn = self.acc_turn = -1  # the first tile (and accumulator) takes slot 0
        self.used = 0

    def next_tile(self) -> None:
        self.turn += 1
        self.used = 0

    def take(self, elements: int) -> int:
        at = self.base + 2 * self.acc_bytes + (self.turn % 2) * self.slot_bytes + self.used
        self.used += max(elements, 1) * F32_BYTES
        assert self.used <= self.slot_bytes, "tile regions overflow their slot"
        return at

    def take_accumulator(self) -> int:
        self.acc_turn += 1
        return self.base + (self.acc_turn % 2) * self.acc_bytes


@dataclasses.dataclass(frozen=True)
class _Value:
    """A value of the body on the tile: a tile region [at, rows, cols] or a number."""

    tile: tuple | None = None
    number: float | None = None

    def operand(self):
        return self.number if self.tile is None else list(self.tile)


@dataclasses.dataclass(frozen=True)
class TileGenericPass(ModulePass):
    """linalg.generic (float, static) and linalg.fill -> accel DMAs and vector instructions."""

    name = "tgc-accel-tile-generic"

    def run(self, module: ir.Module) -> None:
        accel.load_dialect(module.context)
        # Views first: reshapes that are no views of boxes become buffers, copies into or out of
        # slices become DMAs, and what leaves the function as a view gets a buffer of its own.
        self._each(module, ("memref.expand_shape", "memref.collapse_shape"), _materialize_reshape)
        self._each(module, ("memref.copy",), _lower_slice_copy)
        self._each(module, _LEAVING_VIEWS, _copy_if_it_leaves)
        self._each(module, ("linalg.transpose",), _as_generic)
        computes = ("linalg.generic", "linalg.fill", "linalg.map")
        self._each(module, computes + _POOLINGS, _lower_compute)

    def _each(self, module, names: tuple, lower) -> None:
        for op in [op for op in all_ops(module) if op.name in names]:
            try:
                lower(op)
            except Unsupported as why:
                self.fail(op, f"the accelerator cannot run this {op.name}: {why}")


_POOLINGS = ("linalg.pooling_nhwc_max", "linalg.pooling_nhwc_sum")


def _lower_slice_copy(copy) -> None:
    """A copy into or out of a slice (a concatenation, a slice op's result): DMAs."""
    source, target = copy.operands
    if _is_static_subview(source) or _is_static_subview(target):
        with ir.InsertionPoint(copy), copy.location:
            _dma_copy(source, target)
        copy.erase()


def _copy_if_it_leaves(view_op) -> None:
    if view_op.name == "memref.get_global" or not _leaves_whole(view_op.results[0]):
        _copy_where_it_leaves(view_op)


def _lower_compute(op) -> None:
    if op.name == "linalg.generic":
        _GenericTiler(op).lower()
    elif op.name.startswith("linalg.pooling_nhwc_"):
        _lower_pooling(op)
    elif op.name == "linalg.map":
        if len(op.operands) != 1:
            raise Unsupported("a map of inputs (only a constant's map is a fill here)")
        _lower_fill(op)
    elif not _is_reduction_init(op):
        _lower_fill(op)


def _lower_pooling(pool) -> None:
    """linalg.pooling_nhwc_max / _sum on the (already padded) input: per window tap one strided
    DMA of the input (its rows the output positions, its columns the channels), combined into
    the accumulator (loaded from the output's initial value) by the vector unit's max or add."""
    x, window, out = pool.operands
    _check_memref(x)
    shape_o = list(_check_memref(out).shape)
    kh, kw = ir.MemRefType(window.type).shape
    strides = [int(v) for v in ir.DenseIntElementsAttr(pool.attributes["strides"])]
    dilations = [int(v) for v in ir.DenseIntElementsAttr(pool.attributes["dilations"])]
    combine = {"linalg.pooling_nhwc_max": "max", "linalg.pooling_nhwc_sum": "add"}.get(pool.name)
    if combine is None:
        raise Unsupported(f"the pooling '{pool.name}'")
    n, oh, ow, c = shape_o
    # Per tile three regions (the accumulator, two taps in turn), twice (double buffering).
    tile_bytes = MAX_TILE_ELEMENTS // 4 * F32_BYTES
    rows_per_image = max(1, min(oh, MAX_TILE_ELEMENTS // 4 // max(1, ow * c)))
    if ow * c > MAX_TILE_ELEMENTS // 4:
        raise Unsupported(f"an output row of {ow} x {c} elements is larger than a tile")
    turn = 0
    with ir.InsertionPoint(pool), pool.location:
        for image in range(n):
            for first in range(0, oh, rows_per_image):
                count = min(rows_per_image, oh - first)
                rows = count * ow
                out_box = {
                    "begin": [image, first, 0, 0],
                    "count": [1, count, ow, c],
                    "step": [1, 1, 1, 1],
                }
                base, turn = (turn % 2) * 3 * tile_bytes, turn + 1
                acc = base
                accel.create("dma_load", [out], **out_box, to=acc)
                for tap, (tap_h, tap_w) in enumerate(itertools.product(range(kh), range(kw))):
                    at = base + (1 + tap % 2) * tile_bytes
                    begin_h = first * strides[0] + tap_h * dilations[0]
                    box = {
                        "begin": [image, begin_h, tap_w * dilations[1], 0],
                        "count": [1, count, ow, c],
                        "step": [1, strides[0], strides[1], 1],
                    }
                    accel.create("dma_load", [x], **box, to=at)
                    tile = [acc, rows, c]
                    accel.create("binary", fn=combine, lhs=tile, rhs=[at, rows, c], to=tile)
                accel.create("dma_store", [out], **out_box, from_=acc)
    pool.erase()


def reshape_boundary(source: list, target: list, budget: int = MAX_TILE_ELEMENTS):
    """(source dims, target dims) of the outer parts of a reshape that splits both shapes into
    outer x inner with one inner size, static and at most ``budget`` elements (the largest such),
    or None. A chunk of outer rows is then a box of both shapes (``None`` dims: unknown)."""
    best = None
    for s_cut in range(len(source) + 1):
        for t_cut in range(len(target) + 1):
            inner_s, inner_t = source[s_cut:], target[t_cut:]
            if None in inner_s or None in inner_t:
                continue
            inner = math.prod(inner_s)
            if inner == math.prod(inner_t) and inner <= budget:
                if best is None or inner > best[2]:
                    best = (s_cut, t_cut, inner)
    return best


def _materialize_reshape(view) -> None:
    """A reshape that splits or merges dims of size other than 1 is no box-for-box view: a buffer
    of the new shape replaces it, filled by a DMA copy (chunks of outer rows, each a box of both
    shapes) where the view is made, or, when ops write through the view (bufferization reused the
    result's buffer), copied back into the tensor after the last of them. A reshape that adds or
    drops unit dims stays a view."""
    source, result = view.operands[0], view.results[0]
    before = [d for d in ir.MemRefType(source.type).shape if d != 1]
    after = [d for d in ir.MemRefType(result.type).shape if d != 1]
    if before == after:
        return
    _check_memref(source)
    result_type = _check_memref(result)
    writers = [use.owner for use in result.uses if _writes_into(use.owner, result)]
    with ir.InsertionPoint(view), view.location:
        buffer = memref_alloc(ir.MemRefType.get(list(result_type.shape), result_type.element_type))
        if not writers:
            _reshape_copy(source, buffer)
    if writers:
        block_ops = [op.operation for op in view.operation.block.operations]
        last = max(block_ops.index(op.operation) for op in writers)
        with ir.InsertionPoint(block_ops[last + 1]), view.location:  # a terminator ends it
            _reshape_copy(buffer, source)
    result.replace_all_uses_with(buffer)
    view.erase()


def _reshape_copy(source, target) -> None:
    """DMA copy of ``source`` into ``target`` of another shape with the same elements."""
    shape_s = list(ir.MemRefType(source.type).shape)
    shape_t = list(ir.MemRefType(target.type).shape)
    cut = reshape_boundary(shape_s, shape_t)
    if cut is None:
        raise Unsupported(f"no chunk of {shape_s} is a box of {shape_t} within the buffer")
    s_cut, t_cut, inner = cut
    last_s = shape_s[s_cut - 1] if s_cut else 1
    last_t = shape_t[t_cut - 1] if t_cut else 1
    step = math.gcd(last_s, last_t) or 1
    while step > 1 and step * inner > MAX_TILE_ELEMENTS:
        step = max(d for d in range(1, step) if step % d == 0)
    outer = math.prod(shape_s[:s_cut])
    for turn, first in enumerate(range(0, outer, step)):
        at = (turn % 2) * MAX_TILE_ELEMENTS * F32_BYTES
        count = min(step, outer - first)
        loaded = _outer_box(shape_s, s_cut, first, count)
        stored = _outer_box(shape_t, t_cut, first, count)
        accel.create("dma_load", [source], **loaded, to=at)
        accel.create("dma_store", [target], **stored, from_=at)


def _outer_box(shape: list, cut: int, first: int, count: int) -> dict:
    """The box of outer rows [first, first + count) (within one row of the last outer dim) and
    all of the inner dims."""
    begin = list(np.unravel_index(first, shape[:cut])) if cut else []
    counts = [1] * (cut - 1) + [count] if cut else []
    return {
        "begin": [int(b) for b in begin] + [0] * (len(shape) - cut),
        "count": counts + shape[cut:],
        "step": [1] * len(shape),
    }


def _writes_into(op, value) -> bool:
    """Whether ``op`` may write ``value``: a linalg op's output, a copy's target, a store."""
    name = getattr(op, "name", "")
    if name == "memref.copy":
        return op.operands[1] == value
    if name == "accel.dma_store":
        return op.operands[0] == value
    if name.startswith("linalg."):
        return any(v == value for v in list(op.operands)[-_num_outputs_of(op) :])
    return False


def _num_outputs_of(op) -> int:
    if "operandSegmentSizes" in op.attributes:
        return ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"])[1]
    return 1


def _as_generic(transpose) -> None:
    """linalg.transpose as the generic it is: the output in loop order, the input through the
    inverse permutation (tiled, that is one transposing DMA per tile)."""
    from mlir.dialects import linalg

    source, target = transpose.operands
    permutation = list(ir.DenseI64ArrayAttr(transpose.attributes["permutation"]))
    rank = len(permutation)
    inverse = [permutation.index(k) for k in range(rank)]
    loops = [ir.AffineDimExpr.get(d) for d in range(rank)]
    maps = [
        ir.AffineMap.get(rank, 0, [loops[inverse[k]] for k in range(rank)]),
        ir.AffineMap.get(rank, 0, loops),
    ]
    parallel = ir.Attribute.parse("#linalg.iterator_type<parallel>")
    element = ir.MemRefType(source.type).element_type
    with ir.InsertionPoint(transpose), transpose.location:
        generic = linalg.GenericOp(
            [],
            [source],
            [target],
            ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps]),
            ir.ArrayAttr.get([parallel] * rank),
        )
        block = generic.regions[0].blocks.append(element, element)
        with ir.InsertionPoint(block):
            linalg.YieldOp([block.arguments[0]])
    transpose.erase()


# Values that are no buffer of their own: constants, slices and reshapes of other buffers.
_LEAVING_VIEWS = (
    "memref.get_global",
    "memref.subview",
    "memref.expand_shape",
    "memref.collapse_shape",
    "memref.cast",
)


def _views_an_allocation(value) -> bool:
    """A reshape (or cast) of an allocation, not a slice: it leaves as the allocation in that
    shape (the program writer gives the allocation the shape it leaves with)."""
    owner = value.owner
    name = getattr(owner, "name", None)
    if name == "memref.alloc":
        return True
    if name in ("memref.expand_shape", "memref.collapse_shape", "memref.cast"):
        return _views_an_allocation(owner.operands[0])
    return False


def _leaves_whole(value) -> bool:
    """Whether ``value`` can leave the function as it is: a view of an allocation that leaves in
    no other shape, or a cast of an argument or of a received tensor (the same tensor, its static
    or dynamic type)."""
    owner = value.owner
    if getattr(owner, "name", None) == "memref.cast":
        source = owner.operands[0]
        if isinstance(source.owner, ir.Block) or source.owner.name == "func.call":
            return True
    if not _views_an_allocation(value):
        return False
    shape = _leaving_shape(value)
    others = _leaving_shapes(_viewed_allocation(value), but=value)
    return shape is None or all(other == shape for other in others)


def _viewed_allocation(value):
    """The allocation a reshape or cast of an allocation views (``_views_an_allocation``)."""
    while value.owner.name != "memref.alloc":
        value = value.owner.operands[0]
    return value


_VIEW_OPS = ("memref.expand_shape", "memref.collapse_shape", "memref.cast")


def _leaving_shapes(allocation, but) -> list:
    """The static shapes in which ``allocation`` and its reshapes and casts, ``but`` excepted,
    leave the function (returned, sent, copied out). The program writer gives an allocation one
    shape, the one it leaves with: an allocation that leaves as itself (a reduction kept as
    [1]) and as its reshape (the same values squeezed to []) leaves one of them copied."""
    shapes, pending = [], [allocation]
    while pending:
        value = pending.pop()
        for use in value.uses:
            user = use.owner
            if user.name in _VIEW_OPS and user.operands[0] == value:
                pending.append(user.results[0])
            elif value != but and _leaves_through(user, value):
                shape = _leaving_shape(value)
                if shape is not None:
                    shapes.append(shape)
    return shapes


def _leaves_through(user, value) -> bool:
    if user.name in ("func.return", "func.call"):
        return True
    return user.name == "memref.copy" and user.operands[0] == value


def _leaving_shape(value) -> list | None:
    """The static shape ``value`` leaves with: a cast to a dynamic type (what a transfer function
    takes) leaves in its source's shape; None when unknown."""
    memref = ir.MemRefType(value.type)
    while not memref.has_static_shape and getattr(value.owner, "name", None) == "memref.cast":
        value = value.owner.operands[0]
        memref = ir.MemRefType(value.type)
    return list(memref.shape) if memref.has_static_shape else None


def _copy_where_it_leaves(view_op) -> None:
    """A constant (a memref.global, which travels inside the programs that load it), a slice of
    a tensor or a reshape of the function's argument that the function returns, sends or copies
    is copied by DMA into a buffer of its own, which leaves instead: the host hands on only
    whole tensors the programs made."""
    constant = view_op.results[0]
    # A cast to a dynamic type (for a transfer function) is copied from its static source.
    static = view_op.operands[0] if view_op.name == "memref.cast" else constant
    for use in list(constant.uses):
        user = use.owner
        if user.name == "memref.copy" and user.operands[0] == constant:
            target = user.operands[1]
            with ir.InsertionPoint(user), user.location:
                if ir.MemRefType(target.type).has_static_shape:
                    _dma_copy(static, target)
                else:  # a buffer of unknown size for a transfer: one of the source's size
                    from mlir.dialects import memref as memref_dialect

                    copy = _dma_copy(static, None)
                    target.replace_all_uses_with(memref_dialect.cast(target.type, copy))
            user.erase()
            if getattr(target.owner, "name", None) == "memref.alloc" and not len(list(target.uses)):
                target.owner.erase()
        elif user.name in ("func.return", "func.call"):
            with ir.InsertionPoint(user), user.location:
                copy = _dma_copy(static, None)
                if copy.type != constant.type:
                    from mlir.dialects import memref as memref_dialect

                    copy = memref_dialect.cast(constant.type, copy)
            user.operands[use.operand_number] = copy


def _dma_copy(source, target):
    """DMA loads of ``source``'s tiles and stores of them into ``target`` (a new allocation when
    None, returned: dense, whatever strides a view ``source`` has)."""
    memref = _check_memref(source)
    if target is None:
        target = memref_alloc(ir.MemRefType.get(list(memref.shape), memref.element_type))
    shape, rank = list(memref.shape), memref.rank
    plan = _plan(shape, set(), [_Operand(source, shape, list(range(rank)))], 1)
    axes = plan.axes()
    for turn, position in enumerate(itertools.product(*(chunks for _, chunks in axes))):
        chosen = dict(zip((d for d, _ in axes), position))
        extents = [chosen.get(d, (0, shape[d])) for d in range(rank)]
        box = {
            "begin": [b for b, _ in extents],
            "count": [c for _, c in extents],
            "step": [1] * rank,
        }
        at = (turn % 2) * MAX_TILE_ELEMENTS * F32_BYTES
        accel.create("dma_load", [source], **box, to=at)
        accel.create("dma_store", [target], **box, from_=at)
    return target


def memref_alloc(memref: ir.MemRefType) -> ir.Value:
    from mlir.dialects import memref as memref_dialect

    return memref_dialect.alloc(memref, [], [])


def _iterator_types(op) -> list:
    return [str(t).split("<")[1].rstrip(">") for t in ir.ArrayAttr(op.attributes["iterator_types"])]


def _generic_using_as_init(fill):
    """The reduction generic whose accumulator this fill initialises, or None."""
    target = fill.operands[1]
    for use in target.uses:
        user = use.owner
        if user.name != "linalg.generic" or "reduction" not in _iterator_types(user):
            continue
        outputs = list(user.operands)[len(user.operands) - _num_outputs(user) :]
        if target in outputs:
            return user
    return None


def _is_reduction_init(fill) -> bool:
    return _generic_using_as_init(fill) is not None and _fill_constant(fill) is not None


def _num_outputs(generic) -> int:
    sizes = ir.DenseI32ArrayAttr(generic.attributes["operandSegmentSizes"])
    return sizes[1]


def _fill_constant(fill) -> float | None:
    if fill.name == "linalg.map":  # a map of no input yielding a constant (a pad's background)
        block = fill.regions[0].blocks[0]
        yielded = [op for op in block.operations if op.name == "linalg.yield"][0].operands[0]
        producer = yielded.owner
        if getattr(producer, "name", None) != "arith.constant":
            return None
        return ir.FloatAttr(producer.attributes["value"]).value
    producer = fill.operands[0].owner
    if not hasattr(producer, "name") or producer.name != "arith.constant":
        return None
    return ir.FloatAttr(producer.attributes["value"]).value


def _lower_fill(fill) -> None:
    """A fill of a whole buffer: fill a tile with the value and store it over the buffer."""
    value = _fill_constant(fill)
    if value is None:
        raise Unsupported("its value is not a float constant")
    target = fill.operands[-1]
    memref = _check_memref(target)
    shape = list(memref.shape)
    rank = len(shape)
    plan = _plan(shape, set(), [_Operand(target, shape, list(range(rank)))], 1)
    axes = plan.axes()
    with ir.InsertionPoint(fill), fill.location:
        # One tile of the largest box (the first), filled once: an edge box stores its prefix.
        boxes = []
        for position in itertools.product(*(chunks for _, chunks in axes)):
            chosen = dict(zip((d for d, _ in axes), position))
            extents = [chosen.get(d, (0, shape[d])) for d in range(rank)]
            boxes.append(([b for b, _ in extents], [c for _, c in extents]))
        largest = math.prod(boxes[0][1]) if boxes else 0
        accel.create("fill", at=0, shape=[1, largest], value=value)
        for begin, count in boxes:
            accel.create("dma_store", [target], begin=begin, count=count, step=[1] * rank, from_=0)
    fill.erase()


class _GenericTiler:
    """One generic: its operands, body and plan, and the instructions of each tile."""

    def __init__(self, op):
        self.op = op
        maps = list(ir.ArrayAttr(op.attributes["indexing_maps"]))
        num_outputs = _num_outputs(op)
        values = list(op.operands)
        self.inputs = [_operand(v, m) for v, m in zip(values[:-num_outputs], maps)]
        self.outputs = [_operand(v, m) for v, m in zip(values[-num_outputs:], maps[-num_outputs:])]
        iterators = _iterator_types(op)
        self.reductions = {d for d, kind in enumerate(iterators) if kind == "reduction"}
        self.sizes = self._loop_sizes(len(iterators))
        self.block = op.regions[0].blocks[0]
        self.body = [o.operation for o in self.block.operations if o.name != "linalg.yield"]
        self.yielded = list(self._yield().operands)
        self.combine = None  # reductions: (reduce fn, binary fn), the value reduced
        if self.reductions:
            self._read_reduction()

    def _loop_sizes(self, loops: int) -> list:
        sizes = [None] * loops
        for operand in self.inputs + self.outputs:
            for extent, dim in zip(operand.shape, operand.dims):
                if dim is not None:
                    sizes[dim] = extent
        if None in sizes:
            raise Unsupported("a loop dim that no operand indexes")
        return sizes

    def _yield(self):
        return next(o for o in self.block.operations if o.name == "linalg.yield")

    def _read_reduction(self) -> None:
        if len(self.outputs) != 1:
            raise Unsupported("a reduction with several outputs")
        out_arg = self.block.arguments[len(self.inputs)]
        combine = self.yielded[0].owner
        if (
            not hasattr(combine, "name")
            or combine.name not in _COMBINE
            or out_arg not in list(combine.operands)
        ):
            raise Unsupported("its reduction is not a sum, product, max or min of the body")
        value = next(v for v in combine.operands if v != out_arg)
        uses = [use.owner for use in out_arg.uses]
        if len(uses) != 1 or value == out_arg:
            raise Unsupported("its body reads the accumulator other than to combine into it")
        self.combine = (*_COMBINE[combine.name], value, combine.operation)

    # Lowering.

    def lower(self) -> None:
        for operation in self.body:
            self._check_body_op(operation)
        self._check_captures()
        if 0 in self.sizes:
            self._lower_empty()
            return
        regions = len(self.inputs) + 2 * len(self.body) + 2 * len(self.outputs) + 4
        if _Epilogue.of(self, regions):
            self.op.erase()
            return
        # Room for the inputs loaded once beside the two slots: as if each were one region more.
        operands = self.inputs + self.outputs
        self.plan = _plan(self.sizes, self.reductions, operands, regions + len(self.inputs))
        elements = self._tile_elements()
        acc_bytes = elements * F32_BYTES if self.combine else 0
        invariant = self._invariant_inputs()
        fixed = len(invariant) * -(-elements * F32_BYTES // 64) * 64
        self.slots = _Slots(regions * elements * F32_BYTES, acc_bytes, base=fixed)
        init = self._reduction_init()
        with ir.InsertionPoint(self.op), self.op.location:
            self.given = self._load_invariant(invariant, elements)
            if self.combine:
                self._lower_reduction(init)
            else:
                for position in self._positions(self.plan.axes()):
                    self._tile(position)
        self.op.erase()
        if init is not None and init[0] == "fill":
            init[1].erase()

    def _lower_empty(self) -> None:
        """A loop dim of size 0: the body runs for no element, so no instruction (a tile of
        an empty operand beside a broadcast one would be refused), and the outputs keep what
        they hold: a reduction's initial fill (over no element, of a result not empty) stays
        as a fill of its own."""
        init = self._reduction_init()
        if init is not None and init[0] == "fill":
            if 0 in self.outputs[0].shape:
                init[1].erase()
            else:
                _lower_fill(init[1])
        self.op.erase()

    def _invariant_inputs(self) -> list:
        """The inputs whose box is the same in every tile (none of their dims is iterated over
        tiles: a bias row while the tiles run down the rows): loaded once, before the tiles."""
        iterated = {d for d, chunks in self.plan.axes() if len(chunks) > 1}
        used = [len(list(self.block.arguments[i].uses)) for i in range(len(self.inputs))]
        return [
            i
            for i, operand in enumerate(self.inputs)
            if used[i] and iterated and not operand.loop_dims() & iterated
        ]

    def _load_invariant(self, invariant: list, elements: int) -> dict:
        """Loads each invariant input into a region of its own at the bottom of the buffer; none
        when there is no tile (a loop dim of size 0: an empty result)."""
        given, at = {}, 0
        first = next(self._positions(self.plan.axes()), None)
        if first is None:
            return given
        for i in invariant:
            operand = self.inputs[i]
            rows, cols = self._tile_shape(first, operand.loop_dims())
            accel.create("dma_load", [operand.value], **self._box(operand, first), to=at)
            given[i] = _Value(tile=(at, rows, cols))
            at += -(-elements * F32_BYTES // 64) * 64
        return given

    def _check_captures(self) -> None:
        """A value from outside the body must be a float or i1 constant (an immediate)."""
        for operation in self.body:
            for value in operation.operands:
                owner = value.owner
                inside = isinstance(owner, ir.Block) or owner.parent == self.op
                if not inside and getattr(owner, "name", None) != "arith.constant":
                    raise Unsupported(f"its body uses {value.get_name()}, made outside it")
                if not inside:
                    self._check_body_op(owner)

    def _check_body_op(self, operation) -> None:
        name = operation.name
        if self.combine and operation == self.combine[3]:  # the combine: the reduce
            return
        if name == "arith.constant":
            attr = operation.attributes["value"]
            if not isinstance(attr, (ir.FloatAttr, ir.IntegerAttr, ir.BoolAttr)):
                raise Unsupported(f"the constant {attr}")
            return
        if name in _UNARY or name in _BINARY or name == "arith.select":
            return
        if name in _SAME_VALUE:
            source, result = operation.operands[0].type, operation.result.type
            floats = _is_float(result) and (_is_float(source) or str(source) == "i1")
            if not floats and not (_is_bool(source) and _is_bool(result)):
                raise Unsupported(f"'{name}' from {source} to {result}")
            return
        if name == "arith.cmpf":
            predicate = ir.IntegerAttr(operation.attributes["predicate"]).value
            if predicate not in _COMPARISONS:
                raise Unsupported(f"the comparison '{operation}'")
            return
        if name == "arith.cmpi":
            predicate = ir.IntegerAttr(operation.attributes["predicate"]).value
            if predicate not in _BOOL_COMPARISONS or not _is_bool(operation.operands[0].type):
                raise Unsupported(f"the comparison '{operation}' (of bools only)")
            return
        raise Unsupported(f"the vector unit has no '{name}'")

    def _tile_elements(self) -> int:
        plan = self.plan
        if not plan.sizes:
            return 1
        inner = math.prod(plan.sizes[plan.group + 1 : plan.cols_dim]) if plan.group_dims else 1
        return max(1, inner * plan.row_chunk * plan.col_chunk)

    def _positions(self, axes: list):
        """Each tile: {loop dim: (begin, count)} for the tiled dims."""
        dims = [d for d, _ in axes]
        for position in itertools.product(*(chunks for _, chunks in axes)):
            yield dict(zip(dims, position))

    def _extent(self, position: dict, dim: int) -> tuple:
        """(begin, count) of a loop dim in this tile: its chunk, or all of an inner group dim."""
        if dim in position:
            return position[dim]
        return (0, self.plan.sizes[dim])

    def _tile_shape(self, position: dict, dims: set) -> tuple:
        """[rows, cols] of a tile over the loop dims `dims` (of the row group and columns)."""
        plan = self.plan
        if not plan.sizes:
            return (1, 1)
        rows = math.prod(self._extent(position, d)[1] for d in plan.group_dims if d in dims)
        cols = self._extent(position, plan.cols_dim)[1] if plan.cols_dim in dims else 1
        return (rows, cols)

    def _box(self, operand: _Operand, position: dict) -> dict:
        """The DMA box of an operand for a tile, with `perm` when its dims are out of loop
        order."""
        tiled = set(self.plan.group_dims) | ({self.plan.cols_dim} if self.plan.sizes else set())
        begin, count = [], []
        for dim in operand.dims:
            if dim is None:
                begin.append(0), count.append(1)
            elif dim in tiled:
                b, c = self._extent(position, dim)
                begin.append(b), count.append(c)
            else:
                b, c = position[dim]
                begin.append(b), count.append(c)
        box = {"begin": begin, "count": count, "step": [1] * len(begin)}
        in_tile = [j for j, dim in enumerate(operand.dims) if dim in tiled]
        ordered = sorted(in_tile, key=lambda j: operand.dims[j])
        if ordered != in_tile:
            rest = [j for j in range(len(operand.dims)) if j not in in_tile]
            box["perm"] = rest + ordered
        return box

    def _load(self, operand: _Operand, position: dict) -> _Value:
        rows, cols = self._tile_shape(position, operand.loop_dims())
        at = self.slots.take(rows * cols)
        accel.create("dma_load", [operand.value], **self._box(operand, position), to=at)
        return _Value(tile=(at, rows, cols))

    def _store(self, operand: _Operand, position: dict, value: _Value) -> None:
        box = self._box(operand, position)
        accel.create("dma_store", [operand.value], **box, from_=value.tile[0])

    def _full(self, value: _Value, shape: tuple) -> _Value:
        """The value as a tile of `shape` (a number filled in, a row or column repeated)."""
        if value.tile is not None and tuple(value.tile[1:]) == tuple(shape):
            return value
        at = self.slots.take(shape[0] * shape[1])
        if value.tile is None:
            accel.create("fill", at=at, shape=list(shape), value=value.number)
        else:
            accel.create("unary", fn="copy", x=list(value.tile), to=[at, *shape])
        return _Value(tile=(at, *shape))

    def _body(self, position: dict, skip=None, given=None) -> dict:
        """The body's ops on one tile: SSA value -> _Value. `given`: input index -> the tile
        that input already has in the buffer (an epilogue's accumulator)."""
        values = {}
        for i, operand in enumerate(self.inputs):
            argument = self.block.arguments[i]
            if given and i in given:
                values[argument] = given[i]
            elif len(list(argument.uses)):
                values[argument] = self._load(operand, position)
        for j, operand in enumerate(self.outputs):
            argument = self.block.arguments[len(self.inputs) + j]
            if len(list(argument.uses)) and not self.combine:
                values[argument] = self._load(operand, position)
        for operation in self.body:
            if skip is None or operation != skip:
                values[operation.result] = self._compute(operation, values)
        return values

    def _compute(self, operation, values: dict) -> _Value:
        name = operation.name
        if name == "arith.constant":
            attr = operation.attributes["value"]
            if isinstance(attr, ir.FloatAttr):
                return _Value(number=ir.FloatAttr(attr).value)
            if isinstance(attr, ir.BoolAttr):
                return _Value(number=float(ir.BoolAttr(attr).value))
            return _Value(number=float(ir.IntegerAttr(attr).value & 1))  # an i1: 0 or 1
        args = [self._value_of(v, values) for v in operation.operands]
        if name in _SAME_VALUE:
            return args[0]
        if name == "arith.select":
            fn, fields = None, dict(zip(("cond", "lhs", "rhs"), args))
        elif name in ("arith.cmpf", "arith.cmpi"):
            predicate = ir.IntegerAttr(operation.attributes["predicate"]).value
            table = _COMPARISONS if name == "arith.cmpf" else _BOOL_COMPARISONS
            fn, fields = table[predicate], dict(zip(("lhs", "rhs"), args))
        elif name in _UNARY:
            fn, fields = _UNARY[name], {"x": args[0]}
        else:
            fn, fields = _BINARY[name], dict(zip(("lhs", "rhs"), args))
        tiles = [v.tile for v in fields.values() if v.tile is not None]
        if not tiles:  # numbers only: one element, broadcast where it is used
            first = next(iter(fields))
            fields[first] = self._full(fields[first], (1, 1))
            tiles = [fields[first].tile]
        shape = (max(t[1] for t in tiles), max(t[2] for t in tiles))
        at = self.slots.take(shape[0] * shape[1])
        operands = {key: value.operand() for key, value in fields.items()}
        kind = "select" if fn is None else ("unary" if "x" in fields else "binary")
        extra = {} if fn is None else {"fn": fn}
        accel.create(kind, **extra, **operands, to=[at, *shape])
        return _Value(tile=(at, *shape))

    def _value_of(self, value, values: dict) -> _Value:
        """A body value, or a constant defined outside the body (the body captures it)."""
        if value in values:
            return values[value]
        producer = value.owner
        if getattr(producer, "name", None) == "arith.constant":
            return self._compute(producer, values)
        raise Unsupported(f"its body uses {value.get_name()} from outside, not a constant")

    def _tile(self, position: dict) -> None:
        """A tile of a generic without reductions: body, then each output stored."""
        self.slots.next_tile()
        values = self._body(position, given=self.given)
        for operand, result in zip(self.outputs, self.yielded):
            value = values.get(result)
            if value is None:  # yields a block argument not otherwise used
                value = self._block_value(result, position)
            shape = self._tile_shape(position, operand.loop_dims())
            self._store(operand, position, self._full(value, shape))

    def _block_value(self, value, position: dict) -> _Value:
        """A yielded value the body does not compute: a block argument (loaded) or a constant
        from outside the body."""
        arguments = list(self.block.arguments)
        if value in arguments:
            return self._load((self.inputs + self.outputs)[arguments.index(value)], position)
        return self._value_of(value, {})

    # Reductions.

    def _reduction_init(self):
        """("fill", the fill op, its value) or ("load",) for a reduction's initial value."""
        if not self.combine:
            return None
        target = self.outputs[0].value
        for use in target.uses:
            user = use.owner
            if user.name == "linalg.fill" and user.operands[1] == target:
                value = _fill_constant(user)
                if value is not None and _generic_using_as_init(user) == self.op:
                    return ("fill", user, value)
        return ("load",)

    def _lower_reduction(self, init) -> None:
        plan, output = self.plan, self.outputs[0]
        reduce_fn, binary_fn, value, combine = self.combine
        axes = plan.axes()
        parallel = [axis for axis in axes if axis[0] not in plan.reductions]
        reduction = [axis for axis in axes if axis[0] in plan.reductions]
        group_reduced = bool(plan.group_dims) and plan.group_dims[0] in plan.reductions
        cols_reduced = bool(plan.sizes) and plan.cols_dim in plan.reductions
        for outer in self._positions(parallel):
            acc_shape = self._tile_shape(outer, output.loop_dims())
            acc_at = self.slots.take_accumulator()
            acc = _Value(tile=(acc_at, *acc_shape))
            if init[0] == "fill":
                accel.create("fill", at=acc_at, shape=list(acc_shape), value=init[2])
            else:
                box = self._box(output, outer)
                accel.create("dma_load", [output.value], **box, to=acc_at)
            for inner in self._positions(reduction):
                position = {**outer, **inner}
                self.slots.next_tile()
                values = self._body(position, skip=combine, given=self.given)
                tile_shape = self._tile_shape(position, set(plan.group_dims) | {plan.cols_dim})
                computed = values.get(value) or self._block_value(value, position)
                reduced = self._full(computed, tile_shape)
                self._reduce_into(reduced, acc, reduce_fn, binary_fn, group_reduced, cols_reduced)
            self._store(output, outer, acc)

    def _reduce_into(self, tile, acc, reduce_fn, binary_fn, group_reduced, cols_reduced):
        rows, cols = tile.tile[1:]
        if cols_reduced and group_reduced:
            partial_at = self.slots.take(rows)
            accel.create("fill", at=partial_at, shape=[rows, 1], value=_IDENTITY[reduce_fn])
            accel.create(
                "reduce", fn=reduce_fn, axis=1, from_=list(tile.tile), to=[partial_at, rows, 1]
            )
            accel.create(
                "reduce", fn=reduce_fn, axis=0, from_=[partial_at, rows, 1], to=list(acc.tile)
            )
        elif cols_reduced:
            accel.create("reduce", fn=reduce_fn, axis=1, from_=list(tile.tile), to=list(acc.tile))
        elif group_reduced:
            accel.create("reduce", fn=reduce_fn, axis=0, from_=list(tile.tile), to=list(acc.tile))
        else:  # only reduction dims before the row group: elementwise into the accumulator
            accel.create(
                "binary", fn=binary_fn, lhs=list(acc.tile), rhs=list(tile.tile), to=list(acc.tile)
            )


_IDENTITY = {"sum": 0.0, "prod": 1.0, "max": -math.inf, "min": math.inf}


class _Epilogue:
    """An elementwise consumer of a matmul's result, applied to each accumulator tile before it
    is stored (the bias add and activation of a dense layer): the tile goes to device memory
    once, as the consumer's output, instead of out and back in.

    Applies when the generic has no reduction and one output of the matmul result's shape, reads
    the result C (as tgc-accel-tile-matmul stored it, tile by tile) with the identity map, and its
    other inputs are complete before C's first tile is stored. Its regions lie at the top of the
    buffer, away from the matmul's staging slots; C's stores go when nothing else reads C."""

    @staticmethod
    def of(tiler: _GenericTiler, regions: int) -> bool:
        """Lowers ``tiler``'s generic as an epilogue when it can be one; whether it did."""
        if tiler.combine or len(tiler.outputs) != 1 or len(tiler.sizes) != 2:
            return False
        for index, operand in enumerate(tiler.inputs):
            if operand.dims == [0, 1]:
                stores = _stores_of(operand.value)
                from_matmuls = stores and all(
                    _stored_from_matmul(s) and "perm" not in accel.read(s) for s in stores
                )  # a transposing store's accumulator is C's tile transposed
                if from_matmuls and _Epilogue._ready(tiler, index, stores[0]):
                    _Epilogue(tiler, index, stores, regions).lower()
                    return True
        return False

    @staticmethod
    def _ready(tiler, index: int, first_store) -> bool:
        """The other inputs and the output are written by no accel op, C is read by none, and
        what the epilogue reads or writes exists before C's first store."""
        result = tiler.inputs[index].value
        if any(_is_accel_read(use.owner, result) for use in result.uses):
            return False
        block = first_store.operation.block
        positions = {op.operation: i for i, op in enumerate(block.operations)}
        first = positions[first_store.operation]
        others = [o.value for i, o in enumerate(tiler.inputs) if i != index]
        if any(positions[s.operation] >= first for v in others for s in _stores_of(v)):
            return False  # written after C's first tile is stored: not ready for the epilogue
        for value in others + [tiler.outputs[0].value]:
            owner = value.owner
            if isinstance(owner, ir.Block) or owner.operation not in positions:
                continue  # an argument, or made outside the block
            movable = owner.name == "memref.alloc" and not len(owner.operands)
            if positions[owner.operation] >= first and not movable:
                return False  # made after C's first tile is stored (received, say)
        return not _stores_of(tiler.outputs[0].value)

    def __init__(self, tiler, index: int, stores: list, regions: int):
        self.tiler, self.index, self.stores = tiler, index, stores
        largest = max(math.prod(accel.read(s)["count"]) for s in stores)
        slot_bytes = regions * largest * F32_BYTES
        base = max(0, (BUFFER_BYTES - 2 * slot_bytes) // 64 * 64)
        tiler.slots = _Slots(slot_bytes, 0, base)
        sizes = tiler.sizes
        tiler.plan = _Plan(list(sizes), set(), 0, sizes[0], sizes[1])

    def lower(self) -> None:
        tiler, result = self.tiler, self.tiler.inputs[self.index].value
        output = tiler.outputs[0]
        for operand in tiler.inputs + [output]:
            _move_definition_before(operand.value, self.stores[0])
        keep = any(
            not _is_store_of(use.owner, result) and use.owner != tiler.op for use in result.uses
        )
        with ir.InsertionPoint(self.stores[0]), self.stores[0].location:
            broadcasts = self._load_broadcasts()
        points = [_latest_point(store, output.value) for store in self.stores]
        for store, point in zip(self.stores, points):
            box, acc = accel.read(store), accel.read(store)["from"]
            position = {d: (box["begin"][d], box["count"][d]) for d in (0, 1)}
            with ir.InsertionPoint(point), store.location:
                tiler.slots.next_tile()
                given = {self.index: _Value(tile=(acc, *box["count"]))}
                for i, (at, dims) in broadcasts.items():
                    given[i] = _broadcast_part(at, dims, position)
                values = tiler._body(position, given=given)
                value = self._yielded(values, given, position)
                tiler._store(output, position, tiler._full(value, tuple(box["count"])))
            if not keep:
                store.erase()

    def _yielded(self, values: dict, given: dict, position: dict) -> _Value:
        tiler, result = self.tiler, self.tiler.yielded[0]
        if result in values:
            return values[result]
        arguments = list(tiler.block.arguments)
        if result in arguments and arguments.index(result) in given:
            return given[arguments.index(result)]
        return tiler._block_value(result, position)

    def _load_broadcasts(self) -> dict:
        """Each input that is a row, a column or a number of the result, loaded whole once
        (below the tiles' slots): input index -> (its offset, its loop dims)."""
        tiler, (rows, cols) = self.tiler, self.tiler.sizes
        everything = {0: (0, rows), 1: (0, cols)}
        loaded, at = {}, tiler.slots.base
        for i, operand in enumerate(tiler.inputs):
            dims = operand.loop_dims()
            if i == self.index or len(dims) == 2 or not len(list(tiler.block.arguments[i].uses)):
                continue
            elements = rows if dims == {0} else cols if dims == {1} else 1
            at -= -(-elements * F32_BYTES // 64) * 64
            box = tiler._box(operand, everything)
            accel.create("dma_load", [operand.value], **box, to=at)
            loaded[i] = (at, dims)
        return loaded


# Ops that neither become accel instructions nor touch a tensor's contents.
_INERT = (
    "memref.alloc",
    "memref.dealloc",
    "memref.expand_shape",
    "memref.collapse_shape",
    "memref.cast",
    "memref.get_global",
    "arith.constant",
)


def _latest_point(store, output) -> ir.Operation:
    """The op before which a tile's epilogue goes: as late as the accumulator tile it reads
    stays unchanged (ops not lowered yet may become instructions that overwrite it: it stops at
    them) and before anything uses the output. Later in the in-order vector unit's queue, it
    does not hold up the casts that feed the next matmuls while it waits for its own."""
    info = accel.read(store)
    acc = (info["from"], info["from"] + math.prod(info["count"]) * F32_BYTES)
    block_ops = list(store.operation.block.operations)
    start = next(i for i, op in enumerate(block_ops) if op.operation == store.operation)
    for op in block_ops[start + 1 :]:
        written = _written_bytes(op)
        if (
            any(value == output for value in op.operands)
            or (not accel.is_accel_op(op) and op.name not in _INERT)
            or (written and _overlap(written, acc))
        ):
            return op.operation
    return block_ops[-1].operation


def _stored_from_matmul(store) -> bool:
    """Whether the tile a store reads was last written by a matmul (an accumulator)."""
    info = accel.read(store)
    tile = (info["from"], info["from"] + math.prod(info["count"]) * F32_BYTES)
    block_ops = list(store.operation.block.operations)
    end = next(i for i, op in enumerate(block_ops) if op.operation == store.operation)
    for op in reversed(block_ops[:end]):
        written = _written_bytes(op)
        if written and _overlap(written, tile):
            return op.name == "accel.matmul"
    return False


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _written_bytes(op) -> tuple | None:
    """[first, end) of the buffer bytes an accel op writes (None: not an accel op or none)."""
    if not accel.is_accel_op(op) or op.name == "accel.dma_store":
        return None
    attrs, kind = accel.read(op), op.name.removeprefix("accel.")
    if kind in ("zero", "fill"):
        return (attrs["at"], attrs["at"] + math.prod(attrs["shape"]) * F32_BYTES)
    if kind == "cast":
        width = F32_BYTES if attrs["to_dtype"] == "float32" else 2
        return (attrs["to_at"], attrs["to_at"] + math.prod(attrs["shape"]) * width)
    if kind == "matmul":
        return (attrs["acc_at"], attrs["acc_at"] + math.prod(attrs["acc_shape"]) * F32_BYTES)
    if kind == "dma_load":
        return (attrs["to"], attrs["to"] + math.prod(attrs["count"]) * F32_BYTES)
    at, rows, cols = attrs["to"]  # unary, binary, select, reduce
    return (at, at + rows * cols * F32_BYTES)


def _broadcast_part(at: int, dims: set, position: dict) -> _Value:
    """The part of a whole row (or column) loaded at ``at`` that a tile at ``position`` uses."""
    if dims == {1}:
        begin, count = position[1]
        return _Value(tile=(at + begin * F32_BYTES, 1, count))
    if dims == {0}:
        begin, count = position[0]
        return _Value(tile=(at + begin * F32_BYTES, count, 1))
    return _Value(tile=(at, 1, 1))


def _stores_of(value) -> list:
    """The accel.dma_store ops that write ``value``, in program order (a use list has none)."""
    stores = [use.owner for use in value.uses if _is_store_of(use.owner, value)]
    if len(stores) < 2:
        return stores
    positions = {op.operation: i for i, op in enumerate(stores[0].operation.block.operations)}
    return sorted(stores, key=lambda store: positions[store.operation])


def _is_store_of(op, value) -> bool:
    return getattr(op, "name", None) == "accel.dma_store" and op.operands[0] == value


def _is_accel_read(op, value) -> bool:
    return getattr(op, "name", None) == "accel.dma_load" and op.operands[0] == value


def _move_definition_before(value, op) -> None:
    """An allocation defined after ``op`` moves before it (it takes no operands)."""
    owner = value.owner
    if getattr(owner, "name", None) != "memref.alloc" or len(owner.operands):
        return
    positions = {o.operation: i for i, o in enumerate(op.operation.block.operations)}
    if positions.get(owner.operation, -1) > positions[op.operation]:
        owner.move_before(op)
