"""`tf.RunMetadata`: what a traced ``Session.run`` reports (TF's ``RunMetadata`` proto, as plain
Python objects with its field names).

tgc accepts ``run_metadata=`` in ``Session.run`` but does not trace a run yet: ``step_stats``
stays empty (no ``dev_stats``), as TF leaves it for a run without ``trace_level=FULL_TRACE``.
"""

from __future__ import annotations


class NodeExecStats:
    def __init__(self, node_name="", all_start_micros=0, all_end_rel_micros=0):
        self.node_name = node_name
        self.all_start_micros = all_start_micros
        self.all_end_rel_micros = all_end_rel_micros


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

    def Clear(self) -> None:
        self.__init__()

    def HasField(self, name) -> bool:
        if name == "step_stats":
            return bool(self.step_stats.dev_stats)
        if name == "cost_graph":
            return self.cost_graph is not None
        raise ValueError(f"RunMetadata has no singular field {name!r}")
