"""tgc's own GEMM for the CPU: C = alpha * op(A) @ op(B) + beta * C, generated as MLIR.

The kernel is built the BLIS way, so that it needs no library at run time (an artifact built
without ``--blas`` calls it instead of running its matmuls as plain loops):

* loops over cache blocks: NC columns of C (B's block in L3), KC of the reduction (one packed
  block of B), MC rows (A's packed block in L2);
* packing: the KC x NC block of op(B) into KC x NR panels and the MC x KC block of op(A) into
  MR-row panels, both zero-padded to whole panels, so the micro-kernel never sees a partial tile.
  Transposes are handled here, by which packing loop runs; the micro-kernel reads only the packs;
* a register-tiled micro-kernel: MR x NR accumulators (MR * NR / VL vectors) carried as scf.for
  iter_args over the KC steps, each step NR / VL vector loads of packed B, MR broadcasts of packed
  A and MR * NR / VL vector.fma. The tile is then combined with C (beta = 0 never reads C's value,
  as BLAS), row by row, each row's last vector masked at C's edge.

The blocking is a ``GemmShape``; ``shape_for`` picks it from the element type and the vector
width of the host (or a forced ISA). A larger vector than the target has is still correct (LLVM
splits it), only slower.
"""

from __future__ import annotations

import dataclasses
import functools
import os

from mlir import ir

# A forced ISA for the generated kernel ("avx512" or "avx2"): tests run the AVX2 variant on an
# AVX-512 host with it.
ISA_ENVIRONMENT = "TGC_GEMM_ISA"
_VECTOR_BYTES = {"avx512": 64, "avx2": 32}


@dataclasses.dataclass(frozen=True)
class GemmShape:
    """The blocking of one generated kernel."""

    elem: str  # "f32" or "f64"
    lanes: int  # elements per vector register (VL)
    mr: int  # rows of the register tile
    nr: int  # columns of the register tile, a multiple of lanes
    kc: int  # reduction steps per packed block
    mc: int  # rows of A per packed block, a multiple of mr
    nc: int  # columns of B per packed block, a multiple of nr

    @property
    def symbol(self) -> str:
        return f"tgc_gemm_{self.elem}_{self.mr}x{self.nr}v{self.lanes}"


@functools.lru_cache(maxsize=1)
def host_isa() -> str:
    """avx512 when this machine's CPU has AVX-512F, else avx2 (the kernel's vector width)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        return "avx2"
    return "avx512" if "avx512f" in flags.split() else "avx2"


def chosen_isa() -> str:
    forced = os.environ.get(ISA_ENVIRONMENT, "").strip().lower()
    if forced and forced not in _VECTOR_BYTES:
        raise ValueError(
            f"{ISA_ENVIRONMENT}={forced!r}: the generated GEMM knows the ISAs "
            f"{', '.join(sorted(_VECTOR_BYTES))}"
        )
    return forced or host_isa()


def shape_for(elem: str, isa: str | None = None) -> GemmShape:
    """The blocking for ``elem`` on ``isa`` (the host's, or TGC_GEMM_ISA's, when None)."""
    isa = isa or chosen_isa()
    lanes = _VECTOR_BYTES[isa] // (4 if elem == "f32" else 8)
    if isa == "avx512":
        # 32 zmm registers: 12 x 2 vectors of accumulators, 2 of B, broadcasts folded into FMAs.
        mr, nr = 12, 2 * lanes
    else:
        # 16 ymm registers: 6 x 2 accumulators, 2 of B, one broadcast.
        mr, nr = 6, 2 * lanes
    kc = 256 if elem == "f32" else 128
    return GemmShape(elem, lanes, mr, nr, kc, mc=mr * (240 // mr), nc=nr * (4096 // nr))


class _Emitter:
    """Numbered SSA names and the lines of one function body."""

    def __init__(self):
        self.lines: list = []
        self.count = 0

    def fresh(self, stem: str = "v") -> str:
        self.count += 1
        return f"%{stem}{self.count}"

    def op(self, text: str, stem: str = "v") -> str:
        name = self.fresh(stem)
        self.lines.append(f"{name} = {text}")
        return name

    def raw(self, text: str) -> None:
        self.lines.append(text)


def _memref(elem: str) -> str:
    return f"memref<?x?x{elem}, strided<[?, 1], offset: ?>>"


def gemm_function_text(s: GemmShape) -> str:
    """The MLIR text of ``func.func private @<s.symbol>(A, B, C, transA, transB, alpha, beta)``.

    A is M x K (K x M when transA), B is K x N (N x K when transB), C is M x N; every operand has
    unit-stride rows and any row stride and offset."""
    t, vt, mt = s.elem, f"vector<{s.lanes}x{s.elem}>", _memref(s.elem)
    e = _Emitter()
    c = {v: e.op(f"arith.constant {v} : index", "c") for v in sorted({0, 1, s.mr, s.nr, s.kc})}
    c_mc, c_nc = (
        e.op(f"arith.constant {s.mc} : index", "c"),
        e.op(f"arith.constant {s.nc} : index", "c"),
    )
    zero = e.op(f"arith.constant 0.0 : {t}", "z")
    one = e.op(f"arith.constant 1.0 : {t}", "one")
    m = e.op(f"memref.dim %C, {c[0]} : {mt}", "m")
    n = e.op(f"memref.dim %C, {c[1]} : {mt}", "n")
    k_a0 = e.op(f"memref.dim %A, {c[0]} : {mt}")
    k_a1 = e.op(f"memref.dim %A, {c[1]} : {mt}")
    k = e.op(f"arith.select %ta, {k_a0}, {k_a1} : index", "k")
    beta_zero = e.op(f"arith.cmpf oeq, %beta, {zero} : {t}", "bz")
    # Packed blocks: the A pack holds MC rows rounded to MR, the B pack NC columns (both x KC).
    a_pack = e.op(f"memref.alloc() {{alignment = 64 : i64}} : memref<{s.mc * s.kc}x{t}>", "ap")
    b_pack = e.op(f"memref.alloc() {{alignment = 64 : i64}} : memref<{s.nc * s.kc}x{t}>", "bp")
    k_zero = e.op(f"arith.cmpi eq, {k}, {c[0]} : index")
    e.raw(f"scf.if {k_zero} {{")
    _scale_c(e, s, c, m, n, zero, beta_zero)
    e.raw("}")
    e.raw(f"scf.for %jc = {c[0]} to {n} step {c_nc} {{")
    nc = e.op(f"affine.min affine_map<(d0)[s0] -> ({s.nc}, s0 - d0)>(%jc)[{n}]", "ncb")
    e.raw(f"scf.for %pc = {c[0]} to {k} step {c[s.kc]} {{")
    kc = e.op(f"affine.min affine_map<(d0)[s0] -> ({s.kc}, s0 - d0)>(%pc)[{k}]", "kcb")
    first = e.op(f"arith.cmpi eq, %pc, {c[0]} : index")
    beta = e.op(f"arith.select {first}, %beta, {one} : {t}", "beff")
    beta_is_zero = e.op(f"arith.andi {first}, {beta_zero} : i1", "bez")
    _pack_b(e, s, c, b_pack, nc, kc, n)
    e.raw(f"scf.for %ic = {c[0]} to {m} step {c_mc} {{")
    mc = e.op(f"affine.min affine_map<(d0)[s0] -> ({s.mc}, s0 - d0)>(%ic)[{m}]", "mcb")
    _pack_a(e, s, c, a_pack, mc, kc, m)
    e.raw(f"scf.for %jr = {c[0]} to {nc} step {c[s.nr]} {{")
    e.raw(f"scf.for %ir = {c[0]} to {mc} step {c[s.mr]} {{")
    _micro_kernel(e, s, c, a_pack, b_pack, kc, zero, beta, beta_is_zero, vt)
    e.raw("}")
    e.raw("}")
    e.raw("}")
    e.raw("}")
    e.raw("}")
    e.raw(f"memref.dealloc {a_pack} : memref<{s.mc * s.kc}x{t}>")
    e.raw(f"memref.dealloc {b_pack} : memref<{s.nc * s.kc}x{t}>")
    e.raw("return")
    body = "\n    ".join(e.lines)
    return (
        f"func.func private @{s.symbol}(%A: {mt}, %B: {mt}, %C: {mt}, %ta: i1, %tb: i1, "
        f"%alpha: {t}, %beta: {t}) {{\n    {body}\n}}\n"
    )


def _scale_c(e: _Emitter, s: GemmShape, c: dict, m: str, n: str, zero: str, beta_zero: str):
    """K = 0: C = beta * C (zeros when beta = 0, whatever C held)."""
    t, mt = s.elem, _memref(s.elem)
    e.raw(f"scf.for %i0 = {c[0]} to {m} step {c[1]} {{")
    e.raw(f"scf.for %j0 = {c[0]} to {n} step {c[1]} {{")
    old = e.op(f"memref.load %C[%i0, %j0] : {mt}")
    scaled = e.op(f"arith.mulf {old}, %beta : {t}")
    new = e.op(f"arith.select {beta_zero}, {zero}, {scaled} : {t}")
    e.raw(f"memref.store {new}, %C[%i0, %j0] : {mt}")
    e.raw("}")
    e.raw("}")


def _pack_b(e: _Emitter, s: GemmShape, c: dict, b_pack: str, nc: str, kc: str, n: str):
    """op(B)[pc:pc+kc, jc:jc+nc] -> KC x NR panels: panel q's step kk at q*NR*kc + kk*NR, columns
    past N zero."""
    t, mt, pack = s.elem, _memref(s.elem), f"memref<{s.nc * s.kc}x{s.elem}>"
    bvt = f"vector<{s.nr}x{t}>"
    e.raw("scf.if %tb {")
    # B stored N x K: each of the panel's columns is a contiguous row of B.
    e.raw(f"scf.for %jq = {c[0]} to {nc} step {c[s.nr]} {{")
    base = e.op(f"arith.muli %jq, {kc} : index")
    e.raw(f"scf.for %cq = {c[0]} to {c[s.nr]} step {c[1]} {{")
    col = e.op("affine.apply affine_map<(d0, d1, d2) -> (d0 + d1 + d2)>(%jc, %jq, %cq)")
    inside = e.op(f"arith.cmpi ult, {col}, {n} : index")
    e.raw(f"scf.for %kq = {c[0]} to {kc} step {c[1]} {{")
    e.raw(f"%bq = scf.if {inside} -> ({t}) {{")
    row_k = e.op("arith.addi %pc, %kq : index")
    loaded = e.op(f"memref.load %B[{col}, {row_k}] : {mt}")
    e.raw(f"scf.yield {loaded} : {t}")
    e.raw("} else {")
    zero = e.op(f"arith.constant 0.0 : {t}")
    e.raw(f"scf.yield {zero} : {t}")
    e.raw("}")
    at = e.op(
        f"affine.apply affine_map<(d0, d1, d2)[s0] -> (d0 + d1 * s0 + d2)>"
        f"({base}, %kq, %cq)[{c[s.nr]}]"
    )
    e.raw(f"memref.store %bq, {b_pack}[{at}] : {pack}")
    e.raw("}")
    e.raw("}")
    e.raw("}")
    e.raw("} else {")
    # B stored K x N: a panel's step is NR contiguous elements of one row of B.
    pad = e.op(f"arith.constant 0.0 : {t}")
    e.raw(f"scf.for %jq = {c[0]} to {nc} step {c[s.nr]} {{")
    base = e.op(f"arith.muli %jq, {kc} : index")
    col = e.op("arith.addi %jc, %jq : index")
    e.raw(f"scf.for %kq = {c[0]} to {kc} step {c[1]} {{")
    row_k = e.op("arith.addi %pc, %kq : index")
    vec = e.op(
        f"vector.transfer_read %B[{row_k}, {col}], {pad} {{in_bounds = [false]}} : {mt}, {bvt}"
    )
    at = e.op(f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0)>({base}, %kq)[{c[s.nr]}]")
    e.raw(f"vector.store {vec}, {b_pack}[{at}] : {pack}, {bvt}")
    e.raw("}")
    e.raw("}")
    e.raw("}")


def _pack_a(e: _Emitter, s: GemmShape, c: dict, a_pack: str, mc: str, kc: str, m: str):
    """op(A)[ic:ic+mc, pc:pc+kc] -> MR-row panels: panel p's step kk at p*MR*kc + kk*MR, rows
    past M zero."""
    t, mt, pack = s.elem, _memref(s.elem), f"memref<{s.mc * s.kc}x{s.elem}>"
    avt = f"vector<{s.mr}x{t}>"
    e.raw("scf.if %ta {")
    # A stored K x M: a panel's step is MR contiguous elements of one row of A.
    pad = e.op(f"arith.constant 0.0 : {t}")
    e.raw(f"scf.for %ip = {c[0]} to {mc} step {c[s.mr]} {{")
    base = e.op(f"arith.muli %ip, {kc} : index")
    row = e.op("arith.addi %ic, %ip : index")
    e.raw(f"scf.for %kp = {c[0]} to {kc} step {c[1]} {{")
    col_k = e.op("arith.addi %pc, %kp : index")
    vec = e.op(
        f"vector.transfer_read %A[{col_k}, {row}], {pad} {{in_bounds = [false]}} : {mt}, {avt}"
    )
    at = e.op(f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0)>({base}, %kp)[{c[s.mr]}]")
    e.raw(f"vector.store {vec}, {a_pack}[{at}] : {pack}, {avt}")
    e.raw("}")
    e.raw("}")
    e.raw("} else {")
    # A stored M x K: each of the panel's rows is a contiguous row of A.
    e.raw(f"scf.for %ip = {c[0]} to {mc} step {c[s.mr]} {{")
    base = e.op(f"arith.muli %ip, {kc} : index")
    e.raw(f"scf.for %rp = {c[0]} to {c[s.mr]} step {c[1]} {{")
    row = e.op("affine.apply affine_map<(d0, d1, d2) -> (d0 + d1 + d2)>(%ic, %ip, %rp)")
    inside = e.op(f"arith.cmpi ult, {row}, {m} : index")
    e.raw(f"scf.if {inside} {{")
    e.raw(f"scf.for %kp = {c[0]} to {kc} step {c[1]} {{")
    col_k = e.op("arith.addi %pc, %kp : index")
    loaded = e.op(f"memref.load %A[{row}, {col_k}] : {mt}")
    at = e.op(
        f"affine.apply affine_map<(d0, d1, d2)[s0] -> (d0 + d1 * s0 + d2)>"
        f"({base}, %kp, %rp)[{c[s.mr]}]"
    )
    e.raw(f"memref.store {loaded}, {a_pack}[{at}] : {pack}")
    e.raw("}")
    e.raw("} else {")
    zero = e.op(f"arith.constant 0.0 : {t}")
    e.raw(f"scf.for %kp = {c[0]} to {kc} step {c[1]} {{")
    at = e.op(
        f"affine.apply affine_map<(d0, d1, d2)[s0] -> (d0 + d1 * s0 + d2)>"
        f"({base}, %kp, %rp)[{c[s.mr]}]"
    )
    e.raw(f"memref.store {zero}, {a_pack}[{at}] : {pack}")
    e.raw("}")
    e.raw("}")
    e.raw("}")
    e.raw("}")
    e.raw("}")


def _micro_kernel(e: _Emitter, s, c, a_pack, b_pack, kc, zero, beta, beta_is_zero, vt) -> None:
    """The MR x NR tile at (ic + ir, jc + jr): accumulate over kc, then combine with C."""
    t, mt = s.elem, _memref(s.elem)
    a_pack_t, b_pack_t = f"memref<{s.mc * s.kc}x{t}>", f"memref<{s.nc * s.kc}x{t}>"
    vectors = s.nr // s.lanes
    a_base = e.op(f"arith.muli %ir, {kc} : index", "ab")
    b_base = e.op(f"arith.muli %jr, {kc} : index", "bb")
    vzero = e.op(f"vector.broadcast {zero} : {t} to {vt}", "vz")
    accs = [(r, v) for r in range(s.mr) for v in range(vectors)]
    results = e.fresh("acc")
    args = ", ".join(f"%a{r}_{v} = {vzero}" for r, v in accs)
    types = ", ".join([vt] * len(accs))
    e.raw(
        f"{results}:{len(accs)} = scf.for %kk = {c[0]} to {kc} step {c[1]} "
        f"iter_args({args}) -> ({types}) {{"
    )
    b_at = e.op(
        f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0)>({b_base}, %kk)[{c[s.nr]}]"
    )
    b_vectors = []
    for v in range(vectors):
        at = b_at if v == 0 else e.op(f"arith.addi {b_at}, {_const(e, v * s.lanes)} : index")
        b_vectors.append(e.op(f"vector.load {b_pack}[{at}] : {b_pack_t}, {vt}", "b"))
    a_at = e.op(
        f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0)>({a_base}, %kk)[{c[s.mr]}]"
    )
    new = []
    for r in range(s.mr):
        at = a_at if r == 0 else e.op(f"arith.addi {a_at}, {_const(e, r)} : index")
        scalar = e.op(f"memref.load {a_pack}[{at}] : {a_pack_t}")
        broadcast = e.op(f"vector.broadcast {scalar} : {t} to {vt}", "bc")
        for v in range(vectors):
            new.append(e.op(f"vector.fma {broadcast}, {b_vectors[v]}, %a{r}_{v} : {vt}", "f"))
    e.raw(f"scf.yield {', '.join(new)} : {types}")
    e.raw("}")
    # Combine with C: row by row (rows past M skipped), each vector masked at C's last column.
    row0 = e.op("arith.addi %ic, %ir : index")
    col0 = e.op("arith.addi %jc, %jr : index")
    m = e.op(f"memref.dim %C, {c[0]} : {mt}")
    alpha = e.op(f"vector.broadcast %alpha : {t} to {vt}")
    betav = e.op(f"vector.broadcast {beta} : {t} to {vt}")
    for r in range(s.mr):
        row = row0 if r == 0 else e.op(f"arith.addi {row0}, {_const(e, r)} : index")
        inside = e.op(f"arith.cmpi ult, {row}, {m} : index")
        e.raw(f"scf.if {inside} {{")
        for v in range(vectors):
            col = col0 if v == 0 else e.op(f"arith.addi {col0}, {_const(e, v * s.lanes)} : index")
            masked = "{in_bounds = [false]}"
            old = e.op(f"vector.transfer_read %C[{row}, {col}], {zero} {masked} : {mt}, {vt}")
            scaled = e.op(f"arith.mulf {results}#{r * vectors + v}, {alpha} : {vt}")
            summed = e.op(f"vector.fma {old}, {betav}, {scaled} : {vt}")
            value = e.op(f"arith.select {beta_is_zero}, {scaled}, {summed} : {vt}")
            e.raw(f"vector.transfer_write {value}, %C[{row}, {col}] {masked} : {vt}, {mt}")
        e.raw("}")


def _const(e: _Emitter, value: int) -> str:
    return e.op(f"arith.constant {value} : index", "c")


def insert_gemm_function(module: ir.Module, shape: GemmShape) -> str:
    """Defines the kernel for ``shape`` in ``module`` once; returns its symbol."""
    from tgc.dialect.ir_helpers import find_function

    if find_function(module, shape.symbol) is None:
        parsed = ir.Module.parse(gemm_function_text(shape), module.context)
        function = parsed.body.operations[0]
        function.operation.move_before(module.body.operations[0])
    return shape.symbol
