"""tgc-narrow-gemm: a matmul whose C is at most one vector wide (N <= lanes, static) calls a kernel
made for that width instead of the general GEMM.

The lectures' output layers are 10 wide: softmax regression's step multiplies [M, 784] by [784, 10]
forward and [784, M]^T by [M, 10] for the weight's gradient. The general kernels fit such a C
badly: tgc's generated GEMM computes 8-row x 48-column tiles (its one-vector edge kernel still
broadcasts one element of A per FMA, 9 loads per 8 FMAs) and OpenBLAS's does the same, so both
spend a load and a 16-lane FMA on every multiply of A's elements, 10 lanes of it useful. On the
Xeon of issue 18 (one thread) the generated GEMM took 24.3 us at 100x10x784 and 22.8 us at
784x10x100 (A^T), OpenBLAS 18.6 and 14.1 us: most of the softmax regression step.

The kernels here keep every lane busy:

* ``C = A @ B`` (A: M x K): B (K x N) is copied transposed, zero-padded to whole vectors, into
  an N x K' block; each C element is then a dot product along K, vectorized along K. Two rows of
  A at a time (one when N > 12): per vector step 2 loads of A and N of B^T feed 2N FMAs, every
  lane useful. The 2N accumulators are summed lane by lane at the end (a fixed tree of halvings).
  Under 4 rows the transposed copy costs more than it saves: each row of C is then one masked
  vector, accumulated with A's elements broadcast over B's rows.
* ``C = A^T @ B`` (A stored K x M): vectorized along M, A's rows being contiguous in M. Per step
  along K, 2 vectors of A (one when N > 12) and N broadcasts of B's row feed 2N FMAs; the
  accumulators are C's columns, written back through a small stack block, row by row.

C = A B (beta = 0, after a zero fill, which the kernel replaces) or C += A B (tgc-gemm-update's
SGD update, beta = 1). Only f32 and f64, with unit-stride rows; B transposed, N = 1 (a gemv's
case) and N above one vector keep the general path. The kernel runs on the calling thread: it
does a narrow GEMM in about half the generated GEMM's single-thread time, so it stays ahead of
that GEMM split over two cores (the machine's count) up to any M.

Runs in the CPU pipeline before tgc-gemm-autotune, on the functions tgc-outline-gemm made (a
private function that is a matmul of its arguments, optionally after a zero fill of C), which it
rewrites into a call of the kernel, defined once per module, N, transpose and beta. A matmul of
a function with other work (an epilogue joined to it) keeps the general path.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import func, memref

from tgc.dialect.ir_helpers import all_ops, find_function, functions
from tgc.lowering.cpu import gemm_kernel
from tgc.lowering.cpu.blas import _fold_copies as fold_copies
from tgc.lowering.cpu.blas import matmul_map_dims, memref_operand_types, unit_inner_stride
from tgc.lowering.cpu.outline_gemm import fills_float_zero
from tgc.passes.base import ModulePass

_TYPES = ("f32", "f64")
# Under this many rows of C, A @ B broadcasts A's elements instead of transposing B (module doc).
TRANSPOSE_FROM_ROWS = 4
# Up to this width two rows (A @ B) or two vectors of rows (A^T @ B) of C are computed at once:
# 2 x N accumulators and the operands fit the 32 vector registers; wider, one.
TWO_AT_ONCE_UP_TO = 12


@dataclasses.dataclass(frozen=True)
class NarrowGemm:
    """One kernel: element type, vector lanes, C's width N, A transposed, C accumulated into."""

    elem: str
    lanes: int
    n: int
    trans_a: bool
    accumulate: bool

    @property
    def symbol(self) -> str:
        kind = "tn" if self.trans_a else "nn"
        beta = "_acc" if self.accumulate else ""
        return f"tgc_narrow_gemm_{self.elem}_{self.lanes}l_n{self.n}_{kind}{beta}"

    @property
    def group(self) -> int:
        """Rows (A @ B) or row vectors (A^T @ B) of C computed at once."""
        return 2 if self.n <= TWO_AT_ONCE_UP_TO else 1


def _memref(elem: str) -> str:
    return f"memref<?x?x{elem}, strided<[?, 1], offset: ?>>"


class _Emitter:
    """Numbered SSA names and the lines of one function body."""

    def __init__(self):
        self.lines: list = []
        self.header: list = []  # the index constants, at the top: every region may use them
        self.count = 0
        self.constants: dict = {}

    def op(self, text: str) -> str:
        self.count += 1
        name = f"%v{self.count}"
        self.lines.append(f"{name} = {text}")
        return name

    def ops(self, text: str, results: int) -> list:
        """An op with ``results`` results (an scf.for with iter_args): their names."""
        self.count += 1
        name = f"%r{self.count}"
        self.lines.append(f"{name}:{results} = {text}")
        return [f"{name}#{i}" for i in range(results)]

    def raw(self, text: str) -> None:
        self.lines.append(text)

    def index(self, value: int) -> str:
        if value not in self.constants:
            name = self.constants[value] = f"%i_{value}"
            self.header.append(f"{name} = arith.constant {value} : index")
        return self.constants[value]

    def body(self) -> str:
        return "\n    ".join(self.header + self.lines)


def kernel_text(k: NarrowGemm) -> str:
    """The MLIR text of ``func.func private @<symbol>(A, B, C, Cin)``: C (M x N) = A @ B, or
    A^T @ B with A stored K x M (``trans_a``), or C = Cin + that (``accumulate``; Cin is C itself
    but where a copy into C was folded away, and must not overlap C otherwise: each element of Cin
    is read right before that of C is written). B is K x N; every operand has unit-stride rows and
    any row stride and offset."""
    e = _Emitter()
    mt = _memref(k.elem)
    e.raw(f"%m = memref.dim %C, {e.index(0)} : {mt}")
    e.raw(f"%k = memref.dim %B, {e.index(0)} : {mt}")
    e.raw(f"%zero = arith.constant 0.0 : {k.elem}")
    e.raw(f"%vzero = vector.broadcast %zero : {k.elem} to vector<{k.lanes}x{k.elem}>")
    if k.trans_a:
        _transposed_a(e, k)
    else:
        few = e.op(f"arith.cmpi ult, %m, {e.index(TRANSPOSE_FROM_ROWS)} : index")
        e.raw(f"scf.if {few} {{")
        _broadcast_rows(e, k)
        e.raw("} else {")
        _dot_rows(e, k)
        e.raw("}")
    e.raw("return")
    arguments = f"%A: {mt}, %B: {mt}, %C: {mt}, %Cin: {mt}"
    return f"func.func private @{k.symbol}({arguments}) {{\n    {e.body()}\n}}\n"


def _store_c(e: _Emitter, k: NarrowGemm, value: str, row: str, col: str) -> None:
    """C[row, col] = value, or Cin[row, col] + value with ``accumulate``."""
    mt = _memref(k.elem)
    if k.accumulate:
        old = e.op(f"memref.load %Cin[{row}, {col}] : {mt}")
        value = e.op(f"arith.addf {old}, {value} : {k.elem}")
    e.raw(f"memref.store {value}, %C[{row}, {col}] : {mt}")


def _broadcast_rows(e: _Emitter, k: NarrowGemm) -> None:
    """A @ B for a few rows: C's row i is one masked vector, += A[i, kk] * B's row kk."""
    vt, mt, mask_t = f"vector<{k.lanes}x{k.elem}>", _memref(k.elem), f"vector<{k.lanes}xi1>"
    columns = e.op(f"vector.constant_mask [{k.n}] : {mask_t}")
    c0, c1 = e.index(0), e.index(1)
    e.raw(f"scf.for %bi = {c0} to %m step {c1} {{")
    (total,) = e.ops(f"scf.for %bk = {c0} to %k step {c1} iter_args(%acc = %vzero) -> ({vt}) {{", 1)
    masked = f"{columns}, %vzero : {mt}, {mask_t}, {vt} into {vt}"
    row = e.op(f"vector.maskedload %B[%bk, {c0}], {masked}")
    a = e.op(f"memref.load %A[%bi, %bk] : {mt}")
    av = e.op(f"vector.broadcast {a} : {k.elem} to {vt}")
    e.raw(f"scf.yield {e.op(f'vector.fma {av}, {row}, %acc : {vt}')} : {vt}")
    e.raw("}")
    if k.accumulate:
        old = e.op(f"vector.maskedload %Cin[%bi, {c0}], {masked}")
        total = e.op(f"arith.addf {old}, {total} : {vt}")
    e.raw(f"vector.maskedstore %C[%bi, {c0}], {columns}, {total} : {mt}, {mask_t}, {vt}")
    e.raw("}")


def _dot_rows(e: _Emitter, k: NarrowGemm) -> None:
    """A @ B for many rows: B transposed into an N x K' block (K' = K rounded up to whole vectors,
    zeros after K), then dot products along K, ``group`` rows of C at a time."""
    t, mt = k.elem, _memref(k.elem)
    bt_t = f"memref<{k.n}x?x{t}>"
    c0, c1 = e.index(0), e.index(1)
    whole = e.op(f"affine.apply affine_map<()[s0] -> ((s0 floordiv {k.lanes}) * {k.lanes})>()[%k]")
    padded = e.op(
        f"affine.apply affine_map<()[s0] -> (((s0 + {k.lanes - 1}) floordiv {k.lanes}) * "
        f"{k.lanes})>()[%k]"
    )
    e.raw(f"%bt = memref.alloc({padded}) {{alignment = 64 : i64}} : {bt_t}")
    e.raw(f"scf.for %tk = %k to {padded} step {c1} {{")
    for j in range(k.n):
        e.raw(f"memref.store %zero, %bt[{e.index(j)}, %tk] : {bt_t}")
    e.raw("}")
    e.raw(f"scf.for %tk = {c0} to %k step {c1} {{")
    for j in range(k.n):
        value = e.op(f"memref.load %B[%tk, {e.index(j)}] : {mt}")
        e.raw(f"memref.store {value}, %bt[{e.index(j)}, %tk] : {bt_t}")
    e.raw("}")
    tail = e.op(f"arith.subi %k, {whole} : index")
    e.raw(f"%tail_mask = vector.create_mask {tail} : vector<{k.lanes}xi1>")
    group = k.group
    grouped = e.op(f"affine.apply affine_map<()[s0] -> ((s0 floordiv {group}) * {group})>()[%m]")
    _dot_row_loop(e, k, (c0, grouped), group, whole)
    if group > 1:
        _dot_row_loop(e, k, (grouped, "%m"), 1, whole)
    e.raw(f"memref.dealloc %bt : {bt_t}")


def _dot_row_loop(e: _Emitter, k: NarrowGemm, bounds: tuple, rows: int, whole: str) -> None:
    """Rows [lower, upper) of C, ``rows`` at a time: whole vectors of K, then the masked tail."""
    t, mt = k.elem, _memref(k.elem)
    vt, mask_t, bt_t = f"vector<{k.lanes}x{t}>", f"vector<{k.lanes}xi1>", f"memref<{k.n}x?x{t}>"
    lower, upper = bounds
    loop = f"%i{e.count}"
    e.raw(f"scf.for {loop} = {lower} to {upper} step {e.index(rows)} {{")
    row_of = [loop] + [e.op(f"arith.addi {loop}, {e.index(r)} : index") for r in range(1, rows)]
    count = rows * k.n
    names = [f"%a{r}_{j}" for r in range(rows) for j in range(k.n)]
    zeros = ", ".join(f"{n} = %vzero" for n in names)
    types = ", ".join([vt] * count)
    kb = f"%kb{e.count}"
    accs = e.ops(
        f"scf.for {kb} = {e.index(0)} to {whole} step {e.index(k.lanes)} iter_args({zeros}) "
        f"-> ({types}) {{",
        count,
    )
    a_rows = [e.op(f"vector.load %A[{r}, {kb}] : {mt}, {vt}") for r in row_of]
    b_rows = [e.op(f"vector.load %bt[{e.index(j)}, {kb}] : {bt_t}, {vt}") for j in range(k.n)]
    updated = [
        e.op(f"vector.fma {a_rows[r]}, {b_rows[j]}, {names[r * k.n + j]} : {vt}")
        for r in range(rows)
        for j in range(k.n)
    ]
    e.raw(f"scf.yield {', '.join(updated)} : {types}")
    e.raw("}")
    # The tail: A's elements past K are masked off (B^T is zero there, but A may hold NaN).
    a_tail = [
        e.op(
            f"vector.maskedload %A[{r}, {whole}], %tail_mask, %vzero : {mt}, {mask_t}, {vt} "
            f"into {vt}"
        )
        for r in row_of
    ]
    b_tail = [
        e.op(
            f"vector.maskedload %bt[{e.index(j)}, {whole}], %tail_mask, %vzero : {bt_t}, "
            f"{mask_t}, {vt} into {vt}"
        )
        for j in range(k.n)
    ]
    for r in range(rows):
        for j in range(k.n):
            acc = e.op(f"vector.fma {a_tail[r]}, {b_tail[j]}, {accs[r * k.n + j]} : {vt}")
            _store_c(e, k, _sum_lanes(e, acc, k), row_of[r], e.index(j))
    e.raw("}")


def _sum_lanes(e: _Emitter, vector: str, k: NarrowGemm) -> str:
    """The sum of the vector's lanes by halving (a fixed order: the same sum on every call)."""
    width = k.lanes
    while width > 1:
        half = width // 2
        vt, ht = f"vector<{width}x{k.elem}>", f"vector<{half}x{k.elem}>"
        low = e.op(
            f"vector.extract_strided_slice {vector} {{offsets = [0], sizes = [{half}], "
            f"strides = [1]}} : {vt} to {ht}"
        )
        high = e.op(
            f"vector.extract_strided_slice {vector} {{offsets = [{half}], "
            f"sizes = [{half}], strides = [1]}} : {vt} to {ht}"
        )
        vector = e.op(f"arith.addf {low}, {high} : {ht}")
        width = half
    return e.op(f"vector.extract {vector}[0] : {k.elem} from vector<1x{k.elem}>")


def _transposed_a(e: _Emitter, k: NarrowGemm) -> None:
    """A^T @ B, A stored K x M: vectors along M, ``group`` of them at a time; then the rest of M
    one masked vector at a time."""
    t = k.elem
    span = k.group * k.lanes
    e.raw(f"%block = memref.alloca() {{alignment = 64 : i64}} : memref<{k.n}x{span}x{t}>")
    whole = e.op(f"affine.apply affine_map<()[s0] -> ((s0 floordiv {span}) * {span})>()[%m]")
    _column_blocks(e, k, (e.index(0), whole), k.group, masked=False)
    _column_blocks(e, k, (whole, "%m"), 1, masked=True)


def _column_blocks(e: _Emitter, k: NarrowGemm, bounds: tuple, vectors: int, masked: bool):
    """Rows [lower, upper) of C in blocks of ``vectors`` vectors of rows: C's columns accumulate
    A's rows times B's elements, then go to C through the stack block, row by row."""
    t, mt = k.elem, _memref(k.elem)
    vt, mask_t = f"vector<{k.lanes}x{t}>", f"vector<{k.lanes}xi1>"
    block_t = f"memref<{k.n}x{k.group * k.lanes}x{t}>"
    lower, upper = bounds
    span = vectors * k.lanes
    mb = f"%mb{e.count}"
    e.raw(f"scf.for {mb} = {lower} to {upper} step {e.index(span)} {{")
    starts = [mb] + [
        e.op(f"arith.addi {mb}, {e.index(v * k.lanes)} : index") for v in range(1, vectors)
    ]
    if masked:
        rows_left = e.op(f"arith.subi {upper}, {mb} : index")
        mask = e.op(f"vector.create_mask {rows_left} : {mask_t}")
        masking = f"{mask}, %vzero : {mt}, {mask_t}, {vt} into {vt}"
    count = vectors * k.n
    names = [f"%c{v}_{j}" for v in range(vectors) for j in range(k.n)]
    zeros = ", ".join(f"{n} = %vzero" for n in names)
    types = ", ".join([vt] * count)
    kk = f"%kk{e.count}"
    accs = e.ops(
        f"scf.for {kk} = {e.index(0)} to %k step {e.index(1)} iter_args({zeros}) -> ({types}) {{",
        count,
    )
    if masked:
        a_vectors = [e.op(f"vector.maskedload %A[{kk}, {s}], {masking}") for s in starts]
    else:
        a_vectors = [e.op(f"vector.load %A[{kk}, {s}] : {mt}, {vt}") for s in starts]
    b_values = [
        e.op(f"vector.broadcast {e.op(f'memref.load %B[{kk}, {e.index(j)}] : {mt}')} : {t} to {vt}")
        for j in range(k.n)
    ]
    updated = [
        e.op(f"vector.fma {a_vectors[v]}, {b_values[j]}, {names[v * k.n + j]} : {vt}")
        for v in range(vectors)
        for j in range(k.n)
    ]
    e.raw(f"scf.yield {', '.join(updated)} : {types}")
    e.raw("}")
    for v in range(vectors):
        for j in range(k.n):
            offset = e.index(v * k.lanes)
            e.raw(
                f"vector.store {accs[v * k.n + j]}, %block[{e.index(j)}, {offset}] : "
                f"{block_t}, {vt}"
            )
    rows = e.op(f"arith.minui {e.index(span)}, {e.op(f'arith.subi {upper}, {mb} : index')} : index")
    row = f"%row{e.count}"
    e.raw(f"scf.for {row} = {e.index(0)} to {rows} step {e.index(1)} {{")
    target = e.op(f"arith.addi {mb}, {row} : index")
    for j in range(k.n):
        value = e.op(f"memref.load %block[{e.index(j)}, {row}] : {block_t}")
        _store_c(e, k, value, target, e.index(j))
    e.raw("}")
    e.raw("}")


def insert_kernel(module: ir.Module, kernel: NarrowGemm) -> str:
    """Defines ``kernel`` in ``module`` once; returns its symbol."""
    if find_function(module, kernel.symbol) is None:
        parsed = ir.Module.parse(kernel_text(kernel), module.context)
        parsed.body.operations[0].operation.move_before(module.body.operations[0])
    return kernel.symbol


# ---- the pass ------------------------------------------------------------------------------------


def narrow_kernel_for(operation, lanes_of) -> NarrowGemm | None:
    """The kernel for this linalg.matmul of memrefs (module doc's conditions), else None;
    ``lanes_of(elem)``: the vector lanes for an element type."""
    types = memref_operand_types(operation, _TYPES)
    if types is None or not all(unit_inner_stride(t) for t in types):
        return None
    elem = str(types[0].element_type)
    a, b, c = matmul_map_dims(operation)
    if c != [0, 1] or b != [2, 1] or a not in ([0, 2], [2, 0]):
        return None
    n = types[2].shape[1]
    lanes = lanes_of(elem)
    if ir.ShapedType.is_dynamic_size(n) or not 2 <= n <= lanes:
        return None
    return NarrowGemm(elem, lanes, n, a == [2, 0], accumulate=False)


def _outlined_matmul(function):
    """(zero fill or None, matmul) when the function's whole work is a matmul of its arguments (A,
    B, C), optionally after a zero fill of C: tgc-outline-gemm's functions. Else None."""
    if "sym_visibility" not in function.attributes or not function.regions[0].blocks:
        return None
    entry = function.regions[0].blocks[0]
    work = [
        op for op in entry.operations if op.operation.name not in ("arith.constant", "func.return")
    ]
    if not work or work[-1].operation.name != "linalg.matmul":
        return None
    matmul = work[-1].operation
    if list(matmul.operands) != list(entry.arguments):
        return None
    if len(work) == 1:
        return None, matmul
    fill = work[0].operation
    if (
        len(work) == 2
        and fill.name == "linalg.fill"
        and fill.operands[1] == matmul.operands[2]
        and fills_float_zero(fill)
    ):
        return fill, matmul
    return None


@dataclasses.dataclass(frozen=True)
class NarrowGemmPass(ModulePass):
    """Matmuls with C at most one vector wide call tgc's narrow-GEMM kernels (module doc), for
    ``isa`` (avx512 or avx2; empty: the compiling host's, or TGC_GEMM_ISA's)."""

    name = "tgc-narrow-gemm"
    isa: str = ""

    def run(self, module: ir.Module) -> None:
        if self.isa not in ("", *gemm_kernel.ISAS):
            self.fail(
                module.operation,
                f"unknown ISA {self.isa!r} for the narrow GEMM (tgc-narrow-gemm's isa option): "
                f"choose one of {', '.join(gemm_kernel.ISAS)}",
            )

        def lanes_of(elem: str) -> int:
            return gemm_kernel.shape_for(elem, self.isa or None).lanes

        # The functions that accumulate into their C: name -> (function, the kernel's call).
        accumulating = {}
        for function in list(functions(module)):
            found = _outlined_matmul(function)
            if found is None:
                continue
            fill, matmul = found
            kernel = narrow_kernel_for(matmul, lanes_of)
            if kernel is None:
                continue
            kernel = dataclasses.replace(kernel, accumulate=fill is None)
            call = _call_kernel(module, matmul, kernel)
            if fill is not None:
                fill.erase()
            else:
                accumulating[ir.StringAttr(function.attributes["sym_name"]).value] = (
                    function,
                    call,
                )
        # An artifact's SGD update accumulates into a copy of the weight: the kernel reads the
        # weight as Cin instead of a copy pass first, as tgc-blas-matmul folds it for the
        # generated GEMM (the same rewrite: the kernel's Cin is its fourth operand there too). It
        # drops a function left without calls, so only functions something calls go to it.
        called = {
            ir.FlatSymbolRefAttr(op.attributes["callee"]).value
            for op in all_ops(module)
            if op.name == "func.call"
        }
        fold_copies(module, {k: v for k, v in accumulating.items() if k in called})


def _call_kernel(module: ir.Module, matmul, kernel: NarrowGemm):
    """The matmul becomes a call of ``kernel`` on its operands cast to the kernel's types (C as
    Cin too); returns the call."""
    symbol = insert_kernel(module, kernel)
    elem = ir.MemRefType(matmul.operands[0].type).element_type
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    size = ir.ShapedType.get_dynamic_size()
    with ir.InsertionPoint(matmul), matmul.location:
        layout = ir.StridedLayoutAttr.get(dynamic, [dynamic, 1])
        general = ir.MemRefType.get([size, size], elem, layout)
        views = [memref.cast(general, v) for v in matmul.operands]
        call = func.CallOp([], ir.FlatSymbolRefAttr.get(symbol), [*views, views[2]])
    matmul.erase()
    return call


__all__ = ["NarrowGemm", "NarrowGemmPass", "insert_kernel", "kernel_text", "narrow_kernel_for"]
