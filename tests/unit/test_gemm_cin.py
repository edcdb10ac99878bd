"""An artifact built with --variables-read-only (and no --blas) runs its SGD
updates as one generated GEMM that reads the weight and writes its new copy (tgc-blas-matmul's
copy fold, tests/lit/lowering/blas_copy_fold.mlir): the two-layer net's steps against numpy."""

import os
import re

import numpy as np
from test_aot import compile_artifact
from test_gemm_codegen import _batches, _two_layer

from tgc.runtime.artifact import load


def _numpy_step(w1, w2, xs, ys, rate=0.1):
    """One SGD step of relu(x w1) w2 under mean softmax cross-entropy, in float64."""
    x, y = xs.astype(np.float64), ys.astype(np.float64)
    h = np.maximum(x @ w1, 0.0)
    logits = h @ w2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d_logits = (p - y) / len(x)
    d_h = (d_logits @ w2.T) * (h > 0)
    return w1 - rate * (x.T @ d_h), w2 - rate * (h.T @ d_logits)


def test_read_only_artifact_steps_match_numpy_and_leave_their_inputs(tmp_path):
    _two_layer()
    directory = compile_artifact(["train"], None, str(tmp_path), variables_in_place=False)
    art = load(directory)
    w1, w2 = (art.variables[n].astype(np.float64) for n in ("w1", "w2"))
    for xs, ys in _batches(n=3):
        given = {n: art.variables[n] for n in ("w1", "w2")}
        kept = {n: v.copy() for n, v in given.items()}
        art(x=xs, y=ys)
        w1, w2 = _numpy_step(w1, w2, xs, ys)
        np.testing.assert_allclose(art.variables["w1"], w1, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(art.variables["w2"], w2, rtol=1e-4, atol=1e-6)
        for name, value in given.items():  # the C API's promise: inputs are read, not written
            np.testing.assert_array_equal(value, kept[name])
    # Both weight updates call the folded GEMM (the weight read as beta's term), and nothing copies
    # a weight first.
    (ir_file,) = [f for f in os.listdir(directory) if f.endswith(".ll")]
    with open(os.path.join(directory, ir_file)) as fh:
        text = fh.read()
    assert len(set(re.findall(r"call void @(tgc_mm_\w+_cin)\(", text))) == 2
    assert "memcpy" not in text
