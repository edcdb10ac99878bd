"""What a target's artifact writer receives from the driver: the signature of the compiled graph,
the user's options, and the texts of each stage lowered so far.

The driver (tgc/driver/aot.py) lowers a tgc module to the core level and through the target's
pipeline; the target (for the CPU, tgc/lowering/cpu/artifact.py) turns the result into code and
writes the artifact directory that its runtime loader reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

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


def timed(options: Options, name: str, fn, *args):
    """Calls ``fn(*args)``, recording its wall time under ``name`` when the options ask for it."""
    start = time.perf_counter()
    out = fn(*args)
    if options.timing is not None:
        options.timing.append((name, time.perf_counter() - start))
    return out
