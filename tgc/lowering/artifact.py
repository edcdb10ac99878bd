"""What a target's artifact writer receives from the driver: the signature of the compiled graph,
the user's options, and the texts of each stage lowered so far.

The driver (tgc/driver/aot.py) lowers a tgc module to the core level and through the target's
pipeline; the target (for the CPU, tgc/lowering/cpu/artifact.py) turns the result into code and
writes the artifact directory that its runtime loader reads. What every target's artifact records
of the signature and the variables' initial values is made here.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

STEP_NAME = "tgc/rng_step"  # the implicit input the runtime fills with a call counter (random ops)


class AotError(Exception):
    """A problem the user can fix (bad input, unknown stage, missing tool): reported as one line."""


@dataclass
class IOSpec:
    name: str
    dtype: str
    shape: list | None  # None dims stay dynamic

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": self.shape}


@dataclass
class Signature:
    """Inputs (feeds, then the step counter if any), outputs (fetches), variables read and
    assigned."""

    inputs: list
    outputs: list
    variables: list  # IOSpec of every declared variable
    initial_values: dict = field(default_factory=dict)  # name -> ndarray
    step_input: bool = False
    var_inputs: list = field(default_factory=list)
    var_outputs: list = field(default_factory=list)


@dataclass
class Machine:
    """The machine code is generated for, as LLVM names it; None fields: the host's."""

    triple: str | None = None
    cpu: str | None = None


@dataclass
class Options:
    machine: Machine = field(default_factory=Machine)
    opt_level: int = 3
    graph_pipeline: str | None = None  # the optimizing graph pipeline by default
    name: str = "model"  # C prefix: entry point <name>_main, header <name>.h, library lib<name>.so
    blas: bool = False  # keep tgc-blas-matmul: the library then needs numpy's OpenBLAS at run time
    timing: list | None = None  # receives (stage, seconds)
    target: str = "cpu"  # the name of the target in the registry (tgc/dialect/targets.py)
    allow_tf32: bool = False  # GPU targets: f32 matmuls on TF32 tensor cores (opt-in)
    # CPU: the entry point updates each variable it reads and assigns in the caller's array and
    # returns that array (as a Session does) instead of a copy; the caller's arrays are written.
    # None: the target's default (in place on the CPU: a copy of every weight it updates cost an
    # SGD step 5-8 %); False: every input only read (--variables-read-only).
    variables_in_place: bool | None = None

    def writes_variables_in_place(self) -> bool:
        """Whether the code updates the variables it reads and assigns in the caller's arrays."""
        if self.variables_in_place is None:
            return self.target == "cpu"
        return self.variables_in_place


@dataclass
class Lowered:
    """Everything produced while lowering one module; texts are filled as far as the stage asked."""

    signature: Signature
    stages: dict = field(default_factory=dict)  # stage -> str or bytes
    entry: str = "main"
    pipeline: str = ""
    llvm_pipeline: str = ""
    machine: Machine | None = None
    needs_memref_copy: bool = False
    gemm_choices: list = field(default_factory=list)  # tgc-blas-matmul's gemm=auto choices


def timed(options: Options, name: str, fn, *args):
    """Calls ``fn(*args)``, recording its wall time under ``name`` when the options ask for it."""
    start = time.perf_counter()
    out = fn(*args)
    if options.timing is not None:
        options.timing.append((name, time.perf_counter() - start))
    return out


# ---- what every target's artifact records -----------------------------------------------------


def entry_arguments(lowered: Lowered) -> tuple:
    """(inputs, outputs) of the entry point as IOSpecs: feeds then variables read; fetches then
    variables assigned (prefixed ``var:``)."""
    sig = lowered.signature
    variables = {v.name: v for v in sig.variables}
    inputs = list(sig.inputs) + [
        IOSpec("var:" + n, variables[n].dtype, variables[n].shape) for n in sig.var_inputs
    ]
    outputs = list(sig.outputs) + [
        IOSpec("var:" + n, variables[n].dtype, variables[n].shape) for n in sig.var_outputs
    ]
    return inputs, outputs


def signature_fields(lowered: Lowered) -> dict:
    """What the compiled code assumes of its callers: entry point, inputs, outputs, variables."""
    sig = lowered.signature
    inputs, outputs = entry_arguments(lowered)
    return {
        "entry_points": [
            {
                "name": "main",
                "symbol": f"_mlir_ciface_{lowered.entry}",
                "arguments": [s.to_json() for s in inputs],
                "results": [s.to_json() for s in outputs],
            }
        ],
        "inputs": [s.to_json() for s in sig.inputs if s.name != STEP_NAME],
        "outputs": [s.to_json() for s in sig.outputs],
        "step_input": sig.step_input,
        "variables": [
            dict(v.to_json(), initial=v.name in sig.initial_values)
            for v in sig.variables
            if v.name in sig.var_inputs or v.name in sig.var_outputs
        ],
        "variables_read": list(sig.var_inputs),
        "variables_assigned": list(sig.var_outputs),
    }


def npz_bytes(values: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **values)
    return buffer.getvalue()


def initial_values(sig: Signature) -> dict:
    from tgc.dialect.types import numpy_dtype

    values = {}
    for v in sig.variables:
        if v.name not in sig.var_inputs and v.name not in sig.var_outputs:
            continue
        if v.name not in sig.initial_values and v.name in sig.var_inputs:
            raise AotError(
                f"variable '{v.name}' is read but has no initial value (tgc.initial_value)"
            )
        default = np.zeros(v.shape, numpy_dtype(v.dtype))
        # np.array, not np.ascontiguousarray: the latter makes a 0-d value 1-d, and the manifest
        # says 0-d.
        values[v.name] = np.array(sig.initial_values.get(v.name, default), order="C")
    return values


def write_directory_atomically(directory: str, fill) -> str:
    """Builds an artifact directory beside ``directory`` with ``fill(staging path)``, then renames
    it into place: a reader never sees half of one, and a failed build leaves the old one."""
    directory = os.path.abspath(directory)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tgc-artifact-", dir=parent)
    try:
        fill(staging)
        if os.path.isdir(directory):
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory
