"""A second CPU-like target, added by this test alone: "cpu-noblas" differs from "cpu" only in its
pipeline (matmuls call tgc's generated GEMM instead of OpenBLAS). The registry, placement, the
Session, `tgc compile --target`, `tgc run` and `tgc inspect` take it with no change to the API, the
passes or the tools: that is what adding a target means."""

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

import tgc as tf
from tgc.dialect import targets
from tgc.lowering.cpu.target import CPU, CpuTarget
from tgc.tools.cli import main


@dataclasses.dataclass(frozen=True)
class NoBlasCpu(CpuTarget):
    def pipeline_elements(self, *, for_session: bool, external_libraries: bool = True) -> list:
        return super().pipeline_elements(for_session=for_session, external_libraries=False)


@pytest.fixture
def noblas():
    fields = {f.name: getattr(CPU, f.name) for f in dataclasses.fields(CPU)}
    target = NoBlasCpu(**{**fields, "name": "cpu-noblas", "description": "the CPU without BLAS"})
    targets.register(target, default_for_type=False)
    try:
        yield target
    finally:
        targets.unregister(target.name)


def _train_two_steps():
    """Two SGD steps of a small dense layer; returns the losses and the trained weight."""
    rng = np.random.default_rng(3)
    x_value = rng.standard_normal((16, 8)).astype(np.float32)
    y_value = rng.standard_normal((16, 4)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 8], name="x")
        y = tf.placeholder(tf.float32, [None, 4], name="y")
        w = tf.Variable(np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4), name="w")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([loss, train], {x: x_value, y: y_value})[0] for _ in range(2)]
            compiled = [c for c in sess._cache.values() if train.name in str(c.ops)]
            return losses, sess.run(w), compiled


def _numpy_two_steps():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 8))
    y = rng.standard_normal((16, 4))
    w = np.linspace(-1, 1, 32).reshape(8, 4)
    losses = []
    for _ in range(2):
        error = x @ w - y
        losses.append(np.mean(error**2))
        w = w - 0.1 * x.T @ (2 * error / error.size)
    return losses, w


def test_the_registry_lists_the_new_target_beside_the_cpu(noblas):
    assert targets.names() == ["accel", "cpu", "cpu-noblas", "nvptx", "nvptx-emulated"]
    assert targets.get("cpu-noblas") is noblas
    assert targets.for_device_type("CPU").name == "cpu"  # registered without taking over CPUs
    assert noblas.supported_ops() == CPU.supported_ops()


def test_a_session_compiles_for_the_selected_target_with_its_pipeline(noblas):
    expected_losses, expected_w = _numpy_two_steps()
    with targets.selected("cpu-noblas"):
        losses, w, compiled = _train_two_steps()
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    np.testing.assert_allclose(w, expected_w, rtol=1e-5, atol=1e-6)
    assert [c.target for c in compiled] == ["cpu-noblas"]
    assert "gemm=codegen" in compiled[0].pipeline
    assert targets.for_device_type("CPU").name == "cpu"  # the selection ends with the block

    cpu_losses, cpu_w, cpu_compiled = _train_two_steps()
    assert [c.target for c in cpu_compiled] == ["cpu"]
    assert "gemm=codegen" not in cpu_compiled[0].pipeline
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-5)
    np.testing.assert_allclose(w, cpu_w, rtol=1e-5, atol=1e-6)


MODULE = """
"tgc.variable"() {sym_name = "w", shape = array<i64: 3, 2>, dtype = f32,
  tgc.initial_value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : () -> ()
func.func @main(%x: tensor<?x3xf32>) -> tensor<?x2xf32>
    attributes {tgc.feed_names = ["x"], tgc.fetch_names = ["y"]} {
  %w = "tgc.read_variable"() {var = @w, shape = array<i64: 3, 2>, dtype = f32}
      : () -> tensor<3x2xf32>
  %y = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false}
      : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
"""


def _tgc(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_tgc_compile_target_builds_run_and_inspect_load_the_artifact(noblas, tmp_path):
    source = tmp_path / "model.mlir"
    source.write_text(MODULE)
    printed = _tgc("compile", str(source), "--target", "cpu-noblas", "--blas", "--print-pipeline")
    assert printed.exit_code == 0, printed.output
    # The target's own pipeline, whatever --blas says.
    assert "gemm=codegen" in printed.output
    assert "gemm=codegen" not in _tgc("compile", str(source), "--blas", "--print-pipeline").output

    out = tmp_path / "noblas"
    result = _tgc("compile", str(source), "--target", "cpu-noblas", "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["name"] == "cpu-noblas"
    assert "gemm=codegen" in manifest["pipeline"]

    inspected = _tgc("inspect", str(out))
    assert inspected.exit_code == 0, inspected.output
    assert "target   cpu-noblas (" in inspected.output

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    ran = _tgc(
        "run", str(out), "--input", f"x={tmp_path / 'x.npy'}", "--output", str(tmp_path / "y.npz")
    )
    assert ran.exit_code == 0, ran.output
    w = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32)
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["y"], x @ w)


def test_an_unknown_target_is_one_error_line_naming_the_targets(tmp_path):
    source = tmp_path / "model.mlir"
    source.write_text(MODULE)
    result = CliRunner().invoke(
        main, ["compile", str(source), "--target", "tpu", "-o", str(tmp_path / "a")]
    )
    assert result.exit_code == 1
    assert "unknown target 'tpu' (targets: accel, cpu, nvptx, nvptx-emulated)" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_stage_names_the_targets_stages(tmp_path):
    source = tmp_path / "model.mlir"
    source.write_text(MODULE)
    result = CliRunner().invoke(main, ["compile", str(source), "--emit", "ptx"])
    assert result.exit_code == 1
    assert "unknown stage 'ptx' for target cpu (stages: tgc, core, llvm-dialect," in result.output
