"""From a graph and one run signature to a callable: prune, emit tgc MLIR, run the pipeline, JIT.

``prune`` (tgc/graph/prune.py) keeps only what the fetches need (data and control inputs), cut at
fed tensors. The compiled function takes the feeds, then the variables it reads, and returns the
fetches, then the variables it assigned; ``CompiledRun`` remembers that order for the session.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from tgc import errors
from tgc.dialect.types import TensorSpec
from tgc.driver.errors import mlir_error_text
from tgc.graph.graph import Operation
from tgc.graph.prune import variables_of


@dataclass
class CompiledRun:
    call: object  # a PartitionedRun: (feed arrays, variables) -> (fetch values, updated variables)
    feeds: list  # Tensors, in argument order
    fetches: list  # Tensors, in result order
    ops: list
    pipeline: str
    placement: list = field(
        default_factory=list
    )  # (op name, op type, device), for log_device_placement
    compile_seconds: float = 0.0
    validated_shapes: set = field(default_factory=set)
    locking: bool = False  # an assignment made with use_locking: runs are serialized by the session
    target: str = "cpu"  # the name of the target it was compiled for
    # A traced run's variant (compile_run(trace=True)): the TraceTable its code records each op's
    # times into (tgc/lowering/trace_ops.py); None for the ordinary function.
    trace: object = None

    @property
    def var_inputs(self) -> list:
        return self.call.var_inputs

    @property
    def var_outputs(self) -> list:
        return self.call.var_outputs


def compile_run(
    ops: list,
    feeds: list,
    fetches: list,
    graph_pipeline=None,
    devices: tuple = (),
    soft_placement: bool = False,
    load=None,
    trace: bool = False,
) -> CompiledRun:
    """``feeds``: [(Tensor, TensorSpec)] in argument order; ``fetches``: Tensors;
    ``graph_pipeline``: the tgc passes before placement (a Pipeline; the optimizing graph passes by
    default); ``devices``: full names of the devices to place on (one CPU by default); ``load``:
    what makes the runnable of the lowered partitions (default: in this process, the local runner;
    tgc/driver/cluster.py's runs them on a cluster's tasks); ``trace``: the variant of a traced run,
    each op's code timed and fusion left out (CPU devices in this process only: ``can_trace``)."""
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.driver import pipelines
    from tgc.graph.emit import EmitError, emit_function, emit_variables
    from tgc.lowering import trace_ops
    from tgc.passes.base import PassFailure

    start = time.perf_counter()
    if trace and (load is not None or not can_trace(devices)):
        raise ValueError(
            "per-op tracing compiles for CPU devices in this process only, not for "
            + (", ".join(devices) if load is None else "a cluster's tasks")
        )
    if isinstance(graph_pipeline, str):
        graph_pipeline = pipelines.parse_graph_pipeline(graph_pipeline)
    loader = load or _load
    # Any loader but this process's JIT (a cluster's tasks, driver/cluster.py) loads the code as a
    # library of its own, which must define the GEMM kernel the JIT would otherwise link.
    plan = pipelines.session_pipelines(
        graph_pipeline,
        devices,
        soft_placement,
        fusion=not trace,
        self_contained=loader is not _IN_PROCESS_LOAD,
    )
    table = None
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        try:
            signature = emit_function(module, ops, feeds, fetches)
            variables = variables_of(ops)
            emit_variables(module, variables)
            _save_temps(module, "tgc")
            plan.graph.run(module)
            placement, keys, transfers = _inspect_partitions(module)
            if trace:
                table = trace_ops.TraceTable.for_module(module)
                with trace_ops.tracing(table):
                    plan.lower.run(module)
            else:
                plan.lower.run(module)
            layout = partition_layout(module)
            owners = {name: _target_of_device(device) for name, device, *_ in layout}
            modules = _lower_per_target(plan.per_target, module, owners)
            var_specs = {name: spec for name, spec, _ in variables}
            run = loader(modules, owners, layout, keys, transfers, feeds, signature, var_specs)
            if table is not None:
                run.trace_table = table  # its counters must outlive the code that writes them
        except EmitError as exc:
            raise ValueError(str(exc)) from None
        except PassFailure as exc:
            raise errors.CompileError(str(exc)) from None
        except ir.MLIRError as exc:
            raise errors.CompileError(mlir_error_text(exc)) from None
    return CompiledRun(
        call=run,
        feeds=[t for t, _ in feeds],
        fetches=list(fetches),
        ops=ops,
        pipeline=plan.spec(),
        placement=placement,
        compile_seconds=time.perf_counter() - start,
        locking=any(op.use_locking for op in ops),
        target="+".join(target.name for target, _ in modules),
        trace=table,
    )


def can_trace(devices: tuple = ()) -> bool:
    """Whether a run on ``devices`` can compile a traced variant with per-op times: only code
    for the CPU, in this process, can read the host's clock and write the counters."""
    from tgc.dialect.targets import UnknownTargetError
    from tgc.driver.pipelines import targets_of

    try:
        return all(target.device_type == "CPU" for target in targets_of(devices))
    except UnknownTargetError:
        return False


def _inspect_partitions(module):
    """After partitioning: where each op went, the transfer keys, and the (kind, dtype, rank)
    used."""
    from mlir import ir

    from tgc.dialect import ir_helpers
    from tgc.dialect.attrs import spec_of_type
    from tgc.dialect.builder import decode_attrs

    placement, keys, transfers, sends = [], {}, set(), set()

    def visit(op):
        operation = ir_helpers.operation_of(op)
        if ir_helpers.is_tgc_op(operation) and "device" in operation.attributes:
            loc = str(operation.location)
            name = loc[5:].split('"', 1)[0] if loc.startswith('loc("') else operation.name
            placement.append(
                (name, operation.name, ir.StringAttr(operation.attributes["device"]).value)
            )
        if ir_helpers.is_transfer(operation):
            attrs = decode_attrs(operation)
            keys[attrs["key_id"]] = attrs["key"]
            spec = spec_of_type(ir_helpers.transferred_value(operation).type)
            transfers.add((ir_helpers.opdef_of(operation).name, spec.dtype, spec.rank))
            if ir_helpers.is_send(operation):
                sends.add(attrs["key_id"])
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    missing = sorted(keys[k] for k in keys if k not in sends)
    if missing:
        raise errors.CompileError(f"partitioning left a recv without its send: {missing}")
    return placement, keys, transfers


def partition_layout(module) -> list:
    """(function name, device, fetch indices, variables read, variables assigned) per partition."""
    from mlir import ir

    layout = []
    for op in module.body.operations:
        if op.operation.name != "func.func" or "tgc.partition_of" not in op.attributes:
            continue

        def strings(key):
            return [ir.StringAttr(a).value for a in ir.ArrayAttr(op.attributes[key])]

        layout.append(
            (
                ir.StringAttr(op.attributes["sym_name"]).value,
                ir.StringAttr(op.attributes["tgc.device"]).value,
                list(ir.DenseI64ArrayAttr(op.attributes["tgc.fetch_indices"])),
                strings("tgc.var_inputs"),
                strings("tgc.var_outputs"),
            )
        )
    return layout


def _lower_per_target(per_target: list, module, owners: dict) -> list:
    """[(target, module lowered by it)]: with one target the module itself; with several, each
    target with partitions on its devices lowers a copy that keeps only those partitions
    (``owners``: partition function -> the target of its device)."""
    if len(per_target) == 1:
        target, pipeline = per_target[0]
        pipeline.run(module)
        return [(target, module)]
    lowered = []
    for target, pipeline in per_target:
        own = {name for name, owner in owners.items() if owner is target}
        if own:  # else no partition was placed on its devices
            copy = _without_functions(module, set(owners) - own)
            pipeline.run(copy)
            lowered.append((target, copy))
    return lowered


def _without_functions(module, names: set):
    """A copy of ``module`` without the functions ``names`` (and what only they used)."""
    from mlir import ir
    from mlir.passmanager import PassManager

    copy = ir.Module.parse(str(module))
    for op in list(copy.body.operations):
        if op.operation.name == "func.func":
            if ir.StringAttr(op.attributes["sym_name"]).value in names:
                op.operation.erase()
    PassManager.parse("builtin.module(symbol-dce)").run(copy.operation)
    return copy


def _target_of_device(device: str):
    from tgc.dialect import targets
    from tgc.dialect.devices import DeviceSpec

    return targets.for_device_type(DeviceSpec.from_string(device).device_type or "CPU")


def _load(modules: list, owners: dict, layout, keys, transfers, feeds, signature, var_specs):
    """Loads each target's lowered module in this process (the target's way) and wraps each
    partition in the callable its target makes, for the local runner."""
    from tgc.lowering.to_core.transfer import transfer_symbol
    from tgc.runtime.partitioned import Partition, PartitionedRun
    from tgc.runtime.rendezvous import TransferHub

    hub = TransferHub()
    symbols = {
        "_mlir_ciface_" + transfer_symbol(kind, dtype, rank): hub.callback(kind, _np(dtype), rank)
        for kind, dtype, rank in transfers
    }
    codes = {}
    for target, module in modules:
        names = [name for name, owner in owners.items() if owner is target]
        devices = {name: device for name, device, *_ in layout if name in names}
        code = target.load_in_process(module, names, symbols, hub=hub, devices=devices)
        codes.update({name: code for name in names})
    fetch_specs = [s for _, s in signature.fetches]
    partitions = []
    for name, device, fetch_indices, var_inputs, var_outputs in layout:
        inputs = [(s.dtype, s.rank) for _, s in feeds] + [
            (var_specs[n].dtype, var_specs[n].rank) for n in var_inputs
        ]
        outputs = [(fetch_specs[i].dtype, fetch_specs[i].rank) for i in fetch_indices]
        outputs += [(var_specs[n].dtype, var_specs[n].rank) for n in var_outputs]
        # An assigned variable may come back in the very array that was passed in, updated in place.
        in_place = {
            len(fetch_indices) + k: len(feeds) + var_inputs.index(n)
            for k, n in enumerate(var_outputs)
            if n in var_inputs
        }
        call = codes[name].executable(
            name,
            [(_np(d), r) for d, r in inputs],
            [(_np(d), r) for d, r in outputs],
            in_place=in_place,
            variables_from=len(fetch_indices),
        )
        partitions.append(Partition(call, device, fetch_indices, var_inputs, var_outputs))
    return PartitionedRun(partitions, hub, keys, len(fetch_specs))


_IN_PROCESS_LOAD = _load


def _np(dtype):
    from tgc.dialect.types import numpy_dtype

    return numpy_dtype(dtype)


def _save_temps(module, stage: str) -> None:
    directory = os.environ.get("TGC_SAVE_TEMPS")
    if directory:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{stage}.mlir"), "w") as fh:
            fh.write(str(module))


__all__ = ["compile_run", "CompiledRun", "TensorSpec", "Operation"]
