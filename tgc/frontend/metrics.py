"""`tf.metrics` (TF1's metrics_impl.py): streaming metrics as (value, update_op) pairs.

Each metric keeps its running sums in local variables (collections ``local_variables`` and
``metric_variables``, not trainable, zero-initialized by ``tf.local_variables_initializer()``)
named as TF's: ``accuracy/total``, ``accuracy/count``, ``precision/true_positives/count``, ...
``update_op`` adds a batch to the sums and returns the metric including it; ``value`` reads the
sums. Divisions are TF's div_no_nan (0 before any data).
"""

from __future__ import annotations

from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.control import control_dependencies
from tgc.frontend.variables import LOCAL_VARIABLES, Variable, variable_scope
from tgc.graph.graph import get_default_graph

METRIC_VARIABLES = "metric_variables"


def metric_variable(shape, dtype, validate_shape=True, name=None):
    """A zero-initialized local variable in the ``local_variables`` and ``metric_variables``
    collections (TF's ``metric_variable``)."""
    return Variable(
        lambda: array_ops.zeros(shape, dtype),
        trainable=False,
        collections=[LOCAL_VARIABLES, METRIC_VARIABLES],
        validate_shape=validate_shape,
        name=name,
    )


def _add_to_collections(names, value):
    graph = get_default_graph()
    for key in [names] if isinstance(names, str) else names or []:
        graph.add_to_collection(key, value)


def _remove_squeezable_dimensions(predictions, labels, weights):
    """TF's alignment: a trailing size-1 dim that one of labels/predictions has and the other lacks
    is squeezed; weights one rank above the values lose their last dim, one below gain one."""
    predictions = convert_to_tensor(predictions)
    if labels is not None:
        labels = convert_to_tensor(labels)
        p_rank, l_rank = predictions.shape.ndims, labels.shape.ndims
        if p_rank is not None and l_rank is not None:
            if p_rank - l_rank == 1 and predictions.shape[-1].value in (1, None):
                predictions = array_ops.squeeze(predictions, [-1])
            elif l_rank - p_rank == 1 and labels.shape[-1].value in (1, None):
                labels = array_ops.squeeze(labels, [-1])
        if not predictions.shape.is_compatible_with(labels.shape):
            raise ValueError(
                f"Shapes {predictions.shape} and {labels.shape} are incompatible (predictions "
                f"'{predictions.name}' and labels '{labels.name}')"
            )
    if weights is None:
        return predictions, labels, None
    weights = convert_to_tensor(weights)
    w_rank, p_rank = weights.shape.ndims, predictions.shape.ndims
    if w_rank is None or p_rank is None:
        raise ValueError(
            f"metrics: the ranks of weights '{weights.name}' and values '{predictions.name}' must "
            "be known when the graph is built"
        )
    if w_rank - p_rank == 1 and w_rank > 0:
        weights = array_ops.squeeze(weights, [-1])
    elif p_rank - w_rank == 1 and w_rank > 0:
        weights = array_ops.expand_dims(weights, -1)
    return predictions, labels, weights


def mean(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """`tf.metrics.mean`: the (weighted) mean of every value seen."""
    with variable_scope(name, "mean"):
        values = math_ops.cast(values, "float32")
        total = metric_variable([], "float32", name="total")
        count = metric_variable([], "float32", name="count")
        if weights is None:
            num_values = math_ops.cast(array_ops.size(values), "float32")
        else:
            values, _, weights = _remove_squeezable_dimensions(values, None, weights)
            weights = math_ops.cast(weights, "float32") * array_ops.ones_like(values)
            values = math_ops.multiply(values, weights)
            num_values = math_ops.reduce_sum(weights)
        update_total = total.assign_add(math_ops.reduce_sum(values))
        with control_dependencies([values]):
            update_count = count.assign_add(num_values)
        value = math_ops.div_no_nan(
            total.value(), math_ops.maximum(count.value(), 0.0), name="value"
        )
        update_op = math_ops.div_no_nan(
            update_total, math_ops.maximum(update_count, 0.0), name="update_op"
        )
    _add_to_collections(metrics_collections, value)
    _add_to_collections(updates_collections, update_op)
    return value, update_op


def accuracy(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """`tf.metrics.accuracy`: how often predictions equal labels (weighted)."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    if labels.dtype != predictions.dtype:
        predictions = math_ops.cast(predictions, labels.dtype)
    is_correct = math_ops.cast(math_ops.equal(predictions, labels), "float32")
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def mean_squared_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """`tf.metrics.mean_squared_error`: the mean of (labels - predictions)**2."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    squared_error = math_ops.squared_difference(labels, predictions)
    return mean(
        squared_error,
        weights,
        metrics_collections,
        updates_collections,
        name or "mean_squared_error",
    )


def mean_absolute_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """`tf.metrics.mean_absolute_error`: the mean of |labels - predictions|."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    absolute_errors = math_ops.abs(predictions - labels)
    return mean(
        absolute_errors,
        weights,
        metrics_collections,
        updates_collections,
        name or "mean_absolute_error",
    )


def _count_condition(values, weights, metrics_collections, updates_collections):
    count = metric_variable([], "float32", name="count")
    values = math_ops.cast(values, "float32")
    if weights is not None:
        values = math_ops.multiply(values, math_ops.cast(weights, "float32"))
    value = array_ops.identity(count.value())
    update_op = count.assign_add(math_ops.reduce_sum(values))
    _add_to_collections(metrics_collections, value)
    _add_to_collections(updates_collections, update_op)
    return value, update_op


def _as_bools(labels, predictions, weights):
    return _remove_squeezable_dimensions(
        math_ops.cast(predictions, "bool"), math_ops.cast(labels, "bool"), weights
    )


def _counter(default_name, label_is, prediction_is):
    def counter(
        labels,
        predictions,
        weights=None,
        metrics_collections=None,
        updates_collections=None,
        name=None,
    ):
        with variable_scope(name, default_name):
            predictions, labels, weights = _as_bools(labels, predictions, weights)
            condition = math_ops.logical_and(
                math_ops.equal(labels, label_is), math_ops.equal(predictions, prediction_is)
            )
            return _count_condition(condition, weights, metrics_collections, updates_collections)

    counter.__name__ = default_name
    counter.__doc__ = (
        f"`tf.metrics.{default_name}`: the (weighted) count of labels == {label_is} where "
        f"predictions == {prediction_is}."
    )
    return counter


true_positives = _counter("true_positives", True, True)
false_positives = _counter("false_positives", False, True)
false_negatives = _counter("false_negatives", True, False)
true_negatives = _counter("true_negatives", False, False)


def _ratio(default_name, other_count):
    def ratio(
        labels,
        predictions,
        weights=None,
        metrics_collections=None,
        updates_collections=None,
        name=None,
    ):
        with variable_scope(name, default_name):
            predictions, labels, weights = _as_bools(labels, predictions, weights)
            true_p, true_p_update = true_positives(labels, predictions, weights)
            other, other_update = other_count(labels, predictions, weights)

            def compute(tp, other, op_name):
                return math_ops.where(
                    math_ops.greater(tp + other, 0.0),
                    math_ops.divide(tp, tp + other),
                    array_ops.zeros_like(tp),
                    name=op_name,
                )

            value = compute(true_p, other, "value")
            update_op = compute(true_p_update, other_update, "update_op")
        _add_to_collections(metrics_collections, value)
        _add_to_collections(updates_collections, update_op)
        return value, update_op

    ratio.__name__ = default_name
    return ratio


precision = _ratio("precision", false_positives)
precision.__doc__ = "`tf.metrics.precision`: true positives / (true + false positives)."
recall = _ratio("recall", false_negatives)
recall.__doc__ = "`tf.metrics.recall`: true positives / (true positives + false negatives)."

__all__ = [
    "accuracy",
    "false_negatives",
    "false_positives",
    "mean",
    "mean_absolute_error",
    "mean_squared_error",
    "metric_variable",
    "precision",
    "recall",
    "true_negatives",
    "true_positives",
]
