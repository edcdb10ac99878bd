"""``tgc.export_graph``: one run signature of a graph, written as a self-contained tgc-dialect module.

This is the front of ahead-of-time compilation (`tgc compile`, tgc/driver/aot.py): the same pruning
and emission as ``Session.run`` (tgc/driver/jit.py, emit.py), plus what an artifact needs and a
session keeps elsewhere: ``@main`` carries its feed and fetch names, and each variable its initial
value, computed here by running the variables' initializers once in a Session. Random initializers
are therefore drawn at export time, and an artifact starts from those values on every load.

Feeds and fetches are given as tensors, operations or names (``"x"`` is the first output of op
``x``, ``"x:1"`` its second). An operation among the fetches (a training op) is run, not returned.
Feed shapes may narrow the placeholder's: ``?x784`` can be fed as ``64x784``, never the other way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.graph.prune import prune, unique_variables, variables_of
from tgc.graph.graph import Operation, Tensor, get_default_graph


class ExportError(ValueError):
    """A feed, fetch or shape that does not fit the graph, said in the user's terms."""


@dataclass
class RunSignature:
    ops: list  # the ops to emit, in a topological order
    feeds: list  # [(Tensor, TensorSpec)] in argument order; the step counter last if random ops run
    fetches: list  # Tensors returned, in order
    variables: list  # Variable objects the run reads or assigns
    step: bool  # whether the last feed is the random-number step counter


def short_name(tensor: Tensor) -> str:
    """``x`` for the only/first output of op ``x``, else ``x:i`` (the names an artifact is called with)."""
    return tensor.name[:-2] if tensor.name.endswith(":0") else tensor.name


def parse_shape(text: str) -> tuple:
    """``?x784`` -> (None, 784); ``scalar`` or empty -> ()."""
    if text in ("", "scalar"):
        return ()
    dims = []
    for part in text.lower().split("x"):
        if part in ("?", "-1"):
            dims.append(None)
        elif re.fullmatch(r"\d+", part):
            dims.append(int(part))
        else:
            raise ExportError(f"bad shape '{text}': write dims like ?x784 or 64x784")
    return tuple(dims)


def element(graph, item, what: str):
    if isinstance(item, (Tensor, Operation)):
        return item
    if hasattr(item, "_as_graph_element"):
        return item._as_graph_element()
    try:
        return graph.as_graph_element(item)
    except (KeyError, ValueError, TypeError) as exc:
        reason = str(exc.args[0]) if exc.args else str(exc)  # KeyError's str() adds quotes
        raise ExportError(f"unknown {what} '{item}': {reason}") from None


def _as_tensor(graph, item, what: str) -> Tensor:
    found = element(graph, item, what)
    if isinstance(found, Operation):
        if not found.outputs:
            raise ExportError(f"cannot {what} '{found.name}': it has no outputs")
        return found.outputs[0]
    return found


def feed_spec(tensor: Tensor, shape=None, dtype=None) -> TensorSpec:
    """The argument type of a fed tensor: the graph's spec narrowed by the requested shape/dtype."""
    spec = tensor.spec
    if dtype is not None and as_dtype(dtype).name != spec.dtype:
        raise ExportError(
            f"feed '{short_name(tensor)}' has dtype {spec.dtype}, not {as_dtype(dtype).name}"
        )
    if shape is None:
        if spec.shape is None:
            raise ExportError(
                f"feed '{short_name(tensor)}' has unknown rank: give its shape, e.g. "
                f"--feed {short_name(tensor)}:?x10"
            )
        return spec
    shape = tuple(shape)
    fits = spec.shape is None or (
        len(shape) == len(spec.shape)
        and all(g is None or g == s for g, s in zip(spec.shape, shape))
    )
    if not fits:
        have = "x".join("?" if d is None else str(d) for d in spec.shape) or "scalar"
        want = "x".join("?" if d is None else str(d) for d in shape) or "scalar"
        raise ExportError(f"shape {want} does not fit feed '{short_name(tensor)}' of shape {have}")
    return TensorSpec(shape, spec.dtype)


def select(fetches, feeds=None, graph=None) -> RunSignature:
    """The ops, feeds and fetches of one run. ``feeds``: None (every placeholder the fetches need),
    or a list of names/tensors or (name, shape, dtype) tuples (shape/dtype may be None)."""

    graph = graph or get_default_graph()
    fetch_elements = [
        _fetch(graph, f) for f in (fetches if isinstance(fetches, (list, tuple)) else [fetches])
    ]
    if not fetch_elements:
        raise ExportError("nothing to compute: give at least one fetch")
    fetch_tensors = [e for e in fetch_elements if isinstance(e, Tensor)]
    roots = [e if isinstance(e, Operation) else e.op for e in fetch_elements]
    requested = [_feed_request(graph, f) for f in (feeds or [])]
    fed = {t for t, _, _ in requested}
    ops = prune(roots, fed)
    ops = [op for op in ops if not (op.outputs and all(t in fed for t in op.outputs))]
    rng = graph._rng_step
    placeholders = [op for op in ops if op.opdef is None and op is not rng]
    if feeds is None:
        created = {op: i for i, op in enumerate(graph.get_operations())}  # the program's order
        requested = [(op.outputs[0], None, None) for op in sorted(placeholders, key=created.get)]
    elif placeholders:
        raise ExportError(
            f"'{placeholders[0].name}' must be fed: add --feed {placeholders[0].name}"
        )
    _check_host_ops(ops)
    arguments = [(t, feed_spec(t, shape, dtype)) for t, shape, dtype in requested]
    step = rng is not None and rng in ops
    if step:
        arguments.append((rng.outputs[0], rng.outputs[0].spec))
    body = [op for op in ops if op.opdef is not None]
    variables = unique_variables(body)
    return RunSignature(body, arguments, fetch_tensors, variables, step)


def _fetch(graph, item):
    """A fetch by name means the value of an op that has outputs (``--fetch loss``), the op itself
    when it has none (a training op); Tensor and Operation objects are taken as they are."""
    found = element(graph, item, "fetch")
    if isinstance(item, str) and isinstance(found, Operation) and found.outputs:
        return found.outputs[0]
    return found


def _feed_request(graph, item) -> tuple:
    if isinstance(item, tuple):
        name, shape, dtype = (tuple(item) + (None, None))[:3]
    else:
        name, shape, dtype = item, None, None
    return _as_tensor(graph, name, "feed"), shape, dtype


def _check_host_ops(ops) -> None:
    for op in ops:
        if op.host_fn is not None:
            raise ExportError(f"'{op.name}' ({op.type}) runs on the host and cannot be compiled")


def initial_values(variables: list, graph=None) -> dict:
    """Runs the variables' initializers once (a fresh Session); returns name -> value."""
    from tgc import errors
    from tgc.frontend.session import Session

    if not variables:
        return {}
    session = Session(graph=graph or get_default_graph())
    try:
        session.run([v.initializer for v in variables])
        return {v._name: np.array(session._variables[v._name]) for v in variables}
    except (errors.OpError, ValueError, TypeError) as exc:
        raise ExportError(f"cannot compute the variables' initial values: {exc}") from None
    finally:
        session.close()


def emit_module(run: RunSignature, values: dict | None = None):
    """The tgc module of ``run`` (call inside an MLIR context and location)."""
    from mlir import ir

    from tgc.graph.emit import EmitError, emit_function, emit_variables
    from tgc.driver import aot

    module = ir.Module.create()
    try:
        emit_function(module, run.ops, run.feeds, run.fetches)
    except EmitError as exc:
        raise ExportError(str(exc)) from None
    emit_variables(module, variables_of(run.ops))
    main = aot.main_function(module)
    names = [short_name(t) for t, _ in run.feeds]
    main.attributes[aot.FEED_NAMES] = ir.ArrayAttr.get([ir.StringAttr.get(n) for n in names])
    main.attributes[aot.FETCH_NAMES] = ir.ArrayAttr.get(
        [ir.StringAttr.get(short_name(t)) for t in run.fetches]
    )
    if run.step:
        main.attributes[aot.STEP_INPUT] = ir.UnitAttr.get()
    for op in module.body.operations:
        name = (
            ir.StringAttr(op.attributes["sym_name"]).value
            if op.operation.name == "tgc.variable"
            else None
        )
        if name is not None and values and name in values:
            op.attributes[aot.INITIAL_VALUE] = ir.DenseElementsAttr.get(
                np.ascontiguousarray(values[name])
            )
    return module


def export_graph(fetches, feeds=None, path=None, graph=None, with_initial_values=True) -> str:
    """The tgc-dialect module of one run signature, as text; written to ``path`` when given.

    ``tgc compile`` takes the file to build an artifact; variables start from the values their
    initializers give now (``with_initial_values``), since the artifact runs no initializer.
    """
    from mlir import ir

    from tgc.dialect.context import make_context

    graph = graph or get_default_graph()
    run = select(fetches, feeds, graph)
    values = initial_values(run.variables, graph) if with_initial_values else None
    with make_context(), ir.Location.unknown():
        text = str(emit_module(run, values))
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text


__all__ = ["export_graph", "select", "emit_module", "initial_values", "parse_shape", "ExportError"]
