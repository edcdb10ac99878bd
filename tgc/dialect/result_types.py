"""A ``tgc.if``'s result types as one string attribute ("tensor<?x3xf32>;...", one per result).

Its own module so that the op's declaration and the code that builds the op (loop_functions.py)
both use it without importing each other.
"""

from __future__ import annotations

from tgc.dialect.registry import ShapeError
from tgc.dialect.types import TensorSpec, dtype_from_mlir


def encode_result_types(specs) -> str:
    return ";".join(s.mlir_text() for s in specs)


def decode_result_types(text: str) -> list:
    """The TensorSpecs ``encode_result_types`` wrote."""
    specs = []
    for item in text.split(";") if text else []:
        if not (item.startswith("tensor<") and item.endswith(">")):
            raise ShapeError(f"result_types entry '{item}' is not a ranked tensor type")
        parts = item[len("tensor<") : -1].split("x")
        dims = tuple(None if d == "?" else int(d) for d in parts[:-1])
        specs.append(TensorSpec(dims, dtype_from_mlir(parts[-1]).name))
    return specs
