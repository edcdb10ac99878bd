"""tgc's generated GEMM on several threads (tgc/lowering/cpu/parallel_gemm.py): the C driver called
directly against numpy (odd sizes, transposes, alpha and beta, views with offsets, both split
directions, more threads than cores), Sessions and artifacts without BLAS running threaded, the
session's thread count reaching the runtime, and the fallbacks (no runtime: one thread). No timings:
see benchmarks/gemm_codegen.py."""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
import time

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu import gemm_kernel, gemm_library, jit, parallel_gemm
from tgc.lowering.cpu.target import GEMM_ENVIRONMENT
from tgc.runtime import blas_threads

RNG = np.random.default_rng(2026)
NP = {"f32": np.float32, "f64": np.float64}
SCALAR = {"f32": ctypes.c_float, "f64": ctypes.c_double}

pytestmark = pytest.mark.skipif(
    parallel_gemm.library() is None, reason=f"no parallel runtime: {parallel_gemm.last_error}"
)


def _view_words(array: np.ndarray, base: np.ndarray) -> list:
    """The kernel's memref arguments of ``array``, a 2-d unit-stride view into ``base``."""
    item = array.itemsize
    offset = (array.ctypes.data - base.ctypes.data) // item
    return [
        base.ctypes.data,
        base.ctypes.data,
        offset,
        array.shape[0],
        array.shape[1],
        array.strides[0] // item,
        1,
    ]


class Driver:
    """``tgc_parallel_gemm_<elem>`` of the in-process runtime, called with the kernel compiled
    once per process (gemm_library.py)."""

    def __init__(self, elem: str):
        self.shape = gemm_kernel.shape_for(elem)
        self.kernel = gemm_library.kernel_address(self.shape.symbol, jit.connect_handlers)
        view = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * 5
        scalar = SCALAR[elem]
        self.call = ctypes.CFUNCTYPE(
            None,
            ctypes.c_void_p,
            *(view * 4),
            ctypes.c_bool,
            ctypes.c_bool,
            scalar,
            scalar,
            ctypes.c_int64,
            ctypes.c_int64,
        )(parallel_gemm.runtime_address(parallel_gemm.driver_symbol(elem)).value)

    def __call__(self, a, b, c, bases, ta, tb, alpha, beta, c_in=None):
        """C = alpha op(A) op(B) + beta C_in (C_in: C itself when None; then a (view, base))."""
        c_in = (c, bases[2]) if c_in is None else c_in
        views = zip((a, b, c, c_in[0]), (*bases, c_in[1]))
        words = [_view_words(x, base) for x, base in views]
        flat = [w for view in words for w in view]
        self.call(self.kernel, *flat, ta, tb, alpha, beta, self.shape.mr, self.shape.nr)


@pytest.fixture
def threads():
    """The in-process runtime's thread count, put back after the test."""
    library = parallel_gemm.library()
    old = library.tgc_set_threads(0)
    yield library.tgc_set_threads
    library.tgc_set_threads(old)


def _operands(elem, m, n, k, ta, tb, pad=3):
    """op(A) m x k, op(B) k x n and C m x n, each a view at an offset inside a wider array."""
    dtype = NP[elem]

    def padded(rows, cols):
        base = RNG.standard_normal((rows + pad, cols + 2 * pad)).astype(dtype)
        return base[pad : pad + rows, pad : pad + cols], base

    a, a_base = padded(*((k, m) if ta else (m, k)))
    b, b_base = padded(*((n, k) if tb else (k, n)))
    c, c_base = padded(m, n)
    return (a, b, c), (a_base, b_base, c_base)


# Tall (split by rows), wide (split by columns), odd sizes that leave partial tiles and a short
# last chunk, a reduction past one KC block, more chunks than threads by rows (3 of at least
# MIN_CHUNK) and by columns (4), and one below the serial threshold.
SHAPES = [
    (301, 257, 129),
    (67, 1001, 83),
    (515, 33, 700),
    (97, 131, 1100),
    (1100, 45, 60),
    (40, 2100, 30),
    (20, 30, 10),
]


@pytest.mark.parametrize("elem", ["f32", "f64"])
@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_two_threads_match_numpy(threads, elem, m, n, k, ta, tb):
    threads(2)
    driver = Driver(elem)
    (a, b, c), bases = _operands(elem, m, n, k, ta, tb)
    alpha, beta = 0.5, -2.0
    want = alpha * (a.T if ta else a).astype(np.float64) @ (b.T if tb else b) + beta * c
    untouched = bases[2].copy()
    driver(a, b, c, bases, ta, tb, alpha, beta)
    tolerance = 1e-4 if elem == "f32" else 1e-10
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance * np.sqrt(k))
    # Only C's view was written: the padding around it is as it was.
    c_mask = np.zeros(bases[2].shape, bool)
    c_mask[3 : 3 + m, 3 : 3 + n] = True
    np.testing.assert_array_equal(bases[2][~c_mask], untouched[~c_mask])


# The split (tgc_gemm_split): the caller's chunk 0 of a thread's share, the rest in chunks over the
# other threads. Shapes whose rest is one short chunk, several chunks by rows (2061 rows on 3
# threads: 688 + 512 + 512 + 349) or by columns (2207 on 2: 1104 + 576 + 527), and shares that are
# no whole number of tiles (1037 rows, 8-row tiles). A taller than wide C whose columns are split
# where A is not transposed and each of 2 threads gets MIN_CHUNK columns (its rows otherwise: A
# transposed, or 3 threads).
SPLIT_SHAPES = [
    (1037, 61, 140),
    (1033, 41, 200),
    (2061, 40, 110),
    (45, 1553, 130),
    (37, 2207, 110),
    (1100, 1030, 20),
]


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("elem", ["f32", "f64"])
@pytest.mark.parametrize("m, n, k", SPLIT_SHAPES)
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 1)])
def test_split_with_callers_chunk_matches_numpy(threads, count, elem, m, n, k, ta, tb):
    assert m * n * k >= parallel_gemm.SERIAL_FLOPS  # threaded on 2 and 3 threads
    threads(count)
    driver = Driver(elem)
    (a, b, c), bases = _operands(elem, m, n, k, ta, tb)
    want = 1.5 * (a.T if ta else a).astype(np.float64) @ (b.T if tb else b) + 0.25 * c
    untouched = bases[2].copy()
    driver(a, b, c, bases, ta, tb, 1.5, 0.25)
    tolerance = 1e-4 if elem == "f32" else 1e-10
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance * np.sqrt(k))
    c_mask = np.zeros(bases[2].shape, bool)
    c_mask[3 : 3 + m, 3 : 3 + n] = True
    np.testing.assert_array_equal(bases[2][~c_mask], untouched[~c_mask])


@pytest.mark.parametrize("elem", ["f32", "f64"])
@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 1)])
def test_two_threads_read_beta_term_from_c_in(threads, elem, m, n, k, ta, tb):
    """Each chunk reads its part of a separate C_in (at C_in's own offset and row stride), never
    C's old values (NaN), and leaves C_in as it was."""
    threads(2)
    driver = Driver(elem)
    (a, b, c), bases = _operands(elem, m, n, k, ta, tb)
    c_in_base = RNG.standard_normal((m + 5, n + 9)).astype(NP[elem])
    c_in = c_in_base[2 : 2 + m, 4 : 4 + n]
    kept = c_in_base.copy()
    c[:] = np.nan
    want = 0.5 * (a.T if ta else a).astype(np.float64) @ (b.T if tb else b) + 1.0 * c_in
    driver(a, b, c, bases, ta, tb, 0.5, 1.0, (c_in, c_in_base))
    tolerance = 1e-4 if elem == "f32" else 1e-10
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance * np.sqrt(k))
    np.testing.assert_array_equal(c_in_base, kept)


def test_beta_zero_ignores_what_c_held(threads):
    threads(2)
    driver = Driver("f32")
    (a, b, c), bases = _operands("f32", 400, 300, 200, False, False)
    c[:] = np.nan  # beta = 0 never reads C, as BLAS
    driver(a, b, c, bases, False, False, 1.0, 0.0)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_more_threads_than_cores_complete(threads):
    threads(4 * (os.cpu_count() or 1) + 3)
    driver = Driver("f32")
    for m, n, k in [(700, 500, 300), (64, 2000, 256)]:
        (a, b, c), bases = _operands("f32", m, n, k, False, False)
        driver(a, b, c, bases, False, False, 1.0, 0.0)
        np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def _task_count() -> int:
    return len(os.listdir("/proc/self/task"))


def test_one_thread_starts_no_worker_and_two_start_one_that_stays(threads):
    driver = Driver("f32")
    (a, b, c), bases = _operands("f32", 600, 600, 600, False, False)
    threads(1)
    before = _task_count()
    driver(a, b, c, bases, False, False, 1.0, 0.0)
    assert _task_count() == before or before > 1  # workers of an earlier test may exist already
    threads(2)
    driver(a, b, c, bases, False, False, 1.0, 0.0)
    started = _task_count()
    driver(a, b, c, bases, False, False, 1.0, 0.0)
    assert _task_count() == started  # persistent workers: none started per call


def _session_matmul(a, b, ta, tb, config=None):
    tf.reset_default_graph()
    x = tf.placeholder(a.dtype, [None, None])
    y = tf.placeholder(b.dtype, [None, None])
    z = tf.matmul(x, y, transpose_a=ta, transpose_b=tb)
    with tf.Session(config=config) as sess:
        return sess.run(z, {x: a, y: b})


@pytest.mark.parametrize("ta, tb", [(False, False), (True, True)])
def test_session_on_two_threads_matches_numpy(monkeypatch, ta, tb):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    _quiet_machine(monkeypatch)
    a = RNG.standard_normal((333, 517) if ta else (517, 333)).astype(np.float32)
    b = RNG.standard_normal((211, 333) if tb else (333, 211)).astype(np.float32)
    config = tf.ConfigProto(intra_op_parallelism_threads=2)
    counts: list = []
    blas_threads.register_runtime(counts.append)  # what the runs gave the in-process runtime
    try:
        got = _session_matmul(a, b, ta, tb, config)
    finally:
        blas_threads._runtimes.remove(counts.append)
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    assert counts[-1] == 2


def test_jit_threads_reach_the_runtime(monkeypatch):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    _quiet_machine(monkeypatch)
    a = RNG.standard_normal((300, 400)).astype(np.float32)
    b = RNG.standard_normal((400, 500)).astype(np.float32)
    counts: list = []
    blas_threads.register_runtime(counts.append)
    try:
        got = tf.jit(lambda x, y: tf.matmul(x, y), threads=2)(a, b)
    finally:
        blas_threads._runtimes.remove(counts.append)
    np.testing.assert_allclose(np.asarray(got), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    assert counts[-1] == 2


def test_session_thread_count_reaches_the_runtime(monkeypatch):
    """A run's ThreadScope gives every registered runtime the run's count."""
    counts: list = []
    blas_threads.register_runtime(counts.append)
    try:
        with blas_threads.ThreadScope(1):
            pass
        assert counts and counts[-1] == 1
        with blas_threads.ThreadScope(1):
            pass
        assert len(counts) == 1  # unchanged counts are not set again
    finally:
        blas_threads._runtimes.remove(counts.append)


class _FreeCores:
    """The machine's load as the scope reads it: ``free`` of the two cores not used by others."""

    cpus = [0, 1]

    def __init__(self, free: float):
        self.free = free

    def free_cores(self) -> float:
        return self.free


@pytest.mark.parametrize(
    "free, openblas_count, runtime_count",
    [
        (2.0, 2, 2),  # a quiet machine
        (1.5, 1, 2),  # others use half a core: too busy for OpenBLAS's second thread
        (1.3, 1, 2),
        (1.2, 1, 1),  # others use 0.8 of a core: too busy for the runtime's too
        (1.0, 1, 1),  # one core busy
    ],
)
def test_the_runtime_needs_less_of_a_core_free_than_openblas(
    monkeypatch, free, openblas_count, runtime_count
):
    """OpenBLAS waits for its slowest thread, so a core others use a quarter of is busy for it;
    tgc's runtime hands chunks to whichever thread asks (a worker not yet run takes none), so its
    bar is three quarters (tgc/runtime/blas_threads.py)."""
    monkeypatch.setattr(blas_threads, "core_load", lambda: _FreeCores(free))
    monkeypatch.setattr(blas_threads, "_LONG_RUN_S", float("inf"))  # no run counts as long
    counts, own = [], []
    blas_threads.register_runtime(counts.append)
    try:
        scope = blas_threads.ThreadScope(2, runtime=own.append)
        with scope:
            if blas_threads.openblas() is not None:
                assert blas_threads.openblas().get() == openblas_count
        assert (scope.threads, scope.runtime_threads) == (openblas_count, runtime_count)
        assert counts == [runtime_count] and own == [runtime_count]
    finally:
        blas_threads._runtimes.remove(counts.append)
    runtime_rule = blas_threads._RUNTIME_FREE_FROM
    assert blas_threads.threads_for(2, 2, free) == openblas_count
    assert blas_threads.threads_for(2, 2, free, free_from=runtime_rule) == runtime_count


def test_a_scope_sets_its_own_runtime():
    counts: list = []
    scope = blas_threads.ThreadScope(1, runtime=counts.append)
    with scope:
        pass
    assert counts == [1] and scope.threads == 1


def test_without_the_runtime_sessions_call_the_kernel_on_one_thread(monkeypatch):
    monkeypatch.setattr(parallel_gemm, "_LIBRARY", [None])
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    from tgc.lowering.cpu.target import CPU

    passes = CPU.pipeline_elements(for_session=True)
    (blas,) = [p for p in passes if getattr(p, "name", "") == "tgc-blas-matmul"]
    assert not blas.parallel
    a = RNG.standard_normal((300, 200)).astype(np.float32)
    b = RNG.standard_normal((200, 100)).astype(np.float32)
    got = _session_matmul(a, b, False, False)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_a_runtime_that_cannot_be_built_is_no_error(monkeypatch, tmp_path):
    def no_compiler(path):
        raise OSError("no C compiler here")

    monkeypatch.setattr(parallel_gemm, "_LIBRARY", [])
    monkeypatch.setattr(parallel_gemm, "_library_path", lambda: str(tmp_path / "missing.so"))
    monkeypatch.setattr(parallel_gemm, "_build", no_compiler)
    assert parallel_gemm.library() is None
    assert "no C compiler" in str(parallel_gemm.last_error)
    assert parallel_gemm.runtime_address("tgc_parallel_gemm_f32") is None


# ---- artifacts ---------------------------------------------------------------------------------


def _matmul_artifact(tmp_path):
    from test_aot import compile_artifact

    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 300], name="x")
    w = tf.constant(RNG.standard_normal((300, 250)).astype(np.float32), name="w")
    tf.identity(tf.matmul(x, w), name="y")
    return compile_artifact(["y"], ["x"], str(tmp_path)), w


def _quiet_machine(monkeypatch):
    """Every core counts as free: a run's ThreadScope takes the threads it may (the load of the
    machine the tests run on must not decide what they check)."""
    load = blas_threads.core_load()
    monkeypatch.setattr(load, "free_cores", lambda: float(len(load.cpus)))


def test_artifact_without_blas_runs_threaded(tmp_path, monkeypatch):
    from tgc.runtime.artifact import load

    _quiet_machine(monkeypatch)

    directory, w = _matmul_artifact(tmp_path)
    (library,) = [f for f in os.listdir(directory) if f.endswith(".so")]
    path = os.path.join(directory, library)
    symbols = subprocess.run(["nm", "-D", path], capture_output=True, text=True).stdout
    assert " T tgc_set_threads" in symbols
    # The driver is the library's own (hidden): another tgc library's cannot replace it.
    assert "tgc_parallel_gemm_f32" not in symbols
    (header,) = [f for f in os.listdir(directory) if f.endswith(".h")]
    with open(os.path.join(directory, header)) as fh:
        assert "int tgc_set_threads(int threads);" in fh.read()
    # It needs libc, libm and pthread only (pthread is in libc on current glibc).
    needed = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    libraries = [
        line.split("[")[1].split("]")[0] for line in needed.splitlines() if "NEEDED" in line
    ]
    assert all(name.startswith(("libc.", "libm.", "libpthread.")) for name in libraries), libraries
    art = load(directory, threads=2)
    xs = RNG.standard_normal((401, 300)).astype(np.float32)
    weights = tf.Session().run(w)
    before = _task_count()
    for _ in range(3):
        got = art(x=xs)["y"]
        np.testing.assert_allclose(got, xs.astype(np.float64) @ weights, rtol=1e-4, atol=1e-3)
    assert art._blas_threads.threads == 2 and art._blas_threads.runtime is not None
    assert _task_count() == before + 1  # the library's own worker: the caller is the other thread


def test_artifact_llvm_ir_runs_the_weak_serial_driver(tmp_path):
    pytest.importorskip("llvmlite")
    from tgc.runtime.artifact import load

    directory, w = _matmul_artifact(tmp_path)
    art = load(directory, prefer="llvm-ir")
    assert art.backend == "llvmlite" and art._blas_threads.runtime is None
    xs = RNG.standard_normal((64, 300)).astype(np.float32)
    weights = tf.Session().run(w)
    np.testing.assert_allclose(
        art(x=xs)["y"], xs.astype(np.float64) @ weights, rtol=1e-4, atol=1e-3
    )


def test_calls_from_two_threads_at_once_are_both_right(threads):
    """One call holds the workers, one made meanwhile runs alone: both results are right."""
    threads(2)
    driver = Driver("f32")
    problems = [_operands("f32", 300 + 7 * i, 260, 240, False, bool(i % 2)) for i in range(2)]
    errors: list = []

    def run(operands):
        (a, b, c), bases = operands
        for _ in range(20):
            driver(a, b, c, bases, False, b.shape[0] != 240, 1.0, 0.0)
            want = a.astype(np.float64) @ (b.T if b.shape[0] != 240 else b)
            if not np.allclose(c, want, rtol=1e-4, atol=1e-3):
                errors.append(np.abs(c - want).max())

    workers = [threading.Thread(target=run, args=(p,)) for p in problems]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors and not any(w.is_alive() for w in workers)


def test_a_forked_child_starts_its_own_workers(threads):
    """The parent's workers do not exist in a child: its threaded calls start new ones, not wait
    for the parent's (a lost wake-up would hang the child)."""
    threads(2)
    driver = Driver("f32")
    (a, b, c), bases = _operands("f32", 500, 400, 300, False, False)
    driver(a, b, c, bases, False, False, 1.0, 0.0)  # the parent's workers exist now
    want = a.astype(np.float64) @ b
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 when its threaded call is right
        status = 1
        try:
            c[:] = 0
            driver(a, b, c, bases, False, False, 1.0, 0.0)
            status = 0 if np.allclose(c, want, rtol=1e-4, atol=1e-3) else 2
        finally:
            os._exit(status)
    for _ in range(600):  # at most 60 s
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's threaded GEMM did not finish")
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to move between")
def test_a_worker_on_its_callers_cpu_moves_off_it_and_keeps_every_cpu_allowed():
    move_off = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_int)(
        ctypes.cast(parallel_gemm.library().tgc_move_off_cpu, ctypes.c_void_p).value
    )
    sched_getcpu = ctypes.CDLL(None).sched_getcpu
    first, second = sorted(os.sched_getaffinity(0))[:2]
    seen = {}

    def on_a_thread_of_its_own():  # affinity calls with pid 0 change this thread only
        os.sched_setaffinity(0, {first})
        seen["only_cpu"] = move_off(first)  # nowhere else to go
        os.sched_setaffinity(0, {first, second})
        seen["other_cpu"] = move_off(second)  # not on it: stays
        for _ in range(5):  # the scheduler may move a thread on its own between two calls
            os.sched_setaffinity(0, {first})
            os.sched_setaffinity(0, {first, second})
            seen["moved"] = move_off(first)
            if seen["moved"]:
                break
        seen["cpu_after"] = sched_getcpu()
        seen["allowed_after"] = os.sched_getaffinity(0)

    thread = threading.Thread(target=on_a_thread_of_its_own)
    thread.start()
    thread.join()
    assert seen == {
        "only_cpu": False,
        "other_cpu": False,
        "moved": True,
        "cpu_after": second,
        "allowed_after": {first, second},
    }
