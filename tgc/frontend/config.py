"""Session configuration as TensorFlow 1 spells it: ConfigProto, GraphOptions, OptimizerOptions.

``OptimizerOptions.opt_level = L0`` (or ``do_constant_folding=False``) turns off the graph
optimizations (tgc-fold, tgc-simplify, tgc-cse), as it turns off TensorFlow's; the session then
compiles with the plain pipeline, which must give the same numbers.

``intra_op_parallelism_threads`` is the most threads a run's matmuls use (numpy's OpenBLAS, which
tgc's CPU matmuls call, or tgc's generated GEMM through its parallel runtime,
tgc/lowering/cpu/parallel_gemm.py); 0, the default, takes OpenBLAS's own count. Either way a run
uses fewer while other processes keep cores busy (tgc/runtime/blas_threads.py). A negative count is
refused (TensorFlow aborts making the session).

Accepted and ignored, so that TF1 programs that set them run unchanged: ``ConfigProto``'s
``inter_op_parallelism_threads`` (tgc sizes no inter-op pool: each device partition runs on one
thread of its own; its type is checked as TF's) and ``OptimizerOptions``'
``do_common_subexpression_elimination`` (tgc-cse runs whenever the graph optimizations do; it
changes no value), and ``gpu_options`` (``GPUOptions``). ``device_count`` counts CPUs, and
devices of other types (``GPU``) up to the number the machine has.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field


def _local_device(kind: str, index: int) -> str:
    return f"/job:localhost/replica:0/task:0/device:{kind}:{index}"


def _available(kind: str, requested: int) -> int:
    """How many of ``requested`` devices of type ``kind`` this machine has (none without a target
    for the type)."""
    from tgc.dialect import targets

    target = targets.for_device_type(kind)
    if target is None or requested <= 0:
        return 0
    available = target.available_devices()
    return requested if available is None else min(requested, available)


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
class GPUOptions:
    """``tf.GPUOptions``: accepted so that TF1 programs that set them run. tgc's GPU memory pool
    already grows on demand (``allow_growth``) and takes no more than a run needs, so neither field
    changes anything."""

    allow_growth: bool = False
    per_process_gpu_memory_fraction: float = 0.0

    def __post_init__(self):
        if not 0.0 <= float(self.per_process_gpu_memory_fraction) <= 1.0:
            raise ValueError(
                "per_process_gpu_memory_fraction must be in [0, 1], not "
                f"{self.per_process_gpu_memory_fraction}"
            )


@dataclass
class ConfigProto:
    device_count: dict = field(default_factory=dict)
    log_device_placement: bool = False
    allow_soft_placement: bool = False
    graph_options: GraphOptions = field(default_factory=GraphOptions)
    gpu_options: GPUOptions = field(default_factory=GPUOptions)
    inter_op_parallelism_threads: int = 0  # checked and ignored
    intra_op_parallelism_threads: int = 0  # the most matmul threads a run uses; 0: tgc decides

    def __post_init__(self):
        from tgc.runtime import blas_threads

        self.inter_op_parallelism_threads = blas_threads.check_thread_count(
            "inter_op_parallelism_threads", self.inter_op_parallelism_threads
        )
        self.intra_op_parallelism_threads = blas_threads.check_thread_limit(
            "intra_op_parallelism_threads",
            self.intra_op_parallelism_threads,
            blas_threads.TF_NEGATIVE_THREADS,
        )

    def device_names(self) -> tuple:
        """The local devices this config makes: ``device_count={'CPU': 2}`` gives CPU:0 and
        CPU:1; ``{'GPU': 1}`` adds GPU:0 when the machine has a GPU (the registry's target for the
        type says how many), as TensorFlow makes only the devices that exist."""
        count = max(int(self.device_count.get("CPU", 1)), 1)
        names = [_local_device("CPU", i) for i in range(count)]
        for kind, requested in sorted(self.device_count.items()):
            if kind != "CPU":
                names += [_local_device(kind, i) for i in range(_available(kind, int(requested)))]
        return tuple(names)

    def graph_pipeline(self) -> str:
        """The graph passes this config asks for, as the pipeline text `tgc opt -p` replays."""
        from tgc.driver.pipelines import graph_passes

        return graph_passes(optimize=self.graph_options.optimizer_options.optimize).spec()
