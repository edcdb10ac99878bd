"""uint8 arithmetic as TensorFlow's: wrap-around (200 + 100 = 44), unsigned comparison and
division, reductions (a sum and a product wrap, a mean does not), image-like uses, and TF's
TypeError for the ops it has no uint8 kernel for. tgc/frontend/uint8_math.py computes them on int8
bits or int32 values, so every target runs them (here the CPU, the emulated GPU and the
accelerator).

``TF_VALUES``, ``TF_IMAGE``, ``TF_REFUSED`` and the numbers in the tests below are the output of
``/tmp/tfenv/bin/python tests/oracle/uint8.py`` with tensorflow-cpu 2.21.0; the programs are the
oracle's. Floats are compared to 1 ulp: TF's RealDiv by a scalar multiplies by its reciprocal
(200 / 255 gives 0.7843138), tgc divides (0.78431374, numpy's).
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
from tgc.dialect import targets

A = [200, 7, 0, 255, 100, 3]
B = [100, 3, 5, 2, 156, 9]
IMAGE = [[[255, 0, 10], [128, 64, 32]], [[0, 255, 200], [17, 129, 250]]]

TF_VALUES = {
    "add": [44, 10, 5, 1, 0, 12],
    "sub": [100, 4, 251, 253, 200, 250],
    "mul": [32, 21, 0, 254, 240, 27],
    "floordiv": [2, 2, 0, 127, 0, 0],
    "mod": [0, 1, 0, 1, 100, 3],
    "div": [2, 2, 0, 127, 0, 0],
    "truncatediv": [2, 2, 0, 127, 0, 0],
    "truediv": [2.0, 2.3333332538604736, 0.0, 127.5, 0.6410256624221802, 0.3333333432674408],
    "maximum": [200, 7, 5, 255, 156, 9],
    "minimum": [100, 3, 0, 2, 100, 3],
    "less": [False, False, True, False, True, True],
    "greater": [True, True, False, True, False, False],
    "less_equal": [False, False, True, False, True, True],
    "greater_equal": [True, True, False, True, False, False],
    "equal": [False, False, False, False, False, False],
    "not_equal": [True, True, True, True, True, True],
    "square": [64, 49, 0, 1, 16, 9],
    "add_n": [244, 17, 5, 0, 100, 15],
    "add_scalar": [44, 107, 100, 99, 200, 103],
    "scalar_sub": [66, 3, 10, 11, 166, 7],
    "greater_scalar": [True, False, False, True, False, False],
    "clip": [150, 7, 5, 150, 100, 5],
    "where": [200, 7, 5, 255, 156, 9],
    "reduce_sum": 53,
    "reduce_max": 255,
    "reduce_min": 0,
    "reduce_prod": 32,
    "reduce_mean": 94,
    "sum_axis": [207, 102],
    "mean_axis": [[227, 53, 1]],
    "max_axis": [200, 255],
    "argmax": 3,
    "argmin": 2,
    "count_nonzero": 5,
    "div_no_nan": [2.0, 2.3333332538604736, 0.0, 127.5, 0.6410256624221802, 0.3333333432674408],
    "to_int8": [-56, 7, 0, -1, 100, 3],
    "to_int64": [200000, 7000, 0, 255000, 100000, 3000],
    "to_bool": [True, True, False, True, True, True],
    "from_int32": [156, 89, 68, 65, 112, 77],
    "from_float": [255, 255, 44, 3],
}
TF_IMAGE = {
    "scaled": [
        [
            [1.0, 0.0, 0.03921568766236305],
            [0.501960813999176, 0.250980406999588, 0.125490203499794],
        ],
        [
            [0.0, 1.0, 0.7843137979507446],
            [0.06666667014360428, 0.5058823823928833, 0.9803922176361084],
        ],
    ],
    "max": 255,
    "channel_max": [255, 255, 250],
    "channel_mean": [100, 112, 123],
    "bright": [[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]],
    "inverted": [[[0, 255, 245], [127, 191, 223]], [[255, 0, 55], [238, 126, 5]]],
    "halved": [[[127, 0, 5], [64, 32, 16]], [[0, 127, 100], [8, 64, 125]]],
}
TF_REFUSED = [
    "abs",
    "exp",
    "floor",
    "negative",
    "pow",
    "reciprocal",
    "sigmoid",
    "sign",
    "sqrt",
    "squared_difference",
    "truncatemod",
]


FLOATS = ("truediv", "div_no_nan")
BOOLS = ("less", "greater", "less_equal", "greater_equal", "equal", "not_equal", "greater_scalar")
OTHER_DTYPES = {"argmax": "int64", "argmin": "int64", "count_nonzero": "int64", "to_int8": "int8"}
OTHER_DTYPES.update({"to_int64": "int64", "to_bool": "bool"})


def _program(a, b):
    return {
        "add": a + b,
        "sub": a - b,
        "mul": a * b,
        "floordiv": a // b,
        "mod": a % b,
        "div": tf.div(a, b),
        "truncatediv": tf.truncatediv(a, b),
        "truediv": a / b,
        "maximum": tf.maximum(a, b),
        "minimum": tf.minimum(a, b),
        "less": a < b,
        "greater": a > b,
        "less_equal": a <= b,
        "greater_equal": a >= b,
        "equal": tf.equal(a, b),
        "not_equal": tf.not_equal(a, b),
        "square": tf.square(a),
        "add_n": tf.add_n([a, b, a]),
        "add_scalar": a + 100,
        "scalar_sub": 10 - a,
        "greater_scalar": a > 150,
        "clip": tf.clip_by_value(a, 5, 150),
        "where": tf.where(a > b, a, b),
        "reduce_sum": tf.reduce_sum(a),
        "reduce_max": tf.reduce_max(a),
        "reduce_min": tf.reduce_min(a),
        "reduce_prod": tf.reduce_prod(b),
        "reduce_mean": tf.reduce_mean(a),
        "sum_axis": tf.reduce_sum(tf.reshape(a, [2, 3]), axis=1),
        "mean_axis": tf.reduce_mean(tf.reshape(a, [2, 3]), axis=0, keepdims=True),
        "max_axis": tf.reduce_max(tf.reshape(a, [2, 3]), axis=1),
        "argmax": tf.argmax(a),
        "argmin": tf.argmin(a),
        "count_nonzero": tf.count_nonzero(a),
        "div_no_nan": tf.div_no_nan(a, b),
        "to_int8": tf.cast(a, tf.int8),
        "to_int64": tf.cast(a, tf.int64) * 1000,
        "to_bool": tf.cast(a, tf.bool),
        "from_int32": tf.cast(tf.cast(a, tf.int32) * 3 - 700, tf.uint8),
        "from_float": tf.cast(tf.constant([-1.5, 255.9, 300.0, 3.7]), tf.uint8),
    }


def _image_program(img):
    return {
        "scaled": tf.cast(img, tf.float32) / 255.0,
        "max": tf.reduce_max(img),
        "channel_max": tf.reduce_max(img, axis=[0, 1]),
        "channel_mean": tf.reduce_mean(img, axis=[0, 1]),
        "bright": tf.cast(img > 128, tf.float32),
        "inverted": 255 - img,
        "halved": img // 2,
    }


def _expected_dtype(key):
    if key in FLOATS:
        return "float32"
    if key in BOOLS:
        return "bool"
    return OTHER_DTYPES.get(key, "uint8")


def _check(got, expected):
    for key, want in expected.items():
        value = np.asarray(got[key])
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, want, rtol=2e-7, atol=0, err_msg=key)
        else:
            assert value.tolist() == want, key


def _feeds(a, b):
    return {a: np.array(A, np.uint8), b: np.array(B, np.uint8)}


def test_uint8_arithmetic_gives_tfs_numbers_and_dtypes():
    a = tf.placeholder(tf.uint8, [6])
    b = tf.placeholder(tf.uint8, [6])
    fetches = _program(a, b)
    with tf.Session() as sess:
        got = sess.run(fetches, _feeds(a, b))
    _check(got, TF_VALUES)
    assert set(got) == set(TF_VALUES)
    for key, value in got.items():
        assert np.asarray(value).dtype == np.dtype(_expected_dtype(key)), key
        assert fetches[key].dtype.name == _expected_dtype(key), key


def test_wrap_around_and_unsigned_order_in_the_briefs_cases():
    a = tf.placeholder(tf.uint8, [])
    b = tf.placeholder(tf.uint8, [])
    with tf.Session() as sess:
        total, bigger = sess.run([a + b, a > b], {a: 200, b: 100})
    assert (total, bigger) == (44, True)


def test_image_like_uses():
    img = tf.placeholder(tf.uint8, [2, 2, 3])
    with tf.Session() as sess:
        got = sess.run(_image_program(img), {img: np.array(IMAGE, np.uint8)})
    _check(got, TF_IMAGE)


def test_a_mean_does_not_wrap_but_a_sum_does():
    x = tf.placeholder(tf.uint8, [None])
    with tf.Session() as sess:
        mean, total = sess.run(
            [tf.reduce_mean(x), tf.reduce_sum(x)], {x: np.full(70000, 255, np.uint8)}
        )
    assert (mean, total) == (255, 144)  # TF 2.21's


def test_uint8_division_by_zero_fails_the_run():
    a = tf.placeholder(tf.uint8, [6])
    b = tf.placeholder(tf.uint8, [6])
    q = a // b
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError) as caught:
        sess.run(q, {a: np.array(A, np.uint8), b: np.array([1, 0, 1, 1, 1, 1], np.uint8)})
    assert str(caught.value).splitlines()[0] == "Integer division by zero"
    assert "[[node floordiv/" in str(caught.value)


REFUSED = {
    "negative": lambda a, b: -a,
    "abs": lambda a, b: tf.abs(a),
    "sign": lambda a, b: tf.sign(a),
    "pow": lambda a, b: tf.pow(a, b),
    "sqrt": lambda a, b: tf.sqrt(a),
    "exp": lambda a, b: tf.exp(a),
    "sigmoid": lambda a, b: tf.sigmoid(a),
    "floor": lambda a, b: tf.floor(a),
    "reciprocal": lambda a, b: tf.reciprocal(a),
    "squared_difference": lambda a, b: tf.squared_difference(a, b),
    "truncatemod": lambda a, b: tf.truncatemod(a, b),
}


@pytest.mark.parametrize("name", TF_REFUSED)
def test_ops_tf_has_no_uint8_kernel_for_raise_typeerror_as_tf(name):
    a = tf.placeholder(tf.uint8, [6], name="pixels")
    b = tf.placeholder(tf.uint8, [6])
    with pytest.raises(TypeError) as caught:
        REFUSED[name](a, b)
    text = str(caught.value)
    assert "does not take uint8 tensors ('pixels:0' is uint8)" in text
    assert "cast first, e.g. tf.cast(pixels, tf.int32)" in text


def test_ops_keep_tfs_names():
    a = tf.placeholder(tf.uint8, [6])
    b = tf.placeholder(tf.uint8, [6])
    names = [(a + b).name, (a // b).name, (a < b).name, tf.reduce_sum(a).name, (a % b).name]
    assert names == ["add:0", "floordiv:0", "Less:0", "Sum:0", "mod:0"]


@pytest.mark.parametrize("target", ["nvptx-emulated", "accel"])
def test_uint8_on_the_gpu_and_the_accelerator(target):
    device, kind = ("/gpu:0", "GPU") if target == "nvptx-emulated" else ("/accel:0", "ACCEL")
    graph = tf.Graph()
    with graph.as_default(), targets.selected(target):
        a = tf.placeholder(tf.uint8, [6])
        b = tf.placeholder(tf.uint8, [6])
        img = tf.placeholder(tf.uint8, [2, 2, 3])
        with tf.device(device):
            fetches = _program(a, b)
            pictures = _image_program(img)
        config = tf.ConfigProto(device_count={kind: 1}, allow_soft_placement=True)
        with tf.Session(config=config) as sess:
            got, images = sess.run(
                [fetches, pictures], {**_feeds(a, b), img: np.array(IMAGE, np.uint8)}
            )
    _check(got, TF_VALUES)
    _check(images, TF_IMAGE)


def test_moves_fills_and_gathers_of_uint8():
    x = tf.placeholder(tf.uint8, [2, 3])
    fetches = {
        "zeros_like": tf.zeros_like(x),
        "ones_like": tf.ones_like(x),
        "gather": tf.gather(x, [1, 0]),
        "concat": tf.concat([x, x[:, :1]], 1),
        "transpose": tf.transpose(x),
    }
    value = np.array([[200, 7, 0], [255, 100, 3]], np.uint8)
    with tf.Session() as sess:
        got = sess.run(fetches, {x: value})
    np.testing.assert_array_equal(got["zeros_like"], np.zeros((2, 3), np.uint8))
    np.testing.assert_array_equal(got["ones_like"], np.ones((2, 3), np.uint8))
    np.testing.assert_array_equal(got["gather"], value[[1, 0]])
    np.testing.assert_array_equal(got["concat"], np.concatenate([value, value[:, :1]], 1))
    np.testing.assert_array_equal(got["transpose"], value.T)
    assert all(v.dtype == np.uint8 for v in got.values())


def test_relu_and_relu6_of_uint8_as_tfs():
    """TF 2.21: relu([3, 7, 200]) of uint8 is the input, relu6 is [3, 6, 6], both uint8."""
    with tf.Graph().as_default():
        u = tf.placeholder(tf.uint8, [3])
        relu, relu6 = tf.nn.relu(u), tf.nn.relu6(u)
        assert relu.dtype == tf.uint8 and relu6.dtype == tf.uint8
        assert relu.op.name == "Relu" and relu6.op.name == "Relu6"
        with tf.Session() as sess:
            got = sess.run([relu, relu6], {u: np.array([3, 7, 200], np.uint8)})
    np.testing.assert_array_equal(got[0], [3, 7, 200])
    np.testing.assert_array_equal(got[1], [3, 6, 6])
