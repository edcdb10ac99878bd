"""`tgc compile` refuses a module that declares functions it does not define: an artifact holds only
the functions it defines, and a call of an undefined one made `tgc run` die of SIGSEGV."""

import subprocess
import sys

import pytest

EXTERNAL_CALL = """func.func private @ext(tensor<2xf32>) -> tensor<2xf32>
func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {
  %0 = func.call @ext(%a) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
"""

MAIN_DECLARED = "func.func private @main(tensor<2xf32>) -> tensor<2xf32>\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            EXTERNAL_CALL,
            "tgc compile: error: @ext is declared but not defined (a func.func without a body): "
            "an artifact can call only the functions its module defines\n",
        ),
        (
            MAIN_DECLARED,
            "tgc compile: error: @main is declared but not defined (a func.func without a body): "
            "an artifact can call only the functions its module defines\n",
        ),
    ],
    ids=["external-call", "main-declared"],
)
def test_compile_refuses_declarations(tmp_path, text, message):
    source = tmp_path / "declared.mlir"
    source.write_text(text)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tgc.tools.cli",
            "compile",
            str(source),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result
    assert result.stderr == message
    assert not (tmp_path / "out").exists()
