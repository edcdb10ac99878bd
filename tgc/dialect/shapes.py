"""Shape and dtype helpers for the registry's result rules (``infer``).

Shapes are tuples of ints with ``None`` for dims unknown until run time. Errors are ShapeErrors
whose message the frontend prefixes with the op's name.
"""

from __future__ import annotations

from tgc.dialect.registry import ShapeError
from tgc.dialect.types import TensorSpec, as_dtype, format_shape

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int32", "int64")  # also what indices, labels and shapes may be
# Arithmetic on narrow signed integers wraps as TF's does (two's complement, LLVM's i8/i16). No op
# computes on uint8: the frontend rewrites uint8 arithmetic into int8 and int32 ops
# (tgc/frontend/uint8_math.py), since arith has no unsigned integer types.
NARROW_INT_DTYPES = ("int8", "int16")
NUMERIC_DTYPES = FLOAT_DTYPES + NARROW_INT_DTYPES + INT_DTYPES


def broadcast_shapes(*shapes) -> tuple:
    """numpy broadcasting over shapes that may hold ``None`` dims."""
    rank = max(len(s) for s in shapes)
    out = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(
                "shapes "
                + " and ".join(format_shape(s) for s in shapes)
                + " are not broadcast-compatible"
            )
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def same_dtype(*specs, allowed=None) -> str:
    dtypes = {s.dtype for s in specs}
    if len(dtypes) != 1:
        raise ShapeError(
            "operands must have the same dtype but got " + " and ".join(s.dtype for s in specs)
        )
    dtype = dtypes.pop()
    if allowed is not None and dtype not in allowed:
        raise ShapeError(f"dtype {dtype} is not supported; expected one of {', '.join(allowed)}")
    return dtype


def normalize_axis(axis: int, rank: int, what="axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(axes, rank: int) -> tuple:
    """Reduction axes, sorted: negatives count from the end; duplicates rejected."""
    out = tuple(sorted(normalize_axis(a, rank) for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"duplicate reduction axes {list(axes)}")
    return out


def compatible(shape, want) -> bool:
    """True when ``shape`` can be ``want``: the same rank, and equal sizes wherever both are
    known."""
    return len(shape) == len(want) and all(
        a is None or b is None or a == b for a, b in zip(shape, want)
    )


def spec(shape, dtype) -> TensorSpec:
    return TensorSpec(tuple(shape), as_dtype(dtype).name)
