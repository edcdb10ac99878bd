"""The lecture's two-layer network in TF1 style, trained by plain SGD on random data.

    scores = relu(x @ w1) @ w2,   loss = sum over the batch of softmax cross-entropy

With N, D, H, C = 64, 1000, 100, 10 the net memorises one fixed random batch, so the printed loss
falls steadily. Run: python examples/two_layer_net.py
"""

import numpy as np

import tgc as tf

N, D, H, C = 64, 1000, 100, 10


def main(steps=300, learning_rate=1e-3, print_every=50, seed=0):
    """Trains for ``steps`` SGD steps; returns the loss measured at each step
    (before its update)."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, C))
    w1 = tf.Variable(tf.random_normal((D, H), stddev=0.01))
    w2 = tf.Variable(tf.random_normal((H, C), stddev=0.01))

    h = tf.nn.relu(tf.matmul(x, w1))
    scores = tf.matmul(h, w2)
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
    train_op = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)

    rng = np.random.default_rng(seed)
    values = {
        x: rng.standard_normal((N, D)).astype(np.float32),
        y: np.eye(C, dtype=np.float32)[rng.integers(0, C, N)],
    }
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for t in range(steps):
            loss_val, _ = sess.run([loss, train_op], feed_dict=values)
            losses.append(float(loss_val))
            if print_every and t % print_every == 0:
                print(f"step {t:4d}  loss {loss_val:.4f}")
    print(f"final loss {losses[-1]:.4f} (started at {losses[0]:.4f})")
    return losses


if __name__ == "__main__":
    main()
