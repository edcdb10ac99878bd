"""tgc-blas-matmul: f32/f64 ``linalg.matmul`` on memrefs becomes a call into numpy's OpenBLAS.

Runs in the CPU pipeline after bufferization, before linalg is lowered to loops. Loops reach about
1 GFLOP/s on a 64x1000x100 matmul; OpenBLAS's ``cblas_?gemm`` reaches the machine's peak and threads
itself (``OPENBLAS_NUM_THREADS``). Sizes, leading dimensions and offsets are read from each memref's
descriptor at run time, so unknown (``?``) dims still compile once. Transposed operands (a matmul
whose indexing maps read A as (k, m) or B as (n, k)) become BLAS transpose flags, not copies.

A matmul stays for the loop lowering when its element type has no BLAS routine (ints, f16, bf16) or
when an operand's innermost stride is not statically 1 (BLAS needs unit-stride rows). The symbols
are resolved by ``cpu.shared_libraries()``, which loads the OpenBLAS bundled with numpy.
"""

from __future__ import annotations

import dataclasses
import glob
import os

from mlir import ir
from mlir.dialects import arith, func, llvm, memref

from tgc.passes.base import ModulePass, functions

# element type -> ILP64 CBLAS gemm symbol of numpy's OpenBLAS
GEMM_SYMBOLS = {"f32": "scipy_cblas_sgemm64_", "f64": "scipy_cblas_dgemm64_"}
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def openblas_library() -> str | None:
    """Path of the OpenBLAS shared library that numpy ships, or None when numpy has none bundled."""
    import numpy

    root = os.path.dirname(os.path.dirname(numpy.__file__))
    found = sorted(glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas64_*.so")))
    return found[0] if found else None


def _maps(operation) -> list:
    """The matmul's (A, B, C) indexing maps as lists of result dim positions; defaults when absent."""
    if "indexing_maps" not in operation.attributes:
        return [[0, 2], [2, 1], [0, 1]]
    out = []
    for attr in ir.ArrayAttr(operation.attributes["indexing_maps"]):
        amap = ir.AffineMapAttr(attr).value
        out.append([int(str(e)[1:]) if str(e)[:1] == "d" and str(e)[1:].isdigit() else -1 for e in amap.results])
    return out


def _transposes(operation):
    """(transpose A, transpose B) for maps BLAS can express, else None."""
    a, b, c = _maps(operation)
    if c != [0, 1] or a not in ([0, 2], [2, 0]) or b not in ([2, 1], [1, 2]):
        return None
    return a == [2, 0], b == [1, 2]


def _unit_inner_stride(t: ir.MemRefType) -> bool:
    strides, _ = t.get_strides_and_offset()
    return t.rank == 2 and strides[1] == 1


def _blas_candidate(operation):
    """(symbol, transpose A, transpose B) when this linalg.matmul can go to BLAS, else None."""
    if operation.name != "linalg.matmul" or len(operation.operands) != 3:
        return None
    types = [ir.MemRefType(v.type) if isinstance(v.type, ir.MemRefType) else None for v in operation.operands]
    if None in types:
        return None
    symbol = GEMM_SYMBOLS.get(str(types[0].element_type))
    if symbol is None or any(str(t.element_type) != str(types[0].element_type) for t in types):
        return None
    transposes = _transposes(operation)
    if transposes is None or not all(_unit_inner_stride(t) for t in types):
        return None
    return (symbol,) + transposes


def _declare(module: ir.Module, symbol: str, elem: ir.Type) -> None:
    """func.func private @scipy_cblas_?gemm64_(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)."""
    for op in module.body.operations:
        if op.operation.name == "func.func" and ir.StringAttr(op.attributes["sym_name"]).value == symbol:
            return
    i32, i64, ptr = ir.IntegerType.get_signless(32), ir.IntegerType.get_signless(64), llvm.PointerType.get()
    ftype = ir.FunctionType.get([i32, i32, i32, i64, i64, i64, elem, ptr, i64, ptr, i64, elem, ptr, i64], [])
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        func.FuncOp(symbol, ftype, visibility="private")


def _i64(value: ir.Value) -> ir.Value:
    return arith.index_cast(ir.IntegerType.get_signless(64), value)


def _pointer_and_rows(value: ir.Value, elem_bytes: int):
    """(element pointer at the memref's offset, its leading dimension, its two sizes) as i64/ptr values."""
    meta = memref.ExtractStridedMetadataOp(value)
    _, offset, rows, cols, stride0, _ = meta.results
    aligned = memref.extract_aligned_pointer_as_index(value)
    address = arith.addi(aligned, arith.muli(offset, arith.constant(ir.IndexType.get(), elem_bytes)))
    pointer = llvm.inttoptr(llvm.PointerType.get(), _i64(address))
    # BLAS wants ld >= max(1, cols); a one-row view may carry any stride, so clamp it.
    one = arith.constant(ir.IndexType.get(), 1)
    leading = arith.maxui(arith.maxui(stride0, cols), one)
    return pointer, _i64(leading), rows, cols


def _zero_fill_before(operation, c: ir.Value):
    """The linalg.fill of zeros into ``c`` right before the matmul, if any (so BLAS can take beta=0)."""
    block_ops = list(operation.block.operations)
    index = next(i for i, op in enumerate(block_ops) if op.operation == operation)
    if index == 0:
        return None
    previous = block_ops[index - 1].operation
    if previous.name != "linalg.fill" or previous.operands[1] != c:
        return None
    owner = previous.operands[0].owner
    owner = getattr(owner, "operation", owner)  # an OpView in these bindings, a Block for an argument
    if not isinstance(owner, ir.Operation) or owner.name != "arith.constant":
        return None
    value = owner.attributes["value"]
    return previous if isinstance(value, ir.FloatAttr) and value.value == 0.0 else None


def _rewrite(module: ir.Module, operation, symbol: str, trans_a: bool, trans_b: bool) -> None:
    a, b, c = operation.operands
    elem = ir.MemRefType(a.type).element_type
    elem_bytes = 4 if str(elem) == "f32" else 8
    fill = _zero_fill_before(operation, c)
    _declare(module, symbol, elem)
    with ir.InsertionPoint(operation), operation.location:
        pa, lda, _, _ = _pointer_and_rows(a, elem_bytes)
        pb, ldb, _, _ = _pointer_and_rows(b, elem_bytes)
        pc, ldc, m, n = _pointer_and_rows(c, elem_bytes)
        k = memref.dim(a, arith.constant(ir.IndexType.get(), 0 if trans_a else 1))
        flag = lambda t: arith.constant(ir.IntegerType.get_signless(32), _TRANS if t else _NO_TRANS)
        order = arith.constant(ir.IntegerType.get_signless(32), _ROW_MAJOR)
        alpha = arith.constant(elem, 1.0)
        beta = arith.constant(elem, 0.0 if fill is not None else 1.0)
        func.CallOp([], ir.FlatSymbolRefAttr.get(symbol),
                    [order, flag(trans_a), flag(trans_b), _i64(m), _i64(n), _i64(k), alpha, pa, lda, pb, ldb, beta, pc, ldc])
    operation.erase()
    if fill is not None:
        fill.erase()


def _matmuls(function) -> list:
    found = []

    def visit(op):
        if op.operation.name == "linalg.matmul":
            found.append(op.operation)
        return ir.WalkResult.ADVANCE

    function.operation.walk(visit)
    return found


@dataclasses.dataclass(frozen=True)
class BlasMatmulPass(ModulePass):
    """Replaces f32/f64 linalg.matmul on memrefs by calls to numpy's OpenBLAS gemm."""

    name = "tgc-blas-matmul"

    def run(self, module: ir.Module) -> None:
        if openblas_library() is None:
            return  # no bundled BLAS: the loop lowering handles every matmul
        for function in functions(module):
            for operation in _matmuls(function):
                candidate = _blas_candidate(operation)
                if candidate is not None:
                    _rewrite(module, operation, *candidate)
