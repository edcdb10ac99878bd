"""Ahead-of-time compilation: a tgc module -> core -> the target's code -> an artifact directory.

The driver half of `tgc compile`: it reads the signature of ``@main``, runs the artifact pipelines
(tgc/driver/pipelines.py: graph passes, one-device placement, the lowering to core, the target's
pipeline) and hands the result to the target (tgc/dialect/targets.py), which makes code of it and
writes the artifact its runtime loader reads (the CPU's: tgc/lowering/cpu/artifact.py).

The input is a tgc module as `tgc.export_graph` writes it: ``func.func @main`` carries the feed and
fetch names (``tgc.feed_names``, ``tgc.fetch_names``) and whether its last argument is the
random-number step counter (``tgc.step_input``); each ``tgc.variable`` may carry its initial value
(``tgc.initial_value``). A run with one device compiles to one partition, the artifact's entry
point.
"""

from __future__ import annotations

import re

import numpy as np

from tgc.dialect import targets
from tgc.dialect.ir_helpers import declares_variable, functions, has_body
from tgc.lowering.artifact import STEP_NAME, AotError, IOSpec, Lowered, Machine, Options, Signature

CORE_STAGES = ("tgc", "core")  # the stages every target has; each target adds its own after them
FEED_NAMES, FETCH_NAMES, STEP_INPUT, INITIAL_VALUE = (
    "tgc.feed_names",
    "tgc.fetch_names",
    "tgc.step_input",
    "tgc.initial_value",
)


def stages(target_name: str = "cpu") -> tuple:
    """Every stage `tgc compile --emit` can stop at for the target, in order."""
    return CORE_STAGES + tuple(targets.get(target_name).artifact_stages)


def configured_target(options: Options):
    """The options' target, with the target options they set (``allow_tf32``; the machine, for a
    target that generates code for it); a target that has no such option refuses it."""
    try:
        target = targets.get(options.target)
    except targets.UnknownTargetError as exc:
        raise AotError(str(exc)) from None
    if hasattr(target, "for_machine"):
        # The CPU target blocks its generated GEMM for the machine the code is generated for.
        target = target.for_machine(options.machine)
    if options.variables_in_place is not None and options.target != "cpu":
        flag = "--variables-in-place" if options.variables_in_place else "--variables-read-only"
        raise AotError(f"{flag} is an option of the cpu target, not of {options.target}")
    if not options.allow_tf32:
        return target
    if not hasattr(target, "with_options"):
        raise AotError(
            f"--allow-tf32 is an option of GPU targets (nvptx): the {options.target} target "
            "has no TF32 tensor cores"
        )
    return target.with_options(allow_tf32=True)


# ---- reading the signature from a tgc module -----------------------------------------------------


def main_function(module):
    from mlir import ir

    for op in module.body.operations:
        if (
            op.operation.name == "func.func"
            and ir.StringAttr(op.attributes["sym_name"]).value == "main"
        ):
            return op
    raise AotError("the module has no func.func @main")


def _strings(op, key: str) -> list | None:
    from mlir import ir

    if key not in op.attributes:
        return None
    return [ir.StringAttr(a).value for a in ir.ArrayAttr(op.attributes[key])]


def read_signature(module) -> Signature:
    """Inputs, outputs and variables (with initial values) of a tgc module's @main."""
    from mlir import ir

    from tgc.dialect.attrs import spec_of_type

    main = main_function(module)
    ftype = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)
    in_specs = [spec_of_type(t) for t in ftype.inputs]
    out_specs = [spec_of_type(t) for t in ftype.results]
    step = STEP_INPUT in main.attributes
    feed_names = _strings(main, FEED_NAMES) or [f"arg{i}" for i in range(len(in_specs))]
    fetch_names = _strings(main, FETCH_NAMES) or [f"result{i}" for i in range(len(out_specs))]
    if step:
        feed_names = feed_names[: len(in_specs) - 1] + [STEP_NAME]
    if len(feed_names) != len(in_specs) or len(fetch_names) != len(out_specs):
        raise AotError(
            "@main's tgc.feed_names/tgc.fetch_names do not match its arguments and results"
        )
    inputs = [IOSpec(n, s.dtype, list(s.shape)) for n, s in zip(feed_names, in_specs)]
    outputs = [IOSpec(n, s.dtype, list(s.shape)) for n, s in zip(fetch_names, out_specs)]
    variables, initial = [], {}
    for op in module.body.operations:
        if not declares_variable(op):
            continue
        name = ir.StringAttr(op.attributes["sym_name"]).value
        shape = list(ir.DenseI64ArrayAttr(op.attributes["shape"]))
        dtype = spec_of_type(
            ir.RankedTensorType.get(shape, ir.TypeAttr(op.attributes["dtype"]).value)
        ).dtype
        variables.append(IOSpec(name, dtype, shape))
        if INITIAL_VALUE in op.attributes:
            initial[name] = _dense_value(op.attributes[INITIAL_VALUE], dtype, shape)
    return Signature(inputs, outputs, variables, initial, step)


def _dense_value(attr, dtype: str, shape: list) -> np.ndarray:
    from mlir import ir

    from tgc.dialect.types import numpy_dtype

    # Splats come back full-size too; a 0-d value is stored with shape [1].
    return np.array(ir.DenseElementsAttr(attr)).astype(numpy_dtype(dtype)).reshape(shape)


# ---- lowering ------------------------------------------------------------------------------------


def compile_pipelines(options: Options):
    """The three pipelines of an artifact's compile (tgc/driver/pipelines.py). Without ``blas`` the
    library depends on libc and libm only (matmuls call tgc's generated GEMM) and runs wherever it
    is copied."""
    from tgc.driver import pipelines

    return pipelines.artifact_pipelines(
        pipelines.parse_graph_pipeline(options.graph_pipeline),
        target=configured_target(options),
        external_libraries=options.blas,
        variables_in_place=options.writes_variables_in_place(),
    )


def _refuse_declarations(module) -> None:
    """A declared function would be an undefined symbol of the library, and calling it a crash."""
    from mlir import ir

    for function in functions(module, declarations=True):
        if not has_body(function):
            name = ir.StringAttr(function.attributes["sym_name"]).value
            raise AotError(
                f"@{name} is declared but not defined (a func.func without a body): "
                "an artifact can call only the functions its module defines"
            )


def lower_module(module, stop: str, options: Options) -> Lowered:
    """Runs the stages up to ``stop`` on a tgc module (in its context); returns their outputs."""
    from tgc.driver.jit import partition_layout

    target = configured_target(options)
    known = stages(options.target)
    if stop not in known:
        raise AotError(f"unknown stage '{stop}'; expected one of {', '.join(known)}")
    _refuse_declarations(module)
    signature = read_signature(module)
    _strip_initial_values(module)
    lowered = Lowered(signature, machine=target.resolve_machine(options.machine))
    lowered.stages["tgc"] = str(module)
    plan = compile_pipelines(options)
    lowered.pipeline = plan.spec()
    if stop == "tgc":
        return lowered
    plan.graph.run(module, timing=options.timing)
    plan.lower.run(module, timing=options.timing)
    layout = partition_layout(module)
    if len(layout) != 1:
        raise AotError(
            f"an artifact has one entry point, but the graph was split over {len(layout)} devices"
        )
    partition, _, _, signature.var_inputs, signature.var_outputs = layout[0]
    lowered.entry = _rename_entry(module, partition, options.name)
    lowered.stages["core"] = str(module)
    if stop == "core":
        return lowered
    plan.target.run(module, timing=options.timing)
    target.emit_stages(module, lowered, stop, options)
    return lowered


def _rename_entry(module, function: str, name: str) -> str:
    """Names the entry ``<name>_main`` so that several artifacts link into one C program."""
    from mlir import ir

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise AotError(f"--name '{name}' is not a C identifier")
    for op in module.body.operations:
        if (
            op.operation.name == "func.func"
            and ir.StringAttr(op.attributes["sym_name"]).value == function
        ):
            op.attributes["sym_name"] = ir.StringAttr.get(f"{name}_main")
    return f"{name}_main"


def _strip_initial_values(module) -> None:
    # Initial values are data for the artifact, not IR: dropping them keeps the printed stages
    # short.
    for op in module.body.operations:
        if declares_variable(op) and INITIAL_VALUE in op.attributes:
            del op.attributes[INITIAL_VALUE]


def write_artifact(lowered: Lowered, options: Options, directory: str) -> str:
    """Writes the artifact directory of ``lowered`` the way its target does."""
    return targets.get(options.target).write_artifact(lowered, options, directory)


__all__ = [
    "AotError",
    "IOSpec",
    "Lowered",
    "Machine",
    "Options",
    "STEP_NAME",
    "Signature",
    "lower_module",
    "read_signature",
    "stages",
    "write_artifact",
]
