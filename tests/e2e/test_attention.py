"""tf.contrib.seq2seq's BahdanauAttention, LuongAttention and AttentionWrapper
(tgc/frontend/attention.py) under tf.nn.dynamic_rnn, against TF 1.15's formulas
(tensorflow/contrib/seq2seq/python/ops/attention_wrapper.py) written out in numpy with the
variables' values; TF 2.21 has no tf.contrib and tensorflow_addons (its successor) does not
install with it, so no TF run records these. Gradients against central differences of that
numpy reference.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf

B, T, D, S = 2, 5, 3, 4  # batch, decoder steps, input depth, memory steps
MEMORY = np.random.RandomState(0).randn(B, S, 4)
INPUTS = np.random.RandomState(1).randn(B, T, D)
WEIGHTS = np.random.RandomState(2).randn(B, T, 7)


def softmax(score):
    e = np.exp(score - score.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference(v, memory, lengths, kind, output_attention, attention_layer):
    """TF 1.15's AttentionWrapper around a BasicRNNCell, in numpy (float64)."""
    lengths = [S] * B if lengths is None else lengths
    mask = np.arange(S)[None, :] < np.asarray(lengths)[:, None]
    values = memory * mask[..., None]
    keys = values @ v["memory_layer/kernel"]
    h = np.zeros((B, v["cell/bias"].shape[0]))
    attention = np.zeros((B, v["attention_layer/kernel"].shape[1] if attention_layer else 4))
    outputs, alignments = [], None
    for t in range(T):
        joined = np.concatenate([INPUTS[:, t], attention, h], 1)
        h = np.tanh(joined @ v["cell/kernel"] + v["cell/bias"])
        if kind.startswith("bahdanau"):
            query = (h @ v["query_layer/kernel"])[:, None, :]
            weight = v["attention_v"]
            if kind == "bahdanau_normalized":
                weight = v["attention_g"] * weight / np.sqrt((weight**2).sum())
                query = query + v["attention_b"]
            score = (weight * np.tanh(keys + query)).sum(-1)
        else:
            score = v.get("attention_g", 1.0) * (keys * h[:, None, :]).sum(-1)
        alignments = softmax(np.where(mask, score, -np.inf))
        context = (alignments[..., None] * values).sum(1)
        attention = (
            np.concatenate([h, context], 1) @ v["attention_layer/kernel"]
            if (attention_layer)
            else context
        )
        outputs.append(attention if output_attention else h)
    return np.stack(outputs, 1), alignments


def build(kind, memory, lengths, output_attention, attention_layer):
    if kind.startswith("bahdanau"):
        normalize = kind == "bahdanau_normalized"
        mechanism = tf.contrib.seq2seq.BahdanauAttention(6, memory, lengths, normalize=normalize)
    else:
        mechanism = tf.contrib.seq2seq.LuongAttention(
            7, memory, lengths, scale=kind == "luong_scaled"
        )
    cell = tf.contrib.seq2seq.AttentionWrapper(
        tf.nn.rnn_cell.BasicRNNCell(7),
        mechanism,
        attention_layer_size=5 if attention_layer else None,
        output_attention=output_attention,
    )
    return tf.nn.dynamic_rnn(cell, tf.constant(INPUTS, tf.float32), dtype=tf.float32)


def _short(name):
    """Variable names as the reference reads them."""
    for key in ("memory_layer/kernel", "query_layer/kernel", "attention_layer/kernel"):
        if name.endswith(key):
            return key
    if name.endswith("basic_rnn_cell/kernel"):
        return "cell/kernel"
    if name.endswith("basic_rnn_cell/bias"):
        return "cell/bias"
    return name.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    "kind, output_attention, attention_layer, lengths",
    [
        ("bahdanau", False, True, [4, 2]),
        ("bahdanau", True, False, None),
        ("bahdanau_normalized", True, True, [3, 4]),
        ("luong_scaled", True, True, [4, 2]),
        ("luong", False, False, None),
    ],
)
def test_attention_wrapper_matches_tf_formulas(kind, output_attention, attention_layer, lengths):
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        memory = tf.placeholder(tf.float32, [B, S, 4])
        outputs, state = build(kind, memory, lengths, output_attention, attention_layer)
        weights = tf.constant(WEIGHTS[..., : outputs.shape[-1].value], tf.float32)
        loss = tf.reduce_sum(outputs * weights)
        (grad,) = tf.gradients(loss, [memory])
        names = [_short(v.op.name) for v in tf.global_variables()]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            values = dict(zip(names, s.run(tf.global_variables())))
            feed = {memory: MEMORY}
            got, got_alignments, got_time, got_grad = s.run(
                [outputs, state.alignments, state.time, grad], feed
            )
    values = {k: np.asarray(v, np.float64) for k, v in values.items()}
    want, want_alignments = reference(
        values, MEMORY, lengths, kind, output_attention, attention_layer
    )
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_alignments, want_alignments, rtol=1e-4, atol=1e-6)
    if lengths == [4, 2]:
        assert got_alignments[1, 2:].tolist() == [0.0, 0.0]  # past the memory's length
    assert got_time == T
    width = got.shape[-1]

    def numeric_loss(memory_value):
        out, _ = reference(values, memory_value, lengths, kind, output_attention, attention_layer)
        return (out * WEIGHTS[..., :width]).sum()

    eps = 1e-4
    for index in [(0, 0, 0), (0, 3, 2), (1, 1, 3), (1, 3, 1)]:
        plus, minus = MEMORY.copy(), MEMORY.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric = (numeric_loss(plus) - numeric_loss(minus)) / (2 * eps)
        np.testing.assert_allclose(got_grad[index], numeric, rtol=2e-3, atol=2e-4)


def test_attention_variable_names_are_tf1s():
    with tf.Graph().as_default():
        build("bahdanau", tf.constant(MEMORY, tf.float32), None, True, True)
        assert [v.op.name for v in tf.global_variables()] == [
            "memory_layer/kernel",
            "rnn/attention_wrapper/basic_rnn_cell/kernel",
            "rnn/attention_wrapper/basic_rnn_cell/bias",
            "rnn/attention_wrapper/bahdanau_attention/query_layer/kernel",
            "rnn/attention_wrapper/bahdanau_attention/attention_v",
            "rnn/attention_wrapper/attention_layer/kernel",
        ]


def test_attention_wrapper_trains_a_reversal_as_kyubyongs_exercise():
    """Kyubyong's Seq2Seq exercise (without alignment_history): GRU encoder, Bahdanau attention
    over its outputs, GRU decoder; the loss falls."""
    rng = np.random.RandomState(0)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        x = tf.placeholder(tf.int32, shape=(16, 6))
        y = tf.placeholder(tf.int32, shape=(16, 6))
        enc_inputs = tf.one_hot(x, 10)
        dec_inputs = tf.one_hot(tf.concat((tf.zeros_like(y[:, :1]), y[:, :-1]), -1), 10)
        memory, _ = tf.nn.dynamic_rnn(
            tf.contrib.rnn.GRUCell(32), enc_inputs, dtype=tf.float32, scope="encoder"
        )
        mechanism = tf.contrib.seq2seq.BahdanauAttention(32, memory)
        cell = tf.contrib.seq2seq.AttentionWrapper(
            tf.contrib.rnn.GRUCell(32), mechanism, attention_layer_size=32, output_attention=False
        )
        outputs, state = tf.nn.dynamic_rnn(cell, dec_inputs, dtype=tf.float32)
        logits = tf.layers.dense(outputs, 10)
        loss = tf.contrib.seq2seq.sequence_loss(logits, y, tf.ones([16, 6]))
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            losses = []
            for _ in range(60):
                xs = rng.randint(0, 10, (16, 6))
                losses.append(s.run([train, loss], {x: xs, y: xs[:, ::-1]})[1])
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_attention_refusals_say_why():
    with tf.Graph().as_default():
        memory = tf.constant(MEMORY, tf.float32)
        mechanism = tf.contrib.seq2seq.BahdanauAttention(6, memory)
        with pytest.raises(ValueError, match="alignment_history is not supported by tgc"):
            tf.contrib.seq2seq.AttentionWrapper(
                tf.nn.rnn_cell.BasicRNNCell(7), mechanism, alignment_history=True
            )
        with pytest.raises(ValueError, match="one attention mechanism, not a list"):
            tf.contrib.seq2seq.AttentionWrapper(tf.nn.rnn_cell.BasicRNNCell(7), [mechanism])
        with pytest.raises(ValueError, match="memory must be .batch, max_time, depth"):
            tf.contrib.seq2seq.LuongAttention(4, tf.zeros([2, 3]))
        with tf.variable_scope("luong"):
            luong = tf.contrib.seq2seq.LuongAttention(6, memory)
        with pytest.raises(ValueError, match="Query .* has units: 7. Keys have units: 6"):
            luong(tf.zeros([B, 7]), None)
    with pytest.raises(AttributeError, match="dynamic_decode yet: tgc provides"):
        tf.contrib.seq2seq.dynamic_decode
