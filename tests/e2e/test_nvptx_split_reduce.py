"""Reductions with few outputs and long reduced extents on the GPU (tgc-nvptx-split-reduce): a
conv2d filter gradient, a bias gradient's sum over batch x pixels, reduce_sum/max over leading
axes become a flat grid of register accumulators (K partials per output element, then a second
launch over them). Checked numerically on nvptx-emulated (the same kernels run on the host)
against float64 numpy, the launches' shapes at the gpu level, and the PTX through
`ptxas -arch=sm_90`. No GPU is needed."""

import re

import numpy as np
import pytest

from tgc.dialect import targets
from tgc.lowering.nvptx.split_reduce import MIN_REDUCED, THREADS

from nvptx_checks import compile_nvptx, needs_ptxas, ptxas_info, session_run


def _same_padding(size: int, k: int, s: int) -> tuple:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2


def _filter_gradient(x, g, kshape, strides, padding) -> np.ndarray:
    """d/dw sum(conv2d(x, w) * g) in float64: sum over n, oh, ow of x_padded * g."""
    kh, kw = kshape
    (sh, sw), (_, h, w, _) = strides, x.shape
    if padding == "SAME":
        (oh, top), (ow, left) = _same_padding(h, kh, sh), _same_padding(w, kw, sw)
    else:
        oh, ow, top, left = (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0
    padded = np.zeros((x.shape[0], h + kh + sh, w + kw + sw, x.shape[3]))
    padded[:, top : top + h, left : left + w] = x
    dw = np.zeros((kh, kw, x.shape[3], g.shape[3]))
    for i in range(kh):
        for j in range(kw):
            window = padded[:, i : i + sh * oh : sh, j : j + sw * ow : sw]
            dw[i, j] = np.einsum("nhwc,nhwo->co", window, g.astype(np.float64))
    return dw


# (input NHWC, filter HWIO, strides, padding): strides 2, SAME and VALID, channels that are no
# multiple of anything, the lecture convnet's 3x3x1x16 filter.
CONVS = [
    ((7, 9, 11, 3), (3, 3, 3, 5), (2, 2), "SAME"),
    ((5, 8, 8, 1), (3, 3, 1, 16), (1, 1), "SAME"),
    ((6, 10, 9, 2), (2, 4, 2, 3), (2, 1), "VALID"),
]


@pytest.mark.parametrize("x_shape, w_shape, strides, padding", CONVS)
def test_the_filter_and_bias_gradients_match_float64_numpy(x_shape, w_shape, strides, padding):
    rng = np.random.default_rng(sum(x_shape))
    x0 = rng.standard_normal(x_shape).astype(np.float32)
    w0 = rng.standard_normal(w_shape).astype(np.float32)
    b0 = rng.standard_normal(w_shape[3]).astype(np.float32)

    def build(tf, fed):
        y = tf.nn.conv2d(fed["x"], fed["w"], strides=[1, *strides, 1], padding=padding)
        y = y + fed["b"]
        g = tf.constant(g0)
        return tf.gradients(tf.reduce_sum(y * g), [fed["w"], fed["b"]])

    oh, ow = (
        (-(-x_shape[1] // strides[0]), -(-x_shape[2] // strides[1]))
        if padding == "SAME"
        else (
            (x_shape[1] - w_shape[0]) // strides[0] + 1,
            (x_shape[2] - w_shape[1]) // strides[1] + 1,
        )
    )
    g0 = rng.standard_normal((x_shape[0], oh, ow, w_shape[3])).astype(np.float32)
    dw, db = session_run(build, {"x": x0, "w": w0, "b": b0})
    want_dw = _filter_gradient(x0, g0, w_shape[:2], strides, padding)
    want_db = g0.astype(np.float64).sum(axis=(0, 1, 2))
    # float32 sums of n*oh*ow products: a few ulps of the sum of magnitudes.
    scale = np.finfo(np.float32).eps * x0.size * np.abs(g0).max() * np.abs(x0).max()
    np.testing.assert_allclose(dw, want_dw, rtol=0, atol=scale)
    np.testing.assert_allclose(db, want_db, rtol=0, atol=scale)


def _conv2d(x, w, strides, padding, dilations) -> np.ndarray:
    """conv2d in float64: out[n, i, j, f] = sum of x_padded[n, i*sh + a*dh, j*sw + b*dw, c] *
    w[a, b, c, f]."""
    (kh, kw, _, f), (sh, sw), (dh, dw) = w.shape, strides, dilations
    reach_h, reach_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    _, h, width, _ = x.shape
    if padding == "SAME":
        (oh, top), (ow, left) = _same_padding(h, reach_h, sh), _same_padding(width, reach_w, sw)
    else:
        oh, ow, top, left = (h - reach_h) // sh + 1, (width - reach_w) // sw + 1, 0, 0
    padded = np.zeros((x.shape[0], h + reach_h + sh, width + reach_w + sw, x.shape[3]))
    padded[:, top : top + h, left : left + width] = x
    out = np.zeros((x.shape[0], oh, ow, f))
    for a in range(kh):
        for b in range(kw):
            window = padded[:, a * dh : a * dh + sh * oh : sh, b * dw : b * dw + sw * ow : sw]
            out += np.einsum("nhwc,cf->nhwf", window, w[a, b].astype(np.float64))
    return out


# Forward convolutions, one flat launch each: strides 2, SAME and VALID, dilations, channels that
# are no multiple of anything; the lecture convnet's 3x3x1x16 (9 points per output, no partials).
FORWARD = [
    ((5, 8, 8, 1), (3, 3, 1, 16), (1, 1), "SAME", (1, 1)),
    ((4, 9, 11, 8), (3, 3, 8, 5), (2, 2), "SAME", (1, 1)),
    ((3, 10, 9, 7), (2, 5, 7, 3), (1, 2), "VALID", (1, 1)),
    ((2, 12, 11, 8), (3, 3, 8, 4), (1, 1), "SAME", (2, 2)),
]


@pytest.mark.parametrize("x_shape, w_shape, strides, padding, dilations", FORWARD)
def test_a_forward_convolution_matches_float64_numpy(x_shape, w_shape, strides, padding, dilations):
    rng = np.random.default_rng(sum(w_shape))
    x0 = rng.standard_normal(x_shape).astype(np.float32)
    w0 = rng.standard_normal(w_shape).astype(np.float32)

    def build(tf, fed):
        return tf.nn.conv2d(
            fed["x"], fed["w"], [1, *strides, 1], padding, dilations=[1, *dilations, 1]
        )

    got = session_run(build, {"x": x0, "w": w0})
    want = _conv2d(x0, w0, strides, padding, dilations)
    assert got.shape == want.shape
    scale = np.finfo(np.float32).eps * np.prod(w_shape[:3]) * np.abs(x0).max() * np.abs(w0).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=scale)


def _max_pool_gradient(x, g, k: int) -> np.ndarray:
    """The gradient of sum(max_pool(x) * g) for k x k windows at stride k (VALID): each window's
    largest element gets its g."""
    n, h, w, c = x.shape
    oh, ow = h // k, w // k
    windows = x[:, : oh * k, : ow * k].reshape(n, oh, k, ow, k, c).transpose(0, 1, 3, 5, 2, 4)
    flat = windows.reshape(n, oh, ow, c, k * k)
    chosen = flat.argmax(-1)
    grad = np.zeros_like(flat, dtype=np.float64)
    np.put_along_axis(grad, chosen[..., None], g[..., None].astype(np.float64), -1)
    grad = (
        grad.reshape(n, oh, ow, c, k, k).transpose(0, 1, 4, 2, 5, 3).reshape(n, oh * k, ow * k, c)
    )
    out = np.zeros(x.shape)
    out[:, : oh * k, : ow * k] = grad
    return out


@pytest.mark.parametrize("shape, k", [((5, 8, 8, 16), 2), ((3, 10, 7, 5), 3), ((2, 9, 9, 3), 2)])
def test_a_max_pool_gradient_matches_numpy(shape, k):
    # Windows at their own stride: the gradient scatters into a rank-6 view of the input's shape,
    # an elementwise generic this pass maps onto one flat launch.
    rng = np.random.default_rng(sum(shape))
    x0 = rng.standard_normal(shape).astype(np.float32)
    g0 = rng.standard_normal((shape[0], shape[1] // k, shape[2] // k, shape[3])).astype(np.float32)

    def build(tf, fed):
        pooled = tf.nn.max_pool(fed["x"], [1, k, k, 1], [1, k, k, 1], "VALID")
        return tf.gradients(tf.reduce_sum(pooled * tf.constant(g0)), [fed["x"]])[0]

    got = session_run(build, {"x": x0})
    np.testing.assert_array_equal(got, _max_pool_gradient(x0, g0, k))


def test_rank_4_and_5_elementwise_ops_match_numpy():
    rng = np.random.default_rng(7)
    x0 = (10 * rng.standard_normal((2, 3, 4, 5, 6))).astype(np.float32)
    y0 = rng.standard_normal(6).astype(np.float32)
    image = rng.standard_normal((5, 7, 9, 3)).astype(np.float32)  # NHWC, nothing a multiple of 16

    def build(tf, fed):
        return [
            tf.cast(fed["x"] * fed["y"], tf.int32),
            tf.nn.relu(fed["x"] - fed["y"]),
            tf.nn.relu(fed["image"] + fed["y"][:3]),
        ]

    as_int, relu, biased = session_run(build, {"x": x0, "y": y0, "image": image})
    np.testing.assert_array_equal(as_int, (x0 * y0).astype(np.int32))
    np.testing.assert_array_equal(relu, np.maximum(x0 - y0, 0))
    np.testing.assert_array_equal(biased, np.maximum(image + y0[:3], 0))


def _random_values(target: str) -> list:
    import tgc as tf

    config = tf.ConfigProto(device_count={"GPU": 1})
    device = "/gpu:0" if target != "cpu" else None
    with tf.Graph().as_default(), targets.selected(target), tf.device(device):
        tf.set_random_seed(3)
        draws = [
            tf.truncated_normal([3, 3, 1, 16], stddev=0.1),
            tf.random_normal([2, 3, 4, 5, 6]),
            tf.random_uniform([5, 7, 9, 3]),
        ]
        with tf.Session(config=config) as sess:
            return sess.run(draws)


def test_random_draws_of_rank_4_and_5_stay_as_they_were():
    # A truncated normal's body holds a rejection loop (an op with regions), which the flat
    # launch's inlining cannot clone: those generics keep the tiles. The others take the flat
    # launch; both draw the CPU's numbers (the same counter-based hash of seed and index).
    for got, want in zip(_random_values("nvptx-emulated"), _random_values("cpu")):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape, blocks", [((2, 3, 4, 5, 6), 3), ((50, 8, 8, 16), 200)])
def test_an_elementwise_op_of_rank_4_or_more_is_one_flat_launch(tmp_path, shape, blocks):
    tensor = f"tensor<{'x'.join(map(str, shape))}xf32>"
    module = f"""
func.func @main(%x: {tensor}) -> {tensor} {{
  %y = "tgc.exp"(%x) : ({tensor}) -> {tensor}
  return %y : {tensor}
}}
"""
    gpu = _compile(tmp_path, module, "gpu")
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    assert len(launches) == 1
    # One element per thread: 720 elements in 3 blocks of 256, 51200 in 200.
    assert f"blocks in (%c{blocks}, %c1, %c1) threads in (%c{THREADS}, %c1, %c1)" in launches[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_and_maxima_over_leading_axes_match_numpy(dtype):
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((300, 7)).astype(dtype)
    y0 = rng.standard_normal((40, 3, 50)).astype(dtype)
    y0[17, 1, 33] = np.inf

    def build(tf, fed):
        return [
            tf.reduce_sum(fed["x"], axis=0),
            tf.reduce_max(fed["y"], axis=[0, 2]),
            tf.reduce_min(fed["y"], axis=[0, 2], keepdims=True),
            tf.reduce_mean(fed["y"], axis=[0, 2]),
        ]

    total, biggest, smallest, mean = session_run(build, {"x": x0, "y": y0})
    assert np.all(np.abs(total - x0.astype(np.float64).sum(0)) <= _bound(x0, 0))
    np.testing.assert_array_equal(biggest, y0.max(axis=(0, 2)))
    assert biggest[1] == np.inf
    np.testing.assert_array_equal(smallest, y0.min(axis=(0, 2), keepdims=True))
    finite = y0[:, [0, 2]]
    want_mean = finite.astype(np.float64).mean(axis=(0, 2))
    atol = _bound(finite, (0, 2)) / 2000 + np.finfo(dtype).eps * np.abs(want_mean)
    assert np.all(np.abs(mean[[0, 2]] - want_mean) <= atol)
    assert mean[1] == np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_and_maxima_along_rows_match_numpy(dtype):
    # The reduced dim is the contiguous one: kernel 1's consecutive threads take consecutive
    # points of a row (partials stored per row), K = 32 and 23 partials per row here.
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((64, 1000)).astype(dtype)
    y0 = rng.standard_normal((33, 7, 75)).astype(dtype)
    y0[5, 6, 70] = -np.inf

    def build(tf, fed):
        return [
            tf.reduce_sum(fed["x"], axis=1),
            tf.reduce_max(fed["x"], axis=1, keepdims=True),
            tf.reduce_min(fed["y"], axis=[1, 2]),
        ]

    total, biggest, smallest = session_run(build, {"x": x0, "y": y0})
    assert np.all(np.abs(total - x0.astype(np.float64).sum(1)) <= _bound(x0, 1))
    np.testing.assert_array_equal(biggest, x0.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(smallest, y0.min(axis=(1, 2)))
    assert smallest[5] == -np.inf


def _bound(x: np.ndarray, axes) -> np.ndarray:
    """A sum of n terms as K = ceil(sqrt(n)) partials of n/K terms, then the K partials: at most
    n/K + K roundings of eps/2 each, relative to the sum of the magnitudes."""
    n = x.size // np.sum(x, axis=axes).size
    k = int(np.ceil(np.sqrt(n)))
    magnitude = np.abs(x.astype(np.float64)).sum(axis=axes)
    return (n / k + k) * np.finfo(x.dtype).eps / 2 * magnitude


def _compile(tmp_path, module: str, stage: str, suffix: str = "mlir", args=()) -> str:
    # In this process (the sessions above started LLVM's threads; a fork could hang on them).
    return compile_nvptx(tmp_path, module, "--emit", stage, *args, suffix=suffix, in_process=True)


def _sum_module(shape: tuple, axes: tuple, dtype: str = "f32") -> str:
    tensor = f"tensor<{'x'.join(map(str, shape))}x{dtype}>"
    kept = [n for a, n in enumerate(shape) if a not in axes]
    result = f"tensor<{'x'.join(map(str, kept))}x{dtype}>"
    listed = ", ".join(map(str, axes))
    return f"""
func.func @main(%x: {tensor}) -> {result} {{
  %y = "tgc.reduce_sum"(%x) {{axes = array<i64: {listed}>, keepdims = false}}
      : ({tensor}) -> {result}
  return %y : {result}
}}
"""


def test_a_bias_gradient_is_partials_then_their_sums(tmp_path):
    # 16 outputs of 50x8x8 = 3200 points: K = ceil(sqrt(3200)) = 57 partials each, 912 threads
    # in 4 blocks; then 16 threads in one block. The fill of the result with 0 went.
    gpu = _compile(tmp_path, _sum_module((50, 8, 8, 16), (0, 1, 2)), "gpu")
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    assert len(launches) == 2
    assert f"blocks in (%c4, %c1, %c1) threads in (%c{THREADS}, %c1, %c1)" in launches[0]
    assert "memref<57x16xf32>" in launches[0] and "memref<57x16xf32>" in launches[1]
    assert f"blocks in (%c1, %c1, %c1) threads in (%c{THREADS}, %c1, %c1)" in launches[1]


def test_many_outputs_take_one_launch_without_partials(tmp_path):
    # 65536 outputs fill the grid alone: K = 1, each thread sums its 64 points in a register.
    gpu = _compile(tmp_path, _sum_module((65536, MIN_REDUCED), (1,)), "gpu")
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    assert len(launches) == 1
    assert f"blocks in (%c256, %c1, %c1) threads in (%c{THREADS}, %c1, %c1)" in launches[0]


def test_short_reductions_keep_one_thread_per_output(tmp_path):
    gpu = _compile(tmp_path, _sum_module((50, MIN_REDUCED - 1), (1,)), "gpu")
    assert "threads in (%c256, %c1, %c1)" not in gpu


def test_a_forward_convolution_is_one_flat_launch(tmp_path):
    program = """
import tgc as tf

x = tf.placeholder(tf.float32, (32, 14, 14, 32), name="x")
w = tf.placeholder(tf.float32, (5, 5, 32, 64), name="w")
y = tf.identity(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), name="y")
"""
    gpu = _compile(tmp_path, program, "gpu", "py", ["--fetch", "y"])
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    # The padding's fill and copy, then the convolution: 32 x 14 x 14 x 64 outputs of 800 points
    # each fill the grid, so K = 1 (no partials), and the fill of the output with 0 went.
    writing = [launch for launch in launches if "memref<32x14x14x64xf32>" in launch]
    assert len(writing) == 1
    assert f"blocks in (%c1568, %c1, %c1) threads in (%c{THREADS}, %c1, %c1)" in writing[0]


@needs_ptxas
def test_the_convolutions_kernels_pass_ptxas_for_sm_90(tmp_path):
    program = """
import tgc as tf

x = tf.placeholder(tf.float32, (7, 9, 11, 8), name="x")
w = tf.Variable(tf.ones([3, 3, 8, 5]), name="w")
y = tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding="SAME", name="y")
(dw,) = tf.gradients(tf.reduce_sum(y * y), [w])
dw = tf.identity(dw, name="dw")
"""
    fetches = ["--fetch", "y", "--fetch", "dw"]
    ptx = _compile(tmp_path, program, "ptx", "py", fetches)
    info = ptxas_info(tmp_path, ptx)
    assert " 0 bytes spill stores" in info
    gpu = _compile(tmp_path, program, "gpu", "py", fetches)
    # The filter gradient's 360 outputs of 7x5x6 = 210 points: K = 15 partials each; the
    # forward's 7x5x6x5 outputs of 3x3x8 = 72 points: one launch of 5 blocks.
    assert "memref<15x360xf32>" in gpu
    assert re.search(r"blocks in \(%c5, %c1, %c1\) threads in \(%c256, .*memref<7x5x6x5xf32>", gpu)


def test_a_reduction_whose_body_yields_a_value_from_outside_it():
    """The gradient of a scalar broadcast against [1, 4, 3, 3] through a slice that keeps no
    element: its sum's body yields a value defined outside it (the zero the empty slice's padding
    makes), which the kernel's inlined body did not map (KeyError; random-graph campaign on
    nvptx-emulated, seed 400242). The gradient is zero."""
    v1 = np.random.default_rng(0).standard_normal((1, 4, 3, 3)).astype(np.float32)

    def build(tf, fed):
        scalar = tf.nn.relu(fed["x"] ** fed["x"])
        kept = tf.slice(tf.minimum(fed["v1"], scalar), [0, 0, 0, 2], [1, -1, 0, 0])
        loss = tf.reduce_sum(kept * np.zeros((1, 4, 0, 0), np.float32))
        return tf.gradients(loss, [scalar])

    (grad,) = session_run(build, {"x": np.float32(1.975), "v1": v1})
    assert grad == 0.0
