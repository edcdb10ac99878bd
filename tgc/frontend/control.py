"""Control ops of the TF1 API: ``no_op``, ``group``, ``tuple`` and ``control_dependencies``.

Control dependencies order ops without passing data; the emitter follows them when it orders a
function's ops, so an op created under ``control_dependencies([a])`` runs after ``a``.
"""

from __future__ import annotations

from tgc.frontend import build
from tgc.graph.graph import Operation, Tensor, get_default_graph


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def no_op(name=None) -> Operation:
    return build.make_op("no_op", [], name=name or "NoOp")


def _as_op(x):
    if isinstance(x, Operation):
        return x
    if isinstance(x, Tensor):
        return x.op
    if hasattr(x, "_as_graph_element"):
        return x._as_graph_element().op
    raise TypeError(f"cannot group {x!r}: expected an op or a tensor")


def group(*inputs, name=None) -> Operation:
    """An op that runs all of ``inputs`` (`tf.group`)."""
    flat = []
    for item in inputs:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    with control_dependencies([_as_op(x) for x in flat]):
        return no_op(name=name or "group_deps")


def tuple_(tensors, name=None, control_inputs=None):
    """Tensors that are available only after all of them are computed (`tf.tuple`)."""
    deps = [t.op for t in tensors if t is not None] + list(control_inputs or [])
    with control_dependencies(deps):
        return [None if t is None else build.make_op("identity", [t]) for t in tensors]
