"""Prints the values of tests/e2e/batch_matmul_tf_values.json: run with TensorFlow 2.21 (compat.v1,
v2 behaviour disabled),

    /tmp/tfenv/bin/python tests/oracle/batch_matmul.py > tests/e2e/batch_matmul_tf_values.json

Each program takes the API module as ``t`` (TF's compat.v1 here, tgc in the test) and returns the
static shape of its product, its value and its gradients (of the sum of product * weights) with
respect to both operands, so the test runs the very same programs under tgc and compares."""

from __future__ import annotations

import json

import numpy as np

# name -> (placeholder shape of a, of b, fed shape of a, of b, matmul keyword arguments)
CASES = {
    "rank3": ((2, 3, 4), (2, 4, 5), (2, 3, 4), (2, 4, 5), {}),
    "rank4": ((2, 3, 2, 4), (2, 3, 4, 3), (2, 3, 2, 4), (2, 3, 4, 3), {}),
    "none_batch": ((None, 3, 4), (None, 4, 2), (3, 3, 4), (3, 4, 2), {}),
    "none_batch_runtime_broadcast": ((None, 3, 4), (None, 4, 2), (1, 3, 4), (3, 4, 2), {}),
    "all_unknown": ((None, None, None), (None, None, None), (2, 3, 4), (2, 4, 5), {}),
    "transpose_a": ((2, 4, 3), (2, 4, 5), (2, 4, 3), (2, 4, 5), {"transpose_a": True}),
    "transpose_b": ((2, 3, 4), (2, 5, 4), (2, 3, 4), (2, 5, 4), {"transpose_b": True}),
    "adjoint_both": (
        (2, 4, 3),
        (2, 5, 4),
        (2, 4, 3),
        (2, 5, 4),
        {"adjoint_a": True, "adjoint_b": True},
    ),
    "broadcast_rank2_b": ((2, 3, 4), (4, 5), (2, 3, 4), (4, 5), {}),
    "broadcast_rank2_a": ((3, 4), (2, 4, 5), (3, 4), (2, 4, 5), {}),
    "broadcast_ones": ((2, 1, 3, 4), (3, 4, 2), (2, 1, 3, 4), (3, 4, 2), {}),
    "broadcast_none_rank4": ((None, 2, 3, 4), (None, 2, 4, 5), (2, 2, 3, 4), (1, 2, 4, 5), {}),
    "two_none_batch": ((None, None, 3, 4), (None, 4, 2), (2, 3, 3, 4), (3, 4, 2), {}),
}


def _shape(static):
    return None if static.dims is None else [d if d is None else int(d) for d in static.as_list()]


def product(t, case):
    sa, sb, fa, fb, kwargs = CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    x = rng.uniform(-1, 1, fa).astype(np.float32)
    y = rng.uniform(-1, 1, fb).astype(np.float32)
    g = t.Graph()
    with g.as_default():
        a = t.placeholder(t.float32, list(sa))
        b = t.placeholder(t.float32, list(sb))
        c = t.matmul(a, b, **kwargs)
        w = t.sin(t.cast(t.range(t.size(c)), t.float32))  # weights: every element counts
        loss = t.reduce_sum(c * t.reshape(w, t.shape(c)))
        ga, gb = t.gradients(loss, [a, b])
        with t.Session() as s:
            value, da, db = s.run([c, ga, gb], {a: x, b: y})
    return {
        "shape": _shape(c.shape),
        "value": value.tolist(),
        "grad_a": da.tolist(),
        "grad_b": db.tolist(),
    }


def main():
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    print(json.dumps({case: product(tf, case) for case in CASES}))


if __name__ == "__main__":
    main()
