"""From a graph and one run signature to a callable: prune, emit tgc MLIR, run the pipeline, JIT.

``prune`` keeps only what the fetches need (data and control inputs), cut at fed tensors. The compiled
function takes the feeds, then the variables it reads, and returns the fetches, then the variables it
assigned; ``CompiledRun`` remembers that order for the session.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from tgc import errors
from tgc.dialect.types import TensorSpec
from tgc.frontend.graph import Operation, Tensor


def prune(fetch_ops: list, fed: set) -> list:
    """Ops needed by ``fetch_ops`` in a topological order (iterative DFS; inputs first)."""
    order, state = [], {}
    for root in fetch_ops:
        stack = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if expanded:
                if state.get(op) != "done":
                    state[op] = "done"
                    order.append(op)
                continue
            if op in state:
                continue
            state[op] = "open"
            stack.append((op, True))
            deps = [c for c in reversed(op.control_inputs)]
            deps += [t.op for t in reversed(op.inputs) if t not in fed]
            stack.extend((d, False) for d in deps if d not in state)
    return order


@dataclass
class CompiledRun:
    call: object
    feeds: list  # Tensors, in argument order
    fetches: list  # Tensors, in result order
    var_inputs: list
    var_outputs: list
    ops: list
    pipeline: str
    compile_seconds: float = 0.0
    validated_shapes: set = field(default_factory=set)


def _variables_of(ops) -> list:
    seen, out = set(), []
    for op in ops:
        v = op.variable
        if v is not None and v._name not in seen:
            seen.add(v._name)
            out.append((v._name, v._spec))
    return out


def compile_run(ops: list, feeds: list, fetches: list, graph_pipeline: str | None = None) -> CompiledRun:
    """``feeds``: [(Tensor, TensorSpec)] in argument order; ``fetches``: Tensors; ``graph_pipeline``
    the tgc passes before lowering (the optimizing pipeline by default)."""
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.frontend.emit import EmitError, emit_function, emit_variables
    from tgc.lowering import cpu
    from tgc.passes.base import PassFailure
    from tgc.passes.pipeline import run_pipeline
    from tgc.runtime.executable import Executable

    start = time.perf_counter()
    spec = ",".join([graph_pipeline or cpu.OPTIMIZING_GRAPH_PIPELINE, cpu.LOWER_PIPELINE])
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        try:
            signature = emit_function(module, ops, feeds, fetches)
            emit_variables(module, _variables_of(ops))
            _save_temps(module, "tgc")
            run_pipeline(module, spec)
            function = module.body.operations[0]
            var_inputs = [ir.StringAttr(a).value for a in ir.ArrayAttr(function.attributes["tgc.var_inputs"])]
            var_outputs = [ir.StringAttr(a).value for a in ir.ArrayAttr(function.attributes["tgc.var_outputs"])]
            run_pipeline(module, cpu.CPU_PIPELINE)
            engine, address = cpu.jit(module)
        except EmitError as exc:
            raise ValueError(str(exc)) from None
        except PassFailure as exc:
            raise errors.CompileError(str(exc)) from None
        except ir.MLIRError as exc:
            raise errors.CompileError(_mlir_error_text(exc)) from None
    var_specs = dict(_variables_of(ops))
    inputs = [(s.dtype, s.rank) for _, s in feeds] + [(var_specs[n].dtype, var_specs[n].rank) for n in var_inputs]
    outputs = [(s.dtype, s.rank) for _, s in signature.fetches] + [(var_specs[n].dtype, var_specs[n].rank) for n in var_outputs]
    inputs = [(_np(d), r) for d, r in inputs]
    outputs = [(_np(d), r) for d, r in outputs]
    return CompiledRun(
        call=Executable(address, inputs, outputs, keepalive=engine),
        feeds=[t for t, _ in feeds],
        fetches=list(fetches),
        var_inputs=var_inputs,
        var_outputs=var_outputs,
        ops=ops,
        pipeline=",".join([spec, cpu.CPU_PIPELINE]),
        compile_seconds=time.perf_counter() - start,
    )


def _np(dtype):
    from tgc.dialect.types import numpy_dtype

    return numpy_dtype(dtype)


def _mlir_error_text(exc) -> str:
    lines = [str(exc).splitlines()[0] if str(exc) else "MLIR error"]
    for d in getattr(exc, "error_diagnostics", []) or []:
        lines.append(f"{d.location}: {d.message}")
    return "\n".join(lines)


def _save_temps(module, stage: str) -> None:
    directory = os.environ.get("TGC_SAVE_TEMPS")
    if directory:
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{stage}.mlir"), "w") as fh:
            fh.write(str(module))


__all__ = ["prune", "compile_run", "CompiledRun", "TensorSpec", "Operation"]
