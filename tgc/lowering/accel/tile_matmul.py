"""tgc-accel-tile-matmul: each static matmul at the buffer level becomes accel ops over tiles.

Runs after bufferization. ``linalg.matmul ins(A, B) outs(C)`` (M x K x N, float32 or float64) runs
weight-stationary on the matrix unit: a K x N tile of B (K and N at most the array's 128) is held in
the array while rows of A stream through it, as many as a chunk of rows holds (up to ``CHUNK_ROWS``,
fewer when K is so large that the chunk's A would not fit in the buffer). Per chunk of A's rows::

    for each tile of columns j of C:
        zero acc (chunk rows x N tile, f32)   (or dma_load of C's tile, when C was not zero-filled)
        for each tile t along K:
            if j is the first: dma_load A's chunk x tile t -> f32 staging; cast -> bf16, kept
            dma_load B's tile (t, j) -> f32 staging;  cast -> bf16
            matmul acc += A_bf16[t] . B_bf16      (f32 accumulation)
        dma_store acc -> C's tile

So A is read from device memory once per chunk and B once per chunk (once in all when M fits in one
chunk); loading A's tiles alongside the first column's B tiles lets them overlap that column's
matmuls. A dim that is not a multiple of 128 leaves a smaller tile at its end. The zero fill of C
that the core level writes before a matmul becomes the ``zero`` of each accumulator.

Buffer offsets are fixed here: A's staging, B's staging and bf16 tiles and the accumulators each
have two slots used in turn, so the DMA of the next tile can overlap the work on the current one
(double buffering), and A's bf16 tiles of a chunk have one region each. The program writer derives
the waits between instructions from the regions they touch, so reusing a slot waits for its
previous user.

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
CHUNK_ROWS = 1024  # rows of A streamed through one weight tile
F32_BYTES, BF16_BYTES = 4, 2
A_BUDGET_BYTES = 16 * 1024 * 1024  # of the 24 MiB buffer, for a chunk of A in bf16


def _tiles(extent: int, size: int = TILE) -> list:
    """[begin, end) of each tile along a dim."""
    return [[start, min(start + size, extent)] for start in range(0, extent, size)]


def _chunk_rows(m: int, k: int) -> int:
    """Rows of A per chunk: all of them up to CHUNK_ROWS, fewer when K is large."""
    k_tiles = max(1, -(-k // TILE))
    return max(1, min(m, CHUNK_ROWS, A_BUDGET_BYTES // (k_tiles * TILE * BF16_BYTES)))


class _Layout:
    """Byte offsets in the buffer of one matmul's tiles (chunks of ``rows`` rows)."""

    def __init__(self, rows: int, k_tiles: int):
        sizes = {
            "a_f32": rows * TILE * F32_BYTES,
            "b_f32": TILE * TILE * F32_BYTES,
            "b_bf16": TILE * TILE * BF16_BYTES,
            "acc": rows * TILE * F32_BYTES,
        }
        self.slots, offset = {}, 0
        for kind, size in sizes.items():
            self.slots[kind] = (offset, offset + size)
            offset += 2 * size
        a_tile = rows * TILE * BF16_BYTES
        self.a_bf16 = [offset + t * a_tile for t in range(k_tiles)]
        self.turn = {kind: 0 for kind in sizes}

    def take(self, kind: str) -> int:
        """The next of the two slots of ``kind``."""
        offset = self.slots[kind][self.turn[kind] % 2]
        self.turn[kind] += 1
        return offset


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


@dataclasses.dataclass(frozen=True)
class _Matmul:
    a: ir.Value
    b: ir.Value
    c: ir.Value
    k: int
    transposed: tuple  # (transpose_a, transpose_b)
    zeroed: bool  # C was zero-filled: accumulators start at zero instead of C


@dataclasses.dataclass(frozen=True)
class TileMatmulPass(ModulePass):
    """linalg.matmul on static memrefs -> accel.dma_load/cast/zero/matmul/dma_store over tiles."""

    name = "tgc-accel-tile-matmul"

    def run(self, module: ir.Module) -> None:
        accel.load_dialect(module.context)
        for op in [op for op in all_ops(module) if op.name == "linalg.matmul"]:
            self._tile(op)

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

    def _tile(self, op) -> None:
        self._check(op)
        a, b, c = op.operands
        transposed = _transposes(op)
        m, n = ir.MemRefType(c.type).shape
        k = ir.MemRefType(a.type).shape[0 if transposed[0] else 1]
        fills = [use.owner for use in c.uses if _is_zero_fill(use.owner, c)]
        matmul = _Matmul(a, b, c, k, transposed, zeroed=bool(fills))
        rows_per_chunk = _chunk_rows(m, k)
        layout = _Layout(rows_per_chunk, len(_tiles(k)))
        with ir.InsertionPoint(op), op.location:
            for rows in _tiles(m, rows_per_chunk):
                for j, cols in enumerate(_tiles(n)):
                    _output_tile(matmul, rows, cols, load_a=j == 0, layout=layout)
        op.erase()
        for fill in fills:
            fill.erase()


def _output_tile(matmul: _Matmul, rows, cols, *, load_a: bool, layout: _Layout) -> None:
    """C's rows x cols tile; with ``load_a``, A's chunk of ``rows`` comes in along the way."""
    tile_m, tile_n = rows[1] - rows[0], cols[1] - cols[0]
    acc = layout.take("acc")
    if matmul.zeroed:
        accel.create("zero", at=acc, shape=[tile_m, tile_n])
    else:
        accel.create("dma_load", [matmul.c], rows=rows, cols=cols, to=acc)
    for t, inner in enumerate(_tiles(matmul.k)):
        tile_k = inner[1] - inner[0]
        lhs = layout.a_bf16[t]
        if load_a:
            _load_bf16(matmul.a, rows, inner, matmul.transposed[0], layout.take("a_f32"), lhs)
        rhs = layout.take("b_bf16")
        _load_bf16(matmul.b, inner, cols, matmul.transposed[1], layout.take("b_f32"), rhs)
        accel.create(
            "matmul",
            lhs_at=lhs,
            lhs_shape=[tile_m, tile_k],
            rhs_at=rhs,
            rhs_shape=[tile_k, tile_n],
            acc_at=acc,
            acc_shape=[tile_m, tile_n],
        )
    accel.create("dma_store", [matmul.c], rows=rows, cols=cols, from_=acc)


def _load_bf16(source, rows, cols, transposed: bool, staging: int, narrow: int) -> None:
    """DMA of the operand's rows x cols tile into f32 ``staging``, then its cast to bf16 at
    ``narrow``. ``transposed``: ``source`` holds the operand transposed."""
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
