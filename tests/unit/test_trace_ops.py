"""The pieces of a traced run's per-op times (tgc/lowering/trace_ops.py): op names from locations,
the slot table and its records; and that only a traced compile's code reads the clock."""

import threading

import numpy as np
from mlir import ir

import tgc as tf
from tgc.dialect.context import make_context
from tgc.lowering import trace_ops

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


def test_the_op_name_is_the_name_of_a_name_location_or_the_first_of_a_fused_one():
    with make_context():
        file = ir.Location.file("model.py", 12, 0)
        named = ir.Location.name("scores/MatMul", childLoc=file)
        assert trace_ops.op_name(named) == "scores/MatMul"
        assert trace_ops.op_name(ir.Location.name("Relu")) == "Relu"
        fused = ir.Location.fused([file, named, ir.Location.name("other")])
        assert trace_ops.op_name(fused) == "scores/MatMul"
        assert trace_ops.op_name(file) is None
        assert trace_ops.op_name(ir.Location.unknown()) is None


def test_records_merge_an_unplaced_op_into_the_same_op_on_the_default_device():
    table = trace_ops.TraceTable(4)
    placed = table.slot("loop/body/add", "add", CPU0)
    unplaced = table.slot("loop/body/add", "add", "")  # a gradient loop's rerun of the body
    other = table.slot("b", "exp", CPU0)
    assert len({placed, unplaced, other}) == 3 and table.slot("b", "exp", CPU0) == other
    table.counters[placed] = [100, 10, 2, 130]
    table.counters[unplaced] = [50, 5, 3, 200]
    table.counters[other] = [0, 0, 0, 0]  # did not run: no record
    assert table.records(CPU0) == [("loop/body/add", CPU0, 50, 15, 5, 200)]
    table.reset()
    assert not table.counters.any() and table.records(CPU0) == []


def test_the_table_is_active_only_within_tracing():
    table = trace_ops.TraceTable(1)
    assert trace_ops.active_table() is None
    with trace_ops.tracing(table):
        assert trace_ops.active_table() is table
        seen = []
        worker = threading.Thread(target=lambda: seen.append(trace_ops.active_table()))
        worker.start()
        worker.join()
        assert seen == [None]  # another thread's compile is an ordinary one
    assert trace_ops.active_table() is None


def _lowered_text(monkeypatch, trace: bool) -> str:
    """The LLVM-dialect text of y = relu(x) compiled as a session would, traced or not."""
    from tgc.driver import jit

    texts = []
    real = jit._load

    def keep(modules, *rest):
        texts.extend(str(module) for _, module in modules)
        return real(modules, *rest)

    monkeypatch.setattr(jit, "_load", keep)
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.nn.relu(x, name="y")
    compiled = jit.compile_run([y.op], [(x, x.spec)], [y], trace=trace)
    assert (compiled.trace is not None) == trace
    return texts[-1]


def test_only_the_traced_variant_reads_the_clock(monkeypatch):
    assert trace_ops.RECORD_FUNCTION not in _lowered_text(monkeypatch, trace=False)
    traced = _lowered_text(monkeypatch, trace=True)
    assert "llvm.call @clock_gettime" in traced
    assert traced.count(f"llvm.call @{trace_ops.RECORD_FUNCTION}") == 1  # y's one op


def test_a_traced_variant_serves_runs_from_several_threads_one_at_a_time():
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.exp(tf.square(x, name="sq"), name="y")
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    results, errors = [], []
    with tf.Session() as sess:

        def work():
            try:
                for _ in range(5):
                    metadata = tf.RunMetadata()
                    value = sess.run(y, {x: [0.0, 1.0, 2.0]}, options, metadata)
                    (device,) = metadata.step_stats.dev_stats
                    results.append(
                        (value, [(n.node_name, n.executions) for n in device.node_stats])
                    )
            except Exception as exc:  # reported below, with the test's assertion
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [] and len(results) == 15
    for value, nodes in results:
        np.testing.assert_allclose(value, np.exp(np.square([0.0, 1.0, 2.0])), rtol=1e-6)
        assert nodes == [("sq", 1), ("y", 1)]
