"""What an artifact must satisfy before tgc runs any of it: a manifest that matches its JSON schema
and agrees with itself, files of the size and SHA-256 recorded at compile time, a shared library
that is a whole ELF file for this machine, and variables of the manifest's dtypes and shapes.

A damaged or hand-edited artifact would otherwise be trusted: a wrong dtype or shape makes the
compiled code read past its buffers, a truncated library faults when it is mapped. The manifest's
signature fields (entry point, inputs, outputs, variables) are hashed (``signature_digest``) and the
hash is also compiled into the code (tgc/driver/aot.py), so an edit the schema cannot see is still
caught when the code is loaded. Imports numpy and jsonschema only, never MLIR.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import struct
import sys
from importlib import resources

SCHEMA_FILE = "manifest.schema.json"
SIGNATURE_FIELDS = (
    "entry_points",
    "inputs",
    "outputs",
    "step_input",
    "variables",
    "variables_read",
    "variables_assigned",
)
STEP_NAME = "tgc/rng_step"
VARIABLE_PREFIX = "var:"


class InvalidArtifact(Exception):
    """Says which file of the artifact is wrong, and which field or array."""


# ---- the manifest --------------------------------------------------------------------------------


_VALIDATORS: dict = {}  # schema file -> its validator, made once


def schema_validator(schema_file: str = SCHEMA_FILE):
    """The validator of one of the runtime's manifest schemas (a file next to this module)."""
    if schema_file not in _VALIDATORS:
        import jsonschema  # here: only loading an artifact needs it

        schema = json.loads(
            resources.files("tgc.runtime").joinpath(schema_file).read_text(encoding="utf-8")
        )
        jsonschema.Draft202012Validator.check_schema(schema)
        _VALIDATORS[schema_file] = jsonschema.Draft202012Validator(schema)
    return _VALIDATORS[schema_file]


def field_name(path) -> str:
    """``entry_points[0].arguments[1].dtype`` from a jsonschema error path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the whole manifest)"


def validate_manifest(manifest, where: str, schema_file: str = SCHEMA_FILE) -> None:
    """Raises InvalidArtifact naming the first wrong field (by the schema, then across fields)."""
    import jsonschema

    validator = schema_validator(schema_file)
    errors = sorted(
        validator.iter_errors(manifest), key=lambda e: (len(e.path), list(map(str, e.path)))
    )
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        raise InvalidArtifact(
            f"{where}: field '{field_name(error.absolute_path)}': {_message(error, validator)}"
        )
    _check_agreement(manifest, where)


_PATTERN_MEANING = {
    "file_name": "is not a file name inside the artifact (no '/', not '.' or '..')",
    "c_identifier": "is not a C identifier",
    "sha256": "is not a SHA-256 (64 lowercase hex digits)",
}


def _message(error, validator) -> str:
    """jsonschema's message, with a regular expression replaced by what it stands for."""
    if error.validator == "pattern":
        definitions = validator.schema["$defs"]
        for name, meaning in _PATTERN_MEANING.items():
            if error.schema is definitions.get(name):
                return f"{error.instance!r} {meaning}"
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def _check_agreement(manifest: dict, where: str) -> None:
    """The entry point's arguments and results are the inputs, step counter and variables, in
    order."""
    variables = {v["name"]: v for v in manifest["variables"]}
    if len(variables) != len(manifest["variables"]):
        raise InvalidArtifact(f"{where}: field 'variables': two variables have the same name")
    for key in ("variables_read", "variables_assigned"):
        for name in manifest[key]:
            if name not in variables:
                raise InvalidArtifact(f"{where}: field '{key}': '{name}' is not in 'variables'")
    step = [{"name": STEP_NAME, "dtype": "int64", "shape": []}] if manifest["step_input"] else []

    def as_argument(name):
        return {
            "name": VARIABLE_PREFIX + name,
            "dtype": variables[name]["dtype"],
            "shape": variables[name]["shape"],
        }

    expected = {
        "arguments": manifest["inputs"]
        + step
        + [as_argument(n) for n in manifest["variables_read"]],
        "results": manifest["outputs"] + [as_argument(n) for n in manifest["variables_assigned"]],
    }
    entry = manifest["entry_points"][0]
    for key, wanted in expected.items():
        have = entry[key]
        if len(have) != len(wanted):
            raise InvalidArtifact(
                f"{where}: field 'entry_points[0].{key}': {len(have)} entries, but the inputs, "
                f"outputs and variables make {len(wanted)}"
            )
        for i, (h, w) in enumerate(zip(have, wanted)):
            if _tensor(h) != _tensor(w):
                raise InvalidArtifact(
                    f"{where}: field 'entry_points[0].{key}[{i}]': {_describe(h)} does not "
                    f"match {_describe(w)}"
                )
    for name, record in manifest["files"].items():
        if record is not None and record not in manifest["checksums"]:
            raise InvalidArtifact(
                f"{where}: field 'checksums': no checksum for the {name} file '{record}'"
            )


def _tensor(entry: dict) -> tuple:
    return entry["name"], entry["dtype"], [None if d is None else int(d) for d in entry["shape"]]


def _describe(entry: dict) -> str:
    return f"'{entry['name']}' {entry['dtype']}{entry['shape']}"


def signature_digest(manifest: dict) -> str:
    """SHA-256 (hex) of the manifest's signature fields, written canonically."""
    fields = {key: manifest[key] for key in SIGNATURE_FIELDS}
    return hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


# ---- the files -----------------------------------------------------------------------------------


def file_record(data: bytes) -> dict:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def check_file(directory: str, name: str, manifest: dict) -> str:
    """The path of artifact file ``name``, after its size and SHA-256 matched the manifest's."""
    path = os.path.join(directory, name)
    record = manifest["checksums"][name]
    try:
        size = os.path.getsize(path)
        if size != record["size"]:
            raise InvalidArtifact(
                f"{path}: {size} bytes, but the manifest records {record['size']} "
                "(truncated or replaced)"
            )
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InvalidArtifact(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if digest.hexdigest() != record["sha256"]:
        raise InvalidArtifact(
            f"{path}: its SHA-256 differs from the one the manifest records (the file was changed)"
        )
    return path


_ELF_MACHINES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}


def check_elf(path: str) -> None:
    """A whole 64-bit ELF shared object for this machine: every segment and section table in the
    file."""
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise InvalidArtifact(f"{path}: not an ELF file")
    if data[4] != 2:
        raise InvalidArtifact(f"{path}: not a 64-bit ELF file")
    endian = {1: "<", 2: ">"}.get(data[5])
    if endian is None or (endian == "<") != (sys.byteorder == "little"):
        raise InvalidArtifact(f"{path}: ELF file of the wrong byte order for this machine")
    e_type, e_machine = struct.unpack_from(endian + "HH", data, 16)
    if e_type != 3:
        raise InvalidArtifact(f"{path}: not a shared library (ELF type {e_type})")
    host = _ELF_MACHINES.get(platform.machine().lower())
    if host is not None and e_machine != host:
        raise InvalidArtifact(f"{path}: ELF machine {e_machine} is not this machine's ({host})")
    phoff, shoff = struct.unpack_from(endian + "QQ", data, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(endian + "HHHH", data, 54)
    if phoff + phnum * phentsize > len(data) or shoff + shnum * shentsize > len(data):
        raise InvalidArtifact(f"{path}: truncated ELF file (its header tables run past the end)")
    for i in range(phnum):
        offset, _vaddr, _paddr, filesz = struct.unpack_from(
            endian + "QQQQ", data, phoff + i * phentsize + 8
        )
        if offset + filesz > len(data):
            raise InvalidArtifact(f"{path}: truncated ELF file (segment {i} runs past the end)")


__all__ = [
    "InvalidArtifact",
    "validate_manifest",
    "signature_digest",
    "file_record",
    "check_file",
    "check_elf",
    "field_name",
]
