"""Session configuration as TensorFlow 1 spells it: ConfigProto, GraphOptions, OptimizerOptions.

``OptimizerOptions.opt_level = L0`` (or ``do_constant_folding=False``) turns off the graph
optimizations (tgc-fold, tgc-simplify, tgc-cse), as it turns off TensorFlow's; the session then
compiles with the plain pipeline, which must give the same numbers.

Accepted and ignored, so that TF1 programs that set them run unchanged: ``ConfigProto``'s
``inter_op_parallelism_threads`` and ``intra_op_parallelism_threads`` (tgc sizes no thread pool:
each device partition runs on one thread of its own) and ``OptimizerOptions``'
``do_common_subexpression_elimination`` (tgc-cse runs whenever the graph optimizations do; it
changes no value). ``device_count`` counts CPUs; other device types make no device.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field


@dataclass
class OptimizerOptions:
    L1 = 0  # TensorFlow's enum values: L1 (the default) is 0, L0 is -1
    L0 = -1
    opt_level: int = 0
    do_constant_folding: bool = True
    do_common_subexpression_elimination: InitVar[bool] = True  # accepted and ignored

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
    graph_options: GraphOptions = field(default_factory=GraphOptions)
    inter_op_parallelism_threads: InitVar[int] = 0  # accepted and ignored
    intra_op_parallelism_threads: InitVar[int] = 0  # accepted and ignored

    def device_names(self) -> tuple:
        """The local devices this config makes: ``device_count={'CPU': 2}`` gives CPU:0 and
        CPU:1."""
        count = max(int(self.device_count.get("CPU", 1)), 1)
        return tuple(f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i in range(count))

    def graph_pipeline(self) -> str:
        """The graph passes this config asks for, as the pipeline text `tgc opt -p` replays."""
        from tgc.driver.pipelines import graph_passes

        return graph_passes(optimize=self.graph_options.optimizer_options.optimize).spec()
