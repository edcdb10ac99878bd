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
import types
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import bitwise_ops, math_ops_composed, math_ops_more, nn_more, segment_ops
from tgc.frontend.math_ops_composed import einsum as tf_einsum
from tgc.frontend.math_ops_composed import norm as tf_norm

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
    elif isinstance(want, list) and any(isinstance(v, (list, dict)) for v in want):
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
    words = [v for v in np.ravel(values) if isinstance(v, str)] if isinstance(values, list) else []
    if words and set(words) <= {"nan", "inf", "-inf"}:
        return np.asarray(values, dtype=object).astype(np.float64)
    return np.asarray(values)


def _namespace(base, **names):
    """``base``'s names plus ``names`` (the modules' own functions, before tgc exports them)."""
    space = types.SimpleNamespace(**{k: getattr(base, k) for k in dir(base) if k[:2] != "__"})
    for key, value in names.items():
        setattr(space, key, value)
    return space


# tf.norm / cross / einsum, the segment ops, tf.bitwise and the tf.nn names, as tgc/__init__.py
# is asked to export them.
T = _namespace(
    tf,
    norm=math_ops_composed.norm,
    cross=math_ops_composed.cross,
    einsum=math_ops_composed.einsum,
    nn=_namespace(tf.nn, **{name: getattr(nn_more, name) for name in nn_more.__all__}),
    bitwise=bitwise_ops,
    **{name: getattr(segment_ops, name) for name in segment_ops.__all__},
)


@pytest.mark.parametrize(
    "program",
    oracle.PROGRAMS + oracle.MORE_PROGRAMS + oracle.SEGMENT_PROGRAMS,
    ids=lambda p: p.__name__,
)
def test_matches_tensorflow(program):
    assert_same(program(T), TF_VALUES[program.__name__])


@pytest.fixture
def top_k_by_selection(monkeypatch):
    """top_k's selection steps even for short rows (they take rows over 64 long otherwise)."""
    monkeypatch.setattr(math_ops_more, "_PAIRWISE_MAX_ROW", 0)


@pytest.mark.parametrize("program", [oracle.top_k, oracle.top_k_gradient], ids=lambda p: p.__name__)
def test_top_k_by_selection_matches_tensorflow(program, top_k_by_selection):
    assert_same(program(T), TF_VALUES[program.__name__])


def test_top_k_by_selection_agrees_with_ranks_on_long_rows():
    rng = np.random.RandomState(6)
    a = rng.randint(0, 20, (3, 100)).astype(np.float32)  # many ties
    a[0, [5, 50]] = np.nan
    a[1, :] = -np.inf
    a[1, 3] = 2.0
    a[2, 7] = np.inf
    x = tf.placeholder(tf.float32, [None, 100])
    selected = tf.math.top_k(x, 10)  # 100 > 64: selection steps
    # NaN sorts first, lower index first: as +inf here (row 0, with the NaNs, has no inf).
    order = np.argsort(-np.nan_to_num(a, nan=np.inf), axis=1, kind="stable")[:, :10]
    values, indices = tf.Session().run(list(selected), {x: a})
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(values, np.take_along_axis(a, order, axis=1))


def test_top_k_values_are_one_output_and_indices_int32():
    x = tf.placeholder(tf.float32, [None, 4])
    out = tf.math.top_k(x, 2)
    assert out.values is out[0] and out.indices is out[1]
    assert out.values.shape.as_list() == [None, 2] and out.indices.dtype == tf.int32


@pytest.mark.parametrize("path", ["ranks", "selection"])
def test_top_k_orders_nan_first_and_keeps_a_permutation(path, monkeypatch):
    if path == "selection":
        monkeypatch.setattr(math_ops_more, "_PAIRWISE_MAX_ROW", 0)
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


@pytest.mark.parametrize("path", ["ranks", "selection"])
def test_top_k_gradient_matches_finite_differences(path, monkeypatch):
    if path == "selection":
        monkeypatch.setattr(math_ops_more, "_PAIRWISE_MAX_ROW", 0)
    value = np.random.RandomState(1).permutation(24).reshape(2, 3, 4) / 7.0
    _finite_difference_check(lambda x: tf.math.top_k(x, 3).values, value)


@pytest.mark.parametrize(
    "equation", ["bij,bjk->bik", "ij,kj->ik", "ijk->kj", "bi,bi->b", "ij,jk,kl->li"]
)
def test_einsum_gradient_matches_finite_differences(equation):
    rng = np.random.RandomState(3)
    subs = equation.split("->")[0].split(",")
    sizes = {"b": 2, "i": 3, "j": 4, "k": 2, "l": 3}
    others = [rng.uniform(-1, 1, [sizes[c] for c in sub]) for sub in subs[1:]]
    value = rng.uniform(-1, 1, [sizes[c] for c in subs[0]])
    _finite_difference_check(lambda x: tf_einsum(equation, x, *others), value)


@pytest.mark.parametrize("ord", ["euclidean", 1, 3, np.inf])
def test_norm_gradient_matches_finite_differences(ord):
    value = np.random.RandomState(4).uniform(-1, 1, (3, 4))
    _finite_difference_check(lambda x: tf_norm(x, ord=ord, axis=1), value)


def test_selu_and_weighted_cross_entropy_gradients_match_finite_differences():
    value = np.linspace(-3, 3, 12).reshape(3, 4) + 0.01
    _finite_difference_check(nn_more.selu, value)
    labels = np.linspace(0, 1, 12).reshape(3, 4)
    _finite_difference_check(
        lambda x: nn_more.weighted_cross_entropy_with_logits(labels, x, pos_weight=2.5), value
    )


@pytest.mark.parametrize("kind", ["sum", "mean", "max", "min", "prod"])
def test_segment_gradients_match_finite_differences(kind):
    # Every segment has rows: an empty max segment's lowest float would swamp the differences.
    value = np.random.RandomState(5).permutation(18).reshape(6, 3) / 4.0 - 2.0  # no ties

    def sorted_op(x):
        ids = tf.placeholder_with_default(np.array([0, 0, 1, 2, 2, 2], np.int32), [None])
        y = getattr(segment_ops, f"segment_{kind}")(x, ids)
        return tf.reshape(y, [3, 3])

    def unsorted_op(x):
        ids = tf.placeholder_with_default(np.array([2, -1, 0, 2, 0, 1], np.int32), [None])
        return getattr(segment_ops, f"unsorted_segment_{kind}")(x, ids, 3)

    _finite_difference_check(sorted_op, value)
    _finite_difference_check(unsorted_op, value)


def test_segment_ids_are_checked_at_run_time():
    data = tf.constant([[1.0], [2.0], [3.0]])
    ids = tf.placeholder(tf.int32, [3])
    sums = segment_ops.unsorted_segment_sum(data, ids, 2)
    sorted_sums = segment_ops.segment_sum(data, ids)
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run(sums, {ids: [1, -1, 1]}), [[0.0], [4.0]])
        # TF 2.21's texts (tests/oracle/kernel_messages.py)
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"^segment_ids\[1\] = 2 is out of range \[0, 2\)"
        ):
            s.run(sums, {ids: [0, 2, 1]})
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"^segment ids are not increasing"
        ):
            s.run(sorted_sums, {ids: [1, 0, 1]})
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"^Segment id -1 out of range \[0, 1\), possibly"
        ):
            s.run(sorted_sums, {ids: [-1, 0, 0]})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"^segment ids must be >= 0"):
            s.run(sorted_sums, {ids: [0, -2, -1]})


def test_segment_errors_when_building():
    with pytest.raises(ValueError, match=r"segment_ids.shape = \(2,\) does not start data"):
        segment_ops.segment_sum(tf.ones([3, 2]), [0, 1])
    with pytest.raises(TypeError, match=r"segment_ids must be int32 or int64 but are float32"):
        segment_ops.unsorted_segment_sum(tf.ones([2]), [0.0, 1.0], 2)
    with pytest.raises(ValueError, match=r"num_segments must be >= 0 but is -1"):
        segment_ops.unsorted_segment_max(tf.ones([2]), [0, 1], -1)
    with pytest.raises(ValueError, match=r"nbins should be > 0 but is 0"):
        segment_ops.histogram_fixed_width(tf.ones([2]), [0.0, 1.0], nbins=0)
    with pytest.raises(ValueError, match=r"unique_with_counts takes a 1-D tensor"):
        segment_ops.unique_with_counts(tf.ones([2, 2]))


def test_bitwise_ops_stay_on_the_cpu_when_asked_onto_the_accelerator(capsys):
    """The accelerator's lowering validates float math only: with soft placement, bitwise ops
    asked onto it run on the CPU (the placement log says so) and give the CPU's numbers."""
    soft = tf.ConfigProto(
        device_count={"ACCEL": 1}, allow_soft_placement=True, log_device_placement=True
    )
    graph = tf.Graph()
    with graph.as_default():
        a = tf.placeholder(tf.int32, [4], name="a")
        with tf.device("/accel:0"):
            out = bitwise_ops.left_shift(bitwise_ops.bitwise_xor(a, 6), 2, name="shifted")
        with tf.Session(config=soft) as sess:
            got = sess.run(out, {a: [1, 2, -3, 40]})
    np.testing.assert_array_equal(got, (np.array([1, 2, -3, 40]) ^ 6) << 2)
    lines = [line for line in capsys.readouterr().err.splitlines() if "(tgc.left_shift)" in line]
    assert lines and all("device:CPU:0" in line for line in lines), lines


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
    """The oracle's bad inputs: the same error class as TF's, and its message (the part before
    TF's node annotation) inside tgc's."""
    got = oracle.errors(T)
    assert sorted(got) == sorted(TF_VALUES["errors"])
    for key, (kind, message) in TF_VALUES["errors"].items():
        assert got[key] is not None, f"{key}: tgc raised nothing where TF raises {kind}: {message}"
        assert got[key][0] == kind, (key, got[key])
        if key in _SHORTER_DTYPE_LISTS:  # tgc has no uint16, uint32, uint64 to list
            message = message.split(": int8")[0]
        assert message.split(" for '{{node")[0] in got[key][1], (key, got[key])


_SHORTER_DTYPE_LISTS = ("bitwise_float", "invert_float")


def test_errors_where_tgc_needs_more_than_tensorflow():
    with pytest.raises(ValueError, match=r"top_k: the last dim of 'Placeholder.*must be known"):
        tf.math.top_k(tf.placeholder(tf.float32, [2, None]), 1)
    with pytest.raises(ValueError, match=r"top_k: k must be known when the graph is built"):
        tf.math.top_k(tf.constant([1.0, 2.0]), tf.placeholder(tf.int32, []))
    with pytest.raises(ValueError, match=r"norm: ord=2 over the matrix axes \[0, 1\] is not"):
        tf_norm(tf.placeholder(tf.float32, [2, 3]), ord=2, axis=[0, 1])
    with pytest.raises(ValueError, match=r"einsum: equation '\.\.\.ij->\.\.\.ji' has an ellipsis"):
        tf_einsum("...ij->...ji", tf.placeholder(tf.float32, [2, 3]))
    with pytest.raises(ValueError, match=r"einsum: subscripts 'ii' of 'ii->i' repeat a letter"):
        tf_einsum("ii->i", tf.placeholder(tf.float32, [3, 3]))
    with pytest.raises(ValueError, match=r"einsum: subscripts 'ijk' .* name 3 axes but"):
        tf_einsum("ijk->i", tf.placeholder(tf.float32, [3, 3]))
    with pytest.raises(ValueError, match=r"einsum: letter 'j' is 3 long in .* but 4"):
        tf_einsum("ij,jk->ik", tf.ones([2, 3]), tf.ones([4, 2]))
    with pytest.raises(ValueError, match=r"einsum: equation 'ij,jk->ik' has 2 input subscripts"):
        tf_einsum("ij,jk->ik", tf.ones([2, 3]))
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
    "norms": [
        5.505678653717041,
        10.75,
        4.0,
        4.643763542175293,
        [3.7416574954986572, 4.038873672485352],
        [[1.5, 6.0, 3.25]],
        [3.0, 4.0],
        5.505678653717041,
        6.0,
        [[6.0]],
        [[5.505678653717041]],
        [
            [0.26726123690605164, -0.5345224738121033, 0.8017836809158325],
            [-0.12379688769578934, 0.9903751015663147, 0.06189844384789467],
        ],
        [[0.0, -1.0, 0.0], [-0.0, 1.0, 0.0]],
    ],
    "cross_products": [[[-1.0, 2.5, 2.0], [4.0, 1.0, -8.0]], [[5.0, -2.5, 0.0], [-0.5, -5.0, 1.0]]],
    "einsums": [
        [
            "ij,jk->ik",
            [
                [[2.25, 0.75, -0.75, 1.25], [-0.75, 0.0, 0.75, -0.25]],
                [
                    [2.4285714626312256, -1.6428571939468384, 1.2857143878936768],
                    [-1.0, 0.07142853736877441, 0.1428571343421936],
                ],
                [
                    [1.5, 1.0714285373687744, 0.6428571343421936, 0.2142857313156128],
                    [
                        1.0714285373687744,
                        0.9285714626312256,
                        0.7857142686843872,
                        0.6428571343421936,
                    ],
                    [
                        0.6428571343421936,
                        0.7857142686843872,
                        0.9285714626312256,
                        1.0714285373687744,
                    ],
                ],
            ],
        ],
        [
            "ij,jk",
            [
                [[2.25, 0.75, -0.75, 1.25], [-0.75, 0.0, 0.75, -0.25]],
                [
                    [2.4285714626312256, -1.6428571939468384, 1.2857143878936768],
                    [-1.0, 0.07142853736877441, 0.1428571343421936],
                ],
                [
                    [1.5, 1.0714285373687744, 0.6428571343421936, 0.2142857313156128],
                    [
                        1.0714285373687744,
                        0.9285714626312256,
                        0.7857142686843872,
                        0.6428571343421936,
                    ],
                    [
                        0.6428571343421936,
                        0.7857142686843872,
                        0.9285714626312256,
                        1.0714285373687744,
                    ],
                ],
            ],
        ],
        [
            "bij,bjk->bik",
            [
                [
                    [[2.25, 0.75, -0.75, 1.25], [-0.75, 0.0, 0.75, -0.25]],
                    [[0.75, 3.75, -2.0, -2.5], [0.25, -1.5, 0.25, 0.25]],
                ],
                [
                    [
                        [2.7333335876464844, -1.566666603088379, 1.133333444595337],
                        [1.1333333253860474, -0.7666666507720947, 0.5999999642372131],
                    ],
                    [
                        [-0.6000000238418579, 0.6000000238418579, -0.7666666507720947],
                        [-0.5999999642372131, 1.1333333253860474, -1.566666603088379],
                    ],
                ],
                [
                    [
                        [1.5, 1.2999999523162842, 1.100000023841858, 0.9000000357627869],
                        [
                            0.7666666507720947,
                            0.699999988079071,
                            0.6333333253860474,
                            0.5666666626930237,
                        ],
                        [
                            0.03333333134651184,
                            0.09999999403953552,
                            0.1666666716337204,
                            0.23333334922790527,
                        ],
                    ],
                    [
                        [
                            -0.20000000298023224,
                            -0.06666666269302368,
                            0.06666666269302368,
                            0.19999998807907104,
                        ],
                        [-0.10000000894069672, -0.30000001192092896, -0.5, -0.699999988079071],
                        [
                            0.23333334922790527,
                            0.1666666716337204,
                            0.09999999403953552,
                            0.03333333134651184,
                        ],
                    ],
                ],
            ],
        ],
        [
            "bij,jk->bik",
            [
                [
                    [[2.25, 0.75, -0.75, 1.25], [-0.75, 0.0, 0.75, -0.25]],
                    [[-2.0, -2.5, -3.0, 1.75], [0.25, 0.25, 0.25, 0.25]],
                ],
                [
                    [
                        [2.7333335876464844, -1.566666603088379, 1.133333444595337],
                        [1.1333333253860474, -0.7666666507720947, 0.5999999642372131],
                    ],
                    [
                        [-0.46666669845581055, 0.033333346247673035, 0.06666666269302368],
                        [-2.066666841506958, 0.8333332538604736, -0.46666669845581055],
                    ],
                ],
                [
                    [1.2999999523162842, 1.2333332300186157, 1.1666667461395264, 1.100000023841858],
                    [
                        0.6666666269302368,
                        0.3999999761581421,
                        0.13333331048488617,
                        -0.13333334028720856,
                    ],
                    [
                        0.2666666805744171,
                        0.2666666507720947,
                        0.2666666507720947,
                        0.2666666805744171,
                    ],
                ],
            ],
        ],
        [
            "ij->ji",
            [
                [[-1.5, 0.0], [-1.0, 0.5], [-0.5, 1.0]],
                [
                    [-1.0, -0.20000000298023224, 0.6000000238418579],
                    [-0.6000000238418579, 0.20000000298023224, 1.0],
                ],
            ],
        ],
        ["ij->", [-1.5, [[-1.0, -1.0, -1.0], [-1.0, -1.0, -1.0]]]],
        ["ij->j", [[-1.5, -0.5, 0.5], [[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]]],
        [
            "i,j->ij",
            [
                [[2.25, 1.5, 0.75, 0.0], [1.5, 1.0, 0.5, 0.0], [0.75, 0.5, 0.25, 0.0]],
                [2.6363635063171387, 0.45454543828964233, -1.727272629737854],
                [1.545454502105713, 1.0, 0.4545454680919647, -0.09090909361839294],
            ],
        ],
        ["i,i->", [3.5, [1.5, 1.0, 0.5], [1.5, 1.0, 0.5]]],
        [
            "bi,bi->b",
            [[3.5, 1.25], [[1.5, 1.0, 0.5], [0.0, 0.5, 1.0]], [[1.5, 1.0, 0.5], [0.0, 0.5, 1.0]]],
        ],
        [
            "ijk->kji",
            [
                [
                    [[-1.5, 1.0], [0.5, -0.5], [-1.0, 1.5]],
                    [[-1.0, 1.5], [1.0, 0.0], [-0.5, -1.5]],
                    [[-0.5, -1.5], [1.5, 0.5], [0.0, -1.0]],
                    [[0.0, -1.0], [-1.5, 1.0], [0.5, -0.5]],
                ],
                [
                    [
                        [-1.0, -0.47826087474823, 0.043478261679410934, 0.5652173757553101],
                        [
                            -0.8260869383811951,
                            -0.30434781312942505,
                            0.21739129722118378,
                            0.739130437374115,
                        ],
                        [
                            -0.6521739363670349,
                            -0.1304347813129425,
                            0.3913043439388275,
                            0.9130434989929199,
                        ],
                    ],
                    [
                        [
                            -0.9130434989929199,
                            -0.3913043439388275,
                            0.1304347813129425,
                            0.6521739363670349,
                        ],
                        [
                            -0.739130437374115,
                            -0.21739129722118378,
                            0.30434781312942505,
                            0.8260869383811951,
                        ],
                        [-0.5652173757553101, -0.043478261679410934, 0.47826087474823, 1.0],
                    ],
                ],
            ],
        ],
        [
            "ij,jk,kl->il",
            [
                [[-2.25, -4.875], [1.125, 1.875]],
                [
                    [-2.8333332538604736, 1.6666666269302368, -2.5833332538604736],
                    [1.8333333730697632, 2.3333332538604736, 1.0833333730697632],
                ],
                [
                    [-2.75, -0.75, 1.25, 1.5],
                    [
                        -2.5833334922790527,
                        -0.5833333134651184,
                        1.4166667461395264,
                        0.4999999403953552,
                    ],
                    [
                        -2.4166665077209473,
                        -0.4166666865348816,
                        1.5833332538604736,
                        -0.4999999403953552,
                    ],
                ],
                [
                    [-2.5, -1.5],
                    [-0.7500000596046448, -0.24999994039535522],
                    [0.9999999403953552, 1.0],
                    [-1.3333332538604736, -0.6666666865348816],
                ],
            ],
        ],
        [
            "abc,cd->abd",
            [
                [
                    [
                        [1.25, -0.25, 1.75, 0.25, 0.5],
                        [1.75, 2.5, -0.25, 0.5, -4.0],
                        [0.5, 0.0, 1.25, 0.75, 0.25],
                    ],
                    [
                        [1.0, 1.0, -4.25, -4.25, 1.0],
                        [-0.25, 0.25, 0.75, 1.25, 0.0],
                        [-3.25, -4.0, 0.5, -0.25, 2.5],
                    ],
                ],
                [
                    [
                        [
                            2.500000238418579,
                            0.051724016666412354,
                            -1.4310345649719238,
                            0.34482765197753906,
                        ],
                        [
                            1.637930989265442,
                            -0.12068964540958405,
                            -0.91379314661026,
                            0.3448275625705719,
                        ],
                        [
                            0.7758620977401733,
                            -0.29310342669487,
                            -0.3965517282485962,
                            0.3448275923728943,
                        ],
                    ],
                    [
                        [
                            -0.08620689809322357,
                            -0.46551722288131714,
                            0.12068969011306763,
                            0.3448275625705719,
                        ],
                        [
                            -0.9482758045196533,
                            -0.6379309892654419,
                            0.6379309892654419,
                            0.3448275923728943,
                        ],
                        [
                            -1.810344934463501,
                            -0.8103448748588562,
                            1.15517258644104,
                            0.34482765197753906,
                        ],
                    ],
                ],
                [
                    [
                        2.4137930870056152,
                        2.4137930870056152,
                        2.4137930870056152,
                        2.4137930870056152,
                        2.4137930870056152,
                    ],
                    [
                        -0.5344827175140381,
                        -0.568965494632721,
                        -0.6034482717514038,
                        -0.6379311084747314,
                        -0.6724138259887695,
                    ],
                    [
                        -1.0689654350280762,
                        -1.1379311084747314,
                        -1.2068965435028076,
                        -1.2758620977401733,
                        -1.3448275327682495,
                    ],
                    [
                        0.8103448748588562,
                        0.7068966627120972,
                        0.6034482717514038,
                        0.5,
                        0.3965517282485962,
                    ],
                ],
            ],
        ],
        [
            "bhqd,bhkd->bhqk",
            [
                [
                    [
                        [
                            [3.5, -2.5, 2.0, -2.25, 0.5],
                            [-2.5, 5.75, -1.75, 1.25, -1.0],
                            [2.0, -1.75, 1.5, -2.25, 1.0],
                        ],
                        [
                            [1.25, -2.25, -2.25, 1.25, -2.25],
                            [-1.75, 2.0, 0.5, -1.0, 1.0],
                            [5.75, -2.5, -0.25, -1.5, -1.0],
                        ],
                    ],
                    [
                        [
                            [-2.25, 2.0, -2.5, 3.5, -1.0],
                            [-2.25, 0.5, -0.25, -1.0, 3.5],
                            [1.25, -1.0, -1.5, -0.25, -2.5],
                        ],
                        [
                            [-1.75, 1.5, -2.25, 1.0, -1.0],
                            [1.25, -2.25, 6.5, -2.25, 1.25],
                            [-1.0, 1.0, -2.25, 1.5, -1.75],
                        ],
                    ],
                ],
                [
                    [
                        [
                            [
                                1.4830509424209595,
                                -0.8474575877189636,
                                -0.033898383378982544,
                                1.01694917678833,
                            ],
                            [
                                1.2288135290145874,
                                -0.6779661178588867,
                                -0.03389829397201538,
                                0.8474577069282532,
                            ],
                            [
                                0.9745762348175049,
                                -0.508474588394165,
                                -0.03389829397201538,
                                0.6779661774635315,
                            ],
                        ],
                        [
                            [
                                0.059322088956832886,
                                0.7203390598297119,
                                -0.33898305892944336,
                                -0.03389832377433777,
                            ],
                            [
                                -0.025423765182495117,
                                0.4661017060279846,
                                -0.1694914996623993,
                                -0.03389827162027359,
                            ],
                            [-0.11016949266195297, 0.2118644118309021, 0.0, -0.033898305147886276],
                        ],
                    ],
                    [
                        [
                            [
                                -0.11016947776079178,
                                -0.19491524994373322,
                                -0.04237288236618042,
                                0.16949151456356049,
                            ],
                            [
                                -0.025423750281333923,
                                -0.27966105937957764,
                                -0.29661017656326294,
                                0.33898305892944336,
                            ],
                            [
                                0.0593220591545105,
                                -0.3644067943096161,
                                -0.5508474707603455,
                                0.508474588394165,
                            ],
                        ],
                        [
                            [
                                0.9745762348175049,
                                0.14406776428222656,
                                -0.4491526186466217,
                                -0.8050846457481384,
                            ],
                            [
                                1.2288135290145874,
                                0.2288135290145874,
                                -0.5338983535766602,
                                -1.0593218803405762,
                            ],
                            [
                                1.48305082321167,
                                0.31355929374694824,
                                -0.618644118309021,
                                -1.3135592937469482,
                            ],
                        ],
                    ],
                ],
                [
                    [
                        [
                            [1.7457627058029175, 0.5, -0.7457627058029175, 0.9152542352676392],
                            [
                                1.6779661178588867,
                                0.4830508530139923,
                                -0.7118644118309021,
                                0.8813560009002686,
                            ],
                            [
                                1.610169529914856,
                                0.4661017060279846,
                                -0.6779661178588867,
                                0.8474575877189636,
                            ],
                            [
                                1.5423729419708252,
                                0.44915249943733215,
                                -0.6440678834915161,
                                0.8135592937469482,
                            ],
                            [
                                1.4745762348175049,
                                0.43220338225364685,
                                -0.6101694703102112,
                                0.7796609401702881,
                            ],
                        ],
                        [
                            [
                                -0.5593219995498657,
                                -0.508474588394165,
                                0.7288135290145874,
                                0.2457626760005951,
                            ],
                            [
                                -0.49152541160583496,
                                -0.508474588394165,
                                0.6610170006752014,
                                0.2288135588169098,
                            ],
                            [
                                -0.4237288236618042,
                                -0.508474588394165,
                                0.5932203531265259,
                                0.2118644118309021,
                            ],
                            [
                                -0.35593217611312866,
                                -0.508474588394165,
                                0.5254237055778503,
                                0.19491523504257202,
                            ],
                            [
                                -0.2881356179714203,
                                -0.508474588394165,
                                0.4576270878314972,
                                0.17796610295772552,
                            ],
                        ],
                    ],
                    [
                        [
                            [
                                -0.10169489681720734,
                                0.17796610295772552,
                                0.4576271176338196,
                                -0.508474588394165,
                            ],
                            [
                                -0.1355932205915451,
                                0.19491523504257202,
                                0.5254237055778503,
                                -0.508474588394165,
                            ],
                            [
                                -0.16949152946472168,
                                0.2118644118309021,
                                0.5932203531265259,
                                -0.508474588394165,
                            ],
                            [
                                -0.20338982343673706,
                                0.2288135588169098,
                                0.6610169410705566,
                                -0.508474588394165,
                            ],
                            [
                                -0.23728817701339722,
                                0.2457626760005951,
                                0.7288135290145874,
                                -0.508474588394165,
                            ],
                        ],
                        [
                            [
                                -0.26271185278892517,
                                0.7796609997749329,
                                -0.6101694107055664,
                                0.43220338225364685,
                            ],
                            [
                                -0.27966099977493286,
                                0.813559353351593,
                                -0.6440678238868713,
                                0.44915249943733215,
                            ],
                            [
                                -0.29661017656326294,
                                0.8474576473236084,
                                -0.6779660582542419,
                                0.4661017060279846,
                            ],
                            [
                                -0.31355932354927063,
                                0.8813559412956238,
                                -0.7118644714355469,
                                0.4830508530139923,
                            ],
                            [-0.3305084705352783, 0.9152542352676392, -0.7457627058029175, 0.5],
                        ],
                    ],
                ],
            ],
        ],
        [
            "ij,kj->ik",
            [
                [[3.5, -1.0, -0.25, 0.5], [-1.0, 1.25, -1.75, 0.5]],
                [
                    [0.9285714626312256, 1.2857142686843872, 0.1428571343421936],
                    [0.3571428656578064, -1.0, 0.1428571343421936],
                ],
                [
                    [1.5, 1.0714285373687744, 0.6428571343421936],
                    [1.0714285373687744, 0.9285714626312256, 0.7857142686843872],
                    [0.6428571343421936, 0.7857142686843872, 0.9285714626312256],
                    [0.2142857313156128, 0.6428571343421936, 1.0714285373687744],
                ],
            ],
        ],
        [
            "ik,kj->",
            [
                3.25,
                [[3.0, -1.5, 1.0], [3.0, -1.5, 1.0]],
                [[1.5, 1.5, 1.5, 1.5], [0.5, 0.5, 0.5, 0.5], [-0.5, -0.5, -0.5, -0.5]],
            ],
        ],
    ],
    "activations": [
        [
            [
                -1.6705687046051025,
                -0.6917581558227539,
                0.0,
                0.2626752555370331,
                2.1014020442962646,
                42.02804183959961,
            ]
        ],
        [[0.0, 0.0, 0.0, 0.25, 2.0, 40.0, 3.0, 0.5, -0.0, 0.0, 0.0, 0.0]],
        [
            [
                -0.75,
                -0.3333333432674408,
                0.0,
                0.20000000298023224,
                0.6666666865348816,
                0.9756097793579102,
            ]
        ],
        [
            [
                -0.14227762818336487,
                -0.1887703388929367,
                0.0,
                0.140544131398201,
                1.7615941762924194,
                40.0,
            ]
        ],
        [[0.0, 0.0, 0.0, 0.25, 2.0, 40.0], [3.0, 0.5, -0.0, 0.0, 0.0, 0.0]],
        [
            [
                -0.5472765564918518,
                -0.21891175210475922,
                0.0,
                0.1328023374080658,
                1.4621171951293945,
                40.0,
            ]
        ],
        [
            [
                -0.29245179891586304,
                -1.4753004312515259,
                0.0,
                0.5519863367080688,
                4.415890693664551,
                88.31781005859375,
            ]
        ],
        [[-6.0, -1.0, 0.0, 0.5, 4.0, 80.0]],
        [
            [
                -0.09375,
                -0.29629629850387573,
                0.0,
                0.25600001215934753,
                0.14814814925193787,
                0.0011607492342591286,
            ]
        ],
        [
            [
                0.02507048472762108,
                -0.09817523509263992,
                0.0,
                0.17531757056713104,
                3.8430380821228027,
                80.0,
            ]
        ],
        [[-6.0, -1.0, 0.0, 0.5, 4.0, 80.0]],
        [
            [
                0.045198649168014526,
                -0.16474860906600952,
                0.0,
                0.14935950934886932,
                2.71272611618042,
                80.0,
            ]
        ],
    ],
    "weighted_losses": [
        [
            [6.380784034729004, 0.9740769863128662, 1.1528265476226807, 2.8072867381406796e-13],
            [0.8259394764900208, 120.0, 0.14576207101345062, 0.3132617473602295],
        ],
        [
            [1.0634640455245972, 0.9740769863128662, 1.0521198511123657, 3.743049164887935e-13],
            [0.8259394764900208, 40.0, 0.09717471152544022, 0.3132617473602295],
        ],
        1.0101087093353271,
        [[0.7565209865570068], [0.8209784030914307]],
        1.0101087093353271,
        [
            [-2.653796672821045, 0.620486855506897, 0.12923157215118408, -0.00043162330985069275],
            [0.5603985786437988, -3.0006656646728516, -0.15151576697826385, 0.26741278171539307],
        ],
    ],
    "segments": {
        "values": [
            [[4.0, 6.0], [0.0, 0.0], [11.0, -1.5]],
            [3, 1, 0, 9],
            [[4.0, 6.5], [0.0, 0.0], [0.0, 0.0], [8.0, -6.0]],
            [[4.0, 6.5], [0.0, 0.0], [0.0, 0.0], [8.0, -6.0]],
            [13, 0, 0, -2, 0],
            [[2.0, 3.0], [0.0, 0.0], [3.6666667461395264, -0.5]],
            [1, 0, 0, 9],
            [[2.0, 3.25], [0.0, 0.0], [0.0, 0.0], [4.0, -3.0]],
            [[2.0, 3.25], [0.0, 0.0], [0.0, 0.0], [4.0, -3.0]],
            [6.5, 0.0, 0.0, -1.0, 0.0],
            [[3.0, 4.0], [0.0, 0.0], [7.0, 6.0]],
            [2, 4, 0, 9],
            [
                [5.0, 6.0],
                [-3.4028234663852886e38, -3.4028234663852886e38],
                [-3.4028234663852886e38, -3.4028234663852886e38],
                [7.0, 2.0],
            ],
            [
                [5.0, 6.0],
                [-3.4028234663852886e38, -3.4028234663852886e38],
                [-3.4028234663852886e38, -3.4028234663852886e38],
                [7.0, 2.0],
            ],
            [9, -2147483648, -2147483648, 1, -2147483648],
            [[1.0, 2.0], [0.0, 0.0], [-1.0, -8.0]],
            [1, -3, 0, 9],
            [
                [-1.0, 0.5],
                [3.4028234663852886e38, 3.4028234663852886e38],
                [3.4028234663852886e38, 3.4028234663852886e38],
                [1.0, -8.0],
            ],
            [
                [-1.0, 0.5],
                [3.4028234663852886e38, 3.4028234663852886e38],
                [3.4028234663852886e38, 3.4028234663852886e38],
                [1.0, -8.0],
            ],
            [4, 2147483647, 2147483647, -3, 2147483647],
            [[3.0, 8.0], [1.0, 1.0], [-35.0, -24.0]],
            [2, -12, 1, 9],
            [[-5.0, 3.0], [1.0, 1.0], [1.0, 1.0], [7.0, -16.0]],
            [[-5.0, 3.0], [1.0, 1.0], [1.0, 1.0], [7.0, -16.0]],
            [36, 1, 1, -3, 1],
            [[1.0, -2.0], [1.0, -2.0], [2.0, 1.0], [2.0, 1.0], [2.0, 1.0]],
            [[-1.0, 1.5], [0.0, 0.0], [1.0, -2.0], [-1.0, 1.5], [1.0, -2.0]],
            [
                [0.5, -1.0],
                [0.5, -1.0],
                [0.6666666865348816, 0.3333333432674408],
                [0.6666666865348816, 0.3333333432674408],
                [0.6666666865348816, 0.3333333432674408],
            ],
            [[-0.5, 0.75], [0.0, 0.0], [0.5, -1.0], [-0.5, 0.75], [0.5, -1.0]],
            [[0.0, 0.0], [1.0, -2.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]],
            [[1.0, -2.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [2.0, 0.0]],
            [[3.0, -8.0], [1.0, -4.0], [-14.0, -4.0], [-10.0, 3.0], [70.0, -48.0]],
            [[-7.0, -12.0], [-0.0, 0.0], [-1.0, -1.0], [-1.0, 3.0], [5.0, -12.0]],
        ],
        "shapes": [
            [None, 2],
            [None],
            [4, 2],
            [4, 2],
            [5],
            [None, 2],
            [None],
            [4, 2],
            [4, 2],
            [5],
            [None, 2],
            [None],
            [4, 2],
            [4, 2],
            [5],
            [None, 2],
            [None],
            [4, 2],
            [4, 2],
            [5],
            [None, 2],
            [None],
            [4, 2],
            [4, 2],
            [5],
        ],
    },
    "segments_of_matrix_ids": [[[10.0, 12.0], [4.0, 5.0], [16.0, 19.0]]],
    "histograms": [[5, 1, 1, 0, 3], [2, 1, 7], [1, 3]],
    "unique_counts": {
        "values": [
            [4, 1, 2, 7],
            [0, 1, 0, 2, 0, 3, 1],
            [3, 2, 1, 1],
            [0, 1, 0, 2, 0, 3, 1],
            [3, 2, 1, 1],
        ],
        "dtypes": ["int64", "int64"],
    },
    "bitwise": {
        "int8": [
            [0, 1, 1, 0, 0, 9, 0, 8],
            [3, 7, 5, 102, 127, -1, -127, 77],
            [3, 6, 4, 102, 127, -10, -127, 69],
            [-1, -2, -6, -101, -128, 0, 127, -78],
            [0, -128, 10, -112, 127, -128, 0, -128],
            [0, 0, 2, 25, 127, -1, -64, 0],
            [
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 1, 1, 0, 0, 1, 1, 0],
                [1, 5, 1, 0, 0, 1, 1, 0],
                [0, 4, 0, 0, 0, 0, 0, 0],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 5, 1, 0, 0, 9, 1, 8],
            ],
            [0, 4, 20, -112, -4, -4, 0, 52],
            [5, 4, 0, 97, 122, -6, -123, 72],
            [0, 1, 5, 100, 127, -1, -128, 77],
        ],
        "int16": [
            [0, 1, 1, 0, 0, 9, 0, 8],
            [3, 7, 5, 102, 127, -1, -127, 77],
            [3, 6, 4, 102, 127, -10, -127, 69],
            [-1, -2, -6, -101, -128, 0, 127, -78],
            [0, 128, 10, 400, 127, -512, -256, 19712],
            [0, 0, 2, 25, 127, -1, -64, 0],
            [
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 1, 1, 0, 0, 1, 1, 0],
                [1, 5, 1, 0, 0, 1, 1, 0],
                [0, 4, 0, 0, 0, 0, 0, 0],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 5, 1, 0, 0, 9, 1, 8],
            ],
            [0, 4, 20, 400, 508, -4, -512, 308],
            [5, 4, 0, 97, 122, -6, -123, 72],
            [0, 1, 5, 100, 127, -1, -128, 77],
        ],
        "int32": [
            [0, 1, 1, 0, 0, 9, 0, 8],
            [3, 7, 5, 102, 127, -1, -127, 77],
            [3, 6, 4, 102, 127, -10, -127, 69],
            [-1, -2, -6, -101, -128, 0, 127, -78],
            [0, 128, 10, 400, 127, -512, -256, 19712],
            [0, 0, 2, 25, 127, -1, -64, 0],
            [
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 1, 1, 0, 0, 1, 1, 0],
                [1, 5, 1, 0, 0, 1, 1, 0],
                [0, 4, 0, 0, 0, 0, 0, 0],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 5, 1, 0, 0, 9, 1, 8],
            ],
            [0, 4, 20, 400, 508, -4, -512, 308],
            [5, 4, 0, 97, 122, -6, -123, 72],
            [0, 1, 5, 100, 127, -1, -128, 77],
        ],
        "int64": [
            [0, 1, 1, 0, 0, 9, 0, 8],
            [3, 7, 5, 102, 127, -1, -127, 77],
            [3, 6, 4, 102, 127, -10, -127, 69],
            [-1, -2, -6, -101, -128, 0, 127, -78],
            [0, 128, 10, 400, 127, -512, -256, 19712],
            [0, 0, 2, 25, 127, -1, -64, 0],
            [
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 1, 1, 0, 0, 1, 1, 0],
                [1, 5, 1, 0, 0, 1, 1, 0],
                [0, 4, 0, 0, 0, 0, 0, 0],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 5, 1, 0, 0, 9, 1, 8],
            ],
            [0, 4, 20, 400, 508, -4, -512, 308],
            [5, 4, 0, 97, 122, -6, -123, 72],
            [0, 1, 5, 100, 127, -1, -128, 77],
        ],
        "uint8": [
            [0, 1, 1, 0, 0, 9, 0, 8],
            [3, 7, 5, 102, 127, 255, 129, 77],
            [3, 6, 4, 102, 127, 246, 129, 69],
            [255, 254, 250, 155, 128, 0, 127, 178],
            [0, 128, 10, 144, 127, 128, 0, 128],
            [0, 0, 2, 25, 127, 1, 64, 0],
            [
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 1, 1, 0, 0, 1, 1, 0],
                [1, 5, 1, 0, 0, 1, 1, 0],
                [0, 4, 0, 0, 0, 0, 0, 0],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [3, 7, 1, 2, 0, 9, 1, 8],
                [0, 0, 0, 0, 0, 0, 0, 0],
                [1, 5, 1, 0, 0, 9, 1, 8],
            ],
            [0, 4, 20, 144, 252, 252, 0, 52],
            [5, 4, 0, 97, 122, 250, 133, 72],
        ],
    },
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
        "norm_bad_ord": ["ValueError", "'ord' must be a supported vector norm, got -1"],
        "norm_bad_axis": [
            "ValueError",
            "'axis' must be None, an integer, or a tuple of 2 unique integers, got [0, 1, 2]",
        ],
        "norm_matrix_ord": [
            "ValueError",
            "'ord' must be a supported matrix norm in ['euclidean', 'fro', 1, 2, inf], got 0.5",
        ],
        "einsum_repeated_output": [
            "ValueError",
            "Output subscripts contain a label appearing more than once: ij,jk->ikk",
        ],
        "einsum_unknown_output": [
            "ValueError",
            "Output subscripts contain the label c not present in the input subscripts.",
        ],
        "cosine_no_axis": ["ValueError", "You must specify argument `axis`."],
        "cross_not_3": [
            "ValueError",
            "Dimension must be 3 but is 2 for '{{node Cross}} = "
            "Cross[T=DT_FLOAT](ones_1, ones_2)' with input shapes: [2,2], [2,2].",
        ],
        "bitwise_float": [
            "TypeError",
            "Value passed to parameter 'x' has DataType float32 not in list of "
            "allowed values: int8, int16, int32, int64, uint8, uint16, uint32, "
            "uint64",
        ],
        "invert_float": [
            "TypeError",
            "Value passed to parameter 'x' has DataType float32 not in list of "
            "allowed values: int8, int16, int32, int64, uint8, uint16, uint32, "
            "uint64",
        ],
    },
}
