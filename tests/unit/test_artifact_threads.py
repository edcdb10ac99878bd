"""An artifact's SGD steps give a Session's numbers on 1 and on 2 threads: `tgc compile`'s default
(variables updated in place) and --variables-read-only, loaded with ``tgc.runtime.load(threads=N)``,
against ``tf.Session(config=ConfigProto(intra_op_parallelism_threads=N))``. The dense net's matmuls
are large enough (above parallel_gemm.SERIAL_FLOPS) that on 2 threads both split them between the
calling thread and a worker of their runtime (the artifact its own copy, the Session the in-process
one); the small convnet's convolution and pooling loops run there too (tgc-parallel-loops)."""

import numpy as np
import pytest
from test_aot import compile_artifact

import tgc as tf
from tgc.lowering.cpu import parallel_gemm
from tgc.runtime import blas_threads
from tgc.runtime.artifact import load

BATCH, FEATURES, HIDDEN, CLASSES = 96, 784, 128, 10
STEPS = 4
IMAGE, CONV_BATCH = (28, 28, 1), 16


def _build(net: str = "dense"):
    """The two-layer net (or the small convnet) with fixed initial weights; returns (x, y, loss,
    train)."""
    if net == "conv":
        return _build_convnet()
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


def _build_convnet():
    """conv 5x5x1x8 + bias, relu, 2x2 max-pool, dense to CLASSES."""
    tf.reset_default_graph()
    rng = np.random.default_rng(22)
    x = tf.placeholder(tf.float32, [None, *IMAGE], name="x")
    y = tf.placeholder(tf.float32, [None, CLASSES], name="y")
    kernel = tf.Variable((rng.standard_normal((5, 5, 1, 8)) * 0.2).astype(np.float32), name="k")
    bias = tf.Variable(np.zeros(8, np.float32), name="kb")
    w = tf.Variable(
        (rng.standard_normal((14 * 14 * 8, CLASSES)) * 0.02).astype(np.float32), name="w"
    )
    h = tf.nn.relu(tf.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME") + bias)
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    logits = tf.matmul(tf.reshape(h, [-1, 14 * 14 * 8]), w)
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss"
    )
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    return x, y, loss, train


def _batches(net: str = "dense"):
    rng = np.random.default_rng(4)
    shape = (BATCH, FEATURES) if net == "dense" else (CONV_BATCH, *IMAGE)
    return [
        (
            rng.standard_normal(shape).astype(np.float32),
            np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, shape[0])],
        )
        for _ in range(STEPS)
    ]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """{(net, kind): directory}: the dense net compiled in place (the default) and read-only, the
    convnet with default options."""
    compiled = {}
    for net, kind, in_place in (
        ("dense", "in-place", None),
        ("dense", "read-only", False),
        ("conv", "in-place", None),
    ):
        _build(net)
        out = str(tmp_path_factory.mktemp(f"{net}-{kind}"))
        compiled[net, kind] = compile_artifact(
            ["loss", "train"], None, out, variables_in_place=in_place
        )
    return compiled


def _session_steps(net: str, threads: int):
    """(losses, final weights, the threads its runs chose) of STEPS Session runs."""
    x, y, loss, train = _build(net)
    config = tf.ConfigProto(intra_op_parallelism_threads=threads)
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([loss, train], {x: xs, y: ys})[0] for xs, ys in _batches(net)]
        weights = {v.op.name: sess.run(v) for v in tf.global_variables()}
        return losses, weights, sess._blas_threads.threads


@pytest.mark.parametrize(
    "net, kind", [("dense", "in-place"), ("dense", "read-only"), ("conv", "in-place")]
)
@pytest.mark.parametrize("threads", [1, 2])
def test_artifact_steps_give_the_sessions_numbers(artifacts, net, kind, threads, monkeypatch):
    # Every core counts as free, so both take the threads asked for whatever the machine's load.
    core_load = blas_threads.core_load()
    monkeypatch.setattr(core_load, "free_cores", lambda: float(len(core_load.cpus)))
    if threads > len(core_load.cpus):
        pytest.skip("needs 2 CPUs")
    assert BATCH * FEATURES * HIDDEN >= parallel_gemm.SERIAL_FLOPS  # the matmuls are threaded
    want_losses, want_weights, session_threads = _session_steps(net, threads)
    art = load(artifacts[net, kind], threads=threads)
    got_losses = [float(art(x=xs, y=ys)["loss"]) for xs, ys in _batches(net)]
    assert session_threads == art._blas_threads.threads == threads
    assert art.manifest["variables_in_place"] is (kind == "in-place")
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    for name, initial in art._initial.items():  # the steps trained: every variable moved
        assert not np.array_equal(art.variables[name], initial), name
    for name, value in want_weights.items():
        np.testing.assert_allclose(art.variables[name], value, rtol=1e-5, atol=1e-6)
