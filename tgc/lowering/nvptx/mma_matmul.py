"""tgc-nvptx-mma-matmul: a static f32 linalg.matmul on buffers becomes one gpu.launch whose warps
multiply on tensor cores (mma.sync m16n8k8 in TF32, sm_80 and later), when the user allows TF32.

TF32 keeps float32's exponent and 10 of its 23 mantissa bits: the products round the operands to
that (relative error up to 2^-11 each), the sums stay float32. So, as in PyTorch
(``torch.backends.cuda.matmul.allow_tf32``), it is opt-in: the pass rewrites matmuls only with
``allow-tf32=true`` (``tgc compile --allow-tf32``); otherwise tgc-nvptx-tile-matmul's FMA kernel
takes them. (f64 has no TF32 form; tgc has no bf16/f16 tensors on this target.)

A block computes a BM x BN tile of C with WARPS_M x WARPS_N warps, each warp a (BM/WARPS_M) x
(BN/WARPS_N) tile as a grid of 16x8 mma tiles whose accumulators (vector<2x2xf32>, the PTX
fragment layout) are the K loop's iter_args. K advances in steps of BK: the block's threads load
the A tile (BM x BK) and the B tile (BK x BN) into workgroup (shared) memory in their global layout
(consecutive threads reading consecutive addresses of the operand's fastest dim, whichever operand
is transposed), each row padded so that a warp's fragment reads hit 32 different banks, then a
barrier, then each warp runs BK/8 steps of mma.sync with fragments read out of shared memory, then
a barrier before the next tiles overwrite the shared ones. The fragments follow PTX's layout for
m16n8k8 .tf32 (lane = 4 * group + t): A's a0..a3 are (group, t), (group + 8, t), (group, t + 4),
(group + 8, t + 4) of the 16x8 tile; B's b0, b1 are (t, group), (t + 4, group) of the 8x8 tile;
C's c0..c3 are (group, 2t), (group, 2t + 1), (group + 8, 2t), (group + 8, 2t + 1). Loads past M,
N or K read zero and stores past M or N are skipped, so any shape runs. The matmul accumulates
into C (linalg.matmul's C += A.B): C's initial value is read once, into the accumulators.

Where the shapes allow (every dim a multiple of its tile, the loads' fastest dim a multiple of
4 elements), the global loads are 16-byte vectors (ld.global.v4.f32) instead of single floats.

The nvptx-emulated target (kernels run on the host, tgc-nvptx-kernels-on-host) has no tensor
cores and cannot run a warp-wide mma.sync: it leaves this pass out and keeps the FMA kernel.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.nvptx.tile_matmul import TiledMatmulWriter, matmul_transposes
from tgc.passes.base import ModulePass

WARP = 32
MMA_M, MMA_N, MMA_K = 16, 8, 8  # m16n8k8, the TF32 shape
VECTOR = 4  # floats per 16-byte global load


@dataclasses.dataclass(frozen=True)
class MmaTiles:
    """Block tile BM x BN of WARPS_M x WARPS_N warps, K step BK; shared rows padded so that a
    warp's fragment reads fall in 32 different banks (a row of BK floats + 4, of 128 + 8)."""

    bm: int = 128
    bn: int = 128
    bk: int = 32
    warps_m: int = 2
    warps_n: int = 4

    @property
    def warp_m(self) -> int:
        return self.bm // self.warps_m

    @property
    def warp_n(self) -> int:
        return self.bn // self.warps_n

    @property
    def threads(self) -> int:
        return WARP * self.warps_m * self.warps_n

    @property
    def bk_padded(self) -> int:
        return self.bk + 4

    def padded(self, fast: int) -> int:
        """A shared row of ``fast`` floats, padded: fragment reads step the other dim by 4
        (rows of BK: 4 banks apart) or 8 (rows of BM or BN: 8 banks apart)."""
        return fast + (4 if fast == self.bk else 8)


def _static_f32_buffers(op) -> bool:
    types = [o.type for o in op.operands]
    if not all(isinstance(t, ir.MemRefType) for t in types):
        return False
    memrefs = [ir.MemRefType(t) for t in types]
    return all(m.has_static_shape and isinstance(m.element_type, ir.F32Type) for m in memrefs)


def _identity_layout(memref: ir.MemRefType) -> bool:
    layout = memref.layout
    identity = ir.AffineMap.get_identity(memref.rank)
    return isinstance(layout, ir.AffineMapAttr) and layout.value == identity


class _MmaWriter(TiledMatmulWriter):
    """MLIR text of one tensor-core matmul: a function of (A, B, C) whose body is the launch."""

    def __init__(self, tiles: MmaTiles, types: list, shape: tuple, transposes):
        super().__init__(tiles, types, shape, transposes)
        # The shared tiles in their operand's global layout: [slow dim][fast dim, padded].
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
        shared = f" workgroup(%As : {sa}, %Bs : {sb})"
        self.emit(
            f"gpu.launch blocks(%bx, %by, %bz) in (%gx = {grid_x}, %gy = {grid_y}, %gz = {one})"
            f" threads(%tx, %ty, %tz) in (%sx = {self.const(t.threads)}, %sy = {one},"
            f" %sz = {one}){shared} {{"
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

    def _shared_type(self, dims: tuple) -> str:
        slow, fast = dims
        return f"memref<{slow}x{self.t.padded(fast)}xf32, #gpu.address_space<workgroup>>"

    def _body(self, sa: str, sb: str) -> None:
        t = self.t
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
        tiles = [(i, j) for i in range(t.warp_m // MMA_M) for j in range(t.warp_n // MMA_N)]
        acc_type = "vector<2x2xf32>"
        initial = [self._load_c_fragment(i, j) for i, j in tiles]
        types = ", ".join([acc_type] * len(tiles))
        iters = ", ".join(f"%acc{n} = {v}" for n, v in enumerate(initial))
        self.emit(
            f"%final:{len(tiles)} = scf.for %kt = {self.const(0)} to {self.const(self.k)} "
            f"step {self.const(t.bk)} iter_args({iters}) -> ({types}) {{"
        )
        self._load_tile("%A", 0, self.a_dims, ("%As", sa))
        self._load_tile("%B", 1, self.b_dims, ("%Bs", sb))
        self.emit("gpu.barrier")
        acc = [f"%acc{n}" for n in range(len(tiles))]
        for kk in range(0, t.bk, MMA_K):
            acc = self._mma_step(kk, tiles, acc, sa, sb)
        self.emit("gpu.barrier")
        self.emit(f"scf.yield {', '.join(acc)} : {types}")
        self.emit("}")
        for n, (i, j) in enumerate(tiles):
            self._store_c_fragment(f"%final#{n}", i, j)

    # ---- C: the accumulators' fragments ------------------------------------------------------

    def _c_positions(self, i: int, j: int) -> list:
        """(row, col) in C of the fragment's c0..c3 for mma tile (i, j) of the warp."""
        row = self._offset("%m0", "%wrow", i * MMA_M)
        row = self._add(row, "%group")
        row8 = self._add(row, self.const(8))
        col = self._offset("%n0", "%wcol", j * MMA_N)
        quad2 = self.fresh("q2")
        self.emit(f"{quad2} = arith.muli %quad, {self.const(2)} : index")
        col = self._add(col, quad2)
        col1 = self._add(col, self.const(1))
        return [(row, col), (row, col1), (row8, col), (row8, col1)]

    def _load_c_fragment(self, i: int, j: int) -> str:
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

    def _load_tile(self, buffer: str, operand: int, dims: tuple, shared: tuple) -> None:
        """The cooperative load of one operand's tile (``dims``: [slow][fast] in its global
        layout): thread ``tx`` loads elements tx, tx + threads, ... numbered along the fast dim
        (vectors of 4 where no element needs a bound test). ``shared``: (name, type)."""
        t = self.t
        shared_name, shared_type = shared
        slow, fast = dims
        width = VECTOR if self._vectorizable(operand, fast) else 1
        for e in range(0, slow * fast, t.threads * width):
            fast_i, slow_i = self._split_scaled("%tx", e, fast, width)
            g_slow, g_fast = self._global_indices(operand, slow_i, fast_i)
            where = f"{g_slow}, {g_fast}"
            if width == VECTOR:
                v = self.fresh("vec")
                vt = f"vector<{VECTOR}xf32>"
                # Aligned: whole rows of a multiple of 4 floats from a 256-byte aligned buffer
                # (tgc/lowering/nvptx/launch_plan.py WORKSPACE_ALIGNMENT).
                self.emit(
                    f"{v} = vector.load {buffer}[{where}] {{alignment = 16}} : "
                    f"{self.types[operand]}, {vt}"
                )
                self.emit(
                    f"vector.store {v}, {shared_name}[{slow_i}, {fast_i}] : {shared_type}, {vt}"
                )
                continue
            ok = self._both(*self._bounds(operand, g_slow, g_fast))
            v = self._load_or_zero(ok, buffer, str(self.types[operand]), where)
            self.emit(f"memref.store {v}, {shared_name}[{slow_i}, {fast_i}] : {shared_type}")

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

    def _global_indices(self, operand: int, slow: str, fast: str) -> tuple:
        """The tile's (slow, fast) element in the operand's global buffer: A is (m, k), or (k, m)
        transposed; B is (k, n), or (n, k) transposed."""
        transposed = self.ta if operand == 0 else self.tb
        base_mn = "%m0" if operand == 0 else "%n0"
        k_first = (operand == 0) == transposed  # A^T and plain B are (k, mn)
        if k_first:
            return self._add("%kt", slow), self._add(base_mn, fast)
        return self._add(base_mn, slow), self._add("%kt", fast)

    def _bounds(self, operand: int, g_slow: str, g_fast: str) -> tuple:
        t = self.t
        transposed = self.ta if operand == 0 else self.tb
        mn, mn_tile = (self.m, t.bm) if operand == 0 else (self.n, t.bn)
        k_first = (operand == 0) == transposed
        gk, gmn = (g_slow, g_fast) if k_first else (g_fast, g_slow)
        return self._in_bounds(gmn, mn, mn_tile), self._in_bounds(gk, self.k, t.bk)

    # ---- shared -> fragments -> mma.sync ------------------------------------------------------

    def _mma_step(self, kk: int, tiles: list, acc: list, sa: str, sb: str) -> list:
        """One k8 step: the warp's A fragments (one per 16-row tile), B fragments (one per 8-col
        tile), then an mma.sync per (row tile, col tile)."""
        rows = {i for i, _ in tiles}
        cols = {j for _, j in tiles}
        k0 = self._add(self.const(kk), "%quad")
        k4 = self._add(k0, self.const(4))
        a = {i: self._a_fragment(i, k0, k4, sa) for i in sorted(rows)}
        b = {j: self._b_fragment(j, k0, k4, sb) for j in sorted(cols)}
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

    def _a_fragment(self, i: int, k0: str, k4: str, sa: str) -> str:
        row = self._offset(self.const(i * MMA_M), "%wrow", 0)
        row = self._add(row, "%group")
        row8 = self._add(row, self.const(8))
        places = [(row, k0), (row8, k0), (row, k4), (row8, k4)]
        values = [self._shared_at(("%As", sa), r, k, transposed=self.ta) for r, k in places]
        name = self.fresh("afrag")
        self.emit(f"{name} = vector.from_elements {', '.join(values)} : vector<4x1xf32>")
        return name

    def _b_fragment(self, j: int, k0: str, k4: str, sb: str) -> str:
        col = self._offset(self.const(j * MMA_N), "%wcol", 0)
        col = self._add(col, "%group")
        # Plain B is stored (k, n), transposed (n, k): "transposed" here means (n, k) order.
        values = [self._shared_at(("%Bs", sb), col, k, transposed=not self.tb) for k in (k0, k4)]
        name = self.fresh("bfrag")
        self.emit(f"{name} = vector.from_elements {', '.join(values)} : vector<2x1xf32>")
        return name

    def _shared_at(self, shared: tuple, mn: str, k: str, *, transposed: bool) -> str:
        """Element (mn, k) of a shared tile (name, type) stored (mn, k), or (k, mn) when
        ``transposed``."""
        name = self.fresh("sh")
        where = f"{k}, {mn}" if transposed else f"{mn}, {k}"
        self.emit(f"{name} = memref.load {shared[0]}[{where}] : {shared[1]}")
        return name


@dataclasses.dataclass(frozen=True)
class MmaMatmulPass(ModulePass):
    """Static f32 linalg.matmul on buffers (plain or transposed operands) -> a gpu.launch of warps
    running mma.sync in TF32, with ``allow_tf32``; without it the pass changes nothing."""

    name = "tgc-nvptx-mma-matmul"
    allow_tf32: bool = False

    def run(self, module: ir.Module) -> None:
        if not self.allow_tf32:
            return
        for op in all_ops(module):
            if op.name == "linalg.matmul" and _static_f32_buffers(op):
                transposes = matmul_transposes(op)
                if transposes is not None:
                    self._replace(op, transposes)

    def _replace(self, op, transposes) -> None:
        a, b, c = (ir.MemRefType(o.type) for o in op.operands)
        m, n = c.shape
        k = a.shape[0] if transposes[0] else a.shape[1]
        writer = _MmaWriter(MmaTiles(), [a, b, c], (m, n, k), transposes)
        parsed = ir.Module.parse(writer.text())
        body = parsed.body.operations[0].regions[0].blocks[0]
        for arg, operand in zip(body.arguments, op.operands):
            arg.replace_all_uses_with(operand)
        for inner in list(body.operations)[:-1]:  # all but func.return
            inner.move_before(op)
        op.erase()
