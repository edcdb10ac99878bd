"""tgc-widen-i1-memrefs: gives every memref of i1 one byte per element, after bufferization.

LLVM 22's memref lowering cannot store i1 elements. Our own bool tensors are already bytes
(tgc-bool-storage), but the deallocation pipeline builds i1 memrefs of its own (the ownership flags
of its dealloc helper). This pass, run after convert-bufferization-to-memref, retypes them as i8,
truncating after each load and extending before each store, so the program computes the same thing.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import arith

from tgc.dialect.ir_helpers import all_ops, functions
from tgc.lowering.bool_storage import narrow_to_i1, retype_signature
from tgc.passes.base import ModulePass


def _is_i1_memref(t: ir.Type) -> bool:
    return isinstance(t, ir.MemRefType) and str(t.element_type) == "i1"


def _widened(t: ir.Type) -> ir.Type:
    if _is_i1_memref(t):
        return ir.MemRefType.get(t.shape, ir.IntegerType.get_signless(8), t.layout, t.memory_space)
    return t


def _fix_load(operation) -> None:
    result = operation.results[0]
    if (
        str(result.type) == "i1"
        and str(ir.MemRefType(operation.operands[0].type).element_type) == "i8"
    ):
        narrow_to_i1(result, ir.InsertionPoint.after(operation), operation.location)


def _fix_store(operation) -> None:
    value, memref = operation.operands[0], operation.operands[1]
    if str(value.type) == "i1" and str(ir.MemRefType(memref.type).element_type) == "i8":
        with ir.InsertionPoint(operation), operation.location:
            operation.operands[0] = arith.extui(ir.IntegerType.get_signless(8), value)


@dataclasses.dataclass(frozen=True)
class WidenI1MemrefsPass(ModulePass):
    """Stores i1 memrefs as i8 (LLVM 22 cannot lower stores of i1 elements)."""

    name = "tgc-widen-i1-memrefs"

    def run(self, module: ir.Module) -> None:
        for function in functions(module, declarations=True):
            retype_signature(function, _widened)
            ops = all_ops(function)
            for operation in ops:
                for result in operation.results:
                    result.set_type(_widened(result.type))
            for operation in ops:
                if operation.name == "memref.load":
                    _fix_load(operation)
                elif operation.name == "memref.store":
                    _fix_store(operation)
