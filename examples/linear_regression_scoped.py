"""Multivariate linear regression with variable scopes, get_variable initializers and Adam.

The model lives in a ``linear`` variable scope; calling it a second time with ``reuse=True`` gives a
test-time prediction that shares the same weights. Run: python examples/linear_regression_scoped.py
"""

import numpy as np

import tgc as tf

D = 5


def make_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    true_w = rng.standard_normal((D, 1)).astype(np.float32)
    xs = rng.standard_normal((n, D)).astype(np.float32)
    ys = (xs @ true_w + 0.5 + 0.05 * rng.standard_normal((n, 1))).astype(np.float32)
    return xs, ys, true_w


def linear(x, reuse=None):
    with tf.variable_scope("linear", reuse=reuse):
        w = tf.get_variable("weights", [D, 1], initializer=tf.random_normal_initializer(stddev=0.1))
        b = tf.get_variable("bias", [1], initializer=tf.zeros_initializer())
        return tf.matmul(x, w) + b


def main(steps=200, learning_rate=0.05, print_every=50, seed=0):
    """Adam on the mean squared error; returns the per-step losses and the learned weights."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, D], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    loss = tf.reduce_mean(tf.square(linear(x) - y))
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss)
    prediction = linear(x, reuse=True)  # same variables, as a separate inference path

    xs, ys, true_w = make_data()
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(steps):
            loss_value, _ = sess.run([loss, train_op], feed_dict={x: xs, y: ys})
            losses.append(float(loss_value))
            if print_every and i % print_every == 0:
                print(f"step {i:4d}  loss {loss_value:.5f}")
        with tf.variable_scope("linear", reuse=True):
            w_out = sess.run(tf.get_variable("weights"))
        pred = sess.run(prediction, feed_dict={x: xs[:3]})
    print("learned w:", np.round(w_out.ravel(), 3), " true w:", np.round(true_w.ravel(), 3))
    print("predictions:", np.round(pred.ravel(), 3), " targets:", np.round(ys[:3].ravel(), 3))
    return losses, w_out, true_w


if __name__ == "__main__":
    main()
