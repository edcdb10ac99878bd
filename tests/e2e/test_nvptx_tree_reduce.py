"""Full reductions on the GPU (tgc-nvptx-tree-reduce): a float reduce_sum/max/min/prod/mean of
every axis of MIN_ELEMENTS elements or more is two launches of shared-memory trees (blocks of 256
threads into partials, then one block over the partials); below that, one thread's loop. Checked
through `ptxas -arch=sm_90` and numerically on nvptx-emulated (the same kernels run on the host,
their barriers splitting them into phases). No GPU is needed."""

import re

import numpy as np
import pytest

from tgc.dialect import targets
from tgc.lowering.nvptx.tree_reduce import MIN_ELEMENTS, THREADS

from nvptx_checks import compile_nvptx, needs_ptxas, ptxas_info, session_run


OPS = {
    "reduce_sum": np.sum,
    "reduce_max": np.max,
    "reduce_min": np.min,
    "reduce_prod": np.prod,
    "reduce_mean": np.mean,
}
# [1000, 37]; a prime count (no tile divides it); exactly the threshold, and one element fewer.
SHAPES = [(1000, 37), (4099,), (64, 64), (MIN_ELEMENTS - 1,)]


def _data(op: str, shape: tuple, dtype) -> np.ndarray:
    rng = np.random.default_rng(sum(shape) + len(op))
    if op == "reduce_prod":
        # Factors near 1 keep a product of thousands of them finite and far from 0.
        return (1.0 + 0.01 * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _run_on_emulated_gpu(op: str, x: np.ndarray) -> np.ndarray:
    return np.asarray(session_run(lambda tf, fed: getattr(tf, op)(fed["x"]), {"x": x}))


def _tolerance(op: str, x: np.ndarray) -> float:
    """Max and min are exact. A sum rounds at each addition by at most eps/2 of the partial sum
    so far, whose magnitude is at most sum|x|: each thread's serial sum of ~N/(B*T) elements and
    the two trees of log2(256) levels give far fewer than N additions on any path, so
    N * eps * sum|x| bounds it loosely (the test below checks the tighter bound). A mean is that
    over N, plus the division's rounding. A product of factors near 1: at most N roundings of
    eps/2 relative each."""
    eps = float(np.finfo(x.dtype).eps)
    n = x.size
    if op in ("reduce_max", "reduce_min"):
        return 0.0
    if op == "reduce_prod":
        return n * eps * abs(float(np.prod(x.astype(np.float64))))
    magnitude = float(np.abs(x.astype(np.float64)).sum())
    if op == "reduce_mean":
        return eps * magnitude + eps * magnitude / n
    return n * eps * magnitude


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", list(OPS))
def test_a_full_reduction_matches_float64_numpy_on_the_emulated_gpu(op, dtype, shape):
    x = _data(op, shape, dtype)
    got = _run_on_emulated_gpu(op, x)
    want = OPS[op](x.astype(np.float64))
    assert got.shape == () and got.dtype == dtype
    assert abs(float(got) - want) <= _tolerance(op, x), (float(got), want)


def test_a_float32_sum_of_many_elements_stays_close_to_float64():
    # Tree sums round far less than one serial loop: here the observed error is checked against
    # a bound of log2(N) + N/(B*T) ulps of sum|x|, much tighter than the test above's.
    x = np.random.default_rng(1).uniform(0.5, 1.5, 1000 * 37).astype(np.float32)
    got = float(_run_on_emulated_gpu("reduce_sum", x))
    want = float(x.astype(np.float64).sum())
    blocks = -(-x.size // (THREADS * 4))
    ulps = np.log2(x.size) + x.size / (blocks * THREADS)
    assert abs(got - want) <= ulps * np.finfo(np.float32).eps * want


def test_keepdims_writes_the_one_element_of_its_1x1_result():
    import tgc as tf

    x0 = np.random.default_rng(4).standard_normal((200, 50)).astype(np.float64)
    config = tf.ConfigProto(device_count={"GPU": 1})
    with tf.Graph().as_default(), targets.selected("nvptx-emulated"), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float64, x0.shape)
        y = tf.reduce_min(x, keepdims=True)
        with tf.Session(config=config) as sess:
            got = sess.run(y, {x: x0})
    assert got.shape == (1, 1) and got[0, 0] == x0.min()


def test_a_max_with_nan_is_nan_and_infinities_survive_the_tree():
    x = np.random.default_rng(2).standard_normal(5000).astype(np.float32)
    x[4321] = np.inf
    assert _run_on_emulated_gpu("reduce_max", x) == np.inf
    x[17] = -np.inf
    assert _run_on_emulated_gpu("reduce_min", x) == -np.inf
    x[3000] = np.nan
    assert np.isnan(_run_on_emulated_gpu("reduce_max", x))


def test_the_gradient_of_a_mean_over_all_axes_still_works_on_the_emulated_gpu():
    import tgc as tf

    x0 = np.random.default_rng(3).standard_normal((100, 50)).astype(np.float32)
    config = tf.ConfigProto(device_count={"GPU": 1})
    with tf.Graph().as_default(), targets.selected("nvptx-emulated"), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, x0.shape)
        loss = tf.reduce_mean(tf.square(x))
        (grad,) = tf.gradients(loss, [x])
        with tf.Session(config=config) as sess:
            got_loss, got_grad = sess.run([loss, grad], {x: x0})
    x64 = x0.astype(np.float64)
    np.testing.assert_allclose(got_loss, (x64**2).mean(), rtol=1e-5)
    np.testing.assert_allclose(got_grad, 2 * x64 / x64.size, rtol=1e-6)


def _module(shape: tuple, dtype: str, op: str = "reduce_sum") -> str:
    tensor = f"tensor<{'x'.join(map(str, shape))}x{dtype}>"
    axes = ", ".join(str(a) for a in range(len(shape)))
    return f"""
func.func @main(%x: {tensor}) -> tensor<{dtype}> {{
  %y = "tgc.{op}"(%x) {{axes = array<i64: {axes}>, keepdims = false}}
      : ({tensor}) -> tensor<{dtype}>
  return %y : tensor<{dtype}>
}}
"""


def _compile(tmp_path, module: str, stage: str) -> str:
    # In this process (the sessions above started LLVM's threads; a fork could hang on them).
    return compile_nvptx(tmp_path, module, "--emit", stage, in_process=True)


def test_the_launches_are_blocks_of_partials_then_one_block(tmp_path):
    gpu = _compile(tmp_path, _module((1000, 37), "f32"), "gpu")
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    # 37000 elements, 4 per thread at least: ceil(37000 / 1024) = 37 blocks of 256 threads into
    # 37 partials; one block of 64 threads (37 rounded up to a power of two) over them. The fill
    # of the result with 0 went: the second kernel writes it.
    assert len(launches) == 2
    assert "blocks in (%c37, %c1, %c1) threads in (%c256, %c1, %c1)" in launches[0]
    assert "memref<37xf32>" in launches[0] and "memref<37xf32>" in launches[1]
    assert "blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)" in launches[1]


def test_below_the_threshold_the_reduction_is_one_thread(tmp_path):
    gpu = _compile(tmp_path, _module((MIN_ELEMENTS - 1,), "f32"), "gpu")
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    assert len(launches) == 1
    assert "blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)" in launches[0]


def test_a_big_reduction_fills_at_most_1024_blocks(tmp_path):
    gpu = _compile(tmp_path, _module((4096, 4096), "f32", "reduce_max"), "gpu")
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    assert "blocks in (%c1024, %c1, %c1) threads in (%c256, %c1, %c1)" in launches[0]
    assert "threads in (%c256, %c1, %c1)" in launches[1]


@needs_ptxas
@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("op", list(OPS))
def test_the_tree_kernels_pass_ptxas_for_sm_90(tmp_path, op, dtype):
    ptx = _compile(tmp_path, _module((1000, 37), dtype, op), "ptx")
    assert "bar.sync" in ptx and ".shared" in ptx
    info = ptxas_info(tmp_path, ptx)
    # 256 values of 4 or 8 bytes in kernel 1's shared memory, no spills.
    assert f"{THREADS * int(dtype[1:]) // 8} bytes smem" in info
    assert " 0 bytes spill stores" in info
