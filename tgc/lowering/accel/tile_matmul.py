"""tgc-accel-tile-matmul: each static matmul at the buffer level becomes accel ops over tiles.

Runs after bufferization. ``linalg.matmul ins(A, B) outs(C)`` (M x K x N, float32 or float64) runs
weight-stationary on the matrix unit: a K x N tile of B (K and N at most the array's 128) is held in
the array while rows of A stream through it, as many as a chunk of rows holds (up to
``CHUNK_ROWS``; fewer when K or N is so large that the chunk would not fit in the buffer). Per
chunk, A's tiles along K (M x 128, one DMA each) are cast to bf16 and kept in the buffer; C's tiles
of columns come in two phases::

    phase 1, the first KEPT_COLUMNS tiles of columns j, K-outer, in groups of GROUP_TILES tiles t:
        dma_load A's tile t0 (the group's first);  cast -> bf16, kept as A[t0]
        for j < EARLY_COLUMNS:  dma_load B's block (group rows, column j);  cast;  matmul (t0, j)
        for each half of A's tile t1:  dma_load, cast;  matmul (half, t1, j) for j < EARLY_COLUMNS
        for the other j:  dma_load B's block;  cast;  matmul (t, j) for t in the group
        (first group: the accumulators start at zero; last group: each is stored after its last
        matmul)
    phase 2, the further tiles of columns j, each with B's whole column panel:
        dma_load B's K x N_j panel;  cast;  zero acc;  matmul acc += A[t] . panel rows of t for
        every t;  dma_store acc   (stored while the next column computes)

Why this order (docs/accel-compiler.md has the numbers): every DMA pays 500 cycles of latency
before its bytes move, and B's tiles of one column are the only contiguous pieces of B, so B comes
in blocks of GROUP_TILES tiles along K (one latency per two tiles) and, once A is all in the
buffer, in whole column panels (one latency per column). Phase 1 exists because a column of C needs
every tile of A: computing the first columns K-outer uses each tile of A as it arrives. Within a
group the first EARLY_COLUMNS columns meet A's second tile half by half, so the matrix unit has work
while that tile's DMA runs. The last column of the last chunk is computed and stored in pieces of
128 rows, so that only a small store is left when the last matmul ends (when K has at least
PIECES_MIN_K_TILES tiles: with fewer, a piece's matmuls are shorter than its store). Each operand
is read from device memory once per chunk (B once in all when M fits in one chunk). A dim that is
not a multiple of 128 leaves a smaller tile at its end. The zero fill of C that the core level
writes before a matmul becomes the ``zero`` of each accumulator (the first two zeroed before the
first DMA lands: the vector unit is idle then). When B's panels would not fit (a huge K), every
column is computed in phase 1.

Buffer offsets are fixed here. Staging (f32) slots and B's bf16 blocks and panels are rings of
slots used in turn (double buffering and more); A's bf16 tiles and the accumulators have one region
each. The program writer derives the waits between instructions from the regions they touch, so
reusing a slot waits for its previous user.

An operand read transposed (a gradient's ``transpose_a`` or ``transpose_b``: the matmul's indexing
maps say so) comes in one transposing DMA per tile, block or panel (``perm = [1, 0]``: the stored
tensor's box with its dims swapped). Such a DMA gathers (each element its own burst of device
memory, docs/accel-machine.md), but pays the latency once, where one DMA per row of the tile paid it
128 times.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.accel import ops as accel
from tgc.passes.base import ModulePass

TILE = 128  # the matrix unit's rows and columns (Machine.array_rows, array_cols by default)
CHUNK_ROWS = 1024  # rows of A streamed through one weight tile
KEPT_COLUMNS = 6  # tiles of C's columns computed K-outer while A's tiles arrive (phase 1)
GROUP_TILES = 2  # tiles along K in one DMA of B in phase 1
EARLY_COLUMNS = 3  # columns of phase 1 that meet a group's second tile of A half by half
ZEROED_AHEAD = 2  # accumulators zeroed before the first DMA lands
PIECES_MIN_K_TILES = 4  # the last column goes in row pieces when each piece streams this many tiles
F32_BYTES, BF16_BYTES = 4, 2
BUFFER_BYTES = 24 * 1024 * 1024  # the machine's on-chip buffer (Machine.buffer_bytes)
PANEL_BUDGET_BYTES = 6 * 1024 * 1024  # for B's column panels (two, in f32 and bf16)
STAGING_SLOTS = 2  # f32 staging slots of A and of B's blocks (each)


def _tiles(extent: int, size: int = TILE) -> list:
    """[begin, end) of each tile along a dim."""
    return [[start, min(start + size, extent)] for start in range(0, extent, size)]


def _halves(rows: list) -> list:
    """A chunk's rows in two halves of at least two tiles each, or one piece: a half pays a DMA
    latency of its own, worth it only when its matmuls are long."""
    begin, end = rows
    if end - begin < 4 * TILE:
        return [rows]
    middle = begin + (end - begin) // 2
    return [[begin, middle], [middle, end]]


def _pieces(rows: list) -> list:
    """A chunk's rows in pieces of a tile: the last column is stored piece by piece."""
    begin, end = rows
    if end - begin < 2 * TILE:
        return [rows]
    return [[start, min(start + TILE, end)] for start in range(begin, end, TILE)]


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one matmul is cut: rows per chunk, column tiles of phase 1, panels or not."""

    rows: int
    kept: int
    k_tiles: int
    panels: bool
    k: int
    tile_n: int  # width of B's blocks and panels (N when N is less than a tile)

    @staticmethod
    def of(m: int, k: int, n: int, zeroed: bool = True):
        """The plan, or None when not even one row of A fits in the buffer. A C that was not
        zero-filled takes no panels: its tiles are all loaded before any is stored (below)."""
        k_tiles, n_tiles = len(_tiles(k)), len(_tiles(n))
        tile_n = min(n, TILE)
        kept = min(n_tiles, KEPT_COLUMNS)
        panel_bytes = 2 * k * tile_n * (F32_BYTES + BF16_BYTES)
        panels = zeroed and n_tiles > kept and panel_bytes <= PANEL_BUDGET_BYTES
        if not panels:
            kept, panel_bytes = n_tiles, 0
        plan = _Plan(0, kept, k_tiles, panels, k, tile_n)
        fixed = sum(count * size for count, size in plan.slot_sizes(rows=0).values())
        a_bytes = STAGING_SLOTS * F32_BYTES + k_tiles * BF16_BYTES  # A's staging, kept tiles
        per_row = TILE * a_bytes + kept * tile_n * F32_BYTES  # and the accumulators
        rows = min(m, CHUNK_ROWS, (BUFFER_BYTES - fixed) // per_row)
        return dataclasses.replace(plan, rows=rows) if rows >= 1 or m == 0 else None

    def slot_sizes(self, rows: int) -> dict:
        """kind -> (number of slots, bytes of each) of the rings of slots."""
        block = min(self.k, GROUP_TILES * TILE) * self.tile_n
        sizes = {
            "a_f32": (STAGING_SLOTS, rows * TILE * F32_BYTES),
            "b_f32": (STAGING_SLOTS, block * F32_BYTES),
            "b_bf16": (2 * min(self.kept, KEPT_COLUMNS), block * BF16_BYTES),
        }
        if self.panels:
            panel = self.k * self.tile_n
            sizes.update(panel_f32=(2, panel * F32_BYTES), panel_bf16=(2, panel * BF16_BYTES))
        return sizes


class _Layout:
    """Byte offsets in the buffer of one matmul's tiles."""

    def __init__(self, plan: _Plan):
        rows = max(plan.rows, 1)
        self.slots, self.turn, offset = {}, {}, 0
        for kind, (count, size) in plan.slot_sizes(rows).items():
            self.slots[kind] = [offset + i * size for i in range(count)]
            self.turn[kind] = 0
            offset += count * size
        a_tile, acc = rows * TILE * BF16_BYTES, rows * plan.tile_n * F32_BYTES
        self.a_bf16 = [offset + t * a_tile for t in range(plan.k_tiles)]
        offset += plan.k_tiles * a_tile
        self.acc = [offset + j * acc for j in range(plan.kept)]

    def take(self, kind: str) -> int:
        """The next slot of ``kind``, in turn."""
        slots = self.slots[kind]
        offset = slots[self.turn[kind] % len(slots)]
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


def _gathered(m: int, k: int, n: int, transposed: tuple, swapped: bool = False) -> int:
    """Elements a matmul's DMAs gather (a transposing DMA reads each element in a burst of its
    own: docs/accel-machine.md), as given or swapped (C^T = B^T A^T: an operand read transposed
    becomes a plain one and the other way round, and C is stored transposed)."""
    transpose_a, transpose_b = transposed
    if swapped:  # B^T is read plain when B is stored transposed, A^T when A is
        return (0 if transpose_b else k * n) + (0 if transpose_a else m * k) + m * n
    return (m * k if transpose_a else 0) + (k * n if transpose_b else 0)


def _row_major(memref: ir.MemRefType) -> bool:
    return memref.layout == ir.MemRefType.get(list(memref.shape), memref.element_type).layout


def _is_static_subview(value) -> bool:
    """A memref.subview (static offsets, sizes and strides, no dim dropped) of a row-major
    tensor or of such a slice: the program writer reads DMA boxes on it in the tensor's own dims
    (as tgc-accel-tile-generic's operands)."""
    owner = value.owner
    if getattr(owner, "name", None) != "memref.subview" or len(owner.operands) > 1:
        return False
    source = owner.operands[0]
    if ir.MemRefType(source.type).rank != ir.MemRefType(value.type).rank:
        return False
    return _row_major(ir.MemRefType(source.type)) or _is_static_subview(source)


@dataclasses.dataclass(frozen=True)
class _Matmul:
    a: ir.Value
    b: ir.Value
    c: ir.Value
    k: int
    transposed: tuple  # (transpose_a, transpose_b)
    zeroed: bool  # C was zero-filled: accumulators start at zero instead of C
    swapped: bool = False  # computes C^T = B^T A^T (a and b are then B and A): C stored transposed


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
            if not _row_major(memref) and not _is_static_subview(value):
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
        if _gathered(m, k, n, transposed, swapped=True) < _gathered(m, k, n, transposed):
            # C^T = B^T A^T: B's rows stream through A's tiles, and C is stored transposed.
            swapped_flags = (not transposed[1], not transposed[0])
            matmul = _Matmul(b, a, c, k, swapped_flags, matmul.zeroed, swapped=True)
            m, n = n, m
        plan = _Plan.of(m, k, n, matmul.zeroed)
        if plan is None:
            self.fail(op, f"a matmul with K = {k} and N = {n} does not fit the on-chip buffer")
        layout = _Layout(plan)
        with ir.InsertionPoint(op), op.location:
            chunks = _tiles(m, max(plan.rows, 1))
            for number, rows in enumerate(chunks):
                columns = _tiles(n)
                chunk = _Chunk(matmul, rows, layout)
                chunk.kept_columns(columns[: plan.kept])
                chunk.panel_columns(columns[plan.kept :], last=number == len(chunks) - 1)
        op.erase()
        for fill in fills:
            fill.erase()


class _Chunk:
    """The accel ops of one chunk of A's rows: both phases over C's tiles of columns."""

    def __init__(self, matmul: _Matmul, rows: list, layout: _Layout):
        self.matmul, self.rows, self.layout = matmul, rows, layout
        self.k_tiles = _tiles(matmul.k)

    def kept_columns(self, columns: list) -> None:
        """Phase 1: K-outer over these columns, B in blocks of GROUP_TILES tiles along K."""
        if not self.k_tiles:  # K = 0: C is its initial value
            for j, cols in enumerate(columns):
                self._start(cols, self.rows, self.layout.acc[j])
                self._store(cols, self.rows, self.layout.acc[j])
            return
        for j, cols in enumerate(columns[: self._ahead(columns)]):
            self._start(cols, self.rows, self.layout.acc[j])
        groups = _tiles(len(self.k_tiles), GROUP_TILES)
        for number, (first, end) in enumerate(groups):
            self._group(columns, list(range(first, end)), number == len(groups) - 1)

    def _ahead(self, columns: list) -> int:
        """How many accumulators start before the chunk's first DMA: ZEROED_AHEAD zeroed ones, or
        every one loaded from a C that was not zero-filled. A load of C after a store to C would
        start a new program (its inputs are read before it runs: program.py), which would not
        have the chunk's kept tiles of A."""
        return ZEROED_AHEAD if self.matmul.zeroed else len(columns)

    def _group(self, columns: list, tiles: list, last: bool) -> None:
        """One group of A's tiles meets the blocks of B of every kept column."""
        first_tile, later = tiles[0], tiles[1:]
        early, other = range(min(EARLY_COLUMNS, len(columns))), range(EARLY_COLUMNS, len(columns))
        self._load_a(first_tile, self.rows)
        blocks = {}
        for j in early:
            blocks[j] = self._load_block(tiles, columns[j])
            self._matmuls(columns, j, [first_tile], self.rows, blocks[j], tiles, last)
        for t in later:
            for half in _halves(self.rows):
                self._load_a(t, half)
                for j in early:
                    self._matmuls(columns, j, [t], half, blocks[j], tiles, last)
        for j in other:
            blocks[j] = self._load_block(tiles, columns[j])
            self._matmuls(columns, j, tiles, self.rows, blocks[j], tiles, last)

    def _matmuls(self, columns, j, tiles, rows, block, group, last) -> None:
        """Matmuls of column j for these tiles of A over ``rows``, with B's block of the group;
        the accumulator starts before the group's first and is stored after the last group's
        last matmul over these rows."""
        cols, acc = columns[j], self.layout.acc[j]
        first_matmul = tiles[0] == 0 and rows[0] == self.rows[0]
        if first_matmul and j >= self._ahead(columns):
            self._start(cols, self.rows, acc)
        for t in tiles:
            self._matmul(t, rows, cols, acc, block, group[0])
        if last and tiles[-1] == group[-1] and rows[1] == self.rows[1]:
            self._store(cols, self.rows, acc)

    def panel_columns(self, columns: list, last: bool) -> None:
        """Phase 2: each column's panel of B in one DMA; A's kept tiles meet its rows; the
        accumulators of phase 1 serve in turn. The matmul's last column goes in row pieces."""
        accumulators = self.layout.acc
        for i, cols in enumerate(columns):
            acc = accumulators[i % len(accumulators)]
            panel = self._load_panel(cols)
            self._start(cols, self.rows, acc)
            final = last and i == len(columns) - 1 and len(self.k_tiles) >= PIECES_MIN_K_TILES
            for rows in _pieces(self.rows) if final else [self.rows]:
                for t in range(len(self.k_tiles)):
                    self._matmul(t, rows, cols, acc, panel, 0)
                self._store(cols, rows, acc)

    # One instruction (or a DMA and its cast) each.

    def _load_a(self, t: int, rows: list) -> None:
        """Rows of A's tile t, cast into their place in the kept bf16 tile."""
        inner = self.k_tiles[t]
        # The kept tile is rows x (its width along K), row-major: a half's rows start further on.
        at = self.layout.a_bf16[t] + (rows[0] - self.rows[0]) * (inner[1] - inner[0]) * BF16_BYTES
        staging = self.layout.take("a_f32")
        _load_bf16(self.matmul.a, rows, inner, self.matmul.transposed[0], staging, at)

    def _load_block(self, tiles: list, cols: list) -> int:
        """B's rows of these tiles along K, one column of tiles: its bf16 copy's offset."""
        inner = [self.k_tiles[tiles[0]][0], self.k_tiles[tiles[-1]][1]]
        narrow = self.layout.take("b_bf16")
        staging = self.layout.take("b_f32")
        _load_bf16(self.matmul.b, inner, cols, self.matmul.transposed[1], staging, narrow)
        return narrow

    def _load_panel(self, cols: list) -> int:
        narrow = self.layout.take("panel_bf16")
        staging = self.layout.take("panel_f32")
        matmul = self.matmul
        _load_bf16(matmul.b, [0, matmul.k], cols, matmul.transposed[1], staging, narrow)
        return narrow

    def _matmul(self, t: int, rows: list, cols: list, acc: int, b_at: int, b_first: int):
        """acc[rows] += A[rows, tile t] . B[tile t, cols], B's rows at ``b_at`` starting with
        tile ``b_first``."""
        inner, tile_n = self.k_tiles[t], cols[1] - cols[0]
        tile_m, tile_k = rows[1] - rows[0], inner[1] - inner[0]
        row_offset = rows[0] - self.rows[0]
        b_row = inner[0] - self.k_tiles[b_first][0]
        accel.create(
            "matmul",
            lhs_at=self.layout.a_bf16[t] + row_offset * tile_k * BF16_BYTES,
            lhs_shape=[tile_m, tile_k],
            rhs_at=b_at + b_row * tile_n * BF16_BYTES,
            rhs_shape=[tile_k, tile_n],
            acc_at=acc + row_offset * tile_n * F32_BYTES,
            acc_shape=[tile_m, tile_n],
        )

    def _start(self, cols: list, rows: list, acc: int) -> None:
        """Zero, or C's tile when C was not zero-filled (the matmul adds onto it)."""
        if self.matmul.zeroed:
            accel.create("zero", at=acc, shape=[rows[1] - rows[0], cols[1] - cols[0]])
        else:
            accel.create("dma_load", [self.matmul.c], **self._c_box(rows, cols), to=acc)

    def _store(self, cols: list, rows: list, acc: int) -> None:
        at = acc + (rows[0] - self.rows[0]) * (cols[1] - cols[0]) * F32_BYTES
        accel.create("dma_store", [self.matmul.c], **self._c_box(rows, cols), from_=at)

    def _c_box(self, rows: list, cols: list) -> dict:
        """The DMA box of C's tile at these rows and columns (of C^T when swapped: C's box read
        transposed)."""
        if not self.matmul.swapped:
            return accel.box(rows, cols)
        return {**accel.box(cols, rows), "perm": [1, 0]}


def _load_bf16(source, rows, cols, transposed: bool, staging: int, narrow: int) -> None:
    """DMA of the operand's rows x cols tile into f32 ``staging``, then its cast to bf16 at
    ``narrow``. ``transposed``: ``source`` holds the operand transposed."""
    if not transposed:
        accel.create("dma_load", [source], rows=rows, cols=cols, to=staging)
    else:
        # The stored tensor's cols x rows box, its dims swapped into the tile: one transposing DMA.
        box = accel.box(cols, rows)
        accel.create("dma_load", [source], **box, perm=[1, 0], to=staging)
    cast_to_bf16(staging, narrow, (rows[1] - rows[0]) * (cols[1] - cols[0]))


def cast_to_bf16(staging: int, narrow: int, elements: int, lanes: int = TILE) -> None:
    """Casts ``elements`` contiguous f32 values at ``staging`` to bf16 at ``narrow``, seen as rows
    of ``lanes`` (the vector unit's width: it takes one row a cycle, so a narrow tile cast as it is
    shaped, one element a row, would take one cycle an element), and a last shorter row."""
    full, rest = divmod(elements, lanes)
    pieces = [(0, [full, lanes])] if full else []
    if rest or not elements:
        pieces.append((full * lanes, [1, rest]))
    for first, shape in pieces:
        accel.create(
            "cast",
            from_at=staging + first * F32_BYTES,
            from_dtype="float32",
            to_at=narrow + first * BF16_BYTES,
            to_dtype="bfloat16",
            shape=shape,
        )
