"""A small convolutional network on the 8x8 handwritten digits, TF1 style.

conv 3x3x16 + relu -> 2x2 max-pool -> fully connected 64 + relu -> dropout -> fully connected 10.
Dropout is driven by a ``keep_prob`` placeholder: 0.75 while training, 1.0 for the test accuracy.
Run: python examples/convnet.py
"""

import tgc as tf
from tgc.datasets import load_digits


def weight_variable(shape):
    return tf.Variable(tf.truncated_normal(shape, stddev=0.1))


def bias_variable(shape):
    return tf.Variable(tf.constant(0.1, shape=shape))


def model(x, keep_prob):
    """Logits for a batch of flattened 8x8 images."""
    x_image = tf.reshape(x, [-1, 8, 8, 1])
    W_conv = weight_variable([3, 3, 1, 16])
    b_conv = bias_variable([16])
    h_conv = tf.nn.relu(
        tf.nn.conv2d(x_image, W_conv, strides=[1, 1, 1, 1], padding="SAME") + b_conv
    )
    h_pool = tf.nn.max_pool(h_conv, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

    W_fc1 = weight_variable([4 * 4 * 16, 64])
    b_fc1 = bias_variable([64])
    h_fc1 = tf.nn.relu(tf.matmul(tf.reshape(h_pool, [-1, 4 * 4 * 16]), W_fc1) + b_fc1)
    h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)

    W_fc2 = weight_variable([64, 10])
    b_fc2 = bias_variable([10])
    return tf.matmul(h_fc1_drop, W_fc2) + b_fc2


def main(steps=300, batch_size=50, learning_rate=1e-3, print_every=100, seed=0):
    """Adam for ``steps`` minibatches; returns (per-step training losses, test accuracy)."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    digits = load_digits(one_hot=True)
    x = tf.placeholder(tf.float32, [None, 64])
    y_ = tf.placeholder(tf.float32, [None, 10])
    keep_prob = tf.placeholder(tf.float32)
    logits = model(x, keep_prob)

    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    train_step = tf.train.AdamOptimizer(learning_rate).minimize(loss)
    correct = tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(steps):
            batch_xs, batch_ys = digits.train.next_batch(batch_size)
            loss_value, _ = sess.run(
                [loss, train_step], feed_dict={x: batch_xs, y_: batch_ys, keep_prob: 0.75}
            )
            losses.append(float(loss_value))
            if print_every and i % print_every == 0:
                print(f"step {i:4d}  loss {loss_value:.4f}")
        acc = sess.run(
            accuracy, feed_dict={x: digits.test.images, y_: digits.test.labels, keep_prob: 1.0}
        )
    print(f"test accuracy {acc:.4f} on {digits.test.num_examples} images")
    return losses, float(acc)


if __name__ == "__main__":
    main()
