"""Session configuration as TensorFlow 1 spells it: ConfigProto, GraphOptions, OptimizerOptions.

``OptimizerOptions.opt_level = L0`` (or ``do_constant_folding=False``) turns off the graph
optimizations (tgc-fold, tgc-simplify, tgc-cse), as it turns off TensorFlow's; the session then
compiles with the plain pipeline, which must give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OptimizerOptions:
    L1 = 0  # TensorFlow's enum values: L1 (the default) is 0, L0 is -1
    L0 = -1
    opt_level: int = 0
    do_constant_folding: bool = True
    do_common_subexpression_elimination: bool = True

    @property
    def optimize(self) -> bool:
        return self.opt_level != self.L0 and self.do_constant_folding


@dataclass
class GraphOptions:
    optimizer_options: OptimizerOptions = field(default_factory=OptimizerOptions)


@dataclass
class ConfigProto:
    device_count: dict = field(default_factory=dict)
    log_device_placement: bool = False
    allow_soft_placement: bool = False
    inter_op_parallelism_threads: int = 0
    intra_op_parallelism_threads: int = 0
    graph_options: GraphOptions = field(default_factory=GraphOptions)

    def device_names(self) -> tuple:
        """The local devices this config makes: ``device_count={'CPU': 2}`` gives CPU:0 and CPU:1."""
        count = max(int(self.device_count.get("CPU", 1)), 1)
        return tuple(f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i in range(count))

    def graph_pipeline(self):
        """The graph passes this config asks for (a Pipeline)."""
        from tgc.driver.pipelines import graph_passes

        return graph_passes(optimize=self.graph_options.optimizer_options.optimize)
