"""`tf.compat`: TF1's string helpers and shape-dimension helpers.

``tf.compat.v1`` is the tgc module itself (set by tgc/__init__.py), so a program written against
``tf.compat.v1.placeholder`` or ``import tgc.compat.v1 as tf`` runs unchanged.
"""

from __future__ import annotations

import numbers
import os

from tgc.graph.graph import Dimension, TensorShape, dimension_value

bytes_or_text_types = (bytes, str)
integral_types = (numbers.Integral,)
real_types = (numbers.Real,)
complex_types = (numbers.Complex,)


def as_bytes(bytes_or_text, encoding="utf-8"):
    """``bytes_or_text`` as bytes: text is encoded, bytes (and bytearrays) pass."""
    if isinstance(bytes_or_text, bytearray):
        return bytes(bytes_or_text)
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


def as_text(bytes_or_text, encoding="utf-8"):
    """``bytes_or_text`` as str: bytes are decoded, text passes."""
    if isinstance(bytes_or_text, str):
        return bytes_or_text
    if isinstance(bytes_or_text, (bytes, bytearray)):
        return bytes(bytes_or_text).decode(encoding)
    raise TypeError(f"Expected binary or unicode string, got {bytes_or_text!r}")


as_str = as_text


def as_str_any(value, encoding="utf-8"):
    """``str(value)``, decoding bytes first."""
    if isinstance(value, (bytes, bytearray)):
        return as_str(value, encoding)
    return str(value)


def path_to_str(path):
    """A path-like object (``pathlib.Path``) as its string; anything else unchanged."""
    return os.fspath(path) if isinstance(path, os.PathLike) else path


def dimension_at_index(shape, index) -> Dimension:
    """``shape[index]`` as a Dimension; an unknown rank gives an unknown Dimension."""
    shape = shape if isinstance(shape, TensorShape) else TensorShape(shape)
    if shape.ndims is None:
        return Dimension(None)
    return shape[index]


def forward_compatible(year, month, day) -> bool:
    """tgc has no GraphDef consumers of another version: every date is compatible."""
    return True


__all__ = [
    "as_bytes",
    "as_str",
    "as_str_any",
    "as_text",
    "bytes_or_text_types",
    "complex_types",
    "dimension_at_index",
    "dimension_value",
    "forward_compatible",
    "integral_types",
    "path_to_str",
    "real_types",
]
