"""Random ops inside loop bodies draw new numbers in every iteration, as TF's do.

A random op inside a `tf.while_loop` (and so inside `tf.map_fn`, `tf.scan`, `tf.nn.dynamic_rnn`, a
`tf.cond` in a loop) reads the run's step folded with the loop's iteration counter
(``ref.fold_step(step, iteration)``, once per nesting level), so each iteration draws anew, a
fresh graph with the same seeds replays the same numbers, and a loop's gradient reruns its body on
the same counter (dropout masks match). The values are checked against the numpy reference of
``tgc/dialect/ops/random.py``: the first ``Session.run`` has step 1.

``TF_FACTS`` is the output of

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/random_in_loops_oracle.py

under tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled): which draws differ
and which are equal in TF (its numbers differ from tgc's, another generator); the last test runs the
same programs under tgc.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import tgc as tf
from tgc.dialect.ops import random as ref
from tgc.frontend import random_ops as rnd
from tgc.frontend.control import while_loop
from tgc.frontend.functional_ops import map_fn
from tgc.frontend.rnn import dynamic_rnn
from tgc.frontend.rnn_cell import DropoutWrapper, LSTMStateTuple, RNNCell


# Printed by tests/oracle/random_in_loops_oracle.py under TensorFlow 2.21.0.
TF_FACTS = {
    "map_fn_distinct": 4,
    "normals_distinct": 2000,
    "normals_law": True,
    "dropout_step_masks": 5,
    "dropout_batch_rows_alike": False,
    "dropout_grad_is_mask": True,
    "variational_step_masks": 1,
    "variational_batch_rows_alike": True,
    "variational_grad_is_mask": True,
    "errors": [
        "When variational_recurrent=True, dtype must be provided",
        "When variational_recurrent=True and input_keep_prob < 1.0 or is unknown, input_size must "
        "be provided",
    ],
}


def test_the_oracle_programs_behave_as_tfs():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
    try:
        import random_in_loops_oracle as oracle
    finally:
        sys.path.pop(0)
    assert oracle.facts(tf) == TF_FACTS


def _run(fetches, feed=None, runs=1):
    with tf.Session() as sess:
        return [sess.run(fetches, feed) for _ in range(runs)]


def _map_uniform(seed):
    tf.set_random_seed(seed)
    return map_fn(lambda v: v + rnd.random_uniform([], seed=3), tf.zeros([4]))


# ---- map_fn, while_loop: new numbers each iteration ---------------------------------------------


def test_map_fn_draws_a_new_number_per_element_equal_to_the_reference():
    with tf.Graph().as_default():
        out = _map_uniform(5)
        (first, second) = _run(out, runs=2)
    assert len(set(first.tolist())) == 4
    for run, got in ((1, first), (2, second)):
        want = [ref.uniform_values((), "float32", 5, 3, ref.fold_step(run, k)) for k in range(4)]
        np.testing.assert_array_equal(got, np.array(want, np.float32))
    assert not np.array_equal(first, second)  # each run draws anew too


def test_map_fn_draws_replay_in_a_fresh_graph_with_the_same_seed():
    with tf.Graph().as_default():
        a = _run(_map_uniform(7))[0]
    with tf.Graph().as_default():
        b = _run(_map_uniform(7))[0]
    with tf.Graph().as_default():
        c = _run(_map_uniform(8))[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_while_loop_normals_per_iteration_have_the_law_and_differ():
    n = 2000
    with tf.Graph().as_default():
        tf.set_random_seed(11)

        def body(i, acc):
            z = rnd.random_normal([], mean=1.0, stddev=2.0, seed=4)
            return i + 1, tf.concat([acc, tf.reshape(z, [1])], 0)

        _, drawn = while_loop(
            lambda i, acc: i < n,
            body,
            [tf.constant(0), tf.zeros([0])],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])],
        )
        (got,) = _run(drawn)
    assert got.shape == (n,)
    assert len(np.unique(got)) == n
    # mean 1, stddev 2: the sample mean is within 4 standard errors (2 / sqrt(2000) = 0.045)
    assert abs(got.mean() - 1.0) < 4 * 2.0 / np.sqrt(n)
    assert abs(got.std() - 2.0) < 4 * 2.0 / np.sqrt(2 * n)
    want = [ref.normal_values((), "float32", 11, 4, ref.fold_step(1, k), 1.0, 2.0) for k in (0, 9)]
    np.testing.assert_array_equal(got[[0, 9]], np.array(want, np.float32))


def test_a_draw_in_the_loop_cond_is_new_each_iteration():
    with tf.Graph().as_default():
        tf.set_random_seed(2)
        # runs while the draws stay below 0.95: a fixed draw would loop 0 times or forever
        count = while_loop(
            lambda i: rnd.random_uniform([], seed=1) < 0.95,
            lambda i: i + 1,
            [tf.constant(0)],
            maximum_iterations=10_000,
        )
        (got,) = _run(count)
    draws = [ref.uniform_values((), "float32", 2, 1, ref.fold_step(1, k)) for k in range(got + 1)]
    assert all(u < 0.95 for u in draws[:-1]) and draws[-1] >= 0.95


def test_nested_loops_fold_each_level():
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        inner = lambda: map_fn(lambda v: v + rnd.random_uniform([], seed=6), tf.zeros([3]))  # noqa: E731
        out = map_fn(lambda v: v + inner(), tf.zeros([2, 3]))
        (got,) = _run(out)
    assert len(np.unique(got)) == 6
    want = [
        [
            ref.uniform_values((), "float32", 3, 6, ref.fold_step(ref.fold_step(1, i), j))
            for j in range(3)
        ]
        for i in range(2)
    ]
    np.testing.assert_array_equal(got, np.array(want, np.float32))


def test_a_cond_inside_a_loop_draws_anew_each_iteration():
    with tf.Graph().as_default():
        tf.set_random_seed(4)

        def element(v):
            return tf.cond(v > 0, lambda: rnd.random_uniform([], seed=2), lambda: v)

        (got,) = _run(map_fn(element, tf.constant([1.0, 1.0, -5.0, 1.0])))
    want = [ref.uniform_values((), "float32", 4, 2, ref.fold_step(1, k)) for k in (0, 1, 3)]
    np.testing.assert_array_equal(got[[0, 1, 3]], np.array(want, np.float32))
    assert got[2] == -5.0


def test_a_loop_without_random_ops_is_unchanged():
    with tf.Graph().as_default() as g:
        r = while_loop(lambda i: i < 3, lambda i: i + 1, [tf.constant(0)])
        assert g._rng_step is None
        assert len(r.op.inputs) == 1  # no counter was added
        assert _run(r)[0] == 3


# ---- dropout in dynamic_rnn ----------------------------------------------------------------------


class _Echo(RNNCell):
    """Outputs its (dropped) input; the state passes through."""

    @property
    def state_size(self):
        return 6

    @property
    def output_size(self):
        return 6

    def call(self, inputs, state):
        return inputs, state


def _echo_rnn(**wrapper):
    steps, batch = 5, 3
    tf.set_random_seed(9)
    cell = DropoutWrapper(_Echo(), input_keep_prob=0.5, seed=1, **wrapper)
    outputs, _ = dynamic_rnn(cell, tf.ones([batch, steps, 6]), dtype=tf.float32)
    (got,) = _run(outputs)
    return got != 0  # [batch, time, 6]: the kept inputs


def test_dropout_wrapper_draws_a_new_mask_each_time_step():
    with tf.Graph().as_default():
        kept = _echo_rnn()
    masks = {kept[:, t].tobytes() for t in range(kept.shape[1])}
    assert len(masks) == kept.shape[1]
    assert 0.3 < kept.mean() < 0.7


def test_variational_dropout_wrapper_keeps_one_mask_for_every_step():
    with tf.Graph().as_default():
        kept = _echo_rnn(variational_recurrent=True, input_size=6, dtype=tf.float32)
    for t in range(1, kept.shape[1]):
        np.testing.assert_array_equal(kept[:, t], kept[:, 0])
    # TF's noise has shape [1, depth]: one mask for every sequence of the batch
    for b in range(1, kept.shape[0]):
        np.testing.assert_array_equal(kept[b], kept[0])
    assert kept[0, 0].any() and not kept[0, 0].all()


# ---- gradients: the backward pass sees the forward pass's numbers --------------------------------


def _masks_in_a_growing_tensor(steps, h0, body_step):
    """The loop with the masks concatenated into a loop variable of unknown length (the loop's
    gradient recomputes each iteration's state from the first)."""

    def body(i, h, masks):
        h, mask = body_step(h)
        return i + 1, h, tf.concat([masks, tf.reshape(mask, [1, 5])], 0)

    _, h, masks = while_loop(
        lambda i, h, m: i < steps,
        body,
        [tf.constant(0), h0, tf.zeros([0, 5])],
        shape_invariants=[tf.TensorShape([]), tf.TensorShape([5]), tf.TensorShape([None, 5])],
    )
    return h, masks


def _masks_in_a_tensor_array(steps, h0, body_step):
    """The loop with static loop variables only (the gradient's record loop saves each state)."""

    def body(i, h, masks):
        h, mask = body_step(h)
        return i + 1, h, masks.write(i, mask)

    array = tf.TensorArray(tf.float32, size=steps, element_shape=[5])
    _, h, masks = while_loop(lambda i, h, m: i < steps, body, [tf.constant(0), h0, array])
    return h, masks.stack()


@pytest.mark.parametrize("loop", [_masks_in_a_growing_tensor, _masks_in_a_tensor_array])
def test_gradient_through_a_loop_with_dropout_uses_each_iterations_mask(loop):
    """h <- tanh(dropout(h, 0.5) * w) four times; d sum(h) / dw from numpy with the masks the
    forward loop drew (fetched from the loop itself) equals tgc's, and finite differences."""
    steps = 4
    with tf.Graph().as_default():
        tf.set_random_seed(12)
        w = tf.placeholder(tf.float32, [5])
        h0 = tf.placeholder(tf.float32, [5])

        def body_step(h):
            dropped = rnd.dropout(h, keep_prob=0.5, seed=3)
            return tf.tanh(dropped * w), tf.cast(tf.not_equal(dropped, 0.0), tf.float32)

        h, masks = loop(steps, h0, body_step)
        loss = tf.reduce_sum(h)
        (gw,) = tf.gradients(loss, [w])
        wv = np.array([0.5, -1.0, 1.5, 0.8, -0.3], np.float32)
        hv = np.array([0.9, 0.7, -0.4, 1.1, 0.2], np.float32)
        with tf.Session() as sess:
            got_masks, got_gw = sess.run([masks, gw], {w: wv, h0: hv})
    assert not all(np.array_equal(got_masks[0], m) for m in got_masks[1:])

    def forward(w64):
        h = hv.astype(np.float64)
        for m in got_masks:
            h = np.tanh(h * m / 0.5 * w64)
        return h.sum()

    def analytic(w64):
        hs, h = [], hv.astype(np.float64)
        for m in got_masks:
            hs.append(h)
            h = np.tanh(h * m / 0.5 * w64)
        dh, dw = np.ones(5), np.zeros(5)
        for m, h_in in zip(got_masks[::-1], hs[::-1]):
            pre = h_in * m / 0.5 * w64
            dpre = dh * (1 - np.tanh(pre) ** 2)
            dw += dpre * h_in * m / 0.5
            dh = dpre * w64 * m / 0.5
        return dw

    w64 = wv.astype(np.float64)
    fd = np.array([(forward(w64 + e) - forward(w64 - e)) / 2e-6 for e in np.eye(5) * 1e-6])
    np.testing.assert_allclose(analytic(w64), fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got_gw, analytic(w64), rtol=2e-5, atol=1e-6)


def test_dynamic_rnn_gradient_through_dropout_is_each_steps_mask():
    """d sum(outputs * v) / d inputs of the echo cell behind input dropout is v * mask / 0.5,
    the mask of that step as the forward pass drew it (read from the outputs)."""
    with tf.Graph().as_default():
        tf.set_random_seed(9)
        x = tf.placeholder(tf.float32, [3, 5, 6])
        cell = DropoutWrapper(_Echo(), input_keep_prob=0.5, seed=1)
        outputs, _ = dynamic_rnn(cell, x, dtype=tf.float32)
        v = np.random.default_rng(2).standard_normal((3, 5, 6)).astype(np.float32)
        (gx,) = tf.gradients(tf.reduce_sum(outputs * v), [x])
        xs = np.random.default_rng(3).uniform(1.0, 2.0, (3, 5, 6)).astype(np.float32)
        with tf.Session() as sess:
            out, grad = sess.run([outputs, gx], {x: xs})
    kept = out != 0
    np.testing.assert_allclose(out[kept], xs[kept] / np.float32(0.5), rtol=1e-6)
    np.testing.assert_allclose(grad, v * kept / np.float32(0.5), rtol=1e-6)


def test_variational_state_dropout_keeps_lstm_memory_and_one_h_mask():
    """state_keep_prob with variational_recurrent: the LSTM's c is left whole (TF's filter); h is
    dropped with one [1, units] mask, the same at every step."""
    with tf.Graph().as_default():
        tf.set_random_seed(5)
        base = tf.nn.rnn_cell.BasicLSTMCell(8)
        cell = DropoutWrapper(
            base, state_keep_prob=0.5, variational_recurrent=True, dtype=tf.float32, seed=4
        )
        x = tf.placeholder(tf.float32, [2, 8])
        state0 = LSTMStateTuple(tf.ones([2, 8]), tf.ones([2, 8]))
        _, (c1, h1) = cell(x, state0)
        _, (c2, h2) = cell(x, LSTMStateTuple(c1, h1))
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            _, (c_ref, h_ref) = base(x, state0)
        xs = np.random.default_rng(4).standard_normal((2, 8)).astype(np.float32)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            c1v, h1v, h2v, cr, hr = sess.run([c1, h1, h2, c_ref, h_ref], {x: xs})
    np.testing.assert_allclose(c1v, cr, rtol=1e-6)
    kept = h1v != 0
    np.testing.assert_array_equal(kept, h2v != 0)
    np.testing.assert_array_equal(kept[0], kept[1])
    np.testing.assert_allclose(h1v[kept], 2 * hr[kept], rtol=1e-6)


def test_stacked_lstm_state_dropout_draws_a_mask_per_h():
    """Each dropped tensor gets TF's own op seed (md5 of seed, part and index): the two h's of a
    stacked LSTM get different masks even with one seed."""
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        stack = tf.nn.rnn_cell.MultiRNNCell(
            [tf.nn.rnn_cell.BasicLSTMCell(16), tf.nn.rnn_cell.BasicLSTMCell(16)]
        )
        x = tf.ones([4, 3])
        _, dropped = DropoutWrapper(stack, state_keep_prob=0.5, seed=7)(
            x, stack.zero_state(4, tf.float32)
        )
        ops = [op for op in tf.get_default_graph().get_operations() if op.type == "Dropout"]
        assert sorted(op.attrs["seed2"] for op in ops) == sorted(
            [_tf_gen_seed(7, "state_1"), _tf_gen_seed(7, "state_3")]
        )
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            (_, h0), (_, h1) = sess.run(dropped)
    assert not np.array_equal(h0 != 0, h1 != 0)


def _tf_gen_seed(seed, salt):
    """TF 2.21's DropoutWrapper._gen_seed (tensorflow/python/keras/layers/legacy_rnn/
    rnn_cell_wrapper_impl.py), written out."""
    import hashlib

    digest = hashlib.md5(f"{seed}{salt}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def test_variational_dropout_errors_are_tfs():
    with tf.Graph().as_default():
        with pytest.raises(
            ValueError, match="When variational_recurrent=True, dtype must be provided"
        ):
            DropoutWrapper(_Echo(), output_keep_prob=0.5, variational_recurrent=True)
        with pytest.raises(ValueError, match="input_size must be provided"):
            DropoutWrapper(
                _Echo(), input_keep_prob=0.5, variational_recurrent=True, dtype=tf.float32
            )


# ---- other targets: the same numbers -------------------------------------------------------------


def test_gpu_session_draws_the_cpus_numbers_in_and_out_of_loops():
    """On a GPU (nvptx-emulated: its kernels run on the host) a random op outside any loop uses
    the same generator as on the CPU; a loop (run on the CPU beside the GPU's ops: loops are not
    among the GPU's ops) folds its iterations as on the CPU. The same seeds, the same numbers."""
    from tgc.dialect import targets

    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        tf.set_random_seed(6)
        x = tf.placeholder(tf.float32, [3])
        with tf.device("/gpu:0"):
            outside = rnd.random_uniform([4, 3], seed=1, name="outside")
        _, summed = while_loop(
            lambda i, v: i < 4,
            lambda i, v: (i + 1, v + rnd.random_normal([3], seed=2)),
            [tf.constant(0), x],
            name="loop",
        )
        with tf.device("/gpu:0"):
            both = tf.add(outside, summed, name="both")
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            got_outside, got_summed, got_both = sess.run(
                [outside, summed, both], {x: np.zeros(3, np.float32)}
            )
            placed = {
                name: device[-5:]
                for run in sess._cache.values()
                for name, _, device in run.placement or ()
            }
    assert placed["outside"] == placed["both"] == "GPU:0" and placed["loop"] == "CPU:0"
    np.testing.assert_array_equal(got_outside, ref.uniform_values((4, 3), "float32", 6, 1, 1))
    want = np.zeros(3, np.float32)
    for k in range(4):
        want = want + ref.normal_values((3,), "float32", 6, 2, ref.fold_step(1, k))
    np.testing.assert_array_equal(got_summed, want)
    np.testing.assert_array_equal(got_both, got_outside + got_summed)


def test_gradient_through_a_loop_with_dropout_matches_finite_differences_of_tgcs_loss():
    """In float64, d loss / dw against central differences of the loss itself, each evaluated in
    a fresh session: its first run has step 1, as the gradient's run, so every evaluation draws
    the same masks in each iteration."""
    with tf.Graph().as_default():
        tf.set_random_seed(13)
        w = tf.placeholder(tf.float64, [5])
        h0 = tf.constant([0.9, 0.7, -0.4, 1.1, 0.2], tf.float64)

        def body(i, h):
            return i + 1, tf.tanh(rnd.dropout(h, keep_prob=0.6, seed=2) * w + 0.1)

        _, h = while_loop(lambda i, h: i < 5, body, [tf.constant(0), h0])
        loss = tf.reduce_sum(h * h)
        (gw,) = tf.gradients(loss, [w])
        wv = np.array([0.5, -1.0, 1.5, 0.8, -0.3])

        def first_run(fetch, value):
            with tf.Session() as sess:
                return sess.run(fetch, {w: value})

        got = first_run(gw, wv)
        eps = 1e-6
        fd = [
            (first_run(loss, wv + e) - first_run(loss, wv - e)) / (2 * eps) for e in np.eye(5) * eps
        ]
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-9)


def test_gradient_through_nested_loops_with_dropout_matches_finite_differences():
    """Dropout in the inner loop of two nested loops: the outer loop's backward pass reruns the
    inner loop on the outer iteration's folded step, so its masks are the forward pass's."""
    with tf.Graph().as_default():
        tf.set_random_seed(13)
        w = tf.placeholder(tf.float64, [4])
        h0 = tf.constant([0.9, 0.7, -0.4, 1.1], tf.float64)

        def inner(h):
            def step(j, h):
                return j + 1, tf.tanh(rnd.dropout(h, keep_prob=0.6, seed=2) * w + 0.1)

            return while_loop(lambda j, h: j < 3, step, [tf.constant(0), h])[1]

        _, h = while_loop(
            lambda i, h: i < 3, lambda i, h: (i + 1, inner(h) * 0.9), [tf.constant(0), h0]
        )
        loss = tf.reduce_sum(h * h)
        (gw,) = tf.gradients(loss, [w])
        wv = np.array([0.5, -1.0, 1.5, 0.8])

        def first_run(fetch, value):
            with tf.Session() as sess:
                return sess.run(fetch, {w: value})

        got = first_run(gw, wv)
        eps = 1e-6
        fd = [
            (first_run(loss, wv + e) - first_run(loss, wv - e)) / (2 * eps) for e in np.eye(4) * eps
        ]
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-9)
