"""Per-op times for a traced ``Session.run``: each graph op's lowered code between two clock reads.

A run traced with ``tf.RunOptions(trace_level=FULL_TRACE)`` runs a variant of its function compiled
with tracing on (tgc/driver/jit.py ``compile_run(trace=True)``). While the core lowering runs under
``tracing(table)``, ``tgc-to-core`` (tgc/lowering/to_core/__init__.py ``lower_function``) brackets
the code of every tgc op it lowers: ``%t0 = llvm.call @tgc_trace_now()`` before it and
``llvm.call @tgc_trace_record(slot, %t0)`` after it. Ops keep the TF name of the graph op they came
from in their location (``loc("dense/MatMul"(...))``), so the ops a graph op decomposed into, the
backward ops of a gradient and an op run on each iteration of a loop all record into the slot of
that name.

The clock is ``clock_gettime(CLOCK_MONOTONIC)`` called from compiled code (a vDSO read, no call
into Python). Each slot is four int64 words in a buffer the table owns, whose address is a constant
of the compiled code (the traced variant runs only in this process, never as an artifact):
``[first start, total time, executions, last end]`` in nanoseconds of the monotonic clock, which is
Python's ``time.monotonic_ns``. The untraced function has none of this: tracing changes only the
variant compiled while ``tracing`` is active.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np
from mlir import ir
from mlir.dialects import arith, llvm

NOW_FUNCTION = "tgc_trace_now"
RECORD_FUNCTION = "tgc_trace_record"
WORDS_PER_SLOT = 4  # first start, total, executions, last end (ns of CLOCK_MONOTONIC)
_CLOCK_MONOTONIC = 1  # Linux's clockid_t of CLOCK_MONOTONIC (Python's time.monotonic_ns)

_active: contextvars.ContextVar = contextvars.ContextVar("tgc_trace_table", default=None)


class TraceTable:
    """The slots of one traced compile: one per op name, in the order the lowering met them, and
    the buffer compiled code writes their times into."""

    def __init__(self, capacity: int):
        self.names: list = []  # slot -> TF op name
        self.kinds: list = []  # slot -> TF type of the op first lowered under it (fallback label)
        self.devices: list = []  # slot -> the device it ran on
        self._slots: dict = {}
        self.counters = np.zeros((max(capacity, 1), WORDS_PER_SLOT), np.int64)
        self._device = ""  # the device of the op whose lowering is under way (a loop's)
        self.host_notes: dict = {}  # what the host derives once per variant (labels, shapes)

    @classmethod
    def for_module(cls, module) -> "TraceTable":
        """A table with room for every op of ``module`` (nested loop functions included): names
        are slots, and no module has more names than ops."""
        count = [0]

        def visit(_op):
            count[0] += 1
            return ir.WalkResult.ADVANCE

        module.operation.walk(visit)
        return cls(count[0] + 16)

    def slot(self, name: str, kind: str, device: str) -> int:
        found = self._slots.get((name, device))
        if found is None:
            if len(self.names) == len(self.counters):
                raise RuntimeError(f"trace table full at op '{name}'")  # for_module sized it
            found = self._slots[(name, device)] = len(self.names)
            self.names.append(name)
            self.kinds.append(kind)
            self.devices.append(device)
        return found

    def device_of(self, operation) -> str:
        """Where ``operation`` runs: its placement, or (an op of a loop's body, which placement
        leaves unplaced) that of the op being lowered around it."""
        if "device" in operation.attributes:
            return ir.StringAttr(operation.attributes["device"]).value
        return self._device

    @contextlib.contextmanager
    def placed_on(self, device: str):
        outer, self._device = self._device, device
        try:
            yield
        finally:
            self._device = outer

    def reset(self) -> None:
        self.counters[:] = 0

    def records(self, default_device: str) -> list:
        """(name, device, first start, total, executions, last end) for each op that ran, times
        in ns of the monotonic clock, in the order of their first start. An op left unplaced
        (``default_device``'s) and the same op placed there are one."""
        merged: dict = {}
        for name, device, (first, total, count, last) in zip(
            self.names, self.devices, self.counters
        ):
            if not first:  # set by the first piece that ran: this op did not run
                continue
            key = (name, device or default_device)
            if key in merged:
                _, _, first0, total0, count0, last0 = merged[key]
                first, total, count, last = (
                    min(first0, first),
                    total0 + total,
                    count0 + count,
                    max(last0, last),
                )
            merged[key] = (*key, int(first), int(total), int(count), int(last))
        return sorted(merged.values(), key=lambda record: record[2])


@contextlib.contextmanager
def tracing(table: TraceTable):
    """Within it, ``tgc-to-core`` brackets each op it lowers with clock reads into ``table``."""
    token = _active.set(table)
    try:
        yield table
    finally:
        _active.reset(token)


def active_table():
    """The table of the traced compile under way, or None (an ordinary compile)."""
    return _active.get()


def op_name(location: ir.Location) -> str | None:
    """The TF name an op's location carries (``loc("scope/Name"(...))``, or the first name of a
    fused location), or None."""
    text = str(location)
    start = text.find('"')
    while start >= 0:
        end = text.find('"', start + 1)
        if end < 0:
            return None
        # A name location's name is followed by its child location or the closing paren; a file
        # location's file name by ':' and the line.
        if text[end + 1 : end + 2] in ("(", ")"):
            return text[start + 1 : end]
        start = text.find('"', end + 1)
    return None


def begin(module_op) -> ir.Value:
    """At the insertion point: reads the clock before an op's code; returns the time (i64 ns)."""
    _ensure_definitions(module_op, _active.get())
    return llvm.CallOp(
        _i64(),
        [],
        [],
        ir.DenseI32ArrayAttr.get([]),
        callee=ir.FlatSymbolRefAttr.get(NOW_FUNCTION),
    ).result


def end(slot: int, start: ir.Value, counts: bool = True) -> None:
    """At the insertion point, after the op's code: adds the time since ``start`` to ``slot``, and
    one execution when ``counts`` (not for the second and later pieces of one graph op)."""
    slot_value = arith.ConstantOp(_i64(), slot).result
    counts_value = arith.ConstantOp(_i64(), int(counts)).result
    llvm.CallOp(
        None,
        [slot_value, start, counts_value],
        [],
        ir.DenseI32ArrayAttr.get([]),
        callee=ir.FlatSymbolRefAttr.get(RECORD_FUNCTION),
    )


def _i64() -> ir.Type:
    return ir.IntegerType.get_signless(64)


# The clock read and the record, LLVM dialect (the conversions leave it as it is). The counters'
# address is a constant: the buffer lives in this process as long as the compiled code does.
_DEFINITIONS = """
llvm.func @clock_gettime(i32, !llvm.ptr) -> i32
llvm.func internal @{now}() -> i64 {{
  %clock = llvm.mlir.constant({clock} : i32) : i32
  %one = llvm.mlir.constant(1 : i64) : i64
  %ts = llvm.alloca %one x !llvm.array<2 x i64> : (i64) -> !llvm.ptr
  %status = llvm.call @clock_gettime(%clock, %ts) : (i32, !llvm.ptr) -> i32
  %seconds = llvm.load %ts : !llvm.ptr -> i64
  %nanos_at = llvm.getelementptr %ts[1] : (!llvm.ptr) -> !llvm.ptr, i64
  %nanos = llvm.load %nanos_at : !llvm.ptr -> i64
  %giga = llvm.mlir.constant(1000000000 : i64) : i64
  %scaled = llvm.mul %seconds, %giga : i64
  %time = llvm.add %scaled, %nanos : i64
  llvm.return %time : i64
}}
llvm.func internal @{record}(%slot: i64, %start: i64, %counts: i64) {{
  %end = llvm.call @{now}() : () -> i64
  %address = llvm.mlir.constant({address} : i64) : i64
  %base = llvm.inttoptr %address : i64 to !llvm.ptr
  %words = llvm.mlir.constant({words} : i64) : i64
  %index = llvm.mul %slot, %words : i64
  %first_at = llvm.getelementptr %base[%index] : (!llvm.ptr, i64) -> !llvm.ptr, i64
  %first = llvm.load %first_at : !llvm.ptr -> i64
  %zero = llvm.mlir.constant(0 : i64) : i64
  %unset = llvm.icmp "eq" %first, %zero : i64
  %new_first = llvm.select %unset, %start, %first : i1, i64
  llvm.store %new_first, %first_at : i64, !llvm.ptr
  %total_at = llvm.getelementptr %first_at[1] : (!llvm.ptr) -> !llvm.ptr, i64
  %total = llvm.load %total_at : !llvm.ptr -> i64
  %took = llvm.sub %end, %start : i64
  %new_total = llvm.add %total, %took : i64
  llvm.store %new_total, %total_at : i64, !llvm.ptr
  %count_at = llvm.getelementptr %first_at[2] : (!llvm.ptr) -> !llvm.ptr, i64
  %count = llvm.load %count_at : !llvm.ptr -> i64
  %new_count = llvm.add %count, %counts : i64
  llvm.store %new_count, %count_at : i64, !llvm.ptr
  %last_at = llvm.getelementptr %first_at[3] : (!llvm.ptr) -> !llvm.ptr, i64
  llvm.store %end, %last_at : i64, !llvm.ptr
  llvm.return
}}
"""


def _ensure_definitions(module_op, table: TraceTable) -> None:
    """Defines the clock read and the record in the module, once."""
    body = module_op.regions[0].blocks[0]
    present = {
        ir.StringAttr(op.attributes["sym_name"]).value
        for op in body.operations
        if "sym_name" in op.attributes
    }
    if RECORD_FUNCTION in present:
        return
    text = _DEFINITIONS.format(
        now=NOW_FUNCTION,
        record=RECORD_FUNCTION,
        clock=_CLOCK_MONOTONIC,
        address=table.counters.ctypes.data,
        words=WORDS_PER_SLOT,
    )
    parsed = ir.Module.parse(text)
    with ir.InsertionPoint.at_block_begin(body):
        for op in list(parsed.body.operations):
            if ir.StringAttr(op.operation.attributes["sym_name"]).value not in present:
                op.operation.clone()
