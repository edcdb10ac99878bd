"""tgc-nvptx-tile-matmul: a static float linalg.matmul on buffers becomes one tiled gpu.launch.

A block computes a BM x BN tile of C with (BM/TM) x (BN/TN) threads, each thread a TM x TN
micro-tile of C held in registers (the K loop's iter_args). K advances in steps of BK: the
block's threads first load the A tile (BM x BK) and the B tile (BK x BN) together into
workgroup (shared) memory, each thread a few elements, consecutive threads reading consecutive
addresses of the operand's fastest dim (coalesced, whichever operand is transposed), then a
gpu.barrier, then each thread runs the BK rank-1 updates of its micro-tile out of shared memory,
then a barrier before the next tiles overwrite the shared ones. A thread's rows are ty, ty + BM/TM,
..., its columns tx, tx + BN/TN, ...: a warp reads consecutive shared words (no bank conflicts)
and stores consecutive columns of C. Loads past M, N or K read zero and stores past M or N are
skipped, so any shape runs; a dim the tiles divide (4096 by 128 and 8) has no test. The matmul
accumulates into C (linalg.matmul's C += A.B): C's initial value is read once, into registers.

Transposed operands (the gradients' A^T.B and A.B^T) are read through the matmul's indexing
maps: A as (k, m), B as (n, k).

tgc-nvptx-kernels-on-host runs this kernel as it is (nvptx-emulated): its barriers split the
body into phases, each a loop over the block's threads (barrier_phases.py).
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.nvptx.kernel_text import KernelText
from tgc.passes.base import ModulePass

# The indexing maps of linalg.matmul's transposed forms (tgc/lowering/to_core/linalg_ops.py).
_A_TRANSPOSED = "affine_map<(d0, d1, d2) -> (d2, d0)>"
_B_TRANSPOSED = "affine_map<(d0, d1, d2) -> (d1, d2)>"
_A_PLAIN = "affine_map<(d0, d1, d2) -> (d0, d2)>"
_B_PLAIN = "affine_map<(d0, d1, d2) -> (d2, d1)>"
_C_PLAIN = "affine_map<(d0, d1, d2) -> (d0, d1)>"


@dataclasses.dataclass(frozen=True)
class Tiles:
    """Block tile BM x BN, thread micro-tile TM x TN, K step BK."""

    bm: int = 128
    bn: int = 128
    tm: int = 8
    tn: int = 8
    bk: int = 8

    @property
    def threads_x(self) -> int:
        return self.bn // self.tn

    @property
    def threads_y(self) -> int:
        return self.bm // self.tm

    @property
    def threads(self) -> int:
        return self.threads_x * self.threads_y


def matmul_transposes(op) -> tuple[bool, bool] | None:
    """(A transposed, B transposed) from the matmul's maps; None for maps of another form."""
    if "indexing_maps" not in op.attributes:
        return False, False
    maps = [str(m) for m in ir.ArrayAttr(op.attributes["indexing_maps"])]
    if maps[2] != _C_PLAIN or maps[0] not in (_A_PLAIN, _A_TRANSPOSED):
        return None
    if maps[1] not in (_B_PLAIN, _B_TRANSPOSED):
        return None
    return maps[0] == _A_TRANSPOSED, maps[1] == _B_TRANSPOSED


def _static_float_buffers(op) -> bool:
    types = [o.type for o in op.operands]
    if not all(isinstance(t, ir.MemRefType) for t in types):
        return False
    memrefs = [ir.MemRefType(t) for t in types]
    floats = (ir.F32Type, ir.F64Type)
    return all(m.has_static_shape and isinstance(m.element_type, floats) for m in memrefs) and (
        len({str(m.element_type) for m in memrefs}) == 1
    )


class TiledMatmulWriter(KernelText):
    """MLIR text of one tiled matmul: a function of (A, B, C) whose body is the launch."""

    def __init__(self, tiles: Tiles, types: list, shape: tuple, transposes):
        super().__init__()
        self.t, self.types = tiles, types
        self.m, self.n, self.k = shape
        self.ta, self.tb = transposes
        self.el = str(ir.MemRefType(types[0]).element_type)

    def text(self) -> str:
        self.constants: dict[str, str] = {}
        self.prefix = "c"
        t = self.t
        ta, tb, tc = (str(x) for x in self.types)
        space = "#gpu.address_space<workgroup>"
        pad = self._row_padding()
        sa = f"memref<{t.bk}x{t.bm + pad}x{self.el}, {space}>"
        sb = f"memref<{t.bk}x{t.bn + pad}x{self.el}, {space}>"
        grid_x = self.const(-(-self.n // t.bn))
        grid_y = self.const(-(-self.m // t.bm))
        one = self.const(1)
        tx_n, ty_n = self.const(t.threads_x), self.const(t.threads_y)
        shared = f" workgroup(%As : {sa}, %Bs : {sb})"
        self.emit(
            f"gpu.launch blocks(%bx, %by, %bz) in (%gx = {grid_x}, %gy = {grid_y}, %gz = {one})"
            f" threads(%tx, %ty, %tz) in (%sx = {tx_n}, %sy = {ty_n}, %sz = {one}){shared} {{"
        )
        outer = self.constants
        launch, self.lines = self.lines, []
        # The kernel's constants inside the launch: outlining would pass outer ones as
        # parameters, and the K loop and the index arithmetic would not fold.
        self.constants, self.prefix = {}, "k"
        self._body(sa, sb)
        body = [*self.constants.values(), *self.lines]
        head = f"func.func @tiled(%A: {ta}, %B: {tb}, %C: {tc}) {{"
        closing = ["gpu.terminator", "}", "return", "}"]
        return "\n".join([head, *outer.values(), *launch, *body, *closing])

    def _row_padding(self) -> int:
        """Elements past each shared row's BM or BN: 16 bytes. An operand read along k (A, B^T)
        is stored by a warp as 8 k x 4 rows (f32; a half-warp's 8 x 2 in f64) at As[k][m]: rows
        of 128 (64) elements put every k in the same banks (8-way conflicts, counted by
        bank_conflicts.py); 16 bytes more move each k by 4 banks, all 32 apart. The rank-one
        updates' reads stay broadcasts (As) and consecutive words (Bs)."""
        return 16 // (ir.FloatType(ir.MemRefType(self.types[0]).element_type).width // 8)

    def _body(self, sa: str, sb: str) -> None:
        t = self.t
        self.emit(f"%m0 = arith.muli %by, {self.const(t.bm)} : index")
        self.emit(f"%n0 = arith.muli %bx, {self.const(t.bn)} : index")
        self.emit(f"%tid0 = arith.muli %ty, {self.const(t.threads_x)} : index")
        self.emit("%tid = arith.addi %tid0, %tx : index")
        rows = [self._offset("%m0", "%ty", i * t.threads_y) for i in range(t.tm)]
        cols = [self._offset("%n0", "%tx", j * t.threads_x) for j in range(t.tn)]
        initial = [[self._guarded_load_c(r, c) for c in cols] for r in rows]
        acc = [v for row in initial for v in row]
        types = ", ".join([self.el] * len(acc))
        iters = ", ".join(f"%acc{i} = {v}" for i, v in enumerate(acc))
        self.emit(
            f"%final:{len(acc)} = scf.for %kt = {self.const(0)} to {self.const(self.k)} "
            f"step {self.const(t.bk)} iter_args({iters}) -> ({types}) {{"
        )
        self._load_tiles("%tid", sa, sb)
        self.emit("gpu.barrier")
        updated = self._rank_one_updates(sa, sb, [f"%acc{i}" for i in range(len(acc))])
        self.emit("gpu.barrier")
        self.emit(f"scf.yield {', '.join(updated)} : {types}")
        self.emit("}")
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                self._guarded_store_c(f"%final#{i * t.tn + j}", r, c)

    def _offset(self, base: str, thread: str, step: int) -> str:
        name = self.fresh("i")
        self.emit(f"{name}_ = arith.addi {base}, {thread} : index")
        self.emit(f"{name} = arith.addi {name}_, {self.const(step)} : index")
        return name

    def _in_bounds(self, index: str, bound: int, tile: int) -> str | None:
        """``index < bound``; None (no test) where the tiles divide the dim: the grid and the
        K loop then never reach past it."""
        if bound % tile == 0:
            return None
        name = self.fresh("in")
        self.emit(f"{name} = arith.cmpi ult, {index}, {self.const(bound)} : index")
        return name

    def _both(self, a: str | None, b: str | None) -> str | None:
        if a is None or b is None:
            return b if a is None else a
        name = self.fresh("ok")
        self.emit(f"{name} = arith.andi {a}, {b} : i1")
        return name

    def _load_or_zero(self, ok: str | None, buffer: str, type_: str, indices: str) -> str:
        name = self.fresh("v")
        if ok is None:
            self.emit(f"{name} = memref.load {buffer}[{indices}] : {type_}")
            return name
        self.emit(f"{name} = scf.if {ok} -> ({self.el}) {{")
        self.emit(f"{name}_ = memref.load {buffer}[{indices}] : {type_}")
        self.emit(f"scf.yield {name}_ : {self.el}")
        self.emit("} else {")
        self.emit(f"{name}_z = arith.constant 0.0 : {self.el}")
        self.emit(f"scf.yield {name}_z : {self.el}")
        self.emit("}")
        return name

    def _guarded_load_c(self, row: str, col: str) -> str:
        ok = self._both(
            self._in_bounds(row, self.m, self.t.bm), self._in_bounds(col, self.n, self.t.bn)
        )
        return self._load_or_zero(ok, "%C", str(self.types[2]), f"{row}, {col}")

    def _guarded_store_c(self, value: str, row: str, col: str) -> None:
        ok = self._both(
            self._in_bounds(row, self.m, self.t.bm), self._in_bounds(col, self.n, self.t.bn)
        )
        store = f"memref.store {value}, %C[{row}, {col}] : {self.types[2]}"
        if ok is None:
            self.emit(store)
            return
        self.emit(f"scf.if {ok} {{")
        self.emit(store)
        self.emit("}")

    def _load_tiles(self, tid: str, sa: str, sb: str) -> None:
        """The cooperative loads: thread ``tid`` loads elements tid, tid + threads, ... of each
        tile, numbered along the operand's fastest dim (coalesced), into As[k][m] and Bs[k][n]."""
        t = self.t
        # A: a BM x BK tile; fastest dim k (plain) or m (transposed).
        a_fast = t.bm if self.ta else t.bk
        for e in range(0, t.bm * t.bk, t.threads):
            fast, slow = self._split(tid, e, a_fast)
            m, k = (fast, slow) if self.ta else (slow, fast)
            gm, gk = self._add("%m0", m), self._add("%kt", k)
            ok = self._both(self._in_bounds(gm, self.m, t.bm), self._in_bounds(gk, self.k, t.bk))
            where = f"{gk}, {gm}" if self.ta else f"{gm}, {gk}"
            v = self._load_or_zero(ok, "%A", str(self.types[0]), where)
            self.emit(f"memref.store {v}, %As[{k}, {m}] : {sa}")
        # B: a BK x BN tile; fastest dim n (plain) or k (transposed).
        b_fast = t.bk if self.tb else t.bn
        for e in range(0, t.bk * t.bn, t.threads):
            fast, slow = self._split(tid, e, b_fast)
            k, n = (fast, slow) if self.tb else (slow, fast)
            gk, gn = self._add("%kt", k), self._add("%n0", n)
            ok = self._both(self._in_bounds(gk, self.k, t.bk), self._in_bounds(gn, self.n, t.bn))
            where = f"{gn}, {gk}" if self.tb else f"{gk}, {gn}"
            v = self._load_or_zero(ok, "%B", str(self.types[1]), where)
            self.emit(f"memref.store {v}, %Bs[{k}, {n}] : {sb}")

    def _split(self, tid: str, start: int, fast_size: int) -> tuple[str, str]:
        """Element tid + start of a tile as (index along the fast dim, along the slow dim)."""
        e, fast, slow = self.fresh("e"), self.fresh("f"), self.fresh("s")
        self.emit(f"{e} = arith.addi {tid}, {self.const(start)} : index")
        self.emit(f"{fast} = arith.remui {e}, {self.const(fast_size)} : index")
        self.emit(f"{slow} = arith.divui {e}, {self.const(fast_size)} : index")
        return fast, slow

    def _add(self, a: str, b: str) -> str:
        name = self.fresh("g")
        self.emit(f"{name} = arith.addi {a}, {b} : index")
        return name

    def _rank_one_updates(self, sa: str, sb: str, acc: list) -> list:
        """acc[i][j] += As[kk][row i] * Bs[kk][col j] for kk < BK, unrolled (registers)."""
        t = self.t
        a_rows = [self._offset(self.const(0), "%ty", i * t.threads_y) for i in range(t.tm)]
        b_cols = [self._offset(self.const(0), "%tx", j * t.threads_x) for j in range(t.tn)]
        for kk in range(t.bk):
            kc = self.const(kk)
            a = [self._shared_load("%As", sa, kc, r) for r in a_rows]
            b = [self._shared_load("%Bs", sb, kc, c) for c in b_cols]
            new = []
            for i in range(t.tm):
                for j in range(t.tn):
                    name = self.fresh("fma")
                    self.emit(f"{name} = math.fma {a[i]}, {b[j]}, {acc[i * t.tn + j]} : {self.el}")
                    new.append(name)
            acc = new
        return acc

    def _shared_load(self, buffer: str, type_: str, k: str, index: str) -> str:
        name = self.fresh("sh")
        self.emit(f"{name} = memref.load {buffer}[{k}, {index}] : {type_}")
        return name


@dataclasses.dataclass(frozen=True)
class TileMatmulPass(ModulePass):
    """Static f32/f64 linalg.matmul on buffers (plain or transposed operands) -> a gpu.launch with
    shared-memory tiles and register micro-tiles."""

    name = "tgc-nvptx-tile-matmul"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name == "linalg.matmul" and _static_float_buffers(op):
                transposes = matmul_transposes(op)
                if transposes is not None:
                    self._replace(op, transposes)

    def _replace(self, op, transposes) -> None:
        a, b, c = (ir.MemRefType(o.type) for o in op.operands)
        m, n = c.shape
        k = a.shape[0] if transposes[0] else a.shape[1]
        tiles = _tiles_for(c.element_type)
        writer = TiledMatmulWriter(tiles, [a, b, c], (m, n, k), transposes)
        parsed = ir.Module.parse(writer.text())
        body = parsed.body.operations[0].regions[0].blocks[0]
        for arg, operand in zip(body.arguments, op.operands):
            arg.replace_all_uses_with(operand)
        for inner in list(body.operations)[:-1]:  # all but func.return
            inner.move_before(op)
        op.erase()


def _tiles_for(element_type) -> Tiles:
    """128x128 tiles of 8x8 per thread in f32; f64 takes twice the registers per value: 64x64
    tiles of 4x4."""
    if isinstance(element_type, ir.F64Type):
        return Tiles(bm=64, bn=64, tm=4, tn=4, bk=8)
    return Tiles()
