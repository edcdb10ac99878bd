"""Compiler failures in the user's terms: the text of MLIR errors and pass failures.

Session's CompileError (tgc/driver/jit.py) and the command line (tgc/tools) build their messages
here, so a failure reads the same wherever it surfaces. A diagnostic is ``where: message``;
``where`` is the op's location as the pass or MLIR gives it.
"""

from __future__ import annotations

import sys


def diagnostic_lines(exc) -> list:
    """``where: message`` for each error a pass failure or an MLIR error carries; [] otherwise."""
    if _is_pass_failure(exc):
        return [f"{where}: {message}" for where, message in exc.diagnostics]
    if _is_mlir_error(exc):
        return [f"{d.location}: {d.message}" for d in _error_diagnostics(exc)]
    return []


def mlir_error_text(exc) -> str:
    """An MLIR error on several lines: its summary line, then each error diagnostic."""
    summary = str(exc).splitlines()[0] if str(exc) else "MLIR error"
    return "\n".join([summary] + diagnostic_lines(exc))


def error_text(exc) -> str:
    """Any error a compile or a run can end in, on one line: the diagnostics of a pass failure or an
    MLIR error joined by ``; ``, a file error as ``file: reason``, else the message itself."""
    lines = diagnostic_lines(exc)
    if lines:
        return "; ".join(lines)
    if _is_pass_failure(exc):
        return str(exc)
    if _is_mlir_error(exc):
        return str(exc).strip()
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split("\n"))


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line. An exception raised inside an MLIR callback reaches
    Python as a RuntimeError whose text holds the callback's whole traceback: only its last line is
    kept."""
    text = str(exc).strip()
    if "Traceback (most recent call last)" in text:
        text = [line for line in text.splitlines() if line.strip()][-1].strip()
    return " ".join(text.split("\n"))


# An error of a kind whose module was never imported cannot be that kind: `tgc run` reports its
# errors without loading MLIR.


def _is_pass_failure(exc) -> bool:
    base = sys.modules.get("tgc.passes.base")
    return base is not None and isinstance(exc, base.PassFailure)


def _is_mlir_error(exc) -> bool:
    ir = sys.modules.get("mlir.ir")
    return ir is not None and isinstance(exc, ir.MLIRError)


def _error_diagnostics(exc) -> list:
    return list(getattr(exc, "error_diagnostics", None) or [])
