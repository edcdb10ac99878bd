"""A traced run's step stats as a Chrome trace (chrome://tracing, Perfetto): TF's
``tensorflow.python.client.timeline.Timeline``, which TF1 programs import from ``tensorflow.python``
(refused by tgc by design), here as ``Timeline(run_metadata.step_stats)``.

``generate_chrome_trace_format(show_dataflow=True)`` writes what TF's does for CPU step stats: a
"Compute" and a "Tensors" process per device after an "Allocators" process, one complete event
(``ph: X``, category ``Op``) per op in non-overlapping lanes, and with ``show_dataflow`` an arrow
(flow events) from each input's producer to its consumer when they are in different lanes or
devices. ``show_memory`` (tensor snapshots and allocator counters) is refused. ``op_time`` only
changes GPU tracer streams in TF, which tgc's step stats do not have, so every value gives the
same trace. It reads tgc's ``StepStats`` or TF's proto of it alike.
"""

from __future__ import annotations

import json
import re

_LABEL = re.compile(r"(.*) = (.*)\((.*)\)")  # "name = Type(input, input)", TF's timeline label
_OP_TIMES = ("schedule", "gpu", "all")


class Timeline:
    """``Timeline(step_stats, graph=None)``: ``graph`` is accepted and unused, as in TF for
    CPU step stats."""

    def __init__(self, step_stats, graph=None):
        self._step_stats = step_stats
        self._graph = graph

    def generate_chrome_trace_format(
        self, show_dataflow: bool = True, show_memory: bool = False, op_time: str = "schedule"
    ) -> str:
        check_trace_options(show_memory, op_time)
        return json.dumps(
            {"traceEvents": _Trace(self._step_stats, show_dataflow).events()},
            indent=4,
            separators=(",", ": "),
        )


def check_trace_options(show_memory: bool = False, op_time: str = "schedule") -> None:
    """ValueError for what tgc's traces do not draw (memory) or an ``op_time`` TF does not know."""
    if show_memory:
        raise ValueError(
            "Timeline.generate_chrome_trace_format(show_memory=True) is not supported by tgc: "
            "its traces show compute and dataflow; each op's output bytes are in its step "
            "stats (NodeExecStats.memory) instead"
        )
    if op_time not in _OP_TIMES:
        raise ValueError(f"op_time must be one of {', '.join(_OP_TIMES)}, not {op_time!r}")


class _Trace:
    """One conversion, in TF's order: process names, lanes, tensors, then ops and flows."""

    def __init__(self, step_stats, show_dataflow: bool):
        self.devices = list(step_stats.dev_stats)
        self.show_dataflow = show_dataflow
        self.metadata: list = []
        self.ops: list = []
        self.flow_starts: dict = {}  # tensor name -> (time, pid, lane) of the end of its producer
        self.next_flow = 0

    def events(self) -> list:
        pids = self._allocate_pids()
        lanes = [_lanes(device.node_stats) for device in self.devices]
        for device, device_lanes in zip(self.devices, lanes):
            for node, lane in zip(device.node_stats, device_lanes):
                self._produce(node, pids[device.device], lane)
        for device, device_lanes in zip(self.devices, lanes):
            for node, lane in zip(device.node_stats, device_lanes):
                self._compute(node, pids[device.device], lane)
        return self.metadata + self.ops

    def _allocate_pids(self) -> dict:
        self._process("Allocators", 0)
        pids = {}
        for i, device in enumerate(self.devices):
            pids[device.device] = 1 + 2 * i
            self._process(device.device + " Compute", 1 + 2 * i)
            self._process(device.device + " Tensors", 2 + 2 * i)
        return pids

    def _process(self, name: str, pid: int) -> None:
        self.metadata.append(
            {"name": "process_name", "ph": "M", "pid": pid, "args": {"name": name}}
        )

    def _produce(self, node, pid: int, lane: int) -> None:
        """Where each output's dataflow arrow starts: the end of the op that made it."""
        end = node.all_start_micros + node.all_end_rel_micros
        for index in range(_output_count(node)):
            name = node.node_name if index == 0 else f"{node.node_name}:{index}"
            self.flow_starts[name] = (end, pid, lane)

    def _compute(self, node, pid: int, lane: int) -> None:
        start = node.all_start_micros
        match = _LABEL.match(node.timeline_label)
        op, inputs = ("unknown", []) if match is None else (match.group(2), match.group(3))
        inputs = inputs.split(", ") if inputs else []
        args = {"name": node.node_name, "op": op}
        args.update((f"input{i}", name) for i, name in enumerate(inputs))
        self.ops.append(
            _event("X", "Op", op, pid, lane, start) | {"dur": node.all_end_rel_micros, "args": args}
        )
        if not self.show_dataflow:
            return
        for name in inputs:
            if name not in self.flow_starts and name.rfind("/_") > 0:
                name = name[: name.rfind("/_")]  # a transfer's input: the original producer
            created = self.flow_starts.get(name)
            # No arrow within one lane: the horizontal arrows would only clutter the view.
            if created is None or created[1:] == (pid, lane):
                continue
            flow = self.next_flow
            self.next_flow += 1
            self.ops.append(_event("s", "DataFlow", name, created[1], created[2], created[0]))
            self.ops[-1]["id"] = flow
            self.ops.append(_event("t", "DataFlow", name, pid, lane, start) | {"id": flow})


def _event(ph: str, category: str, name: str, pid: int, tid: int, timestamp: int) -> dict:
    return {"ph": ph, "cat": category, "name": name, "pid": pid, "tid": tid, "ts": timestamp}


def _lanes(node_stats) -> list:
    """TF's lanes: each op goes to the first lane free before its start (strictly), else a new
    one."""
    ends, lanes = [0], []
    for node in node_stats:
        start, end = node.all_start_micros, node.all_start_micros + node.all_end_rel_micros
        lane = next((i for i, busy in enumerate(ends) if start > busy), len(ends))
        if lane == len(ends):
            ends.append(end)
        else:
            ends[lane] = end
        lanes.append(lane)
    return lanes


def _output_count(node) -> int:
    """Outputs of tgc's NodeExecStats (``outputs``) or TF's proto (``output``)."""
    outputs = getattr(node, "outputs", None)
    return len(outputs) if outputs is not None else len(node.output)
