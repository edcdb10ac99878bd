"""An artifact's SGD steps give a Session's numbers on 1 and on 2 threads: `tgc compile`'s default
(variables updated in place) and --variables-read-only, loaded with ``tgc.runtime.load(threads=N)``,
against ``tf.Session(config=ConfigProto(intra_op_parallelism_threads=N))``. The net's matmuls are
large enough (above parallel_gemm.SERIAL_FLOPS) that on 2 threads both split them between the
calling thread and a worker of their GEMM runtime (the artifact its own copy, the Session the
in-process one)."""

import numpy as np
import pytest
from test_aot import compile_artifact

import tgc as tf
from tgc.lowering.cpu import parallel_gemm
from tgc.runtime import blas_threads
from tgc.runtime.artifact import load

BATCH, FEATURES, HIDDEN, CLASSES = 96, 512, 128, 10
STEPS = 4


def _build():
    """The two-layer net with fixed initial weights; returns (x, y, loss, train)."""
    tf.reset_default_graph()
    rng = np.random.default_rng(21)
    x = tf.placeholder(tf.float32, [None, FEATURES], name="x")
    y = tf.placeholder(tf.float32, [None, CLASSES], name="y")
    w1 = tf.Variable((rng.standard_normal((FEATURES, HIDDEN)) * 0.05).astype(np.float32), name="w1")
    w2 = tf.Variable((rng.standard_normal((HIDDEN, CLASSES)) * 0.1).astype(np.float32), name="w2")
    h = tf.nn.relu(tf.matmul(x, w1))
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=tf.matmul(h, w2)), name="loss"
    )
    train = tf.train.GradientDescentOptimizer(0.2).minimize(loss, name="train")
    return x, y, loss, train


def _batches():
    rng = np.random.default_rng(4)
    return [
        (
            rng.standard_normal((BATCH, FEATURES)).astype(np.float32),
            np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, BATCH)],
        )
        for _ in range(STEPS)
    ]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """{"in-place": directory, "read-only": directory}: the net compiled both ways."""
    compiled = {}
    for kind, in_place in (("in-place", None), ("read-only", False)):
        _build()
        out = str(tmp_path_factory.mktemp(kind))
        compiled[kind] = compile_artifact(["loss", "train"], None, out, variables_in_place=in_place)
    return compiled


def _session_steps(threads: int):
    """(losses, final weights, the threads its runs chose) of STEPS Session runs."""
    x, y, loss, train = _build()
    config = tf.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([loss, train], {x: xs, y: ys})[0] for xs, ys in _batches()]
        weights = {v.op.name: sess.run(v) for v in tf.global_variables()}
        return losses, weights, sess._blas_threads.threads


@pytest.mark.parametrize("kind", ["in-place", "read-only"])
@pytest.mark.parametrize("threads", [1, 2])
def test_artifact_steps_give_the_sessions_numbers(artifacts, kind, threads, monkeypatch):
    # Every core counts as free, so both take the threads asked for whatever the machine's load.
    core_load = blas_threads.core_load()
    monkeypatch.setattr(core_load, "free_cores", lambda: float(len(core_load.cpus)))
    if threads > len(core_load.cpus):
        pytest.skip("needs 2 CPUs")
    assert BATCH * FEATURES * HIDDEN >= parallel_gemm.SERIAL_FLOPS  # the matmuls are threaded
    want_losses, want_weights, session_threads = _session_steps(threads)
    art = load(artifacts[kind], threads=threads)
    got_losses = [float(art(x=xs, y=ys)["loss"]) for xs, ys in _batches()]
    assert session_threads == art._blas_threads.threads == threads
    assert art.manifest["variables_in_place"] is (kind == "in-place")
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    assert got_losses[-1] < got_losses[0]
    for name, value in want_weights.items():
        np.testing.assert_allclose(art.variables[name], value, rtol=1e-5, atol=1e-6)
