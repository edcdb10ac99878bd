"""Skip-gram word2vec the TF1 way (after TensorFlow's word2vec_basic.py): an embedding per word,
trained with tf.nn.nce_loss to tell each word's real context words from words drawn by the
log-uniform candidate sampler.

The corpus is a few built-in sentences (no download). Words are numbered by frequency, most frequent
first, as the log-uniform (Zipfian) sampler expects. Each step feeds a batch of (center word,
context word) pairs taken within ``skip_window`` words of each other; nce_loss draws ``num_sampled``
negative classes per step (a host op that runs before the compiled step) and the optimizer moves the
center words' embeddings and the sampled and true classes' output weights. At the end, the words
nearest some words by cosine similarity of their normalized embeddings are printed.

Run: python examples/word2vec.py
"""

import collections
import math

import numpy as np

import tgc as tf

CORPUS = """
the king rules the kingdom and the queen rules the kingdom
the king and the queen live in the castle
a man walks to the castle and a woman walks to the castle
the man is a king and the woman is a queen
the cat chases the mouse and the dog chases the cat
a dog and a cat play in the garden
the mouse runs from the cat and the cat runs from the dog
the dog eats meat and the cat eats fish
the king eats meat in the castle and the queen eats fish in the castle
a woman and a man play in the garden with the dog
the cat sleeps in the garden and the dog sleeps in the house
the mouse eats cheese in the house
""".split()


def build_vocabulary(words):
    """(ids of the corpus, vocabulary): id 0 is the most frequent word."""
    counts = collections.Counter(words).most_common()
    vocab = [w for w, _ in counts]
    index = {w: i for i, w in enumerate(vocab)}
    return np.array([index[w] for w in words], np.int64), vocab


def skip_gram_pairs(ids, skip_window):
    """Every (center, context) pair with the context within skip_window words of the center."""
    centers, contexts = [], []
    for i, center in enumerate(ids):
        for j in range(max(0, i - skip_window), min(len(ids), i + skip_window + 1)):
            if j != i:
                centers.append(center)
                contexts.append(ids[j])
    return np.array(centers, np.int64), np.array(contexts, np.int64)


def build_model(vocab_size, embedding_size=16, num_sampled=8, learning_rate=1.0):
    """The graph: placeholders, the mean NCE loss, its training op and the normalized
    embeddings."""
    tf.set_random_seed(1)
    train_inputs = tf.placeholder(tf.int64, [None], name="train_inputs")
    train_labels = tf.placeholder(tf.int64, [None, 1], name="train_labels")
    embeddings = tf.Variable(
        tf.random_uniform([vocab_size, embedding_size], -1.0, 1.0), name="embeddings"
    )
    embed = tf.nn.embedding_lookup(embeddings, train_inputs)
    nce_weights = tf.Variable(
        tf.truncated_normal([vocab_size, embedding_size], stddev=1.0 / math.sqrt(embedding_size)),
        name="nce_weights",
    )
    nce_biases = tf.Variable(tf.zeros([vocab_size]), name="nce_biases")
    loss = tf.reduce_mean(
        tf.nn.nce_loss(
            weights=nce_weights,
            biases=nce_biases,
            labels=train_labels,
            inputs=embed,
            num_sampled=num_sampled,
            num_classes=vocab_size,
        )
    )
    train = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)
    norm = tf.sqrt(tf.reduce_sum(tf.square(embeddings), 1, keepdims=True))
    normalized = embeddings / norm
    return dict(
        inputs=train_inputs, labels=train_labels, loss=loss, train=train, normalized=normalized
    )


def nearest(normalized, vocab, word, k=3):
    """The k words whose embeddings are closest to word's by cosine similarity."""
    i = vocab.index(word)
    similarity = normalized @ normalized[i]
    order = [j for j in np.argsort(-similarity) if j != i]
    return [vocab[j] for j in order[:k]]


def main(steps=600, batch_size=64, skip_window=1, seed=0, report_every=100, verbose=True):
    """Trains for ``steps`` batches; returns the loss of every step and the nearest words."""
    ids, vocab = build_vocabulary(CORPUS)
    centers, contexts = skip_gram_pairs(ids, skip_window)
    rng = np.random.RandomState(seed)
    with tf.Graph().as_default():
        model = build_model(len(vocab))
        losses = []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for step in range(steps):
                pick = rng.randint(0, len(centers), batch_size)
                feed = {model["inputs"]: centers[pick], model["labels"]: contexts[pick, None]}
                _, value = sess.run([model["train"], model["loss"]], feed)
                losses.append(float(value))
                if verbose and (step + 1) % report_every == 0:
                    recent = np.mean(losses[-report_every:])
                    print(f"step {step + 1}: average loss {recent:.3f}")
            normalized = sess.run(model["normalized"])
    neighbours = {w: nearest(normalized, vocab, w) for w in ("king", "cat", "eats")}
    if verbose:
        for word, close in neighbours.items():
            print(f"nearest to {word}: {', '.join(close)}")
    return dict(losses=losses, nearest=neighbours, vocab=vocab, normalized=normalized)


if __name__ == "__main__":
    main()
