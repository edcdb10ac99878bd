"""tgc-check-allocs: a buffer that could not be allocated fails the run instead of being written
through.

MLIR lowers ``memref.alloc`` to a ``malloc`` whose result nobody checks, and computes its byte size
in 64-bit arithmetic that wraps. ``tf.fill([10**6, 10**6], 1.0)`` then wrote through a null pointer,
and a size that wraps would have given a small buffer written far past its end. After each alloc
this pass tests the buffer's pointer (one compare and a branch taken never); before an alloc whose
size is known only at run time it tests that size in floating point, which does not wrap. A failed
test calls the run-time error handler (tgc/lowering/runtime_errors.py) with TensorFlow's
ResourceExhaustedError: the op, from the alloc's location, the dtype, the device and the shape. Code
after a failed test would write through the null pointer, so the handler must not return (the
runtime's unwinds); where none was set, or it returns, tgc_runtime_error writes the error to stderr
and ends the process with exit(1) instead (runtime_errors.py). Runs on memrefs, after bufferization
and before the conversion to LLVM.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import arith, memref, scf

from tgc.dialect.devices import DEFAULT_DEVICE
from tgc.dialect.ir_helpers import all_ops, functions
from tgc.lowering import runtime_errors
from tgc.passes.base import ModulePass
from tgc.runtime.executable import OUT_OF_MEMORY

# The largest byte size tested for in floating point: far beyond any memory, far below where int64
# wraps.
MAX_BYTES = 2.0**62

# TensorFlow's names of element types in its messages (i8 holds bools after tgc-widen-i1-memrefs).
_TF_TYPE_NAMES = {
    "f16": "half",
    "bf16": "bfloat16",
    "f32": "float",
    "f64": "double",
    "i1": "bool",
    "i8": "bool",
    "i32": "int32",
    "i64": "int64",
    "index": "int64",
}
_BYTES = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "i1": 1, "i8": 1, "i32": 4, "i64": 8, "index": 8}


@dataclasses.dataclass(frozen=True)
class CheckAllocsPass(ModulePass):
    """Fails the run with ResourceExhaustedError (op, dtype, shape) where an allocation fails or its
    size would wrap."""

    name = "tgc-check-allocs"

    def run(self, module: ir.Module) -> None:
        module_op = module.operation
        for function in functions(module):
            attrs = function.attributes
            device = (
                ir.StringAttr(attrs["tgc.device"]).value
                if "tgc.device" in attrs
                else DEFAULT_DEVICE
            )
            for operation in [op for op in all_ops(function) if op.name == "memref.alloc"]:
                _check(module_op, operation, device)


def _check(module_op, alloc, device: str) -> None:
    memref_type = ir.MemRefType(alloc.results[0].type)
    element = str(memref_type.element_type)
    itemsize = _BYTES.get(element, 8)
    payload = {
        "node": runtime_errors.node_description(alloc.location),
        "dtype": _TF_TYPE_NAMES.get(element, element),
        "device": device,
    }
    shape = list(memref_type.shape)
    if 0 in shape:
        return  # holds nothing: malloc(0) may well answer null
    dynamic = list(alloc.opview.dynamicSizes)
    with alloc.location:
        with ir.InsertionPoint(alloc):
            dims = _dims(shape, dynamic)
            if dynamic:
                _fail_if(module_op, _too_large(dims, itemsize), payload, dims)
            elif _product(shape) * itemsize >= MAX_BYTES:
                _fail_if(module_op, _true(), payload, dims)
        with ir.InsertionPoint.after(alloc):
            _fail_if(module_op, _allocation_failed(alloc.results[0], dims, dynamic), payload, dims)


def _dims(shape: list, dynamic: list) -> list:
    """Index values of every dim: constants for static ones, the alloc's operands for the others."""
    out, pending = [], iter(dynamic)
    for d in shape:
        out.append(
            next(pending)
            if ir.ShapedType.is_dynamic_size(d)
            else arith.ConstantOp(ir.IndexType.get(), d).result
        )
    return out


def _product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _true() -> ir.Value:
    return arith.ConstantOp(ir.IntegerType.get_signless(1), 1).result


def _too_large(dims: list, itemsize: int) -> ir.Value:
    """size * itemsize >= MAX_BYTES, in f64 (exact enough, and it cannot wrap)."""
    f64, i64 = ir.F64Type.get(), ir.IntegerType.get_signless(64)
    total = arith.ConstantOp(f64, float(itemsize)).result
    for d in dims:
        total = arith.mulf(total, arith.uitofp(f64, arith.index_cast(i64, d)))
    limit = arith.ConstantOp(f64, MAX_BYTES).result
    return arith.cmpf(arith.CmpFPredicate.OGE, total, limit)


def _allocation_failed(buffer: ir.Value, dims: list, dynamic: list) -> ir.Value:
    """The buffer's pointer is null (malloc failed) while it holds elements (malloc(0) may give
    null)."""
    index = ir.IndexType.get()
    zero = arith.ConstantOp(index, 0).result
    null = arith.cmpi(arith.CmpIPredicate.eq, memref.extract_aligned_pointer_as_index(buffer), zero)
    if not dynamic:
        return null
    empty = arith.cmpi(arith.CmpIPredicate.eq, dims[0], zero)
    for d in dims[1:]:
        empty = arith.ori(empty, arith.cmpi(arith.CmpIPredicate.eq, d, zero))
    return arith.andi(null, arith.xori(empty, _true()))


def _fail_if(module_op, condition: ir.Value, payload: dict, dims: list) -> None:
    branch = scf.IfOp(condition)
    with ir.InsertionPoint(branch.then_block):
        runtime_errors.report(module_op, OUT_OF_MEMORY, payload, dims)
        scf.YieldOp([])
