"""The lectures' TensorBoard program: a small network in name scopes, a loss curve and weight
histograms.

Every step fetches the merged summaries with the training op and hands them to a FileWriter, which
also writes the graph, so TensorBoard shows the loss curve, the histograms of both weight matrices
(all under ``summaries/``) and the graph with ``hidden``, ``scores``, ``loss`` and ``train`` folded
into boxes. The last step is traced, as TF's mnist_with_summaries traces every hundredth: its run
metadata (each op's time and memory) is tagged ``step<N>``, which the graph view's "Session runs"
menu offers for colouring the nodes by compute time.
Run: python examples/tensorboard_demo.py /tmp/tgc_logs && tensorboard --logdir /tmp/tgc_logs
"""

import sys

import numpy as np

import tgc as tf
import tgc.summary  # noqa: F401  (tf.summary)

D, H = 4, 8


def make_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((n, D)).astype(np.float32)
    ys = (np.sin(xs[:, :1]) + 0.5 * xs[:, 1:2] ** 2).astype(np.float32)
    return xs, ys


def build(learning_rate=0.05):
    """The graph: x -> hidden (ReLU) -> scores; mean squared error; Adam. Returns its handles."""
    x = tf.placeholder(tf.float32, [None, D], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    with tf.name_scope("hidden"):
        w1 = tf.Variable(tf.random_normal([D, H], stddev=0.5), name="weights")
        b1 = tf.Variable(tf.zeros([H]), name="biases")
        hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
    with tf.name_scope("scores"):
        w2 = tf.Variable(tf.random_normal([H, 1], stddev=0.5), name="weights")
        b2 = tf.Variable(tf.zeros([1]), name="biases")
        scores = tf.matmul(hidden, w2) + b2
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.square(scores - y))
    with tf.name_scope("train"):
        train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss)
    with tf.name_scope("summaries"):  # tags summaries/loss, summaries/hidden_weights, ...
        tf.summary.scalar("loss", loss)
        tf.summary.histogram("hidden_weights", w1)
        tf.summary.histogram("scores_weights", w2)
    return x, y, loss, train_op, tf.summary.merge_all()


def main(logdir="/tmp/tgc_logs", steps=100, seed=0):
    """Trains and logs; returns the losses of every step."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x, y, loss, train_op, merged = build()
    xs, ys = make_data()
    losses = []
    with tf.Session() as sess:
        writer = tf.summary.FileWriter(logdir, sess.graph)
        sess.run(tf.global_variables_initializer())
        for step in range(steps):
            feed = {x: xs, y: ys}
            if step == steps - 1:
                options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
                run_metadata = tf.RunMetadata()
                summary, loss_value, _ = sess.run(
                    [merged, loss, train_op], feed, options=options, run_metadata=run_metadata
                )
                writer.add_run_metadata(run_metadata, f"step{step:03d}")
            else:
                summary, loss_value, _ = sess.run([merged, loss, train_op], feed_dict=feed)
            writer.add_summary(summary, step)
            losses.append(float(loss_value))
        writer.close()
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; event file in {logdir}")
    return losses


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tgc_logs")
