"""Softmax regression on real handwritten digits (8x8 images shipped with scikit-learn).

The TF1 MNIST tutorial's model, y = softmax(x W + b), trained by minibatch gradient descent on the
digits from ``tgc.datasets.load_digits``; prints the test accuracy (about 95%).
Run: python examples/softmax_regression_digits.py
"""

import tgc as tf
from tgc.datasets import load_digits


def main(steps=300, batch_size=100, learning_rate=0.5, print_every=100):
    """Returns (per-step training losses, test accuracy)."""
    tf.reset_default_graph()
    digits = load_digits(one_hot=True)
    x = tf.placeholder(tf.float32, [None, 64])
    y_ = tf.placeholder(tf.float32, [None, 10])
    W = tf.Variable(tf.zeros([64, 10]))
    b = tf.Variable(tf.zeros([10]))
    y = tf.matmul(x, W) + b

    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
    train_step = tf.train.GradientDescentOptimizer(learning_rate).minimize(cross_entropy)
    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(steps):
            batch_xs, batch_ys = digits.train.next_batch(batch_size)
            loss_value, _ = sess.run(
                [cross_entropy, train_step], feed_dict={x: batch_xs, y_: batch_ys}
            )
            losses.append(float(loss_value))
            if print_every and i % print_every == 0:
                print(f"step {i:4d}  loss {loss_value:.4f}")
        acc = sess.run(accuracy, feed_dict={x: digits.test.images, y_: digits.test.labels})
    print(f"test accuracy {acc:.4f} on {digits.test.num_examples} images")
    return losses, float(acc)


if __name__ == "__main__":
    main()
