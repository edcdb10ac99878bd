"""OpenBLAS's thread count during tgc's runs (tgc/runtime/blas_threads.py): the session option
``intra_op_parallelism_threads``, ``tgc.jit(threads=)`` and ``tgc.runtime.load(threads=)`` reach
OpenBLAS while compiled code runs, fewer threads are used while other processes keep cores busy, and
numpy's own count is back after each run.

The probe: a run whose 1024x1024 matmul calls OpenBLAS goes on in a thread (compiled code runs with
the GIL released) while this thread reads OpenBLAS's count over and over; the counts read are those
before, during and after the run. The machine's load is replaced by a fixed number of free cores, so
what is chosen does not depend on the other jobs of the machine. No timings are asserted.
"""

import os
import threading

import numpy as np
import pytest

import tgc as tf
from tgc.runtime import blas_threads
from tgc.runtime.artifact import ArtifactError

pytestmark = pytest.mark.skipif(
    blas_threads.openblas() is None, reason="numpy bundles no OpenBLAS here"
)

USER_THREADS = 3  # numpy's count as the user set it: neither tgc's default choices nor 1 or 2
N = 1024


class _FreeCores:
    def __init__(self, free):
        self.free = free

    def free_cores(self):
        return self.free


@pytest.fixture
def user_threads():
    """numpy's OpenBLAS set to USER_THREADS threads for the test, the earlier count put back."""
    blas = blas_threads.openblas()
    before = blas.get()
    blas.set(USER_THREADS)
    yield blas
    blas.set(before)


def free_cores(monkeypatch, free: float, long_run_s: float = float("inf")) -> None:
    """The machine's load replaced by ``free`` free cores; runs of ``long_run_s`` or more count
    as long (by default none: the probe's 1024 matmul may take 20 ms on a loaded machine)."""
    monkeypatch.setattr(blas_threads, "core_load", lambda: _FreeCores(free))
    monkeypatch.setattr(blas_threads, "_LONG_RUN_S", long_run_s)


def counts_during(run) -> set:
    """OpenBLAS thread counts read while ``run()`` goes on in another thread."""
    blas = blas_threads.openblas()
    seen = set()
    worker = threading.Thread(target=run)
    worker.start()
    while worker.is_alive():
        seen.add(blas.get())
    worker.join()
    return seen


def matmul_session(config=None):
    a = tf.placeholder(tf.float32, [N, N], name="a")
    product = tf.matmul(a, a)
    sess = tf.Session(config=config)
    feed = {a: np.random.default_rng(0).standard_normal((N, N)).astype(np.float32)}
    sess.run(product, feed)  # compiled before the probe

    def run():
        for _ in range(3):
            sess.run(product, feed)

    return run


# ---- the choice ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit, found, free, expected",
    [
        (0, 2, 2.0, 2),  # quiet: OpenBLAS's own count
        (0, 2, 1.0, 1),  # one of two cores busy: one thread
        (0, 2, 1.7, 1),  # a core others use a quarter or more of is not free
        (0, 2, 1.8, 2),
        (0, 2, 0.0, 1),  # at least one
        (0, 8, 4.0, 4),
        (1, 2, 2.0, 1),  # intra_op_parallelism_threads=1
        (3, 2, 8.0, 3),  # a limit above OpenBLAS's count is the limit
        (4, 2, 2.0, 2),  # never more than the free cores
    ],
)
def test_threads_for(limit, found, free, expected):
    assert blas_threads.threads_for(limit, found, free) == expected


@pytest.mark.parametrize("limit, found, expected", [(0, 2, 2), (1, 2, 1), (3, 2, 3), (0, 1, 1)])
def test_a_long_run_keeps_its_threads_on_busy_cores(limit, found, expected):
    assert blas_threads.threads_for(limit, found, 0.0, long_run=True) == expected


def test_scope_takes_all_threads_after_a_long_run(user_threads, monkeypatch):
    free_cores(monkeypatch, 1.0, long_run_s=0.02)  # one of the cores busy
    scope = blas_threads.ThreadScope(0)
    with scope:
        assert user_threads.get() == 1
    scope.recent_runs_s = (0.001, 0.5)  # one long run (a compile, say) is not enough
    with scope:
        assert user_threads.get() == 1
    scope.recent_runs_s = (0.05, 0.05)  # as if the last two runs took 50 ms each
    with scope:
        assert user_threads.get() == USER_THREADS
    assert scope.recent_runs_s[0] == 0.05 and scope.recent_runs_s[1] < 0.05  # the new run's time
    assert user_threads.get() == USER_THREADS


def _measured(monkeypatch, load, when, busy_s, own_s, waiting=0.0) -> float:
    """load.free_cores() at ``when`` after a read of /proc/stat giving ``busy_s`` busy seconds
    of the CPUs and ``own_s`` seconds of this process's CPU time in all, and ``waiting`` threads of
    other processes running or runnable."""
    sample = (when, round(busy_s * load._ticks_per_s), own_s, waiting)
    monkeypatch.setattr(load, "_sample", lambda: sample)
    monkeypatch.setattr(blas_threads.time, "monotonic", lambda: when)
    return load.free_cores()


def test_free_cores_are_the_cpus_less_what_other_processes_used(monkeypatch):
    load = blas_threads.CoreLoad()
    cpus = len(load.cpus)
    load._last, load._recent = (100.0, 0, 10.0, 0.0), []
    # Over 2 s the CPUs were busy 3 s, 1 s of it this process's: others kept one core busy.
    assert _measured(monkeypatch, load, 102.0, 3.0, 11.0) == pytest.approx(cpus - 1.0)
    # Within 0.1 s of that read: the same answer, no new read.
    monkeypatch.setattr(load, "_sample", lambda: pytest.fail("sampled again within the window"))
    monkeypatch.setattr(blas_threads.time, "monotonic", lambda: 102.05)
    assert load.free_cores() == pytest.approx(cpus - 1.0)
    # Calm windows after it: the busy one still counts until three newer ones have passed.
    assert _measured(monkeypatch, load, 102.2, 3.1, 11.1) == pytest.approx(cpus - 1.0)
    assert _measured(monkeypatch, load, 102.4, 3.2, 11.2) == pytest.approx(cpus - 1.0)
    assert _measured(monkeypatch, load, 102.6, 3.3, 11.3) == pytest.approx(cpus)
    # Busy again: counted at once. Over 0.5 s others used 0.25 core-seconds.
    assert _measured(monkeypatch, load, 103.1, 3.8, 11.55) == pytest.approx(cpus - 0.5)


def test_threads_waiting_for_a_core_count_when_busy_time_cannot_grow(monkeypatch):
    """Cores saturated: this process used all the busy time, yet other processes' threads are
    waiting to run; they count as busy cores (at most all of them)."""
    load = blas_threads.CoreLoad()
    cpus = len(load.cpus)
    load._last, load._recent = (100.0, 0, 10.0, 0.0), []
    free = _measured(monkeypatch, load, 100.2, 0.2 * cpus, 10.0 + 0.2 * cpus, waiting=1.0)
    assert free == pytest.approx(cpus - 1.0)
    load._recent = []
    free = _measured(monkeypatch, load, 100.4, 0.4 * cpus, 10.0 + 0.4 * cpus, waiting=5.0 * cpus)
    assert free == 0.0


def test_a_thread_of_this_process_that_fell_asleep_during_a_sample_is_not_anothers(monkeypatch):
    """A worker running when /proc/stat was read (3 running: the caller, the worker, another
    process's thread) and asleep when this process's threads were counted after it is still this
    process's: one waiting thread of others, not two."""
    load = blas_threads.CoreLoad()
    share = len(load.cpus) / (os.cpu_count() or len(load.cpus))
    counts = iter([2, 1])  # this process's running threads before and after the read
    monkeypatch.setattr(blas_threads, "_own_running_threads", lambda: next(counts))
    monkeypatch.setattr(load, "_proc_stat", lambda: (1234, 3))
    _, busy, _, waiting = load._sample()
    assert (busy, waiting) == (1234, pytest.approx(1.0 * share))


def test_own_running_threads_counts_this_one():
    assert blas_threads._own_running_threads() >= 1


def test_free_cores_from_this_machine_are_within_its_cpus():
    load = blas_threads.CoreLoad()
    assert 0.0 <= load.free_cores() <= len(load.cpus)


# ---- the scope around runs -----------------------------------------------------------------------


def test_scope_sets_the_count_and_puts_the_users_back(user_threads, monkeypatch):
    free_cores(monkeypatch, 8.0)
    outer, inner = blas_threads.ThreadScope(2), blas_threads.ThreadScope(1)
    with outer:
        assert user_threads.get() == 2
        with inner:  # nested: its own count, and the user's is still the one put back
            assert user_threads.get() == 1
        assert user_threads.get() == 1
    assert user_threads.get() == USER_THREADS
    with blas_threads.ThreadScope(0):
        assert user_threads.get() == USER_THREADS  # tgc decides: OpenBLAS's count, cores free
    assert user_threads.get() == USER_THREADS


def test_scope_without_openblas_changes_nothing(monkeypatch):
    """numpy without a bundled OpenBLAS and no runtime of tgc's own: tgc's matmuls do not call
    one, runs set no count."""
    monkeypatch.setattr(blas_threads, "openblas", lambda: None)
    monkeypatch.setattr(blas_threads, "_runtimes", [])
    scope = blas_threads.ThreadScope(1)
    with scope:
        pass
    assert scope.threads is None


def test_scope_without_openblas_still_sets_tgcs_runtime(monkeypatch):
    """The generated GEMM's parallel runtime gets a count where numpy bundles no OpenBLAS."""
    monkeypatch.setattr(blas_threads, "openblas", lambda: None)
    counts: list = []
    monkeypatch.setattr(blas_threads, "_runtimes", [counts.append])
    monkeypatch.setattr(blas_threads._shared, "runtime_threads", 0)
    scope = blas_threads.ThreadScope(1)
    with scope:
        pass
    assert scope.threads == 1 and counts == [1]


@pytest.mark.parametrize(
    "config, free, expected",
    [
        (None, 8.0, USER_THREADS),  # tgc decides on a quiet machine: the user's count
        (None, 1.0, 1),  # ... with one core free: one thread
        (tf.ConfigProto(intra_op_parallelism_threads=1), 8.0, 1),
        (tf.ConfigProto(intra_op_parallelism_threads=2), 8.0, 2),
        (tf.ConfigProto(intra_op_parallelism_threads=2), 1.0, 1),
    ],
)
def test_session_runs_use_the_configured_count(user_threads, monkeypatch, config, free, expected):
    free_cores(monkeypatch, free)
    run = matmul_session(config)
    seen = counts_during(run)
    assert expected in seen
    assert seen <= {expected, USER_THREADS}
    assert user_threads.get() == USER_THREADS


class _CountingScope(blas_threads.ThreadScope):
    entries = 0

    def __enter__(self):
        type(self).entries += 1
        return super().__enter__()


def _scope_entries(monkeypatch, sess, run) -> int:
    """How many times ``run()`` entered ``sess``'s ThreadScope."""
    _CountingScope.entries = 0
    monkeypatch.setattr(sess, "_blas_threads", _CountingScope(sess._blas_threads.limit))
    run()
    return _CountingScope.entries


def test_single_threaded_code_runs_without_the_scope(user_threads, monkeypatch):
    """A step whose compiled code calls neither OpenBLAS nor tgc's parallel runtime (elementwise
    work here) runs outside the ThreadScope once its plan is cached: OpenBLAS keeps the user's
    count, and the results and feed errors are the same."""
    free_cores(monkeypatch, 1.0)  # a busy machine: a scope would set one thread
    x = tf.placeholder(tf.float32, [4], name="x")
    y = x * 2.0 + 1.0
    sess = tf.Session()
    a = np.arange(4, dtype=np.float32)
    sess.run(y, {x: a})  # compiles (in the scope) and caches the plan
    values = []
    assert _scope_entries(monkeypatch, sess, lambda: values.append(sess.run(y, {x: a}))) == 0
    np.testing.assert_array_equal(values[0], a * 2.0 + 1.0)
    sets = []
    monkeypatch.setattr(user_threads, "set", sets.append)
    for _ in range(3):
        sess.run(y, {x: a})
    assert sets == [] and user_threads.get() == USER_THREADS
    with pytest.raises(ValueError, match=r"Cannot feed value of shape \(3,\) for Tensor 'x:0'"):
        sess.run(y, {x: np.ones(3, np.float32)})
    sess.close()
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session."):
        sess.run(y, {x: a})


def test_code_calling_openblas_runs_in_the_scope(user_threads, monkeypatch):
    free_cores(monkeypatch, 8.0)
    a = tf.placeholder(tf.float32, [64, 64], name="a")
    product = tf.matmul(a, a)
    sess = tf.Session()
    feed = {a: np.ones((64, 64), np.float32)}
    sess.run(product, feed)
    assert _scope_entries(monkeypatch, sess, lambda: sess.run(product, feed)) == 1


def test_calls_thread_pools_reads_the_modules_declarations():
    from mlir import ir

    from tgc.lowering.cpu.jit import calls_thread_pools

    def declaring(*names):
        context = ir.Context()
        context.allow_unregistered_dialects = True
        body = "".join(f"llvm.func @{n}(!llvm.ptr)\n" for n in names)
        return ir.Module.parse(body, context)

    assert not calls_thread_pools(declaring("malloc", "free", "expf"))
    assert calls_thread_pools(declaring("malloc", "scipy_cblas_sgemm64_"))
    assert calls_thread_pools(declaring("tgc_parallel_gemm_f32"))
    assert calls_thread_pools(declaring("tgc_parallel_for"))


def test_jit_threads_reach_openblas(user_threads, monkeypatch):
    free_cores(monkeypatch, 8.0)
    square = tf.jit(lambda a: tf.matmul(a, a), threads=2)
    a = np.ones((N, N), np.float32)
    np.testing.assert_array_equal(square(a)[:2, :2], np.full((2, 2), N, np.float32))
    seen = counts_during(lambda: [square(a) for _ in range(3)])
    assert 2 in seen and seen <= {2, USER_THREADS}
    assert user_threads.get() == USER_THREADS


def test_artifact_threads_reach_openblas(user_threads, monkeypatch, tmp_path):
    from test_aot import compile_artifact

    from tgc.runtime import load

    free_cores(monkeypatch, 8.0)
    tf.reset_default_graph()
    a = tf.placeholder(tf.float32, [N, N], name="a")
    tf.matmul(a, a, name="product")
    path = compile_artifact(["product"], None, str(tmp_path), blas=True)
    art = load(path, threads=1)
    x = np.ones((N, N), np.float32)
    np.testing.assert_array_equal(art(a=x)["product"][:2, :2], np.full((2, 2), N, np.float32))
    seen = counts_during(lambda: [art(a=x) for _ in range(3)])
    assert 1 in seen and seen <= {1, USER_THREADS}
    assert user_threads.get() == USER_THREADS


@pytest.mark.parametrize("free", [1.0, 8.0])
def test_one_thread_gives_the_numbers_of_the_default(monkeypatch, free):
    """Five SGD steps of the two-layer net with intra_op_parallelism_threads=1 and with the
    default: the same bits when the default takes one thread too (one core free); with more
    (numpy's OpenBLAS count), OpenBLAS's threaded kernels may round differently: equal to float32
    precision (measured: 5 % of w1's entries differ, by at most 4e-9)."""
    free_cores(monkeypatch, free)
    rng = np.random.default_rng(3)
    xa = rng.standard_normal((64, 1000)).astype(np.float32)
    ya = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    w1_0 = (rng.standard_normal((1000, 100)) * 0.01).astype(np.float32)
    w2_0 = (rng.standard_normal((100, 10)) * 0.01).astype(np.float32)
    results = []
    for config in (None, tf.ConfigProto(intra_op_parallelism_threads=1)):
        tf.reset_default_graph()
        x = tf.placeholder(tf.float32, [None, 1000])
        y = tf.placeholder(tf.float32, [None, 10])
        w1, w2 = tf.Variable(w1_0), tf.Variable(w2_0)
        scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
        train = tf.train.GradientDescentOptimizer(1e-3).minimize(loss)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([loss, train], {x: xa, y: ya})[0] for _ in range(5)]
            results.append((losses, *sess.run([w1, w2])))
    for default, one in zip(*results):
        if free == 1.0:
            np.testing.assert_array_equal(np.asarray(default), np.asarray(one))
        else:
            np.testing.assert_allclose(np.asarray(default), np.asarray(one), rtol=1e-5, atol=1e-7)


# ---- bad values: TensorFlow 2.21's errors (tests/oracle/thread_options.py) -----------------------


def test_negative_intra_op_threads_are_refused():
    # TensorFlow aborts the process making the session ('Check failed: num_threads >= 1').
    with pytest.raises(ValueError, match=r"intra_op_parallelism_threads must be 0 .* not -1"):
        tf.ConfigProto(intra_op_parallelism_threads=-1)
    assert tf.ConfigProto(inter_op_parallelism_threads=-1).inter_op_parallelism_threads == -1


@pytest.mark.parametrize(
    "value, error, message",
    [
        (1.5, TypeError, "'float' object cannot be interpreted as an integer"),
        ("2", TypeError, "'str' object cannot be interpreted as an integer"),
        (2**31, ValueError, "Value out of range: 2147483648"),
        (
            True,
            TypeError,
            "Field tensorflow.ConfigProto.intra_op_parallelism_threads: Expected an int, got a "
            "boolean.",
        ),
    ],
)
def test_thread_counts_of_other_types_get_tensorflows_errors(value, error, message):
    with pytest.raises(error) as info:
        tf.ConfigProto(intra_op_parallelism_threads=value)
    assert str(info.value) == message
    config = tf.ConfigProto(intra_op_parallelism_threads=np.int64(2))
    assert config.intra_op_parallelism_threads == 2


def test_negative_threads_for_jit_and_artifacts_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"tgc.jit\(threads=...\) must be 0 .* not -1"):
        tf.jit(lambda a: a, threads=-1)
    from tgc.runtime.artifact import Artifact

    with pytest.raises(ArtifactError, match="threads must be 0 .* not -2"):
        Artifact(str(tmp_path), threads=-2)
