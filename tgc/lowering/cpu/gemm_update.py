"""tgc-gemm-update: ``w - c * (A @ B)`` becomes one GEMM that accumulates into w:
``w + A @ (-c * B)``.

Runs in the CPU pipeline right after elementwise fusion. By then tgc-outline-gemm has put each
matmul behind a call of a private function, and fusion has made a plain SGD update of a weight,
``w - lr * g`` with ``g`` a weight gradient ``A^T @ d``, one linalg.generic over w and the call's
result. As written, that is a GEMM into a fresh zeroed buffer, then a pass reading w and that buffer
into a third one: three weight-sized buffers of memory traffic a step where one would do. After
the rewrite the matmul accumulates straight into w (BLAS with beta = 1), and the scale moves onto
the smaller operand (for a weight gradient, the batch's output gradient d: 32x1024 elements against
3136x1024). Where the session leaves w writable (tgc-read-only-arguments{writable-variables=true}),
bufferization then updates the variable in place; where it does not, w is copied once and the GEMM
accumulates into the copy, which still moves less than the update pass did.

What is matched, and nothing else: an all-parallel linalg.generic with identity maps, two inputs and
one init, whose body is ``w - g * c`` (or ``w - c * g``) for a float constant c, where g is the
single use of a call of a zero-filling outlined GEMM (tgc-outline-gemm's ``*_z`` functions) of the
same type as w. The rounding differs from the unfused update by at most one float rounding of each
product.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import arith, func

from tgc.dialect.ir_helpers import all_ops, body_ops, defining_op, find_function, functions
from tgc.lowering.cpu.outline_gemm import define_gemm, single_use
from tgc.lowering.to_core.common import elementwise, shape_of
from tgc.passes.base import ModulePass

_ZERO_FILLING = "_z"


@dataclasses.dataclass
class _Update:
    """A matched update: the generic, w, the GEMM call giving g, and the constant c."""

    generic: ir.Operation
    weight: ir.Value
    call: ir.Operation
    scale: float


def _is_identity(attr) -> bool:
    amap = ir.AffineMapAttr(attr).value
    return amap == ir.AffineMap.get_identity(amap.n_dims)


def _constant_float(value: ir.Value):
    owner = defining_op(value)
    if owner is not None and owner.name == "arith.constant":
        attr = owner.attributes["value"]
        if isinstance(attr, ir.FloatAttr):
            return attr.value
    return None


def _zero_filling_gemm(module: ir.Module, value: ir.Value):
    """The func.call of an outlined zero-filling GEMM that produced ``value``, if that is its one
    use. The name alone does not make one: the callee must hold the matmul, and the accumulating
    GEMM's name must be free or hold one of the same type (`tgc opt` reads any module, the user's
    names included)."""
    call = defining_op(value)
    if call is None or call.name != "func.call" or not single_use(value):
        return None
    callee = ir.FlatSymbolRefAttr(call.attributes["callee"]).value
    if not (callee.startswith("tgc_mm_") and callee.endswith(_ZERO_FILLING)):
        return None
    if _matmul_of(find_function(module, callee)) is None:
        return None
    accumulating = find_function(module, callee[: -len(_ZERO_FILLING)])
    if accumulating is not None and (
        _matmul_of(accumulating) is None
        or _function_type(accumulating) != _function_type(find_function(module, callee))
    ):
        return None
    return call


def _scaled_difference(body, weight_arg, gradient_arg):
    """c when the body yields ``weight_arg - gradient_arg * c`` (either factor order), else None."""
    ops = [op.operation for op in body.operations]
    if len(ops) != 3 or [op.name for op in ops] != ["arith.mulf", "arith.subf", "linalg.yield"]:
        return None
    mul, sub, yield_ = ops
    if (
        sub.operands[0] != weight_arg
        or sub.operands[1] != mul.results[0]
        or yield_.operands[0] != sub.results[0]
    ):
        return None
    factors = list(mul.operands)
    if gradient_arg not in factors:
        return None
    other = factors[1] if factors[0] == gradient_arg else factors[0]
    return _constant_float(other)


def _match(module: ir.Module, operation) -> _Update | None:
    if (
        operation.name != "linalg.generic"
        or len(operation.operands) != 3
        or len(operation.results) != 1
    ):
        return None
    iterators = [str(a) for a in ir.ArrayAttr(operation.attributes["iterator_types"])]
    if any("parallel" not in it for it in iterators):
        return None
    if not all(_is_identity(m) for m in ir.ArrayAttr(operation.attributes["indexing_maps"])):
        return None
    body = operation.regions[0].blocks[0]
    result_type = operation.results[0].type
    for w_index, g_index in ((0, 1), (1, 0)):
        weight, gradient = operation.operands[w_index], operation.operands[g_index]
        if weight.type != result_type or gradient.type != result_type:
            continue
        call = _zero_filling_gemm(module, gradient)
        if call is None:
            continue
        scale = _scaled_difference(body, body.arguments[w_index], body.arguments[g_index])
        if scale is not None:
            return _Update(operation, weight, call, scale)
    return None


def _matmul_of(function) -> ir.Operation | None:
    """The linalg.matmul of an outlined GEMM's body; None for a missing function, a declaration, or
    a body without one."""
    return (
        next((op for op in body_ops(function) if op.name == "linalg.matmul"), None)
        if function
        else None
    )


def _function_type(function) -> ir.FunctionType:
    return ir.FunctionType(ir.TypeAttr(function.attributes["function_type"]).value)


def _accumulating_callee(module: ir.Module, zero_filling: str, arg_types: list) -> str:
    """The outlined GEMM that adds into its C argument (BLAS beta = 1), defined once per module."""
    name = zero_filling[: -len(_ZERO_FILLING)]
    if find_function(module, name) is None:
        define_gemm(module, name, _matmul_of(find_function(module, zero_filling)), None, arg_types)
    return name


def _rewrite(module: ir.Module, update: _Update) -> None:
    call = update.call
    a, b, c = call.operands
    rows, cols = shape_of(call.results[0].type)
    # Scaling A costs K*M multiplies, B K*N: take the operand whose free dim is smaller.
    scale_b = rows is None or (cols is not None and cols <= rows)
    with ir.InsertionPoint(update.generic), update.generic.location:
        factor = arith.constant(ir.RankedTensorType(b.type).element_type, -update.scale)
        target = b if scale_b else a
        scaled = elementwise([target], target.type, lambda x: arith.mulf(x, factor))
        a, b = (a, scaled) if scale_b else (scaled, b)
        callee = ir.FlatSymbolRefAttr(call.attributes["callee"]).value
        name = _accumulating_callee(module, callee, [a.type, b.type, update.weight.type])
        new = func.CallOp(
            [update.weight.type], ir.FlatSymbolRefAttr.get(name), [a, b, update.weight]
        )
    update.generic.results[0].replace_all_uses_with(new.result)
    update.generic.erase()
    call.erase()
    if defining_op(c) is not None and not list(c.uses):
        defining_op(c).erase()


def _updates(module: ir.Module, function) -> list:
    return [
        match for match in (_match(module, op) for op in all_ops(function)) if match is not None
    ]


@dataclasses.dataclass(frozen=True)
class GemmUpdatePass(ModulePass):
    """Folds an SGD-style update ``w - c * (A @ B)`` into a GEMM accumulating into w (BLAS
    beta = 1)."""

    name = "tgc-gemm-update"

    def run(self, module: ir.Module) -> None:
        replaced = set()
        for function in functions(module):
            for update in _updates(module, function):
                replaced.add(ir.FlatSymbolRefAttr(update.call.attributes["callee"]).value)
                _rewrite(module, update)
        for name in replaced - _called(module):
            find_function(
                module, name
            ).operation.erase()  # a zero-filling GEMM no call uses any more


def _called(module: ir.Module) -> set:
    return {
        ir.FlatSymbolRefAttr(op.attributes["callee"]).value
        for op in all_ops(module)
        if op.name == "func.call"
    }
