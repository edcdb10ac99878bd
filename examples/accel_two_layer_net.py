"""The lecture's two-layer net trained on tgc's TPU-like accelerator (run on its simulator).

Everything is asked for on /accel:0; soft placement keeps on the CPU what the accelerator cannot
run. Its matmuls take bf16 operands and sum in float32, so the loss follows the CPU's closely but
not bit for bit. After training it prints what the simulator counted for the accelerator's last
program run: cycles, and how busy the 128 x 128 matrix unit was (useful MACs / its capacity).

Run: python examples/accel_two_layer_net.py [--steps N]
"""

import argparse

import numpy as np

import tgc as tf
from tgc.lowering.accel import in_process

N, D, H, C = 64, 256, 128, 10


def main(steps=50, learning_rate=2e-3, print_every=10, seed=0):
    """Trains for ``steps`` SGD steps; returns (the loss at each step, the simulator's stats of
    the accelerator's last run: one per program)."""
    tf.reset_default_graph()
    rng = np.random.default_rng(seed)
    with tf.device("/accel:0"):
        x = tf.placeholder(tf.float32, shape=(N, D))
        y = tf.placeholder(tf.float32, shape=(N, C))
        w1 = tf.Variable((rng.standard_normal((D, H)) * 0.05).astype(np.float32))
        w2 = tf.Variable((rng.standard_normal((H, C)) * 0.05).astype(np.float32))
        scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
        train_op = tf.train.GradientDescentOptimizer(learning_rate).minimize(loss)
    values = {
        x: rng.standard_normal((N, D)).astype(np.float32),
        y: np.eye(C, dtype=np.float32)[rng.integers(0, C, N)],
    }
    config = tf.ConfigProto(device_count={"ACCEL": 1}, allow_soft_placement=True)
    losses = []
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        for t in range(steps):
            loss_val, _ = sess.run([loss, train_op], feed_dict=values)
            losses.append(float(loss_val))
            if print_every and t % print_every == 0:
                print(f"step {t:4d}  loss {loss_val:.4f}")
    stats = in_process.last_stats()
    cycles = sum(s.total_cycles for s in stats)
    busy = sum(s.useful_mac_cycles for s in stats) / cycles
    print(f"final loss {losses[-1]:.4f} (started at {losses[0]:.4f})")
    seconds = sum(s.seconds for s in stats)
    print(
        f"accelerator, last run: {len(stats)} program(s), {cycles} cycles "
        f"({seconds * 1e6:.1f} us at the model's clock), matrix unit {busy:.1%} utilised"
    )
    return losses, stats


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    main(steps=parser.parse_args().steps)
