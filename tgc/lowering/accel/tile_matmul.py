"""tgc-accel-tile-matmul: each static matmul at the buffer level becomes accel ops over tiles.

Runs after bufferization. ``linalg.matmul ins(A, B) outs(C)`` (M x K x N, float32 or float64) runs
weight-stationary on the matrix unit: a K x N tile of B (K and N at most the array's 128) is held in
the array while rows of A stream through it, as many as a chunk of rows holds (up to
``CHUNK_ROWS``; fewer when K or N is so large that the chunk would not fit in the buffer). Per
chunk, A's tiles along K are cast to bf16 and kept in the buffer, and C's tiles of columns come in
two phases::

    for each tile t along K:                       (the first KEPT_COLUMNS tiles of columns j)
        dma_load A's chunk x tile t -> f32 staging;  cast -> bf16, kept as A[t]
        for each of those j:
            (first t: zero acc_j, or dma_load of C's tile when C was not zero-filled)
            dma_load B's tile (t, j) -> f32 staging;  cast -> bf16
            matmul acc_j += A[t] . B_bf16      (f32 accumulation)
            (last t: dma_store acc_j -> C's tile)
    for each further tile of columns j:            (B's whole column panel at once)
        dma_load B's K x N_j panel -> f32 staging;  cast -> bf16
        zero acc;  for each t: matmul acc += A[t] . panel rows of t;  dma_store acc

The first phase uses each tile of A as soon as it arrives, so its loads overlap the matmuls; the
second needs one DMA per column, and stores each column while the next computes. Each operand is
read from device memory once per chunk (B once in all when M fits in one chunk). A dim that is not
a multiple of 128 leaves a smaller tile at its end. The zero fill of C that the core level writes
before a matmul becomes the ``zero`` of each accumulator. When B's panels would not fit (a huge K),
every column is computed in the first phase.

Buffer offsets are fixed here: staging and bf16 copies of B's tiles and panels, and A's staging,
have two slots each, used in turn (double buffering); A's bf16 tiles and the accumulators have one
region each. The program writer derives the waits between instructions from the regions they
touch, so reusing a slot waits for its previous user.

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
KEPT_COLUMNS = 6  # tiles of C's columns computed while A's tiles arrive
F32_BYTES, BF16_BYTES = 4, 2
BUFFER_BYTES = 24 * 1024 * 1024  # the machine's on-chip buffer (Machine.buffer_bytes)
PANEL_BUDGET_BYTES = 6 * 1024 * 1024  # for B's column panels (two, in f32 and bf16)


def _tiles(extent: int, size: int = TILE) -> list:
    """[begin, end) of each tile along a dim."""
    return [[start, min(start + size, extent)] for start in range(0, extent, size)]


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one matmul is cut: rows per chunk, column tiles of the first phase, panels or not."""

    rows: int
    kept: int
    k_tiles: int
    panels: bool

    @staticmethod
    def of(m: int, k: int, n: int):
        """The plan, or None when not even one row of A fits in the buffer."""
        k_tiles, n_tiles = len(_tiles(k)), len(_tiles(n))
        kept = min(n_tiles, KEPT_COLUMNS)
        panel_bytes = 2 * k_tiles * TILE * TILE * (F32_BYTES + BF16_BYTES)
        panels = n_tiles > kept and panel_bytes <= PANEL_BUDGET_BYTES
        if not panels:
            kept, panel_bytes = n_tiles, 0
        fixed = 2 * TILE * TILE * (F32_BYTES + BF16_BYTES) + panel_bytes
        per_row = TILE * (2 * F32_BYTES + k_tiles * BF16_BYTES + kept * F32_BYTES)
        rows = min(m, CHUNK_ROWS, (BUFFER_BYTES - fixed) // per_row)
        return _Plan(rows, kept, k_tiles, panels) if rows >= 1 or m == 0 else None


class _Layout:
    """Byte offsets in the buffer of one matmul's tiles."""

    def __init__(self, plan: _Plan):
        rows, panel = max(plan.rows, 1), plan.k_tiles * TILE * TILE
        sizes = {
            "a_f32": rows * TILE * F32_BYTES,
            "b_f32": TILE * TILE * F32_BYTES,
            "b_bf16": TILE * TILE * BF16_BYTES,
        }
        if plan.panels:
            sizes.update(panel_f32=panel * F32_BYTES, panel_bf16=panel * BF16_BYTES)
        self.slots, offset = {}, 0
        for kind, size in sizes.items():
            self.slots[kind] = (offset, offset + size)
            offset += 2 * size
        a_tile, acc = rows * TILE * BF16_BYTES, rows * TILE * F32_BYTES
        self.a_bf16 = [offset + t * a_tile for t in range(plan.k_tiles)]
        offset += plan.k_tiles * a_tile
        self.acc = [offset + j * acc for j in range(plan.kept)]
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
        plan = _Plan.of(m, k, n)
        if plan is None:
            self.fail(op, f"a matmul with K = {k} and N = {n} does not fit the on-chip buffer")
        layout = _Layout(plan)
        with ir.InsertionPoint(op), op.location:
            for rows in _tiles(m, max(plan.rows, 1)):
                columns = _tiles(n)
                _kept_columns(matmul, rows, columns[: plan.kept], layout)
                _panel_columns(matmul, rows, columns[plan.kept :], layout)
        op.erase()
        for fill in fills:
            fill.erase()


def _kept_columns(matmul: _Matmul, rows, column_tiles: list, layout: _Layout) -> None:
    """The first phase: each tile of A, as it arrives (and is kept), meets B's tiles of these
    columns."""
    tile_m = rows[1] - rows[0]
    k_tiles = _tiles(matmul.k)
    if not k_tiles:  # K = 0: C is its initial value
        for j, cols in enumerate(column_tiles):
            _start_accumulator(matmul, rows, cols, layout.acc[j])
            accel.create("dma_store", [matmul.c], rows=rows, cols=cols, from_=layout.acc[j])
    for t, inner in enumerate(k_tiles):
        tile_k = inner[1] - inner[0]
        lhs = layout.a_bf16[t]
        _load_bf16(matmul.a, rows, inner, matmul.transposed[0], layout.take("a_f32"), lhs)
        for j, cols in enumerate(column_tiles):
            tile_n, acc = cols[1] - cols[0], layout.acc[j]
            if t == 0:
                _start_accumulator(matmul, rows, cols, acc)
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
            if t == len(k_tiles) - 1:
                accel.create("dma_store", [matmul.c], rows=rows, cols=cols, from_=acc)


def _panel_columns(matmul: _Matmul, rows, column_tiles: list, layout: _Layout) -> None:
    """The second phase: A's kept tiles meet each column's panel of B, loaded in one DMA; the
    accumulators of the first phase serve in turn."""
    tile_m, k_tiles = rows[1] - rows[0], _tiles(matmul.k)
    for i, cols in enumerate(column_tiles):
        tile_n, acc = cols[1] - cols[0], layout.acc[i % len(layout.acc)]
        panel = layout.take("panel_bf16")
        staging = layout.take("panel_f32")
        _load_bf16(matmul.b, [0, matmul.k], cols, matmul.transposed[1], staging, panel)
        _start_accumulator(matmul, rows, cols, acc)
        for t, inner in enumerate(k_tiles):
            tile_k = inner[1] - inner[0]
            accel.create(
                "matmul",
                lhs_at=layout.a_bf16[t],
                lhs_shape=[tile_m, tile_k],
                rhs_at=panel + inner[0] * tile_n * BF16_BYTES,  # the panel's rows of tile t
                rhs_shape=[tile_k, tile_n],
                acc_at=acc,
                acc_shape=[tile_m, tile_n],
            )
        accel.create("dma_store", [matmul.c], rows=rows, cols=cols, from_=acc)


def _start_accumulator(matmul: _Matmul, rows, cols, acc: int) -> None:
    """Zero, or C's tile when C was not zero-filled (the matmul adds onto it)."""
    if matmul.zeroed:
        accel.create("zero", at=acc, shape=[rows[1] - rows[0], cols[1] - cols[0]])
    else:
        accel.create("dma_load", [matmul.c], rows=rows, cols=cols, to=acc)


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
