"""tgc-bool-storage: stores bool tensors as i8, one byte per element, as numpy stores them.

Runs on core IR right after tgc-to-core. LLVM 22's memref lowering rejects stores of i1 elements, so
every ``tensor<...xi1>`` becomes ``tensor<...xi8>``; inside linalg bodies values stay i1, converted
with ``arith.trunci`` where a stored byte is read and ``arith.extui`` where one is written. The ABI
then matches numpy's bool arrays byte for byte.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg

from tgc.dialect.ir_helpers import all_ops, functions
from tgc.passes.base import ModulePass


def _is_bool_tensor(t: ir.Type) -> bool:
    return isinstance(t, ir.RankedTensorType) and str(t.element_type) == "i1"


def _widened(t: ir.Type) -> ir.Type:
    if _is_bool_tensor(t):
        return ir.RankedTensorType.get(t.shape, ir.IntegerType.get_signless(8), t.encoding)
    return t


def _i1():
    return ir.IntegerType.get_signless(1)


def _i8():
    return ir.IntegerType.get_signless(8)


def narrow_to_i1(value: ir.Value, ip: ir.InsertionPoint, loc: ir.Location) -> None:
    """``value`` now holds a byte: retype it i8 and give its users an ``arith.trunci`` back to
    i1."""
    value.set_type(_i8())
    with ip, loc:
        narrow = arith.trunci(_i1(), value)
    for use in list(value.uses):
        if use.owner != narrow.owner:
            use.owner.operands[use.operand_number] = narrow


def retype_signature(function, widen) -> None:
    """Applies ``widen`` to a function's type and to its block arguments (declarations have
    none)."""
    ftype = ir.FunctionType(ir.TypeAttr(function.attributes["function_type"]).value)
    function.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get([widen(t) for t in ftype.inputs], [widen(t) for t in ftype.results])
    )
    for region in function.regions:
        for block in region.blocks:
            for arg in block.arguments:
                arg.set_type(widen(arg.type))


def _fix_region_args(operation) -> None:
    """Block args of a structured op's body that read a widened tensor: i1 -> i8 plus a trunci."""
    if not operation.regions or not len(operation.regions[0].blocks):
        return
    block = operation.regions[0].blocks[0]
    operands = list(operation.operands)
    for i, arg in enumerate(block.arguments):
        if str(arg.type) != "i1" or i >= len(operands):
            continue
        source = operands[i].type
        if not (isinstance(source, ir.RankedTensorType) and str(source.element_type) == "i8"):
            continue
        first = block.operations[0]
        narrow_to_i1(arg, ir.InsertionPoint(first), first.location)


def _fix_yields(operation) -> None:
    """A body yielding i1 into an i8 result yields the extended byte instead."""
    if not operation.regions or not len(operation.regions[0].blocks):
        return
    block = operation.regions[0].blocks[0]
    terminator = block.operations[len(block.operations) - 1]
    if not terminator.name.endswith("yield"):
        return
    results = list(operation.results)
    for i, value in enumerate(list(terminator.operands)):
        if str(value.type) != "i1" or i >= len(results):
            continue
        target = results[i].type
        if isinstance(target, ir.RankedTensorType) and str(target.element_type) == "i8":
            with ir.InsertionPoint(terminator), terminator.location:
                terminator.operands[i] = arith.extui(_i8(), value)


def _widen_constant(operation) -> None:
    value = operation.attributes["value"]
    if not _is_bool_tensor(value.type):
        return
    dense = ir.DenseElementsAttr(value)
    shape = list(ir.RankedTensorType(value.type).shape)
    if dense.is_splat:
        bits = np.full(shape, 1 if str(dense.get_splat_value()) == "true" else 0, np.int8)
    else:
        bits = np.array(dense).astype(np.int8).reshape(shape)
    with ir.InsertionPoint(operation), operation.location:
        new = arith.ConstantOp(_widened(value.type), ir.DenseElementsAttr.get(bits))
    operation.results[0].replace_all_uses_with(new.result)
    operation.erase()


def _fix_extract(operation) -> None:
    """tensor.extract from a widened tensor gives a byte; uses expect i1."""
    result = operation.results[0]
    if str(result.type) == "i1":
        narrow_to_i1(result, ir.InsertionPoint.after(operation), operation.location)


def _fix_from_elements(operation) -> None:
    for i, value in enumerate(list(operation.operands)):
        if str(value.type) == "i1":
            with ir.InsertionPoint(operation), operation.location:
                operation.operands[i] = arith.extui(_i8(), value)


def _fix_fill(operation) -> None:
    """linalg.fill of a bool scalar into a widened tensor: the verifier wants the scalar's type to
    be the element type, so the fill is rebuilt with the extended byte (tf.zeros_like, tf.fill of a
    bool)."""
    value, init = operation.operands
    if str(value.type) != "i1":
        return
    with ir.InsertionPoint(operation), operation.location:
        byte = arith.extui(_i8(), value)
        new = linalg.fill(byte, outs=[init])
    operation.results[0].replace_all_uses_with(new)
    operation.erase()


def _widen_loop_carried(operation) -> None:
    """A compiled tf.while_loop's bool loop variables: the scf.while's region arguments are
    tensors, widened as its operands and results are."""
    for region in operation.regions:
        for block in region.blocks:
            for arg in block.arguments:
                arg.set_type(_widened(arg.type))


def _widen_function(function) -> None:
    retype_signature(function, _widened)
    for operation in all_ops(function):
        if operation.name == "arith.constant":
            _widen_constant(operation)
            continue
        for result in operation.results:
            result.set_type(_widened(result.type))
        if operation.name == "scf.while":
            _widen_loop_carried(operation)
    for operation in all_ops(function):
        if operation.name == "linalg.fill":
            _fix_fill(operation)
        elif operation.name.startswith("linalg.") or operation.name == "tensor.pad":
            _fix_region_args(operation)
            _fix_yields(operation)
        elif operation.name == "tensor.extract":
            _fix_extract(operation)
        elif operation.name == "tensor.from_elements":
            _fix_from_elements(operation)


@dataclasses.dataclass(frozen=True)
class BoolStoragePass(ModulePass):
    """Stores bool tensors as one byte per element (i8), as numpy does."""

    name = "tgc-bool-storage"

    def run(self, module: ir.Module) -> None:
        for function in functions(module, declarations=True):
            _widen_function(function)
