"""``tgc.export_graph``: one run signature of a graph, written as a self-contained tgc-dialect
module.

This is the front of ahead-of-time compilation (`tgc compile`, tgc/driver/aot.py). The run signature
is chosen as for ``Session.run`` (tgc/driver/signature.py) and emitted with the names and initial
values an artifact needs (tgc/driver/export.py). The initial values are computed here, by running
the variables' initializers once in a Session: random initializers are therefore drawn at export
time, and an artifact starts from those values on every load.
"""

from __future__ import annotations

import numpy as np

from tgc.driver.export import emit_module
from tgc.driver.signature import ExportError, select
from tgc.graph.graph import get_default_graph


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


def export_graph(fetches, feeds=None, path=None, graph=None, with_initial_values=True) -> str:
    """The tgc-dialect module of one run signature, as text; written to ``path`` when given.

    ``fetches`` and ``feeds`` are as ``tgc.driver.signature.select`` takes them: tensors,
    operations or names; a feed may be (name, shape, dtype) to narrow it; no feeds: every
    placeholder the fetches need. ``tgc compile`` takes the file to build an artifact; variables
    start from the values their initializers give now (``with_initial_values``), since the
    artifact runs no initializer.
    """
    from mlir import ir

    from tgc.dialect.context import make_context

    graph = graph or get_default_graph()
    run = select(fetches, feeds, graph)
    values = initial_values(run.variables, graph) if with_initial_values else None
    with make_context(), ir.Location.unknown():
        # With the ops' locations (name and where the program made it): an artifact's run-time
        # error then names its op, as a Session's does.
        text = emit_module(run, values).operation.get_asm(enable_debug_info=True)
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text


__all__ = ["export_graph", "initial_values"]
