"""What the nvptx e2e tests share: compile a model for the GPU through the CLI, assemble its PTX
with ptxas for sm_90, and run a graph on the (emulated) GPU in a session. Imported by the test
modules as ``nvptx_checks`` (tests/e2e is on their path, as for threaded_runs)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from tgc.dialect import targets
from tgc.tools.cli import main

PTXAS = shutil.which("ptxas")
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")


@contextlib.contextmanager
def _no_fork():
    """The CLI's MLIR work in this process: sessions run before start LLVM's worker threads,
    and a fork (the CLI's isolation) while one of them holds a lock can leave the child waiting
    forever."""
    previous = os.environ.get("TGC_NO_FORK")
    os.environ["TGC_NO_FORK"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TGC_NO_FORK"]
        else:
            os.environ["TGC_NO_FORK"] = previous


def invoke_compile(tmp_path, source: str, *args, suffix: str = "mlir", in_process: bool = False):
    """`tgc compile` of ``source`` (written to model.<suffix>) with ``args``; the CLI's result."""
    path = tmp_path / f"model.{suffix}"
    path.write_text(source)
    with _no_fork() if in_process else contextlib.nullcontext():
        return CliRunner().invoke(main, ["compile", str(path), *args], catch_exceptions=False)


def compile_nvptx(tmp_path, source: str, *args, suffix: str = "mlir", in_process=False) -> str:
    """`tgc compile --target nvptx` of ``source`` with ``args`` (``--emit ptx``, ...): its output,
    the compile having succeeded."""
    result = invoke_compile(
        tmp_path, source, "--target", "nvptx", *args, suffix=suffix, in_process=in_process
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def ptxas_info(tmp_path, ptx: str) -> str:
    """ptxas -arch=sm_90 -v's report on ``ptx`` (registers, spills, shared memory), it having
    assembled."""
    path = tmp_path / "kernels.ptx"
    path.write_text(ptx)
    done = subprocess.run(
        [PTXAS, "-arch=sm_90", "-v", str(path), "-o", str(tmp_path / "kernels.cubin")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def session_run(build, feeds: dict, target: str | None = "nvptx-emulated"):
    """Runs ``build(tf, placeholders) -> fetches`` on /gpu:0 of ``target`` (None: the default
    GPU target, nvptx) and checks that the GPU's code ran, not the CPU's."""
    import tgc as tf

    config = tf.ConfigProto(device_count={"GPU": 1})
    selected = targets.selected(target) if target else contextlib.nullcontext()
    with tf.Graph().as_default(), selected, tf.device("/gpu:0"):
        fed = {name: tf.placeholder(a.dtype, a.shape, name=name) for name, a in feeds.items()}
        fetches = build(tf, fed)
        with tf.Session(config=config) as sess:
            got = sess.run(fetches, {fed[n]: a for n, a in feeds.items()})
            (run,) = sess._cache.values()
    assert run.target == (target or "nvptx")
    return got
