"""Fuzzing of the `tgc` tools: `tgc opt` on mutants of the lit inputs, `tgc compile` on mutants of
an exported graph, `tgc run` and `tgc inspect` on damaged artifacts.

The rule every mutant is held to: a clean error (exit status 1, ``error:`` on stderr, no Python
traceback, no MLIR assertion text) or a right answer (exit status 0; for `tgc opt`, IR that reads
back and prints the same; for `tgc run`, the numbers of the undamaged artifact; for `tgc compile`,
an artifact that loads) -- never a traceback, never a signal, never a hang. Each mutant runs the CLI
in a forked child of this process (click's CliRunner there), so a signal or a hang is seen and
reported instead of killing the test run.

Mutants are reproducible: ``(seed, index)`` fixes every random choice. tests/unit/test_tool_fuzz.py
runs a bounded number in the suite; benchmarks/tool_fuzz.py runs long campaigns.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import re
import shutil
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIT_DIR = os.path.join(ROOT, "tests", "lit")
SPLIT = re.compile(r"^[ \t]*// -----[ \t]*$", re.MULTILINE)
CHILD_TIMEOUT_S = 120


@dataclass
class Outcome:
    """What one CLI run did: exit status or signal, its output, the exception it raised if any."""

    exit_code: int | None = None
    signal: str | None = None
    stdout: str = ""
    stderr: str = ""
    exception: str = ""
    timed_out: bool = False


@dataclass
class Verdict:
    mutant: str  # how to reproduce it: seed, index and the mutations applied
    outcome: Outcome
    problem: str | None = None  # None: a clean error or a right answer

    def line(self) -> str:
        status = self.problem or f"ok (exit {self.outcome.exit_code})"
        return f"{self.mutant}: {status}"


# ---- running the CLI in a forked child -----------------------------------------------------------


def warm_up() -> None:
    """Imports what the CLI imports lazily, so each forked child starts with it loaded."""
    import tgc.driver.jit  # noqa: F401  (the default pipeline)
    import tgc.passes.verify  # noqa: F401
    import tgc.tools.cli  # noqa: F401
    from tgc.dialect.context import make_context
    from tgc.runtime import artifact_checks

    make_context()  # loads the dialect registry and the IRDL text once
    artifact_checks.schema_validator()
    from click.testing import CliRunner

    # One run of the default pipeline imports what the passes import lazily and checks its upstream
    # elements once (tgc.passes.pipeline caches that); every child inherits both.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "warm.mlir")
        with open(path, "w") as fh:
            fh.write(WARM_UP_MODULE)
        os.environ["TGC_NO_FORK"] = "1"
        try:
            CliRunner().invoke(tgc.tools.cli.main, ["opt", path, "--default-pipeline"])
        finally:
            del os.environ["TGC_NO_FORK"]


WARM_UP_MODULE = """func.func @main(%x: tensor<?x3xf32>, %w: tensor<3x3xf32>) -> tensor<?x3xf32> {
  %0 = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false}
      : (tensor<?x3xf32>, tensor<3x3xf32>) -> tensor<?x3xf32>
  %1 = "tgc.relu"(%0) : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %1 : tensor<?x3xf32>
}
"""


def run_cli(args: list, input_text: str | None = None) -> Outcome:
    """``tgc ARGS`` through CliRunner in a forked child; a signal or hang is
    recorded, not suffered."""
    with tempfile.TemporaryFile() as result:
        pid = os.fork()
        if pid == 0:
            _child(args, input_text, result)
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome(timed_out=True)
            time.sleep(0.002)
        if os.WIFSIGNALED(status):
            return Outcome(signal=signal.Signals(os.WTERMSIG(status)).name)
        result.seek(0)
        data = result.read()
        return (
            pickle.loads(data)
            if data
            else Outcome(exception=f"the child exited {os.WEXITSTATUS(status)} silently")
        )


def _child(args, input_text, result) -> None:
    try:
        import faulthandler

        # a crash is reported by the parent, not as a dump on pytest's terminal
        faulthandler.disable()
        from click.testing import CliRunner

        from tgc.tools.cli import main

        run = CliRunner().invoke(main, args, input=input_text, catch_exceptions=True)
        exception = ""
        if run.exception is not None and not isinstance(run.exception, SystemExit):
            exception = "".join(traceback.format_exception(*run.exc_info))
        outcome = Outcome(run.exit_code, None, run.stdout, run.stderr, exception)
        os.write(result.fileno(), pickle.dumps(outcome))
    finally:
        os._exit(0)


def judge(outcome: Outcome, right_answer=None) -> str | None:
    """None when the run kept the rule; else what went wrong."""
    if outcome.timed_out:
        return f"hung (no answer in {CHILD_TIMEOUT_S} s)"
    if outcome.signal:
        return f"killed by {outcome.signal}"
    if outcome.exception:
        return "raised " + outcome.exception.strip().splitlines()[-1]
    text = outcome.stdout + outcome.stderr
    for bad in (
        "Traceback (most recent call last)",
        "Assertion",
        "Fatal Python error",
        "LLVM ERROR",
    ):
        if bad in text:
            return f"printed '{bad}': " + _first_line_with(text, bad)
    if outcome.exit_code == 1:
        if "error:" not in outcome.stderr:
            return "exit 1 without 'error:' on stderr: " + outcome.stderr.strip()[:200]
        return None
    if outcome.exit_code != 0:
        return f"exit status {outcome.exit_code}"
    if right_answer is not None:
        return right_answer(outcome)
    return None


def _first_line_with(text: str, needle: str) -> str:
    return next((line.strip() for line in text.splitlines() if needle in line), "")[:300]


# ---- tgc opt on mutants of the lit inputs --------------------------------------------------------


def lit_inputs() -> list:
    """(name, text) of every lit input file, sorted (the same list on every machine)."""
    found = []
    for folder, _, files in os.walk(LIT_DIR):
        for name in sorted(files):
            if name.endswith(".mlir"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    found.append((os.path.relpath(path, LIT_DIR), fh.read()))
    return sorted(found)


ELEMENT_TYPES = [
    "f32",
    "f64",
    "f16",
    "bf16",
    "i1",
    "i8",
    "i32",
    "i64",
    "index",
    "complex<f32>",
    "none",
]
_ELEMENT = re.compile(r"\b(f16|bf16|f32|f64|i1|i8|i32|i64|index)\b")
_DIM = re.compile(r"(?<=[<x])(\?|\d+)(?=x)")
_SSA = re.compile(r"%[A-Za-z0-9_]+")
_NUMBER = re.compile(r"-?\b\d+\b")


def _lines(text):
    return text.splitlines(keepends=True)


def delete_line(rng, text):
    lines = _lines(text)
    if lines:
        del lines[rng.randrange(len(lines))]
    return "".join(lines)


def duplicate_line(rng, text):
    lines = _lines(text)
    if lines:
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return "".join(lines)


def _replace_one(rng, pattern, text, make):
    matches = list(pattern.finditer(text))
    if not matches:
        return text
    m = rng.choice(matches)
    return text[: m.start()] + make(m.group(0)) + text[m.end() :]


def change_dim(rng, text):
    return _replace_one(
        rng, _DIM, text, lambda _: rng.choice(["?", "0", "1", "2", "3", "7", "1000000000000"])
    )


def change_element_type(rng, text):
    return _replace_one(
        rng, _ELEMENT, text, lambda old: rng.choice([t for t in ELEMENT_TYPES if t != old])
    )


def swap_ssa_names(rng, text):
    names = sorted(set(_SSA.findall(text)))
    if len(names) < 2:
        return text
    a, b = rng.sample(names, 2)
    if rng.random() < 0.5:  # swap everywhere
        return _SSA.sub(
            lambda m: b if m.group(0) == a else a if m.group(0) == b else m.group(0), text
        )
    return _replace_one(rng, re.compile(re.escape(a) + r"\b"), text, lambda _: b)  # one use renamed


def change_number(rng, text):
    return _replace_one(
        rng, _NUMBER, text, lambda _: str(rng.choice([-1, 0, 1, 2, 5, 64, -(2**40), 2**62]))
    )


def truncate(rng, text):
    return text[: rng.randrange(len(text) + 1)]


def random_bytes(rng, text):
    data = bytearray(text.encode("utf-8", errors="surrogateescape"))
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(data) + 1)
        data[position : position + rng.randint(0, 2)] = bytes(
            rng.randrange(256) for _ in range(rng.randint(1, 4))
        )
    return data.decode("utf-8", errors="surrogateescape")


_OP_NAME = re.compile(r'"tgc\.[a-z0-9_]+"')
_OP_NAMES: list = []


def change_op_name(rng, text):
    """One tgc op becomes another (its operands, attributes and types stay): the verifier's work."""
    if not _OP_NAMES:
        from tgc.dialect.registry import load_all_ops

        _OP_NAMES.extend(sorted(f'"{opdef.mlir_name}"' for opdef in load_all_ops().values()))
    return _replace_one(rng, _OP_NAME, text, lambda _: rng.choice(_OP_NAMES))


TEXT_MUTATIONS = [
    delete_line,
    duplicate_line,
    change_dim,
    change_element_type,
    swap_ssa_names,
    change_number,
    truncate,
    random_bytes,
    change_op_name,
]


def opt_mutant(seed: int, index: int, inputs: list) -> tuple:
    """(description, file bytes, extra CLI args) of mutant ``index`` of campaign ``seed``."""
    rng = random.Random(f"opt-{seed}-{index}")
    name, text = rng.choice(inputs)
    args = []
    chunks = SPLIT.split(text)
    if len(chunks) > 1 and rng.random() < 0.8:
        text = rng.choice(chunks)
    elif len(chunks) > 1:
        args.append("--split-input-file")
    mutations = rng.choices(TEXT_MUTATIONS, k=rng.choice([1, 1, 2, 3]))
    for mutate in mutations:
        text = mutate(rng, text)
    if rng.random() < 0.5:
        args.append("--default-pipeline")
    data = text.encode("utf-8", errors="surrogateescape")
    described = (
        f"opt seed={seed} index={index} {name} "
        f"[{', '.join(m.__name__ for m in mutations)}] {' '.join(args)}"
    )
    return described, data, args


def _reparses(outcome: Outcome, args: list, workdir: str) -> str | None:
    """What `tgc opt` printed is IR that `tgc opt` reads back unchanged (the
    printer/parser round trip)."""
    path = os.path.join(workdir, "printed.mlir")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(outcome.stdout)
    split = ["--split-input-file"] if "--split-input-file" in args else []
    again = run_cli(["opt", path, *split])
    if again.exit_code != 0:
        return f"printed IR that does not parse again: {again.stderr.strip()[:300]}"
    if again.stdout != outcome.stdout:
        return "printed IR that prints differently when read back"
    return None


def fuzz_opt(seed: int, count: int, workdir: str, start: int = 0):
    """Yields a Verdict per mutant."""
    inputs = lit_inputs()
    warm_up()
    for index in range(start, start + count):
        described, data, args = opt_mutant(seed, index, inputs)
        path = os.path.join(workdir, "mutant.mlir")
        with open(path, "wb") as fh:
            fh.write(data)
        outcome = run_cli(["opt", path, *args])
        yield Verdict(described, outcome, judge(outcome, lambda o: _reparses(o, args, workdir)))


# ---- tgc run on damaged artifacts ----------------------------------------------------------------


@dataclass
class Pristine:
    """An undamaged artifact, its inputs as .npy files, and the outputs it gives for them."""

    path: str
    inputs: dict  # name -> .npy path
    outputs: dict = field(default_factory=dict)  # name -> array
    source: str = ""  # the tgc IR it was compiled from


WRONG_VALUES = [None, [], {}, "x", "", -1, 0, 1.5, 10**12, True, [None], {"name": 1}]
DTYPES = ["float16", "bfloat16", "float32", "float64", "int32", "int64", "bool"]


def _paths(value, prefix=()):
    """Every (path) to a value inside a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


def _get(document, path):
    for part in path:
        document = document[part]
    return document


def remove_field(rng, m):
    paths = [p for p in _paths(m) if p]
    path = rng.choice(paths)
    parent = _get(m, path[:-1])
    del parent[path[-1]]
    return m, f"removed {'/'.join(map(str, path))}"


def wrong_type(rng, m):
    paths = [p for p in _paths(m) if p]
    path = rng.choice(paths)
    value = rng.choice(WRONG_VALUES)
    _get(m, path[:-1])[path[-1]] = value
    return m, f"{'/'.join(map(str, path))} = {value!r}"


def wrong_dtype(rng, m):
    tensors = [p for p in _paths(m) if p and p[-1] == "dtype"]
    if not tensors:
        return m, "no dtype"
    dtype = rng.choice(DTYPES)
    chosen = rng.sample(tensors, rng.randint(1, min(3, len(tensors))))
    for path in chosen:
        _get(m, path[:-1])["dtype"] = dtype
    return m, f"dtype {dtype} at {', '.join('/'.join(map(str, p)) for p in chosen)}"


def wrong_shape(rng, m):
    shapes = [p for p in _paths(m) if p and p[-1] == "shape"]
    if not shapes:
        return m, "no shape"
    shape = rng.choice(
        [[], [None], [1], [0, 3], [5, 3], [3, 5], [None, 5], [None, None, None], [2**40, 2**40]]
    )
    chosen = rng.sample(shapes, rng.randint(1, min(3, len(shapes))))
    for path in chosen:
        _get(m, path[:-1])["shape"] = list(shape)
    return m, f"shape {shape} at {', '.join('/'.join(map(str, p)) for p in chosen)}"


def drop_list_item(rng, m):
    lists = [p for p in _paths(m) if isinstance(_get(m, p), list) and _get(m, p)]
    if not lists:
        return m, "no list"
    path = rng.choice(lists)
    _get(m, path).pop(rng.randrange(len(_get(m, path))))
    return m, f"dropped an item of {'/'.join(map(str, path))}"


def whole_manifest(rng, m):
    value = rng.choice([[], None, "manifest", 1, [m]])
    return value, f"manifest = {type(value).__name__}"


MANIFEST_MUTATIONS = [
    remove_field,
    wrong_type,
    wrong_dtype,
    wrong_shape,
    drop_list_item,
    whole_manifest,
]


def _damage_manifest(rng, path):
    name = os.path.join(path, "manifest.json")
    with open(name) as fh:
        manifest = json.load(fh)
    notes = []
    for mutate in rng.choices(MANIFEST_MUTATIONS, k=rng.choice([1, 1, 2])):
        if not isinstance(manifest, dict):
            break
        manifest, note = mutate(rng, manifest)
        notes.append(note)
    if isinstance(manifest, dict) and rng.random() < 0.5:
        _rehash(
            manifest
        )  # as a careful hand-editor would: only the code's own hash still disagrees
        notes.append("rehashed")
    text = json.dumps(manifest)
    if rng.random() < 0.1:
        text = text[: rng.randrange(len(text))]
        notes.append("truncated")
    with open(name, "w") as fh:
        fh.write(text)
    return "manifest: " + "; ".join(notes)


def _rehash(manifest):
    from tgc.runtime.artifact_checks import signature_digest

    try:
        manifest["signature"]["sha256"] = signature_digest(manifest)
    except (KeyError, TypeError, ValueError):
        pass


def _record_checksum(path, name):
    manifest_path = os.path.join(path, "manifest.json")
    with open(manifest_path) as fh:
        manifest = json.load(fh)
    with open(os.path.join(path, name), "rb") as fh:
        data = fh.read()
    manifest["checksums"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    with open(manifest_path, "w") as fh:
        json.dump(manifest, fh)


def _damage_bytes(rng, data: bytes) -> tuple:
    choice = rng.randrange(3)
    if choice == 0 or not data:
        cut = rng.randrange(len(data) + 1)
        return data[:cut], f"truncated to {cut} of {len(data)} bytes"
    if choice == 1:
        data = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data), "bytes flipped"
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 4096))), "random bytes"


def _damage_file(rng, path, role):
    with open(os.path.join(path, "manifest.json")) as fh:
        name = json.load(fh)["files"][role]
    if name is None:
        return f"{role}: none to damage"
    with open(os.path.join(path, name), "rb") as fh:
        data, note = _damage_bytes(rng, fh.read())
    with open(os.path.join(path, name), "wb") as fh:
        fh.write(data)
    # With the checksum updated, the structure checks must catch a truncated or foreign file. Bytes
    # changed inside a well-formed library with a matching checksum are not damage but another
    # library, which no loader can tell from a real one: those keep the recorded checksum.
    if rng.random() < 0.5 and (role != "library" or "flipped" not in note):
        _record_checksum(path, name)
        note += ", checksum updated"
    return f"{name}: {note}"


def _wrong_variables(rng, path):
    """Rewrites variables.npz (checksum updated) with arrays of a wrong shape or dtype, or missing;
    an array left as it was keeps its original value, so that a run that passes
    gives the same numbers."""
    with open(os.path.join(path, "manifest.json")) as fh:
        variables = json.load(fh)["variables"]
    with np.load(os.path.join(path, "variables.npz")) as original:
        arrays = {name: original[name] for name in original.files}
    for v in variables:
        shape = [d or 1 for d in v["shape"]]
        kind = rng.randrange(5)
        if kind == 0:
            shape = shape[::-1] + [2]
        elif kind == 1 and shape:
            shape[0] += 1
        elif kind == 2:
            dtype = rng.choice(
                [t for t in ("float32", "float64", "int64", "int32", "bool") if t != v["dtype"]]
            )
            arrays[v["name"]] = arrays[v["name"]].astype(dtype)
            continue
        elif kind == 3:
            del arrays[v["name"]]
            continue
        else:
            continue  # left as it was
        arrays[v["name"]] = np.zeros(shape, arrays[v["name"]].dtype)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with open(os.path.join(path, "variables.npz"), "wb") as fh:
        fh.write(buffer.getvalue())
    _record_checksum(path, "variables.npz")
    return "variables.npz: " + ", ".join(f"{k}{list(a.shape)} {a.dtype}" for k, a in arrays.items())


ARTIFACT_DAMAGE = {
    "manifest": _damage_manifest,
    "library": lambda rng, path: _damage_file(rng, path, "library"),
    "variables file": lambda rng, path: _damage_file(rng, path, "variables"),
    "variables": _wrong_variables,
}


def _bad_inputs(rng, pristine: Pristine, workdir: str) -> tuple:
    """Input files for the run: the pristine ones, or one of a wrong
    dtype/shape, or not an array."""
    inputs = dict(pristine.inputs)
    if rng.random() < 0.7 or not inputs:
        return inputs, ""
    name = rng.choice(sorted(inputs))
    path = os.path.join(workdir, f"bad-{name}.npy")
    kind = rng.randrange(5)
    if kind == 3:
        with open(path, "wb") as fh:
            fh.write(bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))))
    else:
        array = np.load(inputs[name])
        if (
            kind == 4
        ):  # a batch the other inputs' cannot broadcast with: a run-time check must refuse it
            array = np.concatenate([array, array])[: array.shape[0] + 2]
        else:
            array = [
                array.astype(np.float64),
                array.reshape(-1),
                np.zeros((1,) + array.shape, array.dtype),
            ][kind]
        np.save(path, array)
    inputs[name] = path
    return inputs, f"; input {name} damaged ({kind})"


def _damaged_checkpoint(rng, pristine: Pristine, workdir: str) -> tuple:
    """A checkpoint of the artifact's initial variables (step 0), then damaged; restoring it
    undamaged gives the pristine numbers."""
    from tgc.runtime import checkpoint, load

    path = os.path.join(workdir, "checkpoint.npz")
    values = dict(load(pristine.path).variables)
    kind = rng.randrange(4)
    if kind == 0:
        name = rng.choice(sorted(values))
        values[name] = values[name].astype(rng.choice(["float64", "int32", "bool"]))
    elif kind == 1:
        name = rng.choice(sorted(values))
        values[name] = np.zeros(values[name].shape + (2,), values[name].dtype)
    elif kind == 2:
        del values[rng.choice(sorted(values))]
    checkpoint.save(path, values, step=0)
    note = ["wrong dtype", "wrong shape", "a variable missing", "intact"][kind]
    if rng.random() < 0.5:
        with open(path, "rb") as fh:
            data, damage = _damage_bytes(rng, fh.read())
        with open(path, "wb") as fh:
            fh.write(data)
        note += f", {damage}"
    return path, f"checkpoint: {note}"


def _damaged_archive(rng, pristine: Pristine, workdir: str) -> tuple:
    """The artifact as a .tar.gz (as `tgc compile -o x.tar.gz` writes it), then damaged."""
    import tarfile

    path = os.path.join(workdir, "artifact.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        tar.add(pristine.path, arcname="artifact")
    with open(path, "rb") as fh:
        data, note = _damage_bytes(rng, fh.read())
    with open(path, "wb") as fh:
        fh.write(data)
    return path, f"archive: {note}"


def run_mutant(seed: int, index: int, pristine: Pristine, workdir: str) -> Verdict:
    rng = random.Random(f"run-{seed}-{index}")
    target = os.path.join(workdir, "damaged")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(pristine.path, target)
    kind = rng.choice(sorted(ARTIFACT_DAMAGE) + ["checkpoint", "archive"])
    restore = []
    if kind == "checkpoint":
        path, note = _damaged_checkpoint(rng, pristine, workdir)
        restore = ["--restore", path]
    elif kind == "archive":
        target, note = _damaged_archive(rng, pristine, workdir)
    else:
        note = ARTIFACT_DAMAGE[kind](rng, target)
    if (
        rng.random() < 0.1
    ):  # `tgc inspect` reads the same artifact: a clean error or its description
        outcome = run_cli(["inspect", target])
        return Verdict(f"inspect seed={seed} index={index} {note}", outcome, judge(outcome))
    inputs, input_note = _bad_inputs(rng, pristine, workdir)
    output = os.path.join(workdir, "out.npz")
    if os.path.exists(output):
        os.remove(output)
    args = ["run", target, "--output", output, *restore]
    args += [a for n, p in inputs.items() for a in ("--input", f"{n}={p}")]
    outcome = run_cli(args)
    described = f"run seed={seed} index={index} {note}{input_note}"
    return Verdict(described, outcome, judge(outcome, lambda o: _same_outputs(pristine, output)))


def _same_outputs(pristine: Pristine, output: str) -> str | None:
    """A damaged artifact that still ran must give the undamaged one's numbers."""
    try:
        with np.load(output) as got:
            for name, expected in pristine.outputs.items():
                if name not in got.files:
                    return f"ran, but output '{name}' is missing"
                if got[name].shape != expected.shape or not np.allclose(
                    got[name], expected, equal_nan=True
                ):
                    return f"ran and gave wrong numbers for '{name}'"
    except (OSError, ValueError) as exc:
        return f"ran, but its output file cannot be read: {exc}"
    return None


def compile_mutant(seed: int, index: int, source: str, workdir: str) -> Verdict:
    """`tgc compile` on a mutant of the pristine graph's tgc IR; an artifact it writes must load."""
    rng = random.Random(f"compile-{seed}-{index}")
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
    mutations = rng.choices(TEXT_MUTATIONS, k=rng.choice([1, 1, 2]))
    for mutate in mutations:
        text = mutate(rng, text)
    path = os.path.join(workdir, "mutant.mlir")
    with open(path, "wb") as fh:
        fh.write(text.encode("utf-8", errors="surrogateescape"))
    stage = rng.choice(["core", "llvm-ir", "artifact"])
    output = os.path.join(workdir, "compiled")
    shutil.rmtree(output, ignore_errors=True)
    outcome = run_cli(["compile", path, "--emit", stage, "-o", output])
    described = (
        f"compile seed={seed} index={index} "
        f"[{', '.join(m.__name__ for m in mutations)}] --emit={stage}"
    )

    def loads(_):
        if stage != "artifact":
            return None
        inspected = run_cli(["inspect", output])
        return (
            None
            if inspected.exit_code == 0
            else f"compiled, but tgc inspect says: {inspected.stderr.strip()}"
        )

    return Verdict(described, outcome, judge(outcome, loads))


def fuzz_compile(seed: int, count: int, pristine: Pristine, workdir: str, start: int = 0):
    warm_up()
    for index in range(start, start + count):
        yield compile_mutant(seed, index, pristine.source, workdir)


def fuzz_run(seed: int, count: int, pristine: Pristine, workdir: str, start: int = 0):
    warm_up()
    for index in range(start, start + count):
        yield run_mutant(seed, index, pristine, workdir)


def make_pristine(workdir: str) -> Pristine:
    """Compiles a small training step (variables read and assigned, a random op, so a step counter)
    and records its outputs for fixed inputs. The random op draws anew each call: outputs are
    compared from one fresh load, one call, as `tgc run` does."""
    import tgc as tf
    from tgc.runtime import load

    tf.reset_default_graph()
    tf.set_random_seed(7)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.float32, [None, 2], name="y")
    w = tf.Variable(tf.random_normal((4, 2), stddev=0.5), name="w")
    b = tf.Variable(tf.zeros((2,)), name="b")
    noisy = tf.nn.dropout(tf.matmul(x, w) + b, keep_prob=0.75)
    tf.reduce_mean(tf.square(noisy - y), name="loss")
    loss = tf.get_default_graph().get_tensor_by_name("loss:0")
    tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    source = os.path.join(workdir, "graph.mlir")
    tf.export_graph(["loss", "train"], None, path=source)
    tf.reset_default_graph()
    outcome = run_cli(["compile", source, "-o", os.path.join(workdir, "pristine")])
    if outcome.exit_code != 0:
        raise RuntimeError(f"compiling the pristine artifact failed: {outcome}")
    rng = np.random.default_rng(0)
    inputs = {}
    for name, shape in (("x", (3, 4)), ("y", (3, 2))):
        inputs[name] = os.path.join(workdir, f"{name}.npy")
        np.save(inputs[name], rng.standard_normal(shape).astype(np.float32))
    art = load(os.path.join(workdir, "pristine"))
    outputs = art(**{n: np.load(p) for n, p in inputs.items()})
    return Pristine(os.path.join(workdir, "pristine"), inputs, outputs, source)


__all__ = [
    "fuzz_opt",
    "fuzz_run",
    "fuzz_compile",
    "make_pristine",
    "run_cli",
    "judge",
    "Verdict",
    "Outcome",
    "lit_inputs",
]
