"""The programs of tests/e2e/test_image_ops.py and (run as a script) TensorFlow 2.21's values for
them, written as JSON (one program per line) to the file the test reads:

    /tmp/tfenv/bin/python tests/oracle/image_ops.py > tests/e2e/image_ops_tf_values.json

(``tensorflow.compat.v1`` with v2 behaviour disabled.) Each program takes the API ``t`` (TF's
compat.v1 module, or tgc) and its image module ``image`` (``t.image``, or
tgc.frontend.image_ops), builds a fresh graph, runs it and returns a dict of plain lists. Inputs
come from numpy's RandomState (stable across numpy versions), so both sides see the same values.
"""

import numpy as np


def data(seed, *shape, low=0.0, high=1.0):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(np.float32)


def pixels(seed, *shape):
    return np.random.RandomState(seed).randint(0, 256, shape).astype(np.uint8)


def _run(t, fetches, feeds=None):
    with t.Session() as sess:
        return sess.run(fetches, feeds or {})


def _graph(t, build):
    g = t.Graph()
    with g.as_default():
        fetches, feeds = build()
        return _run(t, fetches, feeds)


def resize_bilinear(t, image):
    def build():
        x4 = t.placeholder(t.float32, [None, 5, 7, 3])
        x3 = t.constant(data(2, 4, 6, 2))
        out = {}
        for size in ([3, 4], [8, 11], [1, 1], [5, 7]):
            for ac, hp in ((False, False), (True, False), (False, True)):
                key = f"{size[0]}x{size[1]}_ac{int(ac)}_hp{int(hp)}"
                out["b4_" + key] = image.resize_bilinear(
                    x4, size, align_corners=ac, half_pixel_centers=hp
                )
                if not hp:  # TF's 3-D images go through resize_images (legacy centers)
                    out["b3_" + key] = image.resize_images(x3, size, align_corners=ac)
        out["from_uint8"] = image.resize_bilinear(t.constant(pixels(3, 1, 3, 4, 1)), [5, 6])
        return out, {x4: data(1, 2, 5, 7, 3)}

    return _graph(t, build)


def resize_nearest(t, image):
    def build():
        x4 = t.placeholder(t.float32, [None, 5, 7, 2])
        u4 = t.constant(pixels(4, 1, 4, 6, 3))
        out = {}
        for size in ([3, 4], [8, 11], [2, 13]):
            for ac, hp in ((False, False), (True, False), (False, True)):
                key = f"{size[0]}x{size[1]}_ac{int(ac)}_hp{int(hp)}"
                out["n4_" + key] = image.resize_nearest_neighbor(
                    x4, size, align_corners=ac, half_pixel_centers=hp
                )
                out["u4_" + key] = image.resize_nearest_neighbor(
                    u4, size, align_corners=ac, half_pixel_centers=hp
                )
        return out, {x4: data(5, 2, 5, 7, 2)}

    return _graph(t, build)


def resize_bicubic(t, image):
    def build():
        x4 = t.constant(data(6, 2, 5, 6, 2))
        out = {}
        for size in ([3, 4], [9, 11]):
            for ac, hp in ((False, False), (True, False), (False, True)):
                key = f"{size[0]}x{size[1]}_ac{int(ac)}_hp{int(hp)}"
                out[key] = image.resize_bicubic(x4, size, align_corners=ac, half_pixel_centers=hp)
        return out, None

    return _graph(t, build)


def resize_images(t, image):
    def build():
        x3 = t.constant(data(7, 6, 4, 3))
        u4 = t.constant(pixels(8, 2, 6, 4, 1))
        M = image.ResizeMethod
        out = {
            "bilinear": image.resize_images(x3, [9, 5]),
            "bilinear_ac": image.resize_images(x3, t.constant([3, 7]), align_corners=True),
            "nearest": image.resize_images(u4, [4, 9], method=M.NEAREST_NEIGHBOR),
            "bicubic": image.resize_images(x3, [4, 5], method=M.BICUBIC),
            "resize": image.resize(x3, [3, 3]),
            "same_size_uint8": image.resize_images(u4, [6, 4]),
            "aspect": image.resize_images(x3, [12, 12], preserve_aspect_ratio=True),
            "aspect_small": image.resize_images(u4, [3, 20], preserve_aspect_ratio=True),
        }
        return out, None

    values = _graph(t, build)
    values["dtypes"] = [
        str(values[k].dtype) for k in ("bilinear", "nearest", "same_size_uint8", "aspect_small")
    ]
    return values


def flips(t, image):
    def build():
        x4 = t.placeholder(t.float32, [None, 3, 4, 2])
        u3 = t.constant(pixels(9, 3, 5, 2))
        out = {}
        for name, x in (("f4", x4), ("u3", u3)):
            out[name + "_lr"] = image.flip_left_right(x)
            out[name + "_ud"] = image.flip_up_down(x)
            out[name + "_transpose"] = image.transpose_image(x)
            for k in range(-1, 5):
                out[f"{name}_rot{k}"] = image.rot90(x, k)
        return out, {x4: data(10, 2, 3, 4, 2)}

    return _graph(t, build)


def crops_and_pads(t, image):
    def build():
        x4 = t.placeholder(t.float32, [None, 5, 6, 2])
        u3 = t.constant(pixels(11, 4, 7, 3))
        out = {}
        for name, x in (("f4", x4), ("u3", u3)):
            out[name + "_crop"] = image.crop_to_bounding_box(x, 1, 2, 3, 3)
            out[name + "_crop_all"] = image.crop_to_bounding_box(x, 0, 0, 4, 6)
            out[name + "_pad"] = image.pad_to_bounding_box(x, 2, 1, 8, 9)
            out[name + "_pad_none"] = image.pad_to_bounding_box(x, 0, 0, 5, 7)
            for th, tw in ((3, 3), (8, 9), (2, 10), (9, 4)):
                out[f"{name}_crop_or_pad_{th}x{tw}"] = image.resize_image_with_crop_or_pad(
                    x, th, tw
                )
            for fraction in (0.5, 0.33, 0.9, 1.0):
                out[f"{name}_central_{fraction}"] = image.central_crop(x, fraction)
        return out, {x4: data(12, 2, 5, 6, 2)}

    return _graph(t, build)


def convert_dtypes(t, image):
    def build():
        u = t.constant(pixels(13, 2, 3, 2))
        f = t.constant(data(14, 2, 3, 2, low=-0.2, high=1.2))
        f_in = t.constant(data(15, 2, 3, 2))
        i32 = t.constant((data(16, 2, 3, 2) * 2**31).astype(np.int32))
        i16 = t.constant((data(17, 2, 3, 2) * 2**15).astype(np.int16))
        c = image.convert_image_dtype
        out = {
            "u8_f32": c(u, t.float32),
            "u8_f64": c(u, t.float64),
            "u8_i32": c(u, t.int32),
            "u8_i16": c(u, t.int16),
            "f32_u8": c(f_in, t.uint8),
            "f32_u8_sat": c(f, t.uint8, saturate=True),
            "f32_i16_sat": c(f, t.int16, saturate=True),
            "f32_f64": c(f, t.float64),
            "i32_u8": c(i32, t.uint8),
            "i32_f32": c(i32, t.float32),
            "i16_u8": c(i16, t.uint8),
            "i16_i32": c(i16, t.int32),
            "same": c(f, t.float32),
        }
        return out, None

    values = _graph(t, build)
    values["dtypes"] = {k: str(v.dtype) for k, v in values.items()}
    return values


def colour_spaces(t, image):
    def build():
        rgb4 = t.placeholder(t.float32, [None, 3, 4, 3])
        rgb_u = t.constant(pixels(18, 3, 4, 3))
        hsv = t.constant(data(19, 3, 4, 3))
        gray = t.constant(data(20, 2, 3, 4, 1))
        special = t.constant(
            np.array(
                [
                    [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0]],
                    [[0, 1, 0], [0, 0, 1], [1, 1, 0], [0.2, 0.9, 0.9]],
                ],
                np.float32,
            )
        )
        out = {
            "gray4": image.rgb_to_grayscale(rgb4),
            "gray_u8": image.rgb_to_grayscale(rgb_u),
            "to_rgb": image.grayscale_to_rgb(gray),
            "hsv4": image.rgb_to_hsv(rgb4),
            "hsv_special": image.rgb_to_hsv(special),
            "rgb": image.hsv_to_rgb(hsv),
            "round_trip": image.hsv_to_rgb(image.rgb_to_hsv(rgb4)),
        }
        return out, {rgb4: data(21, 2, 3, 4, 3)}

    return _graph(t, build)


def adjustments(t, image):
    def build():
        x4 = t.placeholder(t.float32, [None, 3, 4, 3])
        u3 = t.constant(pixels(22, 3, 4, 3))
        x64 = t.constant(data(23, 3, 2, 3).astype(np.float64))
        out = {}
        for name, x in (("f4", x4), ("u3", u3), ("f64", x64)):
            out[name + "_bright"] = image.adjust_brightness(x, 0.2)
            out[name + "_dark"] = image.adjust_brightness(x, -0.3)
            out[name + "_contrast"] = image.adjust_contrast(x, 1.7)
            out[name + "_low_contrast"] = image.adjust_contrast(x, 0.4)
            out[name + "_saturation"] = image.adjust_saturation(x, 1.6)
            out[name + "_desaturate"] = image.adjust_saturation(x, 0.3)
            out[name + "_hue"] = image.adjust_hue(x, 0.2)
            out[name + "_hue_neg"] = image.adjust_hue(x, -0.45)
            out[name + "_gamma"] = image.adjust_gamma(x, 0.8, 1.1)
        out["brightness_tensor"] = image.adjust_brightness(x4, t.constant(0.1))
        return out, {x4: data(24, 2, 3, 4, 3)}

    return _graph(t, build)


def standardization_and_metrics(t, image):
    def build():
        x4 = t.placeholder(t.float32, [None, 3, 4, 2])
        y4 = t.constant(data(25, 2, 3, 4, 2))
        u3 = t.constant(pixels(26, 4, 3, 3))
        flat = t.constant(np.full((2, 2, 1), 0.5, np.float32))
        dy, dx = image.image_gradients(x4)
        out = {
            "std4": image.per_image_standardization(x4),
            "std_u8": image.per_image_standardization(u3),
            "std_flat": image.per_image_standardization(flat),
            "tv4": image.total_variation(x4),
            "tv3": image.total_variation(y4[0]),
            "dy": dy,
            "dx": dx,
            "psnr": image.psnr(x4, y4, 1.0),
            "psnr_u8": image.psnr(u3, t.constant(pixels(27, 4, 3, 3)), 255),
        }
        return out, {x4: data(28, 2, 3, 4, 2)}

    return _graph(t, build)


def resize_gradients(t, image):
    """d/dx sum(resize(x) * w) for the three interpolations."""

    def build():
        x = t.constant(data(29, 2, 4, 5, 2))
        out = {}
        for key, fn, size, kw in (
            ("bilinear_up", image.resize_bilinear, [7, 8], {}),
            ("bilinear_down_ac", image.resize_bilinear, [3, 2], {"align_corners": True}),
            ("bilinear_hp", image.resize_bilinear, [6, 3], {"half_pixel_centers": True}),
            ("nearest", image.resize_nearest_neighbor, [7, 3], {}),
            ("bicubic", image.resize_bicubic, [6, 7], {}),
        ):
            y = fn(x, size, **kw)
            w = t.constant(data(30, 2, size[0], size[1], 2, low=-1.0))
            out[key] = t.gradients(t.reduce_sum(y * w), x)[0]
        return out, None

    return _graph(t, build)


def colour_matrices(t, image):
    def build():
        rgb = t.placeholder(t.float32, [None, 3, 4, 3])
        yiq = image.rgb_to_yiq(rgb)
        yuv = image.rgb_to_yuv(rgb)
        out = {
            "yiq": yiq,
            "yuv": yuv,
            "yiq_back": image.yiq_to_rgb(yiq),
            "yuv_back": image.yuv_to_rgb(t.constant(data(33, 3, 4, 3))),
        }
        return out, {rgb: data(34, 2, 3, 4, 3)}

    return _graph(t, build)


def crop_and_resize(t, image):
    def build():
        x = t.placeholder(t.float32, [None, 5, 6, 2])
        boxes = t.constant(
            np.array(
                [
                    [0.1, 0.2, 0.7, 0.9],
                    [0.5, 0.5, 0.5, 0.5],
                    [0.8, 0.9, 0.2, 0.1],  # flipped
                    [-0.3, 0.4, 1.2, 1.5],  # partly outside
                    [0.0, 0.0, 1.0, 1.0],
                ],
                np.float32,
            )
        )
        box_ind = t.constant([0, 1, 1, 0, 1])
        out = {}
        for size in ([3, 4], [1, 1], [7, 2]):
            key = f"{size[0]}x{size[1]}"
            out["bilinear_" + key] = image.crop_and_resize(x, boxes, box_ind, size)
            out["nearest_" + key] = image.crop_and_resize(
                x, boxes, box_ind, size, method="nearest", extrapolation_value=-1.0
            )
        y = image.crop_and_resize(x, boxes, box_ind, [4, 3])
        w = t.constant(data(35, 5, 4, 3, 2, low=-1.0))
        out["grad_image"], out["grad_boxes"] = t.gradients(t.reduce_sum(y * w), [x, boxes])
        return out, {x: data(36, 2, 5, 6, 2)}

    return _graph(t, build)


def ssim(t, image):
    def build():
        a = t.placeholder(t.float32, [None, 12, 13, 3])
        b = t.constant(data(37, 2, 12, 13, 3))
        u1 = t.constant(pixels(38, 14, 12, 1))
        u2 = t.constant(pixels(39, 14, 12, 1))
        out = {
            "float": image.ssim(a, b, 1.0),
            "same": image.ssim(a, a, 1.0),
            "uint8": image.ssim(u1, u2, 255),
            "small_filter": image.ssim(a, b, 1.0, filter_size=5, filter_sigma=0.8),
        }
        return out, {a: data(40, 2, 12, 13, 3)}

    return _graph(t, build)


def resize_area(t, image):
    def build():
        x4 = t.placeholder(t.float32, [None, 6, 7, 2])
        u4 = t.constant(pixels(41, 1, 5, 4, 1))
        out = {}
        for size in ([3, 4], [4, 5], [9, 10], [6, 7], [1, 1]):
            for ac in (False, True):
                key = f"{size[0]}x{size[1]}_ac{int(ac)}"
                out[key] = image.resize_area(x4, size, align_corners=ac)
        out["uint8"] = image.resize_area(u4, [2, 3])
        out["via_resize_images"] = image.resize_images(x4, [4, 3], method=image.ResizeMethod.AREA)
        return out, {x4: data(43, 2, 6, 7, 2)}  # TF's ResizeArea has no gradient

    return _graph(t, build)


PROGRAMS = {
    "resize_bilinear": resize_bilinear,
    "resize_nearest": resize_nearest,
    "resize_bicubic": resize_bicubic,
    "resize_images": resize_images,
    "flips": flips,
    "crops_and_pads": crops_and_pads,
    "convert_dtypes": convert_dtypes,
    "colour_spaces": colour_spaces,
    "adjustments": adjustments,
    "standardization_and_metrics": standardization_and_metrics,
    "resize_gradients": resize_gradients,
    "colour_matrices": colour_matrices,
    "crop_and_resize": crop_and_resize,
    "ssim": ssim,
    "resize_area": resize_area,
}


def as_lists(value):
    """Plain lists: floats rounded to 7 decimals, integers exact."""
    if isinstance(value, dict):
        return {k: as_lists(v) for k, v in value.items()}
    if isinstance(value, str) or (isinstance(value, list) and isinstance(value[0], str)):
        return value
    array = np.asarray(value)
    if array.dtype.kind in "iub":
        return array.tolist()
    return np.round(array.astype(np.float64), 7).tolist()


if __name__ == "__main__":
    import json

    import tensorflow as tensorflow

    tf1 = tensorflow.compat.v1
    tf1.disable_v2_behavior()
    lines = [f'"version": {json.dumps(tensorflow.__version__)}']
    for name, program in PROGRAMS.items():
        lines.append(f"{json.dumps(name)}: {json.dumps(as_lists(program(tf1, tf1.image)))}")
    print("{\n" + ",\n".join(lines) + "\n}")
