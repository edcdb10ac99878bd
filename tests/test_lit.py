"""Runs the lit/FileCheck suite under tests/lit as one pytest test; fails with
lit's report if any fails."""

import os
import subprocess
import sys

LIT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lit")


def run_lit(*args: str) -> subprocess.CompletedProcess:
    # lit has no __main__; its console script calls lit.main.main() with sys.argv.
    command = [sys.executable, "-c", "import lit.main; lit.main.main()", "-v", *args, LIT_DIR]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_lit_suite_passes():
    result = run_lit()
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"lit failed (exit {result.returncode}):\n{report}"
    # A suite that found no tests would also exit 0: make sure every test file ran and passed.
    expected = sum(name.endswith(".mlir") for _, _, files in os.walk(LIT_DIR) for name in files)
    assert f"Passed: {expected} " in report, report
