"""The accel artifact: `tgc compile --target accel -o DIR` writes each function's programs (one file
each), its host plan, the signature and the machine; `tgc run` and `tgc.runtime.load` run it on
the simulator with numpy only (no MLIR, nothing of the compiler); `tgc inspect` shows each
program's cycles, utilisation and DMA traffic from the timing model, and writes its timeline with
--trace. Everything the loader reads is checked first: a damaged artifact, a program the machine
refuses or a wrong input is one line from the CLI and a typed exception from the API."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import tgc.runtime
from tgc.runtime.accel.machine import Machine
from tgc.runtime.accel.simulator import Simulator
from tgc.runtime.accel_artifact import AccelArtifact, load, read_manifest, signature_digest
from tgc.runtime.artifact import ArtifactError, InvalidArtifact
from tgc.runtime.artifact_checks import file_record
from tgc.tools.cli import main

MATMUL = """
import tgc as tf
x = tf.placeholder(tf.float32, [130, 3], name="x")
w = tf.placeholder(tf.float32, [3, 2], name="w")
y = tf.matmul(x, w, name="y")
"""

# The forward pass of a two-layer net: relu(x @ w1 + b1) @ w2: the matrix unit's matmuls, the
# vector unit's bias add and relu (one program or several, as the compiler schedules them).
TWO_LAYERS = """
import tgc as tf
x = tf.placeholder(tf.float32, [200, 150], name="x")
w1 = tf.placeholder(tf.float32, [150, 140], name="w1")
b1 = tf.placeholder(tf.float32, [140], name="b1")
w2 = tf.placeholder(tf.float32, [140, 10], name="w2")
h = tf.nn.relu(tf.matmul(x, w1) + b1, name="h")
y = tf.matmul(h, w2, name="y")
"""

# The same forward pass with its weights in variables (their initial values stored in the
# artifact), drawn from a seed the test draws again.
TWO_LAYER_VARIABLES = """
import numpy as np
import tgc as tf
rng = np.random.default_rng(5)
x = tf.placeholder(tf.float32, [64, 100], name="x")
w1 = tf.Variable(rng.standard_normal((100, 50)).astype(np.float32), name="w1")
b1 = tf.Variable(rng.standard_normal(50).astype(np.float32), name="b1")
w2 = tf.Variable(rng.standard_normal((50, 10)).astype(np.float32), name="w2")
h = tf.nn.relu(tf.matmul(x, w1) + b1, name="h")
y = tf.matmul(h, w2, name="y")
"""

# A training step of a two-layer net: the forward pass, the loss, its gradients and the SGD update
# of the variables, all on the accelerator (constants and shapes included).
TRAINING_STEP = """
import numpy as np
import tgc as tf
rng = np.random.default_rng(0)
x = tf.placeholder(tf.float32, [64, 20], name="x")
t = tf.placeholder(tf.float32, [64, 5], name="t")
w1 = tf.Variable((rng.standard_normal((20, 16)) * 0.3).astype(np.float32), name="w1")
b1 = tf.Variable(np.zeros(16, np.float32), name="b1")
w2 = tf.Variable((rng.standard_normal((16, 5)) * 0.3).astype(np.float32), name="w2")
h = tf.nn.relu(tf.matmul(x, w1) + b1)
y = tf.matmul(h, w2)
loss = tf.reduce_mean(tf.square(y - t), name="loss")
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
"""

MATMUL_MLIR = """
func.func @main(%a: tensor<64x40xf64>, %b: tensor<40x30xf64>) -> tensor<64x30xf64>
    attributes {tgc.feed_names = ["a", "b"], tgc.fetch_names = ["c"]} {
  %c = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = false}
      : (tensor<64x40xf64>, tensor<40x30xf64>) -> tensor<64x30xf64>
  return %c : tensor<64x30xf64>
}
"""


def _bf16_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|accel - exact| may reach: each operand rounded to bf16 (8 significant bits: relative 2^-8
    each, so 2^-7 + 2^-16 per product) and the f32 sum (K * 2^-24 relative, doubled)."""
    k = a.shape[1]
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    return (2.0**-7 + 2.0**-16 + k * 2.0**-23) * scale + 1e-30


def _compile(tmp_path, source: str, *args, name="model.py", out="out"):
    path = tmp_path / name
    path.write_text(source)
    fetch = ["--fetch", "y"] if name.endswith(".py") else []
    result = CliRunner().invoke(
        main,
        ["compile", str(path), *fetch, "--target", "accel", "-o", str(tmp_path / out), *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return tmp_path / out


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return _compile(tmp_path_factory.mktemp("accel"), MATMUL)


@pytest.fixture(scope="module")
def two_layers(tmp_path_factory):
    return _compile(tmp_path_factory.mktemp("accel2"), TWO_LAYERS)


def _matmul_inputs(seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((130, 3)).astype(np.float32),
        "w": rng.standard_normal((3, 2)).astype(np.float32),
    }


def _two_layer_inputs(seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((200, 150)).astype(np.float32),
        "w1": rng.standard_normal((150, 140)).astype(np.float32),
        "b1": rng.standard_normal(140).astype(np.float32),
        "w2": rng.standard_normal((140, 10)).astype(np.float32),
    }


def _manifest(path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _copy(artifact, tmp_path):
    return shutil.copytree(artifact, tmp_path / "copy")


def _rewrite(path, manifest: dict, resign: bool = True) -> None:
    """Writes an edited manifest, its signature hash recomputed when ``resign``."""
    if resign:
        manifest["signature"]["sha256"] = signature_digest(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_program(path, file: str, edit) -> None:
    """Edits a program file and records its new checksum in a re-signed manifest: only the
    loader's own checks of the program stand between it and the simulator."""
    program = json.loads((path / file).read_text())
    edit(program)
    (path / file).write_text(json.dumps(program))
    manifest = _manifest(path)
    manifest["checksums"][file] = file_record((path / file).read_bytes())
    _rewrite(path, manifest)


def _run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


# ---- what is written -----------------------------------------------------------------------------


def test_the_artifact_holds_the_programs_the_host_plan_and_the_signature(artifact):
    assert sorted(p.name for p in artifact.iterdir()) == [
        "manifest.json",
        "model_main.program0.json",
        "variables.npz",
    ]
    manifest = read_manifest(str(artifact))  # schema, agreement, signature hash: all pass
    assert manifest["format"] == "tgc-accel-artifact" and manifest["format_version"] == 1
    assert [i["name"] for i in manifest["inputs"]] == ["x", "w"]
    assert manifest["outputs"] == [{"name": "y", "dtype": "float32", "shape": [130, 2]}]
    assert manifest["entry_points"][0]["symbol"] == "model_main"
    assert manifest["target"] == {"name": "accel", "machine": Machine().to_dict()}
    function = manifest["functions"]["model_main"]
    assert function["programs"] == ["model_main.program0.json"]
    assert function["host"]["steps"] == [{"program": 0}]
    assert function["host"]["results"] == [["alloc", 0]]
    # The program file is what `--emit program` prints, and runs on the simulator by itself.
    source = artifact.parent / "model.py"
    emitted = _run("compile", source, "--fetch", "y", "--target", "accel", "--emit", "program")
    assert emitted.exit_code == 0, emitted.output
    [program] = json.loads(emitted.output)["model_main"]["programs"]
    assert json.loads((artifact / "model_main.program0.json").read_text()) == program
    feeds = _matmul_inputs()
    [value] = Simulator(program).run([feeds["x"], feeds["w"]])
    np.testing.assert_array_equal(value, tgc.runtime.load(str(artifact))(**feeds)["y"])


def test_a_mlir_input_compiles_to_an_artifact_of_float64_tensors(tmp_path):
    path = _compile(tmp_path, MATMUL_MLIR, name="matmul.mlir")
    art = tgc.runtime.load(str(path))
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((64, 40)), rng.standard_normal((40, 30))
    c = art(a=a, b=b)["c"]
    # float64 in the signature; narrowed to float32 for device memory, bf16 on the matrix unit.
    assert c.dtype == np.float64 and c.shape == (64, 30)
    assert np.all(np.abs(c - a @ b) <= _bf16_bound(a, b))
    assert not np.allclose(c, a @ b, rtol=1e-6, atol=0)


def test_a_program_the_machine_refuses_is_a_compile_error_not_an_artifact(artifact, tmp_path):
    from tgc.lowering.accel.artifact import write_artifact
    from tgc.lowering.artifact import AotError, Lowered, Options, Signature

    program = json.loads((artifact / "model_main.program0.json").read_text())
    program["instructions"][0]["waits"] = [5]  # on a later instruction
    lowered = Lowered(Signature([], [], []), entry="model_main")
    host = _manifest(artifact)["functions"]["model_main"]["host"]
    lowered.stages["program"] = json.dumps({"model_main": {"programs": [program], "host": host}})
    message = (
        "the accel target made a program the machine refuses (model_main.program0.json; a tgc "
        f"bug: please report it): accel program: instruction 0 ({program['instructions'][0]['op']}"
        "): field 'waits[0]': waits on instruction 5, which is not earlier"
    )
    with pytest.raises(AotError, match=f"^{re.escape(message)}$"):
        write_artifact(lowered, Options(target="accel"), str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


def test_an_archive_is_written_loaded_and_inspected(tmp_path):
    archive = _compile(tmp_path, MATMUL, out="model.tar.gz")
    art = tgc.runtime.load(str(archive))
    feeds = _matmul_inputs(1)
    exact = feeds["x"].astype(np.float64) @ feeds["w"]
    assert np.all(np.abs(art(**feeds)["y"] - exact) <= _bf16_bound(feeds["x"], feeds["w"]))
    result = _run("inspect", archive)
    assert result.exit_code == 0, result.output
    assert "function model_main: 1 program; host steps: program 0" in result.output


# ---- running -------------------------------------------------------------------------------------


def test_the_api_runs_it_on_the_simulator_as_numpy_computes_within_bf16_rounding(artifact):
    art = tgc.runtime.load(str(artifact))
    assert isinstance(art, AccelArtifact) and art.backend == "simulator"
    for seed in range(3):
        feeds = _matmul_inputs(seed)
        y = art(**feeds)["y"]
        exact = feeds["x"].astype(np.float64) @ feeds["w"].astype(np.float64)
        assert y.dtype == np.float32 and y.shape == (130, 2)
        assert np.all(np.abs(y - exact) <= _bf16_bound(feeds["x"], feeds["w"]))
    positional = art(feeds["x"], w=feeds["w"])["y"]
    np.testing.assert_array_equal(positional, y)
    [stats] = art.last_stats
    assert stats.macs == 130 * 3 * 2
    assert stats.total_cycles == art.programs["model_main"][0].stats.total_cycles


def test_tgc_run_prints_or_saves_the_results(artifact, tmp_path):
    feeds = _matmul_inputs(2)
    for name, value in feeds.items():
        np.save(tmp_path / f"{name}.npy", value)
    inputs = [f"--input={n}={tmp_path / n}.npy" for n in feeds]
    printed = _run("run", artifact, *inputs)
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("y: float32[130, 2]\n")
    saved = _run("run", artifact, *inputs, "--output", tmp_path / "out.npz")
    assert saved.exit_code == 0, saved.output
    y = np.load(tmp_path / "out.npz")["y"]
    exact = feeds["x"].astype(np.float64) @ feeds["w"].astype(np.float64)
    assert np.all(np.abs(y - exact) <= _bf16_bound(feeds["x"], feeds["w"]))


def _two_layer_bound(x, w1, b1, w2) -> tuple:
    """(float64 reference, bound on |accel - reference|) of relu(x @ w1 + b1) @ w2: the first
    matmul's bf16 bound plus the float32 rounding of the bias add (half an ulp of at most
    |x| @ |w1| + |b1| and the error itself); relu does not grow an error; then the second
    matmul's bound on its perturbed operand, plus the first layer's error carried through w2."""
    pre = x @ w1 + b1
    h = np.maximum(pre, 0)
    pre_error = _bf16_bound(x, w1)
    pre_error += 2.0**-24 * (np.abs(x) @ np.abs(w1) + np.abs(b1) + pre_error)
    bound = _bf16_bound(np.abs(h) + pre_error, w2) + pre_error @ np.abs(w2)
    return h @ w2, bound


def test_a_two_layer_forward_pass_runs_its_programs_in_turn(two_layers, tmp_path):
    manifest = read_manifest(str(two_layers))
    function = manifest["functions"]["model_main"]
    count = len(function["programs"])
    assert function["programs"] == [f"model_main.program{n}.json" for n in range(count)]
    assert function["host"]["steps"] == [{"program": n} for n in range(count)]
    feeds = _two_layer_inputs()
    art = tgc.runtime.load(str(two_layers))
    y = art(**feeds)["y"]
    reference, bound = _two_layer_bound(*(feeds[n].astype(np.float64) for n in feeds))
    assert y.shape == (200, 10) and np.all(np.abs(y - reference) <= bound)
    # The worst case above is loose where a sum cancels; in norm the error is what bf16 operands
    # give, about 2^-8 relative (0.3 % measured): 2^-6 keeps a margin of 4 and still catches a
    # wrong layer (without the relu the result is off by about its own size).
    assert np.linalg.norm(y - reference) <= 2.0**-6 * np.linalg.norm(reference)
    assert len(art.last_stats) == count
    assert sum(s.macs for s in art.last_stats) == 200 * 150 * 140 + 200 * 140 * 10
    for name, value in feeds.items():
        np.save(tmp_path / f"{name}.npy", value)
    result = _run("run", two_layers, *[f"--input={n}={tmp_path / n}.npy" for n in feeds])
    assert result.exit_code == 0, result.output


def test_it_runs_without_mlir_or_the_compiler(artifact):
    """What a deployment needs: numpy and tgc.runtime; neither MLIR nor the lowering is
    imported (``import tgc`` itself brings the frontend, which imports no MLIR)."""
    code = (
        "import sys, numpy as np, tgc.runtime\n"
        f"art = tgc.runtime.load({str(artifact)!r})\n"
        "y = art(x=np.ones((130, 3), np.float32), w=np.ones((3, 2), np.float32))['y']\n"
        "assert (y == 3).all(), y\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'mlir' or m.startswith("
        "('tgc.lowering', 'tgc.passes'))])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


# ---- variables -----------------------------------------------------------------------------------


def _initial_weights() -> dict:
    rng = np.random.default_rng(5)
    return {
        "w1": rng.standard_normal((100, 50)).astype(np.float32),
        "b1": rng.standard_normal(50).astype(np.float32),
        "w2": rng.standard_normal((50, 10)).astype(np.float32),
    }


def _check_two_layers(y, x, weights) -> None:
    reference, bound = _two_layer_bound(
        *(np.asarray(v, np.float64) for v in (x, weights["w1"], weights["b1"], weights["w2"]))
    )
    assert y.shape == reference.shape and np.all(np.abs(y - reference) <= bound)
    assert np.linalg.norm(y - reference) <= 2.0**-6 * np.linalg.norm(reference)


def test_a_forward_pass_reads_its_variables_from_the_artifact(tmp_path):
    path = _compile(tmp_path, TWO_LAYER_VARIABLES)
    manifest = read_manifest(str(path))
    assert [i["name"] for i in manifest["inputs"]] == ["x"]
    assert sorted(manifest["variables_read"]) == ["b1", "w1", "w2"]
    assert manifest["variables_assigned"] == []
    entry = manifest["entry_points"][0]
    assert manifest["functions"]["model_main"]["host"]["arguments"] == len(entry["arguments"])
    art = tgc.runtime.load(str(path))
    weights = _initial_weights()
    for name, value in weights.items():
        np.testing.assert_array_equal(art.variables[name], value)
    x = np.random.default_rng(6).standard_normal((64, 100)).astype(np.float32)
    _check_two_layers(art(x=x)["y"], x, weights)
    # A variable set between calls is what the next call reads; reset brings the stored one back.
    art.variables["w2"] = weights["w2"] * -3
    _check_two_layers(art(x=x)["y"], x, dict(weights, w2=weights["w2"] * -3))
    art.save(str(tmp_path / "ckpt"))
    art.reset()
    _check_two_layers(art(x=x)["y"], x, weights)
    np.save(tmp_path / "x.npy", x)
    restored = _run(
        "run", path, "--input", f"x={tmp_path / 'x.npy'}", "--restore", tmp_path / "ckpt"
    )
    assert restored.exit_code == 0, restored.output
    saved = _run(
        "run",
        path,
        "--input",
        f"x={tmp_path / 'x.npy'}",
        "--restore",
        tmp_path / "ckpt",
        "--output",
        tmp_path / "y.npz",
    )
    assert saved.exit_code == 0, saved.output
    _check_two_layers(np.load(tmp_path / "y.npz")["y"], x, dict(weights, w2=weights["w2"] * -3))


def test_a_training_step_trains_as_the_cpu_artifact_does(tmp_path):
    args = ["--fetch", "loss", "--fetch", "train"]
    accel = _compile_training_step(tmp_path, args + ["--target", "accel"], "accel")
    cpu = _compile_training_step(tmp_path, args, "cpu")
    manifest = read_manifest(str(accel))
    assert sorted(manifest["variables_assigned"]) == ["b1", "w1", "w2"]
    on_accel, on_cpu = tgc.runtime.load(str(accel)), tgc.runtime.load(str(cpu))
    rng = np.random.default_rng(1)
    feeds = {
        "x": rng.standard_normal((64, 20)).astype(np.float32),
        "t": rng.standard_normal((64, 5)).astype(np.float32),
    }
    losses = []
    for _ in range(5):
        losses.append(on_accel(**feeds)["loss"])
        # bf16 operands (2^-8 relative each) in every matmul of the step: the loss within 2^-7
        # of float32's (0.02 % measured).
        assert abs(losses[-1] - on_cpu(**feeds)["loss"]) <= 2.0**-7 * abs(losses[-1])
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.8 * losses[0]
    for name, value in on_cpu.variables.items():
        # After five updates the weights agree to 2^-6 in norm (at most 0.5 % measured: the
        # bias, which starts from zero).
        difference = np.linalg.norm(on_accel.variables[name] - value)
        assert difference <= 2.0**-6 * np.linalg.norm(value), name
    # tgc run trains too: three steps saved in a checkpoint are the API's three steps exactly (the
    # simulator is deterministic).
    inputs = [f"--input={n}={_save(tmp_path, n, v)}" for n, v in feeds.items()]
    ran = _run("run", accel, *inputs, "--steps", 3, "--save", tmp_path / "ckpt")
    assert ran.exit_code == 0, ran.output
    three = tgc.runtime.load(str(accel))
    for _ in range(3):
        three(**feeds)
    restored = tgc.runtime.load(str(accel))
    restored.restore(str(tmp_path / "ckpt"))
    for name, value in three.variables.items():
        np.testing.assert_array_equal(restored.variables[name], value)


def _compile_training_step(tmp_path, args: list, out: str):
    source = tmp_path / "train.py"
    source.write_text(TRAINING_STEP)
    result = _run("compile", source, *args, "-o", tmp_path / out)
    assert result.exit_code == 0, result.output
    return tmp_path / out


def _with_variables(artifact, tmp_path):
    """The matmul's artifact with ``w`` made a variable it reads and a variable ``v`` it assigns
    (the product, as a training step's update would be): the manifest a graph with variables
    gets, with w's initial value in variables.npz."""
    from tgc.lowering.artifact import npz_bytes

    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    w = {"name": "w", "dtype": "float32", "shape": [3, 2]}
    v = {"name": "v", "dtype": "float32", "shape": [130, 2]}
    manifest["inputs"] = [manifest["inputs"][0]]
    manifest["variables"] = [dict(w, initial=True), dict(v, initial=False)]
    manifest["variables_read"], manifest["variables_assigned"] = ["w"], ["v"]
    entry = manifest["entry_points"][0]
    entry["arguments"] = [manifest["inputs"][0], dict(w, name="var:w")]
    entry["results"] = [manifest["outputs"][0], dict(v, name="var:v")]
    host = manifest["functions"]["model_main"]["host"]
    host["results"] = [["alloc", 0], ["alloc", 0]]
    initial = np.arange(6, dtype=np.float32).reshape(3, 2) - 2
    data = npz_bytes({"w": initial, "v": np.zeros((130, 2), np.float32)})
    (path / "variables.npz").write_bytes(data)
    manifest["checksums"]["variables.npz"] = file_record(data)
    _rewrite(path, manifest)
    return path, initial


def test_variables_are_read_and_assigned_between_calls_and_checkpointed(artifact, tmp_path):
    path, initial = _with_variables(artifact, tmp_path)
    art = tgc.runtime.load(str(path))
    x = np.arange(390, dtype=np.float32).reshape(130, 3) % 5 - 2  # small integers: exact in bf16
    y = art(x=x)["y"]
    np.testing.assert_array_equal(y, x @ initial)
    np.testing.assert_array_equal(art.variables["v"], y)
    y[0, 0] = 1e9  # the fetch and the variable are not one buffer
    assert art.variables["v"][0, 0] == (x @ initial)[0, 0]
    art.variables["w"] = initial * 2
    np.testing.assert_array_equal(art(x)["y"], x @ (initial * 2))
    art.save(str(tmp_path / "ckpt"))
    art.reset()
    np.testing.assert_array_equal(art.variables["w"], initial)
    art.restore(str(tmp_path / "ckpt"))
    np.testing.assert_array_equal(art.variables["w"], initial * 2)
    result = _run("run", path, "--steps", 2, "--input", f"x={_save(tmp_path, 'x', x)}")
    assert result.exit_code == 0, result.output


def _save(tmp_path, name: str, value: np.ndarray) -> str:
    np.save(tmp_path / f"{name}.npy", value)
    return str(tmp_path / f"{name}.npy")


# ---- inspect -------------------------------------------------------------------------------------


def _stats_of(path, file: str):
    return Simulator(json.loads((path / file).read_text())).stats


def test_inspect_shows_each_programs_cycles_utilisation_and_dma_traffic(artifact):
    result = _run("inspect", artifact)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"artifact {artifact} (format 1, entry model_main)"
    assert lines[1] == (
        "target   accel (simulated: 128x128 matrix unit, 128 vector lanes, 24 MiB buffer, "
        "DMA 256 B/cycle + 500 cycles, 940 MHz)"
    )
    assert "  x                        [130, 3] float32" in lines
    assert "  y                        [130, 2] float32" in lines
    assert "function model_main: 1 program; host steps: program 0" in lines
    assert "  program 0 (model_main.program0.json):" in lines
    stats = _stats_of(artifact, "model_main.program0.json")
    program = json.loads((artifact / "model_main.program0.json").read_text())
    instructions = next(line for line in lines if line.startswith("    instructions "))
    assert instructions.startswith(f"    instructions {len(program['instructions'])}: dma_in 2, ")
    assert "dma_out 1, matrix 1, " in instructions  # A's and B's tiles in, C's out, one matmul
    microseconds = stats.total_cycles / 940e6 * 1e6
    assert f"    cycles       {stats.total_cycles:,} ({microseconds:.3g} us at 940 MHz)" in lines
    # 780 MACs on a 128x128 array: a tiny fraction of what it could do in those cycles.
    utilisation = 780 / (128 * 128) / stats.total_cycles
    matrix = next(line for line in lines if line.startswith("    matrix unit  "))
    assert matrix.startswith(
        f"    matrix unit  utilisation {100 * utilisation:.3g} %, fraction of peak "
        f"{100 * utilisation:.3g} % (780 MACs, "
    )
    busy = next(line for line in lines if line.startswith("    busy cycles  "))
    assert f"dma_in {stats.busy_cycles['dma_in']:,}, " in busy
    assert f"matrix {stats.busy_cycles['matrix']:,}, " in busy
    # Each element of x and w is loaded once, y stored once; 2 flops per MAC.
    bytes_in, bytes_out = 4 * (130 * 3 + 3 * 2), 4 * 130 * 2
    assert (
        f"    DMA          {bytes_in:,} bytes in, {bytes_out:,} bytes out; arithmetic "
        f"intensity {2 * 780 / (bytes_in + bytes_out):.3g} flop/byte"
    ) in lines


def _two_programs(artifact, tmp_path):
    """The matmul's artifact computing its product twice, by a second program (a copy of the
    first) whose output is the result: a function of two programs, however the compiler
    schedules."""
    path = _copy(artifact, tmp_path)
    shutil.copy(path / "model_main.program0.json", path / "model_main.program1.json")
    manifest = _manifest(path)
    function = manifest["functions"]["model_main"]
    function["programs"].append("model_main.program1.json")
    host = function["host"]
    host["programs"].append(host["programs"][0])
    host["steps"].append({"program": 1})
    host["allocs"][0]["from"] = [1, 0]
    manifest["checksums"]["model_main.program1.json"] = manifest["checksums"][
        "model_main.program0.json"
    ]
    _rewrite(path, manifest)
    return path


def test_inspect_sums_a_functions_programs(artifact, tmp_path):
    path = _two_programs(artifact, tmp_path)
    feeds = _matmul_inputs()
    np.testing.assert_array_equal(
        tgc.runtime.load(str(path))(**feeds)["y"], tgc.runtime.load(str(artifact))(**feeds)["y"]
    )
    result = _run("inspect", path)
    assert result.exit_code == 0, result.output
    assert "function model_main: 2 programs; host steps: program 0, program 1" in result.output
    assert "  program 1 (model_main.program1.json):" in result.output
    stats = _stats_of(path, "model_main.program0.json")
    cycles = 2 * stats.total_cycles  # one after the other
    utilisation = 2 * 780 / (128 * 128) / cycles
    assert (
        f"  all programs: {cycles:,} cycles ({cycles / 940:.3g} us), matrix utilisation "
        f"{100 * utilisation:.3g} %, fraction of peak {100 * utilisation:.3g} %\n"
    ) in result.output


def test_inspect_writes_each_programs_timeline_for_perfetto(artifact, tmp_path):
    path = _two_programs(artifact, tmp_path)
    result = _run("inspect", path, "--trace", tmp_path / "traces")
    assert result.exit_code == 0, result.output
    stats = _stats_of(path, "model_main.program0.json")
    for number in range(2):
        trace_path = tmp_path / "traces" / f"model_main.program{number}.trace.json"
        assert f"trace    {trace_path}" in result.output.splitlines()
        trace = json.loads(trace_path.read_text())
        assert trace["otherData"]["total_cycles"] == stats.total_cycles
        slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
        assert max(e["args"]["end_cycle"] for e in slices) == stats.total_cycles
        program = json.loads((path / "model_main.program0.json").read_text())
        assert {e["args"]["instruction"] for e in slices} == set(
            range(len(program["instructions"]))
        )


def test_trace_is_refused_for_an_artifact_without_a_timeline(tmp_path):
    source = tmp_path / "model.py"
    source.write_text(MATMUL)
    compiled = _run("compile", source, "--fetch", "y", "-o", tmp_path / "cpu")
    assert compiled.exit_code == 0, compiled.output
    result = _run("inspect", tmp_path / "cpu", "--trace", tmp_path / "traces")
    assert result.exit_code == 1
    assert result.output == (
        "tgc inspect: error: --trace: only an accel artifact has a simulated timeline; this is "
        "a tgc-artifact\n"
    )


# ---- errors: one line from the CLI, a typed exception from the API -------------------------------


def _one_line_error(command: str, path, message: str, *args) -> None:
    result = _run(command, path, *args)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"tgc {command}: error: ")
    assert message in result.output, result.output


def test_a_missing_manifest_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="is not a tgc artifact: cannot read manifest.json"):
        tgc.runtime.load(str(tmp_path / "empty"))
    _one_line_error("run", tmp_path / "empty", "is not a tgc artifact: cannot read manifest.json")


def test_a_corrupt_manifest_is_named(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    text = (path / "manifest.json").read_text()
    (path / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(ArtifactError, match="cannot read manifest.json"):
        tgc.runtime.load(str(path))
    _one_line_error("inspect", path, "cannot read manifest.json")


def test_a_wrong_format_version_says_what_this_runtime_reads(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["format_version"] = 2
    _rewrite(path, manifest, resign=False)
    message = (
        "unsupported artifact format 'tgc-accel-artifact' version 2 (this runtime reads "
        "tgc-accel-artifact version 1; compile it again with tgc compile --target accel)"
    )
    with pytest.raises(ArtifactError) as caught:
        load(str(path))
    assert str(caught.value) == f"{path}: {message}"
    _one_line_error("run", path, message)


def test_a_manifest_changed_after_compile_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["functions"]["model_main"]["host"]["results"] = [["alloc", 1]]
    _rewrite(path, manifest, resign=False)
    with pytest.raises(InvalidArtifact, match="functions or target were changed after compile"):
        load(str(path))
    _rewrite(path, manifest)  # signed again: the host plan's own check names the field
    message = "field 'functions.model_main.host.results[0]': there is no alloc 1"
    with pytest.raises(InvalidArtifact, match=message.replace("[", r"\[").replace("]", r"\]")):
        load(str(path))
    _one_line_error("run", path, message)


def test_a_host_plan_that_does_not_fit_its_programs_or_signature_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    inputs = manifest["functions"]["model_main"]["host"]["programs"][0]["inputs"]
    inputs[0]["source"], inputs[1]["source"] = inputs[1]["source"], inputs[0]["source"]
    _rewrite(path, manifest)
    with pytest.raises(
        InvalidArtifact,
        match=r"field 'functions\.model_main\.host\.programs\[0\]\.inputs\[0\]': argument 1 "
        r"has shape \[3, 2\], the program's input \[130, 3\]$",
    ):
        load(str(path))
    inputs[0]["source"], inputs[1]["source"] = inputs[1]["source"], inputs[0]["source"]
    for spec in (manifest["outputs"][0], manifest["entry_points"][0]["results"][0]):
        spec["shape"] = [130, 3]
    _rewrite(path, manifest)
    with pytest.raises(
        InvalidArtifact,
        match=r"field 'functions\.model_main\.host\.results\[0\]': alloc 0 has shape "
        r"\[130, 2\], the entry point's result 'y' \[130, 3\]$",
    ):
        load(str(path))


def test_a_manifest_field_of_the_wrong_kind_is_named(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["functions"]["model_main"]["host"]["steps"] = [{"program": 0, "send": {}}]
    _rewrite(path, manifest)
    with pytest.raises(InvalidArtifact, match=r"field 'functions\.model_main\.host\.steps\[0\]': "):
        load(str(path))


def test_a_missing_program_file_is_named(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    (path / "model_main.program0.json").unlink()
    message = f"{path / 'model_main.program0.json'}: cannot read it (No such file or directory)"
    with pytest.raises(InvalidArtifact, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(str(path))
    _one_line_error("run", path, message)
    _one_line_error("inspect", path, message)


def test_a_changed_program_file_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    program = path / "model_main.program0.json"
    program.write_text(program.read_text().replace('"waits": []', '"waits": [ ]', 1))
    with pytest.raises(
        InvalidArtifact, match="the manifest records .* \\(truncated or replaced\\)"
    ):
        load(str(path))
    program.write_text(program.read_text().replace('"waits": [ ]', '"waits": []', 1)[:-2] + "\n\n")
    with pytest.raises(InvalidArtifact, match="its SHA-256 differs"):
        load(str(path))


def test_a_program_the_machine_refuses_is_named_with_its_file(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    file = "model_main.program0.json"
    _rewrite_program(path, file, lambda p: p["instructions"].append({"op": "fly", "waits": []}))
    count = len(json.loads((path / file).read_text())["instructions"])
    message = (
        f"{path / file}: the accelerator refuses this program: accel program: instruction "
        f"{count - 1} (fly)"
    )
    with pytest.raises(InvalidArtifact) as caught:
        load(str(path))
    assert str(caught.value).startswith(message)
    _one_line_error("run", path, message)
    _one_line_error("inspect", path, message)


def test_a_program_for_another_machine_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    _rewrite_program(
        path, "model_main.program0.json", lambda p: p["machine"].update(array_rows=256)
    )
    with pytest.raises(InvalidArtifact, match="not for the machine the manifest names"):
        load(str(path))


def test_wrong_inputs_are_named(artifact, tmp_path):
    art = tgc.runtime.load(str(artifact))
    feeds = _matmul_inputs()
    with pytest.raises(
        ArtifactError, match=r"^input 'x' has shape \[130, 3\] float32, got \[4, 3\]$"
    ):
        art(x=np.zeros((4, 3), np.float32), w=feeds["w"])
    with pytest.raises(ArtifactError, match=r"^missing input\(s\) w; the inputs are x, w$"):
        art(x=feeds["x"])
    with pytest.raises(ArtifactError, match=r"^expected at most 2 inputs \(x, w\) but got 3$"):
        art(feeds["x"], feeds["w"], feeds["w"])
    with pytest.raises(ArtifactError, match="^input 'w' wants float32, got complex128$"):
        art(x=feeds["x"], w=np.zeros((3, 2), complex))
    x = _save(tmp_path, "x", np.zeros((4, 3), np.float32))
    w = _save(tmp_path, "w", feeds["w"])
    _one_line_error(
        "run",
        artifact,
        "input 'x' has shape [130, 3] float32, got [4, 3]",
        "--input",
        f"x={x}",
        "--input",
        f"w={w}",
    )
    _one_line_error("run", artifact, "missing input(s) w", "--input", f"x={x}")
