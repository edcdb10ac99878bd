"""The accel target's artifact: each compiled function's programs (one file each) and host plan,
the signature and the machine in a manifest, the initial variable values;
tgc/runtime/accel_artifact.py loads it and runs it on the simulator.

The programs and host plans are the "program" stage (target.py's emit_stages: program.py read from
the module after the accel pipeline), so the artifact holds exactly what `--emit program` prints.
The hash of the signature, functions and target is written into the manifest; the program files'
sizes and SHA-256 are recorded beside it.
"""

from __future__ import annotations

import json
import os

from tgc.lowering.artifact import (
    AotError,
    Lowered,
    Options,
    initial_values,
    npz_bytes,
    signature_fields,
    write_directory_atomically,
)
from tgc.runtime.accel_artifact import FORMAT, FORMAT_VERSION, program_file, signature_digest
from tgc.runtime.artifact_checks import file_record

MANIFEST, VARIABLES = "manifest.json", "variables.npz"


def program_files(functions: dict) -> tuple:
    """({file name: program bytes}, {function: {"programs": [file names], "host": plan}}) of the
    "program" stage's functions."""
    files, plans = {}, {}
    for name, function in functions.items():
        names = []
        for number, program in enumerate(function["programs"]):
            names.append(program_file(name, number))
            files[names[-1]] = (json.dumps(program, indent=1) + "\n").encode()
        plans[name] = {"programs": names, "host": function["host"]}
    return files, plans


def check_programs(functions: dict) -> None:
    """Every program is one the machine runs (the simulator's own checks): a compiler bug is
    reported at compile time, not by the artifact's users."""
    from tgc.runtime.accel.program import ProgramError, load_program

    for name, function in functions.items():
        for number, program in enumerate(function["programs"]):
            try:
                load_program(program)
            except ProgramError as exc:
                raise AotError(
                    f"the accel target made a program the machine refuses "
                    f"({program_file(name, number)}; a tgc bug: please report it): {exc}"
                ) from None


def machine_of(functions: dict) -> dict:
    """The machine every program was made for (the programs carry it)."""
    from tgc.runtime.accel.machine import Machine

    machines = [p["machine"] for f in functions.values() for p in f["programs"]]
    if any(m != machines[0] for m in machines):
        raise AotError("the accel programs of one artifact were made for different machines")
    return machines[0] if machines else Machine().to_dict()


def manifest(lowered: Lowered, options: Options, plans: dict, machine: dict) -> dict:
    """Everything of the manifest but the files and their checksums."""
    fields = signature_fields(lowered)
    fields["entry_points"][0]["symbol"] = lowered.entry  # the function in "functions"
    if lowered.entry not in plans:
        raise AotError(f"the accel programs have no function '{lowered.entry}' (the entry point)")
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **fields,
        "functions": plans,
        "pipeline": lowered.pipeline,
        "target": {"name": options.target, "machine": machine},
    }
    body["signature"] = {"sha256": signature_digest(body)}
    return body


def write_artifact(lowered: Lowered, options: Options, directory: str) -> str:
    """Writes the artifact directory (atomically: built beside it, then renamed into place)."""
    functions = json.loads(lowered.stages["program"])
    check_programs(functions)
    files, plans = program_files(functions)
    body = manifest(lowered, options, plans, machine_of(functions))
    files[VARIABLES] = npz_bytes(initial_values(lowered.signature))
    body["files"] = {"variables": VARIABLES}
    body["checksums"] = {name: file_record(data) for name, data in files.items()}
    body["notes"] = (
        "shapes are fixed at compile time; initial variable values were computed then "
        "(random initializers were drawn then); the programs run on tgc's accelerator simulator"
    )

    def fill(staging: str) -> None:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as fh:
                fh.write(data)
        with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as fh:
            fh.write(json.dumps(body, indent=2) + "\n")

    return write_directory_atomically(directory, fill)
