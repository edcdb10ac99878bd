"""logical_xor, scalar_mul, shape_n, matrix_diag, matrix_diag_part, random_shuffle and tf.nn's
sufficient_statistics, normalize_moments, weighted_moments, zero_fraction
(tgc/frontend/misc_ops.py).

Values and gradients against TensorFlow 2.21.0 (compat.v1), recorded in
tests/e2e/misc_ops_tf_values.json by

    /tmp/tfenv/bin/python tests/oracle/misc_ops_oracle.py > tests/e2e/misc_ops_tf_values.json

random_shuffle is tgc's own draw (TF's Philox stream is not reproduced): checked as a
permutation, reproducible with a seed, different from run to run.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import misc_ops

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "misc_ops_oracle", _HERE.parent / "oracle" / "misc_ops_oracle.py"
)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
TF_VALUES = json.loads((_HERE / "misc_ops_tf_values.json").read_text())["values"]


def assert_close_nested(got, want, path=""):
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for key in want:
            assert_close_nested(got[key], want[key], f"{path}/{key}")
        return
    try:
        want_array = np.asarray(want, np.float64)
    except ValueError:
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close_nested(g, w, f"{path}[{i}]")
        return
    got_array = np.asarray(got, np.float64)
    assert got_array.shape == want_array.shape, path
    np.testing.assert_allclose(got_array, want_array, rtol=1e-5, atol=1e-6, err_msg=path)


@pytest.mark.parametrize("program", sorted(oracle.PROGRAMS))
def test_misc_ops_match_tf(program):
    assert_close_nested(oracle.PROGRAMS[program](tf), TF_VALUES[program], program)


def test_matrix_diag_of_a_run_time_length():
    with tf.Graph().as_default():
        d = tf.placeholder(tf.float32, [2, None])
        m = misc_ops.matrix_diag(d)
        with tf.Session() as s:
            got = s.run(m, {d: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]})
    np.testing.assert_array_equal(got, [np.diag([1.0, 2.0, 3.0]), np.diag([4.0, 5.0, 6.0])])


def test_matrix_diag_part_keeps_infinities_off_the_diagonal_out():
    with tf.Graph().as_default():
        x = tf.constant([[1.0, np.inf], [-np.inf, 2.0]])
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(misc_ops.matrix_diag_part(x)), [1.0, 2.0])


def test_random_shuffle_is_a_seeded_permutation_of_rows():
    rows = np.arange(40, dtype=np.float32).reshape(20, 2)

    def draws(graph_seed, op_seed):
        with tf.Graph().as_default():
            tf.set_random_seed(graph_seed)
            x = tf.placeholder(tf.float32, [20, 2])
            shuffled = misc_ops.random_shuffle(x, seed=op_seed)
            with tf.Session() as s:
                return [s.run(shuffled, {x: rows}) for _ in range(2)]

    first, second = draws(1, 7)
    for out in (first, second):
        assert sorted(out[:, 0].tolist()) == rows[:, 0].tolist()
        np.testing.assert_array_equal(out[:, 1], out[:, 0] + 1)  # rows move whole
    assert not np.array_equal(first, second)  # a new permutation each run
    again_first, again_second = draws(1, 7)
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)
    assert not np.array_equal(draws(1, 8)[0], first)


def test_random_shuffle_of_a_run_time_first_dim_is_the_known_dims_permutation():
    rows = np.arange(40, dtype=np.float32).reshape(20, 2)

    def draw(first_dim, batch):
        with tf.Graph().as_default():
            tf.set_random_seed(2)
            x = tf.placeholder(tf.float32, [first_dim, 2])
            with tf.Session() as s:
                return s.run(misc_ops.random_shuffle(x, seed=5), {x: rows[:batch]})

    np.testing.assert_array_equal(draw(None, 20), draw(20, 20))
    for batch in (0, 1, 7):
        out = draw(None, batch)
        assert out.shape == (batch, 2)
        assert sorted(out[:, 0].tolist()) == rows[:batch, 0].tolist()


def test_random_shuffle_gradient_flows_to_the_rows_it_moved():
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        x = tf.constant(np.arange(6, dtype=np.float32))
        y = misc_ops.random_shuffle(x)
        weights = tf.constant(np.arange(6, dtype=np.float32) * 10.0)
        (g,) = tf.gradients(tf.reduce_sum(y * weights), [x])
        with tf.Session() as s:
            y_value, g_value = s.run([y, g])
    # y[p] = x[perm[p]] = perm[p], so dL/dx[perm[p]] = 10 p
    expected = np.zeros(6)
    expected[y_value.astype(int)] = np.arange(6) * 10.0
    np.testing.assert_array_equal(g_value, expected)


def test_misc_ops_errors_name_the_problem():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="random_shuffle: tgc needs the rank of"):
            misc_ops.random_shuffle(tf.placeholder(tf.float32))
        with pytest.raises(ValueError, match="Only scalar multiply works, got shape"):
            misc_ops.scalar_mul(tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]))
        with pytest.raises(TypeError, match="logical_xor: x .* must be bool, got float32"):
            misc_ops.logical_xor(tf.constant(1.0), tf.constant(True))
        with pytest.raises(ValueError, match="matrix_diag_part: tgc needs the last two"):
            misc_ops.matrix_diag_part(tf.placeholder(tf.float32, [3, None]))
        with pytest.raises(ValueError, match="main diagonal only .*'k'"):
            misc_ops.matrix_diag(tf.constant([1.0]), k=1)
        with pytest.raises(ValueError, match="must be at least 2-D"):
            misc_ops.matrix_diag_part(tf.constant([1.0]))


def test_the_ops_are_tfs_names():
    for name in oracle._NAMES + ("random_shuffle",):
        assert getattr(tf, name) is getattr(misc_ops, name), name
    for name in oracle._NN_NAMES:
        assert getattr(tf.nn, name) is getattr(misc_ops, name), name
