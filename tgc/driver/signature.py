"""What one run computes: the run signature of some fetches and feeds of a graph.

One selection serves every caller: ``Session.run`` (feeds are the feed_dict's tensors, typed by the
fed arrays where the graph leaves the rank open), ``tgc.export_graph`` and ``tgc compile`` (feeds by
name, optionally narrowed to a shape and dtype, or every placeholder the fetches need) and
``tgc graph`` (every placeholder needed, some narrowed by ``--feed``). The graph is pruned to what
the fetches need, cut at the fed tensors; the compiled function takes the feeds in order, then the
random-number step counter when a random op runs, and returns the fetched tensors.

Feeds and fetches are tensors, operations or names (``"x"`` is the first output of op ``x``,
``"x:1"`` its second). A fetched operation (a training op) is run, not returned. A feed shape may
narrow the placeholder's: ``?x784`` can be fed as ``64x784``, never the other way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tgc.dialect.types import TensorSpec, as_dtype
from tgc.graph.graph import Operation, Tensor, get_default_graph
from tgc.graph.prune import prune, unique_variables


class ExportError(ValueError):
    """A feed, fetch or shape that does not fit the graph, said in the user's terms."""


class UnfedPlaceholder(ExportError):
    """The run needs a placeholder that is not among the given feeds."""

    def __init__(self, placeholder: Operation):
        super().__init__(f"'{placeholder.name}' must be fed: add --feed {placeholder.name}")
        self.placeholder = placeholder


class HostOpInRun(ExportError):
    """An op that runs on the host (a summary) is an input of the compiled part of the run."""

    def __init__(self, op: Operation, user: str):
        super().__init__(f"'{op.name}' ({op.type}) runs on the host and cannot be compiled")
        self.op = op
        self.user = user  # the name of an op that uses it, or "another op"


@dataclass
class RunSignature:
    ops: list  # the ops to emit, in a topological order
    feeds: list  # [(Tensor, TensorSpec)] in argument order; the step counter last if random ops run
    fetches: list  # Tensors returned, in order
    variables: list  # Variable objects the run reads or assigns
    step: bool  # whether the last feed is the random-number step counter


def short_name(tensor: Tensor) -> str:
    """``x`` for the first output of op ``x``, else ``x:i`` (the names an artifact takes)."""
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
    """The Tensor or Operation that ``item`` (an object or a name) stands for in ``graph``."""
    if isinstance(item, (Tensor, Operation)):
        return item
    if hasattr(item, "_as_graph_element"):
        return item._as_graph_element()
    try:
        return graph.as_graph_element(item)
    except (KeyError, ValueError, TypeError) as exc:
        reason = str(exc.args[0]) if exc.args else str(exc)  # KeyError's str() adds quotes
        raise ExportError(f"unknown {what} '{item}': {reason}") from None


def feed_spec(tensor: Tensor, shape=None, dtype=None) -> TensorSpec:
    """The argument type of a fed tensor: the graph's spec narrowed by the requested shape/dtype."""
    spec = tensor.spec
    name = short_name(tensor)
    if dtype is not None and as_dtype(dtype).name != spec.dtype:
        raise ExportError(f"feed '{name}' has dtype {spec.dtype}, not {as_dtype(dtype).name}")
    if shape is None:
        if spec.shape is None:
            kind = "placeholder" if tensor.op.opdef is None else "feed"
            raise ExportError(
                f"{kind} '{name}' has unknown rank: give its shape with --feed {name}:SHAPE "
                f"(e.g. --feed {name}:scalar or --feed {name}:?x10)"
            )
        return spec
    shape = tuple(shape)
    fits = spec.shape is None or (
        len(shape) == len(spec.shape)
        and all(g is None or g == s for g, s in zip(spec.shape, shape))
    )
    if not fits:
        raise ExportError(
            f"shape {_shape_text(shape)} does not fit feed '{name}' of shape "
            f"{_shape_text(spec.shape)}"
        )
    return TensorSpec(shape, spec.dtype)


def _shape_text(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) or "scalar"


def select(fetches, feeds=None, graph=None, narrowed=None, ran=frozenset()) -> RunSignature:
    """The ops, feeds and fetches of one run.

    ``feeds``: a list of names/tensors or (name, shape, dtype) tuples (shape/dtype may be None),
    each fed, in this order; or None: every placeholder the fetches need, in the order the program
    made them, typed by ``narrowed`` ({placeholder tensor: TensorSpec from feed_spec}) where given.
    ``ran``: ops that run apart before these (a session's host sources): control inputs on them are
    met already. Raises ExportError; UnfedPlaceholder and HostOpInRun say which op is at fault."""
    graph = graph or get_default_graph()
    fetch_elements = [
        _fetch(graph, f) for f in (fetches if isinstance(fetches, (list, tuple)) else [fetches])
    ]
    if not fetch_elements:
        raise ExportError("nothing to compute: give at least one fetch")
    roots = [e if isinstance(e, Operation) else e.op for e in fetch_elements]
    requested = [_feed_request(graph, f) for f in (feeds or [])]
    fed = {t for t, _, _ in requested}
    ops = prune(roots, fed, ran)
    ops = [op for op in ops if not (op.outputs and all(t in fed for t in op.outputs))]
    _check_host_ops(ops)
    rng = graph._rng_step
    placeholders = [op for op in ops if op.opdef is None and op is not rng]
    if feeds is None:
        narrowed = narrowed or {}
        created = {op: i for i, op in enumerate(graph.get_operations())}  # the program's order
        requested = [
            _narrowed_request(op.outputs[0], narrowed)
            for op in sorted(placeholders, key=created.get)
        ]
    elif placeholders:
        raise UnfedPlaceholder(placeholders[0])
    arguments = [(t, feed_spec(t, shape, dtype)) for t, shape, dtype in requested]
    step = rng is not None and rng in ops
    if step:
        arguments.append((rng.outputs[0], rng.outputs[0].spec))
    body = [op for op in ops if op.opdef is not None]
    fetch_tensors = [e for e in fetch_elements if isinstance(e, Tensor)]
    return RunSignature(body, arguments, fetch_tensors, unique_variables(body), step)


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
    return _feed_tensor(graph, name), shape, dtype


def _feed_tensor(graph, item) -> Tensor:
    found = element(graph, item, "feed")
    if isinstance(found, Operation):
        if not found.outputs:
            raise ExportError(f"cannot feed '{found.name}': it has no outputs")
        return found.outputs[0]
    return found


def _narrowed_request(tensor: Tensor, narrowed: dict) -> tuple:
    spec = narrowed.get(tensor)
    return (tensor, None, None) if spec is None else (tensor, spec.shape, spec.dtype)


def _check_host_ops(ops) -> None:
    for op in ops:
        if op.host_fn is not None:
            user = next((o.name for o in ops if any(t.op is op for t in o.inputs)), "another op")
            raise HostOpInRun(op, user)
