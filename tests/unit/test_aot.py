"""AOT in-process: export_graph -> artifact -> tgc.runtime.load, against the JIT (Session.run).

Covers inference with a dynamic batch (1, 7, 64 from one artifact), a training step whose variables
live in the artifact, atomic checkpoints, random ops (the step counter), the header, and the errors.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import tgc as tf
from tgc.frontend.export import ExportError, export_graph, select
from tgc.lowering import aot
from tgc.runtime import checkpoint
from tgc.runtime.artifact import ArtifactError, load


def build_net():
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    y = tf.placeholder(tf.float32, [None, 3], name="y")
    w = tf.Variable(tf.random_normal((5, 3), stddev=0.5), name="w")
    b = tf.Variable(tf.zeros((3,)), name="b")
    scores = tf.add(tf.matmul(x, w), b, name="scores")
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores), name="loss")
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, name="train")
    return x, y, w, b, scores, loss, train


def compile_artifact(fetches, feeds, out, **kw):
    """export_graph -> .mlir text -> the same path as `tgc compile file.mlir`."""
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.tools.compile_cmd import mlir_module

    path = os.path.join(out, "graph.mlir")
    export_graph(fetches, feeds, path=path)
    options = aot.Options(**kw)
    with make_context(), ir.Location.unknown():
        lowered = aot.lower_module(mlir_module(path)(), "artifact", options)
    return aot.write_artifact(lowered, options, os.path.join(out, "art"))


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 5)).astype(np.float32),
            np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)])


def test_inference_dynamic_batch_matches_jit(tmp_path):
    x, y, w, b, scores, loss, train = build_net()
    art = load(compile_artifact(["scores"], None, str(tmp_path)))
    assert [i.name for i in art.signature.inputs] == ["x"]
    assert art.signature.inputs[0].shape == (None, 5)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for n in (1, 7, 64):
            xs, _ = data(n, n)
            expected = sess.run(scores, {x: xs})
            got = art(x=xs)["scores"]
            assert got.shape == (n, 3)
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(art(xs)["scores"], expected, rtol=1e-5, atol=1e-6)  # positional


def test_training_step_keeps_variables_and_matches_jit(tmp_path):
    x, y, w, b, scores, loss, train = build_net()
    art = load(compile_artifact(["loss", "train"], None, str(tmp_path)))
    assert sorted(v.name for v in art.signature.variables) == ["b", "w"]
    xs, ys = data(16)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(art.variables["w"], sess.run(w), rtol=0, atol=0)
        for _ in range(5):
            expected, _ = sess.run([loss, train], {x: xs, y: ys})
            got = art(x=xs, y=ys)["loss"]
            np.testing.assert_allclose(got, expected, rtol=1e-5)
        np.testing.assert_allclose(art.variables["w"], sess.run(w), rtol=1e-5, atol=1e-6)
    assert float(art(x=xs, y=ys)["loss"]) < float(got)


def test_checkpoint_save_restore_is_atomic_and_round_trips(tmp_path):
    build_net()
    art = load(compile_artifact(["loss", "train"], None, str(tmp_path)))
    xs, ys = data(8)
    art(x=xs, y=ys)
    saved = {k: v.copy() for k, v in art.variables.items()}
    path = art.save(str(tmp_path / "ckpt.npz"))
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")] == []  # no temporary left behind
    after_save = float(art(x=xs, y=ys)["loss"])
    art.restore(path)
    np.testing.assert_array_equal(art.variables["w"], saved["w"])
    assert float(art(x=xs, y=ys)["loss"]) == pytest.approx(after_save, rel=1e-6)
    art.reset()
    np.testing.assert_array_equal(art.variables["b"], np.zeros(3, np.float32))
    values, step = checkpoint.restore(path)
    assert step == 0 and set(values) == {"w", "b"}  # no random ops: the counter stays 0


def test_checkpoint_keeps_the_old_file_when_a_write_fails(tmp_path):
    path = checkpoint.save(str(tmp_path / "c.npz"), {"a": np.arange(3.0)})

    class Unsaveable:
        def __array__(self, *a, **k):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        checkpoint.save(path, {"a": Unsaveable()})
    np.testing.assert_array_equal(checkpoint.restore(path)[0]["a"], np.arange(3.0))
    assert os.listdir(tmp_path) == ["c.npz"]


def test_random_ops_draw_anew_each_call(tmp_path):
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    d = tf.add(x, tf.random_uniform((2, 4)), name="noisy")
    art = load(compile_artifact(["noisy"], None, str(tmp_path)))
    assert art.manifest["step_input"] is True
    xs = np.zeros((2, 4), np.float32)
    first, second = art(x=xs)["noisy"], art(x=xs)["noisy"]
    assert not np.array_equal(first, second)
    assert ((first >= 0) & (first < 1)).all()
    with tf.Session() as sess:  # the session's first two runs use steps 1 and 2 as well
        np.testing.assert_array_equal(sess.run(d, {x: xs}), first)
        np.testing.assert_array_equal(sess.run(d, {x: xs}), second)


def test_loading_and_running_imports_no_mlir(tmp_path):
    build_net()
    path = compile_artifact(["scores"], None, str(tmp_path))
    code = ("import sys, numpy as np, tgc.runtime as r; a = r.load(sys.argv[1]); "
            "o = a(x=np.ones((2, 5), np.float32)); assert o['scores'].shape == (2, 3); "
            "assert 'mlir' not in sys.modules, sorted(m for m in sys.modules if 'mlir' in m); print('ok')")
    result = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_header_declares_typed_entry_point_and_ownership(tmp_path):
    build_net()
    path = compile_artifact(["loss", "train"], None, str(tmp_path), name="step")
    header = open(os.path.join(path, "step.h")).read()
    assert "typedef struct { float *allocated; float *aligned; int64_t offset; int64_t sizes[2]; " \
           "int64_t strides[2]; } tgc_memref_float32_2d;" in header
    assert "void _mlir_ciface_step_main(step_results *results, const tgc_memref_float32_2d *x, " \
           "const tgc_memref_float32_2d *y" in header
    assert "static inline void step_run(" in header
    assert "caller, who frees it with free()" in header
    assert os.path.exists(os.path.join(path, "libstep.so"))


def test_signature_errors_name_the_problem():
    x, y, w, b, scores, loss, train = build_net()
    with pytest.raises(ExportError, match="unknown fetch 'nope': the graph has no operation named 'nope'$"):
        select(["nope"])
    with pytest.raises(ExportError, match="shape 4x6 does not fit feed 'x' of shape \\?x5"):
        select(["scores"], [("x", (4, 6), None)])
    with pytest.raises(ExportError, match="feed 'x' has dtype float32, not int32"):
        select(["scores"], [("x", None, "int32")])
    with pytest.raises(ExportError, match="'y' must be fed"):
        select(["loss"], [("x", None, None)])


def test_call_errors_name_the_input(tmp_path):
    build_net()
    art = load(compile_artifact(["scores"], None, str(tmp_path)))
    with pytest.raises(ArtifactError, match=r"input 'x' has shape \[\?, 5\] float32, got \[2, 4\]"):
        art(x=np.zeros((2, 4), np.float32))
    with pytest.raises(ArtifactError, match="unknown input 'z'"):
        art(z=np.zeros((2, 5), np.float32))
    with pytest.raises(ArtifactError, match="missing input"):
        art()
    with pytest.raises(ArtifactError, match="no artifact at"):
        load(str(tmp_path / "missing"))


def test_cross_target_emits_aarch64_assembly(tmp_path):
    build_net()
    export_graph(["scores"], path=str(tmp_path / "g.mlir"))
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.tools.compile_cmd import mlir_module

    options = aot.Options(aot.Target("aarch64-unknown-linux-gnu", "neoverse-n1"))
    with make_context(), ir.Location.unknown():
        lowered = aot.lower_module(mlir_module(str(tmp_path / "g.mlir"))(), "asm", options)
    asm = lowered.stages["asm"]
    assert "// -- Begin function model_main" in asm  # AArch64 comments start with //, x86's with #
    assert "ret" in asm and "%rsp" not in asm
    assert 'target triple = "aarch64-unknown-linux-gnu"' in lowered.stages["llvm-ir"]


def test_llvmlite_compiles_the_shipped_ir_when_asked(tmp_path):
    """A machine without the shipped library's ABI (or a cross-compiled artifact) compiles model.ll with
    llvmlite for its own CPU; the numbers are the library's."""
    pytest.importorskip("llvmlite")
    x, y, w, b, scores, loss, train = build_net()
    path = compile_artifact(["scores", "loss"], None, str(tmp_path))
    a, labels = data(7)
    from_library = load(path)
    from_ir = load(path, prefer="llvm-ir")
    assert from_library.backend != from_ir.backend == "llvmlite"
    got_library = from_library(x=a, y=labels)
    got_ir = from_ir(x=a, y=labels)
    assert set(got_ir) == {"scores", "loss"}
    for name in got_ir:
        np.testing.assert_allclose(got_ir[name], got_library[name], rtol=1e-6)
