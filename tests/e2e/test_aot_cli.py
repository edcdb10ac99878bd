"""`tgc compile/run/inspect` end to end, and the C example built with CMake
against compiled artifacts."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from tgc.runtime import load
from tgc.tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "c", "two_layer_model.py")


def tgc(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(5)
    return (
        rng.standard_normal((64, 1000)).astype(np.float32),
        np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)],
    )


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    out = tmp_path_factory.mktemp("aot")
    for name, fetches in (
        ("train", ["--fetch", "loss", "--fetch", "train"]),
        ("infer", ["--fetch", "scores"]),
    ):
        result = tgc("compile", MODEL, *fetches, "--name", name, "-o", str(out / name))
        assert result.exit_code == 0, result.output
    return out


def test_run_cli_equals_runtime_load(artifacts, batch, tmp_path):
    x, y = batch
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    result = tgc(
        "run",
        str(artifacts / "train"),
        "--input",
        f"x={tmp_path / 'x.npy'}",
        "--input",
        f"y={tmp_path / 'y.npy'}",
        "--steps",
        "3",
        "--output",
        str(tmp_path / "o.npz"),
        "--save",
        str(tmp_path / "ck.npz"),
    )
    assert result.exit_code == 0, result.output
    art = load(str(artifacts / "train"))
    losses = [float(art(x=x, y=y)["loss"]) for _ in range(3)]
    assert losses[2] < losses[0]
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["loss"], losses[2], rtol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "ck.npz")["w1"], art.variables["w1"], rtol=1e-6)
    infer = load(str(artifacts / "infer"))
    for n in (1, 7, 64):  # one artifact, three batch sizes
        np.save(tmp_path / "x7.npy", x[:n])
        printed = tgc("run", str(artifacts / "infer"), "--input", f"x={tmp_path / 'x7.npy'}")
        assert printed.exit_code == 0 and f"scores: float32[{n}, 10]" in printed.output
        assert infer(x=x[:n])["scores"].shape == (n, 10)


def test_inspect_shows_signature(artifacts):
    result = tgc("inspect", str(artifacts / "train"))
    assert result.exit_code == 0
    assert re.search(r"x\s+\[\?, 1000\] float32", result.output)
    assert re.search(r"loss\s+\[\] float32", result.output)
    assert re.search(r"w1\s+\[1000, 100\] float32", result.output)


def test_variables_in_place_by_default_and_read_only_on_request(artifacts, batch, tmp_path):
    # The default artifact (the fixture's) updates its variables where they lie; compiled with
    # --variables-read-only the same step leaves them and returns new arrays, with the same numbers.
    shown = tgc("inspect", str(artifacts / "train"))
    assert "in place: calls update the variables where they lie" in shown.output
    out = tmp_path / "read_only"
    compiled = tgc(
        "compile",
        MODEL,
        "--fetch",
        "loss",
        "--fetch",
        "train",
        "--variables-read-only",
        "--name",
        "train",
        "-o",
        str(out),
    )
    assert compiled.exit_code == 0, compiled.output
    shown = tgc("inspect", str(out))
    assert "read-only: calls return new variable values in buffers of their own" in shown.output
    with open(out / "train.h") as fh:
        assert "Inputs are only read, never freed (compiled with --variables-read-only)." in (
            fh.read()
        )
    in_place, read_only = load(str(artifacts / "train")), load(str(out))
    assert (in_place.manifest["variables_in_place"], read_only.manifest["variables_in_place"]) == (
        True,
        False,
    )
    x, y = batch
    for _ in range(3):
        resident, given = in_place.variables["w1"], read_only.variables["w1"]
        kept = given.copy()
        losses = in_place(x=x, y=y)["loss"], read_only(x=x, y=y)["loss"]
        np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
        assert in_place.variables["w1"] is resident
        assert read_only.variables["w1"] is not given
        np.testing.assert_array_equal(given, kept)
    np.testing.assert_allclose(in_place.variables["w1"], read_only.variables["w1"], rtol=1e-5)


def test_emit_text_stages(tmp_path):
    stages = {
        "tgc": '"tgc.matmul"',
        "core": "linalg.matmul",
        "llvm-dialect": "llvm.func @model_main",
        "llvm-ir": "define void @_mlir_ciface_model_main",
        "header": "model_run(",
    }
    for stage, needle in stages.items():
        result = tgc("compile", MODEL, "--fetch", "scores", f"--emit={stage}")
        assert result.exit_code == 0 and needle in result.output, (stage, result.output[-500:])


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--emit=core", "--fetch", "nope"],
            "tgc compile: error: unknown fetch 'nope': the graph has no operation named 'nope'",
        ),
        (
            ["--emit=core", "--fetch", "scores", "--feed", "x:?x999"],
            "tgc compile: error: shape ?x999 does not fit feed 'x' of shape ?x1000",
        ),
        (
            ["--emit=core", "--fetch", "scores", "--feed", "x:?x1000:int32"],
            "tgc compile: error: feed 'x' has dtype float32, not int32",
        ),
        (["--fetch", "scores"], "tgc compile: error: --emit=artifact writes files: give -o PATH"),
        (
            ["--emit=core", "--fetch", "scores", "--target", "nvptx", "--variables-read-only"],
            "tgc compile: error: --variables-read-only is an option of the cpu target, not of "
            "nvptx",
        ),
    ],
)
def test_compile_errors_are_one_line(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "tgc.tools.cli", "compile", MODEL, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [message], result.stderr
    assert "Traceback" not in result.stderr


def test_run_errors_are_one_line(artifacts, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((2, 3), np.float32))
    for args, message in [
        ([str(tmp_path / "none")], "tgc run: error: no artifact at"),
        (
            [str(artifacts / "infer"), "--input", f"x={tmp_path / 'bad.npy'}"],
            "tgc run: error: input 'x' has shape [?, 1000] float32, got [2, 3]",
        ),
        (
            [str(artifacts / "infer"), "--input", f"x={tmp_path / 'missing.npy'}"],
            "tgc run: error: cannot read input 'x'",
        ),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "tgc.tools.cli", "run", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1 and result.stderr.startswith(message), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_input_is_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tgc.tools.cli",
            "compile",
            str(tmp_path / "no.mlir"),
            "-o",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        result.returncode == 1
        and result.stderr.startswith("tgc compile: error: ")
        and "no.mlir" in result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(
    shutil.which("cmake") is None or shutil.which("cc") is None, reason="needs cmake and cc"
)
def test_c_example_builds_with_cmake_and_trains(tmp_path, batch):
    build = tmp_path / "build"
    configure = subprocess.run(
        ["cmake", "-S", ROOT, "-B", str(build), f"-DPython3_EXECUTABLE={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert configure.returncode == 0, configure.stdout + configure.stderr
    made = subprocess.run(
        ["cmake", "--build", str(build), "--target", "two_layer"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    x, y = batch
    data = tmp_path / "data"
    data.mkdir()
    x.tofile(data / "x.bin")
    y.tofile(data / "y.bin")
    run = subprocess.run(
        [str(build / "two_layer"), str(build / "artifacts" / "train"), str(data), "20"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    c_losses = [float(v) for v in re.findall(r"^step \d+ loss (\S+)$", run.stdout, re.M)]
    art = load(str(build / "artifacts" / "train"))
    py_losses = [float(art(x=x, y=y)["loss"]) for _ in range(20)]
    np.testing.assert_allclose(c_losses, py_losses, rtol=1e-4)
    assert c_losses[-1] < c_losses[0]
    infer = load(str(build / "artifacts" / "infer"))
    predicted = [int(v) for v in re.search(r"^predicted (.*)$", run.stdout, re.M).group(1).split()]
    infer.variables.update(art.variables)  # the C program infers with its trained weights
    expected = infer(x=x[:7])["scores"].argmax(axis=1).tolist()
    assert predicted == expected


def test_run_refuses_a_damaged_artifact_in_one_line(artifacts, tmp_path):
    damaged = tmp_path / "damaged"
    for name, damage, message in [
        ("libinfer.so", lambda data: data[: len(data) // 2], "libinfer.so: "),
        ("variables.npz", lambda data: data[:100], "variables.npz: "),
        ("manifest.json", lambda data: b"[]", "manifest.json: holds a JSON array, not an object"),
    ]:
        shutil.rmtree(damaged, ignore_errors=True)
        shutil.copytree(artifacts / "infer", damaged)
        path = damaged / name
        path.write_bytes(damage(path.read_bytes()))
        np.save(tmp_path / "x.npy", np.zeros((2, 1000), np.float32))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tgc.tools.cli",
                "run",
                str(damaged),
                "--input",
                f"x={tmp_path / 'x.npy'}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result
        assert result.stderr.startswith("tgc run: error: ") and message in result.stderr, (
            result.stderr
        )
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_compile_turns_an_mlir_abort_into_one_line(tmp_path):
    source = tmp_path / "negative_dim.mlir"
    source.write_text(
        "func.func @main(%x: tensor<?xf32>) -> tensor<?xf32> {\n"
        "  %c = arith.constant -1 : index\n"
        "  %d = tensor.dim %x, %c : tensor<?xf32>\n"
        "  %e = tensor.empty(%d) : tensor<?xf32>\n"
        "  return %e : tensor<?xf32>\n}\n"
    )
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
    assert result.stderr == (
        "tgc compile: error: MLIR crashed (SIGABRT) while running pass "
        "'buffer-deallocation-pipeline': assertion `idx < getRank() && \"invalid index for "
        "shaped type\"' failed; the input is not valid there\n"
    )
    assert not (tmp_path / "out").exists()


def test_compile_writes_an_archive_into_a_new_folder(tmp_path):
    source = tmp_path / "add.mlir"
    source.write_text(
        "func.func @main(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {\n"
        '  %0 = "tgc.add"(%x, %x) : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>\n'
        "  return %0 : tensor<?x3xf32>\n}\n"
    )
    archive = tmp_path / "new" / "folder" / "add.tar.gz"
    assert tgc("compile", str(source), "-o", str(archive)).exit_code == 0
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(load(str(archive))(x)["result0"], 2 * x)


def test_run_reports_a_failed_run_time_check_in_one_line(tmp_path):
    source = tmp_path / "add.mlir"
    source.write_text(
        "func.func @main(%x: tensor<?x3xf32>, %c: tensor<?x3xf32>) -> tensor<?x3xf32> {\n"
        '  %0 = "tgc.add"(%x, %c) : (tensor<?x3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>\n'
        "  return %0 : tensor<?x3xf32>\n}\n"
    )
    assert tgc("compile", str(source), "-o", str(tmp_path / "art")).exit_code == 0
    np.save(tmp_path / "a.npy", np.ones((4, 3), np.float32))
    np.save(tmp_path / "b.npy", np.ones((2, 3), np.float32))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tgc.tools.cli",
            "run",
            str(tmp_path / "art"),
            "--input",
            f"arg0={tmp_path / 'a.npy'}",
            "--input",
            f"arg1={tmp_path / 'b.npy'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result
    assert result.stderr.startswith("tgc run: error: Incompatible shapes: [4,3] vs. [2,3]"), (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
