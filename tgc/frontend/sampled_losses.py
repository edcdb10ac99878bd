"""TF1's sampled losses: `tf.nn.nce_loss` and `tf.nn.sampled_softmax_loss`.

Both follow TF's ``_compute_sampled_logits`` (tensorflow/python/ops/nn_impl.py): the logits of each
example's true classes and of the ``num_sampled`` sampled classes (drawn by the log-uniform sampler,
unique, unless ``sampled_values`` is given), each less the log of its expected count, then
sigmoid cross-entropy summed over the classes (NCE) or softmax cross-entropy with the true classes
sharing the label mass 1 / num_true (sampled softmax). Everything here is built from tgc's compiled
ops, so it runs, and differentiates, wherever they do; only the draw is a host op
(tgc/frontend/candidate_sampling.py).

``weights`` may be one ``[num_classes, dim]`` tensor or Variable, or a list of shards of it, split
by rows as TF's ``partition_strategy`` says ('mod': class c in shard c % n; 'div': contiguous
blocks, the first num_classes % n shards one row longer).

Accidental hits (a sampled class that is also one of the example's true classes) are removed as TF
does, without its dynamic-size ``compute_accidental_hits``: the logit of each such (example, sample)
pair gets -FLOAT_MAX added; when a class was sampled more than once only its last sample is hit, as
TF's position map keeps the last.
"""

from __future__ import annotations

import numpy as np

from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import convert_to_tensor, make_op
from tgc.frontend.candidate_sampling import FLOAT32_MAX, log_uniform_candidate_sampler
from tgc.frontend.gather_ops import gather
from tgc.graph.graph import get_default_graph

__all__ = ["nce_loss", "sampled_softmax_loss"]


# ---- sharded rows --------------------------------------------------------------------------------


def _shard_sizes(total: int, count: int, strategy: str) -> list:
    """Rows per shard under TF's partition strategy."""
    if strategy == "mod":
        return [(total - p + count - 1) // count for p in range(count)]
    per, extras = divmod(total, count)
    return [per + (1 if p < extras else 0) for p in range(count)]


def _row_in_concatenation(total: int, count: int, strategy: str) -> np.ndarray:
    """For each class id, its row in the shards concatenated in order."""
    ids = np.arange(total, dtype=np.int64)
    sizes = _shard_sizes(total, count, strategy)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    if strategy == "mod":
        return offsets[ids % count] + ids // count
    return ids  # 'div' keeps the classes in order: shard p holds a contiguous block


def sharded_rows(params, ids, partition_strategy="mod"):
    """``embedding_lookup(params, ids, partition_strategy)`` for one tensor or a list of shards:
    the shards are concatenated and the ids mapped to their rows there."""
    shards = list(params) if isinstance(params, (list, tuple)) else [params]
    if not shards:
        raise ValueError("the weights are an empty list of shards")
    if partition_strategy not in ("mod", "div"):
        raise ValueError(
            f"partition_strategy must be 'mod' or 'div' but got {partition_strategy!r}"
        )
    shards = [convert_to_tensor(s) for s in shards]
    if len(shards) == 1:
        return gather(shards[0], ids)
    sizes = []
    for s in shards:
        shape = s.spec.shape
        if shape is None or not shape or shape[0] is None:
            raise ValueError(
                f"sharded weights need a known row count per shard but '{s.name}' has shape "
                f"{s.shape}"
            )
        sizes.append(int(shape[0]))
    total = sum(sizes)
    expected = _shard_sizes(total, len(shards), partition_strategy)
    if sizes != expected:
        raise ValueError(
            f"weights sharded {sizes} rows do not follow partition_strategy="
            f"'{partition_strategy}' for {total} classes in {len(shards)} shards, which gives "
            f"{expected}"
        )
    table = array_ops.concat(shards, 0)
    rows = _row_in_concatenation(total, len(shards), partition_strategy)
    return gather(table, gather(rows, ids))


# ---- logits --------------------------------------------------------------------------------------


def _hit_mask(labels, sampled, num_sampled: int):
    """[batch, num_sampled] bool: sample j equals one of row i's true classes and no later sample
    has its class."""
    hit = math_ops.reduce_any(
        math_ops.equal(
            array_ops.expand_dims(labels, 2), array_ops.reshape(sampled, [1, 1, num_sampled])
        ),
        axis=1,
    )
    later = np.triu(np.ones((num_sampled, num_sampled), bool), k=1)  # [j, k]: k after j
    repeated_later = math_ops.reduce_any(
        math_ops.logical_and(
            math_ops.equal(array_ops.expand_dims(sampled, 1), array_ops.expand_dims(sampled, 0)),
            later,
        ),
        axis=1,
    )
    return math_ops.logical_and(hit, array_ops.expand_dims(math_ops.logical_not(repeated_later), 0))


def compute_sampled_logits(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    subtract_log_q=True,
    remove_accidental_hits=False,
    partition_strategy="mod",
    name=None,
    seed=None,
):
    """(logits [batch, num_true + num_sampled], labels of the same shape), as TF's
    ``_compute_sampled_logits``."""
    num_sampled, num_true = int(num_sampled), int(num_true)
    inputs = convert_to_tensor(inputs)
    labels = convert_to_tensor(labels)
    if labels.dtype.name != "int64":
        labels = math_ops.cast(labels, "int64")
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(
            labels, num_true, num_sampled, True, num_classes, seed=seed
        )
    sampled, true_expected, sampled_expected = (
        math_ops.stop_gradient(convert_to_tensor(v)) for v in sampled_values
    )
    if sampled.dtype.name != "int64":
        sampled = math_ops.cast(sampled, "int64")
    labels_flat = array_ops.reshape(labels, [-1])

    true_w = _as_dtype(sharded_rows(weights, labels_flat, partition_strategy), inputs.dtype)
    sampled_w = _as_dtype(sharded_rows(weights, sampled, partition_strategy), inputs.dtype)
    true_b = _as_dtype(sharded_rows(biases, labels_flat, partition_strategy), inputs.dtype)
    sampled_b = _as_dtype(sharded_rows(biases, sampled, partition_strategy), inputs.dtype)

    dim = true_w.spec.shape[1] if true_w.spec.shape is not None else None
    per_true = array_ops.reshape(true_w, [-1, num_true, -1 if dim is None else dim])
    true_logits = math_ops.reduce_sum(
        math_ops.multiply(array_ops.expand_dims(inputs, 1), per_true), axis=2
    )
    true_logits = math_ops.add(true_logits, array_ops.reshape(true_b, [-1, num_true]))
    sampled_logits = math_ops.add(math_ops.matmul(inputs, sampled_w, transpose_b=True), sampled_b)
    if remove_accidental_hits:
        hits = _hit_mask(labels, sampled, num_sampled)
        penalty = math_ops.where(
            hits,
            math_ops.multiply(array_ops.ones_like(sampled_logits), -FLOAT32_MAX),
            array_ops.zeros_like(sampled_logits),
        )
        sampled_logits = math_ops.add(sampled_logits, penalty)
    if subtract_log_q:
        true_logits = math_ops.subtract(true_logits, math_ops.log(true_expected))
        sampled_logits = math_ops.subtract(sampled_logits, math_ops.log(sampled_expected))
    out_logits = array_ops.concat([true_logits, sampled_logits], 1)
    out_labels = array_ops.concat(
        [
            math_ops.divide(array_ops.ones_like(true_logits), float(num_true)),
            array_ops.zeros_like(sampled_logits),
        ],
        1,
    )
    return out_logits, out_labels


def _as_dtype(x, dtype):
    return x if x.dtype == dtype else math_ops.cast(x, dtype)


# ---- the losses ----------------------------------------------------------------------------------


def nce_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=False,
    partition_strategy="mod",
    name="nce_loss",
):
    """Noise-contrastive estimation loss per example, [batch_size] (`tf.nn.nce_loss`)."""
    with get_default_graph().name_scope(name or "nce_loss"):
        logits, labels = compute_sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            num_sampled,
            num_classes,
            num_true=num_true,
            sampled_values=sampled_values,
            subtract_log_q=True,
            remove_accidental_hits=remove_accidental_hits,
            partition_strategy=partition_strategy,
        )
        # the registry's loss ops directly: tgc.frontend.nn exports this module (no import cycle)
        losses = make_op(
            "sigmoid_cross_entropy_with_logits", [labels, logits], name="sampled_losses"
        )
        return math_ops.reduce_sum(losses, axis=1)


def sampled_softmax_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=True,
    partition_strategy="mod",
    name="sampled_softmax_loss",
    seed=None,
):
    """Softmax cross-entropy over the true and the sampled classes, [batch_size]
    (`tf.nn.sampled_softmax_loss`)."""
    with get_default_graph().name_scope(name or "sampled_softmax_loss"):
        logits, labels = compute_sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            num_sampled,
            num_classes,
            num_true=num_true,
            sampled_values=sampled_values,
            subtract_log_q=True,
            remove_accidental_hits=remove_accidental_hits,
            partition_strategy=partition_strategy,
            seed=seed,
        )
        labels = math_ops.stop_gradient(labels, name="labels_stop_gradient")
        return make_op(
            "softmax_cross_entropy_with_logits",
            [labels, logits],
            name="softmax_cross_entropy_with_logits",
            axis=-1,
        )
