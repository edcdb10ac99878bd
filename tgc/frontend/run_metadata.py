"""`tf.RunMetadata`: what a traced ``Session.run`` reports (TF's ``RunMetadata`` proto, as plain
Python objects with its field names).

A run given ``run_metadata=`` and ``options=tf.RunOptions(trace_level=...)`` (any level but
NO_TRACE) records its step stats: one entry per host op (a queue's dequeue, a summary) and one for
the compiled part, ``tgc/compiled_run`` (tgc compiles the run's graph ops into one function, so
they have no times of their own). Without a trace level ``step_stats`` stays empty, as in TF.
"""

from __future__ import annotations


class NodeExecStats:
    def __init__(self, node_name="", all_start_micros=0, all_end_rel_micros=0, timeline_label=""):
        self.node_name = node_name
        self.all_start_micros = all_start_micros
        self.op_start_rel_micros = 0
        self.op_end_rel_micros = all_end_rel_micros
        self.all_end_rel_micros = all_end_rel_micros
        self.timeline_label = timeline_label


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
        """Step stats of ``device`` from (name, label, start, end) entries in microseconds."""
        stats = DeviceStepStats(device)
        for name, label, start, end in trace:
            stats.node_stats.append(NodeExecStats(name, start, end - start, f"{name} = {label}"))
        self.step_stats.dev_stats.append(stats)

    def to_proto(self):
        """TF's ``RunMetadata`` proto of these stats (TensorBoard's copy of its schema)."""
        from tensorboard.compat.proto.config_pb2 import RunMetadata as RunMetadataProto

        proto = RunMetadataProto()
        for device_stats in self.step_stats.dev_stats:
            dev = proto.step_stats.dev_stats.add(device=device_stats.device)
            for node in device_stats.node_stats:
                dev.node_stats.add(
                    node_name=node.node_name,
                    all_start_micros=int(node.all_start_micros),
                    op_start_rel_micros=int(node.op_start_rel_micros),
                    op_end_rel_micros=int(node.op_end_rel_micros),
                    all_end_rel_micros=int(node.all_end_rel_micros),
                    timeline_label=node.timeline_label,
                )
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
