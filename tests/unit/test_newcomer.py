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
