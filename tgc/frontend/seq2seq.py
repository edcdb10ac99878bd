"""`tf.contrib.seq2seq`: sequence_loss, the weighted per-step cross entropy of sequence models,
and the attention of tgc/frontend/attention.py (BahdanauAttention, LuongAttention,
AttentionWrapper).

``sequence_loss`` is TF 1.15's (tensorflow/contrib/seq2seq/python/ops/loss.py) composed from tgc
ops, so its gradient is the composition's: sparse softmax cross entropy of the flattened
[batch * steps, classes] logits, times the weights, then summed and divided by the weights' sum
(``div_no_nan``) over the averaged axes, or by the count of nonzero weights over the summed ones.

The decoding library (BasicDecoder, the helpers, dynamic_decode, BeamSearchDecoder, the monotonic
attentions) is not provided: its names are refused with that reason.
"""

from __future__ import annotations

import types

from tgc.frontend import array_ops, math_ops, nn
from tgc.frontend.attention import (
    AttentionWrapper,
    AttentionWrapperState,
    BahdanauAttention,
    LuongAttention,
)
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.unsupported import REASONS, install_unsupported_names
from tgc.graph.graph import get_default_graph


def _check_rank(tensor, rank, message):
    ndims = tensor.shape.ndims
    if ndims != rank:
        got = "unknown rank" if ndims is None else f"shape {tensor.shape}"
        raise ValueError(f"sequence_loss: {message} tensor; '{tensor.name}' has {got}")


def _check_flags(avg_time, avg_batch, sum_time, sum_batch):
    if avg_time and sum_time:
        raise ValueError(
            "average_across_timesteps and sum_over_timesteps cannot be set to True at same time."
        )
    if avg_batch and sum_batch:
        raise ValueError(
            "average_across_batch and sum_over_batch cannot be set to True at same time."
        )


def _dim(tensor, axis):
    """The static size of ``axis`` when known (keeps shapes static), else the run-time one."""
    static = tensor.shape[axis].value
    return static if static is not None else array_ops.shape(tensor)[axis]


def _per_nonzero_weight(total, weights, axis=None):
    count = math_ops.count_nonzero(weights, axis=axis)
    return math_ops.div_no_nan(total, math_ops.cast(count, total.dtype))


def sequence_loss(
    logits,
    targets,
    weights,
    average_across_timesteps=True,
    average_across_batch=True,
    sum_over_timesteps=False,
    sum_over_batch=False,
    softmax_loss_function=None,
    name=None,
):
    """Weighted cross entropy of [batch, steps, classes] logits and [batch, steps] int targets.

    Both averages (the default): a scalar, sum(weights * xent) / sum(weights). One average: per
    step ([steps], across the batch) or per sequence ([batch], across the steps). Neither:
    [batch, steps]. ``sum_over_*`` divide by the count of nonzero weights instead;
    ``softmax_loss_function(labels=..., logits=...)`` replaces the sparse softmax cross entropy.
    """
    logits = convert_to_tensor(logits)
    targets = convert_to_tensor(targets)
    weights = convert_to_tensor(weights)
    _check_rank(logits, 3, "logits must be a [batch_size x sequence_length x logits]")
    _check_rank(targets, 2, "targets must be a [batch_size x sequence_length]")
    _check_rank(weights, 2, "weights must be a [batch_size x sequence_length]")
    _check_flags(average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch)
    with get_default_graph().name_scope(name or "sequence_loss"):
        logits_flat = array_ops.reshape(logits, [-1, _dim(logits, 2)])
        targets_flat = array_ops.reshape(targets, [-1])
        if softmax_loss_function is None:
            crossent = nn.sparse_softmax_cross_entropy_with_logits(
                labels=targets_flat, logits=logits_flat
            )
        else:
            crossent = softmax_loss_function(labels=targets_flat, logits=logits_flat)
        crossent = math_ops.multiply(crossent, array_ops.reshape(weights, [-1]))
        if average_across_timesteps and average_across_batch:
            return math_ops.div_no_nan(math_ops.reduce_sum(crossent), math_ops.reduce_sum(weights))
        if sum_over_timesteps and sum_over_batch:
            return _per_nonzero_weight(math_ops.reduce_sum(crossent), weights)
        crossent = array_ops.reshape(crossent, [_dim(logits, 0), _dim(logits, 1)])
        if average_across_timesteps or average_across_batch:
            axis = [0] if average_across_batch else [1]
            return math_ops.div_no_nan(
                math_ops.reduce_sum(crossent, axis=axis), math_ops.reduce_sum(weights, axis=axis)
            )
        if sum_over_timesteps or sum_over_batch:
            axis = [0] if sum_over_batch else [1]
            return _per_nonzero_weight(math_ops.reduce_sum(crossent, axis=axis), weights, axis)
        return crossent


_DECODING_REASON = (
    "tgc provides tf.contrib.seq2seq's sequence_loss, BahdanauAttention, LuongAttention and "
    "AttentionWrapper only: the decoding library (decoders, helpers, dynamic_decode, beam search, "
    "monotonic attention) is not provided; run the decoder cell with tf.nn.dynamic_rnn or "
    "tf.while_loop"
)
for _name in (
    "BahdanauMonotonicAttention",
    "LuongMonotonicAttention",
    "BasicDecoder",
    "BasicDecoderOutput",
    "BeamSearchDecoder",
    "Decoder",
    "dynamic_decode",
    "Helper",
    "TrainingHelper",
    "GreedyEmbeddingHelper",
    "SampleEmbeddingHelper",
    "ScheduledEmbeddingTrainingHelper",
    "ScheduledOutputTrainingHelper",
    "InferenceHelper",
    "CustomHelper",
    "tile_batch",
    "gather_tree",
    "hardmax",
    "monotonic_attention",
    "safe_cumprod",
    "FinalBeamSearchDecoderOutput",
    "BeamSearchDecoderOutput",
    "BeamSearchDecoderState",
):
    REASONS[f"tf.contrib.seq2seq.{_name}"] = _DECODING_REASON

module = types.ModuleType(
    "tgc.contrib.seq2seq", "TF1's tf.contrib.seq2seq: sequence_loss (the decoders are refused)."
)
module.sequence_loss = sequence_loss
for _value in (AttentionWrapper, AttentionWrapperState, BahdanauAttention, LuongAttention):
    setattr(module, _value.__name__, _value)
install_unsupported_names(module, "tf.contrib.seq2seq")
