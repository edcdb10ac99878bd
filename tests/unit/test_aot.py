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
from tgc.driver.signature import ExportError, select
from tgc.frontend.export import export_graph
from tgc.driver import aot
from tgc.runtime import checkpoint
from tgc.runtime.artifact import ArtifactError, load


def build_net():
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    y = tf.placeholder(tf.float32, [None, 3], name="y")
    w = tf.Variable(tf.random_normal((5, 3), stddev=0.5), name="w")
    b = tf.Variable(tf.zeros((3,)), name="b")
    scores = tf.add(tf.matmul(x, w), b, name="scores")
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores), name="loss"
    )
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
    return (
        rng.standard_normal((n, 5)).astype(np.float32),
        np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)],
    )


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
            np.testing.assert_allclose(
                art(xs)["scores"], expected, rtol=1e-5, atol=1e-6
            )  # positional


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
    assert [
        f for f in os.listdir(tmp_path) if f.startswith(".tmp-")
    ] == []  # no temporary left behind
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


def test_a_scalar_variable_keeps_its_shape_in_the_artifact(tmp_path):
    v = tf.Variable(np.array(0.5, np.float64), name="v")
    step = tf.assign_add(v, np.float64(1.5), name="step")
    art = load(compile_artifact([step], [], str(tmp_path)))
    assert np.asarray(art.variables["v"]).shape == ()
    assert [float(art()[step.op.name]) for _ in range(2)] == [2.0, 3.5]
    assert art.variables["v"].shape == ()


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
    code = (
        "import sys, numpy as np, tgc.runtime as r; a = r.load(sys.argv[1]); "
        "o = a(x=np.ones((2, 5), np.float32)); assert o['scores'].shape == (2, 3); "
        "assert 'mlir' not in sys.modules, sorted(m for m in sys.modules if 'mlir' in m); "
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_header_declares_typed_entry_point_and_ownership(tmp_path):
    build_net()
    path = compile_artifact(["loss", "train"], None, str(tmp_path), name="step")
    header = open(os.path.join(path, "step.h")).read()
    assert (
        "typedef struct { float *allocated; float *aligned; int64_t offset; int64_t sizes[2]; "
        "int64_t strides[2]; } tgc_memref_float32_2d;" in header
    )
    assert (
        "void _mlir_ciface_step_main(step_results *results, const tgc_memref_float32_2d *x, "
        "const tgc_memref_float32_2d *y" in header
    )
    assert "static inline void step_run(" in header
    assert "caller, who frees it with free()" in header
    assert os.path.exists(os.path.join(path, "libstep.so"))


def test_signature_errors_name_the_problem():
    x, y, w, b, scores, loss, train = build_net()
    with pytest.raises(
        ExportError, match="unknown fetch 'nope': the graph has no operation named 'nope'$"
    ):
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

    options = aot.Options(aot.Machine("aarch64-unknown-linux-gnu", "neoverse-n1"))
    with make_context(), ir.Location.unknown():
        lowered = aot.lower_module(mlir_module(str(tmp_path / "g.mlir"))(), "asm", options)
    asm = lowered.stages["asm"]
    assert "// -- Begin function model_main" in asm  # AArch64 comments start with //, x86's with #
    assert "ret" in asm and "%rsp" not in asm
    assert 'target triple = "aarch64-unknown-linux-gnu"' in lowered.stages["llvm-ir"]


def test_llvmlite_compiles_the_shipped_ir_when_asked(tmp_path):
    """A machine without the shipped library's ABI (or a cross-compiled artifact) compiles model.ll
    with llvmlite for its own CPU; the numbers are the library's."""
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


# ---- damaged artifacts: every check names the file and the field or array ------------------------


import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402

from tgc.runtime import artifact_checks  # noqa: E402


@pytest.fixture(scope="module")
def trained_artifact(tmp_path_factory):
    """An artifact of a training step (variables read and assigned, a library, LLVM IR)."""
    tf.reset_default_graph()
    build_net()
    path = compile_artifact(["loss", "train"], None, str(tmp_path_factory.mktemp("pristine")))
    tf.reset_default_graph()
    return path


@pytest.fixture
def copy(trained_artifact, tmp_path):
    target = str(tmp_path / "art")
    shutil.copytree(trained_artifact, target)
    return target


def edit_manifest(path, change, rehash=False):
    """Applies ``change`` to the manifest; ``rehash`` also recomputes its signature hash, as a
    careful hand-editor would, so that only the hash compiled into the code still disagrees."""
    name = os.path.join(path, "manifest.json")
    with open(name) as fh:
        manifest = json.load(fh)
    manifest = change(manifest)
    if rehash:
        manifest["signature"]["sha256"] = artifact_checks.signature_digest(manifest)
    with open(name, "w") as fh:
        json.dump(manifest, fh)


def replace_file(path, name, data, record=True):
    """Writes ``data`` as artifact file ``name``; ``record`` also updates its recorded checksum."""
    with open(os.path.join(path, name), "wb") as fh:
        fh.write(data)
    if record:
        edit_manifest(
            path,
            lambda m: {
                **m,
                "checksums": {
                    **m["checksums"],
                    name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
                },
            },
        )


def read(path, name):
    with open(os.path.join(path, name), "rb") as fh:
        return fh.read()


def npz(**arrays):
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_manifest_records_checksums_and_the_compiled_signature(trained_artifact):
    m = load(trained_artifact).manifest
    assert m["format_version"] == 2
    for name in ("libmodel.so", "model.ll", "model.o", "variables.npz", "model.h"):
        data = read(trained_artifact, name)
        assert m["checksums"][name] == {
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    assert m["signature"] == {
        "symbol": "model_main_tgc_signature",
        "sha256": artifact_checks.signature_digest(m),
    }
    assert (
        f'@model_main_tgc_signature = constant [65 x i8] c"{m["signature"]["sha256"]}\\00"'
        in read(trained_artifact, "model.ll").decode()
    )


def damage_case(name, damage, pattern):
    return pytest.param(damage, pattern, id=name)


def drop(key):
    return lambda m: {k: v for k, v in m.items() if k != key}


def set_field(change):
    def apply(m):
        change(m)
        return m

    return apply


def both_dtypes(m, dtype):
    m["inputs"][0]["dtype"] = dtype
    m["entry_points"][0]["arguments"][0]["dtype"] = dtype


def both_shapes(m, shape):
    m["inputs"][0]["shape"] = shape
    m["entry_points"][0]["arguments"][0]["shape"] = shape


MANIFEST_DAMAGE = [
    damage_case(
        "missing key",
        drop("inputs"),
        r"manifest\.json: field '\(the whole manifest\)': 'inputs' is a "
        r"required property",
    ),
    damage_case("list", lambda m: [m], r"manifest\.json: holds a JSON array, not an object"),
    damage_case("null", lambda m: None, r"manifest\.json: holds a JSON null, not an object"),
    damage_case(
        "unknown dtype",
        set_field(lambda m: m["inputs"][0].update(dtype="float33")),
        r"manifest\.json: field 'inputs\[0\]\.dtype': 'float33' is not one of",
    ),
    damage_case(
        "shape of the wrong type",
        set_field(lambda m: m["variables"][0].update(shape="5x3")),
        r"field 'variables\[0\]\.shape': '5x3' is not of type 'array'",
    ),
    damage_case(
        "negative dim",
        set_field(lambda m: m["inputs"][0].update(shape=[-1, 5])),
        r"field 'inputs\[0\]\.shape\[0\]': -1 is less than the minimum of 0",
    ),
    damage_case(
        "file outside the artifact",
        set_field(lambda m: m["files"].update(library="../evil.so")),
        r"field 'files\.library': '\.\./evil\.so' is not a file name inside the artifact",
    ),
    damage_case(
        "inputs disagree with the entry point",
        set_field(lambda m: m["inputs"][0].update(dtype="float64")),
        r"field 'entry_points\[0\]\.arguments\[0\]': 'x' float32\[None, 5\] does not match 'x' "
        r"float64\[None, 5\]",
    ),
    damage_case(
        "unknown variable",
        set_field(lambda m: m["variables_read"].append("nope")),
        r"field 'variables_read': 'nope' is not in 'variables'",
    ),
    damage_case(
        "dtype edited consistently",
        set_field(lambda m: both_dtypes(m, "float64")),
        r"manifest\.json: its entry point, inputs, outputs or variables were changed after compile",
    ),
    damage_case(
        "shape edited consistently",
        set_field(lambda m: both_shapes(m, [None, 50])),
        r"manifest\.json: its entry point, inputs, outputs or variables were changed after compile",
    ),
]


@pytest.mark.parametrize("damage, pattern", MANIFEST_DAMAGE)
def test_a_damaged_manifest_is_refused_naming_the_field(copy, damage, pattern):
    edit_manifest(copy, damage)
    with pytest.raises(ArtifactError, match=pattern):
        load(copy)


@pytest.mark.parametrize("prefer", ["library", "llvm-ir"])
def test_a_manifest_rehashed_after_an_edit_disagrees_with_the_compiled_code(copy, prefer):
    if prefer == "llvm-ir":
        pytest.importorskip("llvmlite")
    edit_manifest(copy, set_field(lambda m: both_dtypes(m, "float64")), rehash=True)
    with pytest.raises(
        ArtifactError, match="the compiled code was built for another signature than manifest.json"
    ):
        load(copy, prefer=prefer)


def test_variables_of_the_wrong_shape_or_dtype_are_refused(copy):
    w, b = np.zeros((3, 5), np.float32), np.zeros(3, np.float32)
    replace_file(copy, "variables.npz", npz(w=w, b=b))
    with pytest.raises(
        ArtifactError,
        match=r"variables\.npz: variable 'w' has shape \[3, 5\], the manifest says "
        r"\[5, 3\] float32",
    ):
        load(copy)
    replace_file(copy, "variables.npz", npz(w=np.zeros((5, 3)), b=b))
    with pytest.raises(ArtifactError, match=r"variable 'w' is float64, the manifest says float32"):
        load(copy)
    replace_file(
        copy, "variables.npz", npz(w=np.zeros((5, 3), bool), b=b)
    )  # a safe cast, still refused
    with pytest.raises(ArtifactError, match=r"variable 'w' is bool, the manifest says float32"):
        load(copy)
    replace_file(copy, "variables.npz", npz(w=np.zeros((5, 3), np.float32)))
    with pytest.raises(ArtifactError, match=r"variables\.npz: no value for variable 'b'"):
        load(copy)


def test_a_variables_file_zip_cannot_read_is_refused(copy):
    # Found by the fuzzer: flag bit 5 of a zip entry ("compressed patched data") makes zipfile raise
    # NotImplementedError, not BadZipFile.
    data = bytearray(read(copy, "variables.npz"))
    central = data.index(b"PK\x01\x02")  # the first central directory entry: its flags at offset 8
    data[central + 8] |= 1 << 5
    replace_file(copy, "variables.npz", bytes(data))
    with pytest.raises(
        ArtifactError, match=r"variables\.npz: cannot read the variables \(NotImplementedError"
    ):
        load(copy)


def test_a_truncated_variables_file_is_refused(copy):
    data = read(copy, "variables.npz")
    replace_file(copy, "variables.npz", data[: len(data) // 2], record=False)
    with pytest.raises(
        ArtifactError,
        match=rf"variables\.npz: {len(data) // 2} bytes, but the manifest records "
        rf"{len(data)} \(truncated or replaced\)",
    ):
        load(copy)
    replace_file(copy, "variables.npz", data[: len(data) // 2])  # and its checksum with it
    with pytest.raises(
        ArtifactError, match=r"variables\.npz: cannot read the variables \(BadZipFile"
    ):
        load(copy)


def test_a_changed_file_of_the_same_size_is_refused(copy):
    data = bytearray(read(copy, "libmodel.so"))
    data[len(data) // 2] ^= 0xFF
    replace_file(copy, "libmodel.so", bytes(data), record=False)
    with pytest.raises(
        ArtifactError, match=r"libmodel\.so: its SHA-256 differs from the one the manifest records"
    ):
        load(copy)


def test_a_truncated_or_foreign_library_is_refused_before_dlopen(copy):
    data = read(copy, "libmodel.so")
    replace_file(copy, "libmodel.so", data[: len(data) // 3])
    with pytest.raises(ArtifactError, match=r"libmodel\.so: truncated ELF file"):
        load(copy)
    replace_file(copy, "libmodel.so", b"#!/bin/sh\n" + data[10:])
    with pytest.raises(ArtifactError, match=r"libmodel\.so: not an ELF file"):
        load(copy)
    os.remove(os.path.join(copy, "libmodel.so"))
    with pytest.raises(
        ArtifactError, match=r"libmodel\.so: cannot read it \(No such file or directory\)"
    ):
        load(copy)


def test_the_pristine_artifact_still_trains(trained_artifact):
    art = load(trained_artifact)
    xs, ys = data(16)
    losses = [float(art(x=xs, y=ys)["loss"]) for _ in range(3)]
    assert losses[2] < losses[0]


def test_a_truncated_archive_is_refused(trained_artifact, tmp_path):
    import tarfile

    archive = tmp_path / "art.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(trained_artifact, arcname="artifact")
    data = archive.read_bytes()
    assert load(str(archive)).backend == "library"
    for cut, pattern in (
        (len(data) // 2, "cannot unpack the artifact archive \\(EOFError"),
        (20, "cannot read the artifact archive \\(EOFError"),
    ):
        (tmp_path / "cut.tar.gz").write_bytes(data[:cut])
        with pytest.raises(ArtifactError, match=r"cut\.tar\.gz: " + pattern):
            load(str(tmp_path / "cut.tar.gz"))
