"""tf.image (tgc/frontend/image_ops.py) against TensorFlow 2.21's numbers, finite differences and
the laws of its random functions.

``image_ops_tf_values.json`` (next to this file) is the output of

    /tmp/tfenv/bin/python tests/oracle/image_ops.py > tests/e2e/image_ops_tf_values.json

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled). The oracle file
holds the programs; this test runs the same ones under tgc. Floats are compared at atol 2e-6 and
rtol 3e-7 (printed rounded to 7 decimals; the same float32 operations on both sides, but
resize_area sums in another order: one float32 rounding of values up to 255), integers exactly.
Random functions draw tgc's numbers, not TF's, so they are checked by their laws.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import image_ops as image

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "image_ops.py"
_spec = importlib.util.spec_from_file_location("image_ops_oracle", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

TF_VALUES = json.loads((Path(__file__).with_name("image_ops_tf_values.json")).read_text())


def _assert_close(got, expected, path):
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected), path
        for key, value in expected.items():
            _assert_close(got[key], value, f"{path}/{key}")
        return
    if isinstance(expected, str) or (isinstance(expected, list) and isinstance(expected[0], str)):
        assert got == expected, path
        return
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (path, got.shape, expected.shape)
    if got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, expected, err_msg=path)
    else:
        np.testing.assert_allclose(got, expected, rtol=3e-7, atol=2e-6, err_msg=path)


def test_oracle_version():
    assert TF_VALUES["version"] == "2.21.0"


@pytest.mark.parametrize("name", sorted(oracle.PROGRAMS))
def test_program_gives_tensorflows_numbers(name):
    _assert_close(oracle.as_lists(oracle.PROGRAMS[name](tf, image)), TF_VALUES[name], name)


# ---- sizes known only at run time ------------------------------------------------------------


def test_resize_of_run_time_height_and_width_gives_tensorflows_numbers():
    """Height and width unknown when the graph is built: the interpolation indices are computed
    in the graph with TF's float32 arithmetic, and give the same numbers as the static path."""
    x = tf.placeholder(tf.float32, [None, None, None, 3])
    u = tf.placeholder(tf.uint8, [None, None, None, 3])
    fetches = {}
    for size in ([3, 4], [8, 11], [1, 1], [5, 7]):
        for ac, hp in ((False, False), (True, False), (False, True)):
            key = f"{size[0]}x{size[1]}_ac{int(ac)}_hp{int(hp)}"
            fetches["b4_" + key] = image.resize_bilinear(
                x, size, align_corners=ac, half_pixel_centers=hp
            )
    for size in ([3, 4], [8, 11], [2, 13]):
        for ac, hp in ((False, False), (True, False), (False, True)):
            key = f"{size[0]}x{size[1]}_ac{int(ac)}_hp{int(hp)}"
            fetches["u4_" + key] = image.resize_nearest_neighbor(
                u, size, align_corners=ac, half_pixel_centers=hp
            )
    assert fetches["b4_3x4_ac0_hp0"].shape.as_list() == [None, 3, 4, 3]
    with tf.Session() as sess:
        got = sess.run(fetches, {x: oracle.data(1, 2, 5, 7, 3), u: oracle.pixels(4, 1, 4, 6, 3)})
    for key, value in got.items():
        program = "resize_bilinear" if key.startswith("b4") else "resize_nearest"
        _assert_close(value, TF_VALUES[program][key], key)


def test_flip_of_run_time_width_and_unknown_batch():
    x = tf.placeholder(tf.float32, [None, None, None, 2])
    xv = oracle.data(3, 2, 3, 5, 2)
    with tf.Session() as sess:
        lr, ud = sess.run([image.flip_left_right(x), image.flip_up_down(x)], {x: xv})
    np.testing.assert_array_equal(lr, xv[:, :, ::-1])
    np.testing.assert_array_equal(ud, xv[:, ::-1])


def test_crops_and_pads_of_run_time_sizes_and_offsets_give_tensorflows_numbers():
    """The crops_and_pads program's float batch again, with the height and width unknown when the
    graph is built and the offsets and targets fed as tensors."""
    x = tf.placeholder(tf.float32, [None, None, None, 2])
    v = {k: tf.placeholder(tf.int32, []) for k in range(10)}
    fetches = {
        "f4_crop": image.crop_to_bounding_box(x, v[1], v[2], v[3], v[3]),
        "f4_pad": image.pad_to_bounding_box(x, v[2], v[1], v[8], v[9]),
        "f4_crop_or_pad_3x3": image.resize_image_with_crop_or_pad(x, v[3], v[3]),
        "f4_crop_or_pad_2x10": image.resize_image_with_crop_or_pad(x, 2, v[0]),
        "f4_crop_or_pad_9x4": image.resize_image_with_crop_or_pad(x, v[9], 4),
        "f4_central_0.33": image.central_crop(x, 0.33),
        "f4_central_0.9": image.central_crop(x, 0.9),
    }
    assert fetches["f4_crop_or_pad_9x4"].shape.as_list() == [None, None, 4, 2]
    assert fetches["f4_crop"].shape.as_list() == [None, None, None, 2]
    feed = {x: oracle.data(12, 2, 5, 6, 2), v[0]: 10}
    feed.update({v[k]: k for k in range(1, 10)})
    with tf.Session() as sess:
        got = sess.run(fetches, feed)
        for key, value in got.items():
            _assert_close(value, TF_VALUES["crops_and_pads"][key], key)
        feed[v[1]] = -1
        with pytest.raises(tf.errors.InvalidArgumentError, match="offset_height must be >= 0"):
            sess.run(fetches["f4_crop"], feed)
        feed[v[1]], feed[v[8]] = 1, 4
        with pytest.raises(tf.errors.InvalidArgumentError, match="height must be <= target"):
            sess.run(fetches["f4_pad"], feed)


# ---- gradients -------------------------------------------------------------------------------


def test_resize_bilinear_gradient_matches_finite_differences():
    """loss = sum(sin(resize(x)) * w), nonlinear so the check is not trivially exact; float32
    central differences with eps 1e-2 are good to ~1e-4 here."""
    x = tf.placeholder(tf.float32, [2, 4, 5, 2])
    w = oracle.data(31, 2, 7, 3, 2, low=-1.0)
    for kwargs in ({}, {"align_corners": True}, {"half_pixel_centers": True}):
        loss = tf.reduce_sum(tf.sin(image.resize_bilinear(x, [7, 3], **kwargs)) * w)
        (grad,) = tf.gradients(loss, [x])
        x0 = oracle.data(32, 2, 4, 5, 2)
        eps = 1e-2
        with tf.Session() as sess:
            got = sess.run(grad, {x: x0})
            for index in [(0, 0, 0, 0), (0, 3, 4, 1), (1, 1, 2, 0), (1, 2, 0, 1), (0, 2, 3, 1)]:
                d = np.zeros_like(x0)
                d[index] = eps
                plus, minus = sess.run(loss, {x: x0 + d}), sess.run(loss, {x: x0 - d})
                fd = (np.float64(plus) - np.float64(minus)) / (2 * eps)
                assert got[index] == pytest.approx(fd, abs=2e-3), (kwargs, index)


def test_conv_net_on_resized_inputs_trains():
    """A small conv net whose input is resize_bilinear'd (3-D images batched by resize): the loss
    falls, and the gradient reaches the images through the resize."""
    tf.reset_default_graph()
    tf.set_random_seed(1)
    images = tf.placeholder(tf.float32, [None, 6, 6, 1])
    labels = tf.placeholder(tf.int64, [None])
    big = image.resize_images(images, [12, 12])
    h = tf.layers.conv2d(big, 4, 3, activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    logits = tf.layers.dense(tf.layers.flatten(h), 2)
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    (to_images,) = tf.gradients(loss, [images])
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    rng = np.random.RandomState(0)
    xs = rng.uniform(0, 1, (32, 6, 6, 1)).astype(np.float32)
    ys = (xs[:, :3].mean(axis=(1, 2, 3)) > xs[:, 3:].mean(axis=(1, 2, 3))).astype(np.int64)
    feed = {images: xs, labels: ys}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first, grad = sess.run([loss, to_images], feed)
        for _ in range(60):
            sess.run(train, feed)
        last = sess.run(loss, feed)
    assert grad.shape == xs.shape and np.abs(grad).sum() > 0
    assert last < 0.75 * first, (first, last)


# ---- random functions: their laws --------------------------------------------------------------


def _batch(seed, n=64, h=3, w=4, c=3):
    return oracle.data(seed, n, h, w, c)


def test_random_flips_flip_each_image_or_leave_it():
    x = tf.placeholder(tf.float32, [None, 3, 4, 3])
    xv = _batch(40)
    lr, ud = image.random_flip_left_right(x, seed=3), image.random_flip_up_down(x)
    with tf.Session() as sess:
        runs = [sess.run([lr, ud], {x: xv}) for _ in range(2)]
    for (got_lr, got_ud), run in zip(runs, range(2)):
        same_lr = np.all(got_lr == xv, axis=(1, 2, 3))
        flipped_lr = np.all(got_lr == xv[:, :, ::-1], axis=(1, 2, 3))
        assert np.all(same_lr | flipped_lr), run
        assert 10 < flipped_lr.sum() < 54, flipped_lr.sum()  # each image on its own draw
        flipped_ud = np.all(got_ud == xv[:, ::-1], axis=(1, 2, 3))
        assert np.all(np.all(got_ud == xv, axis=(1, 2, 3)) | flipped_ud)
        assert 10 < flipped_ud.sum() < 54
    assert not np.array_equal(runs[0][0], runs[1][0])  # each run draws anew


def test_random_flip_of_one_uint8_image_and_seeding():
    def flips(graph_seed):
        tf.reset_default_graph()
        tf.set_random_seed(graph_seed)
        x = tf.placeholder(tf.uint8, [5, 6, 3])
        out = image.random_flip_left_right(x, seed=7)
        xv = oracle.pixels(41, 5, 6, 3)
        with tf.Session() as sess:
            got = [sess.run(out, {x: xv}) for _ in range(12)]
        for g in got:
            assert g.dtype == np.uint8
            assert np.array_equal(g, xv) or np.array_equal(g, xv[:, ::-1])
        return [np.array_equal(g, xv) for g in got]

    first = flips(5)
    assert first == flips(5)  # same seeds, same draws
    assert 0 < sum(first) < 12


def test_random_brightness_adds_one_delta_in_range():
    x = tf.placeholder(tf.float32, [None, 3, 4, 3])
    xv = _batch(42, n=2)
    out = image.random_brightness(x, 0.3, seed=1)
    with tf.Session() as sess:
        deltas = [sess.run(out, {x: xv}) - xv for _ in range(20)]
    for d in deltas:
        assert np.ptp(d) < 1e-6 and -0.3 <= d.flat[0] < 0.3
    assert np.std([d.flat[0] for d in deltas]) > 0.05


def test_random_contrast_scales_around_the_mean_by_a_factor_in_range():
    x = tf.placeholder(tf.float32, [3, 4, 3])
    xv = _batch(43, n=1)[0]
    out = image.random_contrast(x, 0.2, 1.8)
    mean = xv.mean(axis=(0, 1))
    with tf.Session() as sess:
        factors = [(sess.run(out, {x: xv}) - mean) / (xv - mean) for _ in range(20)]
    for f in factors:
        assert np.ptp(f) < 1e-4 and 0.2 <= f.flat[0] < 1.8
    assert np.std([f.flat[0] for f in factors]) > 0.1


def _hsv(rgb):
    x = tf.placeholder(tf.float32, rgb.shape)
    with tf.Session() as sess:
        return sess.run(image.rgb_to_hsv(x), {x: rgb})


def test_random_hue_shifts_every_hue_by_one_delta_in_range():
    x = tf.placeholder(tf.float32, [4, 5, 3])
    xv = _batch(44, n=1, h=4, w=5)[0]
    out = image.random_hue(x, 0.2, seed=2)
    with tf.Session() as sess:
        results = [sess.run(out, {x: xv}) for _ in range(10)]
    before = _hsv(xv)
    shifts = []
    for result in results:
        after = _hsv(result)
        np.testing.assert_allclose(after[..., 1:], before[..., 1:], atol=1e-5)
        shift = (after[..., 0] - before[..., 0] + 0.5) % 1.0 - 0.5
        assert np.ptp(shift) < 1e-4 and -0.2 - 1e-5 <= shift.flat[0] <= 0.2 + 1e-5
        shifts.append(shift.flat[0])
    assert np.std(shifts) > 0.03


def test_random_saturation_scales_saturation_by_one_factor_in_range():
    x = tf.placeholder(tf.float32, [4, 5, 3])
    xv = _batch(45, n=1, h=4, w=5)[0] * 0.5 + 0.25  # saturations well inside (0, 1)
    out = image.random_saturation(x, 0.5, 1.2, seed=4)
    with tf.Session() as sess:
        results = [sess.run(out, {x: xv}) for _ in range(10)]
    before = _hsv(xv)
    factors = []
    for result in results:
        after = _hsv(result)
        np.testing.assert_allclose(after[..., 2], before[..., 2], atol=1e-5)
        factor = after[..., 1] / before[..., 1]
        assert np.ptp(factor) < 1e-3 and 0.5 - 1e-4 <= factor.flat[0] < 1.2 + 1e-4
        factors.append(factor.flat[0])
    assert np.std(factors) > 0.05


def test_sample_distorted_bounding_box_obeys_its_constraints():
    size = tf.placeholder(tf.int32, [3])
    boxes = tf.constant([[[0.1, 0.2, 0.5, 0.6], [0.6, 0.6, 0.9, 1.0]]])
    begin, extent, bbox = image.sample_distorted_bounding_box(
        size, boxes, min_object_covered=0.5, aspect_ratio_range=(0.5, 2.0),
        area_range=(0.1, 0.8), max_attempts=50, seed=9,
    )  # fmt: skip
    assert begin.shape.as_list() == [3] and bbox.shape.as_list() == [1, 1, 4]
    height, width = 60, 80
    with tf.Session() as sess:
        draws = [sess.run([begin, extent, bbox], {size: [height, width, 3]}) for _ in range(30)]
    pixel_boxes = [(6, 16, 30, 48), (36, 48, 54, 80)]
    for b, s, box in draws:
        assert b[2] == 0 and s[2] == -1
        y, x, h, w = b[0], b[1], s[0], s[1]
        assert 0 <= y and 0 <= x and y + h <= height and x + w <= width
        assert 0.1 * height * width <= h * w <= 0.8 * height * width
        assert 0.5 - 0.05 <= w / h <= 2.0 + 0.05
        covered = [
            max(0, min(y + h, y1) - max(y, y0))
            * max(0, min(x + w, x1) - max(x, x0))
            / ((y1 - y0) * (x1 - x0))
            for y0, x0, y1, x1 in pixel_boxes
        ]
        assert max(covered) >= 0.5
        np.testing.assert_allclose(
            box[0, 0], [y / height, x / width, (y + h) / height, (x + w) / width], atol=1e-6
        )
    assert len({(tuple(b), tuple(s)) for b, s, _ in draws}) > 10


def test_sample_distorted_bounding_box_falls_back_to_the_whole_image():
    """No crop of at most 5% of the image covers 90% of a box of 50%: the whole image."""
    begin, extent, bbox = image.sample_distorted_bounding_box(
        [20, 30, 3], [[[0.0, 0.0, 0.5, 1.0]]], min_object_covered=0.9, area_range=(0.01, 0.05)
    )
    with tf.Session() as sess:
        b, s, box = sess.run([begin, extent, bbox])
    assert b.tolist() == [0, 0, 0] and s.tolist() == [20, 30, -1]
    assert box.tolist() == [[[0.0, 0.0, 1.0, 1.0]]]


def test_distorted_crop_then_augment_then_resize_as_the_tutorial_does():
    """aymericdamien's image_transformation notebook: slice by the sampled box, flip, colour
    changes and resize, on a uint8 image fed at run time."""
    img = tf.placeholder(tf.uint8, [None, None, 3])
    box = tf.constant([0.0, 0.0, 1.0, 1.0], dtype=tf.float32, shape=[1, 1, 4])
    begin, extent, _ = image.sample_distorted_bounding_box(
        tf.shape(img), bounding_boxes=box, min_object_covered=0.1,
        aspect_ratio_range=(3.0 / 4.0, 4.0 / 3.0), area_range=(0.06, 1.0), max_attempts=100,
        use_image_if_no_bounding_boxes=True,
    )  # fmt: skip
    crop = tf.slice(img, begin, extent)
    out = image.random_flip_left_right(crop)
    out = image.adjust_contrast(out, contrast_factor=1.2)
    out = image.adjust_brightness(out, delta=0.1)
    out = image.adjust_hue(out, delta=0.05)
    out = image.adjust_saturation(out, saturation_factor=1.5)
    resized = tf.cast(image.resize(out, size=(16, 16)), tf.uint8)
    assert resized.shape.as_list() == [16, 16, None]
    xv = oracle.pixels(46, 40, 50, 3)
    with tf.Session() as sess:
        b, s, c, o, r = sess.run([begin, extent, crop, out, resized], {img: xv})
    np.testing.assert_array_equal(c, xv[b[0] : b[0] + s[0], b[1] : b[1] + s[1]])
    assert o.dtype == np.uint8 and o.shape == c.shape and r.shape == (16, 16, 3)


# ---- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: image.flip_left_right(tf.zeros([3, 4])), "must be at least three-dimensional"),
        (lambda: image.resize_images(tf.zeros([3, 4]), [2, 2]), "at least three-dimensional"),
        (
            lambda: image.rot90(tf.zeros([1, 2, 3, 4, 5])),
            "must have either 3 or 4 dimensions",
        ),
        (
            lambda: image.crop_to_bounding_box(tf.zeros([4, 5, 1]), -1, 0, 2, 2),
            "offset_height must be >= 0",
        ),
        (
            lambda: image.crop_to_bounding_box(tf.zeros([4, 5, 1]), 0, 0, 2, 0),
            "target_width must be > 0",
        ),
        (
            lambda: image.crop_to_bounding_box(tf.zeros([4, 5, 1]), 3, 0, 2, 2),
            "height must be >= target \\+ offset",
        ),
        (
            lambda: image.pad_to_bounding_box(tf.zeros([4, 5, 1]), 0, 1, 4, 5),
            "width must be <= target - offset",
        ),
        (
            lambda: image.pad_to_bounding_box(tf.zeros([4, 5, 1]), 0, -2, 4, 8),
            "offset_width must be >= 0",
        ),
        (
            lambda: image.resize_image_with_crop_or_pad(tf.zeros([4, 5, 1]), 0, 3),
            "target_height must be > 0",
        ),
        (lambda: image.central_crop(tf.zeros([4, 5, 1]), 0.0), "central_fraction must be within"),
        (lambda: image.random_hue(tf.zeros([2, 2, 3]), 0.6), "max_delta must be <= 0.5"),
        (lambda: image.random_brightness(tf.zeros([2, 2, 3]), -1), "must be non-negative"),
        (lambda: image.random_contrast(tf.zeros([2, 2, 3]), 0.5, 0.5), "upper must be > lower"),
        (lambda: image.random_saturation(tf.zeros([2, 2, 3]), -1, 2), "lower must be non-negative"),
        (lambda: image.adjust_hue(tf.zeros([2, 2, 3]), 1.5), "delta must be in the interval"),
        (lambda: image.rgb_to_hsv(tf.zeros([2, 2, 4])), "last dimension of .* must be 3"),
        (lambda: image.grayscale_to_rgb(tf.zeros([2, 2, 3])), "last dimension of .* must be 1"),
        (lambda: image.resize_images(tf.zeros([4, 4, 1]), [2, 2, 2]), "1-D int32 Tensor of 2"),
        (
            lambda: image.resize_area(tf.placeholder(tf.float32, [1, None, 4, 1]), [2, 2]),
            "height and width of .* must be known",
        ),
        (
            lambda: image.resize_images(tf.zeros([4, 4, 1]), [2, 2], method=7),
            "Resize method is not implemented",
        ),
        (
            lambda: image.resize_bilinear(
                tf.zeros([1, 4, 4, 1]), [2, 2], align_corners=True, half_pixel_centers=True
            ),
            "If half_pixel_centers is True, align_corners must be False",
        ),
        (
            lambda: image.resize_bilinear(tf.zeros([1, 4, 4, 1]), tf.placeholder(tf.int32, [2])),
            "new size must be known when the graph is built",
        ),
        (
            lambda: image.resize_bicubic(tf.placeholder(tf.float32, [1, None, 4, 1]), [2, 2]),
            "height and width of .* must be known",
        ),
        (
            lambda: image.sample_distorted_bounding_box([4, 4, 3], tf.zeros([1, 0, 4])),
            "No bounding boxes provided",
        ),
        (
            lambda: image.sample_distorted_bounding_box([4, 4, 3], [[[0.5, 0.0, 0.2, 1.0]]]),
            "bounding boxes must lie in",
        ),
        (lambda: image.image_gradients(tf.zeros([2, 2, 3])), "expects a 4D tensor"),
        (
            lambda: image.convert_image_dtype(tf.zeros([2, 2, 3]), tf.bool),
            "must be either floating point or integer",
        ),
        (
            lambda: image.crop_and_resize(tf.zeros([1, 4, 4, 1]), [[0, 0, 1, 1]], [0], [2, 2], "x"),
            "method must be 'bilinear' or 'nearest'",
        ),
        (
            lambda: image.crop_and_resize(tf.zeros([4, 4, 1]), [[0, 0, 1, 1]], [0], [2, 2]),
            "image must be 4-D",
        ),
        (lambda: image.ssim(tf.zeros([8, 8, 1]), tf.zeros([8, 8, 1]), 1.0), "smaller than"),
        (
            lambda: image.psnr(tf.zeros([8, 8, 1]), tf.zeros([8, 7, 1]), 1.0),
            "shapes .* differ",
        ),
    ],
)
def test_bad_input_is_refused_in_tensorflows_words(build, message):
    with pytest.raises((ValueError, TypeError, AttributeError), match=message):
        build()


def test_run_time_checks_fail_the_run():
    """A channel count or slice bounds known only at run time are checked then."""
    x = tf.placeholder(tf.float32, [None, None, None])
    hsv = image.rgb_to_hsv(x)
    cut = tf.slice(x, tf.shape(x) * 0 + [1, 0, 0], [4, -1, -1])
    with tf.Session() as sess:
        assert sess.run(hsv, {x: np.zeros((2, 2, 3), np.float32)}).shape == (2, 2, 3)
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be 3"):
            sess.run(hsv, {x: np.zeros((2, 2, 4), np.float32)})
        assert sess.run(cut, {x: np.zeros((5, 2, 3), np.float32)}).shape == (4, 2, 3)
        with pytest.raises(tf.errors.InvalidArgumentError, match="within the input's shape"):
            sess.run(cut, {x: np.zeros((4, 2, 3), np.float32)})


def test_exported_as_tf_image_and_decoding_is_refused_with_the_reason():
    assert tf.image is image
    assert tf.image.resize is tf.image.resize_images  # TF1's tf.image.resize: legacy centers
    assert tf.image.ResizeMethod.NEAREST_NEIGHBOR == 1
    with pytest.raises(AttributeError, match="tf.image.decode_jpeg .*decode images in Python"):
        tf.image.decode_jpeg  # noqa: B018 (the attribute lookup is the test)


def test_sizes_from_dimensions_and_constant_tensors():
    x = tf.placeholder(tf.float32, [None, 4, 6, 1])
    assert image.resize_images(x, [x.shape[1] * 2, x.shape[2]]).shape.as_list() == [None, 8, 6, 1]
    assert image.resize_nearest_neighbor(x, tf.constant([3, 3])).shape.as_list() == [None, 3, 3, 1]
    with pytest.raises(ValueError, match="1-D int32 Tensor of 2 elements"):
        image.resize_images(x, [x.shape[0], 2])
