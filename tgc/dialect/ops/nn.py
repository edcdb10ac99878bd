"""Neural-network composites: softmax, log_softmax, the cross-entropy losses, elu and l2_loss.

Each op is a composite: tgc-decompose rewrites it into core tgc ops (``decompose``) before lowering,
written in the numerically stable form (the max along the class axis is subtracted before ``exp``).
Autodiff runs before tgc-decompose, so each op also carries its own gradient rule, written in the
closed form TensorFlow uses rather than by differentiating the decomposition.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import (
    elu_flops,
    l2_loss_flops,
    sigmoid_cross_entropy_flops,
    softmax_cross_entropy_flops,
    softmax_flops,
)
from tgc.dialect.registry import Attr, Sample, ShapeError, op
from tgc.dialect.shapes import (
    FLOAT_DTYPES,
    INT_DTYPES,
    broadcast_shapes,
    normalize_axis,
    same_dtype,
    spec,
)
from tgc.dialect.types import format_shape

# ---- shape helpers -------------------------------------------------------------------------------


def _merge_shapes(a, b, what):
    """The common shape of two operands that must match, ``None`` dims taking the other's size."""
    if len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b)):
        raise ShapeError(
            f"{what} must have the same shape but got {format_shape(a)} and {format_shape(b)}"
        )
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _labels_broadcast_to(labels, logits):
    """The loss's full shape: labels broadcast to the logits (TF's kernel broadcasts them; logits
    never grow). Each dim is the logits' where known, else the labels' (TF 2.21's static shape:
    [1, 3] labels beside [?, 3] logits make a [1] loss; a run with more rows fails the checked
    cast of its value)."""
    try:
        shape = broadcast_shapes(labels, logits)
    except ShapeError:
        shape = None
    if (
        shape is None
        or len(shape) != len(logits)
        or any(s != d for s, d in zip(shape, logits) if s is not None and d is not None)
    ):
        raise ShapeError(
            "logits and labels must be broadcastable: "
            f"logits_size={_tf_size(logits)} labels_size={_tf_size(labels)}"
        )
    padded = (1,) * (len(logits) - len(labels)) + tuple(labels)  # missing dims broadcast as 1
    return tuple(d if d is not None else s for s, d in zip(padded, logits))


def _tf_size(shape):
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _without(shape, axis):
    return tuple(d for i, d in enumerate(shape) if i != axis)


def _float_spec(x):
    same_dtype(x, allowed=FLOAT_DTYPES)
    if not x.shape:
        raise ShapeError("logits must have rank >= 1 but got a scalar")
    return x


# ---- numpy references ----------------------------------------------------------------------------


def _np_log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _np_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# ---- shared builder pieces -----------------------------------------------------------------------


def _axis_of(v, axis):
    return normalize_axis(axis, len(v.shape))


def _shifted(b, x, axis):
    """x minus its max along axis (the max is a constant for the gradient, so no NaN from
    inf - inf)."""
    return b.subtract(x, b.reduce_max(x, axes=[axis], keepdims=True))


def _log_softmax(b, x, axis):
    shifted = _shifted(b, x, axis)
    return b.subtract(shifted, b.log(b.reduce_sum(b.exp(shifted), axes=[axis], keepdims=True)))


def _expand(b, g, axis):
    """A per-example value (the class axis removed) with that axis restored as size 1."""
    return b.expand_dims(g, axis=axis)


def _one_hot(b, labels, logits):
    """One-hot of integer labels (rank r) over the last axis of logits (rank r + 1), in logits'
    dtype."""
    classes = logits.shape[-1]
    positions = b.constant(np.arange(classes), dtype=labels.dtype)
    hits = b.equal(b.expand_dims(labels, axis=-1), positions)
    return b.cast(hits, dtype=logits.dtype)


def _label_check(b, labels, logits):
    """Zeros shaped like ``labels``, gathered at the labels from a row of as many zeros as classes:
    added to the loss (and to its gradient's seed), they make a label outside [0, classes) fail
    the run with gather's index check ("indices[1] = 7 is not in [0, 5)"), which every target
    makes, as TF's CPU kernel fails it."""
    zeros = b.constant(np.zeros(logits.shape[-1]), dtype=logits.dtype)
    return b.gather(zeros, labels)


# ---- softmax and log_softmax ---------------------------------------------------------------------


@op("softmax", tf_type="Softmax", operands=("logits",), attrs={"axis": Attr("int", -1)})
class Softmax:
    """exp(x) / sum(exp(x)) along an axis (`tf.nn.softmax`)."""

    flops = softmax_flops

    def infer(logits, axis):
        normalize_axis(axis, len(_float_spec(logits).shape))
        return logits

    def eval(logits, axis):
        return _np_softmax(logits, axis).astype(logits.dtype)

    def grad(b, op, g):
        # dx = (g - sum(g * y)) * y along the axis
        (y,) = op.outputs
        axis = _axis_of(y, op.attrs["axis"])
        dot = b.reduce_sum(b.multiply(g, y), axes=[axis], keepdims=True)
        return [b.multiply(b.subtract(g, dot), y)]

    def decompose(b, op):
        (x,) = op.inputs
        axis = _axis_of(x, op.attrs["axis"])
        e = b.exp(_shifted(b, x, axis))
        return b.divide(e, b.reduce_sum(e, axes=[axis], keepdims=True))

    samples = [
        Sample(shapes=((3, 5),), dynamic=((0, 0),)),
        Sample(shapes=((2, 4, 3),), attrs={"axis": 1}, dtypes="float64", low=-30.0, high=30.0),
    ]


@op("log_softmax", tf_type="LogSoftmax", operands=("logits",), attrs={"axis": Attr("int", -1)})
class LogSoftmax:
    """x - log(sum(exp(x))) along an axis (`tf.nn.log_softmax`)."""

    flops = softmax_flops

    def infer(logits, axis):
        normalize_axis(axis, len(_float_spec(logits).shape))
        return logits

    def eval(logits, axis):
        return _np_log_softmax(logits, axis).astype(logits.dtype)

    def grad(b, op, g):
        # dx = g - softmax(x) * sum(g) along the axis
        (y,) = op.outputs
        axis = _axis_of(y, op.attrs["axis"])
        total = b.reduce_sum(g, axes=[axis], keepdims=True)
        return [b.subtract(g, b.multiply(b.exp(y), total))]

    def decompose(b, op):
        (x,) = op.inputs
        return _log_softmax(b, x, _axis_of(x, op.attrs["axis"]))

    samples = [
        Sample(shapes=((3, 5),), dynamic=((0, 0),)),
        Sample(shapes=((4, 2),), attrs={"axis": 0}, dtypes="float64", low=-50.0, high=50.0),
    ]


# ---- cross-entropy losses ------------------------------------------------------------------------


@op(
    "softmax_cross_entropy_with_logits",
    tf_type="SoftmaxCrossEntropyWithLogits",
    operands=("labels", "logits"),
    attrs={"axis": Attr("int", -1)},
)
class SoftmaxCrossEntropyWithLogits:
    """-sum(labels * log_softmax(logits)) along the class axis, one loss per example
    (`tf.nn.softmax_cross_entropy_with_logits_v2`: gradients flow to labels too)."""

    flops = softmax_cross_entropy_flops

    def infer(labels, logits, axis):
        dtype = same_dtype(labels, _float_spec(logits), allowed=FLOAT_DTYPES)
        shape = _labels_broadcast_to(labels.shape, logits.shape)
        return spec(_without(shape, normalize_axis(axis, len(shape))), dtype)

    def eval(labels, logits, axis):
        return (-np.sum(labels * _np_log_softmax(logits, axis), axis=axis)).astype(logits.dtype)

    def grad(b, op, g):
        # d/dlogits = softmax * sum(labels) - labels  (TF's softmax - labels when labels sum to 1);
        # d/dlabels = -log_softmax(logits). Both scaled by g along the class axis; labels that
        # broadcast get the sum over the rows they stood for.
        labels, logits = op.inputs
        axis = _axis_of(logits, op.attrs["axis"])
        g = _expand(b, g, axis)
        full = b.broadcast_like(labels, logits)
        mass = b.reduce_sum(full, axes=[axis], keepdims=True)
        dlogits = b.subtract(b.multiply(b.softmax(logits, axis=axis), mass), full)
        dlabels = b.negative(b.log_softmax(logits, axis=axis))
        return [b.unbroadcast(b.multiply(g, dlabels), labels), b.multiply(g, dlogits)]

    def decompose(b, op):
        labels, logits = op.inputs
        axis = _axis_of(logits, op.attrs["axis"])
        # broadcast_like checks at run time that the labels broadcast to the logits (a None dim
        # fed more rows than the logits have is TF's "must be broadcastable")
        picked = b.multiply(b.broadcast_like(labels, logits), _log_softmax(b, logits, axis))
        return b.negative(b.reduce_sum(picked, axes=[axis]))

    samples = [
        Sample(shapes=((4, 5), (4, 5)), low=0.0, high=1.0, dynamic=((0, 0), (1, 0))),
        Sample(shapes=((3, 2, 4), (3, 2, 4)), attrs={"axis": 1}, dtypes="float64"),
    ]


@op(
    "sparse_softmax_cross_entropy_with_logits",
    tf_type="SparseSoftmaxCrossEntropyWithLogits",
    operands=("labels", "logits"),
)
class SparseSoftmaxCrossEntropyWithLogits:
    """-log_softmax(logits)[label] over the last axis, one loss per example
    (`tf.nn.sparse_softmax_cross_entropy_with_logits`); labels are class indices, not
    differentiable. The number of classes (the last dim of logits) must be known when the graph is
    built. A label outside [0, classes) fails the run, as TF's CPU kernel does (the loss and its
    gradient each check: TF's one kernel computes both)."""

    flops = softmax_flops

    def infer(labels, logits):
        same_dtype(labels, allowed=INT_DTYPES)
        _float_spec(logits)
        if len(labels.shape) + 1 != len(logits.shape):
            raise ShapeError(
                f"labels must have rank one less than logits but got {format_shape(labels.shape)} "
                f"and {format_shape(logits.shape)}"
            )
        if logits.shape[-1] is None:
            raise ShapeError(
                f"the number of classes (last dim of logits {format_shape(logits.shape)}) must be "
                "known"
            )
        shape = _merge_shapes(
            labels.shape, logits.shape[:-1], "labels and logits without the class axis"
        )
        return spec(shape, logits.dtype)

    def eval(labels, logits):
        log_p = _np_log_softmax(logits, -1)
        picked = np.take_along_axis(log_p, labels[..., None].astype(np.int64), axis=-1)[..., 0]
        return (-picked).astype(logits.dtype)

    def grad(b, op, g):
        # d/dlogits = softmax(logits) - one_hot(labels); labels are indices: no gradient.
        labels, logits = op.inputs
        g = b.add(g, _label_check(b, labels, logits))
        dlogits = b.subtract(b.softmax(logits, axis=-1), _one_hot(b, labels, logits))
        return [None, b.multiply(_expand(b, g, -1), dlogits)]

    def decompose(b, op):
        labels, logits = op.inputs
        picked = b.multiply(
            _one_hot(b, labels, logits), _log_softmax(b, logits, len(logits.shape) - 1)
        )
        loss = b.negative(b.reduce_sum(picked, axes=[-1]))
        return b.add(loss, _label_check(b, labels, logits))

    samples = [
        Sample(shapes=((4,), (4, 3)), dtypes=("int32", "float32"), dynamic=((0, 0), (1, 0))),
        Sample(shapes=((2, 3), (2, 3, 5)), dtypes=("int64", "float64"), int_high=5),
    ]


@op(
    "sigmoid_cross_entropy_with_logits",
    tf_type="SigmoidCrossEntropyWithLogits",
    operands=("labels", "logits"),
)
class SigmoidCrossEntropyWithLogits:
    """Elementwise logistic loss max(x, 0) - x * z + log(1 + exp(-|x|)) for logits x and labels z
    (`tf.nn.sigmoid_cross_entropy_with_logits`)."""

    flops = sigmoid_cross_entropy_flops

    def infer(labels, logits):
        dtype = same_dtype(labels, logits, allowed=FLOAT_DTYPES)
        _merge_shapes(labels.shape, logits.shape, "labels and logits")  # TF's check of the two
        # TF's static shape of its composition, whose products broadcast: [1, 1] beside [?, 1] is
        # [?, 1] (the decomposition's type)
        return spec(broadcast_shapes(labels.shape, logits.shape), dtype)

    def eval(labels, logits):
        x, z = logits, labels
        return (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).astype(logits.dtype)

    def grad(b, op, g):
        # d/dlogits = sigmoid(x) - z;  d/dlabels = -x
        labels, logits = op.inputs
        return [
            b.multiply(g, b.negative(logits)),
            b.multiply(g, b.subtract(b.sigmoid(logits), labels)),
        ]

    def decompose(b, op):
        labels, x = op.inputs
        zero, one = b.constant(0, like=x), b.constant(1, like=x)
        softplus_tail = b.log(b.add(one, b.exp(b.negative(b.abs(x)))))
        return b.add(b.subtract(b.maximum(x, zero), b.multiply(x, labels)), softplus_tail)

    samples = [
        Sample(shapes=((3, 4), (3, 4)), low=-3.0, high=3.0, dynamic=((0, 0), (1, 0))),
        Sample(shapes=((5,), (5,)), dtypes="float64", low=-40.0, high=40.0),
    ]


# ---- elu -----------------------------------------------------------------------------------------


@op("elu", tf_type="Elu", operands=("features",))
class Elu:
    """x where x > 0, else exp(x) - 1 (`tf.nn.elu`)."""

    flops = elu_flops

    def infer(features):
        same_dtype(features, allowed=FLOAT_DTYPES)
        return features

    def eval(features):
        with np.errstate(over="ignore"):
            return np.where(features > 0, features, np.expm1(features)).astype(features.dtype)

    def grad(b, op, g):
        # as TF's EluGrad: g where x > 0, else g * (out + 1) (= g * exp(x))
        (x,) = op.inputs
        (out,) = op.outputs
        positive = b.greater(x, b.constant(0, like=x))
        return [b.select(positive, g, b.multiply(g, b.add(out, b.constant(1, like=out))))]

    def decompose(b, op):
        # expm1, not exp(x) - 1: near 0 the subtraction cancels (x = -0.0117 lost 3e-6 relative
        # in float32). expm1 overflows to inf for large x, but select then takes x itself: no
        # inf or NaN escapes
        (x,) = op.inputs
        positive = b.greater(x, b.constant(0, like=x))
        return b.select(positive, x, b.expm1(x))

    samples = [
        Sample(shapes=((3, 4),), low=-3.0, high=3.0, dynamic=((0, 0),)),
        Sample(
            shapes=((6,),),
            dtypes="float64",
            values=(np.array([-50.0, -1.0, -1e-3, 0.0, 1e-3, 200.0]),),
        ),
    ]


# ---- l2_loss -------------------------------------------------------------------------------------


@op("l2_loss", tf_type="L2Loss", operands=("t",))
class L2Loss:
    """sum(t ** 2) / 2 over every element, a scalar (`tf.nn.l2_loss`)."""

    flops = l2_loss_flops

    def infer(t):
        return spec((), same_dtype(t, allowed=FLOAT_DTYPES))

    def eval(t):
        return np.asarray(np.sum(np.square(t)) / 2).astype(t.dtype)

    def grad(b, op, g):
        (t,) = op.inputs
        return [b.multiply(t, g)]

    def decompose(b, op):
        (t,) = op.inputs
        total = b.reduce_sum(b.square(t), axes=list(range(len(t.shape))))
        return b.multiply(total, b.constant(0.5, like=t))

    samples = [
        Sample(shapes=((3, 4),), dynamic=((0, 0),)),
        Sample(shapes=((),), dtypes="float64"),
    ]
