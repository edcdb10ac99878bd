"""The lecture's two-layer net as a graph for `tgc compile` (built at import, for the CLI to take).

    scores = relu(x @ w1) @ w2,   loss = sum over the batch of softmax cross-entropy

Signatures compiled by CMakeLists.txt (see examples/c/README.md):
  training:   tgc compile examples/c/two_layer_model.py --fetch loss --fetch train --name train \
                  -o build/artifacts/train
  inference:  tgc compile examples/c/two_layer_model.py --fetch scores --name infer \
                  -o build/artifacts/infer
The batch dimension stays dynamic (?), so one artifact serves any batch size. Initial weights are
drawn once at compile time (seeded), and stored in the artifact.
"""

import tgc as tf

D, H, C = 1000, 100, 10
LEARNING_RATE = 1e-3

tf.set_random_seed(0)
x = tf.placeholder(tf.float32, shape=(None, D), name="x")
y = tf.placeholder(tf.float32, shape=(None, C), name="y")
w1 = tf.Variable(tf.random_normal((D, H), stddev=0.01), name="w1")
w2 = tf.Variable(tf.random_normal((H, C), stddev=0.01), name="w2")
h = tf.nn.relu(tf.matmul(x, w1))
scores = tf.matmul(h, w2, name="scores")
loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores), name="loss")
train = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss, name="train")
