"""tgc-parallel-loops (tgc/lowering/cpu/parallel_loops.py): the batch loops of direct convolution
and its filter gradient, max-pool, max-pool's gradient, the im2col gather and the per-image im2col
conv (forward, input gradient, the filter gradient's parts: bodies that call the GEMM) outlined and
run on the parallel runtime's threads: results against numpy at 1 and 2 threads with odd batches
(1, a batch not divisible by the chunks), the filter gradient bitwise the same in every run, the
convnet SGD step's loss and variables after steps at 2 threads against 1 thread, artifacts (their
linked runtime, and the weak serial entry under llvmlite), a failed allocation in a chunk on a
worker, and the runtime called directly: ``tgc_parallel_for`` runs every iteration once and small
loops on the calling thread, a GEMM called inside a chunk runs whole on the chunk's thread."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu import parallel_gemm, parallel_loops
from tgc.runtime import blas_threads, executable

RNG = np.random.default_rng(2026)

pytestmark = pytest.mark.skipif(
    parallel_gemm.library() is None, reason=f"no parallel runtime: {parallel_gemm.last_error}"
)


@pytest.fixture
def quiet_machine(monkeypatch):
    """Every core counts as free: a run's ThreadScope takes the threads it may."""
    load = blas_threads.core_load()
    monkeypatch.setattr(load, "free_cores", lambda: float(len(load.cpus)))


@pytest.fixture
def outlined(monkeypatch):
    """The number of loops tgc-parallel-loops outlined in each module it ran on."""
    counts: list = []
    run = parallel_loops.ParallelLoopsPass.run

    def counting(self, module):
        run(self, module)
        text = str(module)
        counts.append(text.count(f"call @{parallel_gemm.LOOP_ENTRY}("))

    monkeypatch.setattr(parallel_loops.ParallelLoopsPass, "run", counting)
    return counts


# ---- numpy references ---------------------------------------------------------------------------


def conv2d_same(x, f):
    """NHWC conv2d, stride 1, SAME padding, in float64."""
    kh, kw = f.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(
        x.astype(np.float64), [(0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)]
    )
    n, h, w, _ = x.shape
    out = np.zeros((n, h, w, f.shape[3]))
    for a in range(kh):
        for b in range(kw):
            out += np.einsum("nhwc,co->nhwo", padded[:, a : a + h, b : b + w, :], f[a, b])
    return out


def max_pool_2x2(y):
    n, h, w, c = y.shape
    return y.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def max_pool_2x2_grad(y, g):
    """The gradient of max_pool_2x2 at y for the output gradient g: each window's first maximum
    (row-major) gets its output's gradient."""
    n, h, w, c = y.shape
    windows = y.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
    first = windows.reshape(n, h // 2, w // 2, c, 4).argmax(axis=-1)
    grad = np.zeros((n, h // 2, w // 2, c, 4))
    np.put_along_axis(grad, first[..., None], g[..., None], axis=-1)
    return grad.reshape(n, h // 2, w // 2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(y.shape)


# ---- ops through a Session ----------------------------------------------------------------------


def _run(threads, build, feeds):
    tf.reset_default_graph()
    fetches, placeholders = build()
    config = tf.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.Session(config=config) as sess:
        return sess.run(fetches, dict(zip(placeholders, feeds)))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 5, 32])
def test_direct_conv_pool_and_pool_gradient_match_numpy(quiet_machine, outlined, threads, batch):
    x = RNG.standard_normal((batch, 28, 28, 1)).astype(np.float32)
    f = RNG.standard_normal((5, 5, 1, 32)).astype(np.float32)

    def build():
        xp = tf.placeholder(tf.float32, [None, 28, 28, 1])
        y = tf.nn.conv2d(xp, tf.constant(f), strides=[1, 1, 1, 1], padding="SAME")
        p = tf.nn.max_pool(y, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        (gy,) = tf.gradients(tf.reduce_sum(p * p), [y])
        return [y, p, gy], [xp]

    y, p, gy = _run(threads, build, [x])
    assert sum(outlined) == 3  # the conv, the pool and the pool gradient's tiles
    want_y = conv2d_same(x, f)
    np.testing.assert_allclose(y, want_y, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(p, max_pool_2x2(y))
    np.testing.assert_allclose(gy, max_pool_2x2_grad(y, 2 * p), rtol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 3, 32])
def test_direct_filter_gradient_matches_numpy(quiet_machine, outlined, threads, batch):
    """The batch summed in conv_direct.GRADIENT_PARTS parts (some empty at batch 1 and 3)."""
    x = RNG.standard_normal((batch, 28, 28, 1)).astype(np.float32)
    f = RNG.standard_normal((5, 5, 1, 32)).astype(np.float32)
    gy = RNG.standard_normal((batch, 28, 28, 32)).astype(np.float32)

    def build():
        xp = tf.placeholder(tf.float32, [None, 28, 28, 1])
        filt = tf.constant(f)
        y = tf.nn.conv2d(xp, filt, strides=[1, 1, 1, 1], padding="SAME")
        return tf.gradients(y, [filt], grad_ys=tf.constant(gy))[0], [xp]

    got = _run(threads, build, [x])
    assert sum(outlined) == 1  # the parts of the filter gradient (the forward conv is not fetched)
    padded = np.pad(x.astype(np.float64), [(0, 0), (2, 2), (2, 2), (0, 0)])
    want = np.zeros(f.shape)
    for a in range(5):
        for b in range(5):
            want[a, b] = np.einsum("nhwc,nhwo->co", padded[:, a : a + 28, b : b + 28], gy)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 7])
def test_im2col_convolution_matches_numpy(quiet_machine, outlined, threads, batch):
    """A window of 3x3x24 elements goes through im2col and the GEMM (K*O above the direct
    convolution's limit); one image's patch matrix is small enough for the batch-wide gather."""
    x = RNG.standard_normal((batch, 9, 11, 24)).astype(np.float32)
    f = RNG.standard_normal((3, 3, 24, 40)).astype(np.float32)

    def build():
        xp = tf.placeholder(tf.float32, [None, 9, 11, 24])
        return tf.nn.conv2d(xp, tf.constant(f), strides=[1, 1, 1, 1], padding="SAME"), [xp]

    y = _run(threads, build, [x])
    assert sum(outlined) == 1  # the gather
    np.testing.assert_allclose(y, conv2d_same(x, f), rtol=1e-4, atol=1e-3)


def _conv_input_gradient_same(gy, f):
    """d(sum(conv2d_same(x, f) * gy))/dx, in float64."""
    kh, kw = f.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    n, h, w, _ = gy.shape
    padded = np.zeros((n, h + kh - 1, w + kw - 1, f.shape[2]))
    for a in range(kh):
        for b in range(kw):
            padded[:, a : a + h, b : b + w] += np.einsum("nhwo,co->nhwc", gy, f[a, b])
    return padded[:, top : top + h, left : left + w]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 3, 7, 32])
def test_per_image_im2col_conv_and_input_gradient_match_numpy(
    quiet_machine, outlined, threads, batch
):
    """The convnet's second layer (14x14x32, 5x5x32x64, bias and relu): one image's patch matrix
    is past PER_IMAGE_PATCH_BYTES, so the forward conv and its input gradient (GEMM + col2im) run
    image by image, each image's GEMM inside the outlined loop's chunk on its own thread."""
    x = RNG.standard_normal((batch, 14, 14, 32)).astype(np.float32)
    f = (RNG.standard_normal((5, 5, 32, 64)) / 20).astype(np.float32)
    bias = RNG.standard_normal(64).astype(np.float32)
    gy = RNG.standard_normal((batch, 14, 14, 64)).astype(np.float32)

    def build():
        xp = tf.placeholder(tf.float32, [None, 14, 14, 32])
        gp = tf.placeholder(tf.float32, [None, 14, 14, 64])  # the batch unknown, as x's
        conv = tf.nn.conv2d(xp, tf.constant(f), strides=[1, 1, 1, 1], padding="SAME")
        y = tf.nn.relu(conv + tf.constant(bias))
        (gx,) = tf.gradients(conv, [xp], grad_ys=gp)
        return [y, gx], [xp, gp]

    y, gx = _run(threads, build, [x, gy])
    assert sum(outlined) == 2  # the forward's and the input gradient's per-image loops
    np.testing.assert_allclose(y, np.maximum(conv2d_same(x, f) + bias, 0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gx, _conv_input_gradient_same(gy, f), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(
    __import__("tgc.lowering.cpu.blas", fromlist=["x"]).openblas_library() is None,
    reason="no OpenBLAS",
)
def test_per_image_loops_calling_openblas_stay_serial(quiet_machine, outlined, monkeypatch):
    """With OpenBLAS as the GEMM (TGC_GEMM=blas), the per-image loops' bodies call cblas, which
    runs threads of its own: tgc-parallel-loops leaves them serial (and the result is right)."""
    monkeypatch.setenv("TGC_GEMM", "blas")
    x = RNG.standard_normal((5, 14, 14, 32)).astype(np.float32)
    f = (RNG.standard_normal((5, 5, 32, 64)) / 20).astype(np.float32)

    def build():
        xp = tf.placeholder(tf.float32, [None, 14, 14, 32])
        return tf.nn.conv2d(xp, tf.constant(f), strides=[1, 1, 1, 1], padding="SAME"), [xp]

    y = _run(2, build, [x])
    assert sum(outlined) == 0
    np.testing.assert_allclose(y, conv2d_same(x, f), rtol=1e-4, atol=1e-4)


def _im2col_filter_gradient(threads, x, gy, f, runs=1):
    """The convnet's second layer's filter gradient (per-image im2col GEMMs summed in parts),
    ``runs`` times in one session."""
    tf.reset_default_graph()
    xp = tf.placeholder(tf.float32, [None, 14, 14, 32])
    gp = tf.placeholder(tf.float32, [None, 14, 14, 64])
    filt = tf.constant(f)
    conv = tf.nn.conv2d(xp, filt, strides=[1, 1, 1, 1], padding="SAME")
    (df,) = tf.gradients(conv, [filt], grad_ys=gp)
    config = tf.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.Session(config=config) as sess:
        return [sess.run(df, {xp: x, gp: gy}) for _ in range(runs)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 3, 7, 32])
def test_per_image_im2col_filter_gradient_matches_numpy(quiet_machine, outlined, threads, batch):
    """Summed in conv_direct.GRADIENT_PARTS parts of images (some empty at batch 1 and 3)."""
    x = RNG.standard_normal((batch, 14, 14, 32)).astype(np.float32)
    gy = RNG.standard_normal((batch, 14, 14, 64)).astype(np.float32)
    f = RNG.standard_normal((5, 5, 32, 64)).astype(np.float32)
    (got,) = _im2col_filter_gradient(threads, x, gy, f)
    assert sum(outlined) == 1  # the parts' loop
    padded = np.pad(x.astype(np.float64), [(0, 0), (2, 2), (2, 2), (0, 0)])
    want = np.zeros(f.shape)
    for a in range(5):
        for b in range(5):
            want[a, b] = np.einsum("nhwc,nhwo->co", padded[:, a : a + 14, b : b + 14], gy)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_per_image_im2col_filter_gradient_is_the_same_in_every_run_and_thread_count(
    quiet_machine,
):
    """Each part's images are summed on one thread, and the parts in part order: bitwise the same
    sums in each of 8 runs at 2 threads, and at 1 thread."""
    x = RNG.standard_normal((32, 14, 14, 32)).astype(np.float32)
    gy = RNG.standard_normal((32, 14, 14, 64)).astype(np.float32)
    f = RNG.standard_normal((5, 5, 32, 64)).astype(np.float32)
    runs = _im2col_filter_gradient(2, x, gy, f, runs=8)
    for got in runs[1:]:
        np.testing.assert_array_equal(got, runs[0])
    np.testing.assert_array_equal(_im2col_filter_gradient(1, x, gy, f)[0], runs[0])


def test_convnet_steps_on_two_threads_match_one_thread(quiet_machine, outlined):
    """The harness's convnet (benchmarks/harness.py) at batch 32: three SGD steps' losses and the
    variables after them, 2 threads against 1 (chunks change no sum's order: the same up to the
    GEMMs' rounding)."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import harness

    x, y, params = harness.convnet_data()
    results = {}
    for threads in (1, 2):
        tf.reset_default_graph()
        v = {k: tf.Variable(p.copy()) for k, p in params.items()}
        xp = tf.placeholder(tf.float32, [None, 28, 28, 1])
        yp = tf.placeholder(tf.float32, [None, 10])

        def pool(h):
            return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

        def conv(h, w):
            return tf.nn.conv2d(h, w, strides=[1, 1, 1, 1], padding="SAME")

        h = pool(tf.nn.relu(conv(xp, v["c1"]) + v["b1"]))
        h = pool(tf.nn.relu(conv(h, v["c2"]) + v["b2"]))
        h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), v["f1"]) + v["b3"])
        logits = tf.matmul(h, v["f2"]) + v["b4"]
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=yp, logits=logits))
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
        config = tf.ConfigProto(intra_op_parallelism_threads=threads)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([loss, train], {xp: x, yp: y})[0] for _ in range(3)]
            results[threads] = (losses, sess.run(v))
    # both sessions' conv1 and its filter gradient, pools and the pool gradients, and conv2's
    # per-image loops (forward, input gradient, the filter gradient's parts)
    assert sum(outlined) >= 2 * 7
    np.testing.assert_allclose(results[2][0], results[1][0], rtol=1e-5)
    assert results[1][0][2] < results[1][0][0]  # it learns
    for name in params:
        np.testing.assert_allclose(results[2][1][name], results[1][1][name], rtol=1e-4, atol=1e-6)


# ---- artifacts ----------------------------------------------------------------------------------


def _pool_artifact(tmp_path):
    from test_aot import compile_artifact

    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 28, 28, 32], name="x")
    tf.identity(
        tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME"), name="p"
    )
    return compile_artifact(["p"], ["x"], str(tmp_path))


def test_artifact_links_the_runtime_for_its_loops(tmp_path, quiet_machine):
    from tgc.runtime.artifact import load

    directory = _pool_artifact(tmp_path)
    (library,) = [f for f in os.listdir(directory) if f.endswith(".so")]
    symbols = subprocess.run(
        ["nm", "-D", os.path.join(directory, library)], capture_output=True, text=True
    ).stdout
    assert " T tgc_set_threads" in symbols and parallel_gemm.LOOP_ENTRY not in symbols
    x = RNG.standard_normal((9, 28, 28, 32)).astype(np.float32)
    for threads in (1, 2):
        art = load(directory, threads=threads)
        np.testing.assert_array_equal(art(x=x)["p"], max_pool_2x2(x))


def test_artifact_llvm_ir_runs_the_weak_serial_entry(tmp_path):
    pytest.importorskip("llvmlite")
    from tgc.runtime.artifact import load

    art = load(_pool_artifact(tmp_path), prefer="llvm-ir")
    assert art.backend == "llvmlite"
    x = RNG.standard_normal((3, 28, 28, 32)).astype(np.float32)
    np.testing.assert_array_equal(art(x=x)["p"], max_pool_2x2(x))


def test_artifact_runs_the_per_image_conv_loops_with_their_gemms(tmp_path, quiet_machine, outlined):
    """The convnet's second layer in an artifact (its GEMMs tgc's generated kernel, through the
    linked runtime): forward, input and filter gradients on 1 and 2 threads against numpy, the
    filter gradient bitwise the same on both."""
    from test_aot import compile_artifact

    from tgc.runtime.artifact import load

    f = (RNG.standard_normal((5, 5, 32, 64)) / 20).astype(np.float32)
    tf.reset_default_graph()
    xp = tf.placeholder(tf.float32, [None, 14, 14, 32], name="x")
    gp = tf.placeholder(tf.float32, [None, 14, 14, 64], name="g")
    filt = tf.constant(f)
    conv = tf.nn.conv2d(xp, filt, strides=[1, 1, 1, 1], padding="SAME")
    gx, df = tf.gradients(conv, [xp, filt], grad_ys=gp)
    for name, value in (("y", conv), ("gx", gx), ("df", df)):
        tf.identity(value, name=name)
    directory = compile_artifact(["y", "gx", "df"], ["x", "g"], str(tmp_path))
    assert sum(outlined) == 3  # forward, input gradient, the filter gradient's parts
    x = RNG.standard_normal((7, 14, 14, 32)).astype(np.float32)
    gy = RNG.standard_normal((7, 14, 14, 64)).astype(np.float32)
    padded = np.pad(x.astype(np.float64), [(0, 0), (2, 2), (2, 2), (0, 0)])
    want_df = np.zeros(f.shape)
    for a in range(5):
        for b in range(5):
            want_df[a, b] = np.einsum("nhwc,nhwo->co", padded[:, a : a + 14, b : b + 14], gy)
    results = {}
    for threads in (1, 2):
        results[threads] = load(directory, threads=threads)(x=x, g=gy)
        got = results[threads]
        np.testing.assert_allclose(got["y"], conv2d_same(x, f), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got["gx"], _conv_input_gradient_same(gy, f), atol=1e-4)
        np.testing.assert_allclose(got["df"], want_df, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(results[2]["df"], results[1]["df"])


# A conv whose per-image loop's chunks allocate (the patch matrix, the GEMM's packs) with tgc's
# workers' allocations failing (test_parallel_gemv_errors.SHIM_C): every run raises
# ResourceExhaustedError on the caller's thread or returns the right result, at least one raises,
# and the next run without failures is right.
CONV_CHILD = r"""
import ctypes
import numpy as np
import tgc as tf
from tgc.runtime import blas_threads
from tgc.lowering.cpu.tiered import wait_for_optimized_code

load = blas_threads.core_load()
load.free_cores = lambda: float(len(load.cpus))
shim = ctypes.CDLL(None)
rng = np.random.default_rng(0)
x = rng.standard_normal((32, 14, 14, 32)).astype(np.float32)
f = rng.standard_normal((5, 5, 32, 64)).astype(np.float32)
xp = tf.placeholder(tf.float32, [None, 14, 14, 32])
y = tf.nn.conv2d(xp, tf.constant(f), strides=[1, 1, 1, 1], padding="SAME")
sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=2))
want = sess.run(y, {xp: x})
wait_for_optimized_code()
raised, messages = 0, set()
shim.tgc_test_fail_worker_allocations(1)
for _ in range(8):
    try:
        got = sess.run(y, {xp: x})
    except tf.errors.ResourceExhaustedError as error:
        assert "OOM when allocating tensor" in str(error), str(error)
        raised += 1
        messages.add(str(error)[:300])
    else:
        np.testing.assert_array_equal(got, want)
shim.tgc_test_fail_worker_allocations(0)
failures = shim.tgc_test_failed_allocations()
np.testing.assert_array_equal(sess.run(y, {xp: x}), want)
print(f"raised {raised} failed allocations {failures}: {sorted(messages)}")
assert raised >= 1 and failures >= raised
"""


@pytest.mark.skipif(executable._fastcall is None, reason="needs the C extension (guarded calls)")
def test_a_failed_allocation_in_a_per_image_chunk_on_a_worker_raises_in_the_session(tmp_path):
    from test_parallel_gemv_errors import SHIM_C

    shim, source = tmp_path / "shim.so", tmp_path / "shim.c"
    source.write_text(SHIM_C)
    subprocess.run(
        [parallel_gemm.c_compiler(), "-shared", "-fPIC", "-O2", "-pthread", "-o", shim, source],
        check=True,
    )
    script = tmp_path / "child.py"
    script.write_text(CONV_CHILD)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, LD_PRELOAD=str(shim), TGC_GEMM="codegen", PYTHONPATH=root)
    result = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "raised" in result.stdout, result.stdout
    print(result.stdout)


# ---- the runtime's entry, called directly ----------------------------------------------------

# A loop body that counts each iteration it ran and records which thread ran its chunk.
BODY_C = r"""
#include <pthread.h>
#include <stdint.h>
#include <time.h>
typedef struct { int32_t *runs; pthread_t *by; int64_t spin_ns; } context;
void body(void *arg, int64_t begin, int64_t end) {
  context *c = arg;
  for (int64_t i = begin; i < end; ++i) {
    __atomic_add_fetch(&c->runs[i], 1, __ATOMIC_RELAXED);
    c->by[i] = pthread_self();
  }
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000000000LL + t.tv_nsec - t0.tv_nsec < c->spin_ns);
}
"""


class _Context(ctypes.Structure):
    _fields_ = [("runs", ctypes.c_void_p), ("by", ctypes.c_void_p), ("spin_ns", ctypes.c_int64)]


@pytest.fixture(scope="module")
def loop_body(tmp_path_factory):
    where = tmp_path_factory.mktemp("loop_body")
    (where / "body.c").write_text(BODY_C)
    library = where / "body.so"
    subprocess.run(
        [parallel_gemm.c_compiler(), "-shared", "-fPIC", "-O2", "-pthread", "-o", library]
        + [where / "body.c"],
        check=True,
    )
    return ctypes.CDLL(str(library))


def _parallel_for(loop_body, threads, total, work, spin_ns=0):
    """(how often each iteration ran, the threads that ran them)."""
    runtime = parallel_gemm.library()
    runtime.tgc_set_threads(threads)
    entry = runtime.tgc_parallel_for
    entry.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
    runs = np.zeros(max(total, 1), np.int32)
    by = np.zeros(max(total, 1), np.uint64)
    context = _Context(runs.ctypes.data, by.ctypes.data, spin_ns)
    body = ctypes.cast(loop_body.body, ctypes.c_void_p)
    entry(body, ctypes.byref(context), total, work)
    return runs[:total], by[:total]


@pytest.mark.parametrize("total", [0, 1, 2, 3, 5, 32, 1001])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_iteration_runs_once(loop_body, threads, total):
    old = parallel_gemm.library().tgc_set_threads(0)
    try:
        runs, _ = _parallel_for(loop_body, threads, total, parallel_gemm.SERIAL_LOOP_WORK)
    finally:
        parallel_gemm.library().tgc_set_threads(old)
    np.testing.assert_array_equal(runs, np.ones(total, np.int32))


def test_small_loops_stay_on_the_calling_thread_and_large_ones_use_a_worker(loop_body):
    old = parallel_gemm.library().tgc_set_threads(0)
    try:
        _, by = _parallel_for(loop_body, 2, 64, parallel_gemm.SERIAL_LOOP_WORK // 64 - 1)
        assert len(set(by.tolist())) == 1  # below SERIAL_LOOP_WORK in all
        used = set()
        for _ in range(20):  # chunks of 1 ms: a worker that the scheduler runs takes some
            _, by = _parallel_for(loop_body, 2, 4, parallel_gemm.SERIAL_LOOP_WORK, 1_000_000)
            used |= set(by.tolist())
            if len(used) > 1:
                break
        assert len(used) == 2
    finally:
        parallel_gemm.library().tgc_set_threads(old)


# ---- nesting: a loop body that calls the GEMM driver --------------------------------------------

NESTED_C = r"""
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define VIEW(p) double *p##alloc, double *p##align, int64_t p##off, int64_t p##rows, \
                int64_t p##cols, int64_t p##ld, int64_t p##inner
typedef void (*kernel_fn)(VIEW(a_), VIEW(b_), VIEW(c_), VIEW(ci_), bool, bool, double, double);
typedef void (*driver_fn)(kernel_fn, VIEW(a_), VIEW(b_), VIEW(c_), VIEW(ci_), bool, bool,
                          double, double, int64_t, int64_t);

typedef struct {
  driver_fn driver;
  int64_t *kernel_rows;    /* per iteration: C's rows each kernel call got, summed */
  int64_t *kernel_calls;   /* per iteration: kernel calls */
  uint64_t *body_thread;   /* per iteration: the thread that ran the body */
  uint64_t *kernel_thread; /* per iteration: the thread of its last kernel call */
  int64_t m, n, k;
} context_t;

static _Thread_local int64_t iteration; /* 0 outside a body (on a GEMM's worker) */
static context_t *current;

/* Records which rows of C it was given, on which thread (the GEMM is not computed). */
static void kernel(VIEW(a_), VIEW(b_), VIEW(c_), VIEW(ci_), bool ta, bool tb, double alpha,
                   double beta) {
  __atomic_fetch_add(&current->kernel_rows[iteration], c_rows, __ATOMIC_RELAXED);
  __atomic_fetch_add(&current->kernel_calls[iteration], 1, __ATOMIC_RELAXED);
  current->kernel_thread[iteration] = (uint64_t)pthread_self();
}

void body(void *arg, int64_t begin, int64_t end) {
  context_t *c = arg;
  static double a[1], b[1], out[1];
  current = c;
  for (int64_t i = begin; i < end; ++i) {
    iteration = i;
    c->body_thread[i] = (uint64_t)pthread_self();
    c->driver(kernel, a, a, 0, c->m, c->k, c->k, 1, b, b, 0, c->k, c->n, c->n, 1,
              out, out, 0, c->m, c->n, c->n, 1, out, out, 0, c->m, c->n, c->n, 1, false, false,
              1.0, 0.0, 8, 8);
  }
  iteration = 0; /* a GEMM chunk this thread runs later for a call outside a body counts for 0 */
}
"""


class _NestedContext(ctypes.Structure):
    _fields_ = (
        [("driver", ctypes.c_void_p)]
        + [
            (name, ctypes.c_void_p)
            for name in ("kernel_rows", "kernel_calls", "body_thread", "kernel_thread")
        ]
        + [("m", ctypes.c_int64), ("n", ctypes.c_int64), ("k", ctypes.c_int64)]
    )


@pytest.fixture(scope="module")
def nested_body(tmp_path_factory):
    where = tmp_path_factory.mktemp("nested_body")
    (where / "nested.c").write_text(NESTED_C)
    library = where / "nested.so"
    subprocess.run(
        [parallel_gemm.c_compiler(), "-shared", "-fPIC", "-O2", "-pthread", "-o", library]
        + [where / "nested.c"],
        check=True,
    )
    return ctypes.CDLL(str(library))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_gemm_called_inside_a_loop_chunk_runs_whole_on_the_chunks_thread(nested_body, threads):
    """Each iteration's GEMM (large enough that a call from outside a job would split it) reaches
    the kernel once, with all of C's rows, on the thread that runs the iteration."""
    runtime = parallel_gemm.library()
    total, m, n, k = 16, 1024, 64, 800  # m*n*k well past SERIAL_FLOPS
    assert m * n * k >= parallel_gemm.SERIAL_FLOPS
    rows, calls = np.zeros(total, np.int64), np.zeros(total, np.int64)
    body_thread, kernel_thread = np.zeros(total, np.uint64), np.zeros(total, np.uint64)
    driver = ctypes.cast(runtime.tgc_parallel_gemm_f64, ctypes.c_void_p).value
    context = _NestedContext(
        driver,
        rows.ctypes.data,
        calls.ctypes.data,
        body_thread.ctypes.data,
        kernel_thread.ctypes.data,
        m,
        n,
        k,
    )
    entry = runtime.tgc_parallel_for
    entry.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
    old = runtime.tgc_set_threads(threads)
    try:
        body = ctypes.cast(nested_body.body, ctypes.c_void_p)
        entry(body, ctypes.byref(context), total, parallel_gemm.SERIAL_LOOP_WORK)
    finally:
        runtime.tgc_set_threads(old)
    np.testing.assert_array_equal(calls, np.ones(total, np.int64))
    np.testing.assert_array_equal(rows, np.full(total, m, np.int64))
    np.testing.assert_array_equal(kernel_thread, body_thread)


def test_a_gemm_outside_a_job_still_splits(nested_body):
    """The same call made outside any job, on 2 threads: the driver splits C's rows."""
    runtime = parallel_gemm.library()
    m, n, k = 1024, 64, 800
    rows, calls = np.zeros(1, np.int64), np.zeros(1, np.int64)
    threads_seen = np.zeros(1, np.uint64)
    driver = ctypes.cast(runtime.tgc_parallel_gemm_f64, ctypes.c_void_p).value
    context = _NestedContext(
        driver,
        rows.ctypes.data,
        calls.ctypes.data,
        threads_seen.ctypes.data,
        threads_seen.ctypes.data,
        m,
        n,
        k,
    )
    old = runtime.tgc_set_threads(2)
    try:
        nested_body.body.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64]
        nested_body.body(ctypes.byref(context), 0, 1)
    finally:
        runtime.tgc_set_threads(old)
    assert rows[0] == m and calls[0] > 1
