"""tf.matmul of a batch, [64, 128, 128] x [64, 128, 128] in float32, in a tgc Session against
numpy's np.matmul: the best of ``--repeats`` runs of each, interleaved (the machine may be
shared), with fresh inputs every run so that nothing is reused.

    python benchmarks/batch_matmul.py            # the CPU's BLAS path: one gemm per matrix
    python benchmarks/batch_matmul.py --loops    # linalg.batch_matmul left to the loop lowering
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def measure(batch: int, n: int, repeats: int) -> tuple:
    """(tgc's best seconds, numpy's best seconds, the largest difference)."""
    import tgc as tf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n, n)).astype(np.float32)
    y = rng.standard_normal((batch, n, n)).astype(np.float32)
    ours, theirs, worst = [], [], 0.0
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [batch, n, n])
        b = tf.placeholder(tf.float32, [batch, n, n])
        c = tf.matmul(a, b)
        with tf.Session() as s:
            s.run(c, {a: x, b: y})  # compiles
            for i in range(repeats):
                xi = x + np.float32(i)
                start = time.perf_counter()
                got = s.run(c, {a: xi, b: y})
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                want = np.matmul(xi, y)
                theirs.append(time.perf_counter() - start)
                worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
    return min(ours), min(theirs), worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--loops", action="store_true", help="keep batch_matmul off BLAS")
    args = parser.parse_args()
    if args.loops:
        from tgc.lowering.cpu import blas

        blas._batch_candidate = lambda operation: False
    ours, theirs, worst = measure(args.batch, args.n, args.repeats)
    flops = 2.0 * args.batch * args.n**3
    print(
        f"[{args.batch}, {args.n}, {args.n}] x [{args.batch}, {args.n}, {args.n}] float32: "
        f"tgc {ours * 1e3:.2f} ms ({flops / ours / 1e9:.1f} GFLOP/s), numpy {theirs * 1e3:.2f} ms "
        f"({flops / theirs / 1e9:.1f} GFLOP/s), tgc/numpy {ours / theirs:.2f}, "
        f"largest relative difference {worst:.1e}"
    )


if __name__ == "__main__":
    main()
