"""tgc-blas-matmul: f32/f64 ``linalg.matmul`` on memrefs becomes a call into numpy's OpenBLAS.

Runs in the CPU pipeline after bufferization, before linalg is lowered to loops. Loops reach about
1 GFLOP/s on a 64x1000x100 matmul; OpenBLAS's ``cblas_?gemm`` reaches the machine's peak and threads
itself (``OPENBLAS_NUM_THREADS``). Sizes, leading dimensions and offsets are read from each memref's
descriptor at run time, so unknown (``?``) dims still compile once. Transposed operands (a matmul
whose indexing maps read A as (k, m) or B as (n, k)) become BLAS transpose flags, not copies.

A matmul with one row (M = 1) or one column (N = 1) calls ``cblas_?gemv`` instead: OpenBLAS's gemm
at M = 1 is several times slower than its gemv, and that is the MLP at batch 1. When M and N are
not known at compile time, the choice is made at run time (scf.if).

A matmul stays for the loop lowering when its element type has no BLAS routine (ints, f16, bf16) or
when an operand's innermost stride is not statically 1 (BLAS needs unit-stride rows). The symbols
are those of the OpenBLAS bundled with numpy, given to the JIT by address
(``cpu.jit.library_symbols``).

A ``linalg.batch_matmul`` of f32/f64 (tf.matmul on rank > 2) first becomes an scf.for over its
matrices, each a rank-reduced subview and one linalg.matmul, which then go to BLAS like any other:
a [64, 128, 128] x [64, 128, 128] product is 64 gemm calls (about numpy's np.matmul, which also
loops over gemm) instead of loops at about 1 GFLOP/s.

The callee is a choice per matmul: OpenBLAS (``gemm=blas``, the default) or tgc's own kernel
generated as MLIR (``gemm=codegen``, tgc/lowering/cpu/gemm_kernel.py: a func.call to a private
function defined once per module and element type, which needs no library at run time; an
artifact built without ``--blas`` uses it). A matmul's ``tgc.gemm`` attribute ("blas" or
"codegen") overrides the pass option for that matmul. Where the kernel lives is the ``kernel``
option: ``inline`` (the default, what an artifact needs: self-contained code) defines it in the
module; ``external`` (in-process compiles) only declares it, and the JIT hands the module the copy
compiled once per process at -O3 (gemm_library.py), as it hands it OpenBLAS's functions: the
kernel's LLVM cost 0.24 s at -O0 (and ran slowly) in every Session module. The analysis
(transposes, unit-stride rows, beta = 0 after a zero fill) is the same for both callees.

With ``parallel`` the generated kernel is not called directly: its address goes to the parallel
runtime's driver (parallel_gemm.py), which splits C between threads, each chunk a call of the
kernel on subviews. An in-process module declares the driver (the JIT hands it the runtime built
once per machine); an artifact defines a weak serial one that the runtime linked into its library
replaces.

The generated kernel reads beta's term from its own operand Cin (C = alpha A B + beta Cin), C
itself everywhere but here: ``memref.copy(w, w'); call @F(A, B, w')`` where F is an outlined GEMM
accumulating into its C (tgc-gemm-update's SGD step in an artifact, which may not write its
inputs, so bufferization copies the weight first) becomes ``call @F_cin(A, B, w', w)``, one pass
that reads w and writes w' instead of a copy pass and then a GEMM that reads and writes w'.

A zero-filled matmul followed right away by tgc-gemm-epilogue's generic in place over its C
(``ins(bias) outs(C)``, ``act(C + bias)``) becomes one call of the generated kernel's variant for
the activation (gemm_kernel.EPILOGUES), whose Cin is the bias as an M x N view with row stride 0 and
beta = 1: the kernel adds the bias and applies the activation to its register tile before it
stores it, and C is written once. OpenBLAS cannot; with it the generic stays, a loop over C after
the call. Through the parallel driver, which splits a one-row GEMM by K into partial sums it adds
after the kernel calls, an activation must see whole sums: one row (M = 1, tested at run time where
M is unknown) takes the plain kernel and then the generic.
"""

from __future__ import annotations

import dataclasses
import glob
import os

from mlir import ir
from mlir.dialects import arith, func, linalg, llvm, memref, scf

from tgc.dialect.ir_helpers import all_ops, find_function, functions, map_result_dims
from tgc.lowering.cpu import gemm_kernel, parallel_gemm
from tgc.lowering.cpu.gemm_epilogue import fused_generic
from tgc.lowering.cpu.outline_gemm import fills_float_zero
from tgc.passes.base import ModulePass

# element type -> ILP64 CBLAS gemm symbol of numpy's OpenBLAS
GEMM_SYMBOLS = {"f32": "scipy_cblas_sgemm64_", "f64": "scipy_cblas_dgemm64_"}
GEMV_SYMBOLS = {"f32": "scipy_cblas_sgemv64_", "f64": "scipy_cblas_dgemv64_"}
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

# The callees a matmul may go to: the pass option ``gemm`` and a matmul's GEMM_ATTRIBUTE.
GEMM_CALLEES = ("blas", "codegen")
GEMM_ATTRIBUTE = "tgc.gemm"
# Where the generated kernel lives: defined in the module, or declared (compiled once per process).
KERNEL_PLACES = ("inline", "external")


def openblas_library() -> str | None:
    """Path of the OpenBLAS shared library that numpy ships, or None when numpy has none bundled."""
    import numpy

    root = os.path.dirname(os.path.dirname(numpy.__file__))
    found = sorted(glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas64_*.so")))
    return found[0] if found else None


def matmul_map_dims(operation) -> list:
    """The matmul's (A, B, C) indexing maps as lists of result dim positions; defaults when
    absent."""
    if "indexing_maps" not in operation.attributes:
        return [[0, 2], [2, 1], [0, 1]]
    return [map_result_dims(attr) for attr in ir.ArrayAttr(operation.attributes["indexing_maps"])]


def _transposes(operation):
    """(transpose A, transpose B) for maps BLAS can express, else None."""
    a, b, c = matmul_map_dims(operation)
    if c != [0, 1] or a not in ([0, 2], [2, 0]) or b not in ([2, 1], [1, 2]):
        return None
    return a == [2, 0], b == [1, 2]


def memref_operand_types(operation, element_types) -> list | None:
    """The MemRefTypes of a matmul's three operands (A, B, C) when all three are memrefs of one
    element type named in ``element_types`` (its string, e.g. "f32"), else None."""
    if len(operation.operands) != 3:
        return None
    if not all(isinstance(v.type, ir.MemRefType) for v in operation.operands):
        return None
    types = [ir.MemRefType(v.type) for v in operation.operands]
    elem = str(types[0].element_type)
    if elem not in element_types or any(str(t.element_type) != elem for t in types):
        return None
    return types


def unit_inner_stride(t: ir.MemRefType) -> bool:
    strides, _ = t.get_strides_and_offset()
    return t.rank == 2 and strides[1] == 1


def _blas_candidate(operation):
    """(transpose A, transpose B) when this linalg.matmul can go to a GEMM call, else None."""
    if operation.name != "linalg.matmul":
        return None
    types = memref_operand_types(operation, GEMM_SYMBOLS)
    if types is None:
        return None
    transposes = _transposes(operation)
    if transposes is None or not all(unit_inner_stride(t) for t in types):
        return None
    return transposes


def _declare(module: ir.Module, symbol: str, arg_types: list) -> None:
    """func.func private @symbol(arg_types) -> (), once per module."""
    if find_function(module, symbol) is not None:
        return
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        func.FuncOp(symbol, ir.FunctionType.get(arg_types, []), visibility="private")


def _gemm_type(elem: ir.Type) -> list:
    """(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)."""
    i32, i64, ptr = (
        ir.IntegerType.get_signless(32),
        ir.IntegerType.get_signless(64),
        llvm.PointerType.get(),
    )
    return [i32, i32, i32, i64, i64, i64, elem, ptr, i64, ptr, i64, elem, ptr, i64]


def _gemv_type(elem: ir.Type) -> list:
    """(order, trans, M, N, alpha, A, lda, x, incx, beta, y, incy)."""
    i32, i64, ptr = (
        ir.IntegerType.get_signless(32),
        ir.IntegerType.get_signless(64),
        llvm.PointerType.get(),
    )
    return [i32, i32, i64, i64, elem, ptr, i64, ptr, i64, elem, ptr, i64]


def _i64(value: ir.Value) -> ir.Value:
    return arith.index_cast(ir.IntegerType.get_signless(64), value)


def _pointer_and_rows(value: ir.Value, elem_bytes: int):
    """(element pointer at the memref's offset, its leading dimension, its two sizes) as i64/ptr
    values."""
    meta = memref.ExtractStridedMetadataOp(value)
    _, offset, rows, cols, stride0, _ = meta.results
    aligned = memref.extract_aligned_pointer_as_index(value)
    address = arith.addi(
        aligned, arith.muli(offset, arith.constant(ir.IndexType.get(), elem_bytes))
    )
    pointer = llvm.inttoptr(llvm.PointerType.get(), _i64(address))
    # BLAS wants ld >= max(1, cols); a one-row view may carry any stride, so clamp it.
    one = arith.constant(ir.IndexType.get(), 1)
    leading = arith.maxui(arith.maxui(stride0, cols), one)
    return pointer, _i64(leading), rows, cols


def _zero_fill_before(operation, c: ir.Value):
    """The linalg.fill of zeros into ``c`` right before the matmul, if any (so BLAS can take
    beta=0)."""
    block_ops = list(operation.block.operations)
    index = next(i for i, op in enumerate(block_ops) if op.operation == operation)
    if index == 0:
        return None
    previous = block_ops[index - 1].operation
    if previous.name != "linalg.fill" or previous.operands[1] != c:
        return None
    return previous if fills_float_zero(previous) else None


@dataclasses.dataclass
class _Operands:
    """The matmul's BLAS view: pointers, leading dimensions, sizes (i64) and transpose flags."""

    pa: ir.Value
    lda: ir.Value
    pb: ir.Value
    ldb: ir.Value
    pc: ir.Value
    ldc: ir.Value
    m: ir.Value
    n: ir.Value
    k: ir.Value
    trans_a: bool
    trans_b: bool
    alpha: ir.Value
    beta: ir.Value


def _flag(transposed: bool) -> ir.Value:
    return arith.constant(ir.IntegerType.get_signless(32), _TRANS if transposed else _NO_TRANS)


def _row_major() -> ir.Value:
    return arith.constant(ir.IntegerType.get_signless(32), _ROW_MAJOR)


def _call_gemm(symbol: str, o: _Operands) -> None:
    func.CallOp(
        [],
        ir.FlatSymbolRefAttr.get(symbol),
        [
            _row_major(),
            _flag(o.trans_a),
            _flag(o.trans_b),
            o.m,
            o.n,
            o.k,
            o.alpha,
            o.pa,
            o.lda,
            o.pb,
            o.ldb,
            o.beta,
            o.pc,
            o.ldc,
        ],
    )


def _call_gemv_row(symbol: str, o: _Operands) -> None:
    """M = 1: C's row = op(B)^T x, with x = op(A)'s row (A's column, stride lda, when A is
    transposed)."""
    one = _i64(arith.constant(ir.IndexType.get(), 1))
    incx = o.lda if o.trans_a else one
    rows, cols = (o.n, o.k) if o.trans_b else (o.k, o.n)  # B as stored, row-major
    func.CallOp(
        [],
        ir.FlatSymbolRefAttr.get(symbol),
        [
            _row_major(),
            _flag(not o.trans_b),
            rows,
            cols,
            o.alpha,
            o.pb,
            o.ldb,
            o.pa,
            incx,
            o.beta,
            o.pc,
            one,
        ],
    )


def _call_gemv_column(symbol: str, o: _Operands) -> None:
    """N = 1: C's column (stride ldc) = op(A) x, with x = op(B)'s column (B's row when B is
    transposed)."""
    one = _i64(arith.constant(ir.IndexType.get(), 1))
    incx = one if o.trans_b else o.ldb
    rows, cols = (o.k, o.m) if o.trans_a else (o.m, o.k)  # A as stored, row-major
    func.CallOp(
        [],
        ir.FlatSymbolRefAttr.get(symbol),
        [
            _row_major(),
            _flag(o.trans_a),
            rows,
            cols,
            o.alpha,
            o.pa,
            o.lda,
            o.pb,
            incx,
            o.beta,
            o.pc,
            o.ldc,
        ],
    )


def _static_size(t: ir.MemRefType, i: int):
    return None if t.is_dynamic_dim(i) else t.shape[i]


def _is_one_and_k(size: ir.Value, k: ir.Value) -> ir.Value:
    """size == 1 and k > 0 (gemv leaves y unwritten when k = 0, where beta = 0 must still zero
    C)."""
    i64 = ir.IntegerType.get_signless(64)
    one, zero = arith.constant(i64, 1), arith.constant(i64, 0)
    return arith.andi(
        arith.cmpi(arith.CmpIPredicate.eq, size, one), arith.cmpi(arith.CmpIPredicate.sgt, k, zero)
    )


def _gemv_tests(o: _Operands, c_type: ir.MemRefType) -> list:
    """(size, gemv call) for each of C's sizes that may be 1; one known to differ needs no run-time
    test."""
    tests = []
    if _static_size(c_type, 0) in (None, 1):
        tests.append((o.m, _call_gemv_row))
    if _static_size(c_type, 1) in (None, 1):
        tests.append((o.n, _call_gemv_column))
    return tests


def _branch(tests: list, gemm: str, gemv: str, o: _Operands) -> None:
    """scf.if (size == 1 and k > 0) { gemv } else { the remaining tests, then gemm }."""
    if not tests:
        _call_gemm(gemm, o)
        return
    (size, call), rest = tests[0], tests[1:]
    branch = scf.IfOp(_is_one_and_k(size, o.k), [], has_else=True)
    with ir.InsertionPoint(branch.then_block):
        call(gemv, o)
        scf.YieldOp([])
    with ir.InsertionPoint(branch.else_block):
        _branch(rest, gemm, gemv, o)
        scf.YieldOp([])


def _rewrite(module: ir.Module, operation, callee: str, transposes: tuple, kernel: tuple):
    """The matmul (and the zero fill before it, as beta = 0) becomes a call of ``callee``;
    ``kernel``: the generated kernel's (ISA, "" for the compiling host's; place, KERNEL_PLACES).
    Returns the call of the generated kernel (or its driver) where it accumulates into C (beta = 1),
    else None."""
    isa, place, parallel = kernel
    trans_a, trans_b = transposes
    c = operation.operands[2]
    fill = _zero_fill_before(operation, c)
    if callee == "codegen":
        c_type = ir.MemRefType(c.type)
        elem = str(c_type.element_type)
        sizes = (_static_size(c_type, 0), _static_size(c_type, 1))
        shape = gemm_kernel.shape_for_matmul(elem, isa or None, *sizes)
        # A bias and activation applied in place right after a zero-filled C (tgc-gemm-epilogue)
        # become the kernel's epilogue; OpenBLAS cannot, so there the generic stays.
        fused = fused_generic(operation, c) if fill is not None else None
        nonlinear = fused is not None and fused[2].activation and parallel
        if nonlinear and _static_size(ir.MemRefType(c.type), 0) in (None, 1):
            # The parallel driver splits a one-row GEMM by K into partial sums that it adds up
            # after the kernel calls (parallel_gemm.py), and the activation must see the whole sum:
            # one row takes the plain kernel and then the generic, at run time where M is unknown.
            _one_row_apart(operation, fused, (module, shape, place), (trans_a, trans_b))
            fused, call = None, None
        else:
            target = (module, shape, place, parallel)
            call = _generated(operation, target, (trans_a, trans_b), (fill is not None, fused))
        if fused is not None:
            fused[0].erase()
    else:
        call = None
        _call_blas(module, operation, trans_a, trans_b, fill is not None)
    operation.erase()
    if fill is not None:
        fill.erase()
        return None
    return call


def _kernel_symbol(module: ir.Module, shape, place: str) -> str:
    """The generated kernel for ``shape``, declared (``external``) or defined in ``module``."""
    if place == "external":
        return gemm_kernel.declare_gemm_function(module, shape)
    return gemm_kernel.insert_gemm_function(module, shape)


def _generated(operation, target: tuple, transposes: tuple, around: tuple, before=None):
    """The call of the generated kernel (through the parallel driver where ``parallel``) for the
    matmul ``operation``, inserted before ``before`` (the matmul itself when None); ``around``:
    (whether C was zero-filled, the fused epilogue (fused_generic) or None). Returns the call."""
    module, shape, place, parallel = target
    zero_c, fused = around
    if fused is not None:
        shape = dataclasses.replace(shape, epilogue=fused[2].activation)
    symbol = _kernel_symbol(module, shape, place)
    driver = _parallel_driver(module, shape, place) if parallel else None
    bias = fused[1] if fused is not None else None
    where = operation if before is None else before
    with ir.InsertionPoint(where), operation.location:
        return _call_generated(operation, (symbol, driver, shape), transposes, (zero_c, bias))


def _one_row_apart(operation, fused: tuple, target: tuple, transposes: tuple) -> None:
    """``scf.if M == 1 { plain kernel; the epilogue's generic } else { the epilogue kernel }``
    through the parallel driver (a static M of 1: the then branch alone)."""
    module, shape, place = target
    generic = fused[0]
    c = operation.operands[2]
    plain, fusing = (module, shape, place, True), (True, fused)
    if _static_size(ir.MemRefType(c.type), 0) == 1:
        _generated(operation, plain, transposes, (True, None))  # the generic stays after it
        return
    with ir.InsertionPoint(operation), operation.location:
        rows = memref.dim(c, arith.constant(ir.IndexType.get(), 0))
        one = arith.constant(ir.IndexType.get(), 1)
        branch = scf.IfOp(arith.cmpi(arith.CmpIPredicate.eq, rows, one), [], has_else=True)
    with ir.InsertionPoint(branch.then_block), operation.location:
        yield_then = scf.YieldOp([])
    with ir.InsertionPoint(branch.else_block), operation.location:
        yield_else = scf.YieldOp([])
    # Each branch's call goes before its yield (_generated inserts before the op it is given).
    _generated(operation, plain, transposes, (True, None), yield_then)
    generic.move_before(yield_then)
    _generated(operation, plain, transposes, fusing, yield_else)


# The outlined GEMM that reads beta's term from its fourth argument: ``<callee>`` + this suffix.
_CIN_SUFFIX = "_cin"
_CIN_ATTRIBUTE = "tgc.gemm_cin"


def _accumulating_body(operation):
    """The private function ``(A, B, C)`` whose whole work is ``operation`` (a matmul into its
    argument C, tgc-gemm-update's accumulating GEMM), else None."""
    function = operation.parent
    while function is not None and function.name != "func.func":
        function = function.parent
    if function is None or "sym_visibility" not in function.attributes:
        return None
    entry = function.regions[0].blocks[0]
    if operation.block != entry or list(operation.operands) != list(entry.arguments):
        return None
    # Nothing else in it (a read of C's old value elsewhere would see the fresh buffer's garbage).
    return function if len(list(entry.operations)) == 2 else None


def _copy_into(call, c: ir.Value):
    """The ``memref.copy`` into ``c`` right before ``call``, where c is a fresh buffer of the same
    type as the copy's source that the call does not read as A or B (so that the GEMM may read
    the source instead, and nothing can write the source in between)."""
    block_ops = list(call.block.operations)
    index = next(i for i, op in enumerate(block_ops) if op.operation == call)
    if index == 0:
        return None
    copy = block_ops[index - 1].operation
    if copy.name != "memref.copy" or copy.operands[1] != c or copy.operands[0].type != c.type:
        return None
    owner = c.owner
    if isinstance(owner, ir.Block) or owner.name != "memref.alloc":
        return None
    return None if c in list(call.operands)[:2] else copy


def _reading_variant(module: ir.Module, function, kernel_call):
    """``function`` cloned with a fourth argument Cin that its kernel call reads beta's term from,
    defined once; returns its name, or None where the name is taken by a function of another
    origin (`tgc opt` reads any module, the user's names included)."""
    name = ir.StringAttr(function.attributes["sym_name"]).value + _CIN_SUFFIX
    existing = find_function(module, name)
    if existing is not None:
        return name if _CIN_ATTRIBUTE in existing.attributes else None
    body = [op.operation for op in function.regions[0].blocks[0].operations]
    index = body.index(kernel_call.operation)
    with ir.InsertionPoint(module.body):
        clone = function.clone()
    clone.attributes["sym_name"] = ir.StringAttr.get(name)
    clone.attributes[_CIN_ATTRIBUTE] = ir.UnitAttr.get()
    entry = clone.regions[0].blocks[0]
    c_type = entry.arguments[2].type
    cin = entry.add_argument(c_type, clone.location)
    inputs = [a.type for a in entry.arguments]
    clone.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(inputs, []))
    call = list(entry.operations)[index].operation
    # The kernel's operands: (A, B, C, Cin, ...); the driver's: (kernel, A, B, C, Cin, ...).
    callee = ir.FlatSymbolRefAttr(call.attributes["callee"]).value
    at = 4 if callee.startswith(parallel_gemm.DRIVER_PREFIX) else 3
    with ir.InsertionPoint(call), call.location:
        call.operands[at] = memref.cast(call.operands[at].type, cin)
    return name


def _fold_copies(module: ir.Module, accumulating: dict) -> None:
    """``memref.copy(w, w'); call @F(A, B, w')`` of an accumulating generated GEMM F becomes
    ``call @F_cin(A, B, w', w)``: the kernel reads w and writes w' in one pass instead of a copy
    and then a GEMM reading and writing w' (an artifact may not write its inputs, so a weight's
    SGD update accumulates into a copy)."""
    for function in functions(module):
        calls = [op for op in all_ops(function) if op.name == "func.call"]
        for call in calls:
            callee = ir.FlatSymbolRefAttr(call.attributes["callee"]).value
            if callee not in accumulating:
                continue
            copy = _copy_into(call, call.operands[2])
            if copy is None:
                continue
            variant = _reading_variant(module, *accumulating[callee])
            if variant is None:
                continue
            with ir.InsertionPoint(call), call.location:
                func.CallOp(
                    [], ir.FlatSymbolRefAttr.get(variant), [*call.operands, copy.operands[0]]
                )
            call.erase()
            copy.erase()
    called = {
        ir.FlatSymbolRefAttr(op.attributes["callee"]).value
        for op in all_ops(module)
        if op.name == "func.call"
    }
    for name, (function, _) in accumulating.items():
        if name not in called:
            function.erase()  # every call now reads its copy's source through the variant


def _general_memref(elem: ir.Type) -> ir.MemRefType:
    """memref<?x?xelem, strided<[?, 1], offset: ?>>: the generated kernel's operand type."""
    dynamic = ir.ShapedType.get_dynamic_size()
    any_offset = ir.ShapedType.get_dynamic_stride_or_offset()
    layout = ir.StridedLayoutAttr.get(any_offset, [any_offset, 1])
    return ir.MemRefType.get([dynamic, dynamic], elem, layout)


def _kernel_type(elem: ir.Type) -> ir.FunctionType:
    """(A, B, C, Cin, transA, transB, alpha, beta) -> (): the generated kernel's type (Cin: where
    beta's term is read, C itself unless a copy into C was folded away)."""
    i1 = ir.IntegerType.get_signless(1)
    return ir.FunctionType.get([_general_memref(elem)] * 4 + [i1, i1, elem, elem], [])


def _parallel_driver(module: ir.Module, shape, place: str) -> str:
    """The symbol of the parallel runtime's GEMM driver for ``shape``'s element type
    (parallel_gemm.py), declared once (``external``: the JIT gives it the in-process runtime's) or,
    for code that links its own runtime (``inline``), defined once as a weak serial fallback that
    calls the kernel on the whole GEMM (what runs where the runtime is not linked: LLVM IR compiled
    by llvmlite, an object linked by hand)."""
    symbol = parallel_gemm.driver_symbol(shape.elem)
    if find_function(module, symbol) is not None:
        return symbol
    elem = ir.F32Type.get() if shape.elem == "f32" else ir.F64Type.get()
    kernel_type = _kernel_type(elem)
    i64 = ir.IntegerType.get_signless(64)
    arguments = [kernel_type, *kernel_type.inputs, i64, i64]
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        driver = func.FuncOp(symbol, ir.FunctionType.get(arguments, []))
        if place == "external":
            driver.attributes["sym_visibility"] = ir.StringAttr.get("private")
            return symbol
        driver.attributes["llvm.linkage"] = ir.Attribute.parse("#llvm.linkage<weak>")
        entry = driver.add_entry_block()
        with ir.InsertionPoint(entry):
            func.CallIndirectOp([], entry.arguments[0], list(entry.arguments)[1:9])
            func.ReturnOp([])
    return symbol


def _broadcast_rows(bias: ir.Value, c: ir.Value, general: ir.MemRefType) -> ir.Value:
    """``bias`` (1-d, contiguous) as an M x N view of C's sizes whose every row is the bias (row
    stride 0): the kernel's Cin for C = act(A B + bias)."""
    index = ir.IndexType.get()
    meta = memref.ExtractStridedMetadataOp(bias)
    sizes = [memref.dim(c, arith.constant(index, i)) for i in (0, 1)]
    dynamic = ir.ShapedType.get_dynamic_size()
    any_stride = ir.ShapedType.get_dynamic_stride_or_offset()
    return memref.reinterpret_cast(
        general,
        meta.results[0],
        [meta.results[1]],
        sizes,
        [arith.constant(index, 0)],
        [any_stride],
        [dynamic, dynamic],
        [any_stride, 1],
    )


def _call_generated(operation, callees: tuple, transposes: tuple, beta_term: tuple):
    """func.call of tgc's generated kernel with the operands cast to its strided types; with a
    parallel ``driver``, a call of the driver with the kernel's address and its tile (MR, NR); at
    the caller's insertion point. ``beta_term``: (whether C was zero-filled, the epilogue's bias or
    None): beta = 0 and Cin = C for a zero-filled C, beta = 1 with Cin the bias broadcast along M
    when there is a bias, else beta = 1 and Cin = C."""
    symbol, driver, shape = callees
    zero_c, bias = beta_term
    a, b, c = operation.operands
    trans_a, trans_b = transposes
    elem = ir.MemRefType(a.type).element_type
    general = _general_memref(elem)
    i1, i64 = ir.IntegerType.get_signless(1), ir.IntegerType.get_signless(64)
    views = [memref.cast(general, v) for v in (a, b, c)]
    # Cin: beta's term is read from C itself, or from the bias (C was zero-filled)
    views.append(views[2] if bias is None else _broadcast_rows(bias, c, general))
    flags = [arith.constant(i1, int(t)) for t in (trans_a, trans_b)]
    beta = 0.0 if zero_c and bias is None else 1.0
    scalars = [arith.constant(elem, 1.0), arith.constant(elem, beta)]
    arguments = views + flags + scalars
    if driver is None:
        return func.CallOp([], ir.FlatSymbolRefAttr.get(symbol), arguments).operation
    kernel = func.ConstantOp(_kernel_type(elem), ir.FlatSymbolRefAttr.get(symbol)).result
    tile = [arith.constant(i64, shape.mr), arith.constant(i64, shape.nr)]
    return func.CallOp([], ir.FlatSymbolRefAttr.get(driver), [kernel, *arguments, *tile])


def _call_blas(module: ir.Module, operation, trans_a: bool, trans_b: bool, zero_c: bool):
    """cblas_?gemm (or ?gemv where M or N is 1) on the operands' pointers and strides."""
    a, b, c = operation.operands
    elem = ir.MemRefType(a.type).element_type
    elem_bytes = 4 if str(elem) == "f32" else 8
    symbol, gemv = GEMM_SYMBOLS[str(elem)], GEMV_SYMBOLS[str(elem)]
    _declare(module, symbol, _gemm_type(elem))
    with ir.InsertionPoint(operation), operation.location:
        pa, lda, _, _ = _pointer_and_rows(a, elem_bytes)
        pb, ldb, _, _ = _pointer_and_rows(b, elem_bytes)
        pc, ldc, m, n = _pointer_and_rows(c, elem_bytes)
        k = memref.dim(a, arith.constant(ir.IndexType.get(), 0 if trans_a else 1))
        operands = _Operands(
            pa,
            lda,
            pb,
            ldb,
            pc,
            ldc,
            _i64(m),
            _i64(n),
            _i64(k),
            trans_a,
            trans_b,
            arith.constant(elem, 1.0),
            arith.constant(elem, 0.0 if zero_c else 1.0),
        )
        tests = _gemv_tests(operands, ir.MemRefType(c.type))
        if tests:
            _declare(module, gemv, _gemv_type(elem))
        _branch(tests, symbol, gemv, operands)


def _matmuls(function) -> list:
    return [op for op in all_ops(function) if op.name == "linalg.matmul"]


# ---- linalg.batch_matmul: one gemm per matrix ---------------------------------------------------


def _batch_matmuls(function) -> list:
    return [op for op in all_ops(function) if op.name == "linalg.batch_matmul"]


def _batch_candidate(operation) -> bool:
    """A batch_matmul of f32/f64 memrefs with unit-stride rows and maps BLAS can express."""
    types = memref_operand_types(operation, GEMM_SYMBOLS)
    if types is None:
        return False
    if any(t.rank != 3 or t.get_strides_and_offset()[0][2] != 1 for t in types):
        return False
    return _batch_transposes(operation) is not None


def _batch_transposes(operation):
    """(transpose A, transpose B) of a batch_matmul over (batch, m, n, k), else None."""
    has_maps = "indexing_maps" in operation.attributes
    a, b, c = matmul_map_dims(operation) if has_maps else ([], [], [])
    if not a:
        return False, False
    if c != [0, 1, 2] or a not in ([0, 1, 3], [0, 3, 1]) or b not in ([0, 3, 2], [0, 2, 3]):
        return None
    return a == [0, 3, 1], b == [0, 2, 3]


def _matrix_of(value: ir.Value, index: ir.Value) -> ir.Value:
    """memref.subview of matrix ``index`` of a rank-3 memref, rank-reduced to 2 (strides kept)."""
    t = ir.MemRefType(value.type)
    strides, _ = t.get_strides_and_offset()
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    layout = ir.StridedLayoutAttr.get(dynamic, strides[1:])
    result = ir.MemRefType.get(t.shape[1:], t.element_type, layout, t.memory_space)
    dynamic_size = ir.ShapedType.get_dynamic_size()
    sizes = [
        memref.dim(value, arith.constant(ir.IndexType.get(), i))
        for i in (1, 2)
        if t.shape[i] == dynamic_size
    ]
    return memref.SubViewOp(
        result,
        value,
        [index],
        sizes,
        [],
        [dynamic, 0, 0],
        [1, t.shape[1], t.shape[2]],
        [1, 1, 1],
    ).result


def _split_batch(operation) -> None:
    """The batch_matmul as an scf.for over its matrices, each a linalg.matmul (with the same
    transposes) that the rewrite below hands to BLAS."""
    from tgc.lowering.to_core.linalg_ops import matmul_maps

    a, b, c = operation.operands
    ta, tb = _batch_transposes(operation)
    with ir.InsertionPoint(operation), operation.location:
        zero = arith.constant(ir.IndexType.get(), 0)
        one = arith.constant(ir.IndexType.get(), 1)
        count = memref.dim(a, zero)
        loop = scf.ForOp(zero, count, one)
        with ir.InsertionPoint(loop.body):
            i = loop.induction_variable
            x, y, z = (_matrix_of(v, i) for v in (a, b, c))
            if ta or tb:
                linalg.matmul(x, y, outs=[z], indexing_maps=matmul_maps(ta, tb))
            else:
                linalg.matmul(x, y, outs=[z])
            scf.YieldOp([])
    operation.erase()


def _callee(operation, default: str) -> str:
    """The matmul's GEMM_ATTRIBUTE, else the pass's ``gemm`` option."""
    if GEMM_ATTRIBUTE in operation.attributes:
        return ir.StringAttr(operation.attributes[GEMM_ATTRIBUTE]).value
    return default


@dataclasses.dataclass(frozen=True)
class BlasMatmulPass(ModulePass):
    """Replaces f32/f64 linalg.matmul on memrefs by calls of a GEMM: numpy's OpenBLAS
    (``gemm=blas``) or tgc's generated kernel (``gemm=codegen``), generated for ``isa`` (avx512 or
    avx2; empty: the compiling host's, or TGC_GEMM_ISA's), defined in the module (``kernel=inline``)
    or only declared there (``kernel=external``: the JIT links the copy compiled once per
    process), and called through the parallel runtime's driver (``parallel``) or directly."""

    name = "tgc-blas-matmul"
    gemm: str = "blas"
    isa: str = ""
    kernel: str = "inline"
    # The generated kernel through the parallel runtime's driver (parallel_gemm.py), which splits
    # the GEMM between threads; off, the kernel is called on the calling thread.
    parallel: bool = False

    def run(self, module: ir.Module) -> None:
        self._check_callee(self.gemm, module)
        if self.isa not in ("", *gemm_kernel.ISAS):
            self.fail(
                module.operation,
                f"unknown ISA {self.isa!r} for the generated GEMM (tgc-blas-matmul's isa option): "
                f"choose one of {', '.join(gemm_kernel.ISAS)}",
            )
        if self.kernel not in KERNEL_PLACES:
            self.fail(
                module.operation,
                f"unknown place {self.kernel!r} for the generated GEMM (tgc-blas-matmul's kernel "
                f"option): choose one of {', '.join(KERNEL_PLACES)}",
            )
        has_blas = openblas_library() is not None
        # The outlined functions that are one generated GEMM accumulating into their C: name ->
        # (function, the kernel's call in it).
        accumulating = {}
        for function in functions(module):
            for operation in _batch_matmuls(function):
                if _batch_candidate(operation):
                    _split_batch(operation)
            for operation in _matmuls(function):
                callee = _callee(operation, self.gemm)
                self._check_callee(callee, operation)
                if callee == "blas" and not has_blas:
                    continue  # no bundled BLAS: the loop lowering runs this matmul
                candidate = _blas_candidate(operation)
                if candidate is not None:
                    kernel = (self.isa, self.kernel, self.parallel)
                    body = _accumulating_body(operation)
                    call = _rewrite(module, operation, callee, candidate, kernel)
                    if call is not None and body is not None:
                        name = ir.StringAttr(body.attributes["sym_name"]).value
                        accumulating[name] = (body, call)
        _fold_copies(module, accumulating)

    def _check_callee(self, callee: str, where) -> None:
        if callee not in GEMM_CALLEES:
            self.fail(
                where.operation,
                f"unknown GEMM callee {callee!r} (tgc-blas-matmul's gemm option or a matmul's "
                f"{GEMM_ATTRIBUTE} attribute): choose one of {', '.join(GEMM_CALLEES)}",
            )
