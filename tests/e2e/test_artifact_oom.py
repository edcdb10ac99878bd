"""An artifact whose allocation fails raises ResourceExhaustedError and stays
usable (issue 12, item 5).

The artifact's entry point is called through the C extension's guarded trampoline
(tgc/runtime/_fastcall.c), so a failed allocation in its code unwinds to the call instead of ending
the process. These tests need the extension; without it the artifact keeps the ctypes call.
"""

import subprocess
import sys

import numpy as np
import pytest

import tgc as tf
from tgc.runtime import executable

pytestmark = pytest.mark.skipif(
    executable._fastcall is None, reason="needs the C extension tgc.runtime._fastcall"
)

_OOM = (
    "OOM when allocating tensor with shape[1000000,1000000] and type float on "
    "/job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu"
)


@pytest.fixture(scope="module")
def outer_artifact(tmp_path_factory):
    """``matmul(a, b)`` of a fed [n, 1] and [1, n]: a float [n, n] whose size is known
    only when they are fed."""
    from tgc.frontend.export import export_graph
    from tgc.tools.cli import main as cli_main

    where = tmp_path_factory.mktemp("oom")
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None, 1], name="a")
        b = tf.placeholder(tf.float32, [1, None], name="b")
        tf.matmul(a, b, name="outer")
        export_graph(["outer"], ["a", "b"], path=str(where / "graph.mlir"))
    with pytest.raises(SystemExit) as done:
        cli_main(["compile", str(where / "graph.mlir"), "-o", str(where / "art")])
    assert done.value.code in (0, None)
    return where


@pytest.mark.parametrize("prefer", ["library", "llvm-ir"])
def test_a_huge_run_time_matmul_raises_resource_exhausted_and_the_artifact_stays_usable(
    outer_artifact, prefer
):
    from tgc.runtime.artifact import load

    if prefer == "llvm-ir":
        pytest.importorskip("llvmlite")
    art = load(str(outer_artifact / "art"), prefer=prefer)
    with pytest.raises(tf.errors.ResourceExhaustedError) as info:
        art(a=np.ones((10**6, 1), np.float32), b=np.ones((1, 10**6), np.float32))
    assert str(info.value).startswith(_OOM)  # no node: the exported graph.mlir carries no locations
    for size in (2, 3):  # the next calls give the right numbers
        a = np.arange(1, size + 1, dtype=np.float32).reshape(size, 1)
        b = np.arange(size, 2 * size, dtype=np.float32).reshape(1, size)
        np.testing.assert_array_equal(art(a=a, b=b)["outer"], a @ b)


def test_an_artifact_with_many_arguments_is_called_with_each_in_its_place(tmp_path):
    """The trampoline passes each argument in its own position (here 12
    inputs, each weighted apart)."""
    from tgc.frontend.export import export_graph
    from tgc.runtime.artifact import load
    from tgc.tools.cli import main as cli_main

    names = [f"x{i}" for i in range(12)]
    with tf.Graph().as_default():
        xs = [tf.placeholder(tf.float32, [None], name=name) for name in names]
        tf.add_n([x * float(2**i) for i, x in enumerate(xs)], name="total")
        export_graph(["total"], names, path=str(tmp_path / "graph.mlir"))
    with pytest.raises(SystemExit):
        cli_main(["compile", str(tmp_path / "graph.mlir"), "-o", str(tmp_path / "art")])
    art = load(str(tmp_path / "art"))
    feeds = {name: np.array([i + 1.0, -i], np.float32) for i, name in enumerate(names)}
    want = sum(feeds[name] * 2.0**i for i, name in enumerate(names))
    np.testing.assert_array_equal(art(**feeds)["total"], want)


def test_tgc_run_reports_a_failed_allocation_as_one_error_line(outer_artifact):
    np.save(outer_artifact / "a.npy", np.ones((10**6, 1), np.float32))
    np.save(outer_artifact / "b.npy", np.ones((1, 10**6), np.float32))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tgc.tools.cli",
            "run",
            str(outer_artifact / "art"),
            "--input",
            f"a={outer_artifact / 'a.npy'}",
            "--input",
            f"b={outer_artifact / 'b.npy'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tgc run: ") and _OOM in lines[0]
    assert result.stdout == ""


_EXTENSION = executable._fastcall


class _NarrowGuard:
    """The C extension as one that passes at most 2 unpacked arguments (an
    artifact's matmul needs 3)."""

    def __getattr__(self, name):  # the handler, take_error and Failure are the extension's
        return getattr(_EXTENSION, name)

    def max_unpacked_args(self):
        return 2

    def call_unpacked(self, *args):
        raise AssertionError(
            "an entry point with more arguments than the trampoline passes went to it"
        )


def test_an_entry_point_with_more_arguments_than_the_trampoline_passes_is_called_by_ctypes(
    outer_artifact, monkeypatch
):
    from tgc.runtime.artifact import load

    with pytest.raises(ValueError, match="call_unpacked takes 0 to 256 arguments, not 257"):
        executable._fastcall.call_unpacked(0, 0, 257)
    monkeypatch.setattr(executable, "_fastcall", _NarrowGuard())
    art = load(str(outer_artifact / "art"))
    a, b = np.array([[1.0], [2.0]], np.float32), np.array([[3.0, 4.0]], np.float32)
    np.testing.assert_array_equal(art(a=a, b=b)["outer"], [[3, 4], [6, 8]])
