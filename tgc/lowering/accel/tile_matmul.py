"""tgc-accel-tile-matmul: each static matmul at the buffer level becomes accel ops over 128-tiles.

Runs after bufferization. ``linalg.matmul ins(A, B) outs(C)`` (M x K x N, float32 or float64) is
cut into tiles the matrix unit takes: at most 128 rows of A, K and N at most the array's 128 (a dim
that is not a multiple of 128 leaves a smaller tile at its end). For each tile of C, in order of
its columns, then its rows::

    zero acc                          (or dma_load of C's tile, when C was not zero-filled)
    for each tile along K:
        dma_load A's tile -> f32 staging;  cast -> bf16
        dma_load B's tile -> f32 staging;  cast -> bf16
        matmul acc += A_bf16 . B_bf16     (f32 accumulation in the accumulator tile)
    dma_store acc -> C's tile

The zero fill of C that the core level writes before a matmul becomes the ``zero`` of each
accumulator. Buffer offsets are fixed here: every kind of tile (A and B staging in f32, A and B in
bf16, accumulators) has two slots used in turn, so the DMA of the next tile can overlap the work on
the current one (double buffering); the program writer derives the waits between instructions from
the regions they touch, so reusing a slot waits for its previous user.

An operand read transposed (a gradient's ``transpose_a`` or ``transpose_b``: the matmul's indexing
maps say so) is loaded one row of the transposed tile at a time: a DMA of one column of the stored
tensor lands as one row of the tile. Correct, but each of those DMAs pays the DMA latency; a
transposing DMA in the machine model would make it one instruction per tile.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.accel import ops as accel
from tgc.passes.base import ModulePass

TILE = 128  # the matrix unit's rows and columns (Machine.array_rows, array_cols by default)
F32_BYTES, BF16_BYTES = 4, 2
TILE_F32 = TILE * TILE * F32_BYTES
TILE_BF16 = TILE * TILE * BF16_BYTES

# Byte offsets of the two slots of each kind of tile in the on-chip buffer.
_SLOT_KINDS = (("a_f32", TILE_F32), ("a_bf16", TILE_BF16), ("b_f32", TILE_F32))
_SLOT_KINDS += (("b_bf16", TILE_BF16), ("acc", TILE_F32))


def _slot_layout() -> dict:
    layout, offset = {}, 0
    for kind, size in _SLOT_KINDS:
        layout[kind] = (offset, offset + size)
        offset += 2 * size
    return layout


SLOTS = _slot_layout()
BUFFER_BYTES = sum(2 * size for _, size in _SLOT_KINDS)  # what the tiled matmuls use


def _tiles(extent: int) -> list:
    """[begin, end) of each tile along a dim."""
    return [[start, min(start + TILE, extent)] for start in range(0, extent, TILE)]


def _maps(transpose_a: bool, transpose_b: bool) -> ir.Attribute:
    """The indexing maps over (m, n, k) of a matmul reading A and B as the flags say."""
    a = "(d2, d0)" if transpose_a else "(d0, d2)"
    b = "(d1, d2)" if transpose_b else "(d2, d1)"
    maps = [f"(d0, d1, d2) -> {a}", f"(d0, d1, d2) -> {b}", "(d0, d1, d2) -> (d0, d1)"]
    return ir.Attribute.parse("[" + ", ".join(f"affine_map<{m}>" for m in maps) + "]")


def _transposes(op):
    """(transpose_a, transpose_b) of a matmul, or None for maps that are neither."""
    if "indexing_maps" not in op.attributes:
        return (False, False)
    maps = op.attributes["indexing_maps"]
    flags = [(a, b) for a in (False, True) for b in (False, True)]
    return next((f for f in flags if maps == _maps(*f)), None)


def _is_zero_fill(op, target) -> bool:
    if op.name != "linalg.fill" or op.operands[1] != target:
        return False
    producer = op.operands[0].owner
    if not hasattr(producer, "name") or producer.name != "arith.constant":
        return False
    return ir.FloatAttr(producer.attributes["value"]).value == 0.0


class _Slots:
    """Hands out the two slots of each kind in turn."""

    def __init__(self):
        self.turn = {kind: 0 for kind, _ in _SLOT_KINDS}

    def take(self, kind: str) -> int:
        offset = SLOTS[kind][self.turn[kind] % 2]
        self.turn[kind] += 1
        return offset


@dataclasses.dataclass(frozen=True)
class TileMatmulPass(ModulePass):
    """linalg.matmul on static memrefs -> accel.dma_load/cast/zero/matmul/dma_store over tiles."""

    name = "tgc-accel-tile-matmul"

    def run(self, module: ir.Module) -> None:
        accel.load_dialect(module.context)
        slots = _Slots()
        for op in [op for op in all_ops(module) if op.name == "linalg.matmul"]:
            self._tile(op, slots)

    def _check(self, op) -> None:
        for value in op.operands:
            type_ = value.type
            if not isinstance(type_, ir.MemRefType):
                self.fail(op, "tgc-accel-tile-matmul runs after bufferization (memref operands)")
            memref = ir.MemRefType(type_)
            if not memref.has_static_shape:
                self.fail(op, f"the accelerator's matmul needs static shapes, not {type_}")
            if not isinstance(memref.element_type, (ir.F32Type, ir.F64Type)):
                self.fail(
                    op, f"the accelerator multiplies float32 or float64 matrices, not {type_}"
                )
            if memref.layout != ir.MemRefType.get(list(memref.shape), memref.element_type).layout:
                self.fail(op, f"the accelerator's DMA moves row-major tensors, not {type_}")
        if _transposes(op) is None:
            self.fail(op, "the accelerator's matmul reads its operands as given or transposed")

    def _tile(self, op, slots: _Slots) -> None:
        self._check(op)
        a, b, c = op.operands
        transposed = _transposes(op)
        m, n = ir.MemRefType(c.type).shape
        k = ir.MemRefType(a.type).shape[0 if transposed[0] else 1]
        fills = [use.owner for use in c.uses if _is_zero_fill(use.owner, c)]
        with ir.InsertionPoint(op), op.location:
            for cols in _tiles(n):
                for rows in _tiles(m):
                    self._output_tile(
                        (a, b, c), rows, cols, k, transposed, zeroed=bool(fills), slots=slots
                    )
        op.erase()
        for fill in fills:
            fill.erase()

    @staticmethod
    def _output_tile(operands, rows, cols, k, transposed, *, zeroed: bool, slots) -> None:
        a, b, c = operands
        tile_m, tile_n = rows[1] - rows[0], cols[1] - cols[0]
        acc = slots.take("acc")
        if zeroed:
            accel.create("zero", at=acc, shape=[tile_m, tile_n])
        else:
            accel.create("dma_load", [c], rows=rows, cols=cols, to=acc)
        for inner in _tiles(k):
            tile_k = inner[1] - inner[0]
            lhs = _load_bf16(a, rows, inner, transposed[0], "a", slots)
            rhs = _load_bf16(b, inner, cols, transposed[1], "b", slots)
            accel.create(
                "matmul",
                lhs_at=lhs,
                lhs_shape=[tile_m, tile_k],
                rhs_at=rhs,
                rhs_shape=[tile_k, tile_n],
                acc_at=acc,
                acc_shape=[tile_m, tile_n],
            )
        accel.create("dma_store", [c], rows=rows, cols=cols, from_=acc)


def _load_bf16(source, rows, cols, transposed: bool, operand: str, slots: _Slots) -> int:
    """DMA of the operand's rows x cols tile into f32 staging, then its cast to bf16; returns the
    bf16 tile's offset. ``transposed``: ``source`` holds the operand transposed."""
    staging, narrow = slots.take(f"{operand}_f32"), slots.take(f"{operand}_bf16")
    if not transposed:
        accel.create("dma_load", [source], rows=rows, cols=cols, to=staging)
    else:
        row_bytes = (cols[1] - cols[0]) * F32_BYTES
        for row in range(rows[0], rows[1]):
            # Column `row` of the stored tensor is that row of the operand's tile.
            at = staging + (row - rows[0]) * row_bytes
            accel.create("dma_load", [source], rows=cols, cols=[row, row + 1], to=at)
    accel.create(
        "cast",
        from_at=staging,
        from_dtype="float32",
        to_at=narrow,
        to_dtype="bfloat16",
        shape=[rows[1] - rows[0], cols[1] - cols[0]],
    )
    return narrow
