"""An accelerator program: its JSON form, read and checked before anything runs.

A program names the tensors it takes and returns (in device memory), how much of the on-chip buffer
it uses, and a list of instructions, each for one unit (DMA-in, DMA-out, matrix, vector) with the
indices of the earlier instructions it waits for. `load_program` turns the JSON into `Program` and
refuses, with one `ProgramError` naming the instruction and the field, anything the machine could
not run: an unknown op or dtype, a tile outside the buffer or larger than the array, shapes that do
not agree, a wait on a later instruction, a tensor index out of range, and a read or write of buffer
bytes that races with another instruction's because neither waits (even transitively) for the other.
docs/accel-machine.md is the reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from tgc.runtime.accel.machine import (
    BYTES_PER_ELEMENT,
    VECTOR_BINARY,
    VECTOR_REDUCTIONS,
    VECTOR_UNARY,
    Machine,
)

TENSOR_DTYPES = ("float32",)  # device-memory tensors; the buffer also holds bfloat16 tiles
TENSOR_KINDS = ("input", "output", "constant")  # a constant's values come with the program


class ProgramError(ValueError):
    """A program the accelerator cannot run; the message names the instruction and the field."""


@dataclass(frozen=True)
class Tile:
    """A rows x cols row-major region of the buffer starting at byte offset `at`."""

    at: int
    rows: int
    cols: int
    dtype: str

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def nbytes(self) -> int:
        return self.rows * self.cols * BYTES_PER_ELEMENT[self.dtype]

    @property
    def end(self) -> int:
        return self.at + self.nbytes

    def overlaps(self, other: Tile) -> bool:
        return self.nbytes > 0 and other.nbytes > 0 and self.at < other.end and other.at < self.end


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    dtype: str
    kind: str
    index: int  # position among the program's inputs (or outputs, or constants)
    values: tuple | None = None  # a constant's elements, row-major


@dataclass(frozen=True)
class Instruction:
    """One instruction; `fields` holds the op's own operands (tiles, tensor, a DMA's box)."""

    index: int
    op: str
    unit: str
    waits: tuple[int, ...]
    reads: tuple[tuple[str, Tile], ...]  # (field, tile) of every buffer region it reads
    writes: tuple[tuple[str, Tile], ...]
    fields: dict

    def __getitem__(self, name):
        return self.fields[name]

    def cycles(self, machine: Machine) -> int:
        """Cycles on its unit, start to end (a matmul's weight load included)."""
        if self.op in ("dma_load", "dma_store"):
            if box_gathers(self.fields):
                return machine.dma_gather_cycles(self.tile.rows * self.tile.cols, 4)
            return machine.dma_cycles(self.tile.nbytes)
        if self.op == "matmul":
            rows, k = self["lhs"].shape
            return machine.weight_load_cycles(k) + machine.stream_cycles(rows)
        if self.op in ("unary", "binary"):
            return machine.vector_function_cycles(self["fn"], *self.tile.shape)
        if self.op == "reduce":
            return machine.vector_reduce_cycles(*self["from"].shape, self["axis"])
        return machine.vector_cycles(*self.tile.shape)

    @property
    def tile(self) -> Tile:
        """The tile a DMA moves, or the one a vector or matrix instruction writes."""
        return (self.writes or self.reads)[0][1]

    @property
    def macs(self) -> int:
        """Multiply-accumulates this instruction does (matmuls only)."""
        if self.op != "matmul":
            return 0
        (rows, k), (_, cols) = self["lhs"].shape, self["rhs"].shape
        return rows * k * cols


def box_tile_shape(box: dict) -> tuple[int, int]:
    """(rows, cols) of the tile a DMA box fills: the box's counts in tile order (`perm`), the
    last one the columns and the product of the others the rows (1 x 1 for a scalar tensor)."""
    counts = [box["count"][dim] for dim in box.get("perm", range(len(box["count"])))]
    if not counts:
        return (1, 1)
    return (int(np.prod(counts[:-1], dtype=np.int64)), counts[-1])


def box_indices(box: dict) -> list[np.ndarray]:
    """Per dim of the tensor, the indices the box takes along it (may lie outside with fill)."""
    return [
        begin + step * np.arange(count, dtype=np.int64)
        for begin, count, step in zip(box["begin"], box["count"], box["step"])
    ]


def box_gathers(box: dict) -> bool:
    """Whether the tile's rows are not runs of consecutive elements of device memory: the tile's
    last dim is not the tensor's last, or steps over it (a broadcast, step 0, reads one)."""
    rank = len(box["count"])
    if rank == 0:
        return False
    perm = box.get("perm", range(rank))
    return perm[-1] != rank - 1 or box["step"][-1] > 1


@dataclass(frozen=True)
class Program:
    machine: Machine
    tensors: tuple[Tensor, ...]
    buffer_bytes: int
    instructions: tuple[Instruction, ...]

    @property
    def inputs(self) -> list[tuple[int, Tensor]]:
        """(position in `tensors`, tensor) of every input, ordered by the input's index."""
        return sorted(self._of_kind("input"), key=lambda entry: entry[1].index)

    @property
    def outputs(self) -> list[tuple[int, Tensor]]:
        return sorted(self._of_kind("output"), key=lambda entry: entry[1].index)

    def _of_kind(self, kind):
        return [(i, tensor) for i, tensor in enumerate(self.tensors) if tensor.kind == kind]


def load_program(source, machine: Machine | None = None) -> Program:
    """The program in `source` (a Program, a JSON string or its parsed dict), checked.

    `machine`, when given, replaces the program's own machine (to ask how the same program would
    run on a different one); the program is checked against the machine it will run on.
    """
    if isinstance(source, Program):
        source = program_to_dict(source)
    if isinstance(source, (str, bytes)):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as error:
            raise ProgramError(f"accel program: not valid JSON: {error}") from None
    return _Reader(source, machine).program()


def program_to_dict(program: Program) -> dict:
    """The JSON form of `program` (what `load_program` reads)."""
    tensors = []
    for t in program.tensors:
        tensors.append({"shape": list(t.shape), "dtype": t.dtype, "kind": t.kind, "index": t.index})
        if t.values is not None:
            tensors[-1]["values"] = list(t.values)
    return {
        "machine": program.machine.to_dict(),
        "tensors": tensors,
        "buffer_bytes": program.buffer_bytes,
        "instructions": [_instruction_to_dict(i) for i in program.instructions],
    }


def _instruction_to_dict(instruction: Instruction) -> dict:
    def value(item):
        if isinstance(item, Tile) and instruction.op in ("dma_load", "dma_store"):
            return item.at  # a DMA's tile is shaped by its tensor region
        if isinstance(item, Tile):
            return {"at": item.at, "shape": list(item.shape), "dtype": item.dtype}
        return list(item) if isinstance(item, tuple) else item

    fields = {name: value(item) for name, item in instruction.fields.items()}
    return {"op": instruction.op, **fields, "waits": list(instruction.waits)}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """Reads the JSON of a program, raising ProgramError at the first thing that is wrong."""

    def __init__(self, source, machine: Machine | None):
        self.source = source
        self.machine_override = machine
        self.where = "accel program"

    def fail(self, field: str, message: str):
        raise ProgramError(f"{self.where}: field '{field}': {message}")

    # Top level.

    def program(self) -> Program:
        if not isinstance(self.source, dict):
            raise ProgramError(
                f"accel program: must be a JSON object, got {self._kind(self.source)}"
            )
        unknown = sorted(set(self.source) - {"machine", "tensors", "buffer_bytes", "instructions"})
        if unknown:
            self.fail(unknown[0], "unknown field")
        self.machine = self._machine()
        self.tensors = self._tensors()
        self.buffer_bytes = self._buffer_bytes()
        entries = self.source.get("instructions")
        if not isinstance(entries, list):
            self.fail("instructions", f"must be a list, got {self._kind(entries)}")
        instructions = tuple(self._instruction(i, entry) for i, entry in enumerate(entries))
        self.where = "accel program"
        _check_races(instructions)
        _check_device_memory(instructions, self.tensors)
        self._check_outputs_written(instructions)
        return Program(self.machine, self.tensors, self.buffer_bytes, instructions)

    def _machine(self) -> Machine:
        if self.machine_override is not None:
            return self.machine_override
        try:
            return Machine.from_dict(self.source.get("machine", {}))
        except (TypeError, ValueError) as error:
            raise ProgramError(f"accel program: {error}") from None

    def _tensors(self) -> tuple[Tensor, ...]:
        entries = self.source.get("tensors")
        if not isinstance(entries, list):
            self.fail("tensors", f"must be a list, got {self._kind(entries)}")
        tensors = tuple(self._tensor(f"tensors[{i}]", entry) for i, entry in enumerate(entries))
        for kind in TENSOR_KINDS:
            indices = sorted(t.index for t in tensors if t.kind == kind)
            if indices != list(range(len(indices))):
                self.fail(
                    "tensors", f"the {kind}s' indices must be 0..{len(indices) - 1} once each"
                )
        return tensors

    def _tensor(self, field: str, entry) -> Tensor:
        if not isinstance(entry, dict):
            self.fail(field, f"must be an object, got {self._kind(entry)}")
        shape = entry.get("shape")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            self.fail(f"{field}.shape", f"must be a list of non-negative integers, got {shape!r}")
        shape = tuple(shape)
        dtype = entry.get("dtype")
        if dtype not in TENSOR_DTYPES:
            self.fail(f"{field}.dtype", f"unknown tensor dtype {dtype!r} (known: float32)")
        kind = entry.get("kind")
        if kind not in TENSOR_KINDS:
            self.fail(f"{field}.kind", f"must be 'input', 'output' or 'constant', got {kind!r}")
        index = entry.get("index")
        if not _is_int(index) or index < 0:
            self.fail(f"{field}.index", f"must be a non-negative integer, got {index!r}")
        unknown = sorted(set(entry) - {"shape", "dtype", "kind", "index", "values"})
        if unknown:
            self.fail(f"{field}.{unknown[0]}", "unknown field of a tensor")
        values = None
        if kind == "constant":
            values = entry.get("values")
            size = int(np.prod(shape, dtype=np.int64))
            numbers = isinstance(values, list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
            )
            if not numbers or len(values) != size:
                self.fail(
                    f"{field}.values",
                    f"a constant's values must be a list of its {size} numbers, row-major",
                )
            values = tuple(float(v) for v in values)
        elif "values" in entry:
            self.fail(f"{field}.values", f"an {kind} tensor has no values (a constant has)")
        return Tensor(shape, dtype, kind, index, values)

    def _buffer_bytes(self) -> int:
        value = self.source.get("buffer_bytes")
        if not _is_int(value) or value < 0:
            self.fail("buffer_bytes", f"must be a non-negative integer, got {value!r}")
        if value > self.machine.buffer_bytes:
            self.fail(
                "buffer_bytes", f"{value} is more than the machine's {self.machine.buffer_bytes}"
            )
        return value

    # Instructions.

    def _instruction(self, index: int, entry) -> Instruction:
        op = entry.get("op") if isinstance(entry, dict) else None
        named = isinstance(op, str) and op
        self.where = f"accel program: instruction {index}" + (f" ({op})" if named else "")
        if not isinstance(entry, dict):
            raise ProgramError(f"{self.where}: must be an object, got {self._kind(entry)}")
        reader = _OPS.get(op) if isinstance(op, str) else None
        if reader is None:
            self.fail("op", f"unknown op {op!r} (known: {', '.join(_OPS)})")
        unit, expected, build = reader
        unknown = sorted(set(entry) - set(expected) - {"op", "waits"})
        if unknown:
            self.fail(unknown[0], f"unknown field for {op} (known: {', '.join(expected)}, waits)")
        waits = self._waits(index, entry.get("waits", []))
        fields, reads, writes = build(self, entry)
        return Instruction(index, op, unit, waits, tuple(reads), tuple(writes), fields)

    def _waits(self, index: int, waits) -> tuple[int, ...]:
        if not isinstance(waits, list):
            self.fail("waits", f"must be a list of instruction indices, got {self._kind(waits)}")
        for position, wait in enumerate(waits):
            if not _is_int(wait) or wait < 0:
                self.fail(f"waits[{position}]", f"must be an instruction index, got {wait!r}")
            if wait >= index:
                self.fail(
                    f"waits[{position}]", f"waits on instruction {wait}, which is not earlier"
                )
        return tuple(sorted(set(waits)))

    def _dma_load(self, entry):
        tensor = self._tensor_index(entry, ("input", "constant", "output"), "dma_load reads")
        box = self._box(entry, self.tensors[tensor], loads=True)
        to = self._placed("to", entry.get("to"), *box_tile_shape(box), self.tensors[tensor].dtype)
        return {"tensor": tensor, **box, "to": to}, [], [("to", to)]

    def _dma_store(self, entry):
        tensor = self._tensor_index(entry, ("output",), "dma_store writes")
        box = self._box(entry, self.tensors[tensor], loads=False)
        shape = box_tile_shape(box)
        source = self._placed("from", entry.get("from"), *shape, self.tensors[tensor].dtype)
        return {"tensor": tensor, **box, "from": source}, [("from", source)], []

    def _cast(self, entry):
        source, to = self._tile(entry, "from"), self._tile(entry, "to")
        if source.shape != to.shape:
            self.fail("to.shape", f"{list(to.shape)} differs from from.shape {list(source.shape)}")
        if source.dtype == to.dtype:
            self.fail("to.dtype", f"casts {source.dtype} to itself")
        self._disjoint(("from", source), ("to", to))
        return {"from": source, "to": to}, [("from", source)], [("to", to)]

    def _zero(self, entry):
        tile = self._tile(entry, None)
        return {"at": tile.at, "shape": tile.shape, "dtype": tile.dtype}, [], [("at", tile)]

    def _fill(self, entry):
        tile = self._tile(entry, None, "float32")
        value = self._number(entry, "value")
        return {"at": tile.at, "shape": tile.shape, "value": value}, [], [("at", tile)]

    def _unary(self, entry):
        function = self._function(entry, VECTOR_UNARY)
        to = self._tile(entry, "to", "float32")
        x = self._operand(entry, "x", to)
        return {"fn": function, "x": x, "to": to}, self._tiles(("x", x)), [("to", to)]

    def _binary(self, entry):
        function = self._function(entry, VECTOR_BINARY)
        to = self._tile(entry, "to", "float32")
        lhs, rhs = self._operand(entry, "lhs", to), self._operand(entry, "rhs", to)
        reads = self._tiles(("lhs", lhs), ("rhs", rhs))
        return {"fn": function, "lhs": lhs, "rhs": rhs, "to": to}, reads, [("to", to)]

    def _select(self, entry):
        to = self._tile(entry, "to", "float32")
        operands = {name: self._operand(entry, name, to) for name in ("cond", "lhs", "rhs")}
        reads = self._tiles(*operands.items())
        return {**operands, "to": to}, reads, [("to", to)]

    def _reduce(self, entry):
        function = self._function(entry, VECTOR_REDUCTIONS)
        axis = entry.get("axis")
        if axis not in (0, 1) or isinstance(axis, bool):
            self.fail("axis", f"must be 0 (down the rows) or 1 (along each row), got {axis!r}")
        source, to = self._tile(entry, "from", "float32"), self._tile(entry, "to", "float32")
        rows, cols = source.shape
        expected = (1, cols) if axis == 0 else (rows, 1)
        if to.shape != expected:
            self.fail(
                "to.shape",
                f"{list(to.shape)}: reducing a {rows}x{cols} tile along axis {axis} "
                f"accumulates into {list(expected)}",
            )
        self._disjoint(("from", source), ("to", to))
        fields = {"fn": function, "axis": axis, "from": source, "to": to}
        return fields, [("from", source), ("to", to)], [("to", to)]

    def _function(self, entry, known) -> str:
        function = entry.get("fn")
        if function not in known:
            self.fail("fn", f"unknown function {function!r} (known: {', '.join(known)})")
        return function

    def _number(self, entry, name: str) -> float:
        value = entry.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(name, f"must be a number, got {value!r}")
        return float(value)

    def _operand(self, entry, name: str, to: Tile):
        """A vector operand: a number (the same for every element), or a float32 tile of the
        output's shape, a [1, cols] row, a [rows, 1] column or a [1, 1] element (repeated along
        the dims of size 1). It is the output tile itself or lies apart from it (the unit reads a
        row, then writes it)."""
        value = entry.get(name)
        if not isinstance(value, dict):
            return self._number(entry, name)
        tile = self._tile(entry, name, "float32")
        rows, cols = to.shape
        if tile.rows not in (rows, 1) or tile.cols not in (cols, 1):
            self.fail(
                f"{name}.shape",
                f"{list(tile.shape)} does not broadcast to the output's {[rows, cols]} (each dim "
                f"the output's or 1)",
            )
        if tile != to and tile.overlaps(to):
            self.fail(name, "overlaps to in the buffer (an operand is the output or apart from it)")
        return tile

    @staticmethod
    def _tiles(*named) -> list:
        return [(name, value) for name, value in named if isinstance(value, Tile)]

    def _matmul(self, entry):
        lhs, rhs = self._tile(entry, "lhs", "bfloat16"), self._tile(entry, "rhs", "bfloat16")
        acc = self._tile(entry, "acc", "float32")
        (m, k), (k2, n) = lhs.shape, rhs.shape
        if k > self.machine.array_rows:
            self.fail(
                "lhs.shape", f"K = {k} is more than the array's {self.machine.array_rows} rows"
            )
        if n > self.machine.array_cols:
            self.fail(
                "rhs.shape", f"N = {n} is more than the array's {self.machine.array_cols} columns"
            )
        if k2 != k:
            self.fail("rhs.shape", f"{list(rhs.shape)} has {k2} rows, but lhs has K = {k} columns")
        if acc.shape != (m, n):
            self.fail("acc.shape", f"{list(acc.shape)} is not lhs rows x rhs columns {[m, n]}")
        self._disjoint(("lhs", lhs), ("acc", acc))
        self._disjoint(("rhs", rhs), ("acc", acc))
        reads = [("lhs", lhs), ("rhs", rhs), ("acc", acc)]
        return {"lhs": lhs, "rhs": rhs, "acc": acc}, reads, [("acc", acc)]

    # Operands.

    def _tile(self, entry, name: str | None, dtype: str | None = None) -> Tile:
        """The tile `entry[name]` ({"at", "shape", "dtype"}), or `entry` itself for name None."""
        prefix = f"{name}." if name else ""
        value = entry.get(name) if name else entry
        if not isinstance(value, dict):
            self.fail(name, f"must be a tile object with at and shape, got {self._kind(value)}")
        if name:
            unknown = sorted(set(value) - {"at", "shape", "dtype"})
            if unknown:
                self.fail(prefix + unknown[0], "unknown field of a tile (known: at, shape, dtype)")
        rows, cols = self._shape(value, prefix + "shape", value.get("shape"))
        tile_dtype = value.get("dtype", dtype or "float32")
        if tile_dtype not in BYTES_PER_ELEMENT:
            self.fail(prefix + "dtype", f"unknown dtype {tile_dtype!r} (known: float32, bfloat16)")
        if dtype is not None and tile_dtype != dtype:
            self.fail(prefix + "dtype", f"must be {dtype}, got {tile_dtype}")
        return self._placed(prefix + "at", value.get("at"), rows, cols, tile_dtype)

    def _placed(self, field: str, at, rows: int, cols: int, dtype: str) -> Tile:
        if not _is_int(at) or at < 0:
            self.fail(field, f"must be a non-negative byte offset, got {at!r}")
        tile = Tile(at, rows, cols, dtype)
        if at % BYTES_PER_ELEMENT[dtype]:
            self.fail(
                field, f"{at} is not aligned to the {BYTES_PER_ELEMENT[dtype]} bytes of {dtype}"
            )
        if tile.end > self.buffer_bytes:
            self.fail(
                field,
                f"the {rows}x{cols} {dtype} tile at {at} ends at byte {tile.end}, "
                f"past the program's buffer of {self.buffer_bytes} bytes",
            )
        return tile

    def _shape(self, entry, field: str, shape) -> tuple[int, int]:
        if (
            not isinstance(shape, list)
            or len(shape) != 2
            or not all(_is_int(d) and d >= 0 for d in shape)
        ):
            self.fail(field, f"must be [rows, cols] of non-negative integers, got {shape!r}")
        return tuple(shape)

    def _tensor_index(self, entry, kinds: tuple, verb: str) -> int:
        tensor = entry.get("tensor")
        if not _is_int(tensor) or not 0 <= tensor < len(self.tensors):
            self.fail("tensor", f"{tensor!r} is not a tensor index (0..{len(self.tensors) - 1})")
        if self.tensors[tensor].kind not in kinds:
            self.fail(
                "tensor",
                f"tensor {tensor} is an {self.tensors[tensor].kind}; {verb} "
                + " and ".join(f"{kind}s" for kind in kinds),
            )
        return tensor

    def _box(self, entry, tensor: Tensor, loads: bool) -> dict:
        """The box a DMA moves: per dim of the tensor a begin, a count and a step; optionally a
        permutation of the box's dims into the tile's (`perm`) and, on a load, the value of the
        elements outside the tensor (`fill`). Without `fill` the box lies within the tensor."""
        rank = len(tensor.shape)
        begin = self._per_dim(entry, "begin", rank, tensor, smallest=None)
        count = self._per_dim(entry, "count", rank, tensor, smallest=0)
        step = self._per_dim(entry, "step", rank, tensor, smallest=0 if loads else 1)
        box = {"begin": begin, "count": count, "step": step}
        if "perm" in entry:
            perm = entry["perm"]
            if not isinstance(perm, list) or sorted(perm) != list(range(rank)):
                self.fail("perm", f"must be a permutation of 0..{rank - 1}, got {perm!r}")
            box["perm"] = tuple(perm)
        if "fill" in entry:
            fill = entry["fill"]
            if isinstance(fill, bool) or not isinstance(fill, (int, float)):
                self.fail("fill", f"must be a number, got {fill!r}")
            box["fill"] = float(fill)
        else:
            self._check_within(box, tensor, loads)
        return box

    def _per_dim(self, entry, field: str, rank: int, tensor: Tensor, smallest) -> tuple:
        value = entry.get(field)
        if not (
            isinstance(value, list)
            and len(value) == rank
            and all(_is_int(v) and (smallest is None or v >= smallest) for v in value)
        ):
            kind = "integers" if smallest is None else f"integers >= {smallest}"
            self.fail(
                field,
                f"must be a list of {rank} {kind} (one per dim of the tensor of shape "
                f"{list(tensor.shape)}), got {value!r}",
            )
        return tuple(value)

    def _check_within(self, box: dict, tensor: Tensor, loads: bool):
        for dim, extent in enumerate(tensor.shape):
            begin, count, step = box["begin"][dim], box["count"][dim], box["step"][dim]
            last = begin + (count - 1) * step
            if count and not (0 <= begin < extent and 0 <= last < extent):
                hint = "; give 'fill' to load elements outside the tensor" if loads else ""
                self.fail(
                    "begin",
                    f"dim {dim}: the box's indices {begin}..{last} (begin {begin}, count {count}, "
                    f"step {step}) are not within the tensor's {extent}{hint}",
                )

    def _disjoint(self, *named_tiles):
        (first_name, first), (second_name, second) = named_tiles
        if first.overlaps(second):
            self.fail(second_name, f"overlaps {first_name} in the buffer")

    def _check_outputs_written(self, instructions):
        for position, tensor in enumerate(self.tensors):
            if tensor.kind != "output":
                continue
            written = np.zeros(tensor.shape, dtype=bool)
            for instruction in instructions:
                if instruction.op == "dma_store" and instruction["tensor"] == position:
                    written[np.ix_(*box_indices(instruction.fields))] = True
            if not written.all():
                element = [int(i) for i in np.argwhere(~written)[0]]
                self.fail(
                    f"tensors[{position}]",
                    f"output {tensor.index}: element {element} is written by no dma_store",
                )

    @staticmethod
    def _kind(value) -> str:
        return type(value).__name__


# op -> (unit, its fields, reader method)
_OPS = {
    "dma_load": (
        "dma_in",
        ("tensor", "begin", "count", "step", "perm", "fill", "to"),
        _Reader._dma_load,
    ),
    "dma_store": (
        "dma_out",
        ("tensor", "begin", "count", "step", "perm", "from"),
        _Reader._dma_store,
    ),
    "cast": ("vector", ("from", "to"), _Reader._cast),
    "zero": ("vector", ("at", "shape", "dtype"), _Reader._zero),
    "fill": ("vector", ("at", "shape", "value"), _Reader._fill),
    "unary": ("vector", ("fn", "x", "to"), _Reader._unary),
    "binary": ("vector", ("fn", "lhs", "rhs", "to"), _Reader._binary),
    "select": ("vector", ("cond", "lhs", "rhs", "to"), _Reader._select),
    "reduce": ("vector", ("fn", "axis", "from", "to"), _Reader._reduce),
    "matmul": ("matrix", ("lhs", "rhs", "acc"), _Reader._matmul),
}


def _check_device_memory(instructions, tensors) -> None:
    """A dma_load of an output reads what earlier dma_stores wrote: every element it reads (in
    the tensor) was stored before, and it is ordered after those stores; a store is ordered after
    the earlier loads and stores of elements it may overwrite. Overlap is judged by each box's
    bounding range per dim (strided boxes that interleave count as overlapping)."""
    before, _ = _ordered_before(instructions)
    written = {}
    accesses = {}  # output position -> [(instruction, bounds, stores)]
    for instruction in instructions:
        if instruction.op not in ("dma_load", "dma_store"):
            continue
        position = instruction["tensor"]
        tensor = tensors[position]
        if tensor.kind != "output":
            continue
        stores = instruction.op == "dma_store"
        indices = [
            i[(i >= 0) & (i < extent)]
            for i, extent in zip(box_indices(instruction.fields), tensor.shape)
        ]
        mask = written.setdefault(position, np.zeros(tensor.shape, dtype=bool))
        if not stores and not mask[np.ix_(*indices)].all():
            raise ProgramError(
                f"accel program: instruction {instruction.index} (dma_load): field 'tensor': "
                f"reads elements of output {tensor.index} that no earlier dma_store wrote"
            )
        bounds = [(int(i.min()), int(i.max())) if i.size else None for i in indices]
        for earlier, other, other_stores in accesses.get(position, []):
            if (stores or other_stores) and _intersect(bounds, other):
                if not before[instruction.index] >> earlier.index & 1:
                    _race_in_memory(earlier, instruction, tensor)
        accesses.setdefault(position, []).append((instruction, bounds, stores))
        if stores:
            mask[np.ix_(*indices)] = True


def _intersect(a: list, b: list) -> bool:
    if any(r is None for r in a + b):
        return False  # an empty box
    return all(lo1 <= hi2 and lo2 <= hi1 for (lo1, hi1), (lo2, hi2) in zip(a, b))


def _race_in_memory(earlier: Instruction, later: Instruction, tensor: Tensor):
    raise ProgramError(
        f"accel program: instruction {later.index} ({later.op}): field 'tensor': "
        f"{'writes' if later.op == 'dma_store' else 'reads'} elements of output {tensor.index} "
        f"that instruction {earlier.index} ({earlier.op}) also uses, without waiting for it "
        f"(add {earlier.index} to its waits)"
    )


def _check_races(instructions) -> None:
    """Every two instructions touching the same buffer bytes, one of them writing, are ordered.

    Instruction b is ordered after a when b waits for a (transitively), or a came earlier on b's
    unit (each unit runs its queue in order). Otherwise the two may run at the same time on the
    machine, and the result would depend on timing: the program is refused. A matmul's weights
    (rhs) load while the previous matmul streams, so they are ordered only after what that one
    was ordered after, and after their own waits on other units.
    """
    before, weights_before = _ordered_before(instructions)
    live = _Accesses(sum(len(i.reads) + len(i.writes) for i in instructions))
    for instruction in instructions:
        accesses = [(name, tile, False) for name, tile in instruction.reads]
        accesses += [(name, tile, True) for name, tile in instruction.writes]
        for name, tile, writes in accesses:
            ordered = before[instruction.index]
            if instruction.op == "matmul" and name == "rhs":
                ordered = weights_before[instruction.index]
            for other in live.clashing(tile, writes):
                if other != instruction.index and not ordered >> other & 1:
                    _race(instructions[other], instruction, name, tile, writes)
        for name, tile, writes in accesses:
            live.add(tile, writes, instruction.index)


class _Accesses:
    """The buffer accesses a later instruction may still race with.

    An access that a later write covers entirely drops out: whatever clashes with it clashes with
    that write too, which was ordered after it, so checking against the write is enough. What is
    left is about one entry per live tile, however long the program.
    """

    def __init__(self, capacity: int):
        self.starts = np.zeros(capacity, np.int64)
        self.ends = np.zeros(capacity, np.int64)
        self.writes = np.zeros(capacity, bool)
        self.owners = np.zeros(capacity, np.int64)
        self.count = 0

    def clashing(self, tile: Tile, writes: bool) -> list[int]:
        """The instructions whose accesses overlap `tile`, one of the two writing."""
        if tile.nbytes == 0:
            return []
        n = self.count
        clash = (self.starts[:n] < tile.end) & (tile.at < self.ends[:n])
        clash &= self.writes[:n] | writes
        return [int(owner) for owner in np.unique(self.owners[:n][clash])]

    def add(self, tile: Tile, writes: bool, owner: int) -> None:
        if tile.nbytes == 0:
            return
        n = self.count
        if writes:
            keep = ~((self.starts[:n] >= tile.at) & (self.ends[:n] <= tile.end))
            n = int(keep.sum())
            for column in (self.starts, self.ends, self.writes, self.owners):
                column[:n] = column[: self.count][keep]
        self.starts[n], self.ends[n], self.writes[n], self.owners[n] = (
            tile.at,
            tile.end,
            writes,
            owner,
        )
        self.count = n + 1


def _ordered_before(instructions) -> tuple[list[int], list[int]]:
    """Per instruction, a bit set of the instructions that finish before it starts (a matmul:
    before it streams), and per matmul the set that finish before its weight load starts."""
    before: list[int] = []
    weights_before: list[int] = []
    last_on_unit: dict[str, int] = {}
    for instruction in instructions:
        previous = last_on_unit.get(instruction.unit)
        bits = 0 if previous is None else before[previous] | (1 << previous)
        weight_bits = 0 if previous is None else before[previous]
        for earlier in instruction.waits:
            bits |= before[earlier] | (1 << earlier)
            if instructions[earlier].op != "matmul":
                weight_bits |= before[earlier] | (1 << earlier)
        before.append(bits)
        weights_before.append(weight_bits)
        last_on_unit[instruction.unit] = instruction.index
    return before, weights_before


def _race(earlier: Instruction, later: Instruction, field: str, tile: Tile, writes: bool):
    access = "writes" if writes else "reads"
    if later.op == "matmul" and field == "rhs" and earlier.op == "matmul":
        fix = (
            "a matmul's weights load while the matmul before it streams: write them with an "
            "instruction on another unit that waits for it"
        )
    else:
        fix = f"add {earlier.index} to its waits"
    raise ProgramError(
        f"accel program: instruction {later.index} ({later.op}): field '{field}': {access} "
        f"buffer bytes [{tile.at}, {tile.end}) that instruction {earlier.index} ({earlier.op}) "
        f"also uses, without waiting for it ({fix})"
    )
