"""tgc-conv-gemm's fused bias add and relu of a direct conv2d (conv_gemm.py's FUSE_BIAS_RELU,
conv_direct.py's ``bias`` / ``relu``): results against numpy at odd shapes, unknown batch, f32 and
f64, the patterns it must leave alone, gradients against finite differences, and the lowered IR.
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
import registry_harness
from tgc.dialect.types import TensorSpec
from tgc.lowering.cpu import conv_gemm

RNG = np.random.default_rng(18)
NP = {"float32": np.float32, "float64": np.float64}


def _naive_conv(x, f, strides, padding, dilations=(1, 1)):
    """conv2d in float64 (TensorFlow's SAME / VALID padding)."""
    n, h, w, _ = x.shape
    kh, kw, _, o = f.shape
    ekh, ekw = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    if padding == "SAME":
        oh, ow = -(-h // strides[0]), -(-w // strides[1])
        ph = max((oh - 1) * strides[0] + ekh - h, 0)
        pw = max((ow - 1) * strides[1] + ekw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - ekh) // strides[0] + 1, (w - ekw) // strides[1] + 1
    out = np.zeros((n, oh, ow, o), np.float64)
    for i in range(kh):
        for j in range(kw):
            window = x[
                :,
                i * dilations[0] : i * dilations[0] + (oh - 1) * strides[0] + 1 : strides[0],
                j * dilations[1] : j * dilations[1] + (ow - 1) * strides[1] + 1 : strides[1],
                :,
            ]
            out += np.einsum("nhwc,co->nhwo", window.astype(np.float64), f[i, j].astype(np.float64))
    return out


# (x shape, filter shape, strides, padding, dilations): windows small enough for the direct conv
# (K*O <= 4800), odd sizes, O not a multiple of the vector width.
CASES = [
    ((3, 9, 7, 1), (5, 5, 1, 32), (1, 1), "SAME", (1, 1)),  # the convnet's first layer, smaller
    ((2, 11, 10, 3), (3, 3, 3, 5), (2, 3), "SAME", (1, 1)),
    ((2, 10, 9, 2), (3, 2, 2, 7), (1, 2), "VALID", (1, 1)),
    ((1, 12, 12, 2), (3, 2, 2, 3), (1, 1), "VALID", (2, 3)),
]

# Windows too large for the direct conv (K*O > 4800): the im2col GEMM adds into rows of the bias.
GEMM_CASES = [
    ((2, 9, 7, 4), (3, 3, 4, 140), (1, 1), "SAME", (1, 1)),
    ((3, 8, 9, 5), (3, 4, 5, 83), (2, 1), "VALID", (1, 2)),
]


def _case_id(case):
    return f"{case[0]}x{case[1]}s{case[2]}{case[3]}d{case[4]}"


def _conv(x, f, case):
    _, _, strides, padding, dilations = case
    return tf.nn.conv2d(
        x, f, strides=[1, *strides, 1], padding=padding, dilations=[1, *dilations, 1]
    )


def _arrays(case, dtype):
    xs, fs = case[0], case[1]
    return (
        RNG.standard_normal(xs).astype(NP[dtype]),
        RNG.standard_normal(fs).astype(NP[dtype]),
        RNG.standard_normal(fs[3]).astype(NP[dtype]),
    )


def _reference(x, f, b, case):
    return _naive_conv(x, f, case[2], case[3], case[4]) + b.astype(np.float64)


def _run(fetches, feed):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_conv_bias_relu_matches_numpy_with_unknown_batch(case, dtype, fused, monkeypatch):
    monkeypatch.setattr(conv_gemm, "FUSE_BIAS_RELU", fused)
    tf.reset_default_graph()
    x0, f0, b0 = _arrays(case, dtype)
    x = tf.placeholder(getattr(tf, dtype), [None, *case[0][1:]])
    y = tf.nn.relu(_conv(x, tf.constant(f0), case) + tf.constant(b0))
    got = _run(y, {x: x0})
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, np.maximum(_reference(x0, f0, b0, case), 0), rtol=tol, atol=tol)
    # a second batch size through the same compiled step
    got = _run(y, {x: x0[:1]})
    want = np.maximum(_reference(x0[:1], f0, b0, case), 0)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", GEMM_CASES, ids=_case_id)
def test_gemm_conv_bias_relu_matches_numpy(case, dtype, per_image, fused, monkeypatch):
    """Per image (the GEMM adds into the bias rows, then each image's relu) and batch-wide (the
    bias only; the relu stays its own loop)."""
    monkeypatch.setattr(conv_gemm, "FUSE_BIAS_RELU", fused)
    monkeypatch.setattr(conv_gemm, "PER_IMAGE_PATCH_BYTES", 0 if per_image else 1 << 40)
    tf.reset_default_graph()
    x0, f0, b0 = _arrays(case, dtype)
    x = tf.placeholder(getattr(tf, dtype), [None, *case[0][1:]])
    pre = _conv(x, tf.constant(f0), case) + tf.constant(b0)
    tol = 1e-4 if dtype == "float32" else 1e-12
    for batch in (x0, x0[:1]):
        want = _reference(batch, f0, b0, case)
        got = _run(tf.nn.relu(pre), {x: batch})
        np.testing.assert_allclose(got, np.maximum(want, 0), rtol=tol, atol=tol)


@pytest.mark.parametrize("per_image", [True, False])
def test_gemm_conv_gradients_match_finite_differences(per_image, monkeypatch):
    monkeypatch.setattr(conv_gemm, "PER_IMAGE_PATCH_BYTES", 0 if per_image else 1 << 40)
    case = ((2, 4, 3, 3), (2, 3, 3, 3), (1, 1), "SAME", (1, 1))
    monkeypatch.setattr(conv_gemm, "direct_wins", lambda *a, **k: False)
    _check_gradients(case)


@pytest.mark.parametrize("case", CASES[:2], ids=_case_id)
def test_bias_first_bias_add_and_bias_without_relu_match_numpy(case):
    tf.reset_default_graph()
    x0, f0, b0 = _arrays(case, "float32")
    x = tf.placeholder(tf.float32, case[0])
    no_relu = _conv(x, tf.constant(f0), case) + tf.constant(b0)
    want = _reference(x0, f0, b0, case)
    np.testing.assert_allclose(_run(no_relu, {x: x0}), want, rtol=1e-5, atol=1e-5)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, case[0])
    bias_first = tf.nn.relu(tf.constant(b0) + _conv(x, tf.constant(f0), case))
    got = _run(bias_first, {x: x0})
    np.testing.assert_allclose(got, np.maximum(want, 0), rtol=1e-5, atol=1e-5)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, case[0])
    bias_add = tf.nn.relu(tf.nn.bias_add(_conv(x, tf.constant(f0), case), tf.constant(b0)))
    got = _run(bias_add, {x: x0})
    np.testing.assert_allclose(got, np.maximum(want, 0), rtol=1e-5, atol=1e-5)


def test_pre_activation_also_fetched_keeps_the_relu_apart():
    """The sum has two readers (the relu and the fetch): only the bias is fused, both results are
    right."""
    case = CASES[1]
    tf.reset_default_graph()
    x0, f0, b0 = _arrays(case, "float32")
    x = tf.placeholder(tf.float32, case[0])
    conv = _conv(x, tf.constant(f0), case)
    pre = conv + tf.constant(b0)
    got_pre, got_relu, got_conv = _run([pre, tf.nn.relu(pre), conv], {x: x0})
    want = _reference(x0, f0, b0, case)
    np.testing.assert_allclose(got_pre, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_relu, np.maximum(want, 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_conv, want - b0, rtol=1e-5, atol=1e-5)


def test_bias_over_other_dims_and_leaky_max_are_not_fused():
    """A bias broadcast along the width (not the channels) and max(v, 0.5) keep their own loops:
    results equal numpy's."""
    case = CASES[2]
    tf.reset_default_graph()
    x0, f0, _ = _arrays(case, "float32")
    x = tf.placeholder(tf.float32, case[0])
    conv = _conv(x, tf.constant(f0), case)
    width_bias = RNG.standard_normal((conv.shape.as_list()[2], 1)).astype(np.float32)
    y = tf.maximum(conv + tf.constant(width_bias), 0.5)
    want = np.maximum(_naive_conv(x0, f0, case[2], case[3], case[4]) + width_bias, 0.5)
    np.testing.assert_allclose(_run(y, {x: x0}), want, rtol=1e-5, atol=1e-5)


def _finite_difference(fn, arrays, index, eps=1e-6):
    grad = np.zeros_like(arrays[index])
    flat = grad.reshape(-1)
    for k in range(flat.size):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[index].reshape(-1)[k] += eps
        minus[index].reshape(-1)[k] -= eps
        flat[k] = (fn(*plus) - fn(*minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("case", [CASES[1], CASES[3]], ids=_case_id)
def test_gradients_through_the_fused_conv_match_finite_differences(case):
    _check_gradients(case)


def _check_gradients(case):
    """d sum(relu(conv + bias) * w) / d (x, f, bias) against finite differences, in f64."""
    tf.reset_default_graph()
    arrays = [a.astype(np.float64) for a in _arrays(case, "float64")]
    holders = [tf.placeholder(tf.float64, a.shape) for a in arrays]
    y = tf.nn.relu(_conv(holders[0], holders[1], case) + holders[2])
    w = RNG.standard_normal(y.shape.as_list())
    grads = tf.gradients(tf.reduce_sum(y * w), holders)
    got = _run(grads, dict(zip(holders, arrays)))

    def objective(x, f, b):
        return np.sum(np.maximum(_reference(x, f, b, case), 0) * w)

    for i, name in enumerate(("input", "filter", "bias")):
        want = _finite_difference(objective, arrays, i)
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-6, err_msg=f"d/d{name}")


def _lowered(relu: bool, batch=2) -> str:
    def build(b, args):
        x, f, bias = args
        conv = b.op("conv2d", x, f, strides=[1, 1, 1, 1], padding="SAME", dilations=[1, 1, 1, 1])
        summed = b.op("add", conv, bias)
        return [b.op("relu", summed) if relu else summed]

    specs = [TensorSpec(s, "float32") for s in ((batch, 9, 7, 1), (5, 5, 1, 32), (32,))]
    return registry_harness.lowered_ir(
        specs, build, registry_harness.GRAPH_TO_CORE + ",tgc-conv-gemm"
    )


@pytest.mark.parametrize("batch", [2, None])
def test_lowered_per_image_gemm_starts_from_the_bias_rows(batch, monkeypatch):
    monkeypatch.setattr(conv_gemm, "PER_IMAGE_PATCH_BYTES", 0)
    monkeypatch.setattr(conv_gemm, "direct_wins", lambda *a, **k: False)
    text = _lowered(relu=True, batch=batch)
    loop = text[text.index("scf.for") :]
    # in the loop: the bias rows, the GEMM adding into them (no zero-filling _z variant), the relu
    assert "tgc_gemm_" in loop and "_z(" not in loop
    assert "arith.maximumf" in loop and "arith.addf" not in loop.split("call @tgc_gemm")[0]


@pytest.mark.parametrize("batch", [2, None])
@pytest.mark.parametrize("relu", [True, False])
def test_lowered_conv_adds_the_bias_and_relu_in_its_loop(relu, batch):
    """Also with an unknown batch, whose size the add's output reads from the conv's result."""
    text = _lowered(relu, batch)
    assert "linalg.generic" not in text  # no separate loops over the output
    assert ("arith.maximumf" in text and "vector<32xf32>" in text) == relu
    assert "vector.transfer_read %arg2" in text  # the bias row starts each pixel's sum
