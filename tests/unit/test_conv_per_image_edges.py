"""tgc-conv-gemm's per-image im2col loops (conv_gemm.py: PER_IMAGE_PATCH_BYTES) at edge shapes, on
1 and 2 threads: the forward conv, its input gradient (GEMM and col2im per image) and its filter
gradient (per-image GEMMs summed in parts) against float64 numpy (im2col with index arrays), with
the per-image loops forced on small convs (batch 1, batches not divisible by the thread count,
odd sizes, SAME/VALID, strides 2, dilation, float64). At 2 threads (intra_op_parallelism_threads)
tgc-parallel-loops runs the loops' images on the thread pool, each image's GEMM on its thread,
every buffer private to its image (tgc-private-loop-buffers); the test checks that the loops were
outlined."""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu import conv_gemm, parallel_gemm, parallel_loops
from tgc.runtime import blas_threads

RNG = np.random.default_rng(1818)

pytestmark = pytest.mark.skipif(
    parallel_gemm.library() is None, reason=f"no parallel runtime: {parallel_gemm.last_error}"
)


@pytest.fixture
def quiet_machine(monkeypatch):
    """Every core counts as free: a run's ThreadScope takes the threads it may (as
    test_parallel_loops.py's)."""
    load = blas_threads.core_load()
    monkeypatch.setattr(load, "free_cores", lambda: float(len(load.cpus)))


@pytest.fixture
def outlined(monkeypatch):
    """The number of loops tgc-parallel-loops outlined in each module it ran on (as
    test_parallel_loops.py's)."""
    counts: list = []
    run = parallel_loops.ParallelLoopsPass.run

    def counting(self, module):
        run(self, module)
        counts.append(str(module).count(f"call @{parallel_gemm.LOOP_ENTRY}("))

    monkeypatch.setattr(parallel_loops.ParallelLoopsPass, "run", counting)
    return counts


# ---- numpy references ---------------------------------------------------------------------------


def _output_and_before(size, k, stride, dilation, padding):
    """TF's output size and the padding before the input along one spatial dim."""
    extent = (k - 1) * dilation + 1
    if padding == "VALID":
        return -(-(size - extent + 1) // stride), 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + extent - size, 0) // 2


def _patch_index(shape, window, strides, dilations, padding):
    """(rows, cols, inside): the input pixel (row, col) each (i, j, kh, kw) tap reads, and
    whether it lies inside the input (else the tap reads padding's zero)."""
    (_, h, w, _), (kh, kw) = shape, window
    oh, top = _output_and_before(h, kh, strides[0], dilations[0], padding)
    ow, left = _output_and_before(w, kw, strides[1], dilations[1], padding)
    i, j, a, b = np.meshgrid(
        np.arange(oh), np.arange(ow), np.arange(kh), np.arange(kw), indexing="ij"
    )
    rows = i * strides[0] + a * dilations[0] - top
    cols = j * strides[1] + b * dilations[1] - left
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    return np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1), inside


def reference(x, f, gy, strides, dilations, padding):
    """(y, dx, df) in float64: y = conv2d(x, f), dx and df the gradients of sum(y * gy)."""
    x, f, gy = (v.astype(np.float64) for v in (x, f, gy))
    rows, cols, inside = _patch_index(x.shape, f.shape[:2], strides, dilations, padding)
    patches = x[:, rows, cols, :] * inside[None, ..., None]  # [n, oh, ow, kh, kw, c]
    y = np.einsum("nijabc,abco->nijo", patches, f)
    df = np.einsum("nijabc,nijo->abco", patches, gy)
    columns = np.einsum("nijo,abco->nijabc", gy, f) * inside[None, ..., None]
    dx = np.zeros_like(x)
    for a in range(f.shape[0]):
        for b in range(f.shape[1]):
            for i in range(rows.shape[0]):
                for j in range(rows.shape[1]):
                    if inside[i, j, a, b]:
                        dx[:, rows[i, j, a, b], cols[i, j, a, b]] += columns[:, i, j, a, b]
    return y, dx, df


def run_conv(x, f, gy, strides, dilations, padding, threads):
    """(y, dx, df) of tgc: conv2d with the batch unknown, its input and filter gradients of
    sum(y * gy)."""
    tf.reset_default_graph()
    dtype = tf.float64 if x.dtype == np.float64 else tf.float32
    xp = tf.placeholder(dtype, [None, *x.shape[1:]])
    gp = tf.placeholder(dtype, [None, *gy.shape[1:]])
    filt = tf.constant(f)
    y = tf.nn.conv2d(
        xp, filt, strides=[1, *strides, 1], padding=padding, dilations=[1, *dilations, 1]
    )
    dx, df = tf.gradients(y, [xp, filt], grad_ys=gp)
    config = tf.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.Session(config=config) as sess:
        return sess.run([y, dx, df], {xp: x, gp: gy})


def _assert_close(got, want, dtype):
    tol = 1e-10 if dtype == np.float64 else 2e-4
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


# ---- edge shapes, per image forced -------------------------------------------------------------

# (batch, input [H, W, C], filter [KH, KW, C, O] , strides, dilations, padding, dtype)
EDGE_CASES = [
    (1, (7, 9, 3), (3, 3, 3, 4), (1, 1), (1, 1), "SAME", np.float32),
    (5, (9, 7, 2), (3, 2, 2, 5), (2, 2), (1, 1), "VALID", np.float32),
    (4, (8, 8, 3), (3, 3, 3, 4), (1, 1), (2, 2), "SAME", np.float64),
    (7, (6, 5, 4), (2, 3, 4, 3), (2, 1), (1, 1), "SAME", np.float64),
    (3, (5, 5, 2), (5, 5, 2, 2), (1, 1), (1, 1), "VALID", np.float32),
    (6, (7, 7, 2), (3, 3, 2, 3), (1, 1), (1, 2), "VALID", np.float32),
]


def _edge_id(case):
    batch, image, window, strides, dilations, padding, dtype = case
    return (
        f"n{batch}-{'x'.join(map(str, image))}-k{window[0]}x{window[1]}-s{strides[0]}{strides[1]}"
        f"-d{dilations[0]}{dilations[1]}-{padding}-{np.dtype(dtype).name}"
    )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", EDGE_CASES, ids=_edge_id)
def test_per_image_convs_at_edge_shapes_match_numpy(
    quiet_machine, outlined, monkeypatch, case, threads
):
    batch, image, window, strides, dilations, padding, dtype = case
    x = RNG.standard_normal((batch, *image)).astype(dtype)
    f = RNG.standard_normal(window).astype(dtype)
    rows, _, _ = _patch_index(x.shape, window[:2], strides, dilations, padding)
    oh, ow = rows.shape[:2]
    gy = RNG.standard_normal((batch, oh, ow, window[3])).astype(dtype)
    monkeypatch.setattr(conv_gemm, "PER_IMAGE_PATCH_BYTES", 0)  # every conv per image
    monkeypatch.setattr(conv_gemm, "DIRECT_CONV", False)  # small windows: im2col, not direct
    y, dx, df = run_conv(x, f, gy, strides, dilations, padding, threads)
    want_y, want_dx, want_df = reference(x, f, gy, strides, dilations, padding)
    # The forward's and the input gradient's loops over the images run on the pool, and so does
    # the filter gradient's parts loop, also at these narrow O, where each part calls the narrow
    # GEMM (its small stack block lives in the call's frame on the chunk's thread).
    assert sum(outlined) == 3
    _assert_close(y, want_y, dtype)
    _assert_close(dx, want_dx, dtype)
    _assert_close(df, want_df, dtype)
