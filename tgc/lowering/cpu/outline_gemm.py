"""tgc-outline-gemm: each f32/f64 ``linalg.matmul`` on tensors moves into a private function of its
own.

Runs in the CPU pipeline right before ``linalg-fuse-elementwise-ops``. That fusion (with its reshape
folding) otherwise turns a matmul whose operand comes from an elementwise op or whose result is
reshaped into a linalg.generic, for instance ``relu_grad(dh) @ W^T`` reshaped to the convnet's
[N, 7, 7, 64] pool output: the matmul is gone, tgc-blas-matmul cannot hand it to OpenBLAS, and it
runs as plain loops, an order of magnitude slower. Behind a ``func.call`` the matmul is out of the
fusion's reach; LLVM inlines the call after lowering.

When the matmul's accumulator is a zero ``linalg.fill`` (used by nothing else, or of a tensor.empty,
which the matmul then gets a copy of), the fill moves into the function with it, so tgc-blas-matmul
still sees fill-then-matmul and passes beta = 0 to BLAS instead of zeroing C first. Matmuls of other
element types stay where they are (no BLAS routine for them), and so do matmuls already alone in a
function (tgc-conv-gemm outlines its GEMMs when it builds them).
"""

from __future__ import annotations

import dataclasses
import zlib

from mlir import ir
from mlir.dialects import func

from tgc.dialect.ir_helpers import all_ops, defining_op, find_function, functions
from tgc.passes.base import ModulePass

_BLAS_TYPES = ("f32", "f64")


def _zero_fill(value: ir.Value):
    """The linalg.fill of a 0.0 constant that produced ``value``, filling a tensor.empty or, when
    the fill has no other use, any tensor."""
    fill = defining_op(value)
    if fill is None or fill.name != "linalg.fill":
        return None
    if not single_use(value) and not _is_empty(fill.operands[1]):
        return None
    return fill if fills_float_zero(fill) else None


def fills_float_zero(fill) -> bool:
    """Whether a linalg.fill writes the float constant 0.0 (BLAS can then take beta = 0)."""
    constant = defining_op(fill.operands[0])
    if constant is None or constant.name != "arith.constant":
        return False
    value = constant.attributes["value"]
    return isinstance(value, ir.FloatAttr) and value.value == 0.0


def _is_empty(value: ir.Value) -> bool:
    owner = defining_op(value)
    return owner is not None and owner.name == "tensor.empty"


def single_use(value: ir.Value) -> bool:
    return len(list(value.uses)) == 1


def _alone_in_function(operation) -> bool:
    """True for a matmul that already is the whole body of its function (plus the return)."""
    return len(list(operation.block.operations)) == 2


def _is_candidate(op) -> bool:
    if op.name != "linalg.matmul" or len(op.results) != 1:
        return False
    elem = str(ir.RankedTensorType(op.results[0].type).element_type)
    return elem in _BLAS_TYPES and not _alone_in_function(op)


def _candidates(function) -> list:
    return [op for op in all_ops(function) if _is_candidate(op)]


def _type_name(t: ir.Type) -> str:
    return str(t).replace("tensor<", "").replace(">", "").replace("?", "d")


def _maps_key(matmul) -> str:
    """A short stable tag of the matmul's indexing maps (they are part of what the function
    computes)."""
    if "indexing_maps" not in matmul.attributes:
        return ""
    return "_m%08x" % zlib.crc32(str(matmul.attributes["indexing_maps"]).encode())


def define_gemm(module: ir.Module, name: str, matmul, fill, arg_types: list) -> None:
    """func.func private @name(A, B, C) -> C' holding (fill and) the matmul, cloned onto the
    arguments."""
    result_type = matmul.results[0].type
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        callee = func.FuncOp(
            name, ir.FunctionType.get(arg_types, [result_type]), visibility="private"
        )
        a, b, c = callee.add_entry_block().arguments
        with ir.InsertionPoint(callee.entry_block):
            if fill is not None:
                zero = (
                    defining_op(fill.operands[0]).clone().results[0]
                )  # the 0.0 constant, before its use
                new_fill = fill.clone()
                new_fill.operands[0] = zero
                new_fill.operands[1] = c
                c = new_fill.results[0]
            new_matmul = matmul.clone()
            for i, value in enumerate((a, b, c)):
                new_matmul.operands[i] = value
            func.ReturnOp([new_matmul.results[0]])


def _outline(module: ir.Module, matmul) -> None:
    a, b, acc = matmul.operands
    fill = _zero_fill(acc)
    c = fill.operands[1] if fill is not None else acc
    if fill is not None and not single_use(acc):
        # cse merged identical zero fills (of the same shape) into one, shared by several matmuls:
        # this matmul takes a tensor.empty of its own, and its function zero-fills it (BLAS's
        # beta = 0), instead of a copy of the shared zeros to accumulate into.
        with ir.InsertionPoint(matmul):
            c = defining_op(c).clone().results[0]
    arg_types = [a.type, b.type, c.type]
    name = (
        "tgc_mm_"
        + "_".join(_type_name(t) for t in arg_types)
        + _maps_key(matmul)
        + ("_z" if fill else "")
    )
    if find_function(module, name) is None:
        define_gemm(module, name, matmul, fill, arg_types)
    with ir.InsertionPoint(matmul), matmul.location:
        call = func.CallOp([matmul.results[0].type], ir.FlatSymbolRefAttr.get(name), [a, b, c])
    matmul.results[0].replace_all_uses_with(call.result)
    matmul.erase()
    if fill is not None and not list(fill.results[0].uses):
        fill.erase()


@dataclasses.dataclass(frozen=True)
class OutlineGemmPass(ModulePass):
    """Moves f32/f64 linalg.matmul ops (with their zero fill) into private functions, out of
    fusion's reach."""

    name = "tgc-outline-gemm"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for matmul in _candidates(function):
                _outline(module, matmul)
