"""Cost of what loops stack: the gradient of a long tf.while_loop, tf.scan and tf.map_fn over many
elements, and a TensorArray filled by a loop (issue 17: O(N) row copies, where growing a tensor
by concat copied O(N^2) elements).

Run:  python benchmarks/loop_stacks.py [--iterations 2000] [--elements 5000] [--width 64]

Prints, per case, the first run (compile included) and the median of 5 runs after it, in seconds.
Run it from another checkout (PYTHONPATH=/path/to/checkout) to time an older tgc; the TensorArray
case is skipped where tgc has none.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tgc as tf


def timed(sess, fetches, feed) -> tuple:
    start = time.perf_counter()
    sess.run(fetches, feed)
    first = time.perf_counter() - start
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        sess.run(fetches, feed)
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs)


def loop_gradient(n: int, width: int) -> tuple:
    """d/dx of sum(y) for y <- tanh(y) * x repeated n times (the trip count fed)."""
    tf.reset_default_graph()
    count = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float32, [width])
    _, y = tf.while_loop(lambda i, y: i < count, lambda i, y: (i + 1, tf.tanh(y) * x), [0, x])
    (dx,) = tf.gradients(tf.reduce_sum(y), [x])
    feed = {count: n, x: np.linspace(-1, 1, width).astype(np.float32)}
    with tf.Session() as sess:
        return timed(sess, dx, feed)


def scan_and_gradient(n: int, width: int) -> tuple:
    """tf.scan's running tanh-sum over n fed rows, and its gradient to the rows."""
    from tgc.frontend.functional_ops import scan

    tf.reset_default_graph()
    elems = tf.placeholder(tf.float32, [None, width])
    ys = scan(lambda a, e: tf.tanh(a + e), elems, initializer=tf.zeros([width]))
    (de,) = tf.gradients(tf.reduce_sum(ys), [elems])
    feed = {elems: np.random.default_rng(0).uniform(-1, 1, (n, width)).astype(np.float32)}
    with tf.Session() as sess:
        return timed(sess, ys, feed), timed(sess, de, feed)


def tensor_array_fill(n: int, width: int) -> tuple | None:
    try:
        from tgc.frontend.tensor_array import TensorArray
    except ImportError:
        return None
    tf.reset_default_graph()
    count = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float32, [width])
    ta = TensorArray(tf.float32, size=0, dynamic_size=True)
    _, ta = tf.while_loop(
        lambda i, ta: i < count,
        lambda i, ta: (i + 1, ta.write(i, x * tf.cast(i, tf.float32))),
        [0, ta],
    )
    stacked = ta.stack()
    (dx,) = tf.gradients(tf.reduce_sum(stacked), [x])
    with tf.Session() as sess:
        return timed(sess, [stacked, dx], {count: n, x: np.ones(width, np.float32)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--elements", type=int, default=5000)
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args()
    n, m, w = args.iterations, args.elements, args.width
    first, steady = loop_gradient(n, w)
    print(f"while_loop gradient, {n} iterations x {w}: first {first:.3f} s, run {steady:.4f} s")
    (f1, s1), (f2, s2) = scan_and_gradient(m, w)
    print(f"scan over {m} x {w}: first {f1:.3f} s, run {s1:.4f} s")
    print(f"scan gradient over {m} x {w}: first {f2:.3f} s, run {s2:.4f} s")
    filled = tensor_array_fill(n, w)
    if filled is not None:
        print(
            f"TensorArray (dynamic_size) filled by {n} iterations x {w}, stacked + gradient: "
            f"first {filled[0]:.3f} s, run {filled[1]:.4f} s"
        )


if __name__ == "__main__":
    main()
