"""Every compile pipeline, assembled in one place from pass objects and the targets' own pipelines.

A compile runs three parts in order: the graph passes (target-neutral: gradients, decomposition,
optimizations, then placement and partitioning), the lowering to the core level (variables to
arguments, tgc ops to linalg/tensor/arith/math), and the target's pipeline from core to code
(declared by the target, tgc/dialect/targets.py). Each part is a ``Pipeline``; ``spec()`` prints the
exact text that `tgc opt -p` replays.
"""

from __future__ import annotations

import dataclasses

from tgc.dialect import targets
from tgc.dialect.devices import DEFAULT_DEVICE, DeviceSpec, full_device_name
from tgc.lowering.bool_storage import BoolStoragePass
from tgc.lowering.read_only_arguments import ReadOnlyArgumentsPass
from tgc.lowering.to_core import ToCorePass
from tgc.passes.autodiff import AutodiffPass
from tgc.passes.cse import CsePass
from tgc.passes.dce import DcePass
from tgc.passes.decompose import DecomposePass
from tgc.passes.fold import FoldPass
from tgc.passes.lower_variables import LowerVariablesPass
from tgc.passes.partition import PartitionPass
from tgc.passes.pipeline import Pipeline
from tgc.passes.place import PlacePass
from tgc.passes.shape_equality import ShapeEqualityPass
from tgc.passes.simplify import SimplifyPass
from tgc.passes.verify import VerifyPass


def graph_passes(optimize: bool = True) -> Pipeline:
    """Gradients and decomposition; with ``optimize`` (TensorFlow's L1, the default) also folding,
    simplification and CSE, which L0 turns off."""
    optimizations = [FoldPass(), SimplifyPass(), CsePass()] if optimize else []
    return Pipeline.of(
        [VerifyPass(), AutodiffPass(), DecomposePass(), *optimizations, DcePass(), VerifyPass()]
    )


def placement(devices: tuple = (), soft: bool = False) -> Pipeline:
    """Placement on ``devices`` (full names; the default CPU when empty), then partitioning."""
    return Pipeline.of(
        [PlacePass(devices=tuple(devices) or (DEFAULT_DEVICE,), soft=soft), PartitionPass()]
    )


def core_lowering() -> Pipeline:
    """tgc ops (placed and partitioned) to the core level that every target starts from."""
    # tgc-shape-equality marks the unknown dims it proves equal, so that tgc-to-core tests only the
    # others for broadcasting at run time.
    return Pipeline.of([LowerVariablesPass(), ShapeEqualityPass(), ToCorePass(), BoolStoragePass()])


# Passes that merge the code of several ops into one loop or call (elementwise fusion, a GEMM that
# takes in the update after it): a traced run's variant leaves them out, so that each op's code
# stays between its own clock reads (tgc/lowering/trace_ops.py), as TF's per-op kernels would.
FUSION_PASSES = ("linalg-fuse-elementwise-ops", "tgc-gemm-update")


def target_lowering(
    target,
    *,
    for_session: bool,
    external_libraries: bool = True,
    fusion: bool = True,
    variables_writable: bool = False,
    self_contained: bool = False,
) -> Pipeline:
    """The target's own pipeline, core to code (without FUSION_PASSES unless ``fusion``;
    ``variables_writable``: its tgc-read-only-arguments leaves the variables a function reads and
    assigns writable, as a session's does, whatever ``for_session`` says; ``self_contained``: code
    that becomes a library of its own, so it defines the kernels a session's code only declares)."""
    elements = target.pipeline_elements(
        for_session=for_session, external_libraries=external_libraries
    )
    if self_contained:
        elements = [_defining_kernels(e) for e in elements]
    if not fusion:
        elements = [e for e in elements if not _is_fusion(e)]
    if variables_writable:
        elements = [
            dataclasses.replace(e, writable_variables=True)
            if isinstance(e, ReadOnlyArgumentsPass)
            else e
            for e in elements
        ]
    return Pipeline.of(elements)


def _defining_kernels(element):
    """A pass that would only declare a kernel for the process's JIT to link (tgc-blas-matmul's
    ``kernel=external``: the generated GEMM compiled once per process) set to define it instead."""
    if getattr(element, "kernel", None) == "external":
        return dataclasses.replace(element, kernel="inline")
    return element


def _is_fusion(element) -> bool:
    if isinstance(element, str):
        return any(name in element for name in FUSION_PASSES)
    return getattr(element, "name", None) in FUSION_PASSES


def targets_of(devices: tuple = ()) -> list:
    """The targets that compile for ``devices``, one per device type (the default CPU's when
    empty), CPU first."""
    kinds = sorted(
        {DeviceSpec.from_string(d).device_type or "CPU" for d in devices} or {"CPU"},
        key=lambda kind: (kind != "CPU", kind),
    )
    found = [targets.for_device_type(kind) for kind in kinds]
    missing = [kind for kind, target in zip(kinds, found) if target is None]
    if missing:
        raise targets.UnknownTargetError(
            f"no target compiles for device type {', '.join(missing)} "
            f"(device types with a target: {', '.join(targets.device_types())})"
        )
    return found


def target_of(devices: tuple = ()):
    """The one target that compiles for ``devices`` (the default CPU's when empty)."""
    found = targets_of(devices)
    if len({t.name for t in found}) > 1:
        raise targets.UnknownTargetError(
            "one run compiles for one target; these devices need "
            + ", ".join(sorted({t.name for t in found}))
        )
    return found[0]


@dataclasses.dataclass
class CompilePipelines:
    """The parts of one compile, run in order (the driver inspects the IR between them)."""

    graph: Pipeline  # graph passes, placement, partitioning
    lower: Pipeline  # to the core level
    # Core to code, [(Target, Pipeline)] for each target of the devices: in a run over several
    # device types each target compiles the partitions placed on its devices.
    per_target: list

    @property
    def target(self) -> Pipeline:
        """Core to code for the first (or only) target."""
        return self.per_target[0][1]

    def spec(self) -> str:
        """The whole pipeline of record, as `tgc opt -p` replays it (of the first target's
        partitions when there are several targets)."""
        return (self.graph + self.lower + self.target).spec()


def graph_and_placement(
    graph: Pipeline | None, devices: tuple = (), soft: bool = False
) -> Pipeline:
    return (graph or graph_passes()) + placement(devices, soft)


def session_pipelines(
    graph: Pipeline | None = None,
    devices: tuple = (),
    soft: bool = False,
    target=None,
    fusion: bool = True,
    self_contained: bool = False,
) -> CompilePipelines:
    """A Session's compile: ``graph`` is the graph passes (optimizing by default); each target of
    the devices lowers its own partitions (``target`` forces one for all); ``fusion=False``: a
    traced run's variant, each op's code kept apart (FUSION_PASSES); ``self_contained``: the code
    becomes a library loaded elsewhere (a cluster's tasks), so it defines its own kernels."""
    found = [target] if target is not None else targets_of(devices)
    per_target = [
        (t, target_lowering(t, for_session=True, fusion=fusion, self_contained=self_contained))
        for t in found
    ]
    return CompilePipelines(graph_and_placement(graph, devices, soft), core_lowering(), per_target)


def first_device(target) -> str:
    """Device 0 of the target's device type on the local host (DEFAULT_DEVICE for the CPU)."""
    return full_device_name(f"/device:{target.device_type}:0")


def artifact_pipelines(
    graph: Pipeline | None = None,
    target=None,
    external_libraries: bool = False,
    variables_in_place: bool = False,
) -> CompilePipelines:
    """An artifact's compile: one device of the target's type, every argument stays the caller's
    (unless ``variables_in_place``: a variable it reads and assigns is updated in the caller's
    array, as a Session's), and (unless ``external_libraries``) code that needs no library beyond
    libc and libm."""
    target = target or targets.for_device_type("CPU")
    lowering = target_lowering(
        target,
        for_session=False,
        external_libraries=external_libraries,
        variables_writable=variables_in_place,
    )
    return CompilePipelines(
        graph_and_placement(graph, (first_device(target),)), core_lowering(), [(target, lowering)]
    )


def parse_graph_pipeline(spec: str | None) -> Pipeline | None:
    """A user's graph pipeline text (`--graph-pipeline`, a config's) as a Pipeline; None keeps the
    default."""
    return Pipeline(spec) if spec else None


def default_pipeline() -> str:
    """The pipeline of record of a default Session compile, tgc dialect to the CPU's LLVM dialect:
    what `tgc opt --default-pipeline` runs."""
    return session_pipelines().spec()
