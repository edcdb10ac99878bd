"""The CPU JIT's two tiers (tgc/lowering/cpu/tiered.py): a run signature's first calls run quick
code (LLVM -O0), its second call queues the -O3 compile on a background thread, and the optimized
code then replaces the quick code in the executable; both compute the same numbers bit for bit.

The step is the lecture's two-layer SGD step, smaller; numpy does the same step by hand as the
reference (the tolerance is float32 summation order, BLAS against numpy's own)."""

import gc
import os
import warnings

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu import tiered
from tgc.runtime import executable

N, D, H, C = 8, 20, 10, 3
RATE = 0.1


def _data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, D)).astype(np.float32)
    y = np.eye(C, dtype=np.float32)[rng.integers(0, C, N)]
    w1 = (rng.standard_normal((D, H)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((H, C)) * 0.3).astype(np.float32)
    return x, y, w1, w2


def _step_graph(w1_0, w2_0):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, D])
    y = tf.placeholder(tf.float32, [None, C])
    w1, w2 = tf.Variable(w1_0), tf.Variable(w2_0)
    scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
    train = tf.train.GradientDescentOptimizer(RATE).minimize(loss)
    return x, y, train, [w1, w2]


def _numpy_steps(x, y, w1, w2, steps):
    w1, w2 = w1.copy(), w2.copy()
    for _ in range(steps):
        a = x @ w1
        h = np.maximum(a, 0)
        s = h @ w2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        ds = e / e.sum(axis=1, keepdims=True) - y
        dh = ds @ w2.T
        dh[a <= 0] = 0
        w1 -= RATE * (x.T @ dh)
        w2 -= RATE * (h.T @ ds)
    return w1, w2


def _executable(sess) -> executable.Executable:
    (compiled,) = [c for c in sess._cache.values() if c.feeds]  # not the initializer
    (partition,) = compiled.call.partitions
    return partition.call


def _run_steps(tier_up: bool, steps: int, monkeypatch):
    """Weights after ``steps`` SGD steps, with the state and address of the step's code before and
    after; ``tier_up=False`` keeps the quick code throughout."""
    if not tier_up:
        monkeypatch.setattr(tiered, "TIER_UP_AT_CALL", 10**9)
    x, y, w1_0, w2_0 = _data()
    xp, yp, train, variables = _step_graph(w1_0, w2_0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {xp: x, yp: y})
        step = _executable(sess)
        recompile, quick_address = step._recompile, step._address
        for _ in range(steps - 1):
            sess.run(train, {xp: x, yp: y})
        tiered.wait_for_optimized_code()
        sess.run(train, {xp: x, yp: y})  # one more step: on the optimized code when tiered up
        weights = sess.run(variables)
        if tier_up:  # a plain executable again, without the override that counts calls
            assert type(step) is executable.Executable
    return weights, recompile.state, quick_address, step._address


def test_a_training_step_moves_to_optimized_code_with_the_same_numbers(monkeypatch):
    tiered_weights, state, quick_address, final_address = _run_steps(True, 3, monkeypatch)
    assert state == "optimized"
    assert final_address != quick_address
    quick_weights, quick_state, _, quick_final = _run_steps(False, 3, monkeypatch)
    assert quick_state == "quick"
    for tiered_w, quick_w in zip(tiered_weights, quick_weights):
        np.testing.assert_array_equal(tiered_w, quick_w)  # bit for bit
    x, y, w1, w2 = _data()
    for got, want in zip(tiered_weights, _numpy_steps(x, y, w1, w2, 4)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_run_called_once_is_compiled_once():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None])
    y = tf.exp(x) + 1.0
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [0.0, 1.0]}), [2.0, np.e + 1.0], rtol=1e-6)
        (compiled,) = sess._cache.values()
        (partition,) = compiled.call.partitions
        tiered.wait_for_optimized_code()
        assert partition.call._recompile.state == "quick"


def test_a_failed_optimizing_compile_keeps_the_quick_code(monkeypatch):
    def refuse(*args):
        raise RuntimeError("no optimizer today")

    monkeypatch.setattr(tiered, "_CApiEngine", refuse)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None])
    y = x * 3.0
    with tf.Session() as sess:
        sess.run(y, {x: [1.0]})
        (compiled,) = sess._cache.values()
        step = compiled.call.partitions[0].call
        recompile, quick_address = step._recompile, step._address
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sess.run(y, {x: [1.0]})
            tiered.wait_for_optimized_code()
        assert recompile.state == "failed"
        assert "no optimizer today" in str(recompile.error)
        assert any("optimizing compile of a run failed" in str(w.message) for w in caught)
        assert step._address == quick_address
        np.testing.assert_array_equal(sess.run(y, {x: [1.0, 2.0]}), [3.0, 6.0])


def test_a_fork_waits_for_the_compile_in_progress_and_the_child_starts_afresh():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None])
    y = tf.tanh(x) * 2.0
    with tf.Session() as sess:
        sess.run(y, {x: [0.5]})
        recompile = next(iter(sess._cache.values())).call.partitions[0].call._recompile
        sess.run(y, {x: [0.5]})  # queues the optimizing compile
        pid = os.fork()
        if pid == 0:  # the child: no worker thread, nothing queued
            os._exit(0 if tiered._WORKER._thread is None and not tiered._WORKER._queue else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The fork waited on the compile if it had started; none is ever left half done.
        assert recompile.state in ("queued", "optimized")
        tiered.wait_for_optimized_code()
        assert recompile.state == "optimized"
        np.testing.assert_allclose(sess.run(y, {x: [0.5]}), [2 * np.tanh(0.5)], rtol=1e-6)


@pytest.mark.parametrize("fastcall", [True, False])
def test_retarget_switches_both_call_paths(monkeypatch, fastcall):
    if fastcall and executable._fastcall is None:
        pytest.skip("tgc.runtime._fastcall was not built")
    if not fastcall:
        monkeypatch.setattr(executable, "_fastcall", None)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None])
    doubled, tripled = x * 2.0, x * 3.0
    with tf.Session() as sess:
        sess.run(doubled, {x: [1.0]})
        sess.run(tripled, {x: [1.0]})
        code = {c.fetches[0]: c.call.partitions[0].call for c in sess._cache.values()}
        double, triple = code[doubled], code[tripled]
        double.retarget(triple._address, None)  # doubled's executable now runs tripled's code
        (out,) = double(np.array([2.0], np.float32))
        np.testing.assert_array_equal(out, [6.0])


def test_quick_code_is_marked_optnone_except_what_must_be_inlined():
    from mlir import ir

    from tgc.dialect.context import make_context

    text = """
    llvm.func @declared(i64) -> i64
    llvm.func @kernel(%a: i64) -> i64 { llvm.return %a : i64 }
    llvm.func @inlined(%a: i64) -> i64 attributes {always_inline} { llvm.return %a : i64 }
    """
    with make_context():
        module = ir.Module.parse(text)
        tiered.mark_quick(module)
        marks = {
            ir.StringAttr(op.attributes["sym_name"]).value: sorted(
                name for name in ("optimize_none", "no_inline") if name in op.attributes
            )
            for op in module.body.operations
        }
    assert marks == {
        "declared": [],
        "kernel": ["no_inline", "optimize_none"],
        "inlined": [],
    }


def test_the_queued_compile_of_a_closed_session_is_dropped():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None])
    y = tf.sigmoid(x)
    tiered._WORKER._compiling.acquire()  # the worker waits before its next compile
    try:
        with tf.Session() as sess:
            sess.run(y, {x: [0.0]})
            recompile = next(iter(sess._cache.values())).call.partitions[0].call._recompile
            np.testing.assert_allclose(sess.run(y, {x: [0.0]}), [0.5])  # queues the compile
        del sess
        gc.collect()
    finally:
        tiered._WORKER._compiling.release()
    tiered.wait_for_optimized_code()
    assert recompile.state == "dropped"


def test_the_worker_goes_on_after_a_job_that_raised():
    class Broken:
        state, error = "queued", None

        def run(self):
            raise RuntimeError("broken job")

    broken = Broken()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiered._WORKER.submit(broken)
        tf.reset_default_graph()
        x = tf.placeholder(tf.float32, [None])
        y = tf.square(x)
        with tf.Session() as sess:
            sess.run(y, {x: [3.0]})
            recompile = next(iter(sess._cache.values())).call.partitions[0].call._recompile
            sess.run(y, {x: [3.0]})
            tiered.wait_for_optimized_code()
            np.testing.assert_array_equal(sess.run(y, {x: [3.0]}), [9.0])
    assert (broken.state, str(broken.error)) == ("failed", "broken job")
    assert any("broken job" in str(w.message) for w in caught)
    assert recompile.state == "optimized"
