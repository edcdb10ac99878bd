"""tf.pad, tf.reverse and negative slice steps (tgc/frontend/array_ops.py) against TensorFlow
2.21's numbers and gradients, finite differences, and TF's errors for bad arguments.

``array_ops_more_tf_values.json`` (next to this file) is the output of

    /tmp/tfenv/bin/python tests/oracle/array_ops_more.py > tests/e2e/array_ops_more_tf_values.json

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled). The oracle file
holds the programs; this test runs the same ones under tgc. These ops only move values, so floats
are compared at atol 1e-6 (the oracle prints 7 decimals) and integers exactly.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import array_ops

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "array_ops_more.py"
_spec = importlib.util.spec_from_file_location("array_ops_more_oracle", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

TF_VALUES = json.loads(Path(__file__).with_name("array_ops_more_tf_values.json").read_text())


def _assert_close(got, expected, path):
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), path
        for key, value in expected.items():
            _assert_close(got[key], value, f"{path}/{key}")
        return
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (path, got.shape, expected.shape)
    if got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, expected, err_msg=path)
    else:
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=path)


def test_oracle_version():
    assert TF_VALUES["version"] == "2.21.0"


@pytest.mark.parametrize("name", sorted(oracle.PROGRAMS))
def test_program_gives_tensorflows_numbers(name):
    _assert_close(oracle.as_lists(oracle.PROGRAMS[name](tf)), TF_VALUES[name], name)


def test_names_are_exported():
    for name in (
        "pad",
        "reverse",
        "reverse_v2",
        "gather_nd",
        "scatter_nd",
        "sequence_mask",
        "boolean_mask",
        "eye",
        "matrix_transpose",
        "broadcast_to",
        "broadcast_static_shape",
        "broadcast_dynamic_shape",
        "meshgrid",
        "roll",
        "matrix_band_part",
        "invert_permutation",
        "ensure_shape",
        "space_to_depth",
        "depth_to_space",
        "extract_image_patches",
    ):
        assert getattr(tf, name) is getattr(array_ops, name)


def _finite_difference_check(loss, x, x0, indices, eps=1e-2, tol=2e-3):
    (grad,) = tf.gradients(loss, [x])
    with tf.Session() as sess:
        got = sess.run(grad, {x: x0})
        for index in indices:
            d = np.zeros_like(x0)
            d[index] = eps
            plus, minus = sess.run(loss, {x: x0 + d}), sess.run(loss, {x: x0 - d})
            fd = (np.float64(plus) - np.float64(minus)) / (2 * eps)
            assert got[index] == pytest.approx(fd, abs=tol), index


def test_pad_and_reverse_gradients_match_finite_differences():
    """loss = sum(sin(f(x)) * w), nonlinear so each position's count in the output matters."""
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [3, 4])
    x0 = oracle.data(60, 3, 4)
    for y in (
        tf.pad(x, [[2, 2], [3, 3]], "REFLECT"),
        tf.pad(x, [[3, 1], [4, 2]], "SYMMETRIC"),
        tf.pad(x, [[1, 0], [0, 2]], constant_values=2.0),
        tf.reverse(x, [1])[::-2, 1::-1],
    ):
        w = oracle.data(61, *y.shape.as_list())
        loss = tf.reduce_sum(tf.sin(y) * w)
        _finite_difference_check(loss, x, x0, [(0, 0), (1, 2), (2, 3), (0, 3), (2, 1)])


def test_static_shapes():
    x = tf.placeholder(tf.float32, [None, 4, 5])
    p = tf.placeholder(tf.int32, [3, 2])
    assert tf.pad(x, [[1, 1], [0, 2], [1, 0]]).shape.as_list() == [None, 6, 6]
    assert tf.pad(x, p).shape.as_list() == [None, None, None]
    assert tf.reverse(x, [0, 2]).shape.as_list() == [None, 4, 5]
    assert x[::-1, 3::-2, ::-3].shape.as_list() == [None, 2, 2]


# ---- errors, in TF's words where TF has them ---------------------------------------------------


def test_pad_argument_errors():
    x = tf.constant(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"paddings must have shape \[2, 2\].*not \[1, 2\]"):
        tf.pad(x, [[1, 1]])
    with pytest.raises(ValueError, match="paddings must be non-negative"):
        tf.pad(x, [[-1, 0], [0, 0]])
    with pytest.raises(ValueError, match="must be less than the dimension size: 3, 0 not less"):
        tf.pad(x, [[3, 0], [0, 0]], "REFLECT")
    with pytest.raises(ValueError, match="no greater than the dimension size: 4, 0 greater than 3"):
        tf.pad(x, [[4, 0], [0, 0]], "SYMMETRIC")
    with pytest.raises(ValueError, match='mode must be one of "CONSTANT", "REFLECT" or'):
        tf.pad(x, [[1, 0], [0, 0]], "FOO")
    with pytest.raises(ValueError, match=r"paddings must have shape \[2, 2\]"):
        tf.pad(x, tf.placeholder(tf.int32, [3, 2]))


def test_pad_run_time_checks_fail_the_run():
    x = tf.placeholder(tf.float32, [None, 4])
    p = tf.placeholder(tf.int32, [2, 2])
    reflect, constant = tf.pad(x, p, "REFLECT"), tf.pad(x, p)
    unknown_rows = tf.pad(x, [[3, 0], [0, 0]], "REFLECT")
    x0 = np.zeros((3, 4), np.float32)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="less than the dimension size"):
            sess.run(reflect, {x: x0, p: [[3, 0], [0, 0]]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="less than the dimension size"):
            sess.run(unknown_rows, {x: x0})
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be non-negative"):
            sess.run(constant, {x: x0, p: [[0, -1], [0, 0]]})
        assert sess.run(unknown_rows, {x: np.zeros((4, 4), np.float32)}).shape == (7, 4)


def test_reverse_and_step_errors():
    x = tf.constant(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"axis 2 is out of range \[-2, 2\)"):
        tf.reverse(x, [2])
    with pytest.raises(ValueError, match="axis 0 specified more than once"):
        tf.reverse(x, [0, -2])
    with pytest.raises(ValueError, match="axis must be a list of ints"):
        tf.reverse(x, 1)
    with pytest.raises(ValueError, match=r"strides\[0\] must be non-zero"):
        x[::0]


def test_gather_scatter_nd_errors():
    x = tf.placeholder(tf.float32, [None, 4])
    with pytest.raises(ValueError, match=r"indices.shape\[-1\] must be <= params.rank"):
        tf.gather_nd(x, [[1, 0, 0]])
    with pytest.raises(ValueError, match="updates must have shape"):
        tf.scatter_nd([[1]], [1.0, 2.0], [3])
    picked = tf.gather_nd(x, tf.placeholder_with_default([[2, 0]], [1, 2]))
    scattered = tf.scatter_nd(tf.placeholder_with_default([[5]], [1, 1]), [1.0], [3])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="do not all index into param"):
            sess.run(picked, {x: np.zeros((2, 4), np.float32)})
        assert sess.run(picked, {x: np.ones((3, 4), np.float32)}).tolist() == [1.0]
        with pytest.raises(tf.errors.InvalidArgumentError, match="do not all index into shape"):
            sess.run(scattered)


def test_boolean_mask_and_sequence_mask_errors():
    x = tf.constant(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"Shapes \(3,\) and \(2,\) are incompatible"):
        tf.boolean_mask(x, [True, False])
    with pytest.raises(ValueError, match="axis 2 and mask rank 1 do not fit"):
        tf.boolean_mask(x, [True, False, True, True], axis=2)
    with pytest.raises(TypeError, match="mask must be bool"):
        tf.boolean_mask(x, [1, 0, 1])
    with pytest.raises(TypeError, match="lengths must be integers"):
        tf.sequence_mask([1.5])


def test_masked_loss_trains():
    """The TF1 masked-loss idiom: per-step losses of padded sequences, kept where the step is
    inside the sequence (boolean_mask of a sequence_mask), averaged; the gradient reaches only
    the kept steps."""
    tf.reset_default_graph()
    logits = tf.placeholder(tf.float32, [None, None])
    lengths = tf.placeholder(tf.int32, [None])
    mask = tf.sequence_mask(lengths, tf.shape(logits)[1])
    loss = tf.reduce_mean(tf.boolean_mask(tf.square(logits - 1.0), mask))
    (grad,) = tf.gradients(loss, [logits])
    v = oracle.data(90, 3, 5)
    with tf.Session() as sess:
        got_loss, got_grad = sess.run([loss, grad], {logits: v, lengths: [2, 5, 0]})
    keep = np.arange(5)[None, :] < np.array([2, 5, 0])[:, None]
    assert got_loss == pytest.approx(np.mean((v[keep] - 1.0) ** 2), rel=1e-6)
    np.testing.assert_allclose(got_grad, np.where(keep, 2 * (v - 1.0) / keep.sum(), 0), atol=1e-6)


def test_broadcast_static_shape_and_ensure_shape_refine_static_shapes():
    """TF 2.21: broadcast_static_shape([None, 1, 3], [4, 1]) is [None, 4, 3]."""
    got = tf.broadcast_static_shape(tf.TensorShape([None, 1, 3]), tf.TensorShape([4, 1]))
    assert got.as_list() == [None, 4, 3]
    with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
        tf.broadcast_static_shape(tf.TensorShape([2, 3]), tf.TensorShape([4, 3]))
    x = tf.placeholder(tf.float32, [None, None, 3])
    assert tf.ensure_shape(x, [2, None, 3]).shape.as_list() == [2, None, 3]
    assert tf.space_to_depth(tf.placeholder(tf.float32, [None, 4, 6, 3]), 2).shape.as_list() == [
        None,
        2,
        3,
        12,
    ]


def test_matrix_and_block_errors():
    x = tf.placeholder(tf.float32, [None, 5, 4, 3])
    with pytest.raises(ValueError, match="not compatible with the expected shape"):
        tf.ensure_shape(x, [1, 5, 4, 2])
    with pytest.raises(ValueError, match="evenly divisible by 2 but is 5"):
        tf.space_to_depth(x, 2)
    with pytest.raises(ValueError, match="evenly divisible by 4 but is 3"):
        tf.depth_to_space(x, 2)
    with pytest.raises(ValueError, match=r"shift \[1, 2\] and axis \[0\] must have the same"):
        tf.roll(x, [1, 2], [0])
    with pytest.raises(ValueError, match="sizes must be non-negative"):
        tf.eye(-1)
    with pytest.raises(ValueError, match="cannot broadcast"):
        tf.broadcast_to([1, 2, 3], [2, 2])
    with pytest.raises(ValueError, match="is not a permutation"):
        tf.invert_permutation([0, 0])
    with pytest.raises(ValueError, match="must have rank >= 2"):
        tf.matrix_band_part(tf.constant([1.0]), 0, 0)
    with pytest.raises(ValueError, match=r"ksizes must be \[1, rows, cols, 1\]"):
        tf.extract_image_patches(x, [2, 2], [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="height and width of .* must be known"):
        tf.extract_image_patches(
            tf.placeholder(tf.float32, [1, None, 4, 3]), [1, 2, 2, 1], [1] * 4, [1] * 4, "SAME"
        )
    fed = tf.placeholder(tf.float32, [None, None, None, 3])
    checked = tf.ensure_shape(fed, [1, 5, 3, 3])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected"):
            sess.run(checked, {fed: np.zeros((1, 3, 5, 3), np.float32)})
        # another element count: the reshape that refines the static shape says so first
        with pytest.raises(tf.errors.InvalidArgumentError, match="EnsureShape"):
            sess.run(checked, {fed: np.zeros((1, 5, 4, 3), np.float32)})
        with pytest.raises(tf.errors.InvalidArgumentError, match="evenly divisible by 2"):
            sess.run(tf.space_to_depth(fed, 2), {fed: np.zeros((1, 5, 4, 3), np.float32)})


def test_ops_run_on_the_nvptx_target():
    """The same compositions placed on a GPU (nvptx, emulated on the host when there is none;
    soft placement puts the asserts on the CPU), against numpy; dims unknown when built."""
    from tgc.dialect import targets

    builders = {
        "reflect": lambda x, m, p: tf.pad(x, [[2, 1], [1, 3]], "REFLECT"),
        "fed_paddings": lambda x, m, p: tf.pad(x, p, "SYMMETRIC"),
        "constant": lambda x, m, p: tf.pad(x, [[1, 0], [0, 2]], constant_values=3.0),
        "steps": lambda x, m, p: x[::-2, ::-1],
        "gather_nd": lambda x, m, p: tf.gather_nd(x, [[1, 2], [0, 3]]),
        "scatter_nd": lambda x, m, p: tf.scatter_nd([[1], [0], [1]], [1.0, 2.0, 3.0], [3]),
        "boolean_mask": lambda x, m, p: tf.boolean_mask(x, m),
        "roll": lambda x, m, p: tf.roll(x, 1, 1),
        "band": lambda x, m, p: tf.matrix_band_part(x, 0, 1),
        "grad": lambda x, m, p: tf.gradients(
            tf.reduce_sum(tf.square(tf.boolean_mask(tf.pad(x, p, "REFLECT")[::-1], m))), x
        )[0],
    }
    xv = np.arange(12, dtype=np.float32).reshape(3, 4)
    mv = xv % 3 == 0
    pv = np.array([[0, 0], [1, 1]], np.int32)
    padded = np.pad(xv, pv, "reflect")[::-1]
    expected = {
        "reflect": np.pad(xv, [[2, 1], [1, 3]], "reflect"),
        "fed_paddings": np.pad(xv, pv, "symmetric"),
        "constant": np.pad(xv, [[1, 0], [0, 2]], constant_values=3.0),
        "steps": xv[::-2, ::-1],
        "gather_nd": xv[[1, 0], [2, 3]],
        "scatter_nd": np.array([2.0, 4.0, 0.0]),
        "boolean_mask": xv[mv],
        "roll": np.roll(xv, 1, 1),
        "band": np.triu(np.tril(xv, 1)),
    }
    # d/dx of sum(padded[m]^2): each padded entry kept by m sends 2 * value to its source
    source = np.pad(np.arange(12).reshape(3, 4), pv, "reflect")[::-1]
    grad_mask = np.arange(padded.size).reshape(padded.shape) % 4 == 0
    config = tf.ConfigProto(device_count={"GPU": 1}, allow_soft_placement=True)
    for key, build in builders.items():
        with tf.Graph().as_default(), targets.selected("nvptx-emulated"):
            x = tf.placeholder(tf.float32, [None, 4])
            m = tf.placeholder(tf.bool, [None, None])
            p = tf.placeholder(tf.int32, [2, 2])
            with tf.device("/gpu:0"):
                y = build(x, m, p)
            with tf.Session(config=config) as sess:
                mask = grad_mask if key == "grad" else mv
                got = sess.run(y, {x: xv, m: mask, p: pv})
                placed = {n: d for r in sess._cache.values() for n, _, d in r.placement or ()}
        assert any("GPU" in d for d in placed.values()), key
        if key == "grad":
            flat = np.zeros(12, np.float32)
            np.add.at(flat, source[mask], 2 * padded[mask])
            np.testing.assert_array_equal(got, flat.reshape(3, 4))
        else:
            np.testing.assert_array_equal(got, expected[key], err_msg=key)
