"""Core lowering of send/recv: calls into the runtime's rendezvous through C-interface functions.

``tgc.send`` becomes a call of ``tgc_send_<dtype>_<rank>(key_id, tensor)`` and ``tgc.recv`` a call
of ``tgc_recv_<dtype>_<rank>(key_id) -> tensor``, external functions with ``llvm.emit_c_interface``
that the runtime provides (tgc/runtime/rendezvous.py) when it loads the compiled code. Tensors cross
the call with every dim unknown, so one function per dtype and rank serves every shape.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, func, tensor

from tgc.dialect.attrs import spec_of_type
from tgc.dialect.ir_helpers import find_function, module_of
from tgc.lowering.to_core import lowers


def transfer_symbol(kind: str, dtype: str, rank: int) -> str:
    return f"tgc_{kind}_{dtype}_{rank}"


def _dynamic(type_: ir.Type) -> ir.Type:
    ranked = ir.RankedTensorType(type_)
    return ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size()] * ranked.rank, ranked.element_type
    )


def _declare(operation, name: str, inputs: list, results: list) -> str:
    """Declares ``name`` once at the top of the module."""
    module = module_of(operation)
    if find_function(module, name) is not None:
        return name
    with ir.InsertionPoint.at_block_begin(module.regions[0].blocks[0]), ir.Location.unknown():
        decl = func.FuncOp(name, ir.FunctionType.get(inputs, results), visibility="private")
    decl.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
    return name


def _key(op):
    return arith.ConstantOp(ir.IntegerType.get_signless(64), op.attrs["key_id"]).result


@lowers("send")
def _send(op):
    (value,) = op.operands
    spec = spec_of_type(value.type)
    dynamic = _dynamic(value.type)
    name = _declare(
        op.operation,
        transfer_symbol("send", spec.dtype, spec.rank),
        [ir.IntegerType.get_signless(64), dynamic],
        [],
    )
    if dynamic != value.type:
        value = tensor.CastOp(dynamic, value).result
    func.CallOp([], name, [_key(op), value])
    return []


@lowers("recv")
def _recv(op):
    spec = spec_of_type(op.result_type)
    dynamic = _dynamic(op.result_type)
    name = _declare(
        op.operation,
        transfer_symbol("recv", spec.dtype, spec.rank),
        [ir.IntegerType.get_signless(64)],
        [dynamic],
    )
    received = func.CallOp([dynamic], name, [_key(op)]).result
    if dynamic != op.result_type:
        received = tensor.CastOp(op.result_type, received).result
    return received
