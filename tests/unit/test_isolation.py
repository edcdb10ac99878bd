"""tgc/tools/isolation.py: work in a forked child comes back as its value, its exit status, its
output, or -- when the child dies of a signal -- a ChildCrashed naming the last announced step."""

import os
import sys

import pytest

from tgc.passes.pipeline import announce
from tgc.tools.isolation import ChildCrashed, ChildFailed, run_isolated


def test_the_value_and_the_output_come_back(capfd):
    def work():
        print("to stdout")
        print("to stderr", file=sys.stderr)
        os.write(2, b"from C\n")  # what MLIR prints goes to the file descriptor itself
        return {"answer": 42}

    assert run_isolated(work) == {"answer": 42}
    out, err = capfd.readouterr()
    assert out == "to stdout\n" and err == "to stderr\nfrom C\n"


def test_an_exit_status_comes_back():
    def work():
        sys.exit(3)

    with pytest.raises(SystemExit) as exited:
        run_isolated(work)
    assert exited.value.code == 3


def test_an_abort_becomes_child_crashed_naming_the_step(capfd):
    def work():
        print("said before the crash", file=sys.stderr)
        announce("running pass 'cse'")
        os.write(2, b'python: Foo.h:12: void f(): Assertion `x < n && "bad"\' failed.\n')
        os.abort()

    with pytest.raises(ChildCrashed) as crashed:
        run_isolated(work)
    assert crashed.value.message() == (
        "MLIR crashed (SIGABRT) while running pass 'cse': assertion "
        '`x < n && "bad"\' failed; the input is not valid there'
    )
    assert (
        capfd.readouterr().err == "said before the crash\n"
    )  # the assertion line is in the message


def test_a_segfault_before_any_step_is_named_as_such():
    def work():
        os.kill(os.getpid(), 11)

    with pytest.raises(ChildCrashed, match=r"^MLIR crashed \(SIGSEGV\) before any pass ran; "):
        run_isolated(work)


def test_an_unexpected_exception_comes_back_with_its_traceback():
    def work():
        raise KeyError("lost")

    with pytest.raises(ChildFailed, match=r"(?s)Traceback.*KeyError: 'lost'"):
        run_isolated(work)


def test_without_fork_the_work_runs_here(monkeypatch):
    monkeypatch.setenv("TGC_NO_FORK", "1")
    pid = run_isolated(os.getpid)
    assert pid == os.getpid()


# A parent's MLIR context that is garbage (in a reference cycle, not yet collected) when the child
# is forked: its LLVM thread pool's threads do not exist in the child, so a collection there would
# wait forever on the pool's condition variables in its destructor.
_GARBAGE_CONTEXT_THEN_FORK = """
import gc, sys
sys.path.insert(0, {repo!r})
from mlir import ir
from mlir.passmanager import PassManager
from tgc.tools.isolation import run_isolated

gc.disable()
context = ir.Context()
with context:
    module = ir.Module.parse("func.func @f() {{ return }}\\nfunc.func @g() {{ return }}")
    PassManager.parse("builtin.module(func.func(canonicalize))").run(module.operation)
cycle = [context, module]
cycle.append(cycle)
del context, module, cycle
gc.enable()
print(run_isolated(lambda: gc.collect() >= 0))
"""


def test_a_child_never_collects_the_parents_garbage(tmp_path):
    """The parent collects before forking and freezes what is left, so the child's collector never
    destroys the parent's objects (an MLIR context's thread pool hung the child: seen in CI)."""
    import subprocess

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = tmp_path / "fork_after_garbage.py"
    script.write_text(_GARBAGE_CONTEXT_THEN_FORK.format(repo=repo))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
