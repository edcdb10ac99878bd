"""`tf.RunMetadata`: what a traced ``Session.run`` reports (TF's ``RunMetadata`` proto, as plain
Python objects with its field names).

A run given ``run_metadata=`` and ``options=tf.RunOptions(trace_level=...)`` (any level but
NO_TRACE) records its step stats: one entry per host op (a queue's dequeue, a summary) and one per
graph op of the compiled part, under TF's name of the CPU device. tgc compiles a run's ops into one
function; a traced run calls a variant of it (compiled once, cached apart, fusion left out) whose
ops read the clock around their code (tgc/lowering/trace_ops.py), so the untraced function keeps
its speed. An op run several times in one step (in a loop's body) has one entry, not one per
execution as in TF: its first start, its time summed over the executions (``all_end_rel_micros``
and ``op_end_rel_micros``) and ``executions``, the count (an attribute of ours, not in TF's proto).
An op of tgc's graph that became several ops (a decomposed op) sums theirs. A gradient's backward
ops have TF's names (``gradients/dense/MatMul_grad/MatMul_1``, tgc/dialect/gradient_names.py); a
loop's gradient reruns its body (``gradients/while_grad/record/while/body/mul``, ...) under names
of their own, so the body ops' entries count the forward loop's executions only. Ops that run no
code of their own (a placeholder, a variable's read) have no entry. Where ops cannot time
themselves (a cluster's tasks, a GPU) the compiled part is one entry, ``tgc/compiled_run``.
Without a trace level ``step_stats`` stays empty, as in TF.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.types import numpy_dtype
from tgc.frontend.graph_def import DATA_TYPES, shape_proto

ALLOCATOR = "cpu"  # TF's name of the host allocator


class NodeExecStats:
    """One op's times: its start (wall clock, since the epoch) and its duration relative to it, in
    microseconds and, more precisely, nanoseconds (TF's ``*_nanos`` fields)."""

    def __init__(self, node_name="", all_start_nanos=0, duration_nanos=0, timeline_label=""):
        self.node_name = node_name
        self.all_start_nanos = int(all_start_nanos)
        self.op_start_rel_nanos = 0
        self.op_end_rel_nanos = self.all_end_rel_nanos = int(duration_nanos)
        self.timeline_label = timeline_label
        self.executions = 1  # times the op ran in the step (a loop's body runs more than once)
        self.outputs: list = []  # TensorSpecs of its outputs whose shapes the step knew

    @property
    def output_bytes(self) -> int:
        """The bytes of its outputs (TF's ``memory``: what its kernel allocated)."""
        return sum(int(np.prod(s.shape)) * numpy_dtype(s.dtype).itemsize for s in self.outputs)

    @property
    def all_start_micros(self) -> int:
        return self.all_start_nanos // 1000

    @property
    def op_start_rel_micros(self) -> int:
        return self.op_start_rel_nanos // 1000

    @property
    def op_end_rel_micros(self) -> int:
        return self.op_end_rel_nanos // 1000

    @property
    def all_end_rel_micros(self) -> int:
        return self.all_end_rel_nanos // 1000


class DeviceStepStats:
    def __init__(self, device=""):
        self.device = device
        self.node_stats: list = []


class StepStats:
    def __init__(self):
        self.dev_stats: list = []

    def __str__(self):
        return "" if not self.dev_stats else f"dev_stats: {len(self.dev_stats)} devices"


class RunMetadata:
    """``tf.RunMetadata()``: passed as ``Session.run(..., run_metadata=...)``."""

    def __init__(self):
        self.step_stats = StepStats()
        self.partition_graphs: list = []
        self.cost_graph = None

    def add_trace(self, device: str, trace) -> None:
        """Step stats of ``device`` from (name, label, start, end, executions[, outputs]) entries,
        times in wall-clock nanoseconds, kept in the order of their starts."""
        stats = DeviceStepStats(device)
        for name, label, start, end, executions, *outputs in sorted(trace, key=lambda e: e[2]):
            node = NodeExecStats(name, start, end - start, f"{name} = {label}")
            node.executions = executions
            node.outputs = list(outputs[0]) if outputs else []
            stats.node_stats.append(node)
        self.step_stats.dev_stats.append(stats)

    def to_proto(self):
        """TF's ``RunMetadata`` proto of these stats (TensorBoard's copy of its schema)."""
        from tensorboard.compat.proto.config_pb2 import RunMetadata as RunMetadataProto

        proto = RunMetadataProto()
        for device_stats in self.step_stats.dev_stats:
            dev = proto.step_stats.dev_stats.add(device=device_stats.device)
            for node in device_stats.node_stats:
                stats = dev.node_stats.add(
                    node_name=node.node_name,
                    all_start_micros=int(node.all_start_micros),
                    op_start_rel_micros=int(node.op_start_rel_micros),
                    op_end_rel_micros=int(node.op_end_rel_micros),
                    all_end_rel_micros=int(node.all_end_rel_micros),
                    timeline_label=node.timeline_label,
                    all_start_nanos=node.all_start_nanos,
                    op_start_rel_nanos=node.op_start_rel_nanos,
                    op_end_rel_nanos=node.op_end_rel_nanos,
                    all_end_rel_nanos=node.all_end_rel_nanos,
                )
                _add_outputs(stats, node)
        return proto

    def SerializeToString(self) -> bytes:
        return self.to_proto().SerializeToString()

    def Clear(self) -> None:
        self.__init__()

    def HasField(self, name) -> bool:
        if name == "step_stats":
            return bool(self.step_stats.dev_stats)
        if name == "cost_graph":
            return self.cost_graph is not None
        raise ValueError(f"RunMetadata has no singular field {name!r}")


def _add_outputs(stats, node) -> None:
    """TF's ``output`` (each output's dtype, shape and bytes) and ``memory`` (their total on the
    CPU's allocator) of one op: TensorBoard's graph view shows them for the node."""
    from tensorboard.compat.proto.allocation_description_pb2 import AllocationDescription
    from tensorboard.compat.proto.tensor_description_pb2 import TensorDescription

    for slot, spec in enumerate(node.outputs):
        size = int(np.prod(spec.shape)) * numpy_dtype(spec.dtype).itemsize
        stats.output.add(
            slot=slot,
            tensor_description=TensorDescription(
                dtype=DATA_TYPES.get(spec.dtype, 0),
                shape=shape_proto(spec.shape),
                allocation_description=AllocationDescription(
                    requested_bytes=size, allocated_bytes=size, allocator_name=ALLOCATOR
                ),
            ),
        )
    if node.outputs:
        stats.memory.add(allocator_name=ALLOCATOR, total_bytes=node.output_bytes)
