"""tf.is_nan / is_inf / is_finite, tf.math.top_k and in_top_k, tf.cumsum and tf.cumprod
(tgc/frontend/math_ops_more.py) against TensorFlow 2.21's values, gradients against finite
differences, and the errors for bad inputs.

``TF_VALUES`` is the output of

    /tmp/tfenv/bin/python tests/oracle/math_ops_more.py

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled). The oracle file
holds the programs (each takes the API module as ``t``); this test runs the same ones under tgc.
Non-finite floats are spelled 'nan', 'inf', '-inf' there (JSON has none).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tgc as tf

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "math_ops_more.py"
_spec = importlib.util.spec_from_file_location("math_ops_more_oracle", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def assert_same(got, want, path="", rtol=2e-6):
    """Nested lists compared leaf by leaf: floats within float32 rounding of the largest
    magnitude (TF's and tgc's sums need not add in the same order), NaN equal to NaN, the rest
    exactly."""
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), path
        for key in want:
            assert_same(got[key], want[key], f"{path}.{key}", rtol)
    elif isinstance(want, list) and want and isinstance(want[0], (list, dict)):
        assert len(got) == len(want), path
        for i, (a, b) in enumerate(zip(got, want)):
            assert_same(a, b, f"{path}[{i}]", rtol)
    else:
        g, w = _numbers(got), _numbers(want)
        if w.dtype.kind not in "fiub":  # shapes with None, dtype names
            assert got == want, path
            return
        assert g.dtype.kind == w.dtype.kind or {g.dtype.kind, w.dtype.kind} <= {"i", "f"}, path
        assert g.shape == w.shape, path
        finite = np.abs(w[np.isfinite(w)]) if w.dtype.kind == "f" else np.abs(w)
        scale = max(1.0, float(np.max(finite, initial=0.0)))
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * scale, err_msg=path)


def _numbers(values):
    """'nan', 'inf', '-inf' (the oracle's spelling) as floats."""
    if isinstance(values, list) and any(isinstance(v, str) for v in np.ravel(values)):
        return np.asarray(values, dtype=object).astype(np.float64)
    return np.asarray(values)


@pytest.mark.parametrize("program", oracle.PROGRAMS, ids=lambda p: p.__name__)
def test_matches_tensorflow(program):
    assert_same(program(tf), TF_VALUES[program.__name__])


def test_top_k_values_are_one_output_and_indices_int32():
    x = tf.placeholder(tf.float32, [None, 4])
    out = tf.math.top_k(x, 2)
    assert out.values is out[0] and out.indices is out[1]
    assert out.values.shape.as_list() == [None, 2] and out.indices.dtype == tf.int32


def test_top_k_orders_nan_first_and_keeps_a_permutation():
    # TF's kernel puts a NaN first too (its order among several NaNs is not defined); tgc ranks
    # NaN above everything, lower index first, so the indices stay a permutation.
    x = tf.constant([[np.nan, 1.0, np.inf, np.nan, -np.inf]])
    values, indices = tf.Session().run(list(tf.math.top_k(x, 5)))
    np.testing.assert_array_equal(indices, [[0, 3, 2, 1, 4]])
    np.testing.assert_array_equal(values, [[np.nan, np.nan, np.inf, 1.0, -np.inf]])


def _finite_difference_check(build, value, eps=1e-6):
    """tgc's gradient of sum(build(x) * w) against central differences, in float64."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, value.shape)
        y = build(x)
        w = tf.constant(np.random.RandomState(0).uniform(-1, 1, y.shape.as_list()))
        loss = tf.reduce_sum(y * w)
        grad = tf.gradients(loss, x)[0]
        with tf.Session() as s:
            got = s.run(grad, {x: value})
            want = np.zeros_like(value)
            for i in np.ndindex(value.shape):
                step = np.zeros_like(value)
                step[i] = eps
                up, down = s.run(loss, {x: value + step}), s.run(loss, {x: value - step})
                want[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


# Rows with zeros: TF's cumprod gradient divides by x there (NaN); tgc's products have none.
_WITH_ZEROS = np.array(
    [[1.5, 0.0, -2.0, 0.5, 3.0, 0.0, 1.25], [0.5, 2.0, 0.0, -1.0, 1.0, 2.0, 3.0]]
)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_scan_gradients_match_finite_differences(op, exclusive, reverse):
    scan = getattr(tf, op)
    _finite_difference_check(
        lambda x: scan(x, axis=1, exclusive=exclusive, reverse=reverse), _WITH_ZEROS
    )


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_scans_along_a_run_time_length(op, exclusive, reverse):
    """An axis of unknown length (a [None] episode of rewards) is scanned through a run-time
    mask: the values are numpy's, the gradient the finite differences'."""
    scan = getattr(tf, op)
    numpy_scan = getattr(np, op)
    a = _WITH_ZEROS.T  # [7, 2], scanned along the 7
    x = tf.placeholder(tf.float64, [None, 2])
    y = scan(x, exclusive=exclusive, reverse=reverse)
    assert y.shape.as_list() == [None, 2]
    flipped = a[::-1] if reverse else a
    want = numpy_scan(flipped, axis=0)
    if exclusive:
        want = np.concatenate([np.full((1, 2), 0.0 if op == "cumsum" else 1.0), want[:-1]])
    want = want[::-1] if reverse else want
    np.testing.assert_allclose(tf.Session().run(y, {x: a}), want, rtol=1e-12)

    def build(t):
        unknown = tf.placeholder_with_default(t, [None, 2])
        return tf.reshape(scan(unknown, exclusive=exclusive, reverse=reverse), [7, 2])

    _finite_difference_check(build, a)


def test_top_k_gradient_matches_finite_differences():
    value = np.random.RandomState(1).permutation(24).reshape(2, 3, 4) / 7.0
    _finite_difference_check(lambda x: tf.math.top_k(x, 3).values, value)


def test_scans_take_run_time_dims_of_other_axes():
    x = tf.placeholder(tf.float32, [None, 3, None])
    y = tf.cumsum(x, axis=1, reverse=True)
    assert y.shape.as_list() == [None, 3, None]
    a = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    np.testing.assert_array_equal(
        tf.Session().run(y, {x: a}), np.flip(np.cumsum(np.flip(a, 1), 1), 1)
    )


def test_long_scan_matches_numpy():
    a = np.random.RandomState(2).uniform(-1, 1, (3, 1000))
    x = tf.placeholder(tf.float64, [None, 1000])
    got = tf.Session().run([tf.cumsum(x, 1), tf.cumsum(x, 1, exclusive=True)], {x: a})
    np.testing.assert_allclose(got[0], np.cumsum(a, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1][:, 1:], np.cumsum(a, 1)[:, :-1], rtol=1e-12, atol=1e-12)
    assert not got[1][:, 0].any()


def test_errors_of_tensorflow_when_tf_raises_them():
    x = tf.placeholder(tf.float32, [2, 3])
    errors = TF_VALUES["errors"]
    assert errors["top_k_k_too_large"][0] == "ValueError"
    with pytest.raises(ValueError, match=r"input must have last dimension >= k = 5"):
        tf.math.top_k(x, 5)
    assert "must be non-negative but is -1" in errors["top_k_negative_k"][1]
    with pytest.raises(ValueError, match=r"must be non-negative but is -1"):
        tf.math.top_k(x, -1)
    assert "Dimensions must be equal, but are 2 and 3" in errors["in_top_k_batch"][1]
    with pytest.raises(ValueError, match=r"Dimensions must be equal, but are 2 and 3"):
        tf.math.in_top_k(x, tf.constant([1, 2, 0]), 1)
    assert errors["is_nan_int"][0] == "TypeError"
    with pytest.raises(TypeError, match=r"DataType int32 not in list of allowed values"):
        tf.is_nan(tf.constant([1, 2]))


def test_errors_where_tgc_needs_more_than_tensorflow():
    with pytest.raises(ValueError, match=r"top_k: the last dim of 'Placeholder.*must be known"):
        tf.math.top_k(tf.placeholder(tf.float32, [2, None]), 1)
    with pytest.raises(ValueError, match=r"top_k: k must be known when the graph is built"):
        tf.math.top_k(tf.constant([1.0, 2.0]), tf.placeholder(tf.int32, []))
    with pytest.raises(ValueError, match=r"cumsum: .* must have a known rank of 1 or more"):
        tf.cumsum(tf.placeholder(tf.float32))
    with pytest.raises(ValueError, match=r"cumprod: axis 2 is out of range"):
        tf.cumprod(tf.placeholder(tf.float32, [3, 2]), axis=2)
    with pytest.raises(TypeError, match=r"in_top_k: predictions must be float32"):
        tf.math.in_top_k(tf.constant([[1.0, 2.0]], tf.float64), [0], 1)
    with pytest.raises(TypeError, match=r"cumsum: .* has DataType bool"):
        tf.cumsum(tf.constant([True, False]))


# Printed by tests/oracle/math_ops_more.py under TensorFlow 2.21.0.
TF_VALUES = {
    "non_finite": [
        [[True, False, False], [False, False, False]],
        [[False, True, True], [False, False, False]],
        [[False, False, False], [True, True, True]],
        [True, False, False, False],
        [False, True, False, True],
    ],
    "top_k": {
        "values": [
            [[[3.0, 3.0, 3.0], [5.0, 5.0, 4.0]], [[1, 2, 5], [2, 3, 4]]],
            [
                [[3.0, 3.0, 3.0, 2.0, 1.0, 0.0], [5.0, 5.0, 4.0, -1.0, -2.0, "-inf"]],
                [[1, 2, 5, 3, 0, 4], [2, 3, 4, 0, 1, 5]],
            ],
            [[[3.0], [5.0]], [[1], [2]]],
            [[[3.0, 3.0], [5.0, 5.0]], [[1, 2], [2, 3]]],
            [
                [[[2.0, 1.0], [4.0, 3.0]], [[3.0, 2.0], [4.0, 1.0]]],
                [[[0, 1], [1, 2]], [[0, 1], [2, 0]]],
            ],
            [[[9, 4], [2, 2]], [[3, 0], [0, 1]]],
            [[7.0, 2.0], [1, 0]],
            [[[], []], [[], []]],
        ],
        "shapes": [[[None, 3], [None, 3], "int32"], [[None, 6], [None, 6], "int32"]],
    },
    "top_k_gradient": [[0.0, 1.0, 2.0, 0.0, 0.0, 3.0], [0.0, 0.0, 4.0, 5.0, 6.0, 0.0]],
    "in_top_k": [
        [False, True, False, False],
        [True, True, False, False],
        [True, True, False, True],
        [False, False, False, False],
        [False, False],
    ],
    "scans": [
        [[1.0, -1.0, 2.0, 2.5, 4.5], [0.5, 0.5, -1.0, 1.0, 2.0]],
        [[4.5, 3.5, 5.5, 2.5, 2.0], [2.0, 1.5, 1.5, 3.0, 1.0]],
        [[0.0, 1.0, -1.0, 2.0, 2.5], [0.0, 0.5, 0.5, -1.0, 1.0]],
        [[3.5, 5.5, 2.5, 2.0, 0.0], [1.5, 1.5, 3.0, 1.0, 0.0]],
        [[1.0, -2.0, 3.0, 0.5, 2.0], [1.5, -2.0, 1.5, 2.5, 3.0]],
        [[1.0, -1.0, 2.0, 2.5, 4.5], [0.5, 0.5, -1.0, 1.0, 2.0]],
        [[1, 2, 3], [5, 7, 9]],
        [[5, 3, 0], [11, 6, 0]],
        [0.0, 0.25, 0.75, 1.5, 2.5, 3.75, 5.25, 7.0, 9.0, 11.25, 13.75, 16.5, 19.5],
        [22.75, 22.5, 22.0, 21.25, 20.25, 19.0, 17.5, 15.75, 13.75, 11.5, 9.0, 6.25, 3.25],
        [[1.0, -2.0, -6.0, -3.0, -6.0], [0.5, 0.0, -0.0, -0.0, -0.0]],
        [[-6.0, -6.0, 3.0, 1.0, 2.0], [-0.0, -0.0, -3.0, 2.0, 1.0]],
        [[1.0, 1.0, -2.0, -6.0, -3.0], [1.0, 0.5, 0.0, -0.0, -0.0]],
        [[-6.0, 3.0, 1.0, 2.0, 1.0], [-0.0, -3.0, 2.0, 1.0, 1.0]],
        [[1.0, -2.0, 3.0, 0.5, 2.0], [0.5, -0.0, -4.5, 1.0, 2.0]],
        [[1.0, -2.0, -6.0, -3.0, -6.0], [0.5, 0.0, -0.0, -0.0, -0.0]],
        [[1, 2, 3], [4, 10, 18]],
        [[6, 3, 1], [30, 6, 1]],
        [
            1.0,
            0.25,
            0.125,
            0.09375,
            0.09375,
            0.1171875,
            0.17578125,
            0.3076171875,
            0.615234375,
            1.38427734375,
            3.460693359375,
            9.51690673828125,
            28.55072021484375,
        ],
        [
            92.78984069824219,
            371.15936279296875,
            742.3187255859375,
            989.75830078125,
            989.75830078125,
            791.806640625,
            527.87109375,
            301.640625,
            150.8203125,
            67.03125,
            26.8125,
            9.75,
            3.25,
        ],
    ],
    "scan_gradients": [
        [
            [
                -1.6666665077209473,
                -0.666666567325592,
                5.960464477539063e-08,
                0.3333333730697632,
                0.3333333730697632,
            ],
            [6.666666507720947, 6.0, 5.0, 3.6666667461395264, 2.0],
        ],
        [
            [-1.0, -1.6666666269302368, -2.0, -2.0, -1.6666666269302368],
            [0.6666666269302368, 1.6666666269302368, 3.0, 4.6666669845581055, 6.6666669845581055],
        ],
        [
            [
                -0.666666567325592,
                5.960464477539063e-08,
                0.3333333730697632,
                0.3333333730697632,
                0.0,
            ],
            [6.0, 5.0, 3.6666667461395264, 2.0, 0.0],
        ],
        [
            [0.0, -1.0, -1.6666666269302368, -2.0, -2.0],
            [0.0, 0.6666666269302368, 1.6666666269302368, 3.0, 4.6666669845581055],
        ],
        [
            [
                -0.3333333730697632,
                0.3333333730697632,
                0.9999999403953552,
                1.6666667461395264,
                2.3333334922790527,
            ],
            [0.6666666269302368, 1.0, 1.3333332538604736, 1.6666667461395264, 2.0],
        ],
        [
            [
                0.333332896232605,
                -0.6666664481163025,
                -1.1920928955078125e-07,
                -4.000000476837158,
                -1.0000001192092896,
            ],
            [-17.33333396911621, -6.0, 6.5, -4.125, -4.5],
        ],
        [
            [6.0, -5.0, 3.0, 18.0, 4.833333492279053],
            [-2.999999761581421, -4.0, 6.666666507720947, -3.3333332538604736, -4.666666507720947],
        ],
        [
            [
                -1.0000001192092896,
                0.16666674613952637,
                -0.3333333730697632,
                -2.000000238418579,
                0.0,
            ],
            [-9.75, -3.5833332538604736, 4.25, -2.25, 0.0],
        ],
        [
            [0.0, -3.0, 1.3333333730697632, 7.333333492279053, 1.8333333730697632],
            [0.0, -1.9999998807907104, 4.0, -1.6666667461395264, -1.6666667461395264],
        ],
        [
            [
                -0.6666666865348816,
                0.8333333730697632,
                -2.3333332538604736,
                3.3333334922790527,
                2.3333334922790527,
            ],
            [0.6666666269302368, -2.0, 3.999999761581421, 0.8333333730697632, 4.0],
        ],
    ],
    "errors": {
        "top_k_k_too_large": [
            "ValueError",
            "input must have last dimension >= k = 5 but is 3 for '{{node "
            "TopKV2}} = TopKV2[T=DT_FLOAT, Tk=DT_INT32, "
            "index_type=DT_INT32, sorted=true](Placeholder, TopKV2/k)' with "
            "input shapes: [2,3], [] and with computed input tensors: "
            "input[1] = <5>.",
        ],
        "top_k_negative_k": [
            "ValueError",
            "Dimension size, given by scalar input 1, must be non-negative "
            "but is -1 for '{{node TopKV2_1}} = TopKV2[T=DT_FLOAT, "
            "Tk=DT_INT32, index_type=DT_INT32, sorted=true](Placeholder, "
            "TopKV2_1/k)' with input shapes: [2,3], [] and with computed "
            "input tensors: input[1] = <-1>.",
        ],
        "in_top_k_batch": [
            "ValueError",
            "Dimensions must be equal, but are 2 and 3 for '{{node "
            "in_top_k/InTopKV2}} = InTopKV2[T=DT_INT32](Placeholder, Const, "
            "in_top_k/InTopKV2/k)' with input shapes: [2,3], [3], [].",
        ],
        "is_nan_int": [
            "TypeError",
            "Value passed to parameter 'x' has DataType int32 not in list of "
            "allowed values: bfloat16, float16, float32, float64",
        ],
    },
}
