"""An input pipeline with queues: producer threads enqueue, the model trains from dequeue_many.

The lectures' pattern for TF1's queues: a RandomShuffleQueue holds (image, label) examples; Python
producer threads feed chunks of the training set to an ``enqueue_many`` op under a
``tf.train.Coordinator``; the training step takes its batch with ``dequeue_many``, so each
``sess.run(train_step)`` dequeues a batch and trains on it in one run. At the end the coordinator
stops the producers, closing the queue wakes any producer blocked on a full queue, and ``join``
waits for them. The model is softmax regression on the 8x8 digits (about 95% test accuracy).
Run: python examples/queue_input_pipeline.py
"""

import threading

import numpy as np

import tgc as tf
from tgc.datasets import load_digits


def producer(sess, coord, enqueue, images_ph, labels_ph, images, labels, seed, chunk=50):
    """Enqueues shuffled chunks of (images, labels) until the coordinator stops."""
    rng = np.random.default_rng(seed)
    with coord.stop_on_exception():
        while not coord.should_stop():
            rows = rng.choice(len(images), size=chunk, replace=False)
            try:
                sess.run(enqueue, {images_ph: images[rows], labels_ph: labels[rows]})
            except tf.errors.CancelledError:
                return  # the queue was closed to stop us


def main(steps=300, batch_size=100, num_producers=2, learning_rate=0.5, print_every=100):
    """Returns (per-step training losses, test accuracy)."""
    tf.reset_default_graph()
    digits = load_digits()
    images_ph = tf.placeholder(tf.float32, [None, 64])
    labels_ph = tf.placeholder(tf.int32, [None])
    queue = tf.RandomShuffleQueue(
        capacity=1000, min_after_dequeue=300, dtypes=[tf.float32, tf.int32], shapes=[[64], []]
    )
    enqueue = queue.enqueue_many([images_ph, labels_ph])
    close = queue.close(cancel_pending_enqueues=True)
    x, label = queue.dequeue_many(batch_size)

    W = tf.Variable(tf.zeros([64, 10]))
    b = tf.Variable(tf.zeros([10]))
    logits = tf.matmul(x, W) + b
    y_ = tf.one_hot(label, 10)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=logits))
    train_step = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)

    test_x = tf.placeholder(tf.float32, [None, 64])
    test_y = tf.placeholder(tf.int64, [None])
    predicted = tf.argmax(tf.matmul(test_x, W) + b, 1)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, test_y), tf.float32))

    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        coord = tf.train.Coordinator()
        threads = [
            threading.Thread(
                target=producer,
                args=(sess, coord, enqueue, images_ph, labels_ph),
                kwargs=dict(images=digits.train.images, labels=digits.train.labels, seed=i),
            )
            for i in range(num_producers)
        ]
        for t in threads:
            t.start()
        try:
            for i in range(steps):
                _, loss_value = sess.run([train_step, loss])
                losses.append(float(loss_value))
                if print_every and i % print_every == 0:
                    print(f"step {i:4d}  loss {loss_value:.4f}")
        finally:
            coord.request_stop()
            sess.run(close)  # wakes producers blocked on the full queue
            coord.join(threads)
        acc = sess.run(accuracy, {test_x: digits.test.images, test_y: digits.test.labels})
    print(f"test accuracy {acc:.4f} on {digits.test.num_examples} images")
    return losses, float(acc)


if __name__ == "__main__":
    main()
