"""tgc-nvptx-static-transfers: sends and receives keep the static shape of their tensor.

At the core level ``tgc.send`` is a call of ``tgc_send_<dtype>_<rank>(key_id, tensor<?x..>)`` and
``tgc.recv`` a call of ``tgc_recv_<dtype>_<rank>(key_id) -> tensor<?x..>`` cast to its static type
(tgc/lowering/to_core/transfer.py: one C function per dtype and rank serves every shape on the
CPU). On the GPU these calls are never compiled: the launch plan performs them on the host
(tgc/lowering/nvptx/launch_plan.py). But bufferization and loop lowering fold the casts away, so a
kernel reading a received buffer would take its dims from the host at run time, which the plan
cannot express. This pass, run before bufferization, makes each call take or return the static
type through a declaration of its own, ``<symbol>_static_<shape>``: the kernels keep static shapes
and the plan reads the shape from the call.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import func

from tgc.dialect.ir_helpers import all_ops, defining_op, find_function, functions
from tgc.passes.base import ModulePass

SEND_PREFIX = "tgc_send_"
RECV_PREFIX = "tgc_recv_"


def transfer_kind(op) -> str | None:
    """ "send" or "recv" for a call of a transfer function, else None."""
    if op.name != "func.call":
        return None
    callee = callee_name(op)
    if callee.startswith(SEND_PREFIX):
        return "send"
    if callee.startswith(RECV_PREFIX):
        return "recv"
    return None


def callee_name(op) -> str:
    return ir.FlatSymbolRefAttr(op.attributes["callee"]).value


def transfer_dtype(callee: str) -> str:
    """The tensor's dtype as the transfer's symbol names it (``bool`` for a bool tensor, whatever
    its storage): ``tgc_send_float32_2_static_4x3`` -> ``float32``."""
    rest = callee.removeprefix(SEND_PREFIX).removeprefix(RECV_PREFIX)
    return rest.split("_static_")[0].rsplit("_", 1)[0]


def _static_symbol(callee: str, shape: list) -> str:
    return f"{callee}_static_{'x'.join(str(d) for d in shape) or 'scalar'}"


def _cast_source(value: ir.Value):
    """The static value a ``tensor.cast`` to dynamic dims was made of, else None."""
    op = defining_op(value)
    if op is None or op.name != "tensor.cast":
        return None
    source = op.operands[0]
    return source if ir.RankedTensorType(source.type).has_static_shape else None


def _static_casts(value: ir.Value) -> list:
    """The casts of ``value`` to one static type, when every use of it is one."""
    casts = [use.owner for use in value.uses]
    types = {str(c.results[0].type) for c in casts if c.name == "tensor.cast"}
    if not casts or len(types) != 1 or any(c.name != "tensor.cast" for c in casts):
        return []
    static = ir.RankedTensorType(casts[0].results[0].type)
    return casts if static.has_static_shape else []


@dataclasses.dataclass(frozen=True)
class StaticTransfersPass(ModulePass):
    """Transfer calls on dynamic tensors cast from or to static ones take the static type."""

    name = "tgc-nvptx-static-transfers"

    def run(self, module: ir.Module) -> None:
        replaced = set()
        calls = [op for op in all_ops(module) if transfer_kind(op) is not None]
        for call in calls:  # taken before any edit: the rewrites erase casts around them
            callee = callee_name(call)
            rewrite = self._send if transfer_kind(call) == "send" else self._recv
            if rewrite(module, call):
                replaced.add(callee)
        self._erase(module, replaced)

    def _send(self, module, call) -> bool:
        key, value = call.operands
        source = _cast_source(value)
        if source is None:
            return False
        cast = defining_op(value)
        name = self._declare(module, call, [key.type, source.type], [])
        with ir.InsertionPoint(call), call.location:
            func.CallOp([], name, [key, source])
        call.erase()
        if not list(cast.results[0].uses):
            cast.erase()
        return True

    def _recv(self, module, call) -> bool:
        casts = _static_casts(call.results[0])
        if not casts:
            return False
        static = casts[0].results[0].type
        name = self._declare(module, call, [call.operands[0].type], [static])
        with ir.InsertionPoint(call), call.location:
            received = func.CallOp([static], name, [call.operands[0]]).result
        for cast in casts:
            cast.results[0].replace_all_uses_with(received)
            cast.erase()
        call.erase()
        return True

    @staticmethod
    def _declare(module, call, inputs: list, results: list) -> str:
        """Declares the call's static twin once, next to the dynamic declaration."""
        static = ir.RankedTensorType((results or inputs)[-1])
        name = _static_symbol(callee_name(call), list(static.shape))
        if find_function(module, name) is None:
            with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
                func.FuncOp(name, ir.FunctionType.get(inputs, results), visibility="private")
        return name

    @staticmethod
    def _erase(module, replaced: set) -> None:
        """Dynamic declarations no call uses any more."""
        called = {callee_name(op) for op in all_ops(module) if op.name == "func.call"}
        for function in functions(module, declarations=True):
            name = ir.StringAttr(function.attributes["sym_name"]).value
            if name in replaced and name not in called:
                function.operation.erase()
