"""The lecture's two-layer network placed on a GPU, as a TF1 program asks for one.

The weights and the training step are pinned to /gpu:0; `device_count={'GPU': 1}` makes the GPU
when the machine has one, and `allow_soft_placement` runs the step on the CPU when it does not
(TensorFlow's behaviour). `log_device_placement` prints where each op went. With `--emulate` the
GPU's code runs on the host instead ("nvptx-emulated": the same kernels and launch plans, blocks and
threads as loops), so the GPU path can be watched on any machine.

Run: python examples/gpu_two_layer_net.py [--emulate] [--steps N]
"""

import argparse
import contextlib

import numpy as np

import tgc as tf
from tgc.dialect import targets

N, D, H, C = 64, 256, 64, 10


def main(steps=100, learning_rate=1e-3, print_every=20, seed=0, emulate=False, log=True):
    """Trains for ``steps`` SGD steps; returns the loss measured at each step (before its
    update)."""
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, C))
    with tf.device("/gpu:0"):
        w1 = tf.Variable(tf.random_normal((D, H), stddev=0.01))
        w2 = tf.Variable(tf.random_normal((H, C), stddev=0.01))
        h = tf.nn.relu(tf.matmul(x, w1))
        scores = tf.matmul(h, w2, name="scores")
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
        train_op = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)

    rng = np.random.default_rng(seed)
    values = {
        x: rng.standard_normal((N, D)).astype(np.float32),
        y: np.eye(C, dtype=np.float32)[rng.integers(0, C, N)],
    }
    config = tf.ConfigProto(
        device_count={"GPU": 1}, allow_soft_placement=True, log_device_placement=log
    )
    losses = []
    gpu = targets.selected("nvptx-emulated") if emulate else contextlib.nullcontext()
    with gpu, tf.Session(config=config) as sess:
        print("devices:", ", ".join(config.device_names()))
        sess.run(tf.global_variables_initializer())
        for t in range(steps):
            loss_val, _ = sess.run([loss, train_op], feed_dict=values)
            losses.append(float(loss_val))
            if print_every and t % print_every == 0:
                print(f"step {t:4d}  loss {loss_val:.4f}")
    print(f"final loss {losses[-1]:.4f} (started at {losses[0]:.4f})")
    return losses


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulate", action="store_true", help="run the GPU's code on the host")
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    main(steps=args.steps, emulate=args.emulate)
