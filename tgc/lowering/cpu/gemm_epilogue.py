"""tgc-gemm-epilogue: ``act(A @ B + bias)`` moves into the outlined GEMM, where tgc's generated
kernel applies the bias and the activation to its register tile before it stores it.

Runs in the CPU pipeline right after tgc-gemm-update. By then tgc-outline-gemm has put each matmul
behind a call of a private function, and elementwise fusion has made a dense layer's bias add and
relu (tf.matmul + b, tf.nn.bias_add, tf.nn.xw_plus_b, tf.layers.dense with an activation) one
linalg.generic over the call's result and the bias. As written, that is a GEMM writing C, then a
pass reading C and writing a second buffer. The rewrite calls one function instead,
``<callee>_ep_<b><act>(A, B, [bias], C)``, that zero-fills C, runs the matmul into it and then the
same generic in place (``ins(bias) outs(C)``, its body reading C's element). tgc-blas-matmul then
finds the generic right after the matmul: for tgc's kernel it becomes the kernel's epilogue (the
bias as the kernel's Cin with beta = 1, a 1 x N view with row stride 0, the activation a kernel
variant, gemm_kernel.EPILOGUES), and C is written once; for OpenBLAS (which cannot) the generic
stays and runs as a loop over C in place after the call.

What is matched, and nothing else: an all-parallel 2-d linalg.generic of one result whose init it
does not read, reading the single use of a call of a zero-filling outlined GEMM (``tgc_mm_*_z``) of
the same type through the identity map and optionally a 1-d bias through (d0, d1) -> (d1), whose
body is ``act(g + b)`` (either order) or ``act(g)`` or ``g + b`` with act one of
``epilogue_of_body``'s; also ``act(g + c)`` for a float constant c (a splat bias, which
canonicalization folds into the body) over C of a known width, c then passed as a 1-d constant.
A matmul whose result has another user (the pre-activation fetched, or shared by two layers after
cse) keeps its separate pass: the unfused value is needed. A bias per row ((d0, d1) -> (d0)) is not
fused: the kernel's Cin must have unit-stride rows. Nor is a C known to be at most one vector wide
(NARROW_BYTES: a 10-class output layer): tgc-narrow-gemm's kernels take it, about twice as fast as
the general kernel there, and they only take a plain GEMM.
"""

from __future__ import annotations

import dataclasses
import math

from mlir import ir
from mlir.dialects import arith, func

from tgc.dialect.ir_helpers import (
    all_ops,
    defining_op,
    find_function,
    functions,
    map_result_dims,
)
from tgc.lowering.cpu.outline_gemm import single_use
from tgc.lowering.to_core.common import PARALLEL, affine_map, generic, identity_map
from tgc.passes.base import ModulePass

_ZERO_FILLING = "_z"
_PARALLEL_2D = ["#linalg.iterator_type<parallel>"] * 2
_EPILOGUE_INFIX = "_ep_"


@dataclasses.dataclass(frozen=True)
class Epilogue:
    """What a GEMM's epilogue does to each element of C: add a bias along N, then ``activation``
    ("" for none)."""

    bias: bool
    activation: str

    @property
    def suffix(self) -> str:
        return _EPILOGUE_INFIX + ("b" if self.bias else "") + (self.activation or "")


def _float_constant(value: ir.Value):
    owner = defining_op(value)
    if owner is None or owner.name != "arith.constant":
        return None
    attr = owner.attributes["value"]
    return attr.value if isinstance(attr, ir.FloatAttr) else None


def _other_operand(operation, value: ir.Value):
    """The operand of a binary op that is not ``value``, or None when ``value`` is not one."""
    first, second = operation.operands
    if first == value:
        return second
    return first if second == value else None


def _activation_ops(ops: list, value: ir.Value) -> str | None:
    """The activation that ``ops`` (a chain starting from ``value``, nothing else) compute, or
    None: "" for no op, "relu" for maximumf(x, 0), "relu6" for minimumf(maximumf(x, 0), 6)."""
    names = [op.name for op in ops]
    expected = {(): "", ("arith.maximumf",): "relu", ("arith.maximumf", "arith.minimumf"): "relu6"}
    activation = expected.get(tuple(names))
    if activation is None:
        return None
    bounds = (0.0, 6.0)
    for op, bound in zip(ops, bounds):
        other = _other_operand(op, value)
        constant = _float_constant(other) if other is not None else None
        # -0.0 == 0.0 in Python, but max(-0.0, -0.0) is -0.0 where the kernel's max gives +0.0.
        if constant != bound or math.copysign(1.0, constant) < 0:
            return None
        value = op.results[0]
    return activation


def epilogue_of_body(block, acc: ir.Value, bias) -> Epilogue | None:
    """The epilogue a linalg.generic's body computes from C's element ``acc`` and the bias's
    element ``bias`` (None when the generic reads no bias), or None when it computes anything
    else: ``act(acc + bias)`` (the add's operands in either order), ``act(acc)`` or
    ``acc + bias``."""
    ops = [op.operation for op in block.operations]
    if not ops or ops[-1].name != "linalg.yield" or len(ops[-1].operands) != 1:
        return None
    body, value = ops[:-1], acc
    if bias is not None:
        if not body or body[0].name != "arith.addf" or _other_operand(body[0], acc) != bias:
            return None
        value, body = body[0].results[0], body[1:]
    activation = _activation_ops(body, value)
    if activation is None or (bias is None and not activation):
        return None
    result = body[-1].results[0] if body else value
    if ops[-1].operands[0] != result or any(len(list(op.results[0].uses)) != 1 for op in body):
        return None
    return Epilogue(bias is not None, activation)


@dataclasses.dataclass
class _Match:
    """A matched generic: the GEMM call it reads, the bias (or None) and the epilogue."""

    generic: ir.Operation
    call: ir.Operation
    bias: ir.Value | None
    epilogue: Epilogue
    # A bias that is one constant for every column (a splat constant, which canonicalization
    # folds into the body as a scalar): its value, made a 1-d constant by the rewrite.
    splat: float | None = None


def _zero_filling_call(value: ir.Value):
    """The call of an outlined zero-filling GEMM whose single use ``value`` is, else None."""
    call = defining_op(value)
    if call is None or call.name != "func.call" or not single_use(value):
        return None
    callee = ir.FlatSymbolRefAttr(call.attributes["callee"]).value
    if not (callee.startswith("tgc_mm_") and callee.endswith(_ZERO_FILLING)):
        return None
    return call


def _match(operation) -> _Match | None:
    if operation.name != "linalg.generic" or len(operation.results) != 1:
        return None
    inputs = list(operation.operands)[:-1]
    iterators = [str(a) for a in ir.ArrayAttr(operation.attributes["iterator_types"])]
    maps = [map_result_dims(m) for m in ir.ArrayAttr(operation.attributes["indexing_maps"])]
    if len(inputs) not in (1, 2) or iterators != _PARALLEL_2D or maps[-1] != [0, 1]:
        return None
    block = operation.regions[0].blocks[0]
    arguments = list(block.arguments)
    if list(arguments[-1].uses):
        return None  # the body reads the init's old value
    # (the product's input, the bias's input or None): the bias may come first (b + x W).
    orders = [(0, None)] if len(inputs) == 1 else [(0, 1), (1, 0)]
    for g, b in orders:
        call = _zero_filling_call(inputs[g])
        if call is None or maps[g] != [0, 1] or inputs[g].type != operation.results[0].type:
            continue
        if _narrow(operation.results[0].type):
            return None
        bias = inputs[b] if b is not None else None
        if bias is not None and (maps[b] != [1] or ir.RankedTensorType(bias.type).rank != 1):
            continue
        epilogue = epilogue_of_body(block, arguments[g], arguments[b] if b is not None else None)
        if epilogue is not None:
            return _Match(operation, call, bias, epilogue)
        if b is None:
            return _splat_bias(operation, call, arguments[g])
    return None


def _splat_bias(operation, call, acc: ir.Value) -> _Match | None:
    """``act(acc + c)`` with c a float constant from outside the body (tf.constant(0.1,
    shape=[n]) after canonicalization) over C of a known width, else None."""
    block = operation.regions[0].blocks[0]
    first = next(iter(block.operations)).operation
    width_known = not ir.RankedTensorType(operation.results[0].type).is_dynamic_dim(1)
    if first.name != "arith.addf" or not width_known:
        return None
    constant = _other_operand(first, acc)
    value = _float_constant(constant) if constant is not None else None
    if value is None:
        return None
    epilogue = epilogue_of_body(block, acc, constant)
    return None if epilogue is None else _Match(operation, call, None, epilogue, value)


def _splat_type(match: _Match) -> ir.RankedTensorType:
    """The 1-d tensor type of a splat bias: C's width and element type."""
    result = ir.RankedTensorType(match.generic.results[0].type)
    return ir.RankedTensorType.get([result.shape[1]], result.element_type)


# C at most this many bytes wide (one AVX-512 vector) goes to tgc-narrow-gemm's kernels, which only
# take a function whose whole work is the matmul: about twice as fast as the general kernel there
# (narrow_gemm.py), more than the epilogue saves on so few columns.
NARROW_BYTES = 64


def _narrow(result_type) -> bool:
    """Whether C's width is known and at most NARROW_BYTES (tgc-narrow-gemm's)."""
    t = ir.RankedTensorType(result_type)
    width = t.shape[1]
    elem_bytes = t.element_type.width // 8
    return not t.is_dynamic_dim(1) and width * elem_bytes <= NARROW_BYTES


def _apply(epilogue: Epilogue, acc: ir.Value, bias) -> ir.Value:
    """The epilogue's scalar ops on C's element ``acc`` (and the bias's ``bias``)."""
    value = arith.addf(acc, bias) if epilogue.bias else acc
    if epilogue.activation:
        value = arith.maximumf(value, arith.constant(acc.type, 0.0))
    if epilogue.activation == "relu6":
        value = arith.minimumf(value, arith.constant(acc.type, 6.0))
    return value


def _define(module: ir.Module, name: str, gemm, match: _Match) -> None:
    """func.func private @name(A, B, [bias], C) -> C: the zero-filling GEMM ``gemm``'s fill and
    matmul into C, then the epilogue's generic in place over C."""
    entry = gemm.regions[0].blocks[0]
    a_type, b_type, c_type = (v.type for v in entry.arguments)
    arg_types = [a_type, b_type] + ([match.bias.type] if match.bias is not None else []) + [c_type]
    result_type = match.generic.results[0].type
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        callee = func.FuncOp(
            name, ir.FunctionType.get(arg_types, [result_type]), visibility="private"
        )
        arguments = list(callee.add_entry_block().arguments)
        mapping = dict(zip(list(entry.arguments), [arguments[0], arguments[1], arguments[-1]]))
        with ir.InsertionPoint(callee.entry_block):
            product = None
            for op in entry.operations:
                if op.operation.name == "func.return":
                    product = mapping[op.operation.operands[0]]
                    break
                clone = op.operation.clone()
                for i, operand in enumerate(clone.operands):
                    if operand in mapping:
                        clone.operands[i] = mapping[operand]
                for old, new in zip(op.operation.results, clone.results):
                    mapping[old] = new
            bias = [arguments[2]] if match.bias is not None else []
            maps = [affine_map(2, [1])] * len(bias) + [identity_map(2)]
            out = generic(
                bias,
                [product],
                maps,
                [PARALLEL] * 2,
                lambda *scalars: _apply(match.epilogue, scalars[-1], scalars[0]),
            )[0]
            func.ReturnOp([out])


def _is_gemm(function) -> bool:
    """A zero-filling outlined GEMM's body: (constant,) fill, matmul, return."""
    names = [op.operation.name for op in function.regions[0].blocks[0].operations]
    return names[-2:] == ["linalg.matmul", "func.return"] and "linalg.fill" in names


def _rewrite(module: ir.Module, match: _Match) -> bool:
    call = match.call
    callee = ir.FlatSymbolRefAttr(call.attributes["callee"]).value
    gemm = find_function(module, callee)
    if gemm is None or not _is_gemm(gemm):
        return False
    name = callee + match.epilogue.suffix
    a, b, c = call.operands
    result_type = match.generic.results[0].type
    bias_types = [match.bias.type] if match.bias is not None else []
    bias_types = [_splat_type(match)] if match.splat is not None else bias_types
    wanted = ir.FunctionType.get([a.type, b.type, *bias_types, c.type], [result_type])
    existing = find_function(module, name)
    if existing is not None and ir.TypeAttr(existing.attributes["function_type"]).value != wanted:
        return False  # the name is taken by a function of another origin (`tgc opt` input)
    if match.splat is not None:
        splat_type = _splat_type(match)
        values = ir.DenseElementsAttr.get_splat(
            splat_type, ir.FloatAttr.get(splat_type.element_type, match.splat)
        )
        with ir.InsertionPoint(match.generic), match.generic.location:
            match.bias = arith.constant(splat_type, values)
    if existing is None:
        _define(module, name, gemm, match)
    bias = [match.bias] if match.bias is not None else []
    with ir.InsertionPoint(match.generic), match.generic.location:
        new = func.CallOp(
            [match.generic.results[0].type], ir.FlatSymbolRefAttr.get(name), [a, b, *bias, c]
        )
    match.generic.results[0].replace_all_uses_with(new.result)
    match.generic.erase()
    call.erase()
    return True


def _called(module: ir.Module) -> set:
    return {
        ir.FlatSymbolRefAttr(op.attributes["callee"]).value
        for op in all_ops(module)
        if op.name == "func.call"
    }


@dataclasses.dataclass(frozen=True)
class GemmEpiloguePass(ModulePass):
    """Moves a bias add and activation over an outlined GEMM's result into the GEMM's function,
    for tgc-blas-matmul to fuse into the generated kernel's epilogue."""

    name = "tgc-gemm-epilogue"

    def run(self, module: ir.Module) -> None:
        replaced = set()
        for function in functions(module):
            matches = [m for m in (_match(op) for op in all_ops(function)) if m is not None]
            for match in matches:
                callee = ir.FlatSymbolRefAttr(match.call.attributes["callee"]).value
                if _rewrite(module, match):
                    replaced.add(callee)
        for name in replaced - _called(module):
            find_function(module, name).operation.erase()  # no call uses the plain GEMM any more


_VIEWS = (
    "memref.subview",
    "memref.cast",
    "memref.reinterpret_cast",
    "memref.expand_shape",
    "memref.collapse_shape",
)


def _buffer_of(value: ir.Value) -> ir.Value:
    """The memref that ``value`` is a view of (through subviews, casts and reshapes)."""
    owner = defining_op(value)
    while owner is not None and owner.name in _VIEWS:
        value = owner.operands[0]
        owner = defining_op(value)
    return value


def fused_generic(matmul, c: ir.Value):
    """The linalg.generic right after ``matmul`` (on memrefs) that applies an epilogue in place
    over its C: ``ins(bias?) outs(c)``, bias 1-d through (d0, d1) -> (d1). Returns (the generic,
    the bias memref or None, its Epilogue), else None."""
    block_ops = [op.operation for op in matmul.block.operations]
    index = block_ops.index(matmul.operation)
    following = block_ops[index + 1] if index + 1 < len(block_ops) else None
    if following is None or following.name != "linalg.generic" or following.results:
        return None
    operands = list(following.operands)
    if operands[-1] != c or len(operands) not in (1, 2):
        return None
    iterators = [str(a) for a in ir.ArrayAttr(following.attributes["iterator_types"])]
    maps = [map_result_dims(m) for m in ir.ArrayAttr(following.attributes["indexing_maps"])]
    if iterators != _PARALLEL_2D or maps[-1] != [0, 1]:
        return None
    bias = operands[0] if len(operands) == 2 else None
    if bias is not None and _buffer_of(bias) == _buffer_of(c):
        return None  # a bias inside C: the kernel would read it while it writes C
    if bias is not None:
        bias_type = ir.MemRefType(bias.type)
        if maps[0] != [1] or bias_type.rank != 1 or bias_type.get_strides_and_offset()[0] != [1]:
            return None
    block = following.regions[0].blocks[0]
    arguments = list(block.arguments)
    epilogue = epilogue_of_body(block, arguments[-1], arguments[0] if bias is not None else None)
    return None if epilogue is None else (following, bias, epilogue)
