"""Shared-memory bank conflicts of a kernel, counted by running its index arithmetic for one warp.

Shared memory has 32 banks of 4 bytes; a warp's access takes one pass (a wavefront) per set of
addresses the banks can serve at once: lanes reading the same word share it, two different words
in one bank take two passes. Accesses wider than 4 bytes a lane go in phases (8-byte: two
half-warps, 16-byte: four quarter-warps), each at least one wavefront. A conflict is a wavefront
beyond that least number.

The count runs the gpu.launch's body (the MLIR a kernel writer emits, the text ptxas gets in the
end) for the 32 lanes of one warp at once: index arithmetic (arith on index and integers,
selects, compares), scf.for with known bounds (each trip, up to ``max_trips``) and scf.if (the
lanes where the condition holds run the branch). Every other op's results are unknown: an address
computed from a loaded value cannot be counted and is an error. At each shared access (memref.load
and memref.store, vector.load and vector.store, nvgpu.device_async_copy's shared side) it takes
the active lanes' byte addresses and counts the wavefronts. A buffer's base address shifts every
lane's address alike, so it drops out (buffers are at least 16-byte aligned); so does a view's
offset into the dynamic shared memory (memref.view of gpu.dynamic_shared_memory: a buffer too).

This is a static count of the kernel as written, for a chosen warp and block; it needs no GPU.
It reads the kernel the GPU gets rather than instrumenting nvptx-emulated: the emulated target
runs a different kernel for the tensor-core matmul (its cp.async become plain stores, its mma.sync
an exchange through a workgroup buffer), and runs a block's threads one after another, so it never
sees a warp's 32 addresses together.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
from mlir import ir

WARP = 32
BANKS = 32
BANK_BYTES = 4


class CountError(Exception):
    """The kernel does something the counter cannot follow (an address from loaded data, a loop
    with unknown bounds): the count would be a guess."""


@dataclasses.dataclass
class Access:
    """One shared-memory access site, over every time the warp ran it."""

    kind: str  # "load", "store" or "cp.async"
    # which buffer: the launch's workgroup attributions (0, 1, ...), then the views of its
    # dynamic shared memory in the order the kernel takes them
    buffer: int
    lane_bytes: int  # bytes each lane moves
    executed: int = 0  # times the warp ran it with some lane active
    wavefronts: int = 0
    least: int = 0  # wavefronts without conflicts

    @property
    def conflicts(self) -> int:
        return self.wavefronts - self.least


def wavefronts(addresses: np.ndarray, lane_bytes: int) -> tuple[int, int]:
    """(wavefronts, least wavefronts) of one warp-wide access: ``addresses`` the active lanes'
    byte addresses in lane order (-1 for an inactive lane), each moving ``lane_bytes``."""
    per_phase = WARP * BANK_BYTES // max(lane_bytes, BANK_BYTES)
    taken = least = 0
    for start in range(0, WARP, per_phase):
        phase = addresses[start : start + per_phase]
        phase = phase[phase >= 0]
        if not len(phase):
            continue
        words = {int(a) // BANK_BYTES + w for a in phase for w in range(lane_bytes // BANK_BYTES)}
        per_bank = Counter(word % BANKS for word in words)
        taken += max(per_bank.values())
        least += 1
    return taken, least


class WarpCounter:
    """Runs a gpu.launch body for the lanes of warp ``warp`` of block ``block`` (x, y, z) and
    records its shared accesses (``accesses``, keyed by the op)."""

    def __init__(self, launch, *, warp: int = 0, block=(0, 0, 0), max_trips: int | None = None):
        self.launch = launch
        self.max_trips = max_trips
        body = launch.regions[0].blocks[0]
        args = list(body.arguments)
        self.values: dict = {}
        self.shared = {}  # attribution or view of dynamic shared memory -> its index
        for n, arg in enumerate(args[12:]):
            self.shared[arg] = n
        self.dynamic = set()  # gpu.dynamic_shared_memory's values
        sizes = [self._constant_of(launch.operands[i]) for i in range(6)]
        lanes = np.arange(WARP) + warp * WARP
        tid = (lanes % sizes[3], lanes // sizes[3] % sizes[4], lanes // (sizes[3] * sizes[4]))
        for i in range(3):
            self.values[args[i]] = np.full(WARP, block[i])
            self.values[args[3 + i]] = tid[i]
            self.values[args[6 + i]] = np.full(WARP, sizes[i])
            self.values[args[9 + i]] = np.full(WARP, sizes[3 + i])
        self.accesses: dict = {}
        self.active = lanes < sizes[3] * sizes[4] * sizes[5]  # a last warp may be partial

    @staticmethod
    def _constant_of(value) -> int:
        owner = value.owner
        if not isinstance(owner, ir.OpView) or owner.operation.name != "arith.constant":
            raise CountError("the launch's grid and block sizes must be constants")
        return ir.IntegerAttr(owner.operation.attributes["value"]).value

    def run(self) -> list:
        self._block(self.launch.regions[0].blocks[0], self.active)
        return list(self.accesses.values())

    # ---- ops ----------------------------------------------------------------------------------

    def _block(self, block, active: np.ndarray) -> list | None:
        """Runs ``block``'s ops; returns the values its terminator passes on (scf.yield)."""
        for op in block.operations:
            op = op.operation
            name = op.name
            if name == "scf.yield":
                return [self.values.get(v) for v in op.operands]
            if name == "scf.for":
                self._for(op, active)
            elif name == "scf.if":
                self._if(op, active)
            elif name in _SHARED_OPS:
                self._access(op, active)
            else:
                self._arith(op)
        return None

    def _for(self, op, active: np.ndarray) -> None:
        """Each trip for the lanes still in the loop: a lane's bounds may be its own (a loop
        over a thread's elements, tid to N step threads); the warp goes on while any lane does,
        the others idle (their carried values kept)."""
        lower, upper, step = (self._bounds_of(op.operands[i]) for i in range(3))
        body = op.regions[0].blocks[0]
        carried = [self.values.get(v) for v in list(op.operands)[3:]]
        trips = 0
        while self.max_trips is None or trips < self.max_trips:
            iv = lower + trips * step
            lanes = active & (iv < upper)
            if not lanes.any():
                break
            self.values[body.arguments[0]] = iv
            for arg, value in zip(list(body.arguments)[1:], carried):
                self._set(arg, value)
            carried = [
                _merge(lanes, new, old) for new, old in zip(self._block(body, lanes), carried)
            ]
            trips += 1
        for result, value in zip(op.results, carried):
            self._set(result, value)

    def _bounds_of(self, value) -> np.ndarray:
        lanes = self._lanes(value)
        if lanes is None:
            raise CountError("an scf.for whose bounds depend on loaded data")
        return lanes

    def _if(self, op, active: np.ndarray) -> None:
        """Each branch for the lanes that take it; its results (values, never the indices the
        count needs) stay unknown."""
        condition = self._lanes(op.operands[0])
        if condition is None:
            raise CountError("an scf.if whose condition depends on loaded data")
        condition = condition.astype(bool)
        for region, lanes in zip(op.regions, (active & condition, active & ~condition)):
            if region.blocks and lanes.any():
                self._block(region.blocks[0], lanes)
        for result in op.results:
            self._set(result, None)

    def _set(self, value, lanes) -> None:
        if lanes is None:
            self.values.pop(value, None)
        else:
            self.values[value] = lanes

    def _lanes(self, value):
        """The lanes' values of ``value``; an integer constant from outside the launch too."""
        if value not in self.values:
            owner = value.owner
            if isinstance(owner, ir.OpView) and owner.operation.name == "arith.constant":
                attribute = owner.operation.attributes["value"]
                if isinstance(attribute, ir.IntegerAttr):
                    return np.full(WARP, ir.IntegerAttr(attribute).value)
        return self.values.get(value)

    def _arith(self, op) -> None:
        if op.name == "gpu.dynamic_shared_memory":
            self.dynamic.add(op.results[0])
            return
        if op.name == "memref.view" and op.operands[0] in self.dynamic:
            self.shared[op.results[0]] = len(self.shared)  # a buffer in the dynamic memory
            return
        if op.name == "arith.constant":
            attribute = op.attributes["value"]
            if isinstance(attribute, ir.IntegerAttr):
                self.values[op.results[0]] = np.full(WARP, ir.IntegerAttr(attribute).value)
            return
        if op.name not in _ARITH or not len(op.results):
            return
        operands = [self._lanes(v) for v in op.operands]
        if any(x is None for x in operands):
            return  # a value the count never needs (or an address from data: seen at its use)
        if op.name == "arith.cmpi":
            predicate = ir.IntegerAttr(op.attributes["predicate"]).value
            self.values[op.results[0]] = _COMPARE[predicate](*operands)
        else:
            self.values[op.results[0]] = _ARITH[op.name](*operands)

    # ---- shared accesses ----------------------------------------------------------------------

    def _access(self, op, active: np.ndarray) -> None:
        kind, memref, indices, lane_bytes = _SHARED_OPS[op.name](op)
        if memref not in self.shared:
            return  # a global access
        lanes = [self._lanes(i) for i in indices]
        if any(x is None for x in lanes):
            raise CountError(f"{op.name}: a shared address computed from loaded data")
        type_ = ir.MemRefType(memref.type)
        element = _element_bytes(type_)
        strides = np.cumprod([1, *reversed(type_.shape[1:])])[::-1]
        offset = sum(lane * int(s) for lane, s in zip(lanes, strides))
        if op.name == "nvgpu.ldmatrix":  # the lanes past the matrices' rows give no address
            matrices = ir.IntegerAttr(op.attributes["numTiles"]).value
            active = active & (np.arange(WARP) < 8 * matrices)
        addresses = np.where(active, offset * element, -1)
        key = op
        if key not in self.accesses:
            self.accesses[key] = Access(kind, self.shared[memref], lane_bytes(element))
        record = self.accesses[key]
        taken, least = wavefronts(addresses, record.lane_bytes)
        record.executed += 1
        record.wavefronts += taken
        record.least += least


def _merge(lanes: np.ndarray, new, old):
    """A loop-carried value after a trip: ``new`` in the lanes that ran it, ``old`` elsewhere
    (unknown if either is)."""
    if new is None or old is None:
        return None
    return np.where(lanes, new, old)


def _element_bytes(memref: ir.MemRefType) -> int:
    return max(1, memref.element_type.width // 8)


def _vector_bytes(op) -> callable:
    vector = ir.VectorType(op.results[0].type if op.name == "vector.load" else op.operands[0].type)
    count = int(np.prod(vector.shape))
    return lambda element: count * element


def _memref_load(op):
    return "load", op.operands[0], list(op.operands)[1:], lambda e: e


def _memref_store(op):
    return "store", op.operands[1], list(op.operands)[2:], lambda e: e


def _vector_load(op):
    return "load", op.operands[0], list(op.operands)[1:], _vector_bytes(op)


def _vector_store(op):
    return "store", op.operands[1], list(op.operands)[2:], _vector_bytes(op)


def _async_copy(op):
    """nvgpu.device_async_copy's operands: dst, its indices, src, its indices, (source size);
    the shared side is dst."""
    dst = op.operands[0]
    indices = list(op.operands)[1 : 1 + ir.MemRefType(dst.type).rank]
    width = ir.IntegerAttr(op.attributes["dstElements"]).value
    return "cp.async", dst, indices, lambda e: width * e


def _ldmatrix(op):
    """nvgpu.ldmatrix: lanes 8q .. 8q + 7 give the 16-byte rows of matrix q (numTiles of them);
    one phase a matrix, as a 16-byte access of those lanes."""
    return "ldmatrix", op.operands[0], list(op.operands)[1:], lambda e: 16


_SHARED_OPS = {
    "memref.load": _memref_load,
    "memref.store": _memref_store,
    "vector.load": _vector_load,
    "vector.store": _vector_store,
    "nvgpu.device_async_copy": _async_copy,
    "nvgpu.ldmatrix": _ldmatrix,
}

_ARITH = {
    "arith.addi": np.add,
    "arith.subi": np.subtract,
    "arith.muli": np.multiply,
    "arith.divui": np.floor_divide,
    "arith.remui": np.remainder,
    "arith.divsi": lambda a, b: np.trunc(a / b).astype(np.int64),
    "arith.remsi": np.fmod,
    "arith.andi": np.bitwise_and,
    "arith.ori": np.bitwise_or,
    "arith.xori": np.bitwise_xor,
    "arith.shli": np.left_shift,
    "arith.shrui": np.right_shift,
    "arith.minui": np.minimum,
    "arith.maxui": np.maximum,
    "arith.minsi": np.minimum,
    "arith.maxsi": np.maximum,
    "arith.select": lambda c, a, b: np.where(c.astype(bool), a, b),
    "arith.index_cast": lambda a: a,
    "arith.index_castui": lambda a: a,
    "arith.extui": lambda a: a,
    "arith.extsi": lambda a: a,
    "arith.trunci": lambda a: a,
    "arith.cmpi": None,  # by predicate: _COMPARE
}

# arith.cmpi's predicates, by their number: eq ne slt sle sgt sge ult ule ugt uge.
_COMPARE = [np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal]
_COMPARE += _COMPARE[2:]


def count_launch(launch, **kwargs) -> list:
    """The shared accesses of gpu.launch ``launch`` for one warp (WarpCounter's arguments)."""
    return WarpCounter(launch, **kwargs).run()


def totals(accesses: list) -> dict:
    """{(kind, buffer, lane bytes): (wavefronts, least)} summed over the access sites."""
    sums: dict = {}
    for a in accesses:
        key = (a.kind, a.buffer, a.lane_bytes)
        taken, least = sums.get(key, (0, 0))
        sums[key] = (taken + a.wavefronts, least + a.least)
    return sums


def launches(module: ir.Module) -> list:
    """Every gpu.launch in ``module``."""
    found = []

    def visit(op):
        if op.operation.name == "gpu.launch":
            found.append(op.operation)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return found
