"""tgc/driver/errors.py: the one place that words MLIR errors and pass failures for users."""

import subprocess
import sys

import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.driver.errors import error_text, mlir_error_text, one_line
from tgc.passes.base import PassFailure


def _mlir_error():
    with make_context(), ir.Location.unknown():
        with pytest.raises(ir.MLIRError) as caught:
            ir.Module.parse('func.func @f() {\n  %x = "tgc.nope"() : () -> i32\n}\n')
        return caught.value


def test_an_mlir_error_keeps_its_summary_then_each_diagnostic_with_its_place():
    exc = _mlir_error()
    lines = mlir_error_text(exc).splitlines()
    assert lines[0] == str(exc).splitlines()[0]
    assert len(lines) == 1 + len(exc.error_diagnostics) >= 2
    assert all(line.startswith("loc(") and ": " in line for line in lines[1:])
    assert error_text(exc) == "; ".join(lines[1:])


def test_a_pass_failure_is_its_diagnostics_on_one_line():
    failure = PassFailure("tgc-x", [("m.py:3:0: 'a/b'", "bad"), ("m.py:4:0: 'c'", "worse")])
    assert error_text(failure) == "m.py:3:0: 'a/b': bad; m.py:4:0: 'c': worse"
    assert error_text(PassFailure("tgc-x", [])) == "pass 'tgc-x' failed:\n"


def test_other_errors_are_one_line():
    missing = FileNotFoundError(2, "No such file or directory", "model.mlir")
    assert error_text(missing) == "model.mlir: No such file or directory"
    assert error_text(ValueError("first\nsecond")) == "first second"
    inside_callback = RuntimeError(
        "callback failed\nTraceback (most recent call last):\n  File 'x.py'\nKeyError: 'w'\n"
    )
    assert one_line(inside_callback) == "KeyError: 'w'"


def test_wording_a_run_error_loads_no_mlir():
    """`tgc run` calls an artifact without MLIR; wording its errors must not load it either."""
    code = (
        "import sys; from tgc.driver.errors import error_text; "
        "print(error_text(ValueError('bad input'))); print('mlir.ir' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["bad input", "False"]
