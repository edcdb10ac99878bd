"""The accelerator's machine parameters: one frozen dataclass, defaults modelled on TPU v2.

docs/accel-machine.md describes the machine these numbers parameterise and its timing model. The
timing of each instruction is a function of these fields and of the instruction's shapes only, so
it lives here, beside the numbers it reads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

BYTES_PER_ELEMENT = {"float32": 4, "bfloat16": 2}
MiB = 1024 * 1024

# The vector unit's functions (docs/accel-machine.md, "The vector unit"). Elementwise on float32.
VECTOR_UNARY = (
    "copy",
    "neg",
    "abs",
    "sign",
    "square",
    "relu",
    "floor",
    "ceil",
    "round",
    "not",
    "exp",
    "expm1",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "tanh",
    "logistic",
    "sin",
    "cos",
)
VECTOR_COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")  # 1.0 where true, else 0.0
VECTOR_BINARY = ("add", "sub", "mul", "div", "max", "min", "pow", *VECTOR_COMPARISONS)
VECTOR_REDUCTIONS = ("sum", "max", "min", "prod")
# The functions the unit computes by iteration (a transcendental or reciprocal unit, like TPU's
# EUP): `vector_transcendental_cycles` per row chunk instead of 1.
TRANSCENDENTAL = (
    "exp",
    "expm1",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "tanh",
    "logistic",
    "sin",
    "cos",
    "div",
    "pow",
)


@dataclass(frozen=True)
class Machine:
    """A TPU-like accelerator: systolic matrix unit, vector unit, on-chip buffer, DMA."""

    array_rows: int = 128  # rows of the weight-stationary systolic array (the K of a tile)
    array_cols: int = 128  # its columns (the N of a tile)
    vector_lanes: int = 128  # f32 lanes of the vector unit: elements of one row per cycle
    buffer_bytes: int = 24 * MiB  # the software-managed on-chip buffer
    dma_bytes_per_cycle: int = 256  # bandwidth between device memory and the buffer
    dma_latency_cycles: int = 500  # fixed cost of every DMA instruction
    dma_gather_bytes: int = 32  # device-memory burst a gathering DMA pays per element
    vector_transcendental_cycles: int = 4  # cycles per row chunk of exp, log, div, ...
    clock_hz: float = 940e6

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kinds = (int, float) if field.name == "clock_hz" else int
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ValueError(f"machine.{field.name}: must be a number, got {value!r}")
            smallest = 0 if field.name == "dma_latency_cycles" else 1e-300
            if value < smallest:
                raise ValueError(f"machine.{field.name}: must be positive, got {value!r}")

    @classmethod
    def from_dict(cls, fields: dict) -> Machine:
        """A machine from a program's "machine" object; absent fields keep their defaults."""
        if not isinstance(fields, dict):
            raise ValueError(f"machine: must be an object, got {type(fields).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(
                f"machine.{unknown[0]}: unknown field (known: {', '.join(sorted(known))})"
            )
        return cls(**fields)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def peak_flops_per_s(self) -> float:
        """Two flops (multiply, add) per MAC of the array per cycle."""
        return 2.0 * self.array_rows * self.array_cols * self.clock_hz

    # Timing: cycles of one instruction on its unit.

    def dma_cycles(self, nbytes: int) -> int:
        """A DMA pays its latency once, then moves `dma_bytes_per_cycle` bytes a cycle."""
        return self.dma_latency_cycles + math.ceil(nbytes / self.dma_bytes_per_cycle)

    def dma_gather_cycles(self, elements: int, element_bytes: int) -> int:
        """A DMA whose tile rows are not contiguous in device memory (transposed, or strided in
        the tensor's last dim) reads each element in a burst of its own."""
        return self.dma_cycles(elements * max(element_bytes, self.dma_gather_bytes))

    def vector_cycles(self, rows: int, cols: int) -> int:
        """One tile row per cycle, in chunks of `vector_lanes` elements when a row is wider."""
        return rows * math.ceil(cols / self.vector_lanes)

    def vector_function_cycles(self, function: str, rows: int, cols: int) -> int:
        """An elementwise function: a row chunk a cycle, transcendentals several."""
        per_chunk = self.vector_transcendental_cycles if function in TRANSCENDENTAL else 1
        return per_chunk * self.vector_cycles(rows, cols)

    def vector_reduce_cycles(self, rows: int, cols: int, axis: int) -> int:
        """A reduction reads its tile a row chunk a cycle; across columns (axis 1) each row's
        lanes are then combined by a tree of log2(lanes) steps, pipelined behind the rows."""
        tree = math.ceil(math.log2(self.vector_lanes)) if axis == 1 else 0
        return self.vector_cycles(rows, cols) + tree

    def weight_load_cycles(self, k: int) -> int:
        """Loading a K x N weight tile shifts one row of weights into the array per cycle."""
        return k

    def stream_cycles(self, m: int) -> int:
        """M activation rows enter one per cycle; the array fills and drains in `array_rows`."""
        return m + self.array_rows
