"""TF1's ``tf.image``: resizing, flips and rotations, crops and pads, colour adjustments and colour
spaces, dtype conversion, standardization, bounding-box sampling and image metrics.

Every function is built from tgc's ops (gather, select, slicing, elementwise math), so gradients
come from theirs: ``resize_bilinear`` is two gathers per axis and a lerp with constant weights, and
its gradient is gather's scatter-add, the sum TF's ResizeBilinearGrad computes. Interpolation
indices and weights are computed here in numpy with float32 arithmetic, step for step as TF's
kernels compute them (``resize_bilinear_op.cc``, ``resize_nearest_neighbor_op.cc``) when the
image's height and width are known when the graph is built, and by the same float32 ops in the
graph when they are known only at run time (bilinear and nearest; bicubic and area need them
known). New sizes must be known (ints, Dimensions or constant tensors); the batch may be ``None``.
Crops and pads take offsets and sizes computed at run time, with TF's checks as asserts.

uint8 images (what decoded JPEGs are) move through gathers, slices and selects as int8 bits
(``tf.bitcast``), since tgc's integer lowerings are signless; arithmetic on them goes through
``convert_image_dtype`` to float, as TF's own adjust_* functions do.

Decoding and encoding files (``decode_jpeg``, ``encode_png``, ...) is not provided: tgc computes on
numbers only, so images are decoded in Python and fed.
"""

from __future__ import annotations

import numbers

import numpy as np

from tgc.dialect.types import as_dtype
from tgc.frontend import math_ops
from tgc.frontend.array_ops import (
    _constant_value,
    _moved,
    _reversed_axis,
    concat,
    expand_dims,
    fill,
    ones_like,
    reshape,
    shape,
    squeeze,
    stack,
    transpose,
    zeros_like,
)
from tgc.frontend.array_ops import range as tf_range
from tgc.frontend.build import assert_op, constant, convert_to_tensor, make_op
from tgc.frontend.gather_ops import gather
from tgc.frontend.math_ops import cast, identity
from tgc.frontend.random_ops import random_crop, random_uniform, rng_step
from tgc.graph.graph import Dimension, Tensor, get_default_graph

__all__ = [
    "ResizeMethod",
    "resize_images",
    "resize",
    "resize_bilinear",
    "resize_nearest_neighbor",
    "resize_bicubic",
    "resize_area",
    "resize_image_with_crop_or_pad",
    "resize_with_crop_or_pad",
    "flip_left_right",
    "flip_up_down",
    "random_flip_left_right",
    "random_flip_up_down",
    "transpose_image",
    "rot90",
    "crop_to_bounding_box",
    "pad_to_bounding_box",
    "central_crop",
    "convert_image_dtype",
    "rgb_to_grayscale",
    "grayscale_to_rgb",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "adjust_gamma",
    "random_brightness",
    "random_contrast",
    "random_saturation",
    "random_hue",
    "per_image_standardization",
    "total_variation",
    "image_gradients",
    "psnr",
    "sample_distorted_bounding_box",
    "random_crop",
    "rgb_to_yiq",
    "yiq_to_rgb",
    "rgb_to_yuv",
    "yuv_to_rgb",
    "crop_and_resize",
    "ssim",
]


class ResizeMethod:
    """TF1's resize methods (``tf.image.ResizeMethod``); TF2's names ('bilinear', ...) are
    accepted too."""

    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


_METHOD_NAMES = {"bilinear": 0, "nearest": 1, "bicubic": 2, "area": 3}


# ---- image shapes --------------------------------------------------------------------------------


def _image(image, fn: str, name="image") -> Tensor:
    """``image`` as a tensor of rank 3 or 4, or TF's error naming ``fn`` and the shape."""
    image = convert_to_tensor(image, name=name)
    rank = image.shape.ndims
    if rank is None:
        raise ValueError(f"{fn}: '{name}' ({image.name}) contains no shape (its rank is unknown)")
    if rank < 3:
        raise ValueError(
            f"{fn}: '{name}' (shape {image.shape}) must be at least three-dimensional."
        )
    if rank > 4:
        raise ValueError(
            f"{fn}: '{name}' (shape {image.shape}) must have either 3 or 4 dimensions."
        )
    return image


def _as_batch(image, fn: str, name="image"):
    """(the image as a batch [n, h, w, c], whether it was one): 3-D images get a batch of 1."""
    image = _image(image, fn, name)
    if image.shape.ndims == 3:
        return expand_dims(image, 0), False
    return image, True


def _unbatch(images, is_batch, name=None):
    return identity(images, name=name) if is_batch else squeeze(images, [0], name=name)


def _known_hw(images, fn: str) -> tuple:
    """Height and width of a [n, h, w, c] batch, which must be known when the graph is built."""
    _, h, w, _ = images.shape.as_list()
    if h is None or w is None:
        raise ValueError(
            f"{fn}: the height and width of '{images.name}' {images.shape} must be known when the "
            "graph is built (tgc computes interpolation and crop indices then)"
        )
    return h, w


def _static_int(value, fn: str, what: str):
    """A Python int from an int, a numpy integer or a constant scalar tensor; None when the value
    is computed at run time."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        known = _constant_value(convert_to_tensor(value))
        if known is None:
            return None
        value = known
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {what} must be an int but got {value!r}")
    return int(array.reshape(()))


def _known_int(value, fn: str, what: str) -> int:
    known = _static_int(value, fn, what)
    if known is None:
        raise ValueError(
            f"{fn}: {what} must be known when the graph is built, not computed "
            f"('{convert_to_tensor(value).name}')"
        )
    return known


def _known_size(size, fn: str) -> tuple:
    """A new size [new_height, new_width] as two Python ints."""
    if isinstance(size, Tensor) or hasattr(size, "_as_graph_element"):
        tensor = convert_to_tensor(size)
        known = _constant_value(tensor)
        if known is None:
            raise ValueError(
                f"{fn}: the new size must be known when the graph is built, but "
                f"'{tensor.name}' is computed"
            )
        size = known
    if isinstance(size, (list, tuple)):  # Dimensions (x.shape[1] * 2) are ints when known
        size = [d.value if isinstance(d, Dimension) else d for d in size]
    array = np.asarray(size)
    if array.shape != (2,) or array.dtype.kind not in "iu":
        raise ValueError(
            f"{fn}: 'size' must be a 1-D int32 Tensor of 2 elements: new_height, new_width; got "
            f"{size!r}"
        )
    new_h, new_w = (int(v) for v in array)
    if new_h <= 0 or new_w <= 0:
        raise ValueError(f"{fn}: the new size must be positive, got [{new_h}, {new_w}]")
    return new_h, new_w


# ---- uint8 through data movement -----------------------------------------------------------------


def _take(x: Tensor, indices, axis: int) -> Tensor:
    """x's slices along ``axis`` at ``indices`` (a list, numpy array or int32 tensor)."""
    if not isinstance(indices, Tensor):
        indices = np.asarray(indices, np.int32)
    return _moved(x, lambda v: gather(v, indices, axis=axis))


def _select(condition, x: Tensor, y: Tensor) -> Tensor:
    if x.dtype.name != "uint8":
        return math_ops.where(condition, x, y)
    bits = math_ops.where(condition, math_ops.bitcast(x, "int8"), math_ops.bitcast(y, "int8"))
    return math_ops.bitcast(bits, "uint8")


# ---- resizing ------------------------------------------------------------------------------------


def _resize_scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    """TF's CalculateResizeScale, in float32."""
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def _bilinear_weights(in_size, out_size, align_corners, half_pixel_centers):
    """(lower, upper, lerp) per output position, as TF's compute_interpolation_weights."""
    scale = _resize_scale(in_size, out_size, align_corners)
    positions = np.arange(out_size, dtype=np.float32)
    if half_pixel_centers:
        source = (positions + np.float32(0.5)) * scale - np.float32(0.5)
    else:
        source = positions * scale
    floor = np.floor(source)
    lower = np.maximum(floor, 0).astype(np.int32)
    upper = np.minimum(np.ceil(source), in_size - 1).astype(np.int32)
    return lower, upper, (source - floor).astype(np.float32)


def _nearest_indices(in_size, out_size, align_corners, half_pixel_centers):
    """Source index per output position, as TF's ResizeNearestNeighbor kernel picks it."""
    scale = _resize_scale(in_size, out_size, align_corners)
    positions = np.arange(out_size, dtype=np.float32)
    source = (positions + np.float32(0.5)) * scale if half_pixel_centers else positions * scale
    # roundf rounds halves away from zero; the source positions are never negative here.
    picked = np.floor(source + np.float32(0.5)) if align_corners else np.floor(source)
    picked = np.minimum(picked.astype(np.int64), in_size - 1)
    if half_pixel_centers:
        picked = np.maximum(picked, 0)
    return picked.astype(np.int32)


def _check_centers(fn, align_corners, half_pixel_centers):
    if align_corners and half_pixel_centers:
        raise ValueError(f"{fn}: If half_pixel_centers is True, align_corners must be False.")


def _lerp(a, b, weights):
    """a + (b - a) * weights, TF's compute_lerp."""
    return math_ops.add(a, math_ops.multiply(math_ops.subtract(b, a), weights))


def _dims(images, fn):
    """Height and width of a [n, h, w, c] batch: Python ints where known, else scalar int32
    tensors read at run time."""
    _, h, w, _ = images.shape.as_list()
    dims = shape(images)
    return [d if d is not None else dims[axis] for axis, d in ((1, h), (2, w))]


def _source_positions(in_size, out_size, align_corners, half_pixel_centers, for_nearest=False):
    """Where each output position samples the input (float32), as TF's scalers compute it, for
    an input size known only at run time (a tensor)."""
    size_f = cast(in_size, "float32")
    if align_corners and out_size > 1:
        scale = math_ops.divide(cast(in_size - 1, "float32"), np.float32(out_size - 1))
    else:
        scale = math_ops.divide(size_f, np.float32(out_size))
    positions = np.arange(out_size, dtype=np.float32)
    if not half_pixel_centers:
        return math_ops.multiply(positions, scale)
    source = math_ops.multiply(positions + np.float32(0.5), scale)
    return source if for_nearest else math_ops.subtract(source, np.float32(0.5))


def _bilinear_axis(in_size, out_size, align_corners, half_pixel_centers):
    """(lower, upper, lerp) for one axis: numpy when the input size is known, tensors when it
    is read at run time."""
    if isinstance(in_size, int):
        return _bilinear_weights(in_size, out_size, align_corners, half_pixel_centers)
    source = _source_positions(in_size, out_size, align_corners, half_pixel_centers)
    floor = math_ops.floor(source)
    lower = math_ops.maximum(cast(floor, "int32"), 0)
    upper = math_ops.minimum(cast(math_ops.ceil(source), "int32"), in_size - 1)
    return lower, upper, math_ops.subtract(source, floor)


def _nearest_axis(in_size, out_size, align_corners, half_pixel_centers):
    if isinstance(in_size, int):
        return _nearest_indices(in_size, out_size, align_corners, half_pixel_centers)
    source = _source_positions(in_size, out_size, align_corners, half_pixel_centers, True)
    picked = math_ops.floor(math_ops.add(source, 0.5) if align_corners else source)
    picked = math_ops.minimum(cast(picked, "int32"), in_size - 1)
    return math_ops.maximum(picked, 0) if half_pixel_centers else picked


def _along(weights, axis, count):
    """Per-position weights shaped to broadcast along ``axis`` of a [n, h, w, c] batch."""
    shape_ = [1, 1, 1, 1]
    shape_[axis] = count
    return reshape(weights, shape_)


def resize_bilinear(images, size, align_corners=False, name=None, half_pixel_centers=False):
    """`tf.image.resize_bilinear`: float32 [batch, new_height, new_width, channels]."""
    fn = "resize_bilinear"
    _check_centers(fn, align_corners, half_pixel_centers)
    with get_default_graph().name_scope(name or "ResizeBilinear") as scope:
        images, is_batch = _as_batch(images, fn, "images")
        h, w = _dims(images, fn)
        new_h, new_w = _known_size(size, fn)
        images = cast(images, "float32")
        top, bottom, y_lerp = _bilinear_axis(h, new_h, align_corners, half_pixel_centers)
        left, right, x_lerp = _bilinear_axis(w, new_w, align_corners, half_pixel_centers)
        x_lerp = _along(x_lerp, 2, new_w)
        rows = [gather(images, rows, axis=1) for rows in (top, bottom)]
        top_row, bottom_row = (
            _lerp(gather(r, left, axis=2), gather(r, right, axis=2), x_lerp) for r in rows
        )
        out = _lerp(top_row, bottom_row, _along(y_lerp, 1, new_h))
        return _unbatch(out, is_batch, name=scope)


def resize_nearest_neighbor(images, size, align_corners=False, name=None, half_pixel_centers=False):
    """`tf.image.resize_nearest_neighbor`: the images' dtype, each output pixel a copy of one
    input pixel."""
    fn = "resize_nearest_neighbor"
    _check_centers(fn, align_corners, half_pixel_centers)
    with get_default_graph().name_scope(name or "ResizeNearestNeighbor") as scope:
        images, is_batch = _as_batch(images, fn, "images")
        h, w = _dims(images, fn)
        new_h, new_w = _known_size(size, fn)
        rows = _nearest_axis(h, new_h, align_corners, half_pixel_centers)
        cols = _nearest_axis(w, new_w, align_corners, half_pixel_centers)
        out = _take(_take(images, rows, 1), cols, 2)
        return _unbatch(out, is_batch, name=scope)


_CUBIC_TABLE_SIZE = 1024


def _cubic_table(a):
    """TF's coefficient table (GetCoeffsTable): Keys' kernel at i / 1024 (column 0: |x| <= 1)
    and at 1 + i / 1024 (column 1), float32."""
    a = np.float32(a)
    x = (np.arange(_CUBIC_TABLE_SIZE + 1) / _CUBIC_TABLE_SIZE).astype(np.float32)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    x = x + np.float32(1)
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.stack([near, far], 1).astype(np.float32)


def _bicubic_weights(in_size, out_size, align_corners, half_pixel_centers):
    """(indices [out, 4], weights [out, 4]) as TF's bicubic kernel (GetWeightsAndIndices): the
    tabulated Keys kernel (a = -0.75 legacy; a = -0.5 with half-pixel centers, whose weights of
    positions outside the image are dropped and the rest renormalized)."""
    scale = _resize_scale(in_size, out_size, align_corners)
    positions = np.arange(out_size, dtype=np.float32)
    if half_pixel_centers:
        source = (positions + np.float32(0.5)) * scale - np.float32(0.5)
    else:
        source = positions * scale
    base = np.floor(source)
    offset = np.rint((source - base) * np.float32(_CUBIC_TABLE_SIZE)).astype(np.int64)
    table = _cubic_table(-0.5 if half_pixel_centers else -0.75)
    back = _CUBIC_TABLE_SIZE - offset
    weights = np.stack(
        [table[offset, 1], table[offset, 0], table[back, 0], table[back, 1]], 1
    ).astype(np.float32)
    indices = base.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]
    bounded = np.clip(indices, 0, in_size - 1)
    if half_pixel_centers:
        weights = np.where(bounded == indices, weights, np.float32(0)).astype(np.float32)
        total = weights[:, 0] + weights[:, 1] + weights[:, 2] + weights[:, 3]
        ok = np.abs(total) >= 1000.0 * np.finfo(np.float32).tiny
        inverse = np.where(ok, np.float32(1) / np.where(ok, total, 1), np.float32(1))
        weights = (weights * inverse.astype(np.float32)[:, None]).astype(np.float32)
    return bounded.astype(np.int32), weights


def _cubic_axis(images, indices, weights, axis):
    """Sum over the 4 neighbours along ``axis`` of weight * neighbour."""
    shape_ = [1, 1, 1, 1]
    shape_[axis] = len(indices)
    total = None
    for k in range(4):
        term = math_ops.multiply(
            gather(images, indices[:, k], axis=axis), weights[:, k].reshape(shape_)
        )
        total = term if total is None else math_ops.add(total, term)
    return total


def resize_bicubic(images, size, align_corners=False, name=None, half_pixel_centers=False):
    """`tf.image.resize_bicubic`: float32, Keys' cubic convolution along each axis."""
    fn = "resize_bicubic"
    _check_centers(fn, align_corners, half_pixel_centers)
    with get_default_graph().name_scope(name or "ResizeBicubic") as scope:
        images, is_batch = _as_batch(images, fn, "images")
        h, w = _known_hw(images, fn)
        new_h, new_w = _known_size(size, fn)
        images = cast(images, "float32")
        rows = _cubic_axis(
            images, *_bicubic_weights(h, new_h, align_corners, half_pixel_centers), 1
        )
        out = _cubic_axis(rows, *_bicubic_weights(w, new_w, align_corners, half_pixel_centers), 2)
        return _unbatch(out, is_batch, name=scope)


def _area_matrix(in_size, out_size, align_corners):
    """[out, in] weights of TF's ResizeArea along one axis: each output cell averages the input
    cells its span [y * scale, (y + 1) * scale) covers, partial cells by the part covered
    (indices past the edge read the edge)."""
    scale = _resize_scale(in_size, out_size, align_corners)
    matrix = np.zeros((out_size, in_size), np.float64)
    for out in range(out_size):
        start = np.float32(out) * scale
        end = np.float32(out + 1) * scale
        for cell in range(int(np.floor(start)), int(np.ceil(end))):
            covered = min(cell + 1.0, float(end)) - max(float(cell), float(start))
            matrix[out, min(max(cell, 0), in_size - 1)] += covered
    return (matrix / float(scale)).astype(np.float32)


def resize_area(images, size, align_corners=False, name=None):
    """`tf.image.resize_area`: float32, each output pixel the mean of the input area it covers
    (two constant matrices, one per axis; height and width known when the graph is built)."""
    fn = "resize_area"
    with get_default_graph().name_scope(name or "ResizeArea") as scope:
        images, is_batch = _as_batch(images, fn, "images")
        h, w = _known_hw(images, fn)
        new_h, new_w = _known_size(size, fn)
        images = cast(images, "float32")
        rows = constant(_area_matrix(h, new_h, align_corners))  # [new_h, h]
        cols = constant(_area_matrix(w, new_w, align_corners))  # [new_w, w]
        out = math_ops.tensordot(images, rows, [[1], [1]])  # [n, w, c, new_h]
        out = math_ops.tensordot(out, cols, [[1], [1]])  # [n, c, new_h, new_w]
        return _unbatch(transpose(out, [0, 2, 3, 1]), is_batch, name=scope)


def _method_code(method, fn):
    code = _METHOD_NAMES.get(method, method) if isinstance(method, str) else method
    if code not in (0, 1, 2, 3):
        raise ValueError(f"{fn}: Resize method is not implemented: {method}")
    return code


def _aspect_size(h, w, new_h, new_w):
    """TF's preserve_aspect_ratio size: both sides scaled by the smaller factor, rounded half to
    even in float32."""
    factor = min(np.float32(new_h) / np.float32(h), np.float32(new_w) / np.float32(w))
    return int(np.round(factor * np.float32(h))), int(np.round(factor * np.float32(w)))


def resize_images(
    images,
    size,
    method=ResizeMethod.BILINEAR,
    align_corners=False,
    preserve_aspect_ratio=False,
    name=None,
):
    """TF1's `tf.image.resize_images` (also `tf.image.resize` in TF1): legacy pixel centers
    (half_pixel_centers=False). The images come back unchanged when the size is theirs
    (their dtype kept); otherwise float32, except NEAREST_NEIGHBOR, which keeps the dtype."""
    fn = "resize_images"
    code = _method_code(method, fn)
    with get_default_graph().name_scope(name or "resize"):
        images, is_batch = _as_batch(images, fn, "images")
        h, w = _dims(images, fn)
        new_h, new_w = _known_size(size, fn)
        if preserve_aspect_ratio:
            h, w = _known_hw(images, fn + " with preserve_aspect_ratio")
            new_h, new_w = _aspect_size(h, w, new_h, new_w)
        if (new_h, new_w) == (h, w):
            return _unbatch(images, is_batch)
        resizer = (resize_bilinear, resize_nearest_neighbor, resize_bicubic, resize_area)[code]
        return _unbatch(resizer(images, [new_h, new_w], align_corners=align_corners), is_batch)


resize = resize_images


# ---- flips, transposes and rotations -------------------------------------------------------------


def _reverse(images, axis):
    return _reversed_axis(images, axis)


def _flip(image, axis3, fn):
    with get_default_graph().name_scope(fn) as scope:
        images, is_batch = _as_batch(image, fn)
        return _unbatch(_reverse(images, axis3 + 1), is_batch, name=scope)


def flip_left_right(image):
    """`tf.image.flip_left_right`: the width axis reversed."""
    return _flip(image, 1, "flip_left_right")


def flip_up_down(image):
    """`tf.image.flip_up_down`: the height axis reversed."""
    return _flip(image, 0, "flip_up_down")


def _per_image_uniform(images, seed):
    """One uniform [0, 1) draw per image of a [n, h, w, c] batch, shape [n, 1, 1, 1]; n may be
    known only at run time."""
    n = images.shape[0].value
    if n is not None:
        return random_uniform([n, 1, 1, 1], seed=seed)
    like = fill(stack([shape(images)[0], 1, 1, 1]), 0.0)
    graph = get_default_graph()
    seed1, seed2 = graph.next_seeds(seed)
    return make_op("random_uniform_like", [like, rng_step(graph)], seed=seed1, seed2=seed2)


def _random_flip(image, axis3, seed, fn):
    """Each image flipped with probability 1/2 (a batch: each image on its own draw)."""
    with get_default_graph().name_scope(fn) as scope:
        images, is_batch = _as_batch(image, fn)
        flip = math_ops.less(_per_image_uniform(images, seed), 0.5)
        out = _select(flip, _reverse(images, axis3 + 1), images)
        return _unbatch(out, is_batch, name=scope)


def random_flip_left_right(image, seed=None):
    """`tf.image.random_flip_left_right`."""
    return _random_flip(image, 1, seed, "random_flip_left_right")


def random_flip_up_down(image, seed=None):
    """`tf.image.random_flip_up_down`."""
    return _random_flip(image, 0, seed, "random_flip_up_down")


def transpose_image(image, name=None):
    """`tf.image.transpose_image` (`tf.image.transpose`): height and width swapped."""
    with get_default_graph().name_scope(name or "transpose") as scope:
        images, is_batch = _as_batch(image, "transpose_image")
        out = _moved(images, lambda v: transpose(v, [0, 2, 1, 3]))
        return _unbatch(out, is_batch, name=scope)


transpose_image_v2 = transpose_image


def rot90(image, k=1, name=None):
    """`tf.image.rot90`: rotated counter-clockwise by k * 90 degrees (k known when the graph is
    built)."""
    turns = _known_int(k, "rot90", "k") % 4
    with get_default_graph().name_scope(name or "rot90") as scope:
        images, is_batch = _as_batch(image, "rot90")
        if turns == 1:  # TF: transpose(reverse(width))
            out = _moved(_reverse(images, 2), lambda v: transpose(v, [0, 2, 1, 3]))
        elif turns == 2:
            out = _reverse(_reverse(images, 1), 2)
        elif turns == 3:  # TF: reverse(transpose, width)
            out = _reverse(_moved(images, lambda v: transpose(v, [0, 2, 1, 3])), 2)
        else:
            out = images
        return _unbatch(out, is_batch, name=scope)


# ---- crops and pads ------------------------------------------------------------------------------


def _int_or_tensor(value, fn: str, what: str):
    """A Python int when known at build time, else a scalar int32 tensor (TF lets offsets and
    sizes of crops and pads be computed)."""
    known = _static_int(value, fn, what)
    if known is not None:
        return known
    tensor = cast(convert_to_tensor(value), "int32")
    if tensor.shape.ndims not in (0, None):
        raise ValueError(f"{fn}: {what} must be a scalar, not {tensor.shape}")
    return tensor


def _all_known(*values) -> bool:
    return all(isinstance(v, int) for v in values)


def _imax(a, b):
    return max(a, b) if _all_known(a, b) else math_ops.maximum(a, b)


def _imin(a, b):
    return min(a, b) if _all_known(a, b) else math_ops.minimum(a, b)


class _Checks:
    """TF's argument checks of crops and pads: raised now when the values are known, else asserts
    that fail the run, attached to the image."""

    def __init__(self, fn):
        self.fn, self.asserts = fn, []

    def require(self, holds, message, *values):
        if isinstance(holds, (bool, np.bool_)):
            if not holds:
                raise ValueError(f"{self.fn}: {message} (got {', '.join(map(str, values))}).")
        else:
            self.asserts.append(assert_op(holds, [f"{self.fn}: {message}", *values]))

    def attach(self, images):
        if not self.asserts:
            return images
        with images.graph.control_dependencies(self.asserts):
            return identity(images)


def _ge(a, b):
    return a >= b if _all_known(a, b) else math_ops.greater_equal(a, b)


def _crop(images, offset_h, offset_w, height, width):
    """images[:, offset_h : offset_h + height, offset_w : offset_w + width] (bounds checked by
    the caller); offsets and sizes computed at run time pick rows and columns by gathers, which
    keep the batch and channel dims the graph knows."""
    if _all_known(offset_h, offset_w, height, width):
        return _moved(
            images, lambda v: v[:, offset_h : offset_h + height, offset_w : offset_w + width, :]
        )
    rows = tf_range(offset_h, math_ops.add(offset_h, height))
    cols = tf_range(offset_w, math_ops.add(offset_w, width))
    return _take(_take(images, rows, 1), cols, 2)


def _sized(images, height, width):
    """images with the height and width the graph knows when they are ints (a crop or pad by
    offsets computed at run time has these, as TF's set_shape gives them)."""
    dims = images.shape.as_list()
    wanted = list(dims)
    for axis, size in ((1, height), (2, width)):
        if isinstance(size, int):
            wanted[axis] = size
    if wanted == dims:
        return images
    run_time = shape(images)
    return reshape(images, [run_time[axis] if d is None else d for axis, d in enumerate(wanted)])


def _bounds(fn, values):
    names = ("offset_height", "offset_width", "target_height", "target_width")
    return [_int_or_tensor(v, fn, n) for v, n in zip(values, names)]


def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """`tf.image.crop_to_bounding_box`: the box with its top-left corner at (offset_height,
    offset_width) and size target_height x target_width (ints, or tensors computed at run
    time)."""
    fn = "crop_to_bounding_box"
    with get_default_graph().name_scope(fn) as scope:
        images, is_batch = _as_batch(image, fn)
        h, w = _dims(images, fn)
        oh, ow, th, tw = _bounds(fn, (offset_height, offset_width, target_height, target_width))
        checks = _Checks(fn)
        checks.require(_ge(ow, 0), "offset_width must be >= 0", ow)
        checks.require(_ge(oh, 0), "offset_height must be >= 0", oh)
        checks.require(_ge(tw, 1), "target_width must be > 0", tw)
        checks.require(_ge(th, 1), "target_height must be > 0", th)
        checks.require(_ge(w, tw + ow), "width must be >= target + offset", w, tw, ow)
        checks.require(_ge(h, th + oh), "height must be >= target + offset", h, th, oh)
        out = _sized(_crop(checks.attach(images), oh, ow, th, tw), th, tw)
        return _unbatch(out, is_batch, name=scope)


def _pad_axis(images, axis, n, before, after):
    """Zeros before and after along ``axis`` (of size n): a zero slice appended, then gathered
    where the padding goes (works for a batch of unknown size; its gradient drops the zero
    slice). Sizes are ints or int32 scalars."""
    if _all_known(n, before, after):
        if before == 0 and after == 0:
            return images
        indices = np.asarray([n] * before + list(range(n)) + [n] * after, np.int32)
    else:
        # n repeated before / after times: zeros of a run-time length, plus n
        padding = [math_ops.add(fill([count], 0), n) for count in (before, after)]
        indices = concat([padding[0], tf_range(n), padding[1]], 0)

    def pad(v):
        zero = zeros_like(v[:, :1] if axis == 1 else v[:, :, :1])
        return gather(concat([v, zero], axis), indices, axis=axis)

    return _moved(images, pad)


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """`tf.image.pad_to_bounding_box`: the image placed at (offset_height, offset_width) in a
    target_height x target_width image of zeros (ints, or tensors computed at run time)."""
    fn = "pad_to_bounding_box"
    with get_default_graph().name_scope(fn) as scope:
        images, is_batch = _as_batch(image, fn)
        h, w = _dims(images, fn)
        oh, ow, th, tw = _bounds(fn, (offset_height, offset_width, target_height, target_width))
        checks = _Checks(fn)
        checks.require(_ge(oh, 0), "offset_height must be >= 0", oh)
        checks.require(_ge(ow, 0), "offset_width must be >= 0", ow)
        checks.require(_ge(th - oh, h), "height must be <= target - offset", h, th, oh)
        checks.require(_ge(tw - ow, w), "width must be <= target - offset", w, tw, ow)
        images = checks.attach(images)
        out = _pad_axis(_pad_axis(images, 1, h, oh, th - oh - h), 2, w, ow, tw - ow - w)
        return _unbatch(_sized(out, th, tw), is_batch, name=scope)


def resize_image_with_crop_or_pad(image, target_height, target_width):
    """`tf.image.resize_image_with_crop_or_pad`: centrally cropped where the image is larger than
    the target and zero-padded around where it is smaller."""
    fn = "resize_image_with_crop_or_pad"
    with get_default_graph().name_scope(fn) as scope:
        images, is_batch = _as_batch(image, fn)
        h, w = _dims(images, fn)
        th = _int_or_tensor(target_height, fn, "target_height")
        tw = _int_or_tensor(target_width, fn, "target_width")
        checks = _Checks(fn)
        checks.require(_ge(tw, 1), "target_width must be > 0", tw)
        checks.require(_ge(th, 1), "target_height must be > 0", th)
        images = checks.attach(images)
        cropped = crop_to_bounding_box(
            images,
            _imax(-(th - h) // 2, 0),
            _imax(-(tw - w) // 2, 0),
            _imin(th, h),
            _imin(tw, w),
        )
        out = pad_to_bounding_box(cropped, _imax((th - h) // 2, 0), _imax((tw - w) // 2, 0), th, tw)
        return _unbatch(out, is_batch, name=scope)


resize_with_crop_or_pad = resize_image_with_crop_or_pad


def _central_start(size, fraction):
    """TF's offset of the central crop: int((size - size * fraction) / 2), in float64 when the
    size is known only at run time."""
    if isinstance(size, int):
        return int((float(size) - float(size) * fraction) / 2)
    size_f = cast(size, "float64")
    return cast(math_ops.divide(math_ops.subtract(size_f, size_f * fraction), 2.0), "int32")


def central_crop(image, central_fraction):
    """`tf.image.central_crop`: the central ``central_fraction`` of the height and width."""
    fn = "central_crop"
    fraction = central_fraction
    if isinstance(fraction, Tensor):
        known = _constant_value(fraction)
        if known is None:
            raise ValueError(f"{fn}: central_fraction must be known when the graph is built")
        fraction = known
    fraction = float(np.asarray(fraction))
    if fraction <= 0.0 or fraction > 1.0:
        raise ValueError(f"{fn}: central_fraction must be within (0, 1] (got {fraction})")
    image = _image(image, fn)
    if fraction == 1.0:
        return image
    with get_default_graph().name_scope(fn) as scope:
        images, is_batch = _as_batch(image, fn)
        h, w = _dims(images, fn)
        top, left = _central_start(h, fraction), _central_start(w, fraction)
        out = _crop(images, top, left, h - 2 * top, w - 2 * left)
        return _unbatch(out, is_batch, name=scope)


# ---- dtypes --------------------------------------------------------------------------------------


def _dtype_max(dtype):
    return np.iinfo(dtype.name).max


def _saturate_cast(x, dtype):
    """Clamped to ``dtype``'s range (in x's dtype) where x's range exceeds it, then cast."""
    lo, hi = np.iinfo(dtype.name).min, np.iinfo(dtype.name).max
    if x.dtype.is_floating:
        x = math_ops.minimum(math_ops.maximum(x, float(lo)), float(hi))
    else:
        in_info = np.iinfo(x.dtype.name)
        if in_info.min < lo:
            x = math_ops.maximum(x, constant(lo, dtype=x.dtype))
        if in_info.max > hi:
            x = math_ops.minimum(x, constant(hi, dtype=x.dtype))
    return cast(x, dtype)


def _int_arith(x):
    """x ready for integer arithmetic: uint8 (which tgc computes on only after a cast) as int32."""
    return cast(x, "int32") if x.dtype.name == "uint8" else x


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """`tf.image.convert_image_dtype`: integers scaled to [0, MAX] of their dtype, floats to
    [0, 1), converting between them as TF does (int -> float: x / MAX; float -> int:
    x * (MAX + 0.5) cast; int -> int: a power-of-two multiply or floor division)."""
    image = convert_to_tensor(image, name="image")
    dtype = as_dtype(dtype)
    for what, d in (("dtype", dtype), ("image dtype", image.dtype)):
        if not (d.is_floating or d.is_integer):
            raise AttributeError(
                f"convert_image_dtype: {what} must be either floating point or "
                f"integer, not {d.name}"
            )
    if dtype == image.dtype:
        return identity(image, name=name)
    with get_default_graph().name_scope(name or "convert_image") as scope:
        if image.dtype.is_integer and dtype.is_integer:
            scale_in, scale_out = _dtype_max(image.dtype), _dtype_max(dtype)
            if scale_in > scale_out:
                scale = (scale_in + 1) // (scale_out + 1)
                scaled = math_ops.floordiv(_int_arith(image), scale)
                out = _saturate_cast(scaled, dtype) if saturate else cast(scaled, dtype)
            else:
                converted = _saturate_cast(image, dtype) if saturate else cast(image, dtype)
                scale = (scale_out + 1) // (scale_in + 1)
                if dtype.name == "uint8":
                    out = cast(math_ops.multiply(cast(converted, "int32"), scale), dtype)
                else:
                    out = math_ops.multiply(converted, constant(scale, dtype=dtype))
            return identity(out, name=scope)
        if image.dtype.is_floating and dtype.is_floating:
            return cast(image, dtype, name=scope)
        if image.dtype.is_integer:
            scale = 1.0 / _dtype_max(image.dtype)
            return math_ops.multiply(cast(image, dtype), scale, name=scope)
        scaled = math_ops.multiply(image, _dtype_max(dtype) + 0.5)
        return identity(_saturate_cast(scaled, dtype) if saturate else cast(scaled, dtype), scope)


def _to_float(image):
    """TF's adjust_* rule: float16 and float32 images computed in their dtype, others in float32
    (through convert_image_dtype's scaling)."""
    if image.dtype.name in ("float16", "float32"):
        return image
    return convert_image_dtype(image, "float32")


# ---- colour spaces -------------------------------------------------------------------------------


def _channels(images, fn, count, name="images"):
    """``images`` with ``count`` channels in the last dimension; a channel count known only at
    run time (as after a slice by sample_distorted_bounding_box) is checked then, by an
    assert."""
    images = convert_to_tensor(images, name=name)
    if images.shape.ndims is None or images.shape.ndims < 1:
        raise ValueError(f"{fn}: '{name}' {images.shape} must have a channel dimension")
    last = images.shape[-1].value
    if last is None:
        channels = shape(images)[images.shape.ndims - 1]
        check = assert_op(
            math_ops.equal(channels, count),
            [f"{fn}: the last dimension of '{images.name}' must be {count}, not", channels],
        )
        with images.graph.control_dependencies([check]):
            return identity(images)
    if last != count:
        raise ValueError(
            f"{fn}: the last dimension of '{images.name}' {images.shape} must be {count}"
        )
    return images


def _split_rgb(images):
    """The three channels of [..., 3] images, each [..., 1]."""
    return [images[..., k : k + 1] for k in range(3)]


def rgb_to_grayscale(images, name=None):
    """`tf.image.rgb_to_grayscale`: 0.2989 R + 0.5870 G + 0.1140 B, in the images' dtype
    (computed in float32 for integer images)."""
    fn = "rgb_to_grayscale"
    with get_default_graph().name_scope(name or fn) as scope:
        images = _channels(images, fn, 3)
        flt = convert_image_dtype(images, "float32")
        weights = constant(np.array([0.2989, 0.5870, 0.1140], np.float32))
        gray = math_ops.reduce_sum(math_ops.multiply(flt, weights), axis=-1, keepdims=True)
        return convert_image_dtype(gray, images.dtype, name=scope)


def grayscale_to_rgb(images, name=None):
    """`tf.image.grayscale_to_rgb`: the one channel repeated three times."""
    fn = "grayscale_to_rgb"
    with get_default_graph().name_scope(name or fn) as scope:
        images = _channels(images, fn, 1)
        axis = images.shape.ndims - 1
        return identity(_moved(images, lambda v: concat([v, v, v], axis)), name=scope)


def rgb_to_hsv(images, name=None):
    """`tf.image.rgb_to_hsv` (floats in [0, 1]): TF's RGBToHSV kernel formulas."""
    fn = "rgb_to_hsv"
    with get_default_graph().name_scope(name or "RGBToHSV") as scope:
        images = _channels(images, fn, 3)
        if not images.dtype.is_floating:
            raise TypeError(f"{fn}: images must be floats, not {images.dtype.name}")
        r, g, b = _split_rgb(images)
        value = math_ops.maximum(math_ops.maximum(r, g), b)
        spread = math_ops.subtract(value, math_ops.minimum(math_ops.minimum(r, g), b))
        positive_value = math_ops.greater(value, 0.0)
        saturation = math_ops.where(
            positive_value, _safe_divide(spread, value, positive_value), zeros_like(value)
        )
        has_hue = math_ops.greater(spread, 0.0)
        norm = math_ops.multiply(_safe_divide(ones_like(spread), spread, has_hue), 1.0 / 6.0)
        hue = math_ops.where(
            math_ops.equal(r, value),
            math_ops.multiply(norm, math_ops.subtract(g, b)),
            math_ops.where(
                math_ops.equal(g, value),
                math_ops.add(math_ops.multiply(norm, math_ops.subtract(b, r)), 2.0 / 6.0),
                math_ops.add(math_ops.multiply(norm, math_ops.subtract(r, g)), 4.0 / 6.0),
            ),
        )
        hue = math_ops.where(has_hue, hue, zeros_like(hue))
        hue = math_ops.where(math_ops.less(hue, 0.0), math_ops.add(hue, 1.0), hue)
        return concat([hue, saturation, value], images.shape.ndims - 1, name=scope)


def _safe_divide(x, y, ok):
    """x / y where ``ok``; elsewhere x / 1, so no inf or nan reaches the gradient of the branch
    a select drops."""
    return math_ops.divide(x, math_ops.where(ok, y, ones_like(y)))


def hsv_to_rgb(images, name=None):
    """`tf.image.hsv_to_rgb` (hue, saturation and value in [0, 1]): TF's HSVToRGB kernel."""
    fn = "hsv_to_rgb"
    with get_default_graph().name_scope(name or "HSVToRGB") as scope:
        images = _channels(images, fn, 3)
        if not images.dtype.is_floating:
            raise TypeError(f"{fn}: images must be floats, not {images.dtype.name}")
        h, s, v = _split_rgb(images)
        dh = math_ops.multiply(h, 6.0)

        def ramp(center, sign):
            distance = math_ops.abs(math_ops.subtract(dh, center))
            raw = math_ops.subtract(distance, 1.0) if sign > 0 else math_ops.subtract(2.0, distance)
            return math_ops.clip_by_value(raw, 0.0, 1.0)

        one_minus_s = math_ops.subtract(1.0, s)
        channels = [
            math_ops.multiply(math_ops.add(one_minus_s, math_ops.multiply(s, d)), v)
            for d in (ramp(3.0, 1), ramp(2.0, -1), ramp(4.0, -1))
        ]
        return concat(channels, images.shape.ndims - 1, name=scope)


# ---- colour adjustments --------------------------------------------------------------------------


def adjust_brightness(image, delta):
    """`tf.image.adjust_brightness`: delta added (in [0, 1) units for integer images), saturated
    back to the image's dtype."""
    with get_default_graph().name_scope("adjust_brightness") as scope:
        image = convert_to_tensor(image, name="image")
        flt = _to_float(image)
        adjusted = math_ops.add(flt, cast(delta, flt.dtype))
        return convert_image_dtype(adjusted, image.dtype, saturate=True, name=scope)


def adjust_contrast(images, contrast_factor):
    """`tf.image.adjust_contrast`: (x - mean) * factor + mean, the mean per image and channel
    over height and width."""
    fn = "adjust_contrast"
    with get_default_graph().name_scope(fn) as scope:
        images = convert_to_tensor(images, name="images")
        if images.shape.ndims is not None and images.shape.ndims < 3:
            raise ValueError(
                f"{fn}: 'images' (shape {images.shape}) must be at least three-dimensional."
            )
        flt = _to_float(images)
        mean = math_ops.reduce_mean(flt, axis=[-3, -2], keepdims=True)
        factor = cast(contrast_factor, flt.dtype)
        adjusted = math_ops.add(math_ops.multiply(math_ops.subtract(flt, mean), factor), mean)
        return convert_image_dtype(adjusted, images.dtype, saturate=True, name=scope)


def _adjust_hsv(image, fn, change):
    with get_default_graph().name_scope(fn) as scope:
        image = _channels(image, fn, 3, name="image")
        flt = _to_float(image)
        hsv = rgb_to_hsv(flt)
        h, s, v = _split_rgb(hsv)
        h, s = change(h, s)
        rgb = hsv_to_rgb(concat([h, s, v], hsv.shape.ndims - 1))
        return convert_image_dtype(rgb, image.dtype, name=scope)


def adjust_saturation(image, saturation_factor, name=None):
    """`tf.image.adjust_saturation`: saturation scaled by the factor and clipped to [0, 1]."""

    def change(h, s):
        factor = cast(saturation_factor, s.dtype)
        return h, math_ops.clip_by_value(math_ops.multiply(s, factor), 0.0, 1.0)

    return _adjust_hsv(image, "adjust_saturation", change)


def adjust_hue(image, delta, name=None):
    """`tf.image.adjust_hue`: delta added to the hue, which wraps around [0, 1)."""
    if isinstance(delta, numbers.Real) and not -1 <= delta <= 1:
        raise ValueError(f"adjust_hue: delta must be in the interval [-1, 1] (got {delta})")

    def change(h, s):
        shifted = math_ops.add(h, cast(delta, h.dtype))
        return math_ops.subtract(shifted, math_ops.floor(shifted)), s

    return _adjust_hsv(image, "adjust_hue", change)


def adjust_gamma(image, gamma=1, gain=1):
    """`tf.image.adjust_gamma`: gain * x ** gamma on the [0, 1] scale of the image's dtype."""
    with get_default_graph().name_scope("adjust_gamma") as scope:
        image = convert_to_tensor(image, name="image")
        if isinstance(gamma, numbers.Real) and gamma < 0:
            raise ValueError(
                f"adjust_gamma: Gamma should be a non-negative real number (got {gamma})"
            )
        flt = image if image.dtype.is_floating else convert_image_dtype(image, "float32")
        adjusted = math_ops.multiply(
            cast(gain, flt.dtype), math_ops.pow(flt, cast(gamma, flt.dtype))
        )
        if image.dtype.is_floating:
            return identity(adjusted, name=scope)
        return convert_image_dtype(adjusted, image.dtype, saturate=True, name=scope)


# ---- random adjustments --------------------------------------------------------------------------


def _scalar_uniform(lower, upper, seed):
    return random_uniform([], lower, upper, seed=seed)


def random_brightness(image, max_delta, seed=None):
    """`tf.image.random_brightness`: adjust_brightness by a delta uniform in
    [-max_delta, max_delta)."""
    if max_delta < 0:
        raise ValueError(f"random_brightness: max_delta must be non-negative (got {max_delta}).")
    return adjust_brightness(image, _scalar_uniform(-max_delta, max_delta, seed))


def _check_range(fn, lower, upper):
    if upper <= lower:
        raise ValueError(f"{fn}: upper must be > lower (got lower={lower}, upper={upper}).")
    if lower < 0:
        raise ValueError(f"{fn}: lower must be non-negative (got {lower}).")


def random_contrast(image, lower, upper, seed=None):
    """`tf.image.random_contrast`: adjust_contrast by a factor uniform in [lower, upper)."""
    _check_range("random_contrast", lower, upper)
    return adjust_contrast(image, _scalar_uniform(lower, upper, seed))


def random_saturation(image, lower, upper, seed=None):
    """`tf.image.random_saturation`: adjust_saturation by a factor uniform in [lower, upper)."""
    _check_range("random_saturation", lower, upper)
    return adjust_saturation(image, _scalar_uniform(lower, upper, seed))


def random_hue(image, max_delta, seed=None):
    """`tf.image.random_hue`: adjust_hue by a delta uniform in [-max_delta, max_delta)."""
    if max_delta > 0.5:
        raise ValueError(f"random_hue: max_delta must be <= 0.5 (got {max_delta}).")
    if max_delta < 0:
        raise ValueError(f"random_hue: max_delta must be non-negative (got {max_delta}).")
    return adjust_hue(image, _scalar_uniform(-max_delta, max_delta, seed))


# ---- standardization and metrics -----------------------------------------------------------------


def per_image_standardization(image):
    """`tf.image.per_image_standardization`: (x - mean) / max(stddev, 1 / sqrt(pixels)) per
    image, float32."""
    fn = "per_image_standardization"
    with get_default_graph().name_scope(fn) as scope:
        image = _image(image, fn)
        flt = cast(image, "float32")
        axes = [-1, -2, -3]
        known = image.shape.as_list()[-3:]
        if None in known:
            pixels = cast(math_ops.reduce_prod(shape(image)[-3:]), "float32")
        else:
            pixels = float(np.prod(known))
        mean = math_ops.reduce_mean(flt, axis=axes, keepdims=True)
        centered = math_ops.subtract(flt, mean)
        stddev = math_ops.sqrt(
            math_ops.reduce_mean(math_ops.square(centered), axis=axes, keepdims=True)
        )
        floor = math_ops.rsqrt(convert_to_tensor(pixels, dtype="float32"))
        return math_ops.divide(centered, math_ops.maximum(stddev, floor), name=scope)


def total_variation(images, name=None):
    """`tf.image.total_variation`: the sum of absolute differences of neighbouring pixels (a
    scalar for one image, one per image for a batch)."""
    fn = "total_variation"
    with get_default_graph().name_scope(name or fn) as scope:
        images = _image(images, fn, "images")
        batch = images.shape.ndims == 4
        x = images if batch else expand_dims(images, 0)
        dy = math_ops.subtract(x[:, 1:], x[:, :-1])
        dx = math_ops.subtract(x[:, :, 1:], x[:, :, :-1])
        axes = [1, 2, 3]
        total = math_ops.add(
            math_ops.reduce_sum(math_ops.abs(dy), axis=axes),
            math_ops.reduce_sum(math_ops.abs(dx), axis=axes),
        )
        return identity(total if batch else total[0], name=scope)


def image_gradients(image):
    """`tf.image.image_gradients`: (dy, dx), each [batch, h, w, c], forward differences with a
    zero last row (dy) and last column (dx)."""
    image = convert_to_tensor(image, name="image")
    if image.shape.ndims != 4:
        raise ValueError(
            f"image_gradients expects a 4D tensor [batch_size, h, w, d], not {image.shape}."
        )
    with get_default_graph().name_scope("image_gradients"):
        dy = math_ops.subtract(image[:, 1:], image[:, :-1])
        dx = math_ops.subtract(image[:, :, 1:], image[:, :, :-1])
        dy = concat([dy, zeros_like(image[:, :1])], 1)
        dx = concat([dx, zeros_like(image[:, :, :1])], 2)
        return dy, dx


def psnr(a, b, max_val, name=None):
    """`tf.image.psnr`: 20 log10(max_val) - 10 log10(mean squared error) per image, float32."""
    fn = "psnr"
    with get_default_graph().name_scope(name or "PSNR") as scope:
        a = _image(a, fn, "a")
        b = _image(b, fn, "b")
        if not a.shape.is_compatible_with(b.shape):
            raise ValueError(f"{fn}: the images' shapes {a.shape} and {b.shape} differ")
        a_flt = convert_image_dtype(a, "float32")
        b_flt = convert_image_dtype(b, "float32")
        max_flt = convert_image_dtype(convert_to_tensor(max_val, dtype=a.dtype), "float32")
        mse = math_ops.reduce_mean(
            math_ops.square(math_ops.subtract(a_flt, b_flt)), axis=[-3, -2, -1]
        )
        log10 = np.float32(np.log(10.0))
        peak = math_ops.divide(math_ops.multiply(20.0, math_ops.log(max_flt)), log10)
        return math_ops.subtract(
            peak, math_ops.multiply(np.float32(10 / np.log(10)), math_ops.log(mse)), name=scope
        )


# ---- bounding-box sampling ---------------------------------------------------------------------


def _box_pixels(boxes, fn):
    """Normalized boxes [batch, N, 4] (y_min, x_min, y_max, x_max) as [N, 4] float32, N known."""
    boxes = convert_to_tensor(boxes, dtype="float32", name="bounding_boxes")
    if boxes.shape.ndims != 3 or boxes.shape[2].value != 4:
        raise ValueError(
            f"{fn}: bounding_boxes must be 3-D [batch, N, 4] (y_min, x_min, y_max, x_max), not "
            f"{boxes.shape}"
        )
    batch, count = boxes.shape[0].value, boxes.shape[1].value
    if batch is None or count is None:
        raise ValueError(
            f"{fn}: the number of bounding boxes in '{boxes.name}' {boxes.shape} must be known "
            "when the graph is built"
        )
    known = _constant_value(boxes)
    if known is not None and known.size:
        flat = known.reshape(-1, 4)
        if (flat < 0).any() or (flat > 1).any() or (flat[:, :2] > flat[:, 2:]).any():
            raise ValueError(
                f"{fn}: bounding boxes must lie in [0, 1] with min <= max, got {flat.tolist()}"
            )
    return reshape(boxes, [batch * count, 4]), batch * count


def _crop_candidates(height, width, u, aspect_ratio_range, area_range):
    """TF's GenerateRandomCrop for every attempt at once (float32 vectors over attempts): the
    crop's (y, x, h, w) and whether it is a valid crop. u: uniforms [attempts, 4]."""
    f = math_ops
    lo_ar, hi_ar = (float(v) for v in aspect_ratio_range)
    ratio = f.add(f.multiply(u[:, 0], hi_ar - lo_ar), lo_ar)
    image_area = f.multiply(height, width)
    min_area = f.multiply(float(area_range[0]), image_area)
    max_area = f.multiply(float(area_range[1]), image_area)
    h = f.round(f.sqrt(f.divide(min_area, ratio)))
    max_h = f.round(f.sqrt(f.divide(max_area, ratio)))
    # the largest max_h with round(max_h * ratio) <= width
    fitted = f.floor(f.divide(f.add(width, 0.5 - 1e-7), ratio))
    fitted = f.where(f.greater(f.round(f.multiply(fitted, ratio)), width), fitted - 1.0, fitted)
    max_h = f.where(f.greater(f.round(f.multiply(max_h, ratio)), width), fitted, max_h)
    max_h = f.minimum(max_h, height)
    h = f.minimum(h, max_h)
    h = f.add(h, f.floor(f.multiply(u[:, 1], f.add(f.subtract(max_h, h), 1.0))))
    w = f.round(f.multiply(h, ratio))
    small = f.less(f.multiply(w, h), min_area)  # rounding left it too small: one row more
    h = f.where(small, f.add(h, 1.0), h)
    w = f.where(small, f.round(f.multiply(h, ratio)), w)
    area = f.multiply(w, h)
    valid = f.logical_and(
        f.logical_and(f.greater_equal(area, min_area), f.less_equal(area, max_area)),
        f.logical_and(
            f.logical_and(f.less_equal(w, width), f.less_equal(h, height)),
            f.logical_and(f.greater(w, 0.0), f.greater(h, 0.0)),
        ),
    )
    y = f.floor(f.multiply(u[:, 2], f.maximum(f.subtract(height, h), 0.0)))
    x = f.floor(f.multiply(u[:, 3], f.maximum(f.subtract(width, w), 0.0)))
    return y, x, h, w, valid


def _covers_a_box(y, x, h, w, boxes, height, width, min_object_covered):
    """Whether each crop covers at least ``min_object_covered`` of some box of nonzero area
    (TF's SatisfiesOverlapConstraints on the boxes in whole pixels)."""
    f = math_ops
    pix = f.floor(f.multiply(boxes, stack([height, width, height, width])))  # [N, 4]
    y0, x0, y1, x1 = (expand_dims(pix[:, k], 0) for k in range(4))  # [1, N]
    cy0, cx0 = expand_dims(y, 1), expand_dims(x, 1)  # [attempts, 1]
    cy1, cx1 = f.add(cy0, expand_dims(h, 1)), f.add(cx0, expand_dims(w, 1))
    inter_h = f.maximum(f.subtract(f.minimum(cy1, y1), f.maximum(cy0, y0)), 0.0)
    inter_w = f.maximum(f.subtract(f.minimum(cx1, x1), f.maximum(cx0, x0)), 0.0)
    box_area = f.multiply(f.subtract(y1, y0), f.subtract(x1, x0))
    has_area = f.greater(box_area, 0.0)
    covered = f.divide(f.multiply(inter_h, inter_w), f.where(has_area, box_area, 1.0))
    enough = f.logical_and(has_area, f.greater_equal(covered, min_object_covered))
    return f.reduce_any(enough, axis=1)


def sample_distorted_bounding_box(
    image_size,
    bounding_boxes,
    seed=None,
    seed2=None,
    min_object_covered=0.1,
    aspect_ratio_range=None,
    area_range=None,
    max_attempts=None,
    use_image_if_no_bounding_boxes=None,
    name=None,
):
    """`tf.image.sample_distorted_bounding_box`: a random crop (begin, size, bbox) of an image of
    ``image_size`` [height, width, channels] whose aspect ratio and area fall in the ranges and
    which covers ``min_object_covered`` of one of the boxes; the whole image when
    ``max_attempts`` tries find none. TF's procedure, all attempts drawn at once; the numbers are
    tgc's, not TF's. ``begin`` [y, x, 0] and ``size`` [h, w, -1] go to ``tf.slice``; ``bbox`` is
    [1, 1, 4] normalized (y_min, x_min, y_max, x_max)."""
    fn = "sample_distorted_bounding_box"
    aspect_ratio_range = aspect_ratio_range or (0.75, 1.33)
    area_range = area_range or (0.05, 1.0)
    attempts = 100 if max_attempts is None else int(max_attempts)
    if attempts < 1:
        raise ValueError(f"{fn}: max_attempts must be positive, got {attempts}")
    if not 0 < area_range[0] <= area_range[1]:
        raise ValueError(f"{fn}: area_range must be (min, max) with 0 < min <= max: {area_range}")
    if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
        raise ValueError(
            f"{fn}: aspect_ratio_range must be positive (min, max): {aspect_ratio_range}"
        )
    with get_default_graph().name_scope(name or "sample_distorted_bounding_box"):
        size = convert_to_tensor(image_size, name="image_size")
        if size.shape.as_list() != [3] or not size.dtype.is_integer:
            raise ValueError(
                f"{fn}: image_size must be 1-D [height, width, channels] ints, not "
                f"{size.dtype.name} {size.shape}"
            )
        size_f = cast(size, "float32")
        height, width = size_f[0], size_f[1]
        boxes, count = _box_pixels(bounding_boxes, fn)
        if count == 0:
            if not use_image_if_no_bounding_boxes:
                raise ValueError(
                    f"{fn}: No bounding boxes provided as input. One must enable "
                    "use_image_if_no_bounding_boxes if you wish to not provide any bounding boxes."
                )
            boxes = constant(np.array([[0.0, 0.0, 1.0, 1.0]], np.float32))
        # seed2 (TF's second op seed) is accepted; tgc's op seed is seed, with the graph's seed.
        u = random_uniform([attempts, 4], seed=seed)
        y, x, h, w, valid = _crop_candidates(height, width, u, aspect_ratio_range, area_range)
        covered = _covers_a_box(
            y, x, h, w, boxes, height, width, cast(min_object_covered, "float32")
        )
        good = math_ops.logical_and(valid, covered)
        # the first good attempt, as TF's loop stops at it; the whole image when none is good
        rank = math_ops.where(good, np.arange(attempts, 0, -1, dtype=np.float32), 0.0 * u[:, 0])
        first = math_ops.argmax(rank, axis=0, output_type="int32")
        found = math_ops.greater(math_ops.reduce_max(rank), 0.0)
        pick = [
            math_ops.where(found, gather(v, first), whole)
            for v, whole in ((y, 0.0), (x, 0.0), (h, height), (w, width))
        ]
        y, x, h, w = pick
        begin = stack([cast(y, "int32"), cast(x, "int32"), 0], name="begin")
        size_out = stack([cast(h, "int32"), cast(w, "int32"), -1], name="size")
        bbox = stack(
            [
                math_ops.divide(y, height),
                math_ops.divide(x, width),
                math_ops.divide(math_ops.add(y, h), height),
                math_ops.divide(math_ops.add(x, w), width),
            ]
        )
        return begin, size_out, reshape(bbox, [1, 1, 4], name="bboxes")


# ---- YIQ and YUV ---------------------------------------------------------------------------------

# TF's matrices (image_ops_impl.py): pixel row vector times kernel.
_RGB_TO_YIQ = [
    [0.299, 0.59590059, 0.2115],
    [0.587, -0.27455667, -0.52273617],
    [0.114, -0.32134392, 0.31119955],
]
_YIQ_TO_RGB = [
    [1, 1, 1],
    [0.95598634, -0.27201283, -1.10674021],
    [0.6208248, -0.64720424, 1.70423049],
]
_RGB_TO_YUV = [
    [0.299, -0.14714119, 0.61497538],
    [0.587, -0.28886916, -0.51496512],
    [0.114, 0.43601035, -0.10001026],
]
_YUV_TO_RGB = [[1, 1, 1], [0, -0.394642334, 2.03206185], [1.13988303, -0.58062185, 0]]


def _colour_matrix(images, kernel, fn):
    images = _channels(images, fn, 3)
    if not images.dtype.is_floating:
        raise TypeError(f"{fn}: images must be floats, not {images.dtype.name}")
    weights = constant(np.array(kernel, images.dtype.name))
    return math_ops.tensordot(images, weights, [[images.shape.ndims - 1], [0]])


def rgb_to_yiq(images):
    """`tf.image.rgb_to_yiq`."""
    return _colour_matrix(images, _RGB_TO_YIQ, "rgb_to_yiq")


def yiq_to_rgb(images):
    """`tf.image.yiq_to_rgb`."""
    return _colour_matrix(images, _YIQ_TO_RGB, "yiq_to_rgb")


def rgb_to_yuv(images):
    """`tf.image.rgb_to_yuv`."""
    return _colour_matrix(images, _RGB_TO_YUV, "rgb_to_yuv")


def yuv_to_rgb(images):
    """`tf.image.yuv_to_rgb`."""
    return _colour_matrix(images, _YUV_TO_RGB, "yuv_to_rgb")


# ---- crop_and_resize -----------------------------------------------------------------------------


def _box_axis(lo, hi, size_f, count):
    """Sample positions [boxes, count] along one axis of boxes (lo, hi normalized), as TF's
    CropAndResize kernel: evenly from lo * (size - 1) to hi * (size - 1), or the middle for one
    sample."""
    span = math_ops.multiply(math_ops.subtract(hi, lo), math_ops.subtract(size_f, 1.0))
    if count > 1:
        steps = np.arange(count, dtype=np.float32) / np.float32(count - 1)
        start = math_ops.multiply(lo, math_ops.subtract(size_f, 1.0))
        return math_ops.add(expand_dims(start, 1), math_ops.multiply(expand_dims(span, 1), steps))
    middle = math_ops.multiply(
        math_ops.multiply(math_ops.add(lo, hi), 0.5), math_ops.subtract(size_f, 1.0)
    )
    return expand_dims(middle, 1)


def _one_index_per_box(boxes, box_ind, fn):
    """box_ind after TF's check that it holds one image index per box ([num_boxes]): a [1] would
    be broadcast over the boxes. Sizes known when the graph is built are checked then, others at
    run time."""
    if box_ind.shape.ndims not in (None, 1):
        raise ValueError(f"{fn}: box_ind must be 1-D [num_boxes], not {box_ind.shape}")
    count, boxes_count = (
        box_ind.shape[0].value if box_ind.shape.ndims else None,
        boxes.shape[0].value,
    )
    if count is not None and boxes_count is not None:
        if count != boxes_count:
            raise ValueError(
                f"{fn}: box_index has incompatible shape: {count} indices for {boxes_count} boxes"
            )
        return box_ind
    have, want = shape(box_ind)[0], shape(boxes)[0]
    text = "box_index has incompatible shape: box_index's size, the number of boxes"
    check = assert_op(math_ops.equal(have, want), [text, have, want])
    with get_default_graph().control_dependencies([check]):
        return identity(box_ind)


def crop_and_resize(
    image,
    boxes,
    box_ind=None,
    crop_size=None,
    method="bilinear",
    extrapolation_value=0,
    name=None,
    box_indices=None,
):
    """`tf.image.crop_and_resize`: for each box [y1, x1, y2, x2] (normalized) of image
    ``box_ind``, a crop_size crop sampled bilinearly (or at the nearest pixel); samples outside
    the image are ``extrapolation_value``. float32 [boxes, crop_height, crop_width, channels];
    differentiable in the image and the boxes."""
    fn = "crop_and_resize"
    box_ind = box_indices if box_ind is None else box_ind
    if box_ind is None or crop_size is None:
        raise TypeError(f"{fn}: box_ind (box_indices) and crop_size are required")
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"{fn}: method must be 'bilinear' or 'nearest', not {method!r}")
    with get_default_graph().name_scope(name or "CropAndResize") as scope:
        image = convert_to_tensor(image, name="image")
        if image.shape.ndims != 4:
            raise ValueError(
                f"{fn}: image must be 4-D [batch, height, width, channels], not {image.shape}"
            )
        boxes = convert_to_tensor(boxes, dtype="float32", name="boxes")
        if boxes.shape.ndims != 2 or boxes.shape[1].value != 4:
            raise ValueError(f"{fn}: boxes must be 2-D [num_boxes, 4], not {boxes.shape}")
        crop_h, crop_w = _known_size(crop_size, fn)
        image = cast(image, "float32")
        dims = shape(image)
        height, width = cast(dims[1], "float32"), cast(dims[2], "float32")
        ys = _box_axis(boxes[:, 0], boxes[:, 2], height, crop_h)  # [boxes, crop_h]
        xs = _box_axis(boxes[:, 1], boxes[:, 3], width, crop_w)  # [boxes, crop_w]
        inside_y = math_ops.logical_and(
            math_ops.greater_equal(ys, 0.0), math_ops.less_equal(ys, height - 1.0)
        )
        inside_x = math_ops.logical_and(
            math_ops.greater_equal(xs, 0.0), math_ops.less_equal(xs, width - 1.0)
        )
        flat = reshape(image, stack([-1, dims[3]]))  # [batch * height * width, channels]
        box_ind = _one_index_per_box(boxes, cast(convert_to_tensor(box_ind), "int32"), fn)
        base = math_ops.multiply(box_ind, dims[1])

        def index(yi, xi):  # [boxes, crop_h, crop_w] flat pixel indices
            row = math_ops.multiply(math_ops.add(expand_dims(base, 1), yi), dims[2])
            return math_ops.add(expand_dims(row, 2), expand_dims(xi, 1))

        def clamp(v, size):
            return math_ops.minimum(math_ops.maximum(cast(v, "int32"), 0), size - 1)

        if method == "nearest":
            # roundf: halves away from zero (the positions kept are never negative)
            yi = clamp(math_ops.floor(math_ops.add(ys, 0.5)), dims[1])
            xi = clamp(math_ops.floor(math_ops.add(xs, 0.5)), dims[2])
            out = gather(flat, index(yi, xi))
        else:
            top, bottom = clamp(math_ops.floor(ys), dims[1]), clamp(math_ops.ceil(ys), dims[1])
            left, right = clamp(math_ops.floor(xs), dims[2]), clamp(math_ops.ceil(xs), dims[2])
            y_lerp = reshape(math_ops.subtract(ys, math_ops.floor(ys)), [-1, crop_h, 1, 1])
            x_lerp = reshape(math_ops.subtract(xs, math_ops.floor(xs)), [-1, 1, crop_w, 1])
            top_row = _lerp(gather(flat, index(top, left)), gather(flat, index(top, right)), x_lerp)
            bottom_row = _lerp(
                gather(flat, index(bottom, left)), gather(flat, index(bottom, right)), x_lerp
            )
            out = _lerp(top_row, bottom_row, y_lerp)
        inside = math_ops.logical_and(
            reshape(inside_y, [-1, crop_h, 1, 1]), reshape(inside_x, [-1, 1, crop_w, 1])
        )
        fill_value = math_ops.add(zeros_like(out), float(extrapolation_value))
        return math_ops.where(inside, out, fill_value, name=scope)


# ---- SSIM ----------------------------------------------------------------------------------------


def _gaussian_window(size, sigma):
    """TF's _fspecial_gauss: a softmax of -(y^2 + x^2) / (2 sigma^2), [size, size, 1, 1]."""
    coords = np.arange(size, dtype=np.float32) - np.float32(size - 1) / np.float32(2)
    g = np.square(coords) * (np.float32(-0.5) / np.square(np.float32(sigma)))
    g = (g[None, :] + g[:, None]).reshape(-1).astype(np.float64)
    g = np.exp(g - g.max())
    return (g / g.sum()).astype(np.float32).reshape(size, size, 1, 1)


def ssim(img1, img2, max_val, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03):
    """`tf.image.ssim`: the structural similarity per image (a mean over its channels), with a
    filter_size Gaussian window (VALID positions only)."""
    from tgc.frontend.conv_ops import conv2d

    fn = "ssim"
    with get_default_graph().name_scope("SSIM"):
        img1, img2 = _image(img1, fn, "img1"), _image(img2, fn, "img2")
        if not img1.shape.is_compatible_with(img2.shape):
            raise ValueError(f"{fn}: the images' shapes {img1.shape} and {img2.shape} differ")
        h, w = img1.shape.as_list()[-3:-1]
        if h is None or w is None or img1.shape[-1].value is None:
            raise ValueError(f"{fn}: the height, width and channels of {img1.shape} must be known")
        if h < filter_size or w < filter_size:
            raise ValueError(
                f"{fn}: images of {h}x{w} are smaller than the {filter_size}x{filter_size} filter"
            )
        peak = convert_image_dtype(cast(max_val, img1.dtype), "float32")
        x = convert_image_dtype(img1, "float32")
        y = convert_image_dtype(img2, "float32")
        window = constant(_gaussian_window(int(filter_size), filter_sigma))
        channels = img1.shape[-1].value
        perm = [0, 3, 1, 2] if img1.shape.ndims == 4 else [2, 0, 1]

        def reducer(v):  # the window's weighted mean around each VALID position, per channel
            planes = reshape(transpose(v, perm), [-1, h, w, 1])
            means = conv2d(planes, window, strides=[1, 1, 1, 1], padding="VALID")
            out_shape = [-1, channels, h - filter_size + 1, w - filter_size + 1]
            means = reshape(means, out_shape)
            back = transpose(means, [0, 2, 3, 1])
            return back if img1.shape.ndims == 4 else back[0]

        c1 = math_ops.square(math_ops.multiply(k1, peak))
        c2 = math_ops.square(math_ops.multiply(k2, peak))
        mean0, mean1 = reducer(x), reducer(y)
        num0 = math_ops.multiply(math_ops.multiply(mean0, mean1), 2.0)
        den0 = math_ops.add(math_ops.square(mean0), math_ops.square(mean1))
        luminance = math_ops.divide(math_ops.add(num0, c1), math_ops.add(den0, c1))
        num1 = math_ops.multiply(reducer(math_ops.multiply(x, y)), 2.0)
        den1 = reducer(math_ops.add(math_ops.square(x), math_ops.square(y)))
        cs = math_ops.divide(
            math_ops.add(math_ops.subtract(num1, num0), c2),
            math_ops.add(math_ops.subtract(den1, den0), c2),
        )
        per_channel = math_ops.reduce_mean(math_ops.multiply(luminance, cs), axis=[-3, -2])
        return math_ops.reduce_mean(per_channel, axis=[-1])
