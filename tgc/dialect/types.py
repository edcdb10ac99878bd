"""Dtypes and tensor specs shared by every layer: the frontend, the registry and the passes.

A dtype is named as TensorFlow names it (``float32``); this module maps it to numpy and to the MLIR
element type text (``f32``). Shapes are tuples whose unknown dims are ``None`` (``?`` in MLIR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DType:
    """A TensorFlow-style dtype: ``tgc.float32``, ``tgc.int32`` and friends."""

    def __init__(self, name: str, mlir: str, np_type, is_floating: bool, is_integer: bool):
        self.name = name
        self.mlir = mlir
        self.as_numpy_dtype = np_type
        self.is_floating = is_floating
        self.is_integer = is_integer
        self.is_bool = name == "bool"
        self.is_unsigned = False

    @property
    def base_dtype(self) -> "DType":
        return self

    def __repr__(self) -> str:
        return f"tgc.{self.name}"

    def __eq__(self, other) -> bool:
        try:
            return as_dtype(other).name == self.name
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)


def _bfloat16_numpy():
    try:
        import ml_dtypes

        return ml_dtypes.bfloat16
    except ImportError:  # bfloat16 graphs still build; feeding or fetching them needs ml_dtypes
        return None


float16 = DType("float16", "f16", np.float16, True, False)
bfloat16 = DType("bfloat16", "bf16", _bfloat16_numpy(), True, False)
float32 = DType("float32", "f32", np.float32, True, False)
float64 = DType("float64", "f64", np.float64, True, False)
int8 = DType("int8", "i8", np.int8, False, True)
int16 = DType("int16", "i16", np.int16, False, True)
int32 = DType("int32", "i32", np.int32, False, True)
int64 = DType("int64", "i64", np.int64, False, True)
# MLIR's arith works on signless integers; uint8 is stored as "ui8" so that it stays apart from
# int8 in the IR, and the frontend reads and writes it by bits (tgc/frontend/uint8_math.py).
uint8 = DType("uint8", "ui8", np.uint8, False, True)
uint8.is_unsigned = True
bool_ = DType("bool", "i1", np.bool_, False, False)
# Serialized protos (summaries): host values only, produced by host ops and never compiled.
string = DType("string", "!tgc.string", np.object_, False, False)

DTYPES = {
    d.name: d
    for d in (float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, bool_, string)
}
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32"}
_BY_MLIR = {d.mlir: d for d in DTYPES.values()}


def as_dtype(value) -> DType:
    """Any spelling of a dtype (DType, name, numpy dtype, Python type) to our DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        name = _ALIASES.get(value, value)
        if name in DTYPES:
            return DTYPES[name]
        raise TypeError(f"unknown dtype '{value}'; expected one of {sorted(DTYPES)}")
    if value is bool:
        return bool_
    if value is int:
        return int32
    if value is float:
        return float32
    try:
        np_dtype = np.dtype(value)
    except TypeError as exc:
        raise TypeError(f"cannot interpret {value!r} as a dtype") from exc
    if np_dtype.name in DTYPES:
        return DTYPES[np_dtype.name]
    raise TypeError(f"unsupported dtype {np_dtype.name}; expected one of {sorted(DTYPES)}")


def dtype_from_mlir(text: str) -> DType:
    if text not in _BY_MLIR:
        raise TypeError(f"unsupported MLIR element type '{text}'")
    return _BY_MLIR[text]


def numpy_dtype(dtype) -> np.dtype:
    d = as_dtype(dtype)
    if d.as_numpy_dtype is None:
        raise TypeError("bfloat16 values need the 'ml_dtypes' package (pip install ml_dtypes)")
    return np.dtype(d.as_numpy_dtype)


@dataclass(frozen=True)
class TensorSpec:
    """The static type of one tensor: a shape with ``None`` for unknown dims, and a dtype name."""

    shape: tuple
    dtype: str

    def __post_init__(self):
        if self.shape is not None:  # None: rank unknown until a feed gives it (frontend only)
            object.__setattr__(
                self, "shape", tuple(None if d is None else int(d) for d in self.shape)
            )
        object.__setattr__(self, "dtype", as_dtype(self.dtype).name)

    @property
    def rank(self):
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)

    def mlir_text(self) -> str:
        dims = "".join(("?" if d is None else str(d)) + "x" for d in self.shape)
        return f"tensor<{dims}{as_dtype(self.dtype).mlir}>"

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"[{dims}] {self.dtype}"


def format_shape(shape) -> str:
    return (
        "("
        + ", ".join("?" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )
