"""Which convolutions tgc-conv-gemm computes directly (conv_direct.direct_wins): a window of many
elements stays with im2col even when the output channels are few.

Found by the conv chains (tests/conformance/conv.py): a 5x4 filter on 29 channels with 2 outputs
(K*O = 1160, f64 2320, under both limits) went direct, and the filter gradient, which carries one
accumulator vector per window element (580) through the loops over the pixels, spent 43 s in
one-shot-bufferize (the whole chain compiled in 50 s instead of 1); such a gradient also ran about
2x slower than im2col's GEMM, and the forward conv of 400-2000 window elements on 2 channels 3x
slower (shared 2-core machine, 20 runs each, batch 8 at 20x20).
"""

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu.conv_direct import direct_wins


@pytest.mark.parametrize("elem", ["f32", "f64"])
def test_a_window_of_many_elements_is_not_direct(elem):
    assert not direct_wins((5, 4, 29, 2), elem, filter_gradient=True)
    assert not direct_wins((5, 4, 29, 2), elem)
    assert not direct_wins((5, 5, 20, 1), elem, filter_gradient=True)


def test_the_convnets_first_layer_and_the_measured_wins_stay_direct():
    assert direct_wins((5, 5, 1, 32), "f32") and direct_wins((5, 5, 1, 32), "f32", True)
    assert direct_wins((5, 5, 3, 32), "f32") and direct_wins((5, 5, 3, 32), "f32", True)
    assert direct_wins((5, 5, 4, 32), "f32")  # K = 100 x 32: even in the table, direct
    assert direct_wins((5, 5, 1, 32), "f64") and direct_wins((5, 5, 1, 32), "f64", True)


def test_the_many_element_filter_gradient_against_numpy():
    """The chain's layer that compiled for 43 s: its filter gradient now by im2col, right."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 7, 6, 29))
    w0 = rng.standard_normal((5, 4, 29, 2))
    g0 = rng.standard_normal((3, 7, 6, 2))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [None, 7, 6, 29])
        w = tf.constant(w0)
        y = tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
        (dw,) = tf.gradients(tf.reduce_sum(y * g0), [w])
        with tf.Session() as sess:
            got = sess.run(dw, {x: x0})
    xp = np.pad(x0, [(0, 0), (2, 2), (1, 2), (0, 0)])  # SAME: 4 rows, 3 columns of padding
    want = np.zeros(w0.shape)
    for a, b in np.ndindex(5, 4):
        want[a, b] = np.tensordot(xp[:, a : a + 7, b : b + 6], g0, axes=([0, 1, 2], [0, 1, 2]))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
