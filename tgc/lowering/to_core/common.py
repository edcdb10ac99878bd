"""Helpers every tgc -> core rule shares: types, constants, dynamic dims, and linalg.generic building.

A rule builds at the insertion point of the op it replaces. Dims unknown at compile time (``?``) are
read with ``tensor.dim`` from an operand that has the same dim, so one compiled function serves every
batch size.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, linalg, tensor

PARALLEL = "parallel"
REDUCTION = "reduction"


# ---- types ---------------------------------------------------------------------------------------


def ranked(value_or_type) -> ir.RankedTensorType:
    t = value_or_type.type if isinstance(value_or_type, ir.Value) else value_or_type
    return ir.RankedTensorType(t)


def element_type(value_or_type) -> ir.Type:
    return ranked(value_or_type).element_type


def is_float(t: ir.Type) -> bool:
    return isinstance(t, (ir.F16Type, ir.BF16Type, ir.F32Type, ir.F64Type)) or str(t) in ("f16", "bf16", "f32", "f64")


def is_bool(t: ir.Type) -> bool:
    return str(t) == "i1"


def shape_of(value_or_type) -> list:
    """Static shape with None for dynamic dims."""
    r = ranked(value_or_type)
    return [None if r.is_dynamic_dim(i) else r.get_dim_size(i) for i in range(r.rank)]


# ---- constants and dims --------------------------------------------------------------------------


def const_index(n: int) -> ir.Value:
    return arith.ConstantOp(ir.IndexType.get(), n).result


def scalar_const(value, elem: ir.Type) -> ir.Value:
    if is_float(elem):
        return arith.ConstantOp(elem, ir.FloatAttr.get(elem, float(value))).result
    if is_bool(elem):
        return arith.ConstantOp(elem, ir.IntegerAttr.get(elem, 1 if value else 0)).result
    return arith.ConstantOp(elem, ir.IntegerAttr.get(elem, int(value))).result


def dim(value: ir.Value, i: int) -> ir.Value:
    """Dim i of a tensor as an index value (a constant when static)."""
    static = shape_of(value)[i]
    if static is not None:
        return const_index(static)
    return tensor.DimOp(value, const_index(i)).result


def empty(result_type: ir.Type, dynamic_dims: dict) -> ir.Value:
    """tensor.empty of ``result_type``; ``dynamic_dims`` maps each ``?`` dim index to an index value."""
    shape = shape_of(result_type)
    sizes = []
    for i, d in enumerate(shape):
        if d is not None:
            sizes.append(d)
        elif i in dynamic_dims:
            sizes.append(dynamic_dims[i])
        else:
            raise ValueError(f"no size for dynamic dim {i} of {result_type}")
    return tensor.EmptyOp(sizes, element_type(result_type)).result


def broadcast_dynamic_dims(result_type: ir.Type, operands: list) -> dict:
    """For an elementwise result, take each ``?`` dim from an operand whose aligned dim is unknown."""
    rank = ranked(result_type).rank
    out = {}
    for i, d in enumerate(shape_of(result_type)):
        if d is not None:
            continue
        for v in operands:
            vshape = shape_of(v)
            j = i - (rank - len(vshape))
            if j >= 0 and vshape[j] is None:
                out[i] = dim(v, j)
                break
    return out


# ---- linalg.generic -------------------------------------------------------------------------------


def affine_map(num_dims: int, exprs: list) -> ir.AffineMapAttr:
    """exprs: a dim index, or ('const', 0) for a broadcast dim."""
    built = [ir.AffineConstantExpr.get(e[1]) if isinstance(e, tuple) else ir.AffineDimExpr.get(e) for e in exprs]
    return ir.AffineMapAttr.get(ir.AffineMap.get(num_dims, 0, built))


def broadcast_map(operand: ir.Value, result_shape: list) -> ir.AffineMapAttr:
    """Indexing map reading ``operand`` at the result's index under numpy broadcasting."""
    rank = len(result_shape)
    oshape = shape_of(operand)
    lead = rank - len(oshape)
    exprs = []
    for j, d in enumerate(oshape):
        r = result_shape[lead + j]
        exprs.append(("const", 0) if d == 1 and r != 1 else lead + j)
    return affine_map(rank, exprs)


def identity_map(rank: int) -> ir.AffineMapAttr:
    return affine_map(rank, list(range(rank)))


def generic(inputs, inits, maps, iterators, body) -> list:
    """Builds a linalg.generic; ``body(*scalars)`` returns the yielded scalar(s) for each init."""
    op = linalg.GenericOp(
        [v.type for v in inits],
        inputs,
        inits,
        ir.ArrayAttr.get(maps),
        ir.ArrayAttr.get([ir.Attribute.parse(f"#linalg.iterator_type<{it}>") for it in iterators]),
    )
    arg_types = [element_type(v) for v in list(inputs) + list(inits)]
    block = op.regions[0].blocks.append(*arg_types)
    with ir.InsertionPoint(block):
        out = body(*block.arguments)
        linalg.YieldOp(list(out) if isinstance(out, (list, tuple)) else [out])
    return list(op.results)


def elementwise(operands: list, result_type: ir.Type, body) -> ir.Value:
    """A broadcasting elementwise op: ``body(*scalars)`` computes one result element."""
    result_shape = shape_of(result_type)
    init = empty(result_type, broadcast_dynamic_dims(result_type, operands))
    maps = [broadcast_map(v, result_shape) for v in operands] + [identity_map(len(result_shape))]
    return generic(operands, [init], maps, [PARALLEL] * len(result_shape), lambda *a: body(*a[: len(operands)]))[0]


def fill(value: ir.Value, init: ir.Value) -> ir.Value:
    """linalg.fill of a scalar into ``init``."""
    return linalg.fill(value, outs=[init])
