"""Reductions over axes (sum, mean, max, min, prod), argmax/argmin and the element count of axes.

``axes`` is always explicit in the IR (the frontend expands ``axis=None`` to every axis);
``keepdims`` keeps reduced axes as size 1, as TensorFlow does.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import no_flops, reduction_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, Sample, ShapeError, op
from tgc.dialect.shapes import NUMERIC_DTYPES, normalize_axes, normalize_axis, same_dtype, spec

_REDUCE_ATTRS = {"axes": Attr("ints"), "keepdims": Attr("bool", False)}

# Samples for the registry-wide tests: several axes, keepdims, all axes, negative axes, unknown
# batch. Floats are random, so the extremum of every slice is unique (no ties for reduce_max/min
# gradients).
_REDUCE_SAMPLES = (
    Sample(((3, 4, 5),), attrs={"axes": [0, 2]}),
    Sample(((3, 4, 5),), attrs={"axes": [1], "keepdims": True}),
    Sample(((3, 4),), attrs={"axes": [0, 1]}),
    Sample(((2, 3, 4),), attrs={"axes": [-1, 0], "keepdims": True}),
    Sample(((5, 3),), attrs={"axes": [-1]}, dynamic=((0, 0),)),
    Sample(((6, 3),), attrs={"axes": [0]}, dynamic=((0, 0),)),  # reduce over the unknown dim
    Sample(((3, 4),), dtypes="int32", attrs={"axes": [1]}, int_high=5),
    Sample(((),), attrs={"axes": []}),  # a reduction over no axes is the identity
    Sample(((2, 3),), attrs={"axes": [], "keepdims": True}),
)
# argmax/argmin: distinct values in every slice (the first index wins ties, which samples avoid).
_ARG_SAMPLES = (
    Sample(((3, 4),), attrs={"axis": 1}),
    Sample(((3, 4, 2),), attrs={"axis": 0, "output_type": "int32"}),
    Sample(((5, 3),), attrs={"axis": -1}, dynamic=((0, 0),)),
    Sample(((5, 3),), attrs={"axis": 0}, dynamic=((0, 0),)),
    Sample(
        ((2, 4),),
        dtypes="int32",
        attrs={"axis": 1},
        values=(np.array([[3, 1, 4, 0], [2, 7, 5, 6]], np.int32),),
    ),
)


def _reduced_shape(shape, axes, keepdims):
    axes = normalize_axes(axes, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _check_axes_exist(axes, rank):
    """TF's rule: every axis names a dim of x. normalize_axis (run first, with its message for other
    ranks) lets axis 0 through for a scalar, which other ops need; a reduction read it as no
    axis."""
    for axis in axes:
        if not -rank <= axis < rank:
            raise ShapeError(f"Invalid reduction dimension {axis} for input with {rank} dimensions")


def _reduce_infer(x, axes, keepdims):
    dtype = same_dtype(x, allowed=NUMERIC_DTYPES)
    shape = _reduced_shape(x.shape, axes, keepdims)
    _check_axes_exist(axes, len(x.shape))
    return spec(shape, dtype)


def _reduce_eval(fn):
    def evaluate(x, axes, keepdims):
        axes = normalize_axes(axes, x.ndim)
        return np.asarray(fn(x, axis=axes, keepdims=keepdims)).astype(x.dtype, copy=False)

    return evaluate


def _keep(b, g, op):
    """The incoming gradient with reduced axes restored as size-1 dims."""
    (x,) = op.inputs
    if op.attrs["keepdims"]:
        return g
    for axis in normalize_axes(op.attrs["axes"], len(x.shape)):
        g = b.expand_dims(g, axis=axis)
    return g


@op("reduce_sum", tf_type="Sum", operands=("x",), attrs=_REDUCE_ATTRS)
class ReduceSum:
    """Sum over axes (`tf.reduce_sum`)."""

    flops = reduction_flops

    samples = _REDUCE_SAMPLES

    infer = _reduce_infer
    eval = _reduce_eval(np.sum)

    def grad(b, op, g):
        return [b.broadcast_like(_keep(b, g, op), op.inputs[0])]


@op("reduce_mean", tf_type="Mean", operands=("x",), attrs=_REDUCE_ATTRS)
class ReduceMean:
    """Mean over axes (`tf.reduce_mean`); integer means truncate toward zero, as TensorFlow's do."""

    flops = reduction_flops

    samples = _REDUCE_SAMPLES

    infer = _reduce_infer

    def eval(x, axes, keepdims):
        axes = normalize_axes(axes, x.ndim)
        if np.issubdtype(x.dtype, np.integer):
            count = max(int(np.prod([x.shape[a] for a in axes])), 1)
            total = np.sum(x, axis=axes, keepdims=keepdims)
            return (np.sign(total) * (np.abs(total) // count)).astype(
                x.dtype
            )  # C division: toward zero
        return np.asarray(np.mean(x, axis=axes, keepdims=keepdims)).astype(x.dtype, copy=False)

    def grad(b, op, g):
        (x,) = op.inputs
        count = b.dim_size(x, axes=op.attrs["axes"])
        return [b.divide(b.broadcast_like(_keep(b, g, op), x), count)]


def _extremum_grad(b, op, g):
    """The gradient is shared equally among the elements that attain the extremum."""
    (x,) = op.inputs
    (out,) = op.outputs
    axes = op.attrs["axes"]
    out_k = _keep(b, out, op) if not op.attrs["keepdims"] else out
    mask = b.cast(b.equal(x, b.broadcast_like(out_k, x)), dtype=x.dtype)
    ties = b.reduce_sum(mask, axes=axes, keepdims=True)
    share = b.divide(b.broadcast_like(_keep(b, g, op), x), b.broadcast_like(ties, x))
    return [b.multiply(share, mask)]


@op("reduce_max", tf_type="Max", operands=("x",), attrs=_REDUCE_ATTRS)
class ReduceMax:
    """Maximum over axes (`tf.reduce_max`)."""

    flops = reduction_flops

    samples = _REDUCE_SAMPLES

    infer = _reduce_infer
    eval = _reduce_eval(np.max)
    grad = _extremum_grad


@op("reduce_min", tf_type="Min", operands=("x",), attrs=_REDUCE_ATTRS)
class ReduceMin:
    """Minimum over axes (`tf.reduce_min`)."""

    flops = reduction_flops

    samples = _REDUCE_SAMPLES

    infer = _reduce_infer
    eval = _reduce_eval(np.min)
    grad = _extremum_grad


@op("reduce_prod", tf_type="Prod", operands=("x",), attrs=_REDUCE_ATTRS)
class ReduceProd:
    """Product over axes (`tf.reduce_prod`)."""

    flops = reduction_flops

    samples = _REDUCE_SAMPLES

    infer = _reduce_infer
    eval = _reduce_eval(np.prod)

    def grad(b, op, g):
        # d prod / d x_i is the product of the other elements. Written without dividing by zero:
        # no zero in the slice -> out / x_i; exactly one zero -> at the zero, the product of the
        # nonzero elements, elsewhere 0; two or more zeros -> 0.
        (x,) = op.inputs
        axes = op.attrs["axes"]
        zero, one = b.constant(0, like=x), b.constant(1, like=x)
        is_zero = b.equal(x, zero)
        nonzero_prod = b.broadcast_like(
            b.reduce_prod(b.select(is_zero, b.ones_like(x), x), axes=axes, keepdims=True), x
        )
        zeros_in_slice = b.broadcast_like(
            b.reduce_sum(b.cast(is_zero, dtype=x.dtype), axes=axes, keepdims=True), x
        )
        safe_x = b.select(is_zero, b.ones_like(x), x)
        no_zero = b.divide(nonzero_prod, safe_x)
        one_zero = b.select(is_zero, nonzero_prod, b.zeros_like(x))
        others = b.select(
            b.equal(zeros_in_slice, zero),
            no_zero,
            b.select(b.equal(zeros_in_slice, one), one_zero, b.zeros_like(x)),
        )
        return [b.multiply(b.broadcast_like(_keep(b, g, op), x), others)]


def _arg_infer(x, axis, output_type):
    same_dtype(x, allowed=NUMERIC_DTYPES)
    if output_type not in ("int32", "int64"):
        raise ShapeError(f"output_type must be int32 or int64 but got {output_type}")
    rank = len(x.shape)
    if not -rank <= axis < rank:  # a scalar has no axis to search along
        raise ShapeError(f"Expected dimension in the range [{-rank}, {rank}), but got {axis}")
    axis = normalize_axis(axis, rank)
    return spec(tuple(d for i, d in enumerate(x.shape) if i != axis), output_type)


@op(
    "argmax",
    tf_type="ArgMax",
    operands=("x",),
    attrs={"axis": Attr("int"), "output_type": Attr("dtype", "int64")},
)
class ArgMax:
    """Index of the largest value along an axis; the first one on ties (`tf.argmax`)."""

    flops = reduction_flops

    samples = _ARG_SAMPLES

    infer = _arg_infer

    def eval(x, axis, output_type):
        return np.argmax(x, axis=normalize_axis(axis, x.ndim)).astype(output_type)

    grad = NOT_DIFFERENTIABLE


@op(
    "argmin",
    tf_type="ArgMin",
    operands=("x",),
    attrs={"axis": Attr("int"), "output_type": Attr("dtype", "int64")},
)
class ArgMin:
    """Index of the smallest value along an axis; the first one on ties (`tf.argmin`)."""

    flops = reduction_flops

    samples = _ARG_SAMPLES

    infer = _arg_infer

    def eval(x, axis, output_type):
        return np.argmin(x, axis=normalize_axis(axis, x.ndim)).astype(output_type)

    grad = NOT_DIFFERENTIABLE


@op("dim_size", tf_type="Size", operands=("x",), attrs={"axes": Attr("ints")})
class DimSize:
    """The number of elements across the given axes of x, as a scalar of x's dtype
    (known at run time)."""

    flops = no_flops

    samples = (
        Sample(((3, 4, 5),), attrs={"axes": [0, 2]}),
        Sample(((2, 3),), dtypes="int32", attrs={"axes": [-1]}),
        Sample(((5, 3),), attrs={"axes": [0, 1]}, dynamic=((0, 0),)),  # counted at run time
    )

    def infer(x, axes):
        normalize_axes(axes, len(x.shape))
        return spec((), x.dtype)

    def eval(x, axes):
        axes = normalize_axes(axes, x.ndim)
        return np.asarray(int(np.prod([x.shape[a] for a in axes])), dtype=x.dtype)

    grad = NOT_DIFFERENTIABLE
