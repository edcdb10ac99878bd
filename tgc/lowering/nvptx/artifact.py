"""The nvptx target's artifact: PTX (and a cubin when ptxas is on PATH), the launch plan and the
signature in a manifest, the initial variable values; tgc/runtime/gpu_artifact.py loads it.

The launch plan is read from the gpu level (the "gpu" stage: the module after the target's
pipeline, before its kernels were lowered to PTX) by tgc/lowering/nvptx/launch_plan.py. The hash
of the signature, launch plan and target is written into the manifest and as the PTX's first line,
so that the runtime can tell a manifest that no longer matches its kernels.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

from tgc.lowering.artifact import (
    AotError,
    Lowered,
    Options,
    initial_values,
    npz_bytes,
    signature_fields,
    write_directory_atomically,
)
from tgc.lowering.tensor_float_32 import tensor_float_32_enabled
from tgc.runtime.artifact_checks import file_record
from tgc.runtime.gpu_artifact import (
    FORMAT,
    FORMAT_VERSION,
    ptx_signature_line,
    signature_digest,
)

PTX_FILE, CUBIN_FILE, MANIFEST, VARIABLES = (
    "kernels.ptx",
    "kernels.cubin",
    "manifest.json",
    "variables.npz",
)


def launch_plan(gpu_level: str) -> dict:
    """The launch plan of the gpu-level module's text."""
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.lowering.nvptx.launch_plan import PlanError, extract_plan

    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(gpu_level)
        try:
            return extract_plan(module)
        except PlanError as exc:
            raise AotError(f"the nvptx artifact's launch plan: {exc}") from None


def assemble(ptx: str, arch: str) -> tuple:
    """(cubin bytes, ptxas's version line) when ptxas is on PATH, else (None, None)."""
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        return None, None
    with tempfile.TemporaryDirectory(prefix="tgc-ptxas-") as tmp:
        source, cubin = os.path.join(tmp, PTX_FILE), os.path.join(tmp, CUBIN_FILE)
        with open(source, "w", encoding="utf-8") as fh:
            fh.write(ptx)
        result = subprocess.run(
            [ptxas, f"-arch={arch}", source, "-o", cubin], capture_output=True, text=True
        )
        if result.returncode != 0:
            message = " ".join(result.stderr.replace(source, PTX_FILE).split())
            raise AotError(
                f"ptxas -arch={arch} failed: {message or 'exit ' + str(result.returncode)}"
            )
        with open(cubin, "rb") as fh:
            data = fh.read()
    version = subprocess.run([ptxas, "--version"], capture_output=True, text=True).stdout
    lines = [line for line in version.splitlines() if line.strip()]
    return data, f"ptxas -arch={arch} ({lines[-2] if len(lines) > 1 else 'version unknown'})"


def manifest(lowered: Lowered, options: Options, plan: dict) -> dict:
    """Everything of the manifest but the files and their checksums."""
    fields = signature_fields(lowered)
    fields["entry_points"][0]["symbol"] = lowered.entry  # the launch plan's function
    body = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **fields,
        "launch_plan": plan,
        "pipeline": lowered.pipeline,
        "code_generation": lowered.llvm_pipeline,
        "target": {
            "name": options.target,
            "triple": lowered.machine.triple,
            "gpu_arch": lowered.machine.cpu,
            "opt_level": options.opt_level,
            # f32 matmuls on TF32 tensor cores (tgc compile --allow-tf32, or TF's switch turned
            # on by the compiled program)
            "allow_tf32": options.allow_tf32 or tensor_float_32_enabled(),
        },
    }
    body["signature"] = {"sha256": signature_digest(body)}
    return body


def write_artifact(lowered: Lowered, options: Options, directory: str) -> str:
    """Writes the artifact directory (atomically: built beside it, then renamed into place)."""
    plan = launch_plan(lowered.stages["gpu"])
    body = manifest(lowered, options, plan)
    ptx = f"{ptx_signature_line(body['signature']['sha256'])}\n{lowered.stages['ptx']}"
    cubin, assembler = assemble(ptx, lowered.machine.cpu) if plan["kernels"] else (None, None)
    files = {
        PTX_FILE: ptx.encode(),
        VARIABLES: npz_bytes(initial_values(lowered.signature)),
    }
    if cubin is not None:
        files[CUBIN_FILE] = cubin
    body["assembler"] = assembler
    body["files"] = {
        "ptx": PTX_FILE,
        "cubin": CUBIN_FILE if cubin is not None else None,
        "variables": VARIABLES,
    }
    body["checksums"] = {name: file_record(data) for name, data in files.items()}
    body["notes"] = (
        "shapes are fixed at compile time; initial variable values were computed then "
        "(random initializers were drawn then)"
    )
    return _write_directory(directory, files, body)


def _write_directory(directory: str, files: dict, body: dict) -> str:
    def fill(staging: str) -> None:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as fh:
                fh.write(data)
        with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as fh:
            fh.write(json.dumps(body, indent=2) + "\n")

    return write_directory_atomically(directory, fill)
