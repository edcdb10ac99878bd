"""The parallel runtime (tgc/lowering/cpu/parallel_gemm.py) on one-row GEMMs and on errors: the
kernel's gemv split by K (B stored K x N: partial rows summed by the caller) or by C's columns (B
stored N x K) against numpy at 1, 2 and 3 threads with odd sizes, and a failed allocation in a
chunk that a worker thread ran raising ResourceExhaustedError on the caller's thread (a Session and
an artifact), where the call used to crash or return as if it had succeeded. No timings: see
benchmarks/gemv_threads.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_parallel_gemm import Driver, _operands

from tgc.lowering.cpu import parallel_gemm
from tgc.runtime import executable

RNG = np.random.default_rng(18)

pytestmark = pytest.mark.skipif(
    parallel_gemm.library() is None, reason=f"no parallel runtime: {parallel_gemm.last_error}"
)


@pytest.fixture
def threads():
    """The in-process runtime's thread count, put back after the test."""
    library = parallel_gemm.library()
    old = library.tgc_set_threads(0)
    yield library.tgc_set_threads
    library.tgc_set_threads(old)


# (N, K): the MLP's layers at batch 1; K not a multiple of the chunk count and a last chunk
# shorter than the others; N = 1 (a dot product) and N below one vector; a K whose chunks would
# be under MIN_GEMV_ROWS (fewer, longer chunks); one below SERIAL_GEMV (the calling thread alone).
GEMV_SHAPES = [(1024, 784), (1001, 783), (1, 200_003), (10, 40_001), (3000, 130), (100, 50)]


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("n, k", GEMV_SHAPES)
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_one_row_matches_numpy(threads, count, n, k, ta, tb):
    threads(count)
    driver = Driver("f32")
    (a, b, c), bases = _operands("f32", 1, n, k, ta, tb)
    alpha, beta = 0.5, -2.0
    want = alpha * (a.T if ta else a).astype(np.float64) @ (b.T if tb else b) + beta * c
    untouched = bases[2].copy()
    driver(a, b, c, bases, ta, tb, alpha, beta)
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    c_mask = np.zeros(bases[2].shape, bool)
    c_mask[3 : 3 + 1, 3 : 3 + n] = True
    np.testing.assert_array_equal(bases[2][~c_mask], untouched[~c_mask])


@pytest.mark.parametrize("elem", ["f32", "f64"])
def test_one_row_split_by_k_reads_c_in_once_and_ignores_c(threads, elem):
    """Chunk 0 alone takes beta's term from C_in; the partial rows of the others start at zero
    (C's old values, NaN here, are never read), and C_in stays as it was."""
    threads(2)
    driver = Driver(elem)
    (a, b, c), bases = _operands(elem, 1, 1024, 784, False, False)
    c_in_base = RNG.standard_normal((4, 1030)).astype(c.dtype)
    c_in, kept = c_in_base[2:3, 5 : 5 + 1024], c_in_base.copy()
    c[:] = np.nan
    driver(a, b, c, bases, False, False, 1.5, 1.0, (c_in, c_in_base))
    want = 1.5 * a.astype(np.float64) @ b + c_in
    tolerance = 1e-4 if elem == "f32" else 1e-10
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance * 28)
    np.testing.assert_array_equal(c_in_base, kept)
    c[:] = np.nan
    driver(a, b, c, bases, False, False, 1.0, 0.0)  # beta = 0: C_in (C itself) is not read
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=tolerance, atol=tolerance * 28)


def test_one_row_on_two_threads_is_the_same_every_call(threads):
    """The partial rows are added in chunk order whichever thread ran them: the same bits every
    call."""
    threads(2)
    driver = Driver("f32")
    (a, b, c), bases = _operands("f32", 1, 1024, 784, False, False)
    driver(a, b, c, bases, False, False, 1.0, 0.0)
    first = c.copy()
    for _ in range(20):
        driver(a, b, c, bases, False, False, 1.0, 0.0)
        np.testing.assert_array_equal(c, first)


@pytest.mark.parametrize("count", [1, 2])
def test_dense_layer_with_relu_at_batch_one(monkeypatch, count):
    """relu(x @ W + b) at batch 1 through a Session: the one-row split's partial sums meet the
    bias and the relu once, after the sum (the plain kernel, then the epilogue)."""
    import tgc as tf
    from tgc.lowering.cpu.target import GEMM_ENVIRONMENT
    from tgc.runtime import blas_threads

    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    load = blas_threads.core_load()
    monkeypatch.setattr(load, "free_cores", lambda: float(len(load.cpus)))
    x = RNG.standard_normal((1, 784)).astype(np.float32)
    w = (RNG.standard_normal((784, 1024)) * 0.03).astype(np.float32)
    b = (RNG.standard_normal(1024) * 0.1).astype(np.float32)
    tf.reset_default_graph()
    xp = tf.placeholder(tf.float32, [None, 784])
    h = tf.nn.relu(tf.matmul(xp, tf.constant(w)) + tf.constant(b))
    config = tf.ConfigProto(intra_op_parallelism_threads=count)
    with tf.Session(config=config) as sess:
        got = sess.run(h, {xp: x})
    want = np.maximum(x.astype(np.float64) @ w + b, 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# ---- a failed allocation on a worker thread ----------------------------------------------------

# malloc that answers NULL for blocks of 4 KiB or more on tgc's workers (the only threads here that
# block every signal, SIGUSR2 included) while the test switches it on: the generated kernel's packs.
SHIM_C = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
extern void *__libc_malloc(size_t);
static volatile int failing, failures;
void tgc_test_fail_worker_allocations(int on) { failing = on; }
int tgc_test_failed_allocations(void) { return failures; }
static int on_a_worker(void) {
  sigset_t mask;
  return pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 && sigismember(&mask, SIGUSR2) == 1;
}
void *malloc(size_t size) {
  if (failing && size >= 4096 && on_a_worker()) { failures++; return NULL; }
  return __libc_malloc(size);
}
"""

# Runs a matmul whose chunks take long enough for the worker to join (about 2 GFLOP), with worker
# allocations failing: every run must raise ResourceExhaustedError naming a pack of the kernel or
# return the right product, at least one must raise, and the next run without failures is right.
CHILD = r"""
import ctypes, os, sys
import numpy as np
import tgc as tf
from tgc.runtime import blas_threads
from tgc.lowering.cpu.tiered import wait_for_optimized_code

load = blas_threads.core_load()
load.free_cores = lambda: float(len(load.cpus))  # the machine's load must not take the threads
shim = ctypes.CDLL(None)
rng = np.random.default_rng(0)
a = rng.standard_normal((1500, 700)).astype(np.float32)
b = rng.standard_normal((700, 900)).astype(np.float32)
want = a.astype(np.float64) @ b

if sys.argv[1] == "session":
    x, y = tf.placeholder(tf.float32, [None, None]), tf.placeholder(tf.float32, [None, None])
    z = tf.matmul(x, y)
    sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2))
    run = lambda: sess.run(z, {x: a, y: b})
else:
    from tgc.runtime.artifact import load as load_artifact
    art = load_artifact(sys.argv[2], threads=2)
    run = lambda: art(x=a, w=b)["z"]

np.testing.assert_allclose(run(), want, rtol=1e-4, atol=1e-2)
wait_for_optimized_code()
raised = 0
shim.tgc_test_fail_worker_allocations(1)
for _ in range(6):
    try:
        got = run()
    except tf.errors.ResourceExhaustedError as error:
        assert "OOM when allocating tensor" in str(error) and "packed_" in str(error), str(error)
        raised += 1
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2)
shim.tgc_test_fail_worker_allocations(0)
failures = shim.tgc_test_failed_allocations()
np.testing.assert_allclose(run(), want, rtol=1e-4, atol=1e-2)
print(f"raised {raised} failed allocations {failures}")
assert raised >= 1 and failures >= raised
"""


def _run_child(tmp_path, *args) -> str:
    shim = tmp_path / "shim.so"
    source = tmp_path / "shim.c"
    source.write_text(SHIM_C)
    subprocess.run(
        [parallel_gemm.c_compiler(), "-shared", "-fPIC", "-O2", "-pthread", "-o", shim, source],
        check=True,
    )
    env = dict(os.environ, LD_PRELOAD=str(shim), TGC_GEMM="codegen")
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, str(script), *args], env=env, cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.skipif(executable._fastcall is None, reason="needs the C extension (guarded calls)")
def test_a_failed_allocation_on_a_worker_raises_in_the_session(tmp_path):
    assert "raised" in _run_child(tmp_path, "session")


@pytest.mark.skipif(executable._fastcall is None, reason="needs the C extension (guarded calls)")
def test_a_failed_allocation_on_a_worker_raises_from_an_artifact(tmp_path):
    import tgc as tf
    from test_aot import compile_artifact

    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None], name="x")
    w = tf.placeholder(tf.float32, [None, None], name="w")
    tf.identity(tf.matmul(x, w), name="z")
    directory = compile_artifact(["z"], ["x", "w"], str(tmp_path))
    assert "raised" in _run_child(tmp_path, "artifact", directory)
