"""Conversion between the registry's Python attribute values and MLIR attributes.

Each attribute kind in ``registry.ATTR_KINDS`` has one encoding; ``decode`` inverts ``encode`` so
that the passes see the same Python values the frontend gave.
"""

from __future__ import annotations

import re

import numpy as np
from mlir import ir

from tgc.dialect.types import as_dtype, dtype_from_mlir


def element_type(dtype) -> ir.Type:
    return ir.Type.parse(as_dtype(dtype).mlir)


def tensor_type(spec) -> ir.Type:
    return ir.Type.parse(spec.mlir_text())


def encode(kind: str, value) -> ir.Attribute:
    if kind == "int":
        return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(value))
    if kind == "bool":
        return ir.BoolAttr.get(bool(value))
    if kind == "float":
        return ir.FloatAttr.get_f64(float(value))
    if kind == "str":
        return ir.StringAttr.get(str(value))
    if kind == "ints":
        return ir.DenseI64ArrayAttr.get([int(v) for v in value])
    if kind == "floats":
        return ir.DenseF64ArrayAttr.get([float(v) for v in value])
    if kind == "dtype":
        return ir.TypeAttr.get(element_type(value))
    if kind == "tensor":
        return _dense(np.asarray(value))
    if kind == "symbol":
        return ir.FlatSymbolRefAttr.get(str(value))
    raise ValueError(f"unknown attribute kind '{kind}'")


def _dense(array: np.ndarray) -> ir.Attribute:
    dtype = as_dtype(array.dtype)
    if dtype.name == "bfloat16":  # no buffer-protocol format for bf16: pass the bits with the type
        bits = np.array(array, order="C", copy=True).view(np.uint16)
        return ir.DenseElementsAttr.get(
            bits, type=ir.RankedTensorType.get(list(array.shape), ir.BF16Type.get())
        )
    if dtype.name == "uint8":  # numpy's uint8 buffer reads as signless i8: name the unsigned type
        return ir.DenseElementsAttr.get(
            np.array(array, order="C", copy=True),
            type=ir.RankedTensorType.get(list(array.shape), ir.IntegerType.get_unsigned(8)),
        )
    return ir.DenseElementsAttr.get(np.array(array, order="C", copy=True))


def decode(kind: str, attr: ir.Attribute):
    if kind == "int":
        return ir.IntegerAttr(attr).value
    if kind == "bool":
        return bool(ir.BoolAttr(attr).value)
    if kind == "float":
        return ir.FloatAttr(attr).value
    if kind == "str":
        return ir.StringAttr(attr).value
    if kind == "ints":
        return tuple(ir.DenseI64ArrayAttr(attr))
    if kind == "floats":
        return tuple(ir.DenseF64ArrayAttr(attr))
    if kind == "dtype":
        return dtype_from_mlir(str(ir.TypeAttr(attr).value)).name
    if kind == "tensor":
        return decode_dense(attr)
    if kind == "symbol":
        return ir.FlatSymbolRefAttr(attr).value
    raise ValueError(f"unknown attribute kind '{kind}'")


def decode_dense(attr: ir.Attribute) -> np.ndarray:
    dense = ir.DenseElementsAttr(attr)
    shaped = ir.ShapedType(dense.type)
    dtype = dtype_from_mlir(str(shaped.element_type))
    if dtype.name == "bfloat16":
        return _decode_bf16(str(attr).rsplit(":", 1)[0], shaped.shape, dense.is_splat)
    if dense.is_splat:
        first = np.array(
            ir.DenseElementsAttr.get_splat(
                ir.RankedTensorType.get([], shaped.element_type), dense.get_splat_value()
            )
        )
        return np.full(shaped.shape, first, dtype=dtype.as_numpy_dtype)
    return np.array(dense).astype(dtype.as_numpy_dtype, copy=False).reshape(shaped.shape)


_BF16_TOKEN = re.compile(r"0x[0-9A-Fa-f]+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _decode_bf16(text: str, shape, splat: bool) -> np.ndarray:
    """bf16 elements from the attribute's printed form (the bindings give no buffer for bf16)."""
    import ml_dtypes

    def value(token):
        if token.lower().startswith("0x"):  # MLIR prints inf and nan by their bits
            return np.array([int(token, 16)], np.uint16).view(ml_dtypes.bfloat16)[0]
        return ml_dtypes.bfloat16(float(token))

    values = [value(t) for t in _BF16_TOKEN.findall(text[text.index("<") :])]
    count = int(np.prod(shape)) if len(shape) else 1
    array = np.array(values * count if splat else values, dtype=ml_dtypes.bfloat16)
    return array.reshape(shape)


def spec_of_type(type_: ir.Type):
    """The TensorSpec of a ranked tensor type."""
    from tgc.dialect.types import TensorSpec

    ranked = ir.RankedTensorType(type_)
    shape = tuple(
        None if ranked.is_dynamic_dim(i) else ranked.get_dim_size(i) for i in range(ranked.rank)
    )
    return TensorSpec(shape, dtype_from_mlir(str(ranked.element_type)).name)


def buffer_dtype_name(element: ir.Type) -> str:
    """The numpy dtype name of a buffer's element type (an i1 buffer is numpy's bool, an i8 one
    int8); ValueError for a type no target stores."""
    if isinstance(element, ir.F32Type):
        return "float32"
    if isinstance(element, ir.F64Type):
        return "float64"
    if isinstance(element, ir.IntegerType):
        width = ir.IntegerType(element).width
        return "bool" if width == 1 else f"int{width}"
    raise ValueError(f"buffers of {element}")
