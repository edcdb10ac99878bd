"""Loads and runs an accel artifact ("tgc-accel-artifact", written by `tgc compile --target accel`)
on the accelerator's simulator, with numpy only (no MLIR, nothing of the compiler).

The artifact directory holds::

    manifest.json            the signature (inputs, outputs, variables, as the CPU artifact's), per
                             compiled function its program files and host plan, the machine the
                             programs were made for, each file's size and SHA-256, the hash of the
                             signature, functions and target
    <function>.program<N>.json   the accelerator's programs (docs/accel-machine.md), each with its
                             machine: `Simulator(json.load(file))` runs one on its own
    variables.npz            initial variable values

``load(path)`` checks all of it before anything runs: the manifest against
accel_manifest.schema.json and against itself, every file's checksum, every program by the
simulator's own checks (a program the machine refuses is an InvalidArtifact naming the file), and
the host plan's references and shapes against the programs and the signature. The loaded artifact is
called as the CPU's is: ``art(x=array)`` returns {fetch name: array}; variables live in
``art.variables`` between calls (a variable the function assigns takes the new value), ``save`` /
``restore`` / ``reset`` checkpoint them. ``art.programs`` gives each function's programs (their
simulators: ``stats`` known before any run, ``write_trace`` for Perfetto); ``art.last_stats`` the
statistics of the programs the last call ran.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from tgc.runtime import artifact_checks as checks
from tgc.runtime.accel.host_plan import HostPlanError, ProgramRun, check_host_plan, simulators_of
from tgc.runtime.accel.program import ProgramError
from tgc.runtime.accel.simulator import InputError
from tgc.runtime.artifact import (
    Artifact,
    ArtifactError,
    InvalidArtifact,
    Signature,
    TensorInfo,
    _unpacked,
    manifest_json,
)

FORMAT = "tgc-accel-artifact"
FORMAT_VERSION = 1
SCHEMA_FILE = "accel_manifest.schema.json"
SIGNED_FIELDS = (*checks.SIGNATURE_FIELDS, "functions", "target")


def signature_digest(manifest: dict) -> str:
    """SHA-256 (hex) of what the programs were compiled for: the signature fields, the functions
    (program files and host plans) and the target (its machine)."""
    fields = {key: manifest[key] for key in SIGNED_FIELDS}
    return hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def program_file(function: str, number: int) -> str:
    """The name of a function's program file in the artifact."""
    return f"{function}.program{number}.json"


# ---- checking the manifest -----------------------------------------------------------------------


def read_manifest(path: str) -> dict:
    """The manifest of the artifact directory ``path``, checked against the schema and itself."""
    where = os.path.join(path, "manifest.json")
    manifest = manifest_json(path, FORMAT, FORMAT_VERSION, "tgc compile --target accel")
    checks.validate_manifest(manifest, where, SCHEMA_FILE)
    if signature_digest(manifest) != manifest["signature"]["sha256"]:
        raise InvalidArtifact(
            f"{where}: its signature, functions or target were changed after compile (their "
            "hash is not the recorded one)"
        )
    _check_entry(manifest, where)
    return manifest


def _check_entry(manifest: dict, where: str) -> None:
    """The entry point's function is among the functions, takes the entry's arguments and
    returns its results; every program file has a checksum."""
    entry = manifest["entry_points"][0]
    function = manifest["functions"].get(entry["symbol"])
    if function is None:
        raise InvalidArtifact(f"{where}: field 'functions': no '{entry['symbol']}'")
    field = f"functions.{entry['symbol']}.host"
    host = function["host"]
    if host["arguments"] != len(entry["arguments"]):
        raise InvalidArtifact(
            f"{where}: field '{field}.arguments': {host['arguments']}, but the entry point takes "
            f"{len(entry['arguments'])}"
        )
    if len(host["results"]) != len(entry["results"]):
        raise InvalidArtifact(
            f"{where}: field '{field}.results': {len(host['results'])} results, but the entry "
            f"point returns {len(entry['results'])}"
        )
    for name, plan in manifest["functions"].items():
        for position, file in enumerate(plan["programs"]):
            if file not in manifest["checksums"]:
                raise InvalidArtifact(
                    f"{where}: field 'functions.{name}.programs[{position}]': no checksum for "
                    f"'{file}'"
                )


def _check_shapes(host: dict, simulators: list, entry: dict, where: str) -> None:
    """Each program input gets a tensor of its shape and each result is of the entry's shape:
    the host plan, the programs and the signature were made together."""
    shapes = {
        "argument": [a["shape"] for a in entry["arguments"]],
        "alloc": [a["shape"] for a in host["allocs"]],
        "received": {s["recv"]["key"]: s["recv"]["shape"] for s in host["steps"] if "recv" in s},
    }

    def shape_of(ref):
        kind, index = ref
        return shapes[kind][index]

    for number, (spec, simulator) in enumerate(zip(host["programs"], simulators)):
        for (_, tensor), source in zip(simulator.program.inputs, spec["inputs"]):
            have = shape_of(source["source"])
            if have is not None and list(have) != list(tensor.shape):
                raise InvalidArtifact(
                    f"{where}.programs[{number}].inputs[{tensor.index}]': {source['source'][0]} "
                    f"{source['source'][1]} has shape {list(have)}, the program's input "
                    f"{list(tensor.shape)}"
                )
    for position, (ref, result) in enumerate(zip(host["results"], entry["results"])):
        have = shape_of(ref)
        if have is not None and list(have) != result["shape"]:
            raise InvalidArtifact(
                f"{where}.results[{position}]': {ref[0]} {ref[1]} has shape {list(have)}, the "
                f"entry point's result '{result['name']}' {result['shape']}"
            )


# ---- the loaded artifact -------------------------------------------------------------------------


class AccelArtifact(Artifact):
    """A loaded accel artifact: ``art(x=array)`` or ``art(array)`` returns {fetch name: array},
    computed by the simulator."""

    backend = "simulator"

    def __init__(self, path: str):
        self.path = _unpacked(os.fspath(path), self)
        try:
            self._read()
        except checks.InvalidArtifact as exc:
            raise InvalidArtifact(str(exc)) from None

    def _read(self) -> None:
        self.manifest = read_manifest(self.path)
        entry = self.manifest["entry_points"][0]
        self.signature = Signature(
            [TensorInfo(e) for e in self.manifest["inputs"]],
            [TensorInfo(e) for e in self.manifest["outputs"]],
            [TensorInfo(e) for e in self.manifest["variables"]],
        )
        self.function = entry["symbol"]
        self._results = [TensorInfo(e) for e in entry["results"]]
        self._var_inputs = list(self.manifest["variables_read"])
        self._var_outputs = list(self.manifest["variables_assigned"])
        self._initial = self._read_initial_values()
        self.variables = {n: v.copy() for n, v in self._initial.items()}
        self.step = 0
        self.programs = {name: self._load_programs(name) for name in self.manifest["functions"]}
        where = os.path.join(self.path, "manifest.json")
        field = f"{where}: field 'functions.{self.function}.host"
        host = self.manifest["functions"][self.function]["host"]
        _check_shapes(host, self.programs[self.function], entry, field)
        self.last_stats = None
        self._run = ProgramRun(
            self.function,
            self.programs[self.function],
            host,
            [r.dtype for r in self._results],
            on_run=self._keep_stats,
        )

    def _load_programs(self, function: str) -> list:
        """The function's programs on the simulator, each checked by it; then its host plan
        against them."""
        machine = self.manifest["target"]["machine"]
        plan = self.manifest["functions"][function]
        simulators = []
        for file in plan["programs"]:
            path = checks.check_file(self.path, file, self.manifest)
            try:
                with open(path, encoding="utf-8") as fh:
                    program = json.load(fh)
            except (OSError, ValueError) as exc:
                raise InvalidArtifact(f"{path}: cannot read the program ({exc})") from None
            if not isinstance(program, dict) or program.get("machine", machine) != machine:
                raise InvalidArtifact(
                    f"{path}: the program is not for the machine the manifest names "
                    "(field 'target.machine')"
                )
            try:
                [simulator] = simulators_of([program], machine)
            except ProgramError as exc:
                raise InvalidArtifact(
                    f"{path}: the accelerator refuses this program: {exc}"
                ) from None
            simulators.append(simulator)
        try:
            check_host_plan(plan["host"], simulators, f"functions.{function}.host")
        except HostPlanError as exc:
            where = os.path.join(self.path, "manifest.json")
            raise InvalidArtifact(f"{where}: {exc}") from None
        return simulators

    def _keep_stats(self, function: str, stats: list) -> None:
        self.last_stats = stats

    def __call__(self, *args, **kwargs) -> dict:
        feeds = self._bind(args, kwargs)
        arrays = [self._check(info, value) for info, value in zip(self.signature.inputs, feeds)]
        if self.manifest["step_input"]:
            self.step += 1
            arrays.append(np.asarray(self.step, np.int64))
        arrays += [self.variables[n] for n in self._var_inputs]
        try:
            outputs = self._run(*arrays)
        except (InputError, HostPlanError) as exc:  # the checks at load make these unlikely
            raise ArtifactError(f"running {self.function} on the simulator: {exc}") from None
        fetched = len(self.signature.outputs)
        self.variables.update(zip(self._var_outputs, outputs[fetched:]))
        return dict(zip([o.name for o in self.signature.outputs], outputs[:fetched]))

    @property
    def machine(self) -> dict:
        """The machine the programs were made for (tgc.runtime.accel.Machine's fields)."""
        return dict(self.manifest["target"]["machine"])

    def program_files(self, function: str) -> list:
        return list(self.manifest["functions"][function]["programs"])

    def write_traces(self, directory: str) -> list:
        """Writes each program's timeline as a Chrome trace (Perfetto, chrome://tracing) into
        ``directory``, named after its program file (``.trace.json``); returns the paths. The
        timing depends on the program only, so nothing is run."""
        os.makedirs(directory, exist_ok=True)
        written = []
        for function, simulators in self.programs.items():
            for file, simulator in zip(self.program_files(function), simulators):
                path = os.path.join(directory, file.removesuffix(".json") + ".trace.json")
                simulator.write_trace(path)
                written.append(path)
        return written

    def __repr__(self) -> str:
        count = sum(len(s) for s in self.programs.values())
        return (
            f"<tgc AccelArtifact {self.path} ({count} program{'s' if count != 1 else ''} on the "
            f"simulator) {self.signature}>"
        )


def load(path: str) -> AccelArtifact:
    """Loads an accel artifact directory or archive; it runs on the simulator."""
    return AccelArtifact(path)


__all__ = ["load", "AccelArtifact", "read_manifest", "signature_digest", "program_file"]
