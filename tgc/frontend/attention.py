"""`tf.contrib.seq2seq`'s attention: BahdanauAttention, LuongAttention and AttentionWrapper.

TF 1.15's formulas (tensorflow/contrib/seq2seq/python/ops/attention_wrapper.py), composed from
tgc ops so gradients and every target work:

- the memory (masked to zeros past ``memory_sequence_length``) is the mechanism's values; its keys
  are ``memory_layer(values)`` (a bias-free Dense of num_units);
- Bahdanau: ``score = sum(v * tanh(keys + query_layer(query)), -1)`` (``normalize``: weight
  normalization of v with attention_g and attention_b); Luong: ``score = keys . query``
  (``scale``: times attention_g);
- alignments = softmax of the scores (positions past the memory's length get -inf first);
- AttentionWrapper runs ``cell(concat(inputs, previous attention), cell_state)``, attends with
  the cell's output, and its attention is ``attention_layer(concat(cell_output, context))``
  (bias-free, ``attention_layer_size``) or the context itself; it outputs the attention
  (``output_attention=True``) or the cell's output.

``alignment_history=True`` is refused: it keeps a TensorArray of unknown size in the cell's
state, which tgc's dynamic_rnn cannot carry. So are several mechanisms at once.
"""

from __future__ import annotations

import collections
import math
import numbers

from tgc.frontend import array_ops, math_ops, nn
from tgc.frontend import layers as core_layers
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.initializers import constant_initializer, ones_initializer, zeros_initializer
from tgc.frontend.rnn_cell import RNNCell
from tgc.frontend.variables import get_variable, variable_scope
from tgc.graph.graph import TensorShape, get_default_graph


def _static(x, axis):
    value = x.shape[axis].value
    return value if value is not None else array_ops.shape(x)[axis]


class _BaseAttentionMechanism:
    """The memory as values (masked by its lengths) and keys (memory_layer of the values)."""

    def __init__(self, memory, memory_sequence_length, memory_layer, query_layer, name):
        self.query_layer, self.memory_layer = query_layer, memory_layer
        with get_default_graph().name_scope(f"{name}Init"):
            memory = convert_to_tensor(memory)
            if memory.shape.ndims != 3 or memory.shape[2].value is None:
                raise ValueError(
                    f"{name}: memory must be [batch, max_time, depth] with a known depth; "
                    f"'{memory.name}' has shape {memory.shape}"
                )
            self._mask = None
            if memory_sequence_length is not None:
                lengths = convert_to_tensor(memory_sequence_length)
                self._mask = array_ops.sequence_mask(lengths, maxlen=_static(memory, 1))
                memory = math_ops.multiply(
                    memory, array_ops.expand_dims(math_ops.cast(self._mask, memory.dtype), 2)
                )
            self.values = memory
            self.keys = memory_layer(memory) if memory_layer is not None else memory
        self.batch_size = _static(self.keys, 0)
        self.alignments_size = _static(self.keys, 1)
        self.dtype = memory.dtype

    @property
    def state_size(self):
        return self.alignments_size

    def initial_alignments(self, batch_size, dtype):
        return array_ops.zeros(
            array_ops.stack([batch_size, self.alignments_size])
            if not _both_ints(batch_size, self.alignments_size)
            else [batch_size, self.alignments_size],
            dtype=dtype,
        )

    def initial_state(self, batch_size, dtype):
        return self.initial_alignments(batch_size, dtype)

    def _alignments(self, score):
        """softmax(score), with the positions past each memory's length at -inf first."""
        if self._mask is not None:
            score = math_ops.where(
                self._mask, score, array_ops.fill(array_ops.shape(score), -math.inf)
            )
        return self._probability_fn(score)


def _both_ints(*values):
    return all(isinstance(v, numbers.Integral) for v in values)


def _dense(units, name, dtype):
    return core_layers.Dense(units, use_bias=False, name=name, dtype=dtype)


def _probability_fn(probability_fn):
    return nn.softmax if probability_fn is None else probability_fn


def _refuse_score_mask_value(score_mask_value, name):
    if score_mask_value is not None:
        raise ValueError(f"{name}: score_mask_value is not supported by tgc (it masks with -inf)")


class BahdanauAttention(_BaseAttentionMechanism):
    """Additive attention: score = sum(v * tanh(keys + query_layer(query)), -1)."""

    def __init__(
        self,
        num_units,
        memory,
        memory_sequence_length=None,
        normalize=False,
        probability_fn=None,
        score_mask_value=None,
        dtype=None,
        custom_key_value_fn=None,
        name="BahdanauAttention",
    ):
        _refuse_score_mask_value(score_mask_value, name)
        if custom_key_value_fn is not None:
            raise ValueError(f"{name}: custom_key_value_fn is not supported by tgc")
        dtype = dtype or convert_to_tensor(memory).dtype
        self._probability_fn = _probability_fn(probability_fn)
        self.num_units, self.normalize = int(num_units), bool(normalize)
        super().__init__(
            memory,
            memory_sequence_length,
            memory_layer=_dense(num_units, "memory_layer", dtype),
            query_layer=_dense(num_units, "query_layer", dtype),
            name=name,
        )

    def __call__(self, query, state):
        with variable_scope(None, default_name="bahdanau_attention"):
            processed = array_ops.expand_dims(self.query_layer(query), 1)
            v = get_variable("attention_v", [self.num_units], dtype=self.dtype)
            if self.normalize:
                g = get_variable(
                    "attention_g",
                    [],
                    dtype=self.dtype,
                    initializer=constant_initializer(math.sqrt(1.0 / self.num_units)),
                )
                b = get_variable(
                    "attention_b",
                    [self.num_units],
                    dtype=self.dtype,
                    initializer=zeros_initializer(),
                )
                v = math_ops.multiply(
                    math_ops.multiply(g, v), math_ops.rsqrt(math_ops.reduce_sum(math_ops.square(v)))
                )
                processed = math_ops.add(processed, b)
            score = math_ops.reduce_sum(
                math_ops.multiply(v, math_ops.tanh(math_ops.add(self.keys, processed))), axis=2
            )
            alignments = self._alignments(score)
        return alignments, alignments


class LuongAttention(_BaseAttentionMechanism):
    """Multiplicative attention: score = keys . query (times attention_g with ``scale``)."""

    def __init__(
        self,
        num_units,
        memory,
        memory_sequence_length=None,
        scale=False,
        probability_fn=None,
        score_mask_value=None,
        dtype=None,
        custom_key_value_fn=None,
        name="LuongAttention",
    ):
        _refuse_score_mask_value(score_mask_value, name)
        if custom_key_value_fn is not None:
            raise ValueError(f"{name}: custom_key_value_fn is not supported by tgc")
        dtype = dtype or convert_to_tensor(memory).dtype
        self._probability_fn = _probability_fn(probability_fn)
        self.num_units, self.scale = int(num_units), bool(scale)
        super().__init__(
            memory,
            memory_sequence_length,
            memory_layer=_dense(num_units, "memory_layer", dtype),
            query_layer=None,
            name=name,
        )

    def __call__(self, query, state):
        query = convert_to_tensor(query)
        depth, key_depth = query.shape[-1].value, self.keys.shape[-1].value
        if depth != key_depth:
            raise ValueError(
                "Incompatible or unknown inner dimensions between query and keys. Query "
                f"({query.name}) has units: {depth}. Keys have units: {key_depth}. Perhaps you "
                f"need to set num_units to the keys' dimension ({depth})?"
            )
        with variable_scope(None, default_name="luong_attention"):
            score = math_ops.reduce_sum(
                math_ops.multiply(array_ops.expand_dims(query, 1), self.keys), axis=2
            )
            if self.scale:
                g = get_variable(
                    "attention_g", [], dtype=self.dtype, initializer=ones_initializer()
                )
                score = math_ops.multiply(g, score)
            alignments = self._alignments(score)
        return alignments, alignments


class AttentionWrapperState(
    collections.namedtuple(
        "AttentionWrapperState",
        ("cell_state", "attention", "time", "alignments", "alignment_history", "attention_state"),
    )
):
    """The state of an AttentionWrapper (alignment_history is always () in tgc)."""

    def clone(self, **kwargs):
        return self._replace(**kwargs)


class AttentionWrapper(RNNCell):
    """A cell that feeds ``cell`` its inputs joined with the previous attention and attends over
    a mechanism's memory with the cell's output."""

    def __init__(
        self,
        cell,
        attention_mechanism,
        attention_layer_size=None,
        alignment_history=False,
        cell_input_fn=None,
        output_attention=True,
        initial_cell_state=None,
        name=None,
        attention_layer=None,
        attention_fn=None,
    ):
        super().__init__(name=name)
        _refuse_wrapper_options(
            attention_mechanism, alignment_history, attention_layer, attention_fn
        )
        self._cell, self._mechanism = cell, attention_mechanism
        self._cell_input_fn = cell_input_fn or (
            lambda inputs, attention: array_ops.concat([inputs, attention], -1)
        )
        self._output_attention = output_attention
        self._initial_cell_state = initial_cell_state
        if attention_layer_size is not None:
            size = attention_layer_size
            if isinstance(size, (list, tuple)):
                if len(size) != 1:
                    raise ValueError("AttentionWrapper: one attention_layer_size per mechanism")
                size = size[0]
            self._attention_layer = _dense(int(size), "attention_layer", attention_mechanism.dtype)
            self._attention_size = int(size)
        else:
            self._attention_layer = None
            self._attention_size = attention_mechanism.values.shape[-1].value

    @property
    def output_size(self):
        return self._attention_size if self._output_attention else self._cell.output_size

    @property
    def state_size(self):
        return AttentionWrapperState(
            cell_state=self._cell.state_size,
            time=TensorShape([]),
            attention=self._attention_size,
            alignments=self._mechanism.alignments_size,
            attention_state=self._mechanism.state_size,
            alignment_history=(),
        )

    def zero_state(self, batch_size, dtype):
        with get_default_graph().name_scope("AttentionWrapperZeroState"):
            cell_state = self._initial_cell_state
            if cell_state is None:
                cell_state = self._cell.zero_state(batch_size, dtype)
            rows = (
                [batch_size, self._attention_size]
                if isinstance(batch_size, numbers.Integral)
                else array_ops.stack([batch_size, self._attention_size])
            )
            return AttentionWrapperState(
                cell_state=cell_state,
                time=array_ops.zeros([], dtype="int32"),
                attention=array_ops.zeros(rows, dtype=dtype),
                alignments=self._mechanism.initial_alignments(batch_size, dtype),
                attention_state=self._mechanism.initial_state(batch_size, dtype),
                alignment_history=(),
            )

    def call(self, inputs, state):
        if not isinstance(state, AttentionWrapperState):
            raise TypeError(
                "Expected state to be instance of AttentionWrapperState. Received type "
                f"{type(state).__name__} instead."
            )
        cell_inputs = self._cell_input_fn(inputs, state.attention)
        cell_output, next_cell_state = self._cell(cell_inputs, state.cell_state)
        alignments, next_attention_state = self._mechanism(cell_output, state=state.attention_state)
        context = math_ops.reduce_sum(
            math_ops.multiply(array_ops.expand_dims(alignments, 2), self._mechanism.values),
            axis=1,
        )
        attention = context
        if self._attention_layer is not None:
            attention = self._attention_layer(array_ops.concat([cell_output, context], 1))
        next_state = AttentionWrapperState(
            time=math_ops.add(state.time, 1),
            cell_state=next_cell_state,
            attention=attention,
            attention_state=next_attention_state,
            alignments=alignments,
            alignment_history=(),
        )
        return (attention if self._output_attention else cell_output), next_state


def _refuse_wrapper_options(mechanism, alignment_history, attention_layer, attention_fn):
    if isinstance(mechanism, (list, tuple)):
        raise ValueError("AttentionWrapper: tgc supports one attention mechanism, not a list")
    if alignment_history:
        raise ValueError(
            "AttentionWrapper: alignment_history is not supported by tgc (it keeps a TensorArray "
            "of unknown size in the cell's state, which tgc's dynamic_rnn cannot carry)"
        )
    for option, value in (("attention_layer", attention_layer), ("attention_fn", attention_fn)):
        if value is not None:
            raise ValueError(f"AttentionWrapper: {option} is not supported by tgc")
