"""The conv variants of tgc/frontend/conv_variants.py and their tf.layers against TensorFlow 2.21.

``conv_variants_tf_values.json`` (next to this file) is the output of

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/conv_variants.py \
        > tests/e2e/conv_variants_tf_values.json

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled, legacy Keras). The
oracle file holds the programs, which this test runs on tgc: values, gradients, variable names.
Gradients are also checked against central finite differences in float64, and bad inputs against
TF's messages (the same problem named, in tgc's words).
"""

import contextlib
import importlib.util
import json
import types
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.dialect import targets
from tgc.frontend import conv_variants

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "conv_variants.py"
_spec = importlib.util.spec_from_file_location("conv_variants_oracle", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

TF_VALUES = json.loads((Path(__file__).with_name("conv_variants_tf_values.json")).read_text())

# tf.nn with this module's functions first: the lead wires them into tf.nn (requests.md), and
# the test runs the module's own until then.
NN = types.SimpleNamespace(**{name: getattr(conv_variants, name) for name in conv_variants.__all__})
WIRED = [
    "conv1d",
    "pool",
    "atrous_conv2d",
    "depthwise_conv2d",
    "separable_conv2d",
    "max_pool_with_argmax",
    "conv3d",
    "convolution",
    "depthwise_conv2d_native",
    "max_pool3d",
    "avg_pool3d",
]


def _assert_close(got, expected, path):
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), path
        for key, value in expected.items():
            _assert_close(got[key], value, f"{path}/{key}")
        return
    if isinstance(expected, list) and expected and isinstance(expected[0], list):
        if expected[0] and isinstance(expected[0][0], str):  # [name, shape] pairs
            assert got == expected, path
            return
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (path, got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=path)


def test_oracle_version():
    assert TF_VALUES["version"] == "2.21.0"


@pytest.mark.parametrize("name", WIRED)
def test_tf_nn_exports_the_variants(name):
    assert getattr(tf.nn, name) is getattr(conv_variants, name)


@pytest.mark.parametrize("name", sorted(oracle.PROGRAMS))
def test_program_gives_tensorflows_numbers(name):
    _assert_close(oracle.as_lists(oracle.PROGRAMS[name](tf, NN)), TF_VALUES[name], name)


# ---- other targets -------------------------------------------------------------------------------

# The compositions use no op of their own, so each target that runs conv2d, strided slices,
# concat and multiplies runs them whole (no soft placement), with TF's numbers. Separable is not
# run on the accelerator: its pointwise 1x1 conv2d's input gradient fails there (tile_conv,
# /tmp/notes/findings-convs.md), as does any 1x1 conv2d's.
TARGETS = {
    "gpu-emulated": ("/gpu:0", {"GPU": 1}, "nvptx-emulated", ("depthwise", "separable")),
    "accel": ("/accel:0", {"ACCEL": 1}, None, ("depthwise",)),
}


def _variants_with_gradients(x, which):
    f = tf.constant(oracle.data(15, 3, 3, 3, 2))
    pw = tf.constant(oracle.data(20, 1, 1, 6, 4))
    fetches = {}
    if "depthwise" in which:
        y = conv_variants.depthwise_conv2d(x, f, [1, 2, 2, 1], "SAME")
        w = tf.constant(oracle.data(17, *y.shape.as_list()[1:]))
        fetches["depthwise"] = [y, *tf.gradients(tf.reduce_sum(y * w), [x, f])]
    if "separable" in which:
        y = conv_variants.separable_conv2d(x, f, pw, [1, 1, 1, 1], "SAME")
        w = tf.constant(oracle.data(21, *y.shape.as_list()[1:]))
        fetches["separable"] = [y, *tf.gradients(tf.reduce_sum(y * w), [x, f, pw])]
    return fetches


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_depthwise_and_separable_run_on_the_other_targets(target):
    device, count, selected, which = TARGETS[target]
    x_value = oracle.data(14, 2, 7, 8, 3)
    context = targets.selected(selected) if selected else contextlib.nullcontext()
    with tf.Graph().as_default(), context:
        x = tf.placeholder(tf.float32, [None, 7, 8, 3])
        with tf.device(device):
            fetches = _variants_with_gradients(x, which)
        config = tf.ConfigProto(device_count=count, allow_soft_placement=False)
        with tf.Session(config=config) as sess:
            got = sess.run(fetches, {x: x_value})
    want = TF_VALUES["depthwise"]
    for value, name in zip(got["depthwise"], ["y", "d_x", "d_f"]):
        np.testing.assert_allclose(value, want[f"s2_same_{name}"], rtol=1e-4, atol=1e-4)
    if "separable" in which:  # TF's separable values are of another input: tgc's CPU run
        with tf.Graph().as_default():
            cpu = _variants_with_gradients(tf.constant(x_value), ["separable"])
            with tf.Session() as sess:
                for value, expected in zip(got["separable"], sess.run(cpu["separable"])):
                    np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4)


# ---- gradients against finite differences --------------------------------------------------------


def _check_gradients(build, shapes, seed=0):
    """build(*placeholders) -> y; the gradients of sum(y * r) with respect to every input, from
    tf.gradients, against central differences of the compiled forward (float64)."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s) for s in shapes]
    g = tf.Graph()
    with g.as_default():
        inputs = [tf.placeholder(tf.float64, s) for s in shapes]
        y = build(*inputs)
        r = tf.constant(rng.standard_normal(y.shape.as_list()))
        loss = tf.reduce_sum(y * r)
        grads = tf.gradients(loss, inputs)
        with tf.Session() as sess:
            got = sess.run(grads, dict(zip(inputs, values)))
            for index, value in enumerate(values):
                want = np.zeros(value.shape)
                for k in np.ndindex(value.shape):
                    sides = []
                    for step in (1e-6, -1e-6):
                        moved = [v.copy() for v in values]
                        moved[index][k] += step
                        sides.append(sess.run(loss, dict(zip(inputs, moved))))
                    want[k] = (sides[0] - sides[1]) / 2e-6
                np.testing.assert_allclose(got[index], want, rtol=1e-6, atol=1e-6)


def test_conv1d_gradients_match_finite_differences():
    _check_gradients(
        lambda x, f: conv_variants.conv1d(x, f, 2, "SAME", dilations=1), [(2, 6, 2), (3, 2, 2)]
    )
    _check_gradients(
        lambda x, f: conv_variants.conv1d(x, f, 1, "VALID", dilations=2), [(1, 7, 2), (2, 2, 3)]
    )


def test_atrous_conv2d_gradients_match_finite_differences():
    _check_gradients(
        lambda x, f: conv_variants.atrous_conv2d(x, f, 2, "SAME"), [(1, 5, 5, 2), (2, 2, 2, 2)]
    )


def test_depthwise_conv2d_gradients_match_finite_differences():
    _check_gradients(
        lambda x, f: conv_variants.depthwise_conv2d(x, f, [1, 2, 1, 1], "SAME"),
        [(1, 5, 4, 2), (3, 2, 2, 2)],
    )
    _check_gradients(
        lambda x, f: conv_variants.depthwise_conv2d(x, f, [1, 1, 1, 1], "VALID", rate=[2, 1]),
        [(2, 5, 4, 3), (2, 2, 3, 1)],
    )


def test_separable_conv2d_gradients_match_finite_differences():
    _check_gradients(
        lambda x, d, p: conv_variants.separable_conv2d(x, d, p, [1, 1, 1, 1], "SAME"),
        [(1, 4, 4, 2), (2, 2, 2, 2), (1, 1, 4, 3)],
    )


def test_conv3d_gradients_match_finite_differences():
    _check_gradients(
        lambda x, f: conv_variants.conv3d(x, f, [1, 2, 1, 1, 1], "SAME"),
        [(1, 3, 3, 2, 2), (2, 2, 1, 2, 2)],
    )


def test_pool3d_gradients_match_finite_differences():
    _check_gradients(
        lambda x: conv_variants.avg_pool3d(x, [1, 2, 2, 1, 1], [1, 2, 1, 1, 1], "SAME"),
        [(1, 3, 3, 2, 2)],
    )
    _check_gradients(
        lambda x: conv_variants.max_pool3d(x, [1, 2, 1, 2, 1], [1, 1, 1, 2, 1], "SAME"),
        [(1, 3, 2, 3, 2)],
    )


def test_causal_conv1d_layer_gradient_matches_finite_differences():
    def build(x):
        init = tf.constant_initializer(oracle.data(3, 2, 2, 3).astype(np.float64))
        layer = tf.layers.Conv1D(
            3, 2, padding="causal", dilation_rate=2, kernel_initializer=init, dtype=tf.float64
        )
        return layer(x)

    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [1, 5, 2])
        y = build(x)
        (gx,) = tf.gradients(tf.reduce_sum(y * y), [x])
        xv = np.random.default_rng(1).standard_normal((1, 5, 2))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got, yv = sess.run([gx, y], {x: xv})
            # causal: output t sees inputs t and t - 2 only, so it has the input's length
            assert yv.shape == (1, 5, 3)
            want = np.zeros(xv.shape)
            for k in np.ndindex(xv.shape):
                sides = []
                for step in (1e-6, -1e-6):
                    moved = xv.copy()
                    moved[k] += step
                    sides.append(np.sum(sess.run(y, {x: moved}) ** 2))
                want[k] = (sides[0] - sides[1]) / 2e-6
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# ---- bad inputs ---------------------------------------------------------------------------------


def _tgc_error(case):
    with tf.Graph().as_default():
        with pytest.raises(ValueError) as info:
            case()
    return str(info.value)


def test_conv1d_channel_mismatch_is_tensorflows_error():
    assert (
        "Depth of input (3) is not a multiple of input depth of filter (4)"
        in (TF_VALUES["errors"]["conv1d_channels"])
    )
    message = _tgc_error(
        lambda: conv_variants.conv1d(tf.zeros([2, 9, 3]), tf.zeros([3, 4, 5]), 1, "SAME")
    )
    assert "3" in message and "4" in message and "conv1d" in message


def test_conv1d_bad_padding_is_refused():
    assert "'FULL'" in TF_VALUES["errors"]["conv1d_padding"]
    message = _tgc_error(
        lambda: conv_variants.conv1d(tf.zeros([2, 9, 3]), tf.zeros([3, 3, 5]), 1, "FULL")
    )
    assert "padding must be 'SAME' or 'VALID' but got 'FULL'" in message


def test_conv1d_of_more_than_one_batch_dim_is_refused():
    # TF 2.21 folds extra leading dims into the batch (its conv1d_rank case raises nothing).
    assert TF_VALUES["errors"]["conv1d_rank"] is None
    message = _tgc_error(
        lambda: conv_variants.conv1d(tf.zeros([2, 9, 9, 3]), tf.zeros([3, 3, 5]), 1, "SAME")
    )
    assert "'value' must have rank 3 ([batch, width, in_channels])" in message


def test_atrous_rate_must_be_positive():
    assert "must be positive" in TF_VALUES["errors"]["atrous_rate"]
    message = _tgc_error(
        lambda: conv_variants.atrous_conv2d(
            tf.zeros([2, 7, 7, 3]), tf.zeros([3, 3, 3, 2]), 0, "SAME"
        )
    )
    assert "all values of `dilation_rate` must be positive" in message


def test_depthwise_channel_mismatch_is_tensorflows_error():
    assert "Dimensions must be equal, but are 3 and 4" in TF_VALUES["errors"]["depthwise_channels"]
    message = _tgc_error(
        lambda: conv_variants.depthwise_conv2d(
            tf.zeros([2, 7, 7, 3]), tf.zeros([3, 3, 4, 2]), [1, 1, 1, 1], "SAME"
        )
    )
    assert "depthwise_conv2d: Dimensions must be equal, but are 3 and 4" in message


def test_depthwise_rate_with_strides_is_refused():
    # TF 2.21 only warns ("When dilation rate is greater than 1, then all values of strides must
    # be 1") and builds something else; tgc refuses in the same words.
    assert TF_VALUES["errors"]["depthwise_rate_and_stride"] is None
    message = _tgc_error(
        lambda: conv_variants.depthwise_conv2d(
            tf.zeros([2, 7, 7, 3]), tf.zeros([3, 3, 3, 2]), [1, 2, 2, 1], "SAME", rate=[2, 2]
        )
    )
    assert "when dilation rate is greater than 1, then all values of strides must be 1" in message
    with pytest.raises(ValueError, match="all values of strides must be 1"):
        tf.layers.separable_conv2d(tf.zeros([1, 8, 8, 2]), 2, 3, strides=2, dilation_rate=2)


def test_depthwise_needs_known_height_and_width():
    x = tf.placeholder(tf.float32, [None, None, 7, 3])
    with pytest.raises(ValueError, match="the height of input .* must be known"):
        conv_variants.depthwise_conv2d(x, tf.zeros([3, 3, 3, 1]), [1, 1, 1, 1], "SAME")


def test_depthwise_valid_filter_larger_than_input():
    with pytest.raises(ValueError, match="Negative dimension size caused by subtracting 5 from 4"):
        conv_variants.depthwise_conv2d(
            tf.zeros([1, 4, 7, 3]), tf.zeros([3, 3, 3, 1]), [1, 1, 1, 1], "VALID", rate=[2, 1]
        )


def test_separable_pointwise_depth_mismatch_is_tensorflows_error():
    assert (
        "Depth of input (6) is not a multiple of input depth of filter (5)"
        in (TF_VALUES["errors"]["separable_pointwise"])
    )
    message = _tgc_error(
        lambda: conv_variants.separable_conv2d(
            tf.zeros([2, 7, 7, 3]),
            tf.zeros([3, 3, 3, 2]),
            tf.zeros([1, 1, 5, 4]),
            [1, 1, 1, 1],
            "SAME",
        )
    )
    assert "Depth of input (6) is not a multiple of input depth of filter (5)" in message


def test_max_pool_with_argmax_refusals():
    x = tf.placeholder(tf.float32, [None, None, 6, 3])
    with pytest.raises(ValueError, match="must be known when the graph is built"):
        conv_variants.max_pool_with_argmax(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    x = tf.placeholder(tf.float32, [None, 4, 6, 3])
    with pytest.raises(ValueError, match="and its batch, with include_batch_in_index"):
        conv_variants.max_pool_with_argmax(
            x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME", include_batch_in_index=True
        )
    with pytest.raises(ValueError, match="argmax dtype must be int32 or int64 but got float32"):
        conv_variants.max_pool_with_argmax(x, 2, 2, "SAME", Targmax=tf.float32)


def test_max_pool_with_argmax_output_has_max_pools_gradient_and_argmax_none():
    x = tf.placeholder(tf.float32, [None, 4, 6, 3])
    y, argmax = conv_variants.max_pool_with_argmax(x, 2, 2, "VALID")
    assert argmax.dtype == tf.int64 and argmax.shape.as_list() == [None, 2, 3, 3]
    assert tf.gradients(tf.reduce_sum(tf.cast(argmax, tf.float32)), [x]) == [None]


def test_conv3d_bad_inputs():
    x = tf.zeros([2, 5, 6, 4, 2])
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 2 and 3"):
        conv_variants.conv3d(x, tf.zeros([3, 3, 3, 3, 1]), [1, 1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="'strides' must be 5 ints \\[1, d, h, w, 1\\]"):
        conv_variants.conv3d(x, tf.zeros([3, 3, 3, 2, 1]), [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="data_format 'NCDHW' is not supported"):
        conv_variants.conv3d(x, tf.zeros([3, 3, 3, 2, 1]), [1] * 5, "SAME", data_format="NCDHW")
    with pytest.raises(ValueError, match="Inputs to Conv3D should have rank 5 \\(NDHWC\\)"):
        tf.layers.conv3d(tf.zeros([2, 4, 4, 3]), 2, 3)


def test_convolution_refuses_strides_with_dilation_as_tensorflow():
    expected = "`strides > 1` not supported in conjunction with `dilation_rate > 1`"
    assert expected in TF_VALUES["errors"]["convolution_stride_and_rate"]
    message = _tgc_error(
        lambda: conv_variants.convolution(
            tf.zeros([1, 9, 9, 2]), tf.zeros([3, 3, 2, 2]), "SAME", strides=[2, 2], dilation_rate=2
        )
    )
    assert expected in message
    with pytest.raises(ValueError, match="must have rank 3, 4 or 5"):
        conv_variants.convolution(tf.zeros([1, 9, 2]), tf.zeros([3, 2]), "SAME")


def test_pool3d_bad_inputs():
    with pytest.raises(ValueError, match="'ksize' must be 5 ints \\[1, d, h, w, 1\\]"):
        conv_variants.max_pool3d(tf.zeros([1, 4, 4, 4, 2]), [2, 2, 2, 2], [1] * 5, "SAME")
    with pytest.raises(ValueError, match="must be known when the graph is built"):
        x = tf.placeholder(tf.float32, [None, None, 4, 4, 2])
        conv_variants.avg_pool3d(x, [1, 2, 2, 2, 1], [1] * 5, "SAME")
    with pytest.raises(ValueError, match="Inputs to MaxPooling3D should have rank 5"):
        tf.layers.max_pooling3d(tf.zeros([2, 4, 4, 3]), 2, 2)


def test_pool_refuses_dilation_and_three_dims():
    x = tf.zeros([2, 8, 3])
    with pytest.raises(ValueError, match="dilation_rate \\[2\\] is not supported"):
        conv_variants.pool(x, [2], "MAX", "SAME", dilation_rate=[2])
    with pytest.raises(ValueError, match="names 3 spatial dims"):
        conv_variants.pool(tf.zeros([1, 4, 4, 4, 2]), [2, 2, 2], "MAX", "SAME")
    with pytest.raises(ValueError, match="pooling_type must be 'MAX' or 'AVG'"):
        conv_variants.pool(x, [2], "MIN", "SAME")


def test_conv1d_layer_refuses_wrong_rank():
    with pytest.raises(ValueError, match="Inputs to Conv1D should have rank 3 \\(NWC\\)"):
        tf.layers.conv1d(tf.zeros([2, 4, 4, 3]), 2, 3)
    with pytest.raises(ValueError, match="Inputs to MaxPooling1D should have rank 3"):
        tf.layers.max_pooling1d(tf.zeros([2, 4, 4, 3]), 2, 2)
