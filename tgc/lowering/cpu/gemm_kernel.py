"""tgc's own GEMM for the CPU: C = alpha * op(A) @ op(B) + beta * Cin (Cin is usually C),
generated as MLIR.

The kernel is built the BLIS way, so that it needs no library at run time (an artifact built
without ``--blas`` calls it instead of running its matmuls as plain loops):

* loops over cache blocks: MC rows of C (A's packed block, about 6 MB, in L3), KC steps of the
  reduction, NC columns (B's packed block, about 512 KB, in L2), then MR-row and NR-column tiles.
  As in BLIS with A and B swapped (the vectors run along N): a micro-kernel call reuses A's
  MR x KC micro-panel from L1 and streams one KC x NR micro-panel of B from L2;
* packing: the blocks of op(A) into MR-row panels and of op(B) into KC x NR panels, both
  zero-padded to whole panels, so the micro-kernel never sees a partial tile. Transposes are
  handled here, by which packing loop runs. A's whole panels are read in place instead where
  that is faster (_DirectA: A not transposed, or C narrow); only A's last partial panel is then
  packed;
* a register-tiled micro-kernel: MR x NR accumulators (MR * NR / VL vectors) carried as scf.for
  iter_args over the KC steps, each step NR / VL vector loads of packed B, MR broadcasts of packed
  A and MR * NR / VL vector.fma (UNROLL steps per iteration). The tile is then combined with Cin
  (beta = 0 never reads its value, as BLAS): plain vector loads and stores inside C, row by row
  and masked at C's edges. A last column tile narrower than NR takes the narrowest kernel of
  whole vectors that covers it (one or two vectors of the three).
* one row of C (M = 1, the MLP at batch 1) skips the packing: a gemv that streams B once.
* an epilogue (``GemmShape.epilogue``, a kernel of its own): an activation (relu, relu6) applied
  to the register tile as the last K block writes it, so that ``relu(x @ W + b)`` writes C once;
  the bias is Cin (beta = 1, a 1 x N view of the bias whose row stride is 0).

The blocking is a ``GemmShape``; ``shape_for`` picks it from the element type and the vector
width of the host (or a forced ISA), ``shape_for_matmul`` (what tgc-blas-matmul asks) also from
C's sizes where they are known at compile time (WIDE_TILE). A larger vector than the target has
is still correct (LLVM splits it), only slower.
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
ISAS = tuple(sorted(_VECTOR_BYTES))
# k steps per iteration of the micro-kernel's main loop.
UNROLL = 4
# Rows of B per sweep of C's row in the one-row (M = 1) gemv.
GEMV_ROWS = 4
# A transposed (stored K x M) is read by the micro-kernel where it lies, unpacked (_DirectA), when
# C has at most this many column tiles (NR wide): then A's micro-panel serves few tiles, and its
# pack (a strided walk down K, memory-bound) costs more than the micro-kernel's strided reads of
# A. Kernel alone, AVX-512 f32 (NR 48), against A packed: 800x64x196 (the convnet's conv2 filter
# gradient) +4 %, 25x32x25088 (conv1's) +16 %, 800x144x196 +4 %, 800x192x196 +0 %, 800x288x196
# -1 %, 784x1024x256 -6 %. A not transposed is always read unpacked (+2 to 12 % up to 2048 cubed).
DIRECT_A_TRANSPOSED_TILES = 3


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
    # The activation applied to each element of C as it is written the last time (EPILOGUES):
    # C = act(alpha * op(A) @ op(B) + beta * Cin). "" for none. A bias rides in Cin (beta = 1,
    # Cin a 1 x N view of the bias with row stride 0: tgc-blas-matmul), so only the activation
    # makes a kernel of its own.
    epilogue: str = ""

    def __post_init__(self):
        # The packs are sized and walked in whole tiles: a block that is not a whole number of
        # tiles would write past its pack.
        if self.nr % self.lanes or self.mc % self.mr or self.nc % self.nr:
            raise ValueError(
                f"GEMM blocking {self}: NR must be a multiple of the vector lanes, MC of MR and "
                "NC of NR"
            )
        if self.epilogue not in EPILOGUES:
            raise ValueError(
                f"GEMM epilogue {self.epilogue!r}: the generated kernel knows "
                f"{', '.join(repr(name) for name in EPILOGUES)}"
            )

    @property
    def symbol(self) -> str:
        suffix = f"_{self.epilogue}" if self.epilogue else ""
        return f"tgc_gemm_{self.elem}_{self.mr}x{self.nr}v{self.lanes}{suffix}"


# The activations a kernel may apply to C as it writes it (GemmShape.epilogue): "" none, "relu"
# max(x, 0), "relu6" min(max(x, 0), 6), both as arith.maximumf/minimumf, the ops TF's Relu and
# Relu6 lower to (NaN propagates, as in TF).
EPILOGUES = ("", "relu", "relu6")


def activation(e: "_Emitter", epilogue: str, value: str, t: str) -> str:
    """``value`` (a scalar or vector of type ``t``) through the epilogue's activation."""
    if not epilogue:
        return value
    scalar = t.split("x")[-1].rstrip(">") if t.startswith("vector") else t

    def constant(number: float) -> str:
        text = f"arith.constant {number} : {scalar}"
        return e.op(text if t == scalar else f"vector.broadcast {e.op(text)} : {scalar} to {t}")

    value = e.op(f"arith.maximumf {value}, {constant(0.0)} : {t}")
    if epilogue == "relu6":
        value = e.op(f"arith.minimumf {value}, {constant(6.0)} : {t}")
    return value


@functools.lru_cache(maxsize=1)
def host_isa() -> str:
    """avx512 when this machine's CPU has AVX-512F, else avx2 (the kernel's vector width)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        return "avx2"
    return "avx512" if "avx512f" in flags.split() else "avx2"


# LLVM CPU names with AVX-512F (the x86 ones; any other CPU gets the AVX2 blocking, whose 256-bit
# vectors LLVM splits where the target's are narrower).
AVX512_CPUS = frozenset(
    {
        "knl",
        "knm",
        "skylake-avx512",
        "skx",
        "cascadelake",
        "cooperlake",
        "cannonlake",
        "icelake-client",
        "icelake-server",
        "tigerlake",
        "rocketlake",
        "sapphirerapids",
        "emeraldrapids",
        "graniterapids",
        "graniterapids-d",
        "diamondrapids",
        "znver4",
        "znver5",
        "x86-64-v4",
    }
)


def isa_of_cpu(cpu: str | None) -> str:
    """The kernel's ISA for code generated for ``cpu`` (an LLVM CPU name); "" for the compiling
    host's (None)."""
    if cpu is None:
        return ""
    return "avx512" if cpu.lower() in AVX512_CPUS else "avx2"


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
    return _blocking(elem, isa or chosen_isa(), None)


# AVX-512 f32's second register tile, 6 rows x 4 vectors (64 columns), for a C whose N is a known
# multiple of 64 and whose M is known and at least WIDE_TILE_MIN_ROWS (shape_for_matmul): no
# narrower last column tile (N = 64: the 8 x 48 tile's last 16 columns ran a one-vector kernel at
# about 3/4 of its speed per column) and 24 FMAs per 6 broadcasts and 4 loads. Kernel alone
# against 8 x 48, 1 thread, interleaved (shared Xeon, load 3): 196x64x800 (the convnet's conv2)
# +10 %, 800x64x196:ta (its filter gradient) +11 %, 1024 cubed +6 %, 2048 +3 %, 3136x1024x32:ta
# +5 %, 256 and 256x1024x784 +1 %; where it loses it is not taken: N not a multiple of 64
# (1024x80x1024 -9 %, N = 32 -5 to -7 %), few rows (M = 32: 36 rows computed, -3 to -7 %).
WIDE_TILE = (6, 4)
WIDE_TILE_MIN_ROWS = 64


def shape_for_matmul(elem: str, isa: str | None, m: int | None, n: int | None) -> GemmShape:
    """The blocking for a matmul whose C is ``m`` x ``n`` (None where unknown at compile time):
    the wide tile (WIDE_TILE) where it is faster, else ``shape_for``'s."""
    isa = isa or chosen_isa()
    mr, vectors = WIDE_TILE
    wide = isa == "avx512" and elem == "f32" and n is not None and m is not None
    if wide and n > 0 and n % (vectors * 16) == 0 and m >= WIDE_TILE_MIN_ROWS:
        return _blocking(elem, isa, WIDE_TILE)
    return shape_for(elem, isa)


def _blocking(elem: str, isa: str, tile: tuple | None) -> GemmShape:
    """The blocking for ``elem`` on ``isa`` with the register tile ``tile`` ((MR, vectors), None
    for the ISA's default); the cache blocks follow from it."""
    elem_bytes = 4 if elem == "f32" else 8
    lanes = _VECTOR_BYTES[isa] // elem_bytes
    if isa == "avx512":
        # 32 zmm: 8 x 3 vectors of accumulators, 3 of B, 1 broadcast: 11 loads per 24 FMAs (14 x 2
        # took 16 per 28), and 8 rows divide the batch sizes (M = 64: 14-row tiles computed 70).
        # 1 to 5 % faster than 14 x 2 on a shared Xeon (1 thread, 256 to 2048 cubed and the
        # two-layer net's GEMMs). An A micro-panel (MR x KC, 16 KB) stays in L1, the B block
        # (KC x NC, 480 KB) in L2.
        mr, vectors, kc, nc_bytes = 8, 3, 512 * 4 // elem_bytes, 512 * 1024
    else:
        # 16 ymm: 6 x 2 accumulators, 2 of B, 1 broadcast; Zen 3's 32 KB L1 and 512 KB L2.
        mr, vectors, kc, nc_bytes = 6, 2, 256, 256 * 1024
    if tile is not None:
        mr, vectors = tile
    nr = vectors * lanes
    nc = max(nr, nc_bytes // (kc * elem_bytes) // nr * nr)
    # The A block (MC x KC) lives in L3: about 6 MB.
    mc = max(mr, 6 * 1024 * 1024 // (kc * elem_bytes) // mr * mr)
    return GemmShape(elem, lanes, mr, nr, kc, mc, nc)


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


def gemm_function_text(s: GemmShape, private: bool = True) -> str:
    """The MLIR text of ``func.func private @<s.symbol>(A, B, C, Cin, transA, transB, alpha,
    beta)``: C = alpha * op(A) @ op(B) + beta * Cin (public unless ``private``: the module compiled
    once per process, gemm_library.py).

    A is M x K (K x M when transA), B is K x N (N x K when transB), C and Cin are M x N; every
    operand has unit-stride rows and any row stride and offset. Cin is C itself for BLAS's
    C = alpha * op(A) @ op(B) + beta * C; a separate Cin lets a GEMM that accumulates into a copy of
    a buffer read the buffer instead of copying it first (tgc-blas-matmul). Cin must not overlap C
    unless it is C: each tile of C is read from Cin once, before C's tile is written."""
    t, mt = s.elem, _memref(s.elem)
    e = _Emitter()
    c = {v: e.op(f"arith.constant {v} : index", "c") for v in sorted({0, 1, s.mr, s.nr, s.kc})}
    zero = e.op(f"arith.constant 0.0 : {t}", "z")
    m = e.op(f"memref.dim %C, {c[0]} : {mt}", "m")
    n = e.op(f"memref.dim %C, {c[1]} : {mt}", "n")
    k_a0 = e.op(f"memref.dim %A, {c[0]} : {mt}")
    k_a1 = e.op(f"memref.dim %A, {c[1]} : {mt}")
    k = e.op(f"arith.select %ta, {k_a0}, {k_a1} : index", "k")
    beta_zero = e.op(f"arith.cmpf oeq, %beta, {zero} : {t}", "bz")
    # One row of C (the MLP at batch 1): a vectorized gemv instead of packing 1 row into MR. A
    # transposed A with a transposed B would read both with strides, so it takes the packed path.
    one_row = e.op(f"arith.cmpi eq, {m}, {c[1]} : index")
    some_k = e.op(f"arith.cmpi ugt, {k}, {c[0]} : index")
    true = e.op("arith.constant true")
    not_both = e.op(f"arith.xori {e.op('arith.andi %ta, %tb : i1')}, {true} : i1")
    row_case = e.op(f"arith.andi {e.op(f'arith.andi {one_row}, {some_k} : i1')}, {not_both} : i1")
    e.raw(f"scf.if {row_case} {{")
    e.raw("scf.if %tb {")
    _row_times_rows(e, s, c, n, k, zero, beta_zero)
    e.raw("} else {")
    _row_times_matrix(e, s, c, n, k, zero, beta_zero)
    e.raw("}")
    e.raw("} else {")
    _packed_gemm(e, s, c, (m, n, k), beta_zero)
    e.raw("}")
    e.raw("return")
    body = "\n    ".join(e.lines)
    return f"{_signature(s, private)} {{\n    {body}\n}}\n"


def _signature(s: GemmShape, private: bool) -> str:
    t, mt = s.elem, _memref(s.elem)
    visibility = "private " if private else ""
    return (
        f"func.func {visibility}@{s.symbol}(%A: {mt}, %B: {mt}, %C: {mt}, %Cin: {mt}, "
        f"%ta: i1, %tb: i1, "
        f"%alpha: {t}, %beta: {t})"
    )


def _row_times_matrix(e: _Emitter, s, c, n: str, k: str, zero: str, beta_zero: str):
    """M = 1, B stored K x N: C's row = beta * Cin's row, then += alpha * x[k] * B's row k for each
    k, GEMV_ROWS rows of B per sweep of C's row (which stays in L1 while B streams through once,
    row after row). x[k] = A[0, k], or A[k, 0] when A is transposed."""
    t, vt, mt = s.elem, f"vector<{s.lanes}x{s.elem}>", _memref(s.elem)
    lanes = _const(e, s.lanes)
    # C's row = beta * Cin's row (zeros when beta = 0, whatever Cin held).
    e.raw(f"scf.for %gj = {c[0]} to {n} step {lanes} {{")
    old = e.op(
        f"vector.transfer_read %Cin[{c[0]}, %gj], {zero} {{in_bounds = [false]}} : {mt}, {vt}"
    )
    scaled = e.op(f"arith.mulf {old}, {e.op(f'vector.broadcast %beta : {t} to {vt}')} : {vt}")
    vzero = e.op(f"vector.broadcast {zero} : {t} to {vt}")
    value = e.op(f"arith.select {beta_zero}, {vzero}, {scaled} : {vt}")
    e.raw(f"vector.transfer_write {value}, %C[{c[0]}, %gj] {{in_bounds = [false]}} : {vt}, {mt}")
    e.raw("}")
    whole_rows = e.op(
        f"affine.apply affine_map<()[s0] -> ((s0 floordiv {GEMV_ROWS}) * {GEMV_ROWS})>()[{k}]"
    )
    _rows_into_c(e, s, c, n, (c[0], whole_rows, GEMV_ROWS))
    _rows_into_c(e, s, c, n, (whole_rows, k, 1))
    if s.epilogue:
        _activate_row(e, s, c, n, zero)


def _activate_row(e: _Emitter, s, c, n: str, zero: str) -> None:
    """C's row through the epilogue's activation, after the gemv's last row of B (one more sweep
    of a row that is in L1)."""
    vt, mt = f"vector<{s.lanes}x{s.elem}>", _memref(s.elem)
    masked = "{in_bounds = [false]}"
    e.raw(f"scf.for %gj = {c[0]} to {n} step {_const(e, s.lanes)} {{")
    value = e.op(f"vector.transfer_read %C[{c[0]}, %gj], {zero} {masked} : {mt}, {vt}")
    activated = activation(e, s.epilogue, value, vt)
    e.raw(f"vector.transfer_write {activated}, %C[{c[0]}, %gj] {masked} : {vt}, {mt}")
    e.raw("}")


def _rows_into_c(e: _Emitter, s, c, n: str, bounds: tuple) -> None:
    """For k in [lower, upper) by ``rows``: C's row += sum over those rows of alpha * x[k] * B's
    row k, plain vector loads and stores inside C's row and masked ones at its end."""
    t, vt, mt = s.elem, f"vector<{s.lanes}x{s.elem}>", _memref(s.elem)
    lower, upper, rows = bounds
    step = c[1] if rows == 1 else _const(e, rows)
    e.raw(f"scf.for %gk = {lower} to {upper} step {step} {{")
    ks = ["%gk"] + [e.op(f"arith.addi %gk, {_const(e, r)} : index") for r in range(1, rows)]
    xs = []
    for kr in ks:
        row = e.op(f"arith.select %ta, {kr}, {c[0]} : index")
        col = e.op(f"arith.select %ta, {c[0]}, {kr} : index")
        scaled = e.op(f"arith.mulf {e.op(f'memref.load %A[{row}, {col}] : {mt}')}, %alpha : {t}")
        xs.append(e.op(f"vector.broadcast {scaled} : {t} to {vt}"))
    lanes = _const(e, s.lanes)
    whole_end = e.op(
        f"affine.apply affine_map<()[s0] -> ((s0 floordiv {s.lanes}) * {s.lanes})>()[{n}]"
    )
    e.raw(f"scf.for %gj = {c[0]} to {whole_end} step {lanes} {{")
    total = e.op(f"vector.load %C[{c[0]}, %gj] : {mt}, {vt}")
    for kr, x in zip(ks, xs):
        b = e.op(f"vector.load %B[{kr}, %gj] : {mt}, {vt}")
        total = e.op(f"vector.fma {x}, {b}, {total} : {vt}")
    e.raw(f"vector.store {total}, %C[{c[0]}, %gj] : {mt}, {vt}")
    e.raw("}")
    # The last columns, fewer than a vector: masked at C's and B's last column.
    tail = e.op(f"arith.cmpi ult, {whole_end}, {n} : index")
    e.raw(f"scf.if {tail} {{")
    pad = e.op(f"arith.constant 0.0 : {t}")
    masked = "{in_bounds = [false]}"
    total = e.op(f"vector.transfer_read %C[{c[0]}, {whole_end}], {pad} {masked} : {mt}, {vt}")
    for kr, x in zip(ks, xs):
        b = e.op(f"vector.transfer_read %B[{kr}, {whole_end}], {pad} {masked} : {mt}, {vt}")
        total = e.op(f"vector.fma {x}, {b}, {total} : {vt}")
    e.raw(f"vector.transfer_write {total}, %C[{c[0]}, {whole_end}] {masked} : {vt}, {mt}")
    e.raw("}")
    e.raw("}")


def _row_times_rows(e: _Emitter, s, c, n: str, k: str, zero: str, beta_zero: str):
    """M = 1, B stored N x K (A not transposed): C[0, j] = dot(A's row, B's row j), VL elements of
    the dot at a time, then a horizontal sum."""
    t, vt, mt = s.elem, f"vector<{s.lanes}x{s.elem}>", _memref(s.elem)
    masked = "{in_bounds = [false]}"
    vzero = e.op(f"vector.broadcast {zero} : {t} to {vt}")
    e.raw(f"scf.for %gj = {c[0]} to {n} step {c[1]} {{")
    total = e.fresh("gd")
    e.raw(
        f"{total} = scf.for %gk = {c[0]} to {k} step {_const(e, s.lanes)} "
        f"iter_args(%gacc = {vzero}) -> ({vt}) {{"
    )
    x = e.op(f"vector.transfer_read %A[{c[0]}, %gk], {zero} {masked} : {mt}, {vt}")
    b = e.op(f"vector.transfer_read %B[%gj, %gk], {zero} {masked} : {mt}, {vt}")
    e.raw(f"scf.yield {e.op(f'vector.fma {x}, {b}, %gacc : {vt}')} : {vt}")
    e.raw("}")
    dot = e.op(f"vector.reduction <add>, {total} : {vt} into {t}")
    old = e.op(f"memref.load %Cin[{c[0]}, %gj] : {mt}")
    scaled = e.op(f"arith.mulf {dot}, %alpha : {t}")
    summed = e.op(f"arith.addf {e.op(f'arith.mulf {old}, %beta : {t}')}, {scaled} : {t}")
    value = e.op(f"arith.select {beta_zero}, {scaled}, {summed} : {t}")
    e.raw(f"memref.store {activation(e, s.epilogue, value, t)}, %C[{c[0]}, %gj] : {mt}")
    e.raw("}")


def _packed_gemm(e: _Emitter, s: GemmShape, c: dict, sizes: tuple, beta_zero: str) -> None:
    """The blocked loops over packs of A and B, and the micro-kernel; C = beta * Cin when K = 0."""
    t = s.elem
    m, n, k = sizes
    c_mc, c_nc = _const(e, s.mc), _const(e, s.nc)
    zero = e.op(f"arith.constant 0.0 : {t}", "z")
    one = e.op(f"arith.constant 1.0 : {t}", "one")
    a_pack, b_pack = _allocate_packs(e, s, (m, n, k))
    direct_a = _DirectA.of(e, s, n)
    edge = e.op(f"memref.alloca() {{alignment = 64 : i64}} : memref<{s.mr * s.nr}x{t}>", "edge")
    # B is stored k-major (K x N) unless transposed.
    b_k_major = e.op(f"arith.xori %tb, {e.op('arith.constant true')} : i1")
    k_zero = e.op(f"arith.cmpi eq, {k}, {c[0]} : index")
    e.raw(f"scf.if {k_zero} {{")
    _scale_c(e, s, c, m, n, zero, beta_zero)
    e.raw("}")
    # ic (A's block, MC rows) > pc (KC) > pack A > jc (B's block, NC columns) > pack B > ir > jr:
    # the MR x KC micro-panel of A stays in L1 while the KC x NR micro-panels of B stream from L2
    # (the vectors run along N, so A's panel is the one each micro-kernel call reuses).
    e.raw(f"scf.for %ic = {c[0]} to {m} step {c_mc} {{")
    mc = e.op(f"affine.min affine_map<(d0)[s0] -> ({s.mc}, s0 - d0)>(%ic)[{m}]", "mcb")
    e.raw(f"scf.for %pc = {c[0]} to {k} step {c[s.kc]} {{")
    kc = e.op(f"affine.min affine_map<(d0)[s0] -> ({s.kc}, s0 - d0)>(%pc)[{k}]", "kcb")
    first = e.op(f"arith.cmpi eq, %pc, {c[0]} : index")
    beta = e.op(f"arith.select {first}, %beta, {one} : {t}", "beff")
    beta_is_zero = e.op(f"arith.andi {first}, {beta_zero} : i1", "bez")
    # The epilogue's activation applies where C is written for the last time: the last K block.
    last = e.op(f"arith.cmpi eq, {e.op(f'arith.addi %pc, {kc} : index')}, {k} : index", "last")
    # The first K block adds beta * Cin, the later ones the partial sums already in C.
    source = e.op(f"arith.select {first}, %Cin, %C : {_memref(t)}", "csrc")
    # Read unpacked: the block's whole MR-row panels (a last partial one is packed, zero-padded).
    unpacked_rows = e.op(
        f"arith.select {direct_a.on}, "
        f"{e.op(f'affine.apply affine_map<()[s0] -> ((s0 floordiv {s.mr}) * {s.mr})>()[{mc}]')}"
        f", {c[0]} : index"
    )
    _pack(e, s, c, _Operand(a_pack, "%A", s.mr, "%ic", mc, m, "%ta"), kc, unpacked_rows)
    e.raw(f"scf.for %jc = {c[0]} to {n} step {c_nc} {{")
    nc = e.op(f"affine.min affine_map<(d0)[s0] -> ({s.nc}, s0 - d0)>(%jc)[{n}]", "ncb")
    _pack(e, s, c, _Operand(b_pack, "%B", s.nr, "%jc", nc, n, b_k_major), kc, c[0])
    e.raw(f"scf.for %ir = {c[0]} to {mc} step {c[s.mr]} {{")
    by_rows, rows_panel, a_panel = direct_a.panels(e, s, (a_pack, kc), unpacked_rows)
    e.raw(f"scf.for %jr = {c[0]} to {nc} step {c[s.nr]} {{")
    left = e.op(f"arith.subi {nc}, %jr : index")
    betas = (beta, beta_is_zero, source, last)
    e.raw(f"scf.if {by_rows} {{")
    packs = (rows_panel, b_pack, kc, edge)
    _micro_kernel_by_width(e, s, c, (packs, left), zero, betas, 1)
    e.raw("} else {")
    packs = (a_panel, b_pack, kc, edge)
    _micro_kernel_by_width(e, s, c, (packs, left), zero, betas, 1)
    e.raw("}")
    for _ in range(5):
        e.raw("}")
    e.raw(f"memref.dealloc {a_pack} : memref<?x{t}>")
    e.raw(f"memref.dealloc {b_pack} : memref<?x{t}>")


@dataclasses.dataclass(frozen=True)
class _DirectA:
    """The micro-kernel reads A's whole MR-row micro-panels from A itself, through a flat view of
    A's buffer, instead of from A's pack: A's rows (A not transposed) in every call, its columns
    (A transposed) when C is narrow (DIRECT_A_TRANSPOSED_TILES). Only a last partial panel, whose
    rows past M the pack pads with zeros, is packed. Packing A stored M x K transposes it (vector
    shuffles, a branch per row); read in place, each of the MR rows streams along k, L1's or the
    prefetchers' work, the same for every column tile (196x64x800, the convnet's conv2: +12 %;
    25088x32x25, conv1: +20 %; 1024 and 2048 cubed +2 to 3 %). ``on``: an i1, whether this
    call does; ``flat``: A's buffer as memref<?xT>; ``offset``, ``lda``: A's offset and row
    stride in it."""

    on: str
    flat: str
    offset: str
    lda: str

    @staticmethod
    def of(e: _Emitter, s: GemmShape, n: str) -> "_DirectA":
        t, mt = s.elem, _memref(s.elem)
        widest = _const(e, DIRECT_A_TRANSPOSED_TILES * s.nr)
        narrow = e.op(f"arith.cmpi ule, {n}, {widest} : index")
        on = e.op(f"arith.select %ta, {narrow}, {e.op('arith.constant true')} : i1", "da")
        meta = e.fresh("am")
        e.raw(
            f"{meta}:6 = memref.extract_strided_metadata %A : {mt} -> "
            f"memref<{t}>, index, index, index, index, index"
        )
        offset, rows, lda = f"{meta}#1", f"{meta}#2", f"{meta}#4"
        size = e.op(
            f"affine.apply affine_map<()[s0, s1, s2] -> (s0 + s1 * s2)>()[{offset}, {rows}, {lda}]"
        )
        flat = e.op(
            f"memref.reinterpret_cast {meta}#0 to offset: [0], sizes: [{size}], strides: [1] : "
            f"memref<{t}> to memref<?x{t}>",
            "af",
        )
        return _DirectA(on, flat, offset, lda)

    def panels(self, e: _Emitter, s: GemmShape, packed: tuple, unpacked_rows: str) -> tuple:
        """Where the micro-kernel finds the micro-panel at rows %ic + %ir, K block %pc: in A itself
        for the block's first ``unpacked_rows`` rows, else in the pack (``packed``: the pack, kc).
        Returns (by_rows, rows_panel, panel): ``by_rows`` (an i1) when the panel is A's own rows
        (A not transposed), read through ``rows_panel``, else through ``panel`` (the pack, or A
        transposed, whose k step's MR elements are adjacent as in the pack). Each panel: (memref,
        where its step 0 starts, elements from one k step to the next, from one row to the
        next). The pack's and A transposed's row step is the constant 1: one micro-kernel serves
        both, with the pack's code unchanged but for its k step; A's rows get a copy of their own
        (a row step held in a register in every micro-kernel cost 3 % at 2048 cubed)."""
        a_pack, kc = packed
        t, one = s.elem, _const(e, 1)
        inside = e.op(f"arith.cmpi ult, %ir, {unpacked_rows} : index")
        not_ta = e.op(f"arith.xori %ta, {e.op('arith.constant true')} : i1")
        by_rows = e.op(f"arith.andi {inside}, {not_ta} : i1")
        in_columns = e.op(f"arith.andi {inside}, %ta : i1")
        row0 = e.op("arith.addi %ic, %ir : index")
        rows_base = e.op(
            f"affine.apply affine_map<()[s0, s1, s2, s3] -> (s0 + s1 * s2 + s3)>()"
            f"[{self.offset}, {row0}, {self.lda}, %pc]"
        )
        columns_base = e.op(
            f"affine.apply affine_map<()[s0, s1, s2, s3] -> (s0 + s1 * s2 + s3)>()"
            f"[{self.offset}, %pc, {self.lda}, {row0}]"
        )
        memref = e.op(f"arith.select {in_columns}, {self.flat}, {a_pack} : memref<?x{t}>", "am")
        in_pack = e.op(f"arith.muli %ir, {kc} : index")
        base = e.op(f"arith.select {in_columns}, {columns_base}, {in_pack} : index", "ab")
        step = e.op(f"arith.select {in_columns}, {self.lda}, {_const(e, s.mr)} : index", "as")
        return by_rows, (self.flat, rows_base, one, self.lda), (memref, base, step, one)


def _micro_kernel_by_width(e: _Emitter, s, c, at: tuple, zero: str, betas: tuple, vectors: int):
    """The micro-kernel of the narrowest width, from ``vectors`` vectors up to NR, that covers the
    ``left`` columns of this tile (``at``: (the packs, left)): a last column tile of N = 10 or
    100 takes one vector instead of computing up to 38 columns of padding, N = 32 (the convnet's
    first layer) two vectors instead of three. A narrower kernel reads the first columns of the
    packed NR-wide panel."""
    packs, left = at
    if vectors == s.nr // s.lanes:
        _micro_kernel(e, s, c, packs, zero, betas, vectors)
        return
    fits = e.op(f"arith.cmpi ule, {left}, {_const(e, vectors * s.lanes)} : index")
    e.raw(f"scf.if {fits} {{")
    _micro_kernel(e, s, c, packs, zero, betas, vectors)
    e.raw("} else {")
    _micro_kernel_by_width(e, s, c, at, zero, betas, vectors + 1)
    e.raw("}")


def _allocate_packs(e: _Emitter, s: GemmShape, sizes: tuple) -> tuple:
    """memref.alloc of A's and B's packs; returns their names."""
    t = s.elem
    m, n, k = sizes
    # Packed blocks: the A pack holds MC rows rounded to MR, the B pack NC columns (both x KC).
    # Named, so that tgc-check-allocs' ResourceExhaustedError says which buffer failed.
    # Packs no larger than the problem needs (a small GEMM touches few fresh pages), never empty,
    # with slack for the transposing pack's stores past its last panel: VL steps of a panel at a
    # time, up to VL - 1 of them past K in a masked last group (and VL elements past the last
    # step where the width is not a multiple of VL).
    slack = s.lanes * (max(s.mr, s.nr) + 1)
    a_size = e.op(
        f"affine.apply affine_map<()[s0, s1] -> (((s0 ceildiv {s.mr}) * {s.mr}) * s1 + {slack})>"
        f"()[{m}, {k}]"
    )
    a_pack = e.op(
        f"memref.alloc({_min(e, a_size, s.mc * s.kc + slack)}) {{alignment = 64 : i64}} : "
        f'memref<?x{t}> loc("{s.symbol}/packed_A")',
        "ap",
    )
    b_size = e.op(
        f"affine.apply affine_map<()[s0, s1] -> (((s0 ceildiv {s.nr}) * {s.nr}) * s1 + {slack})>"
        f"()[{n}, {k}]"
    )
    b_pack = e.op(
        f"memref.alloc({_min(e, b_size, s.nc * s.kc + slack)}) {{alignment = 64 : i64}} : "
        f'memref<?x{t}> loc("{s.symbol}/packed_B")',
        "bp",
    )
    return a_pack, b_pack


def _scale_c(e: _Emitter, s: GemmShape, c: dict, m: str, n: str, zero: str, beta_zero: str):
    """K = 0: C = act(beta * Cin) (act(0) when beta = 0, whatever Cin held)."""
    t, mt = s.elem, _memref(s.elem)
    e.raw(f"scf.for %i0 = {c[0]} to {m} step {c[1]} {{")
    e.raw(f"scf.for %j0 = {c[0]} to {n} step {c[1]} {{")
    old = e.op(f"memref.load %Cin[%i0, %j0] : {mt}")
    scaled = e.op(f"arith.mulf {old}, %beta : {t}")
    new = e.op(f"arith.select {beta_zero}, {zero}, {scaled} : {t}")
    e.raw(f"memref.store {activation(e, s.epilogue, new, t)}, %C[%i0, %j0] : {mt}")
    e.raw("}")
    e.raw("}")


@dataclasses.dataclass(frozen=True)
class _Operand:
    """What the pack writer needs of one operand: A packed into MR-row panels (``width`` MR,
    ``origin`` %ic, ``limit`` M) or B into NR-column panels (NR, %jc, N). ``k_major``: an i1, true
    when the operand is stored with k along its rows (A transposed, B not), so that a panel's k
    step is ``width`` contiguous elements of one stored row; else the panel's rows are stored
    rows, read along k and transposed."""

    pack: str
    source: str  # %A or %B
    width: int
    origin: str  # the block's first row of op(A) (column of op(B))
    size: str  # the block's rows of op(A) (columns of op(B)): mc or nc
    limit: str  # M or N
    k_major: str


def _pack(e: _Emitter, s: GemmShape, c: dict, operand: _Operand, kc: str, start: str) -> None:
    """The block [origin + start, origin + size) x [pc, pc + kc) of op(A) (op(B) transposed) into
    panels of ``width``: panel p's step kk at p * width * kc + kk * width, rows past ``limit``
    zero (``start``: a multiple of ``width``; the rows before it are read unpacked, _DirectA)."""
    o = operand
    panel = e.fresh("pp")
    e.raw(f"scf.if {o.k_major} {{")
    e.raw(f"scf.for {panel} = {start} to {o.size} step {_const(e, o.width)} {{")
    base = e.op(f"arith.muli {panel}, {kc} : index")
    _pack_contiguous(e, s, c, o, (base, e.op(f"arith.addi {o.origin}, {panel} : index"), kc))
    e.raw("}")
    e.raw("} else {")
    e.raw(f"scf.for {panel} = {start} to {o.size} step {_const(e, o.width)} {{")
    base = e.op(f"arith.muli {panel}, {kc} : index")
    first = e.op(f"arith.addi {o.origin}, {panel} : index")
    vector_end = e.op(
        f"affine.apply affine_map<()[s0] -> ((s0 floordiv {s.lanes}) * {s.lanes})>()[{kc}]"
    )
    pack_of, at = (o.pack, o.source, o.width), (base, first, o.limit)
    _pack_transposing(e, s, c, pack_of, at, vector_end)
    # The last kc % VL steps: one more group of VL steps whose rows are read masked at kc (zeros
    # past it). Its stores run up to VL - 1 steps past the panel, into the next panel's first
    # steps (written after it) or the pack's slack.
    tail = e.op(f"arith.cmpi ult, {vector_end}, {kc} : index")
    e.raw(f"scf.if {tail} {{")
    left = e.op(f"arith.subi {kc}, {vector_end} : index")
    mask = e.op(f"vector.create_mask {left} : vector<{s.lanes}xi1>")
    _pack_step_group(e, s, pack_of, at, (vector_end, mask))
    e.raw("}")
    e.raw("}")
    e.raw("}")


def _pack_contiguous(e: _Emitter, s, c, o: _Operand, at: tuple) -> None:
    """A panel of an operand stored k-major: each k step's ``width`` elements are contiguous in
    one stored row, copied as ceil(width / VL) vectors (plain loads for a panel inside the
    operand, masked ones, zeros past ``limit``, for the last). With MR = 8 of 16 lanes the store
    runs 8 elements into the next step: stores go in increasing order and the pack has slack."""
    base, first, kc = at
    t, mt, pack = s.elem, _memref(s.elem), f"memref<?x{s.elem}>"
    vt = f"vector<{s.lanes}x{t}>"
    chunks = -(-o.width // s.lanes)
    end = e.op(f"arith.addi {first}, {_const(e, chunks * s.lanes)} : index")
    whole = e.op(f"arith.cmpi ule, {end}, {o.limit} : index")
    pad = e.op(f"arith.constant 0.0 : {t}")
    step = e.fresh("kq")
    for branch in ("inside", "edge"):
        e.raw(f"scf.if {whole} {{" if branch == "inside" else "} else {")
        e.raw(f"scf.for {step} = {c[0]} to {kc} step {c[1]} {{")
        row_k = e.op(f"arith.addi %pc, {step} : index")
        for chunk in range(chunks):
            col = (
                first
                if chunk == 0
                else e.op(f"arith.addi {first}, {_const(e, chunk * s.lanes)} : index")
            )
            if branch == "inside":
                vec = e.op(f"vector.load {o.source}[{row_k}, {col}] : {mt}, {vt}")
            else:
                read = f"vector.transfer_read {o.source}[{row_k}, {col}], {pad}"
                vec = e.op(f"{read} {{in_bounds = [false]}} : {mt}, {vt}")
            where = e.op(
                f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0 + {chunk * s.lanes})>"
                f"({base}, {step})[{_const(e, o.width)}]"
            )
            e.raw(f"vector.store {vec}, {o.pack}[{where}] : {pack}, {vt}")
        e.raw("}")
    e.raw("}")


def _pack_transposing(e: _Emitter, s, c, pack_of: tuple, at: tuple, vector_end: str) -> None:
    """Steps [0, vector_end) of a panel of ``width`` rows of ``source`` (A stored M x K or B
    stored N x K) starting at row ``row0``, VL steps at a time (_pack_step_group)."""
    step = e.fresh("kv")
    e.raw(f"scf.for {step} = {c[0]} to {vector_end} step {_const(e, s.lanes)} {{")
    _pack_step_group(e, s, pack_of, at, (step, None))
    e.raw("}")


def _pack_step_group(e: _Emitter, s, pack_of: tuple, at: tuple, group: tuple) -> None:
    """VL steps of a panel from ``step`` (``group``: (step, mask)): each row read as one vector
    along k (zeros for the rows at or past ``limit``; lanes off in ``mask``, a vector of i1 or
    None, read as zeros).

    A width that is a power of two below VL (MR = 8 of 16 f32 lanes) is rearranged into ``width``
    whole vectors of VL / width steps each (_steps_of_rows). Any other width is read VL rows (one
    VL x VL block) at a time, transposed in registers (_transposed) and stored as one vector of VL
    rows per step; when the width is not a multiple of VL (MR = 6 of 8 AVX2 lanes) a step's last
    store runs past the step into the next one's first elements: the stores go in increasing
    order, so the next step's (or the next panel's) store overwrites them, and the pack has slack
    after its last panel."""
    pack_name, source, width = pack_of
    base, row0, limit = at
    step, mask = group
    t, mt, pack = s.elem, _memref(s.elem), f"memref<?x{s.elem}>"
    vt = f"vector<{s.lanes}x{t}>"
    col = e.op(f"arith.addi %pc, {step} : index")
    # A masked read takes its padding (zeros) from a scalar.
    masked = None if mask is None else (mask, e.op(f"arith.constant 0.0 : {t}"))
    read = (source, mt, vt, masked)
    if width < s.lanes and s.lanes % width == 0 and not width & (width - 1):
        rows = [_row_or_zeros(e, read, (row0, r, limit), col) for r in range(width)]
        for v, steps in enumerate(_steps_of_rows(e, rows, vt, s.lanes)):
            where = e.op(
                f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0 + {v * s.lanes})>"
                f"({base}, {step})[{_const(e, width)}]"
            )
            e.raw(f"vector.store {steps}, {pack_name}[{where}] : {pack}, {vt}")
        return
    unused = e.op(f"arith.constant dense<0.0> : {vt}")
    blocks = []
    for first in range(0, width, s.lanes):
        rows = [
            _row_or_zeros(e, read, (row0, first + r, limit), col) if first + r < width else unused
            for r in range(s.lanes)
        ]
        blocks.append(_transposed(e, rows, vt, s.lanes))
    for j in range(s.lanes):
        for b, columns in enumerate(blocks):
            where = e.op(
                f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + (d1 + {j}) * s0 + {b * s.lanes})>"
                f"({base}, {step})[{_const(e, width)}]"
            )
            e.raw(f"vector.store {columns[j]}, {pack_name}[{where}] : {pack}, {vt}")


def _row_or_zeros(e: _Emitter, types: tuple, row_of: tuple, col: str) -> str:
    """VL elements of ``source``'s row ``row0 + offset`` from column ``col`` (``types``: source,
    its type, the vector's, and (the lanes to read, a zero scalar) or None for all lanes); zeros
    for a row at or past ``limit`` and for the lanes not read."""
    source, mt, vt, masked = types
    row0, offset, limit = row_of
    row = row0 if offset == 0 else e.op(f"arith.addi {row0}, {_const(e, offset)} : index")
    inside = e.op(f"arith.cmpi ult, {row}, {limit} : index")
    loaded = e.fresh("row")
    e.raw(f"{loaded} = scf.if {inside} -> ({vt}) {{")
    if masked is None:
        vector = e.op(f"vector.load {source}[{row}, {col}] : {mt}, {vt}")
    else:
        # The lanes on are steps below kc, inside the row: the read needs no bounds check.
        mask, pad = masked
        vector = e.op(
            f"vector.transfer_read {source}[{row}, {col}], {pad}, {mask} "
            f"{{in_bounds = [true]}} : {mt}, {vt}"
        )
    e.raw(f"scf.yield {vector} : {vt}")
    e.raw("} else {")
    e.raw(f"scf.yield {e.op(f'arith.constant dense<0.0> : {vt}')} : {vt}")
    e.raw("}")
    return loaded


def _transposed(e: _Emitter, rows: list, vt: str, lanes: int) -> list:
    """The columns of the lanes x lanes block whose rows are ``rows``: log2(lanes) stages
    (_swap_bits) swapping bit b of the row index with bit b of the lane index. Each shuffle is one
    instruction (vpermt2ps on AVX-512), 64 for a 16 x 16 block; vector.transpose of the whole
    block lowered to scalar element moves (3x slower packing of A, 20 % of a 64x100x1000 GEMM)."""
    bits = lanes.bit_length() - 1
    return _swap_bits(e, rows, vt, lanes, [(b, b) for b in range(bits)])


def _steps_of_rows(e: _Emitter, rows: list, vt: str, lanes: int) -> list:
    """``len(rows)`` = W rows (a power of two below lanes) of VL k steps each, rearranged into W
    vectors that hold the panel's pack order: vector v = steps v*S .. v*S+S-1 (S = VL / W), W rows
    per step. log2(W) stages (_swap_bits) move the steps' high bits into the vector index, one
    single-vector shuffle per vector orders the lanes. For MR = 8 of 16 lanes: 32 shuffles and
    8 whole stores per 16 steps (a 16 x 16 transpose of 8 rows took 64 and 16 half-used ones)."""
    width = len(rows)
    row_bits, lane_bits = width.bit_length() - 1, lanes.bit_length() - 1
    stages = [(j, lane_bits - row_bits + j) for j in range(row_bits)]
    mixed = _swap_bits(e, rows, vt, lanes, stages)
    # Lane r * S + kk now holds row r, step kk of the vector's S steps; the pack wants kk * W + r.
    steps = lanes // width
    order = [(i % width) * steps + i // width for i in range(lanes)]
    return [e.op(f"vector.shuffle {v}, {v} {order} : {vt}, {vt}") for v in mixed]


def _swap_bits(e: _Emitter, rows: list, vt: str, lanes: int, stages: list) -> list:
    """Two-vector shuffles on ``rows`` (vectors of ``lanes``): each stage (a, b) swaps bit a of
    the vector index with bit b of the lane index, i.e. exchanges the elements (p, i) and
    (p ^ 2^a, i ^ 2^b) where those two bits differ."""
    rows = list(rows)
    for a, b in stages:
        vector_bit, lane_bit = 1 << a, 1 << b
        low = [i if not i & lane_bit else lanes + (i ^ lane_bit) for i in range(lanes)]
        high = [i ^ lane_bit if not i & lane_bit else lanes + i for i in range(lanes)]
        for p in range(len(rows)):
            if not p & vector_bit:
                q = p | vector_bit
                pair = f"{rows[p]}, {rows[q]}"
                rows[p], rows[q] = (
                    e.op(f"vector.shuffle {pair} {mask} : {vt}, {vt}") for mask in (low, high)
                )
    return rows


def _micro_kernel(e: _Emitter, s, c, packs: tuple, zero: str, betas: tuple, vectors: int):
    """The MR x (vectors * VL) tile at (ic + ir, jc + jr): accumulate over kc (UNROLL steps per
    iteration, then the rest one by one), then combine with C. ``packs``: (A's micro-panel
    (_DirectA.panels), B's pack, kc, the stack tile for C's edges); ``betas``: (this block's
    beta, whether it is zero, the memref its beta term reads)."""
    (a_pack, a_base, a_step, a_row), b_pack, kc, edge = packs
    t, vt = s.elem, f"vector<{s.lanes}x{s.elem}>"
    b_base = e.op(f"arith.muli %jr, {kc} : index", "bb")
    vzero = e.op(f"vector.broadcast {zero} : {t} to {vt}", "vz")
    count = s.mr * vectors
    unrolled_end = e.op(
        f"affine.apply affine_map<()[s0] -> ((s0 floordiv {UNROLL}) * {UNROLL})>()[{kc}]"
    )
    panels = _Panels(a_pack, b_pack, a_base, b_base, a_step, a_row)
    _prefetch_c_tile(e, s, c, vectors)
    main = _k_loop(e, s, c, panels, (c[0], unrolled_end, UNROLL), [vzero] * count, vt)
    rest = [f"{main}#{i}" for i in range(count)]
    results = _k_loop(e, s, c, panels, (unrolled_end, kc, 1), rest, vt)
    _combine_with_c(e, s, c, (results, vectors, edge), zero, betas, vt)


def _prefetch_c_tile(e: _Emitter, s, c, vectors: int) -> None:
    """Prefetches (for writing) the lines of the C tile that the micro-kernel ends with, so that
    they arrive from L3 or memory while the k loop runs instead of stalling the combine (+2 to 4 %
    at 2048 cubed). Rows and columns past C's edge are clamped to its last: the addresses stay
    inside C."""
    mt = _memref(s.elem)
    last_row = e.op(f"arith.subi {e.op(f'memref.dim %C, {c[0]} : {mt}')}, {c[1]} : index")
    last_col = e.op(f"arith.subi {e.op(f'memref.dim %C, {c[1]} : {mt}')}, {c[1]} : index")
    row0 = e.op("arith.addi %ic, %ir : index")
    col0 = e.op("arith.addi %jc, %jr : index")
    line = 64 // (4 if s.elem == "f32" else 8)
    cols = [
        e.op(
            f"arith.minui {e.op(f'arith.addi {col0}, {_const(e, at)} : index')}, {last_col} : index"
        )
        for at in range(0, vectors * s.lanes, line)
    ]
    for r in range(s.mr):
        row = e.op(
            f"arith.minui {e.op(f'arith.addi {row0}, {_const(e, r)} : index')}, {last_row} : index"
        )
        for col in cols:
            e.raw(f"memref.prefetch %C[{row}, {col}], write, locality<3>, data : {mt}")


@dataclasses.dataclass(frozen=True)
class _Panels:
    """The packs and where the micro-kernel's A and B micro-panels start in them."""

    a_pack: str
    b_pack: str
    a_base: str
    b_base: str
    a_step: str  # elements from one k step of A's micro-panel to the next (MR in the pack)
    a_row: str  # elements from one row of A's micro-panel to the next (1 in the pack)


def _k_loop(e: _Emitter, s, c, panels: _Panels, bounds: tuple, init: list, vt: str) -> str:
    """scf.for over k in [lower, upper) by ``unroll`` (``bounds``), as many rank-1 updates of the
    MR x NR accumulators (iter_args, initially ``init``) per iteration; returns the results'
    name."""
    lower, upper, unroll = bounds
    step = c[1] if unroll == 1 else _const(e, unroll)
    a_pack, b_pack, a_base, b_base = panels.a_pack, panels.b_pack, panels.a_base, panels.b_base
    t, pack_t = s.elem, f"memref<?x{s.elem}>"
    vectors = len(init) // s.mr
    accs = [f"%a{r}_{v}" for r in range(s.mr) for v in range(vectors)]
    results = e.fresh("acc")
    args = ", ".join(f"{name} = {value}" for name, value in zip(accs, init))
    types = ", ".join([vt] * len(accs))
    e.raw(
        f"{results}:{len(accs)} = scf.for %kk = {lower} to {upper} step {step} "
        f"iter_args({args}) -> ({types}) {{"
    )
    current = list(accs)
    for u in range(unroll):
        k = "%kk" if u == 0 else e.op(f"arith.addi %kk, {_const(e, u)} : index")
        b_at = e.op(
            f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0)>({b_base}, {k})[{c[s.nr]}]"
        )
        b_vectors = []
        for v in range(vectors):
            at = b_at if v == 0 else e.op(f"arith.addi {b_at}, {_const(e, v * s.lanes)} : index")
            b_vectors.append(e.op(f"vector.load {b_pack}[{at}] : {pack_t}, {vt}", "b"))
        a_at = e.op(
            f"affine.apply affine_map<(d0, d1)[s0] -> (d0 + d1 * s0)>({a_base}, {k})"
            f"[{panels.a_step}]"
        )
        new = []
        for r in range(s.mr):
            at = a_at
            if r:
                at = e.op(
                    f"affine.apply affine_map<(d0)[s0] -> (d0 + s0 * {r})>({a_at})[{panels.a_row}]"
                )
            scalar = e.op(f"memref.load {a_pack}[{at}] : {pack_t}")
            broadcast = e.op(f"vector.broadcast {scalar} : {t} to {vt}", "bc")
            for v in range(vectors):
                acc = current[r * vectors + v]
                new.append(e.op(f"vector.fma {broadcast}, {b_vectors[v]}, {acc} : {vt}", "f"))
        current = new
    e.raw(f"scf.yield {', '.join(current)} : {types}")
    e.raw("}")
    return results


def _combine_with_c(e: _Emitter, s, c, tile: tuple, zero: str, betas: tuple, vt: str) -> None:
    """C's tile = alpha * acc (+ beta * source unless beta is zero): plain vector loads and stores
    for a whole tile inside C, else row by row (rows past M skipped), each vector masked at C's
    edge. ``tile``: (the accumulators' results, vectors per row, the stack tile for C's edges);
    ``betas``: (beta, whether zero, the source memref: Cin for the first K block, else C, whether
    this is the last K block: then the epilogue's activation applies)."""
    results, vectors, edge = tile
    beta, beta_is_zero, source, last = betas
    t, mt = s.elem, _memref(s.elem)
    row0 = e.op("arith.addi %ic, %ir : index")
    col0 = e.op("arith.addi %jc, %jr : index")
    m = e.op(f"memref.dim %C, {c[0]} : {mt}")
    n = e.op(f"memref.dim %C, {c[1]} : {mt}")
    alpha = e.op(f"vector.broadcast %alpha : {t} to {vt}")
    betav = e.op(f"vector.broadcast {beta} : {t} to {vt}")
    rows_in = e.op(f"arith.cmpi ule, {e.op(f'arith.addi {row0}, {c[s.mr]} : index')}, {m} : index")
    width = _const(e, vectors * s.lanes)
    cols_in = e.op(f"arith.cmpi ule, {e.op(f'arith.addi {col0}, {width} : index')}, {n} : index")
    whole = e.op(f"arith.andi {rows_in}, {cols_in} : i1")
    positions = []
    for r in range(s.mr):
        row = row0 if r == 0 else e.op(f"arith.addi {row0}, {_const(e, r)} : index")
        cols = [
            col0 if v == 0 else e.op(f"arith.addi {col0}, {_const(e, v * s.lanes)} : index")
            for v in range(vectors)
        ]
        positions.append((row, cols))

    def combined(acc: str, old: str) -> str:
        scaled = e.op(f"arith.mulf {acc}, {alpha} : {vt}")
        summed = e.op(f"vector.fma {old}, {betav}, {scaled} : {vt}")
        value = e.op(f"arith.select {beta_is_zero}, {scaled}, {summed} : {vt}")
        if not s.epilogue:
            return value
        return e.op(f"arith.select {last}, {activation(e, s.epilogue, value, vt)}, {value} : {vt}")

    e.raw(f"scf.if {whole} {{")
    for r, (row, cols) in enumerate(positions):
        for v, col in enumerate(cols):
            old = e.op(f"vector.load {source}[{row}, {col}] : {mt}, {vt}")
            value = combined(f"{results}#{r * vectors + v}", old)
            e.raw(f"vector.store {value}, %C[{row}, {col}] : {mt}, {vt}")
    e.raw("} else {")
    # At C's edges: the accumulators go through the stack tile ``edge``, then a loop over the
    # rows inside C writes each row's vectors masked at C's last column (one loop body instead of
    # MR unrolled rows: less code to compile for the few edge tiles).
    edge_t = f"memref<{s.mr * s.nr}x{t}>"
    for r in range(s.mr):
        for v in range(vectors):
            at = _const(e, (r * vectors + v) * s.lanes)
            e.raw(f"vector.store {results}#{r * vectors + v}, {edge}[{at}] : {edge_t}, {vt}")
    rows_left = e.op(f"arith.minui {e.op(f'arith.subi {m}, {row0} : index')}, {c[s.mr]} : index")
    masked = "{in_bounds = [false]}"
    e.raw(f"scf.for %er = {c[0]} to {rows_left} step {c[1]} {{")
    row = e.op(f"arith.addi {row0}, %er : index")
    for v in range(vectors):
        col = col0 if v == 0 else e.op(f"arith.addi {col0}, {_const(e, v * s.lanes)} : index")
        at = e.op(
            f"affine.apply affine_map<(d0) -> (d0 * {vectors * s.lanes} + {v * s.lanes})>(%er)"
        )
        acc = e.op(f"vector.load {edge}[{at}] : {edge_t}, {vt}")
        old = e.op(f"vector.transfer_read {source}[{row}, {col}], {zero} {masked} : {mt}, {vt}")
        value = combined(acc, old)
        e.raw(f"vector.transfer_write {value}, %C[{row}, {col}] {masked} : {vt}, {mt}")
    e.raw("}")
    e.raw("}")


def _min(e: _Emitter, value: str, bound: int) -> str:
    return e.op(f"arith.minui {value}, {_const(e, bound)} : index")


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


def declare_gemm_function(module: ir.Module, shape: GemmShape) -> str:
    """Declares the kernel for ``shape`` in ``module`` (``func.func private``, no body) once: an
    in-process compile calls the copy compiled once per process (gemm_library.py); returns its
    symbol."""
    from tgc.dialect.ir_helpers import find_function

    if find_function(module, shape.symbol) is None:
        t, mt = shape.elem, _memref(shape.elem)
        declaration = (
            f"func.func private @{shape.symbol}({mt}, {mt}, {mt}, {mt}, i1, i1, {t}, {t})\n"
        )
        parsed = ir.Module.parse(declaration, module.context)
        function = parsed.body.operations[0]
        function.operation.move_before(module.body.operations[0])
    return shape.symbol


def shape_of_symbol(symbol: str) -> GemmShape | None:
    """The blocking whose kernel is named ``symbol`` (of any element type, ISA and epilogue), or
    None when ``symbol`` names no generated kernel."""
    if not symbol.startswith("tgc_gemm_"):
        return None
    for elem in ("f32", "f64"):
        for isa in ISAS:
            for tile in (None, WIDE_TILE):
                for epilogue in EPILOGUES:
                    shape = dataclasses.replace(_blocking(elem, isa, tile), epilogue=epilogue)
                    if shape.symbol == symbol:
                        return shape
    return None
