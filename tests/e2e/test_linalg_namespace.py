"""`tf.linalg` holds TF's names for tgc's matrix functions; `tf.trace` / `tf.linalg.trace` sum
each innermost matrix's diagonal (numpy's references)."""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf

RNG = np.random.default_rng(5)


def test_linalg_names_compute_what_numpy_does():
    a = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = RNG.standard_normal((3, 4))
    with tf.Graph().as_default():
        x, y = tf.constant(a), tf.constant(b)
        fetches = {
            "matmul": tf.linalg.matmul(x[0], y),
            "inv": tf.linalg.inv(x),
            "det": tf.linalg.det(x),
            "transpose": tf.linalg.transpose(x),
            "diag_part": tf.linalg.diag_part(x),
            "diag": tf.linalg.diag(x[:, 0]),
            "band_part": tf.linalg.band_part(x, 0, -1),
            "eye": tf.linalg.eye(3, dtype=tf.float64),
            "trace": tf.linalg.trace(x),
            "tf_trace": tf.trace(x[0]),
            "norm": tf.linalg.norm(x[0, 0]),
            "einsum": tf.linalg.einsum("ij,jk->ik", x[0], y),
        }
        with tf.Session() as sess:
            got = sess.run(fetches)
    expected = {
        "matmul": a[0] @ b,
        "inv": np.linalg.inv(a),
        "det": np.linalg.det(a),
        "transpose": np.swapaxes(a, -1, -2),
        "diag_part": np.diagonal(a, axis1=-2, axis2=-1),
        "diag": np.stack([np.diag(r) for r in a[:, 0]]),
        "band_part": np.triu(a),
        "eye": np.eye(3),
        "trace": np.trace(a, axis1=-2, axis2=-1),
        "tf_trace": np.trace(a[0]),
        "norm": np.linalg.norm(a[0, 0]),
        "einsum": a[0] @ b,
    }
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-10, atol=1e-12, err_msg=key)


def test_a_name_linalg_lacks_says_so():
    with pytest.raises(AttributeError, match="tgc does not support tf.linalg.qr yet"):
        tf.linalg.qr  # noqa: B018
