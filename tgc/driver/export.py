"""The tgc module of one run signature as an artifact needs it: ``@main`` names its feeds and
fetches (and marks the random-number step counter), and each variable carries its initial value.

``tgc.export_graph`` (tgc/frontend/export.py) and ``tgc compile`` of a Python program emit with it;
tgc/driver/aot.py lowers the module to an artifact.
"""

from __future__ import annotations

import numpy as np

from tgc.driver.signature import ExportError, RunSignature, short_name
from tgc.graph.prune import variables_of


def emit_module(run: RunSignature, values: dict | None = None):
    """The tgc module of ``run`` (call inside an MLIR context and location); ``values``: variable
    name -> initial value."""
    from mlir import ir

    from tgc.dialect.ir_helpers import declares_variable
    from tgc.driver import aot
    from tgc.graph.emit import EmitError, emit_function, emit_variables

    module = ir.Module.create()
    try:
        emit_function(module, run.ops, run.feeds, run.fetches)
    except EmitError as exc:
        raise ExportError(str(exc)) from None
    emit_variables(module, variables_of(run.ops))
    main = aot.main_function(module)
    main.attributes[aot.FEED_NAMES] = _strings([short_name(t) for t, _ in run.feeds])
    main.attributes[aot.FETCH_NAMES] = _strings([short_name(t) for t in run.fetches])
    if run.step:
        main.attributes[aot.STEP_INPUT] = ir.UnitAttr.get()
    for op in module.body.operations:
        if not declares_variable(op.operation):
            continue
        name = ir.StringAttr(op.attributes["sym_name"]).value
        if values and name in values:
            op.attributes[aot.INITIAL_VALUE] = ir.DenseElementsAttr.get(
                np.ascontiguousarray(values[name])
            )
    return module


def _strings(names: list):
    from mlir import ir

    return ir.ArrayAttr.get([ir.StringAttr.get(n) for n in names])
