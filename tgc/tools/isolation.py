"""Runs work that MLIR may abort in a forked child, so that a user's bad file never kills ``tgc``.

MLIR's assertion build calls ``abort()`` on some invalid IR that its verifiers let through (for
example ``tensor.dim`` with a constant index of -1 reaching ``expand-strided-metadata``). No Python
``except`` can catch that, so ``tgc opt`` and ``tgc compile`` do the MLIR work in a child made by
``fork``: the child writes its stdout, its stderr (Python's and the C library's) and its result to
temporary files, and announces each pass before running it (tgc.passes.pipeline.observe_stages). The
parent replays the output; when the child died of a signal, it raises ``ChildCrashed``, whose
message names the pass that was running and the assertion MLIR printed, as one line.

Where ``fork`` does not exist, or ``TGC_NO_FORK=1`` is set, the work runs in this process.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import pickle
import re
import signal
import sys
import tempfile
import traceback

# What MLIR/LLVM print on their way down; folded into the one-line error instead of shown raw.
_CRASH_LINE = re.compile(
    r"Assertion .* failed|^LLVM ERROR:|^PLEASE submit|^Stack dump|^ *#\d+ 0x|^\s*\d+\.\s"
)
_ASSERTION = re.compile(r"Assertion `(?P<what>.*)' failed")


class ChildCrashed(Exception):
    """The isolated work died of a signal; ``step`` says what it was doing ("running pass
    'cse'")."""

    def __init__(self, signal_number: int, step: str | None, reason: str):
        self.signal_name = _signal_name(signal_number)
        self.step = step
        self.reason = reason
        super().__init__(self.message())

    def message(self) -> str:
        where = f"while {self.step}" if self.step else "before any pass ran"
        why = f": {self.reason}" if self.reason else ""
        return f"MLIR crashed ({self.signal_name}) {where}{why}; the input is not valid there"


class ChildFailed(Exception):
    """The isolated work raised an unexpected exception (a tgc bug); carries the child's
    traceback."""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def isolation_available() -> bool:
    return hasattr(os, "fork") and os.environ.get("TGC_NO_FORK", "") in ("", "0")


def run_isolated(work):
    """``work()`` in a forked child: its return value (picklable), or SystemExit with its code.

    Raises ChildCrashed when the child dies of a signal, ChildFailed when ``work`` raised.
    """
    if not isolation_available():
        return work()
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as result,
        tempfile.TemporaryFile() as progress,
    ):
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        # The parent's garbage is collected here, and what is left frozen for the child: a
        # collection in the child would run destructors of the parent's objects, and an MLIR
        # context's thread pool waits forever there for threads that fork did not copy.
        gc.collect()
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            _child(work, out, err, result, progress)
        gc.unfreeze()
        _, status = os.waitpid(pid, 0)
        err_text = _read(err).decode(errors="replace")
        _replay(_read(out), sys.stdout)
        if os.WIFSIGNALED(status):
            kept, reason = _split_crash_output(err_text)
            _replay(kept.encode(), sys.stderr)
            steps = _read(progress).decode(errors="replace").splitlines()
            raise ChildCrashed(os.WTERMSIG(status), steps[-1] if steps else None, reason)
        _replay(err_text.encode(), sys.stderr)
        kind, value = pickle.loads(_read(result)) if os.WEXITSTATUS(status) == 0 else ("lost", None)
    if kind == "ok":
        return value
    if kind == "exit":
        sys.exit(value)
    if kind == "raise":
        raise ChildFailed(value)
    raise ChildFailed(
        f"the isolated child exited with status {os.WEXITSTATUS(status)} and no result"
    )


def _child(work, out, err, result, progress) -> None:
    from tgc.passes.pipeline import observe_stages

    status = 0
    try:
        faulthandler.disable()  # its dump of Python frames on abort() is no message for a user
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        # Line-buffered, so what was said before an abort() is in the file when the parent reads it.
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False)
        with observe_stages(lambda step: os.write(progress.fileno(), step.encode() + b"\n")):
            try:
                outcome = ("ok", work())
            except SystemExit as exc:
                outcome = ("exit", exc.code)
            except BaseException:  # noqa: BLE001 - handed to the parent, which raises it there
                outcome = ("raise", traceback.format_exc())
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            data = pickle.dumps(outcome)
        except Exception as exc:  # noqa: BLE001
            data = pickle.dumps(("raise", f"the isolated result cannot be pickled: {exc}"))
        os.write(result.fileno(), data)
    except BaseException:  # noqa: BLE001 - never let the child run on into the parent's code
        status = 70
    finally:
        os._exit(status)


def _read(handle) -> bytes:
    handle.flush()
    handle.seek(0)
    return handle.read()


def _replay(data: bytes, stream) -> None:
    if not data:
        return
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode(errors="replace"))
        stream.flush()


def _split_crash_output(text: str) -> tuple:
    """(lines to show as they are, the crash reason): MLIR's abort message becomes the reason."""
    kept, reasons = [], []
    for line in text.splitlines(keepends=True):
        if _CRASH_LINE.search(line):
            reasons.append(line.strip())
        else:
            kept.append(line)
    reason = ""
    for line in reasons:
        match = _ASSERTION.search(line)
        if match:
            reason = f"assertion `{match['what']}' failed"
            break
        if line.startswith("LLVM ERROR:"):
            reason = line
            break
    return "".join(kept), reason


__all__ = ["run_isolated", "ChildCrashed", "ChildFailed", "isolation_available"]
