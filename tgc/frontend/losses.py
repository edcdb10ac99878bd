"""`tgc.losses`: TF 1.15's ``tf.losses`` (per-element losses, weighting, reduction, the
collections).

Each loss is built from frontend ops (math_ops, nn) and reduced by ``compute_weighted_loss`` exactly
as TensorFlow's losses_impl does: inputs are cast to float32, multiplied by ``weights`` (broadcast
to the losses' shape), summed, and divided by the reduction's denominator with div_no_nan (a zero
denominator gives 0, not NaN). The default, SUM_BY_NONZERO_WEIGHTS, divides by the number of
elements whose broadcast weight is non-zero. Every result is added to the ``losses`` collection,
where ``get_losses`` and ``get_total_loss`` find it next to the layers' regularization losses.
"""

from __future__ import annotations

from tgc.frontend import array_ops, math_ops, nn
from tgc.frontend.build import constant, convert_to_tensor
from tgc.graph.graph import Tensor, get_default_graph
from tgc.frontend.layers import REGULARIZATION_LOSSES

LOSSES = "losses"


class Reduction:
    """How ``compute_weighted_loss`` reduces the weighted losses (`tf.losses.Reduction`)."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (
            cls.NONE,
            cls.SUM,
            cls.MEAN,
            cls.SUM_OVER_BATCH_SIZE,
            cls.SUM_OVER_NONZERO_WEIGHTS,
            cls.SUM_BY_NONZERO_WEIGHTS,
        )

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


def _is_tensor(value) -> bool:
    return isinstance(value, Tensor) or hasattr(value, "_as_graph_element")


# ---- reduction -----------------------------------------------------------------------------------


def _div_no_nan(x, y, name=None):
    """x / y, and 0 where y == 0; the divisor is made safe first so the gradient has no NaN
    either."""
    zero = math_ops.equal(y, 0.0)
    safe = math_ops.where(zero, array_ops.ones_like(y), y)
    return math_ops.where(
        zero, array_ops.zeros_like(x), math_ops.divide(x, safe), name=name or "value"
    )


def _num_elements(losses):
    with get_default_graph().name_scope("num_elements"):
        return math_ops.cast(array_ops.size(losses), losses.dtype)


def _num_present(losses, weights):
    """How many elements of losses carry a non-zero weight once weights is broadcast to them."""
    with get_default_graph().name_scope("num_present"):
        present = math_ops.cast(math_ops.not_equal(weights, 0.0), "float32")
        present = math_ops.multiply(present, array_ops.ones_like(losses))
        return math_ops.reduce_sum(present)


def _check_broadcastable(weights, losses):
    """weights must be a scalar or broadcast to losses' shape (TF asserts this at run time; we check
    statically)."""
    w, v = weights.shape, losses.shape
    if w.ndims is None or v.ndims is None or w.ndims == 0:
        return
    if w.ndims > v.ndims or any(
        a is not None and b is not None and a != 1 and a != b
        for a, b in zip(w.as_list()[::-1], v.as_list()[::-1])
    ):
        raise ValueError(
            f"weights can not be broadcast to values: weights shape {w}, values shape {v}"
        )


def compute_weighted_loss(
    losses,
    weights=1.0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """losses * weights reduced as ``reduction`` says; the result keeps the losses' dtype."""
    Reduction.validate(reduction)
    with get_default_graph().name_scope(scope or "weighted_loss"):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        losses = math_ops.cast(losses, "float32")
        weights = math_ops.cast(
            weights if _is_tensor(weights) else convert_to_tensor(weights, dtype="float32"),
            "float32",
        )
        _check_broadcastable(weights, losses)
        weighted = math_ops.multiply(losses, weights)
        loss = (
            weighted
            if reduction == Reduction.NONE
            else _reduce(weighted, losses, weights, reduction)
        )
        loss = math_ops.cast(loss, input_dtype)
    add_loss(loss, loss_collection)
    return loss


def _reduce(weighted, losses, weights, reduction):
    total = math_ops.reduce_sum(weighted)
    if reduction == Reduction.MEAN:
        return _div_no_nan(
            total, math_ops.reduce_sum(math_ops.multiply(array_ops.ones_like(losses), weights))
        )
    if reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
        return _div_no_nan(total, _num_present(losses, weights))
    if reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return _div_no_nan(total, _num_elements(losses))
    return total


# ---- the collections -----------------------------------------------------------------------------


def add_loss(loss, loss_collection=LOSSES):
    """Adds loss to loss_collection (nothing when the collection is None)."""
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, loss)


def get_losses(scope=None, loss_collection=LOSSES):
    return get_default_graph().get_collection(loss_collection, scope)


def get_regularization_losses(scope=None):
    return get_default_graph().get_collection(REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses, or a float32 0 when there are none."""
    losses = get_regularization_losses(scope)
    if losses:
        return math_ops.add_n(losses, name=name)
    return constant(0.0, dtype="float32")


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """The sum of the losses collection (and of the regularization losses, by default)."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope=scope)
    if not losses:
        raise ValueError(
            "No losses to sum: the losses and regularization_losses collections are empty"
        )
    return math_ops.add_n(losses, name=name)


# ---- the losses ----------------------------------------------------------------------------------


def _pair_f32(fn_name, labels, predictions, what="predictions"):
    """labels and predictions cast to float32 with compatible static shapes (TF's checks)."""
    if labels is None:
        raise ValueError("labels must not be None.")
    if predictions is None:
        raise ValueError(f"{what} must not be None.")
    predictions = math_ops.cast(convert_to_tensor(predictions), "float32")
    labels = math_ops.cast(convert_to_tensor(labels), "float32")
    _check_compatible(fn_name, labels, predictions, what)
    return labels, predictions


def _check_compatible(fn_name, labels, predictions, what):
    a, b = labels.shape, predictions.shape
    if a.ndims is None or b.ndims is None:
        return
    if a.ndims != b.ndims or any(
        x is not None and y is not None and x != y for x, y in zip(a.as_list(), b.as_list())
    ):
        raise ValueError(f"{fn_name}: Shapes {b} and {a} are incompatible ({what} and labels)")


def mean_squared_error(
    labels,
    predictions,
    weights=1.0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """(predictions - labels) ** 2, weighted and reduced."""
    with get_default_graph().name_scope(scope or "mean_squared_error") as sc:
        labels, predictions = _pair_f32("mean_squared_error", labels, predictions)
        losses = math_ops.squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def absolute_difference(
    labels,
    predictions,
    weights=1.0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """|predictions - labels|, weighted and reduced."""
    with get_default_graph().name_scope(scope or "absolute_difference") as sc:
        labels, predictions = _pair_f32("absolute_difference", labels, predictions)
        losses = math_ops.abs(math_ops.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def cosine_distance(
    labels,
    predictions,
    axis=None,
    weights=1.0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
    dim=None,
):
    """1 - sum(predictions * labels) along ``axis`` (kept as size 1), weighted and reduced; the
    inputs are taken as already unit-normalized, as TF's. TF1 spells the axis ``dim``."""
    axis = axis if axis is not None else dim
    if axis is None:
        raise ValueError("You must specify argument `axis`.")
    with get_default_graph().name_scope(scope or "cosine_distance_loss") as sc:
        labels, predictions = _pair_f32("cosine_distance", labels, predictions)
        products = math_ops.multiply(predictions, labels)
        losses = 1.0 - math_ops.reduce_sum(products, axis=axis, keepdims=True)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def huber_loss(
    labels,
    predictions,
    weights=1.0,
    delta=1.0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """0.5 e**2 where |e| <= delta, else delta * (|e| - 0.5 delta), as quadratic + linear parts."""
    with get_default_graph().name_scope(scope or "huber_loss") as sc:
        labels, predictions = _pair_f32("huber_loss", labels, predictions)
        abs_error = math_ops.abs(math_ops.subtract(predictions, labels))
        quadratic = math_ops.minimum(abs_error, delta)
        linear = math_ops.subtract(abs_error, quadratic)
        losses = math_ops.add(
            math_ops.multiply(0.5, math_ops.multiply(quadratic, quadratic)),
            math_ops.multiply(delta, linear),
        )
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def log_loss(
    labels,
    predictions,
    weights=1.0,
    epsilon=1e-7,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """-labels log(p + eps) - (1 - labels) log(1 - p + eps) for probabilities p."""
    with get_default_graph().name_scope(scope or "log_loss") as sc:
        labels, predictions = _pair_f32("log_loss", labels, predictions)
        pos = math_ops.multiply(labels, math_ops.log(math_ops.add(predictions, epsilon)))
        neg = math_ops.multiply(
            math_ops.subtract(1.0, labels),
            math_ops.log(math_ops.add(math_ops.subtract(1.0, predictions), epsilon)),
        )
        losses = math_ops.subtract(math_ops.negative(pos), neg)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def hinge_loss(
    labels,
    logits,
    weights=1.0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """relu(1 - (2 labels - 1) * logits) for 0/1 labels."""
    with get_default_graph().name_scope(scope or "hinge_loss") as sc:
        labels, logits = _pair_f32("hinge_loss", labels, logits, what="logits")
        signs = math_ops.subtract(math_ops.multiply(2.0, labels), 1.0)
        losses = nn.relu(math_ops.subtract(1.0, math_ops.multiply(signs, logits)))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def _logits_and_labels(fn_name, labels, logits):
    """logits as given, labels cast to their dtype, static shapes checked."""
    if labels is None:
        raise ValueError("labels must not be None.")
    if logits is None:
        raise ValueError("logits must not be None.")
    logits = convert_to_tensor(logits)
    labels = math_ops.cast(convert_to_tensor(labels), logits.dtype)
    _check_compatible(fn_name, labels, logits, "logits")
    return labels, logits


def sigmoid_cross_entropy(
    multi_class_labels,
    logits,
    weights=1.0,
    label_smoothing=0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Elementwise logistic loss; label_smoothing moves labels toward 1/2: z (1 - s) + s / 2."""
    with get_default_graph().name_scope(scope or "sigmoid_cross_entropy_loss") as sc:
        labels, logits = _logits_and_labels("sigmoid_cross_entropy", multi_class_labels, logits)
        if label_smoothing > 0:
            labels = math_ops.add(
                math_ops.multiply(labels, 1.0 - label_smoothing), 0.5 * label_smoothing
            )
        losses = nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def softmax_cross_entropy(
    onehot_labels,
    logits,
    weights=1.0,
    label_smoothing=0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Per-example softmax cross-entropy; label_smoothing s gives labels (1 - s) y + s / classes.

    No gradient flows into the labels (TF stops it), so this trains only the logits."""
    with get_default_graph().name_scope(scope or "softmax_cross_entropy_loss") as sc:
        labels, logits = _logits_and_labels("softmax_cross_entropy", onehot_labels, logits)
        if label_smoothing > 0:
            labels = math_ops.add(
                math_ops.multiply(labels, 1.0 - label_smoothing),
                math_ops.divide(label_smoothing, _num_classes(labels)),
            )
        labels = math_ops.stop_gradient(labels, name="labels_stop_gradient")
        losses = nn.softmax_cross_entropy_with_logits_v2(
            labels=labels, logits=logits, name="xentropy"
        )
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def _num_classes(labels):
    """The class count as a scalar of labels' dtype: a constant when the last dim is known."""
    last = labels.shape[-1].value
    if last is not None:
        return constant(float(last), dtype=labels.dtype)
    return math_ops.cast(array_ops.shape(labels)[-1], labels.dtype)


def sparse_softmax_cross_entropy(
    labels,
    logits,
    weights=1.0,
    scope=None,
    loss_collection=LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Per-example -log softmax(logits)[label]; labels of shape [batch, 1] are squeezed to
    [batch]."""
    if labels is None:
        raise ValueError("labels must not be None.")
    if logits is None:
        raise ValueError("logits must not be None.")
    with get_default_graph().name_scope(scope or "sparse_softmax_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = _squeeze_last(convert_to_tensor(labels), logits.shape.ndims, 1)
        if isinstance(weights, Tensor) and weights.shape.ndims is not None:
            weights = _squeeze_last(weights, logits.shape.ndims, 1)
        losses = nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits, name="xentropy"
        )
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def _squeeze_last(t, logits_rank, rank_diff):
    """Drops a trailing size-1 axis when t has one rank more than logits' rank - rank_diff (TF's
    rule)."""
    rank = t.shape.ndims
    if rank is not None and logits_rank is not None and rank == logits_rank - rank_diff + 1:
        if t.shape[-1].value in (1, None):
            return array_ops.squeeze(t, [-1])
    return t
