"""An artifact loaded with ``threads=2`` splits a one-row GEMM by K as a Session does
(parallel_gemm.py's tgc_gemv_by_k): at batch 1 its copy of the runtime starts a worker for the
gemv (a one-row GEMM with B stored K x N has no other way to be threaded) and the sums, the relu
after them included, are numpy's. (An artifact that stayed on one thread had a ThreadScope that
found no free core on a busy machine: ``threads`` is the most threads, not a forced count; the
test counts every core as free.)"""

import os

import numpy as np
import pytest
from test_aot import compile_artifact

import tgc as tf
from tgc.lowering.cpu import parallel_gemm
from tgc.runtime import blas_threads
from tgc.runtime.artifact import load

FEATURES, UNITS = 784, 300


def _threads_of_this_process() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_artifact_on_two_threads_splits_one_row_by_k(tmp_path, monkeypatch):
    core_load = blas_threads.core_load()
    monkeypatch.setattr(core_load, "free_cores", lambda: float(len(core_load.cpus)))
    if len(core_load.cpus) < 2:
        pytest.skip("needs 2 CPUs")
    assert FEATURES * UNITS >= parallel_gemm.SERIAL_GEMV  # one row is threaded
    tf.reset_default_graph()
    rng = np.random.default_rng(7)
    x = tf.placeholder(tf.float32, [None, FEATURES], name="x")
    w = tf.Variable(rng.standard_normal((FEATURES, UNITS)).astype(np.float32), name="w")
    tf.nn.relu(tf.matmul(x, w), name="y")
    art = load(compile_artifact(["y"], None, str(tmp_path)), threads=2)
    rows = rng.standard_normal((1, FEATURES)).astype(np.float32)
    before = _threads_of_this_process()
    got = art(x=rows)["y"]
    assert art._blas_threads.threads == 2
    # The artifact's own runtime started its worker for the one-row GEMM.
    assert _threads_of_this_process() == before + 1
    want = np.maximum(rows.astype(np.float64) @ art.variables["w"], 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    batch = rng.standard_normal((5, FEATURES)).astype(np.float32)
    want = np.maximum(batch.astype(np.float64) @ art.variables["w"], 0)
    np.testing.assert_allclose(art(x=batch)["y"], want, rtol=1e-4, atol=1e-4)
