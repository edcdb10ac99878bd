"""A small word-level LSTM language model the TF1 way: embedding, BasicLSTMCell, dynamic_rnn with
sequence_length, a softmax over the vocabulary, Adam.

The corpus is a few built-in sentences (no download). Each sentence is a sequence of word ids
padded to the longest; the model reads words 0..n-2 and predicts words 1..n-1, and the loss
averages the cross-entropy over the real (unpadded) steps only. dynamic_rnn runs the cell in one
compiled loop; its outputs past a sentence's length are zeros, and the mask keeps them out of the
loss. After training, the model continues a prompt greedily, feeding its LSTM state back in one word
at a time across Session.run calls.

Run: python examples/lstm_language_model.py
"""

import numpy as np

import tgc as tf

CORPUS = """
the cat sat on the mat .
the dog sat on the log .
the cat saw the dog .
the dog saw the cat on the mat .
a bird sat on the dog .
the bird saw a cat on the log .
a dog and a cat sat on the mat .
the cat ran to the log .
""".strip().splitlines()
BATCH = 8


def make_data():
    """(vocabulary, [sentences, max_len] word ids padded with 0, lengths); id 0 is the padding
    '<pad>'."""
    sentences = [line.split() for line in CORPUS]
    vocab = ["<pad>"] + sorted({w for s in sentences for w in s})
    index = {w: i for i, w in enumerate(vocab)}
    max_len = max(len(s) for s in sentences)
    ids = np.zeros((len(sentences), max_len), np.int32)
    for row, s in enumerate(sentences):
        ids[row, : len(s)] = [index[w] for w in s]
    lengths = np.array([len(s) for s in sentences], np.int32)
    return vocab, ids, lengths


def build_model(vocab_size, steps, hidden=16, embedding=8, learning_rate=0.05):
    """The graph: returns its placeholders and tensors in a dict."""
    words = tf.placeholder(tf.int32, [BATCH, steps], name="words")
    targets = tf.placeholder(tf.int32, [BATCH, steps], name="targets")
    lengths = tf.placeholder(tf.int32, [BATCH], name="lengths")
    tf.set_random_seed(1)
    with tf.variable_scope("lm"):
        table = tf.get_variable("embedding", [vocab_size, embedding])
        inputs = tf.nn.embedding_lookup(table, words)  # [batch, steps, embedding]
        cell = tf.nn.rnn_cell.BasicLSTMCell(hidden)
        outputs, state = tf.nn.dynamic_rnn(cell, inputs, sequence_length=lengths, dtype=tf.float32)
        w = tf.get_variable("softmax_w", [hidden, vocab_size])
        b = tf.get_variable("softmax_b", [vocab_size], initializer=tf.zeros_initializer())
        logits = tf.matmul(tf.reshape(outputs, [-1, hidden]), w) + b
    # 1 on a sentence's real steps, 0 on its padding
    positions = tf.constant(np.arange(steps, dtype=np.int32)[None, :])
    mask = tf.cast(tf.less(positions, tf.expand_dims(lengths, 1)), tf.float32)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.reshape(targets, [-1]), logits=logits
    )
    loss = tf.reduce_sum(losses * tf.reshape(mask, [-1])) / tf.reduce_sum(mask)
    train = tf.train.AdamOptimizer(learning_rate).minimize(loss)
    return dict(
        words=words, targets=targets, lengths=lengths, loss=loss, train=train, cell=cell,
        table=table, w=w, b=b,
    )  # fmt: skip


def build_generator(model):
    """One step of the trained LSTM on one word, its state fed in and fetched: the variables are
    the training graph's (reuse)."""
    word = tf.placeholder(tf.int32, [1, 1], name="word")
    cell = model["cell"]
    c = tf.placeholder(tf.float32, [1, cell.state_size.c], name="c")
    h = tf.placeholder(tf.float32, [1, cell.state_size.h], name="h")
    with tf.variable_scope("lm", reuse=True):
        inputs = tf.nn.embedding_lookup(model["table"], word)
        outputs, state = tf.nn.dynamic_rnn(
            cell, inputs, initial_state=tf.nn.rnn_cell.LSTMStateTuple(c, h)
        )
        logits = tf.matmul(tf.reshape(outputs, [1, -1]), model["w"]) + model["b"]
    return dict(word=word, c=c, h=h, state=state, next_word=tf.argmax(logits, 1))


def continue_prompt(sess, generator, vocab, prompt, words=5):
    """Greedy continuation of ``prompt``: the LSTM state goes from one Session.run to the next."""
    index = {w: i for i, w in enumerate(vocab)}
    size = generator["c"].shape[1].value
    c = np.zeros((1, size), np.float32)
    h = np.zeros((1, size), np.float32)
    text = prompt.split()
    feed_words = [index[w] for w in text]
    for _ in range(words):
        for w in feed_words:
            (c, h), nxt = sess.run(
                [generator["state"], generator["next_word"]],
                {generator["word"]: [[w]], generator["c"]: c, generator["h"]: h},
            )
        text.append(vocab[int(nxt[0])])
        feed_words = [int(nxt[0])]
    return " ".join(text)


def main(steps=150, print_every=25, prompt="the dog"):
    """Trains for ``steps`` full-batch steps; returns the losses and a continuation of
    ``prompt``."""
    tf.reset_default_graph()
    vocab, ids, lengths = make_data()
    inputs, targets, input_lengths = ids[:, :-1], ids[:, 1:], lengths - 1
    model = build_model(len(vocab), inputs.shape[1])
    generator = build_generator(model)
    feed = {model["words"]: inputs, model["targets"]: targets, model["lengths"]: input_lengths}
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(steps):
            loss, _ = sess.run([model["loss"], model["train"]], feed)
            losses.append(float(loss))
            if print_every and step % print_every == 0:
                print(f"step {step:4d}  loss {loss:.4f}")
        text = continue_prompt(sess, generator, vocab, prompt)
    print(f"final loss {losses[-1]:.4f} (uniform guess: {np.log(len(vocab)):.4f})")
    print(f"'{prompt}' ... -> {text}")
    return losses, text


if __name__ == "__main__":
    main()
