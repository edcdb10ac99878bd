"""TensorFlow 2.21's behaviour that tests/e2e/test_random_in_loops.py asks of tgc, printed as
TF_FACTS (the numbers differ, another generator; what is equal and what differs is the same):

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/random_in_loops_oracle.py

- map_fn over 4 elements of x + random_uniform([]) gives 4 different values;
- a while_loop drawing random_normal(mean 1, stddev 2) 2000 times: all different, mean and
  stddev within 4 standard errors;
- dynamic_rnn of an echo cell behind DropoutWrapper(input_keep_prob=0.5): a new mask each of the
  5 steps; with variational_recurrent=True one mask for every step and every sequence;
- the gradient of dynamic_rnn through the dropout is v * mask / keep_prob, each step's mask;
- DropoutWrapper's errors for variational_recurrent without dtype or input_size.
"""

from __future__ import annotations

import numpy as np


def facts(tf):
    out = {}
    with tf.Graph().as_default():
        tf.set_random_seed(5)
        v = tf.map_fn(lambda v: v + tf.random_uniform([], seed=3), tf.zeros([4]))
        with tf.Session() as sess:
            out["map_fn_distinct"] = len(set(sess.run(v).tolist()))
    with tf.Graph().as_default():
        tf.set_random_seed(11)

        def body(i, acc):
            z = tf.random_normal([], mean=1.0, stddev=2.0, seed=4)
            return i + 1, tf.concat([acc, tf.reshape(z, [1])], 0)

        _, drawn = tf.while_loop(
            lambda i, acc: i < 2000,
            body,
            [tf.constant(0), tf.zeros([0])],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])],
        )
        with tf.Session() as sess:
            got = sess.run(drawn)
        out["normals_distinct"] = len(np.unique(got))
        out["normals_law"] = bool(
            abs(got.mean() - 1.0) < 4 * 2 / np.sqrt(2000)
            and abs(got.std() - 2.0) < 4 * 2 / np.sqrt(4000)
        )
    out.update(_rnn_facts(tf))
    return out


def _echo_cell(tf):
    class Echo(tf.nn.rnn_cell.RNNCell):
        @property
        def state_size(self):
            return 6

        @property
        def output_size(self):
            return 6

        def call(self, inputs, state):
            return inputs, state

    return Echo()


def _rnn_facts(tf):
    out = {}
    for variational in (False, True):
        with tf.Graph().as_default():
            tf.set_random_seed(9)
            extra = {"variational_recurrent": True, "input_size": 6, "dtype": tf.float32}
            cell = tf.nn.rnn_cell.DropoutWrapper(
                _echo_cell(tf), input_keep_prob=0.5, seed=1, **(extra if variational else {})
            )
            x = tf.placeholder(tf.float32, [3, 5, 6])
            outputs, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
            v = np.random.default_rng(2).standard_normal((3, 5, 6)).astype(np.float32)
            (gx,) = tf.gradients(tf.reduce_sum(outputs * v), [x])
            xs = np.random.default_rng(3).uniform(1.0, 2.0, (3, 5, 6)).astype(np.float32)
            with tf.Session() as sess:
                got, grad = sess.run([outputs, gx], {x: xs})
        kept = got != 0
        key = "variational" if variational else "dropout"
        out[f"{key}_step_masks"] = len({kept[:, t].tobytes() for t in range(5)})
        out[f"{key}_batch_rows_alike"] = all(np.array_equal(kept[b], kept[0]) for b in range(3))
        out[f"{key}_grad_is_mask"] = bool(np.allclose(grad, v * kept / np.float32(0.5)))
    for kwargs in ({"output_keep_prob": 0.5}, {"input_keep_prob": 0.5, "dtype": tf.float32}):
        try:
            tf.nn.rnn_cell.DropoutWrapper(_echo_cell(tf), variational_recurrent=True, **kwargs)
        except ValueError as exc:
            out.setdefault("errors", []).append(str(exc))
    return out


if __name__ == "__main__":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    print("TF_FACTS =", facts(tf))
