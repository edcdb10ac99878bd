"""Constants and shape-manipulating ops: constant, fill, reshape, transpose, slicing, concatenation.

Ops that broadcast one tensor to another's shape (``broadcast_like``) or fill one (``fill_like``) take
the target tensor as an operand, so they need no shape values and work with unknown (``None``) dims.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, ShapeError, op
from tgc.dialect.shapes import broadcast_shapes, spec
from tgc.dialect.types import as_dtype, format_shape, numpy_dtype


@op("constant", tf_type="Const", attrs={"value": Attr("tensor")})
class Constant:
    """A constant tensor (`tf.constant`); its value is a dense elements attribute."""

    def infer(value):
        return spec(value.shape, as_dtype(value.dtype).name)

    def eval(value):
        return np.array(value)

    grad = NOT_DIFFERENTIABLE


@op("fill_like", tf_type="FillLike", operands=("x",), attrs={"value": Attr("float")})
class FillLike:
    """A tensor of x's shape and dtype filled with one value (`tf.zeros_like`, `tf.ones_like`)."""

    def infer(x, value):
        return x

    def eval(x, value):
        return np.full(x.shape, value, dtype=x.dtype)

    def grad(b, op, g):
        return [b.zeros_like(op.inputs[0])]


@op("broadcast_like", tf_type="BroadcastTo", operands=("x", "target"))
class BroadcastLike:
    """x broadcast (numpy rules) to the shape of target; target's values are not read."""

    def infer(x, target):
        try:
            result = broadcast_shapes(x.shape, target.shape)
        except ShapeError:
            result = None
        if result is None or len(result) != len(target.shape) or any(
            r is not None and t is not None and r != t for r, t in zip(result, target.shape)
        ):
            raise ShapeError(
                f"cannot broadcast {format_shape(x.shape)} to {format_shape(target.shape)}"
            )
        return spec(target.shape, x.dtype)

    def eval(x, target):
        return np.broadcast_to(x, target.shape).copy()

    def grad(b, op, g):
        x, target = op.inputs
        return [b.unbroadcast(g, x), None]


@op("fill", tf_type="Fill", attrs={"shape": Attr("ints"), "value": Attr("float"), "dtype": Attr("dtype")})
class Fill:
    """A tensor of a static shape filled with one value (`tf.fill`, `tf.zeros`, `tf.ones`)."""

    def infer(shape, value, dtype):
        if any(d < 0 for d in shape):
            raise ShapeError(f"fill shape {list(shape)} has a negative dim")
        return spec(shape, dtype)

    def eval(shape, value, dtype):
        return np.full(tuple(shape), value, dtype=numpy_dtype(dtype))

    grad = NOT_DIFFERENTIABLE


@op("expand_dims", tf_type="ExpandDims", operands=("x",), attrs={"axis": Attr("int")})
class ExpandDims:
    """Inserts a size-1 axis at ``axis`` (`tf.expand_dims`); negative axes count from the end."""

    def infer(x, axis):
        rank = len(x.shape) + 1
        if not -rank <= axis < rank:
            raise ShapeError(f"axis {axis} is out of range for expand_dims of a rank-{rank - 1} tensor")
        axis %= rank
        return spec(x.shape[:axis] + (1,) + x.shape[axis:], x.dtype)

    def eval(x, axis):
        return np.expand_dims(x, axis)

    def grad(b, op, g):
        return [b.squeeze(g, axes=[op.attrs["axis"] % len(g.shape)])]


@op("squeeze", tf_type="Squeeze", operands=("x",), attrs={"axes": Attr("ints")})
class Squeeze:
    """Removes the given size-1 axes (`tf.squeeze`; the frontend resolves ``axis=None``)."""

    def infer(x, axes):
        rank = len(x.shape)
        norm = set()
        for a in axes:
            if not -rank <= a < rank:
                raise ShapeError(f"squeeze axis {a} is out of range for rank {rank}")
            if x.shape[a % rank] not in (1, None):
                raise ShapeError(f"cannot squeeze axis {a} of shape {format_shape(x.shape)}: its size is not 1")
            norm.add(a % rank)
        return spec(tuple(d for i, d in enumerate(x.shape) if i not in norm), x.dtype)

    def eval(x, axes):
        return np.squeeze(x, axis=tuple(a % x.ndim for a in axes)) if axes else x.copy()

    def grad(b, op, g):
        (x,) = op.inputs
        for axis in sorted(a % len(x.shape) for a in op.attrs["axes"]):
            g = b.expand_dims(g, axis=axis)
        return [g]


def _reshape_result(in_shape, shape):
    shape = [int(d) for d in shape]
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape to {shape} has more than one -1")
    if any(d < -1 for d in shape):
        raise ShapeError(f"reshape to {shape} has a negative dim")
    known_in = all(d is not None for d in in_shape)
    total_in = int(np.prod(in_shape)) if known_in else None
    rest = int(np.prod([d for d in shape if d != -1]))
    if -1 in shape:
        if total_in is not None:
            if rest == 0 or total_in % rest:
                raise ShapeError(f"cannot reshape {format_shape(in_shape)} ({total_in} elements) to {shape}")
            shape[shape.index(-1)] = total_in // rest
        else:
            return tuple(None if d == -1 else d for d in shape)
    elif total_in is not None and total_in != rest:
        raise ShapeError(
            f"cannot reshape {format_shape(in_shape)} ({total_in} elements) to {shape} ({rest} elements)"
        )
    return tuple(shape)


@op("reshape", tf_type="Reshape", operands=("x",), attrs={"shape": Attr("ints")})
class Reshape:
    """Same elements in a new shape, row-major; one dim may be -1 (`tf.reshape`)."""

    def infer(x, shape):
        return spec(_reshape_result(x.shape, shape), x.dtype)

    def eval(x, shape):
        return np.reshape(x, tuple(shape)).copy()

    def grad(b, op, g):
        (x,) = op.inputs
        if x.spec.is_static:
            return [b.reshape(g, shape=list(x.shape))]
        # One unknown dim in x: -1 recovers it from g's element count.
        if sum(d is None for d in x.shape) == 1:
            return [b.reshape(g, shape=[-1 if d is None else d for d in x.shape])]
        return [b.reshape_like(g, x)]


@op("reshape_like", tf_type="Reshape", operands=("x", "target"))
class ReshapeLike:
    """x's elements in target's shape (read at run time); target's values are not read."""

    def infer(x, target):
        known = [d for d in x.shape + target.shape if d is None]
        if not known and int(np.prod(x.shape)) != int(np.prod(target.shape)):
            raise ShapeError(f"cannot reshape {format_shape(x.shape)} to {format_shape(target.shape)}")
        return spec(target.shape, x.dtype)

    def eval(x, target):
        return np.reshape(x, target.shape).copy()

    def grad(b, op, g):
        x, target = op.inputs
        return [b.reshape_like(g, x), None]


@op("transpose", tf_type="Transpose", operands=("x",), attrs={"perm": Attr("ints")})
class Transpose:
    """Permutes axes: result axis i is input axis perm[i] (`tf.transpose`)."""

    def infer(x, perm):
        if sorted(perm) != list(range(len(x.shape))):
            raise ShapeError(f"perm {list(perm)} is not a permutation of the {len(x.shape)} axes")
        return spec(tuple(x.shape[p] for p in perm), x.dtype)

    def eval(x, perm):
        return np.transpose(x, perm).copy()

    def grad(b, op, g):
        perm = op.attrs["perm"]
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p] = i
        return [b.transpose(g, perm=inverse)]
