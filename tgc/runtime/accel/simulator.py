"""The accelerator simulator: runs a program's instructions on numpy, one numpy call per tile.

Two things are computed, separately. The timing (cycles of every instruction on its unit, from the
machine model; it depends on the program only, so it is known before any data is given) and the
values (each instruction executed in program order on a numpy copy of the on-chip buffer). The
program was checked for races when it was loaded, so program order gives the values any order the
machine's timing allows would. docs/accel-machine.md describes both.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from tgc.runtime.accel.machine import Machine
from tgc.runtime.accel.program import (
    Instruction,
    Program,
    Tile,
    box_indices,
    box_tile_shape,
    load_program,
)

# Trace tracks, top to bottom: (track, title). The matrix unit's weight loads (into the array's
# second weight buffer) overlap the previous matmul's streaming, so they get a track of their own.
TRACKS = (
    ("dma_in", "DMA in (device memory -> buffer)"),
    ("vector", "vector unit"),
    ("matrix_weights", "matrix unit: weight loads"),
    ("matrix", "matrix unit: streaming"),
    ("dma_out", "DMA out (buffer -> device memory)"),
)
UNITS = ("dma_in", "dma_out", "matrix", "vector")


class InputError(ValueError):
    """The tensors handed to `Simulator.run` do not match the program's inputs."""


def to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounding to nearest, ties to even.

    A NaN stays a NaN (quiet, sign kept); a value past the largest bfloat16 rounds to infinity.
    """
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    lowest_kept_bit = (bits >> 16) & 1
    rounded = ((bits + 0x7FFF + lowest_kept_bit) >> 16).astype(np.uint16)
    is_nan = (bits & 0x7FFFFFFF) > 0x7F800000
    quiet_nan = ((bits >> 16) | 0x0040).astype(np.uint16)
    return np.where(is_nan, quiet_nan, rounded)


def from_bfloat16_bits(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) -> float32, exactly (bfloat16 is float32's top half)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


@dataclass(frozen=True)
class Slice:
    """When one instruction ran. A matmul's weight load is [weights_start, weights_end)."""

    index: int
    op: str
    unit: str
    start: int
    end: int
    weights_start: int | None = None
    weights_end: int | None = None


@dataclass(frozen=True)
class Stats:
    """What the program costs on the modelled machine."""

    total_cycles: int
    busy_cycles: dict  # unit -> cycles it was busy (the matrix unit: its streaming)
    weight_load_cycles: int  # matrix unit, overlapped with streaming where double-buffered
    macs: int
    useful_mac_cycles: float  # macs / (array_rows * array_cols): cycles a perfect array needs
    matrix_utilisation: float  # useful_mac_cycles / total_cycles
    matrix_occupancy: float  # busy_cycles["matrix"] / total_cycles (fill and drain included)
    flops: int
    seconds: float
    achieved_flops_per_s: float
    peak_flops_per_s: float
    fraction_of_peak: float  # achieved / peak; equals matrix_utilisation (matmuls are all flops)
    dma_bytes_in: int
    dma_bytes_out: int
    arithmetic_intensity: float  # flops per byte moved between device memory and the buffer

    def to_dict(self) -> dict:
        return asdict(self)


class Simulator:
    """Runs one accelerator program: `Simulator(program).run(inputs) -> outputs`.

    `program` is a `Program`, its JSON text or the parsed dict; `machine`, when given, replaces
    the program's own. A program the machine cannot run raises `ProgramError` here.
    """

    def __init__(self, program, machine: Machine | None = None):
        self.program: Program = load_program(program, machine)
        self.machine = self.program.machine
        self.slices = _schedule(self.program)
        self.stats = _stats(self.program, self.slices)

    def run(self, inputs) -> list[np.ndarray]:
        """The program's outputs (float32 arrays, by output index) for `inputs` (by input index)."""
        tensors = self._tensors(inputs)
        buffer = np.zeros(self.program.buffer_bytes, dtype=np.uint8)
        with np.errstate(all="ignore"):  # IEEE results (inf, nan) as the hardware gives them
            for instruction in self.program.instructions:
                _EXECUTE[instruction.op](instruction, buffer, tensors)
        return [tensors[position] for position, _ in self.program.outputs]

    def _tensors(self, inputs) -> list:
        expected = self.program.inputs
        if isinstance(inputs, np.ndarray) or not hasattr(inputs, "__len__"):
            raise InputError(f"accel run: inputs must be a list of {len(expected)} arrays")
        if len(inputs) != len(expected):
            raise InputError(
                f"accel run: the program takes {len(expected)} inputs, got {len(inputs)}"
            )
        tensors: list = [None] * len(self.program.tensors)
        for (position, tensor), value in zip(expected, inputs):
            if (
                not isinstance(value, np.ndarray)
                or value.dtype != np.dtype(tensor.dtype)
                or value.shape != tensor.shape
            ):
                got = (
                    f"{value.dtype} array of shape {list(value.shape)}"
                    if isinstance(value, np.ndarray)
                    else type(value).__name__
                )
                raise InputError(
                    f"accel run: input {tensor.index}: expected a {tensor.dtype} array of shape "
                    f"{list(tensor.shape)}, got a {got}"
                )
            tensors[position] = value
        for position, tensor in self.program.outputs:
            tensors[position] = np.zeros(tensor.shape, dtype=tensor.dtype)
        for position, tensor in enumerate(self.program.tensors):
            if tensor.kind == "constant":
                values = np.array(tensor.values, dtype=tensor.dtype)
                tensors[position] = values.reshape(tensor.shape)
        return tensors

    def trace(self) -> dict:
        """The timeline as Chrome trace events (Perfetto, chrome://tracing): a track per unit."""
        microseconds_per_cycle = 1e6 / self.machine.clock_hz
        events = [_metadata("process_name", 0, {"name": "accel (simulated)"})]
        track_ids = {track: tid for tid, (track, _) in enumerate(TRACKS)}
        for tid, (_, title) in enumerate(TRACKS):
            events.append(_metadata("thread_name", tid, {"name": title}))
            events.append(_metadata("thread_sort_index", tid, {"sort_index": tid}))
        for piece in self.slices:
            instruction = self.program.instructions[piece.index]
            args = _slice_args(instruction)
            phases = [(piece.unit, piece.start, piece.end)]
            if piece.weights_start is not None:
                phases.insert(0, ("matrix_weights", piece.weights_start, piece.weights_end))
            for track, start, end in phases:
                events.append(
                    {
                        "ph": "X",
                        "name": instruction.op,
                        "cat": piece.unit,
                        "pid": 0,
                        "tid": track_ids[track],
                        "ts": start * microseconds_per_cycle,
                        "dur": (end - start) * microseconds_per_cycle,
                        "args": {**args, "start_cycle": start, "end_cycle": end},
                    }
                )
        return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": self.stats.to_dict()}

    def write_trace(self, path) -> None:
        with open(path, "w") as out:
            json.dump(self.trace(), out)


def _metadata(name: str, tid: int, args: dict) -> dict:
    return {"ph": "M", "name": name, "pid": 0, "tid": tid, "args": args}


def _slice_args(instruction: Instruction) -> dict:
    args = {"instruction": instruction.index, "waits": list(instruction.waits)}
    for name, value in instruction.fields.items():
        if isinstance(value, Tile):
            args[name] = f"{value.rows}x{value.cols} {value.dtype} @ {value.at}"
        else:
            args[name] = list(value) if isinstance(value, tuple) else value
    return args


# Timing.


def _schedule(program: Program) -> list[Slice]:
    """When each instruction runs: start = max(its unit is free, every waited instruction ended).

    The matrix unit holds two weight buffers: matmul i loads its weights into the idle one while
    matmul i-1 streams, so its weight load starts once i-1 has started streaming (and its waits
    have ended). The array is a pipeline: matmul i's rows enter right behind i-1's last row (once
    its weights are in), so a chain of matmuls pays the array's fill and drain once, and a matmul
    is complete `array_rows` cycles after its last row entered. The pipeline keeps row order, so a
    wait on an earlier matmul (the previous step of a K sum into the same accumulator) holds only
    the entry of the rows, not the weight load, and is met once that matmul's rows have entered.
    Slice.start/end of a matmul are its streaming (rows entering to results complete); the weight
    load is weights_start/end.
    """
    machine = program.machine
    ends: list[int] = []
    entered: dict = {}  # matmul index -> the cycle its last row entered the array
    unit_free = dict.fromkeys(UNITS, 0)
    previous_stream_start = 0
    slices = []
    for instruction in program.instructions:
        if instruction.op == "matmul":
            rows, k = instruction["lhs"].shape
            on_matmuls = [w for w in instruction.waits if w in entered]
            weights_ready = max((ends[w] for w in instruction.waits if w not in entered), default=0)
            weights_start = max(weights_ready, previous_stream_start)
            weights_end = weights_start + machine.weight_load_cycles(k)
            ready = max((entered[w] for w in on_matmuls), default=weights_ready)
            start = max(weights_end, ready, unit_free["matrix"])
            end = start + machine.stream_cycles(rows)
            entered[instruction.index] = start + rows
            previous_stream_start = start
            unit_free["matrix"] = start + rows  # the next matmul's rows follow right behind
            piece = Slice(
                instruction.index, "matmul", "matrix", start, end, weights_start, weights_end
            )
        else:
            ready = max((ends[w] for w in instruction.waits), default=0)
            start = max(ready, unit_free[instruction.unit])
            end = start + instruction.cycles(machine)
            unit_free[instruction.unit] = end
            piece = Slice(instruction.index, instruction.op, instruction.unit, start, end)
        ends.append(end)
        slices.append(piece)
    return slices


def _covered(pieces: list) -> int:
    """Cycles during which at least one of ``pieces`` runs (pipelined matmuls overlap)."""
    covered, reach = 0, 0
    for piece in sorted(pieces, key=lambda p: p.start):
        if piece.end > reach:
            covered += piece.end - max(piece.start, reach)
            reach = piece.end
    return covered


def _stats(program: Program, slices: list[Slice]) -> Stats:
    machine = program.machine
    total = max((piece.end for piece in slices), default=0)
    busy = {unit: _covered([p for p in slices if p.unit == unit]) for unit in UNITS}
    weight_loads = sum(
        piece.weights_end - piece.weights_start
        for piece in slices
        if piece.weights_start is not None
    )
    macs = sum(instruction.macs for instruction in program.instructions)
    useful = macs / (machine.array_rows * machine.array_cols)
    seconds = total / machine.clock_hz
    achieved = 2 * macs / seconds if seconds else 0.0
    moved = {"dma_load": 0, "dma_store": 0}
    for instruction in program.instructions:
        if instruction.op in moved:
            moved[instruction.op] += instruction.tile.nbytes
    traffic = moved["dma_load"] + moved["dma_store"]
    return Stats(
        total_cycles=total,
        busy_cycles=busy,
        weight_load_cycles=weight_loads,
        macs=macs,
        useful_mac_cycles=useful,
        matrix_utilisation=useful / total if total else 0.0,
        matrix_occupancy=busy["matrix"] / total if total else 0.0,
        flops=2 * macs,
        seconds=seconds,
        achieved_flops_per_s=achieved,
        peak_flops_per_s=machine.peak_flops_per_s,
        fraction_of_peak=achieved / machine.peak_flops_per_s,
        dma_bytes_in=moved["dma_load"],
        dma_bytes_out=moved["dma_store"],
        arithmetic_intensity=2 * macs / traffic if traffic else 0.0,
    )


# Values: one numpy operation per instruction.


def _view(buffer: np.ndarray, tile: Tile) -> np.ndarray:
    """The tile's elements, a view into the buffer (bfloat16 as its uint16 bit patterns)."""
    element = np.float32 if tile.dtype == "float32" else np.uint16
    return buffer[tile.at : tile.end].view(element).reshape(tile.shape)


def _as_float32(buffer: np.ndarray, tile: Tile) -> np.ndarray:
    values = _view(buffer, tile)
    return values if tile.dtype == "float32" else from_bfloat16_bits(values)


def _dma_load(instruction, buffer, tensors):
    """The box's elements (the fill value where it leaves the tensor), in tile order."""
    box, tensor = instruction.fields, tensors[instruction["tensor"]]
    indices = box_indices(box)
    inside = [(i >= 0) & (i < extent) for i, extent in zip(indices, tensor.shape)]
    clipped = [np.clip(i, 0, max(extent - 1, 0)) for i, extent in zip(indices, tensor.shape)]
    if tensor.size:
        values = tensor[np.ix_(*clipped)]
    else:  # an empty tensor: every element of the box is fill
        values = np.zeros([len(i) for i in indices], tensor.dtype)
    if "fill" in box:
        values = np.where(_outer_and(inside), values, np.float32(box["fill"]))
    if "perm" in box:
        values = np.transpose(values, box["perm"])
    _view(buffer, instruction["to"])[...] = values.reshape(box_tile_shape(box))


def _outer_and(masks: list) -> np.ndarray:
    """mask[i0, i1, ...] = masks[0][i0] & masks[1][i1] & ...: inside the tensor in every dim."""
    result = np.ones([len(m) for m in masks], dtype=bool)
    for dim, mask in enumerate(masks):
        result &= mask.reshape([-1 if d == dim else 1 for d in range(len(masks))])
    return result


def _dma_store(instruction, buffer, tensors):
    """The tile, in tile order, written to the box's elements of the tensor."""
    box = instruction.fields
    counts = [box["count"][dim] for dim in box.get("perm", range(len(box["count"])))]
    values = _view(buffer, instruction["from"]).reshape(counts)
    if "perm" in box:
        values = np.transpose(values, np.argsort(box["perm"]))
    tensors[instruction["tensor"]][np.ix_(*box_indices(box))] = values


def _cast(instruction, buffer, tensors):
    source, to = instruction["from"], instruction["to"]
    values = _as_float32(buffer, source)
    if to.dtype == "bfloat16":
        values = to_bfloat16_bits(values)
    _view(buffer, to)[...] = values


def _zero(instruction, buffer, tensors):
    _view(buffer, instruction.tile)[...] = 0


def _fill(instruction, buffer, tensors):
    _view(buffer, instruction.tile)[...] = np.float32(instruction["value"])


def _operand(buffer, value):
    """A vector operand's values: a tile (a row or column broadcasts), or a float32 number."""
    return _view(buffer, value) if isinstance(value, Tile) else np.float32(value)


def _logistic(x):
    """1 / (1 + e^-x) without overflow: e^x / (1 + e^x) for negative x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, np.float32(1) / (np.float32(1) + e), e / (np.float32(1) + e))


_ONE = np.float32(1)
_UNARY = {
    "copy": np.copy,
    "neg": np.negative,
    "abs": np.abs,
    "sign": np.sign,
    "square": np.square,
    "relu": lambda x: np.maximum(x, np.float32(0)),  # NaN stays NaN
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.rint,  # half to even, as tf.round
    "not": lambda x: (x == 0).astype(np.float32),
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: _ONE / np.sqrt(x),
    "reciprocal": lambda x: _ONE / x,
    "tanh": np.tanh,
    "logistic": _logistic,
    "sin": np.sin,
    "cos": np.cos,
}
_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,  # NaN propagates, as tf.maximum
    "min": np.minimum,
    "pow": np.power,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
_REDUCE = {"sum": np.add, "max": np.maximum, "min": np.minimum, "prod": np.multiply}


def _store_result(buffer, instruction, values):
    """The result, float32 and broadcast to the output tile (comparisons give 0.0 and 1.0)."""
    to = _view(buffer, instruction["to"])
    to[...] = np.broadcast_to(np.asarray(values, dtype=np.float32), to.shape)


def _unary(instruction, buffer, tensors):
    values = _UNARY[instruction["fn"]](_operand(buffer, instruction["x"]))
    _store_result(buffer, instruction, values)


def _binary(instruction, buffer, tensors):
    lhs, rhs = (_operand(buffer, instruction[name]) for name in ("lhs", "rhs"))
    _store_result(buffer, instruction, _BINARY[instruction["fn"]](lhs, rhs))


def _select(instruction, buffer, tensors):
    cond, lhs, rhs = (_operand(buffer, instruction[name]) for name in ("cond", "lhs", "rhs"))
    _store_result(buffer, instruction, np.where(cond != 0, lhs, rhs))


def _reduce(instruction, buffer, tensors):
    """to = fn(to, fn over the axis of from): the accumulator keeps a reduction across tiles."""
    combine = _REDUCE[instruction["fn"]]
    source, to = _view(buffer, instruction["from"]), _view(buffer, instruction["to"])
    partial = combine.reduce(source, axis=instruction["axis"], keepdims=True, dtype=np.float32)
    to[...] = combine(to, partial)


def _matmul(instruction, buffer, tensors):
    """acc += lhs @ rhs: bfloat16 inputs made float32 (exactly), products summed by np.matmul."""
    lhs = _as_float32(buffer, instruction["lhs"])
    rhs = _as_float32(buffer, instruction["rhs"])
    acc = _view(buffer, instruction["acc"])
    acc += np.matmul(lhs, rhs)


_EXECUTE = {
    "dma_load": _dma_load,
    "dma_store": _dma_store,
    "cast": _cast,
    "zero": _zero,
    "fill": _fill,
    "unary": _unary,
    "binary": _binary,
    "select": _select,
    "reduce": _reduce,
    "matmul": _matmul,
}
