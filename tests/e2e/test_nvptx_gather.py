"""tf.gather on the GPU: the nvptx target runs it, with TensorFlow's CPU index check.

An index outside [0, rows) fails the run on the CPU by calling the host from compiled code, which a
kernel cannot do. On the GPU the check's kernel writes a record to a small device buffer (a failed
flag, the first bad index's position and value, the row count, the indices' shape); the launch plan
has a "check" step that copies it to the host and raises the CPU's InvalidArgumentError when the
flag is set (tgc/lowering/runtime_errors.py device_check). The gather itself clamps bad indices,
so its kernel never reads out of bounds. Without a GPU the same kernels and launch plan run on the
host (nvptx-emulated); ptxas checks the PTX."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

import tgc as tf
from tgc.dialect import targets
from tgc.tools.cli import main

PTXAS = shutil.which("ptxas")
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")
GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
ONE_GPU = dict(device_count={"GPU": 1})  # no soft placement: the gather must run on the GPU

PARAMS = np.arange(10, dtype=np.float32).reshape(5, 2)

GATHER_PROGRAM = """
import tgc as tf
params = tf.placeholder(tf.float32, [5, 2], name="params")
ids = tf.placeholder(tf.int32, [2, 2], name="ids")
rows = tf.gather(params, ids, name="rows")
y = tf.reduce_sum(rows, axis=1, name="y")
"""


def _run_gather(ids_value, config=None, on_gpu=True):
    """(value or error, placement) of tf.gather(PARAMS, ids) run under ``config``."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        params = tf.placeholder(tf.float32, [5, 2])
        ids = tf.placeholder(tf.int32, [2, 2])
        with tf.device("/gpu:0" if on_gpu else None):
            rows = tf.gather(params, ids, name="rows")
        config = tf.ConfigProto(**config) if config else None
        with tf.Session(config=config) as sess:
            try:
                value = sess.run(rows, {params: PARAMS, ids: ids_value})
            except tf.errors.InvalidArgumentError as exc:
                value = exc
            placed = {n: d for r in sess._cache.values() for n, _, d in r.placement or ()}
    return value, placed


def test_gather_runs_on_the_gpu_with_numpys_values():
    ids = np.array([[4, 0], [2, 2]], np.int32)
    value, placed = _run_gather(ids, ONE_GPU)
    assert placed["rows"] == GPU0
    np.testing.assert_array_equal(value, PARAMS[ids])


@pytest.mark.parametrize("bad", [[[0, 1], [4, -1]], [[5, 1], [9, 0]], [[0, 7], [1, 2]]])
def test_an_index_out_of_range_on_the_gpu_raises_the_cpus_error(bad):
    ids = np.array(bad, np.int32)
    on_cpu, _ = _run_gather(ids, on_gpu=False)
    on_gpu, placed = _run_gather(ids, ONE_GPU)
    assert placed["rows"] == GPU0
    assert isinstance(on_cpu, tf.errors.InvalidArgumentError)
    assert isinstance(on_gpu, tf.errors.InvalidArgumentError)
    assert str(on_gpu) == str(on_cpu)
    flat = ids.reshape(-1)
    first = int(np.flatnonzero((flat < 0) | (flat >= 5))[0])
    where = ",".join(str(int(i)) for i in np.unravel_index(first, ids.shape))
    assert str(on_gpu).startswith(f"indices[{where}] = {flat[first]} is not in [0, 5)")
    assert "[[node rows (defined at" in str(on_gpu)


def test_the_session_runs_again_after_a_failed_check():
    """The check's record is rewritten by every run: a good run after a bad one passes."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        params = tf.placeholder(tf.float32, [5, 2])
        ids = tf.placeholder(tf.int32, [3])
        with tf.device("/gpu:0"):
            rows = tf.gather(params, ids)
        with tf.Session(config=tf.ConfigProto(**ONE_GPU)) as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not"):
                sess.run(rows, {params: PARAMS, ids: [0, 5, 1]})
            value = sess.run(rows, {params: PARAMS, ids: [0, 4, 1]})
    np.testing.assert_array_equal(value, PARAMS[[0, 4, 1]])


def test_an_embedding_trains_on_the_gpu_to_the_cpus_numbers():
    """embedding_lookup (gather) and its gradient (gather_grad) in a training step on the GPU."""

    def train(config, device):
        graph = tf.Graph()
        with graph.as_default():
            ids = tf.placeholder(tf.int32, [4])
            with tf.device(device):
                table = tf.Variable(PARAMS)
                vectors = tf.nn.embedding_lookup(table, ids)
                loss = tf.reduce_sum(tf.square(vectors - 1.0))
                step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
            with tf.Session(config=config) as sess:
                sess.run(tf.global_variables_initializer())
                losses = [sess.run([loss, step], {ids: [1, 3, 1, 0]})[0] for _ in range(3)]
                return losses, sess.run(table)

    cpu = train(None, None)
    with targets.selected("nvptx-emulated"):
        gpu = train(tf.ConfigProto(**ONE_GPU), "/gpu:0")
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-6)
    np.testing.assert_allclose(gpu[1], cpu[1], rtol=1e-6)


def _compile(tmp_path, monkeypatch, *args):
    # In this process: a forked compile after this file's sessions ran could hang in the child
    # (/tmp/notes/findings-gpu.md).
    monkeypatch.setenv("TGC_NO_FORK", "1")
    program = tmp_path / "gather.py"
    program.write_text(GATHER_PROGRAM)
    return CliRunner().invoke(
        main,
        ["compile", str(program), "--target", "nvptx", "--fetch", "y", *args],
        catch_exceptions=False,
    )


@needs_ptxas
def test_a_single_gpu_compile_of_a_gather_gives_ptx_that_ptxas_accepts(tmp_path, monkeypatch):
    result = _compile(tmp_path, monkeypatch, "--emit", "ptx")
    assert result.exit_code == 0, result.output
    ptx = tmp_path / "kernels.ptx"
    ptx.write_text(result.stdout)
    done = subprocess.run(
        [PTXAS, "-arch=sm_90", str(ptx), "-o", str(tmp_path / "kernels.cubin")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_the_artifacts_launch_plan_checks_the_indices(tmp_path, monkeypatch):
    out = tmp_path / "artifact"
    result = _compile(tmp_path, monkeypatch, "--emit", "artifact", "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    (plan,) = manifest["launch_plan"]["functions"].values()
    checks = [step["check"] for step in plan["steps"] if "check" in step]
    assert len(checks) == 1
    (check,) = checks
    assert check["kind"] == 5  # INDEX_OUT_OF_RANGE, as the CPU's tgc_runtime_error reports it
    assert json.loads(check["message"])["node"].startswith("rows")
    # The record: failed flag, position, index, rows, the indices' rank and dims.
    assert check["count"] == 1 + 4 + 2


def test_the_artifact_with_a_check_loads_and_a_record_past_its_buffer_is_refused(
    tmp_path, monkeypatch
):
    from tgc.runtime import gpu_artifact
    from tgc.runtime.artifact import InvalidArtifact

    out = tmp_path / "artifact"
    assert _compile(tmp_path, monkeypatch, "--emit", "artifact", "-o", str(out)).exit_code == 0
    loaded = gpu_artifact.load(str(out), device=None)  # the schema and the plan's own checks
    assert any("check" in step for step in loaded.launch_plan["steps"])
    manifest = json.loads((out / "manifest.json").read_text())
    (plan,) = manifest["launch_plan"]["functions"].values()
    (check,) = [step["check"] for step in plan["steps"] if "check" in step]
    check["count"] = 10**6
    with pytest.raises(InvalidArtifact, match=r"\.check\.source': there is no buffer \d+ of that"):
        gpu_artifact._check_plan(manifest, "manifest.json")
