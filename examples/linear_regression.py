"""Linear regression the TF1 way: one weight W, one bias b, squared loss, gradient descent.

The data are points on y = 3x + 2 with noise; W and b start at 0 and approach 3 and 2.
Run: python examples/linear_regression.py
"""

import numpy as np

import tgc as tf


def make_data(n=100, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.uniform(-1, 1, n).astype(np.float32)
    ys = (3.0 * xs + 2.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    return xs, ys


def main(steps=100, learning_rate=0.1, print_every=20):
    """Full-batch SGD for ``steps`` steps; returns the per-step losses and the learned (W, b)."""
    tf.reset_default_graph()
    X = tf.placeholder(tf.float32, shape=[None], name="X")
    Y = tf.placeholder(tf.float32, shape=[None], name="Y")
    W = tf.Variable(0.0, name="weights")
    b = tf.Variable(0.0, name="bias")

    Y_predicted = X * W + b
    loss = tf.reduce_mean(tf.square(Y - Y_predicted), name="loss")
    optimizer = tf.train.GradientDescentOptimizer(learning_rate=learning_rate).minimize(loss)

    xs, ys = make_data()
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(steps):
            _, loss_value = sess.run([optimizer, loss], feed_dict={X: xs, Y: ys})
            losses.append(float(loss_value))
            if print_every and i % print_every == 0:
                print(f"step {i:4d}  loss {loss_value:.5f}")
        w_out, b_out = sess.run([W, b])
    print(f"W = {w_out:.3f}, b = {b_out:.3f}  (true: 3, 2)")
    return losses, (float(w_out), float(b_out))


if __name__ == "__main__":
    main()
