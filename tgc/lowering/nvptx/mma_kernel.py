"""The tensor-core matmul kernel of tgc-nvptx-mma-matmul (mma_matmul.py): the MLIR text of one
gpu.launch whose warps multiply on tensor cores (mma.sync m16n8k8 in TF32, sm_80 and later).

A block computes a BM x BN tile of C with WARPS_M x WARPS_N warps, each warp a (BM/WARPS_M) x
(BN/WARPS_N) tile as a grid of 16x8 mma tiles whose accumulators (vector<2x2xf32>, the PTX
fragment layout) are the K loop's iter_args. K advances in steps of BK through STAGES buffers of
workgroup (shared) memory filled by cp.async (nvgpu.device_async_copy): the A tile (BM x BK) and
the B tile (BK x BN) are copied in their global layout, consecutive threads copying consecutive
addresses of the operand's fastest dim (whichever operand is transposed), 16 bytes per copy where
whole rows allow (every dim a multiple of its tile, rows a multiple of 4 floats, a buffer of its
own), else 4; each shared row's columns are XOR-swizzled (unpadded) so that neither a warp's
fragment reads nor its copies meet a bank twice (counted by bank_conflicts.py).
Each iteration waits for its own tile's copies, passes one barrier (the tile has landed, and every
warp is done with the buffer the next copies overwrite), starts the copies of the tile STAGES - 1
steps ahead, then runs BK/8 mma.sync steps out of shared memory while those copies fly (a
fragment of a tile stored along k, A's or B^T's, by one ldmatrix, A^T's by scalar loads; plain B's
as 8-byte pairs, the mma then computing C^T = B^T A^T: MmaWriter._swapped). The
fragments follow PTX's layout for m16n8k8 .tf32 (lane = 4 * group + t): A's a0..a3 are (group, t),
(group + 8, t), (group, t + 4), (group + 8, t + 4) of the 16x8 tile; B's b0, b1 are (t, group),
(t + 4, group) of the 8x8 tile; C's c0..c3 are (group, 2t), (group, 2t + 1), (group + 8, 2t),
(group + 8, 2t + 1). A copy of an element past M, N or K reads nothing and fills zeros (cp.async's
source size 0), and stores past M or N are skipped, so any shape runs. The matmul accumulates into
C (linalg.matmul's C += A.B): C's initial value is read once, into the accumulators, unless C
starts at zero (``zero_init``: the pass dropped C's zero fill): then C is only written. The A and
B stages are views of the launch's dynamic shared memory (gpu.dynamic_shared_memory, the launch's
dynamic_shared_memory_size: the launch plan carries the bytes, the CUDA runtime opts the kernel in
past 48 KiB and refuses more than its device gives a block), 96 KiB with the default tiles; the
pass leaves tiles past sm_90's 227 KiB to the FMA kernel. MLIR's lowering declares the dynamic
memory's symbol as a 1-byte static buffer (ptxas: "1 bytes smem"), the kernel's only static
shared memory: the dynamic region follows it, so the views' addresses stay in the block's
shared memory, and the runtime counts the byte against the device's limit.

The nvptx-emulated target (kernels run on the host, tgc-nvptx-kernels-on-host, one thread after
another) runs this kernel with its warp-wide mma.sync and its cp.async emulated (mma_emulated.py),
TF32 as the operands cut to 10 mantissa bits: the GPU's numbers up to the order of the sums.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.lowering.nvptx.tile_matmul import TiledMatmulWriter

WARP = 32
MMA_M, MMA_N, MMA_K = 16, 8, 8  # m16n8k8, the TF32 shape
VECTOR = 4  # floats per 16-byte copy
STATIC_SHARED_BYTES = 48 * 1024  # the most shared memory a kernel may declare (ptxas refuses more)
# The most dynamic shared memory a block may opt into (cuFuncSetAttribute's
# MAX_DYNAMIC_SHARED_SIZE_BYTES) on sm_90; sm_80 allows 163 KiB, sm_86/89 99 KiB: the runtime
# refuses a launch past its device's CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN.
DYNAMIC_SHARED_BYTES = 227 * 1024
WORKGROUP = "#gpu.address_space<workgroup>"


@dataclasses.dataclass(frozen=True)
class MmaTiles:
    """Block tile BM x BN of WARPS_M x WARPS_N warps, K step BK, STAGES shared buffers.

    The default, 128x128 of 4 warps of 64x64 and BK 32 in three stages (CUTLASS's usual TF32
    tile, 128x128x32_3): a warp's k8 step reads 16 words of A and 16 of B fragments per lane for
    32 mma.sync, one shared word per mma (a 64x32 warp tile reads 1.5), shared-memory bandwidth
    being what bounds mma.sync kernels. The stages are dynamic shared memory, 96 KiB (past the
    48 KiB a kernel may declare statically; sm_80 and later give a block up to 163 or 227 KiB,
    sm_86/89 99 KiB), so two tiles of 32 k are in flight while the warps multiply a third. On
    sm_90 (ptxas, the 4096^3 NN kernel): 248 registers, no spills, two blocks per SM (registers
    and 2 x 96 KiB of shared memory both allow it); the K loop's SASS is 259 instructions for 128
    HMMA (2.0 per HMMA) where BK 16 in three stages, the 48 KiB static default before, takes 180
    for 64 (2.8): half the barriers, waits and stage arithmetic per mma. Not yet timed on a GPU
    (benchmarks/gpu_check.py times it beside the other tiles)."""

    bm: int = 128
    bn: int = 128
    bk: int = 32
    warps_m: int = 2
    warps_n: int = 2
    stages: int = 3

    def __post_init__(self):
        """The shared tiles' swizzle (MmaWriter._swizzled) needs whole 128-byte lines of banks:
        rows of BM, BN floats a multiple of 32, of BK a power of two from 8."""
        if self.bm % 32 or self.bn % 32 or self.bk < MMA_K or self.bk & (self.bk - 1):
            raise ValueError(
                f"MmaTiles: BM {self.bm} and BN {self.bn} must be multiples of 32 and BK "
                f"{self.bk} a power of two from {MMA_K}"
            )
        if self.stages < 2:
            raise ValueError(f"MmaTiles: {self.stages} stages; the copies ahead need 2 or more")
        if self.bm % (self.warps_m * MMA_M) or self.bn % (self.warps_n * MMA_N):
            raise ValueError(
                f"MmaTiles: a warp's tile ({self.bm}/{self.warps_m} x {self.bn}/{self.warps_n}) "
                f"must be whole {MMA_M}x{MMA_N} mma tiles"
            )

    @property
    def warp_m(self) -> int:
        return self.bm // self.warps_m

    @property
    def warp_n(self) -> int:
        return self.bn // self.warps_n

    @property
    def threads(self) -> int:
        return WARP * self.warps_m * self.warps_n

    def shared_bytes(self, transposes: tuple) -> int:
        """The STAGES buffers of the A and B tiles, stored unpadded in their operands' layouts."""
        return 4 * self.stages * self.bk * (self.bm + self.bn)


def _identity_layout(memref: ir.MemRefType) -> bool:
    layout = memref.layout
    identity = ir.AffineMap.get_identity(memref.rank)
    return isinstance(layout, ir.AffineMapAttr) and layout.value == identity


class MmaWriter(TiledMatmulWriter):
    """MLIR text of one tensor-core matmul: a function of (A, B, C) whose body is the launch."""

    def __init__(
        self, tiles: MmaTiles, types: list, shape: tuple, transposes, zero_init: bool = False
    ):
        super().__init__(tiles, types, shape, transposes)
        # C was just filled with zeros: the accumulators start at zero, C is never read.
        self.zero_init = zero_init
        # The shared tiles in their operand's global layout: [slow dim][fast dim, swizzled].
        t = tiles
        self.a_dims = (t.bk, t.bm) if self.ta else (t.bm, t.bk)
        self.b_dims = (t.bn, t.bk) if self.tb else (t.bk, t.bn)

    def text(self) -> str:
        self.constants: dict[str, str] = {}
        self.prefix = "c"
        t = self.t
        ta, tb, tc = (str(x) for x in self.types)
        sa, sb = self._shared_type(self.a_dims), self._shared_type(self.b_dims)
        grid_x = self.const(-(-self.n // t.bn))
        grid_y = self.const(-(-self.m // t.bm))
        one = self.const(1)
        attributions = self._attributions()
        shared = f" workgroup({attributions})" if attributions else ""
        self.emit(f"%shared_bytes = arith.constant {t.shared_bytes((self.ta, self.tb))} : i32")
        self.emit(
            f"gpu.launch blocks(%bx, %by, %bz) in (%gx = {grid_x}, %gy = {grid_y}, %gz = {one})"
            f" threads(%tx, %ty, %tz) in (%sx = {self.const(t.threads)}, %sy = {one},"
            f" %sz = {one}) dynamic_shared_memory_size %shared_bytes{shared} {{"
        )
        outer = self.constants
        launch, self.lines = self.lines, []
        # The kernel's constants inside the launch (as tile_matmul: they fold there).
        self.constants, self.prefix = {}, "k"
        self._body(sa, sb)
        body = [*self.constants.values(), *self.lines]
        head = f"func.func @mma(%A: {ta}, %B: {tb}, %C: {tc}) {{"
        closing = ["gpu.terminator", "}", "return", "}"]
        return "\n".join([head, *outer.values(), *launch, *body, *closing])

    def _attributions(self) -> str:
        """Static workgroup buffers besides the dynamic ones (none: the A and B stages)."""
        return ""

    def _dynamic_shared(self, sa: str, sb: str) -> None:
        """%As and %Bs: the A stages, then the B stages, in the launch's dynamic shared memory
        (B's at a multiple of 128 bytes: the swizzle's lines of banks start where a bank 0 does)."""
        dynamic = f"memref<?xi8, {WORKGROUP}>"
        a_bytes = 4 * self.t.stages * self.a_dims[0] * self.a_dims[1]
        self.emit(f"%smem = gpu.dynamic_shared_memory : {dynamic}")
        self.emit(f"%As = memref.view %smem[{self.const(0)}][] : {dynamic} to {sa}")
        self.emit(f"%Bs = memref.view %smem[{self.const(a_bytes)}][] : {dynamic} to {sb}")

    def _shared_type(self, dims: tuple) -> str:
        slow, fast = dims
        return f"memref<{self.t.stages}x{slow}x{fast}xf32, {WORKGROUP}>"

    def _body(self, sa: str, sb: str) -> None:
        t = self.t
        self._dynamic_shared(sa, sb)
        self.emit(f"%m0 = arith.muli %by, {self.const(t.bm)} : index")
        self.emit(f"%n0 = arith.muli %bx, {self.const(t.bn)} : index")
        self.emit(f"%warp = arith.divui %tx, {self.const(WARP)} : index")
        self.emit(f"%lane = arith.remui %tx, {self.const(WARP)} : index")
        self.emit(f"%group = arith.divui %lane, {self.const(4)} : index")
        self.emit(f"%quad = arith.remui %lane, {self.const(4)} : index")
        self.emit(f"%wm = arith.divui %warp, {self.const(t.warps_n)} : index")
        self.emit(f"%wn = arith.remui %warp, {self.const(t.warps_n)} : index")
        self.emit(f"%wrow = arith.muli %wm, {self.const(t.warp_m)} : index")
        self.emit(f"%wcol = arith.muli %wn, {self.const(t.warp_n)} : index")
        tiles = self._mma_tiles()
        acc_type = "vector<2x2xf32>"
        initial = [self._load_c_fragment(i, j) for i, j in tiles]
        shared = (("%As", sa), ("%Bs", sb))
        # The first STAGES - 1 K tiles' copies, in flight while the loop starts.
        last = self._last_tile_start()
        for stage in range(t.stages - 1):
            k0, at = self.const(min(stage * t.bk, last)), self.const(stage)
            group = self._copy_tiles(k0, at, shared)
        types = ", ".join([acc_type] * len(tiles))
        iters = ", ".join(f"%acc{n} = {v}" for n, v in enumerate(initial))
        self.emit(
            f"%final:{len(tiles)} = scf.for %kt = {self.const(0)} to {self.const(self.k)} "
            f"step {self.const(t.bk)} iter_args({iters}) -> ({types}) {{"
        )
        # Stage (kt / BK) % STAGES holds this tile: wait for its group (the STAGES - 2 later
        # ones may stay in flight), then a barrier (every thread's copies landed, and every
        # warp is done with the previous iteration's stage), then the copies of the tile
        # STAGES - 1 ahead into that stage, then the mma steps on this tile while they fly.
        # Past the last tile the copies fetch the last tile again, into a stage that is read no
        # more: a uniform min, where a test of every copy's k against K would cost a select of
        # its addresses and size (16 SEL and the 64-bit sums in the 4096 loop's SASS).
        self.emit(f"%step = arith.divui %kt, {self.const(t.bk)} : index")
        self.emit(f"%stage = arith.remui %step, {self.const(t.stages)} : index")
        self._wait(group, t.stages - 2)
        self.emit("gpu.barrier")
        ahead = t.stages - 1
        self.emit(f"%step_ahead = arith.addi %step, {self.const(ahead)} : index")
        self.emit(f"%stage_ahead = arith.remui %step_ahead, {self.const(t.stages)} : index")
        self.emit(f"%k_next = arith.addi %kt, {self.const(ahead * t.bk)} : index")
        self.emit(f"%k_ahead = arith.minui %k_next, {self.const(last)} : index")
        self._copy_tiles("%k_ahead", "%stage_ahead", shared)
        acc = [f"%acc{n}" for n in range(len(tiles))]
        for kk in range(0, t.bk, MMA_K):
            acc = self._mma_step(kk, tiles, acc, shared)
        self.emit(f"scf.yield {', '.join(acc)} : {types}")
        self.emit("}")
        # The last iterations' copies (of the last tile again) land before the block exits.
        self._wait(group, 0)
        for n, (i, j) in enumerate(tiles):
            self._store_c_fragment(f"%final#{n}", i, j)

    # ---- C: the accumulators' fragments ------------------------------------------------------

    def _swapped(self) -> bool:
        """Plain B (stored (k, n), which ldmatrix cannot transpose in 32 bits) with warp tiles of
        whole 16-column blocks: the mma computes C^T = B^T A^T, B the operand whose rows (n)
        are 16, A the one whose columns (m) are 8, so that B's fragment values come in pairs
        adjacent in shared memory (_swapped_b_fragment) and A's by ldmatrix where A's rows run
        along k."""
        return self._k_first(1) and self.t.warp_n % MMA_M == 0

    def _mma_tiles(self) -> list:
        """The warp's mma tiles (i, j): i a 16-row block of the mma's first operand, j an 8-col
        block of its second: of A and B, or swapped, of B^T and A^T."""
        t = self.t
        rows, cols = (t.warp_n, t.warp_m) if self._swapped() else (t.warp_m, t.warp_n)
        return [(i, j) for i in range(rows // MMA_M) for j in range(cols // MMA_N)]

    def _c_positions(self, i: int, j: int) -> list:
        """(row, col) in C of the fragment's c0..c3 for mma tile (i, j) of the warp."""
        if self._swapped():
            return self._swapped_c_positions(i, j)
        row = self._offset("%m0", "%wrow", i * MMA_M)
        row = self._add(row, "%group")
        row8 = self._add(row, self.const(8))
        col = self._offset("%n0", "%wcol", j * MMA_N)
        quad2 = self.fresh("q2")
        self.emit(f"{quad2} = arith.muli %quad, {self.const(2)} : index")
        col = self._add(col, quad2)
        col1 = self._add(col, self.const(1))
        return [(row, col), (row, col1), (row8, col), (row8, col1)]

    def _swapped_c_positions(self, i: int, j: int) -> list:
        """Swapped, the mma's accumulator is C^T's 16 x 8 tile of n block i, m block j, its row
        r standing for n = 16 i + 2 (r % 8) + r / 8 (_swapped_b_fragment): c0..c3, at (r, c) =
        (group, 2 quad), (group, 2 quad + 1), (group + 8, 2 quad), (group + 8, 2 quad + 1), are C's
        (m, n), (m + 1, n), (m, n + 1), (m + 1, n + 1) for m = 8 j + 2 quad, n = 16 i + 2 group."""
        m = self._add(self._offset("%m0", "%wrow", j * MMA_N), self._scaled("%quad", 2))
        n = self._add(self._offset("%n0", "%wcol", i * MMA_M), self._scaled("%group", 2))
        m1, n1 = self._add(m, self.const(1)), self._add(n, self.const(1))
        return [(m, n), (m1, n), (m, n1), (m1, n1)]

    def _load_c_fragment(self, i: int, j: int) -> str:
        if self.zero_init:
            if "%zeros" not in self.constants:
                self.constants["%zeros"] = "%zeros = arith.constant dense<0.0> : vector<2x2xf32>"
            return "%zeros"
        values = [self._guarded_load_c(r, c) for r, c in self._c_positions(i, j)]
        name = self.fresh("cfrag")
        self.emit(f"{name} = vector.from_elements {', '.join(values)} : vector<2x2xf32>")
        return name

    def _store_c_fragment(self, fragment: str, i: int, j: int) -> None:
        for n, (r, c) in enumerate(self._c_positions(i, j)):
            value = self.fresh("out")
            at = f"[{n // 2}, {n % 2}]"
            self.emit(f"{value} = vector.extract {fragment}{at} : f32 from vector<2x2xf32>")
            self._guarded_store_c(value, r, c)

    # ---- global -> shared ----------------------------------------------------------------------

    def _last_tile_start(self) -> int:
        """k of the last K tile (the prefetches past it fetch it again)."""
        return (self.k - 1) // self.t.bk * self.t.bk

    def _copy_tiles(self, k0: str, stage: str, shared: tuple) -> str:
        """cp.async of the A and B tiles at K offset ``k0`` into ``stage``, as one group (its
        token)."""
        tokens = [
            *self._copy_tile(0, self.a_dims, k0, stage, shared[0]),
            *self._copy_tile(1, self.b_dims, k0, stage, shared[1]),
        ]
        return self._group(tokens)

    def _group(self, tokens: list) -> str:
        group = self.fresh("group")
        self.emit(f"{group} = nvgpu.device_async_create_group {', '.join(tokens)}")
        return group

    def _wait(self, group: str, pending: int) -> None:
        """Until at most ``pending`` groups of copies are in flight. (The op wants a group's
        token; cp.async.wait_group counts groups, whichever token.)"""
        self.emit(f"nvgpu.device_async_wait {group} {{numGroups = {pending} : i32}}")

    def _copy_tile(self, operand: int, dims: tuple, k0: str, stage: str, shared: tuple) -> list:
        """The cooperative copy of one operand's tile (``dims``: [slow][fast] in its global
        layout) into shared ``stage``: thread ``tx`` copies elements tx, tx + threads, ...
        numbered along the fast dim (16-byte vectors where whole rows allow, else single floats),
        consecutive threads reading consecutive addresses. A copy of an element past M, N or K
        reads nothing and writes zeros (cp.async's source size 0), from index 0 (in bounds)."""
        t = self.t
        name, type_ = shared
        slow, fast = dims
        width = VECTOR if self._vectorizable(operand, fast) else 1
        tokens = []
        for e in range(0, slow * fast, t.threads * width):
            fast_i, slow_i = self._split_scaled("%tx", e, fast, width)
            g_slow, g_fast = self._global_indices(operand, k0, slow_i, fast_i)
            ok = self._both(*self._bounds(operand, g_slow, g_fast))
            at = (stage, slow_i, self._swizzled(operand, slow_i, fast_i))
            tokens.append(self._copy(operand, (g_slow, g_fast), shared, at, width, ok))
        return tokens

    def _copy(self, operand: int, where: tuple, shared: tuple, at: tuple, width: int, ok) -> str:
        """cp.async of ``width`` floats from ``where`` in the operand to ``at`` in ``shared``
        (name, type); none (zeros) unless ``ok``. Returns its token."""
        g_slow, g_fast = where
        if ok is not None:
            g_slow, g_fast = self._zero_unless(ok, g_slow), self._zero_unless(ok, g_fast)
        count = self.const(width) if ok is None else self._zero_unless(ok, self.const(width))
        token = self.fresh("copy")
        # 16 bytes bypass L1 (cp.async.cg); 4-byte copies exist only as .ca.
        bypass = " {bypassL1}" if width == VECTOR else ""
        self.emit(
            f"{token} = nvgpu.device_async_copy %{'AB'[operand]}[{g_slow}, {g_fast}], "
            f"{shared[0]}[{', '.join(at)}], {width}, {count}{bypass} : "
            f"{self.types[operand]} to {shared[1]}"
        )
        return token

    def _zero_unless(self, ok: str, value: str) -> str:
        name = self.fresh("sel")
        self.emit(f"{name} = arith.select {ok}, {value}, {self.const(0)} : index")
        return name

    def _vectorizable(self, operand: int, fast: int) -> bool:
        """No bound tests on this operand, and whole 16-byte vectors on every row of a buffer
        of its own (a view's offset could break the alignment)."""
        t = self.t
        if not _identity_layout(ir.MemRefType(self.types[operand])):
            return False
        m_ok, n_ok, k_ok = self.m % t.bm == 0, self.n % t.bn == 0, self.k % t.bk == 0
        inside = (m_ok if operand == 0 else n_ok) and k_ok
        global_fast = ir.MemRefType(self.types[operand]).shape[1]
        return inside and fast % VECTOR == 0 and global_fast % VECTOR == 0

    def _split_scaled(self, tid: str, start: int, fast: int, width: int) -> tuple:
        """Element ``tid * width + start`` of a tile as (fast index, slow index)."""
        scaled = tid
        if width != 1:
            scaled = self.fresh("w")
            self.emit(f"{scaled} = arith.muli {tid}, {self.const(width)} : index")
        return self._split(scaled, start, fast)

    def _global_indices(self, operand: int, k0: str, slow: str, fast: str) -> tuple:
        """The tile's (slow, fast) element in the operand's global buffer: A is (m, k), or (k, m)
        transposed; B is (k, n), or (n, k) transposed."""
        base_mn = "%m0" if operand == 0 else "%n0"
        if self._k_first(operand):
            return self._add(k0, slow), self._add(base_mn, fast)
        return self._add(base_mn, slow), self._add(k0, fast)

    def _k_first(self, operand: int) -> bool:
        """A^T and plain B are stored (k, mn); A and B^T (mn, k)."""
        return (operand == 0) == (self.ta if operand == 0 else self.tb)

    def _bounds(self, operand: int, g_slow: str, g_fast: str) -> tuple:
        """(mn < M or N, k < K) for the element, None where the tiles divide the dim (no copy
        reaches past it: the prefetches past the last K tile fetch it again)."""
        t = self.t
        mn, mn_tile = (self.m, t.bm) if operand == 0 else (self.n, t.bn)
        gk, gmn = (g_slow, g_fast) if self._k_first(operand) else (g_fast, g_slow)
        return self._in_bounds(gmn, mn, mn_tile), self._in_bounds(gk, self.k, t.bk)

    # ---- shared -> fragments -> mma.sync ------------------------------------------------------

    def _mma_step(self, kk: int, tiles: list, acc: list, shared: tuple) -> list:
        """One k8 step: the warp's A fragments (one per 16-row tile), B fragments (one per 8-col
        tile), then an mma.sync per (row tile, col tile)."""
        rows = {i for i, _ in tiles}
        cols = {j for _, j in tiles}
        k0 = self._add(self.const(kk), "%quad")
        k4 = self._add(k0, self.const(4))
        if self._swapped():
            a = {i: self._swapped_b_fragment(i, (k0, k4), shared[1]) for i in sorted(rows)}
            b = {j: self._swapped_a_fragment(j, kk, (k0, k4), shared[0]) for j in sorted(cols)}
        else:
            a = {i: self._a_fragment(i, kk, (k0, k4), shared[0]) for i in sorted(rows)}
            b = {j: self._b_fragment(j, kk, (k0, k4), shared[1]) for j in sorted(cols)}
        return self._multiply(kk, tiles, a, b, acc)

    def _swapped_b_fragment(self, i: int, ks: tuple, sb: tuple) -> list:
        """a0..a3 of the mma's first operand, B^T's 16 x 8 tile of n block ``i``: row r stands
        for n = 16 i + 2 (r % 8) + r / 8, so a0, a1 (rows group, group + 8 at k) are plain B's
        adjacent (k, n), (k, n + 1), n = 16 i + 2 group, and so are a2, a3 at k + 4: an 8-byte
        load each pair, into the register pair the mma takes (the swizzle XORs bits 3 and 4 of
        a column: a pair stays together)."""
        n = self._add(self._offset(self.const(i * MMA_M), "%wcol", 0), self._scaled("%group", 2))
        return [value for k in ks for value in self._shared_pair(sb, n, k)]

    def _swapped_a_fragment(self, j: int, kk: int, ks: tuple, sa: tuple) -> list:
        """b0, b1 of the mma's second operand, A^T's 8 x 8 tile of m block ``j``: (k, m) and
        (k + 4, m) for m = 8 j + group; one ldmatrix where A's rows run along k (as B^T's
        fragments unswapped), else 2 loads."""
        if not self._k_first(0):
            return self._ldmatrix(0, sa, 2, lambda lane: self._a_block_row(j, kk, lane))
        m = self._add(self._offset(self.const(j * MMA_N), "%wrow", 0), "%group")
        return [self._shared_at(0, sa, m, k) for k in ks]

    def _a_block_row(self, j: int, kk: int, lane: str) -> tuple:
        """(m, k) of the row ``lane`` addresses in the ldmatrix of A's 8-row block ``j``:
        matrix q = lane / 8 (lanes 16.. repeat 0..15, unused) is rows 0..7 at k (q % 2) * 4."""
        q, r = self._div_rem(lane, 8)
        _, k_block = self._div_rem(q, 2)
        row = self._offset(self.const(j * MMA_N), "%wrow", 0)
        return self._add(row, r), self._add(self.const(kk), self._scaled(k_block, 4))

    def _shared_pair(self, sb: tuple, n: str, k: str) -> tuple:
        """Plain B's (k, n) and (k, n + 1), ``n`` even: one 8-byte load."""
        name = self.fresh("pair")
        at = f"%stage, {k}, {self._swizzled(1, k, n)}"
        self.emit(f"{name} = vector.load {sb[0]}[{at}] {{alignment = 8}} : {sb[1]}, vector<2xf32>")
        first, second = self.fresh("pb"), self.fresh("pb")
        self.emit(f"{first} = vector.extract {name}[0] : f32 from vector<2xf32>")
        self.emit(f"{second} = vector.extract {name}[1] : f32 from vector<2xf32>")
        return first, second

    def _multiply(self, kk: int, tiles: list, a: dict, b: dict, acc: list) -> list:
        """acc[n] += A fragment i . B fragment j for each mma tile n = (i, j): mma.sync.
        ``a``, ``b``: each fragment's values (a0..a3, b0..b1)."""
        a = {i: self._vector(values, "vector<4x1xf32>") for i, values in a.items()}
        b = {j: self._vector(values, "vector<2x1xf32>") for j, values in b.items()}
        out = []
        for n, (i, j) in enumerate(tiles):
            name = self.fresh("mma")
            self.emit(
                f"{name} = nvgpu.mma.sync({a[i]}, {b[j]}, {acc[n]}) "
                f"{{mmaShape = [{MMA_M}, {MMA_N}, {MMA_K}], tf32Enabled}} : "
                "(vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>"
            )
            out.append(name)
        return out

    def _a_fragment(self, i: int, kk: int, ks: tuple, sa: tuple) -> list:
        """a0..a3 of the warp's 16-row tile ``i`` at k step ``kk`` (``ks``: this lane's k and
        k + 4): one ldmatrix where A's rows run along k, else 4 loads."""
        if not self._k_first(0):
            return self._ldmatrix(0, sa, 4, lambda lane: self._a_matrix_row(i, kk, lane))
        row = self._offset(self.const(i * MMA_M), "%wrow", 0)
        row = self._add(row, "%group")
        row8 = self._add(row, self.const(8))
        k0, k4 = ks
        places = [(row, k0), (row8, k0), (row, k4), (row8, k4)]
        return [self._shared_at(0, sa, r, k) for r, k in places]

    def _b_fragment(self, j: int, kk: int, ks: tuple, sb: tuple) -> list:
        """b0, b1 of the warp's 8-column tile ``j``: one ldmatrix where B^T's rows run along k,
        else 2 loads."""
        if not self._k_first(1):
            return self._ldmatrix(1, sb, 2, lambda lane: self._b_matrix_row(j, kk, lane))
        col = self._offset(self.const(j * MMA_N), "%wcol", 0)
        col = self._add(col, "%group")
        return [self._shared_at(1, sb, col, k) for k in ks]

    # ---- ldmatrix: a fragment in one instruction ------------------------------------------------
    # ldmatrix loads 8x8 matrices of 16-bit values, each row 16 bytes at an address that one lane
    # gives (lanes 8q .. 8q + 7 the rows of matrix q), lane l getting 32 bits of row l / 4 of
    # each: 4 floats a row, lane l float l % 4. For a tile stored with rows along k that is an
    # 8-row x 4-k block of floats, lane 4 * group + quad getting (group, quad): the TF32 fragment
    # layout. A's a0..a3 are 4 such blocks (rows +0 / +8, k +0 / +4), B^T's b0, b1 two (k +0 / +4),
    # in register order: one LDSM in place of 4 (2) LDS. Each 16-byte row is a whole swizzled
    # chunk (k a multiple of 4), 16-byte aligned.

    def _a_matrix_row(self, i: int, kk: int, lane: str) -> tuple:
        """(row, k) of the row ``lane`` addresses in A tile ``i``'s ldmatrix: matrix q = lane / 8
        is rows (q % 2) * 8 .. + 7 at k (q / 2) * 4 (a0..a3's places)."""
        q, r = self._div_rem(lane, 8)
        k_block, row_block = self._div_rem(q, 2)
        row = self._offset(self.const(i * MMA_M), "%wrow", 0)
        row = self._add(row, self._scaled(row_block, 8))
        row = self._add(row, r)
        return row, self._add(self.const(kk), self._scaled(k_block, 4))

    def _b_matrix_row(self, j: int, kk: int, lane: str) -> tuple:
        """(n, k) of the row ``lane`` addresses in B^T tile ``j``'s ldmatrix: matrix q = lane / 8
        (lanes 16.. repeat 0..15, unused) is rows n 0..7 at k (q % 2) * 4 (b0, b1's places)."""
        q, r = self._div_rem(lane, 8)
        _, k_block = self._div_rem(q, 2)
        col = self._offset(self.const(j * MMA_N), "%wcol", 0)
        return self._add(col, r), self._add(self.const(kk), self._scaled(k_block, 4))

    def _ldmatrix(self, operand: int, shared: tuple, tiles: int, row_of) -> list:
        """ldmatrix of ``tiles`` matrices, this lane giving the address of row ``row_of(%lane)``
        (mn, k); the lane's ``tiles`` floats."""
        mn, k = row_of("%lane")
        at = f"%stage, {mn}, {self._swizzled(operand, mn, k)}"
        name, vector_type = self.fresh("ldm"), f"vector<{tiles}x1xf32>"
        self.emit(
            f"{name} = nvgpu.ldmatrix {shared[0]}[{at}] {{numTiles = {tiles} : i32, "
            f"transpose = false}} : {shared[1]} -> {vector_type}"
        )
        values = []
        for q in range(tiles):
            value = self.fresh("lv")
            self.emit(f"{value} = vector.extract {name}[{q}, 0] : f32 from {vector_type}")
            values.append(value)
        return values

    def _div_rem(self, value: str, by: int) -> tuple:
        quotient, remainder = self.fresh("dq"), self.fresh("dr")
        self.emit(f"{quotient} = arith.divui {value}, {self.const(by)} : index")
        self.emit(f"{remainder} = arith.remui {value}, {self.const(by)} : index")
        return quotient, remainder

    def _scaled(self, value: str, by: int) -> str:
        name = self.fresh("sc")
        self.emit(f"{name} = arith.muli {value}, {self.const(by)} : index")
        return name

    def _vector(self, values: list, type_: str) -> str:
        name = self.fresh("frag")
        self.emit(f"{name} = vector.from_elements {', '.join(values)} : {type_}")
        return name

    def _shared_at(self, operand: int, shared: tuple, mn: str, k: str) -> str:
        """Element (mn, k) of the operand's shared tile (name, type), stored (mn, k), or (k, mn)
        for A^T and plain B, at its swizzled place."""
        name = self.fresh("sh")
        slow, fast = (k, mn) if self._k_first(operand) else (mn, k)
        at = f"%stage, {slow}, {self._swizzled(operand, slow, fast)}"
        self.emit(f"{name} = memref.load {shared[0]}[{at}] : {shared[1]}")
        return name

    # ---- the shared tiles' swizzle ------------------------------------------------------------
    # The tiles are stored unpadded (three stages fit the 48 KiB), each row's columns permuted by
    # an XOR with a function of the row so that neither the fragment reads nor the copies meet a
    # bank twice (bank_conflicts.py counts them; the tests hold them at zero). The XORs touch only
    # bits 2 and up of a column, so a 16-byte copy's 4 floats stay together.

    def _swizzled(self, operand: int, slow: str, fast: str) -> str:
        """Column of element (slow, fast) of the operand's tile.

        Rows of k (A^T, plain B; BM or BN floats, a multiple of 32): a fragment reads (k = quad +
        4h + 8s, mn = base + group): unswizzled all 4 quads hit the same 8 banks; mn ^ 8 * (k % 4)
        moves quad t's by 8t banks.

        Rows of mn (A, B^T; BK floats, BK / 4 chunks of 16 bytes, 32 / BK rows to a 128-byte line
        of banks): a fragment reads (mn = base + group (+8), k = quad + 4h + 8s): every lane in
        chunk h + 2s of its row, and rows a line apart in the same banks; chunk ^ (mn / rows per
        line) % chunks spreads the 8 groups over the 8 chunk positions of the 32 banks. A 16-byte
        copy phase (8 lanes: 8 consecutive chunks, whole rows) stays apart.

        BK a power of two from 8, BM and BN multiples of 32 (MmaTiles checks)."""
        name = self.fresh("swz")
        if self._k_first(operand):
            self.emit(f"{name}_r = arith.remui {slow}, {self.const(4)} : index")
            self.emit(f"{name}_x = arith.muli {name}_r, {self.const(8)} : index")
        else:
            per_line, chunks = max(1, WARP // self.t.bk), self.t.bk // VECTOR
            self.emit(f"{name}_h = arith.divui {slow}, {self.const(per_line)} : index")
            self.emit(f"{name}_r = arith.remui {name}_h, {self.const(chunks)} : index")
            self.emit(f"{name}_x = arith.muli {name}_r, {self.const(VECTOR)} : index")
        self.emit(f"{name} = arith.xori {fast}, {name}_x : index")
        return name
