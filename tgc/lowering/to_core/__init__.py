"""tgc -> core: the one place that knows how each tgc op becomes linalg/tensor/arith/math.

One rule per op, keyed by the op's registry name, in this package's family modules (``elementwise``,
``linalg_ops``, ``reduce``, ``array``, ...). Below the core level nothing knows tgc ops: each
target's pipeline starts from what these rules produce (tgc/lowering/cpu/ is the one target today).
After the pass, a legality check reports every tgc op left, with its location.
"""

from __future__ import annotations

import dataclasses
from importlib import import_module

from mlir import ir

from tgc.dialect.builder import decode_attrs
from tgc.dialect.ir_helpers import (
    all_ops,
    body_ops,
    functions,
    is_send,
    is_tgc_op,
    is_transfer,
    opdef_of,
)
from tgc.lowering import trace_ops
from tgc.lowering.to_core.common import proven_dims
from tgc.passes.base import ModulePass, PassFailure, format_location

LOWERINGS: dict = {}


def lowers(*names):
    """Registers a rule ``rule(op: CoreOp) -> list[ir.Value] | ir.Value`` for each op name."""

    def register(fn):
        for name in names:
            if name in LOWERINGS:
                raise ValueError(f"two lowerings for '{name}'")
            LOWERINGS[name] = fn
        return fn

    return register


def load_all_lowerings() -> dict:
    """Imports every rule module of this package (each registers its rules)."""
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if info.name != "common":
            import_module(f"tgc.lowering.to_core.{info.name}")
    return LOWERINGS


class CoreOp:
    """A tgc op as a lowering rule sees it."""

    def __init__(self, operation: ir.Operation):
        self.operation = operation
        self.name = opdef_of(operation).name
        self.operands = list(operation.operands)
        self.result_types = [r.type for r in operation.results]
        self.attrs = decode_attrs(operation)

    @property
    def result_type(self) -> ir.Type:
        return self.result_types[0]


def lower_function(function) -> None:
    table = trace_ops.active_table()  # a traced run's compile: each op's code between clock reads
    timed: set = set()  # the TF names timed so far in this function
    for operation in body_ops(function):
        opdef = opdef_of(operation)
        rule = None if opdef is None else LOWERINGS.get(opdef.name)
        if rule is None:
            continue
        with ir.InsertionPoint(operation), operation.location, proven_dims(operation):
            if table is None:
                out = rule(CoreOp(operation))
            else:
                out = _lower_traced(rule, operation, opdef.tf_type, table, timed)
        outs = [] if out is None else (list(out) if isinstance(out, (list, tuple)) else [out])
        for result, new in zip(operation.results, outs):
            result.replace_all_uses_with(_as_value(new))
        operation.erase()


def _lower_traced(rule, operation, kind: str, table, timed: set):
    """``rule`` applied to ``operation`` with a clock read before its code and a record into the
    slot of its TF name and device after (tgc/lowering/trace_ops.py); an op without a name is not
    timed. A graph op lowered as several tgc ops (decomposed, a gradient's backward ops) adds the
    time of each, and counts one execution at its first (``timed``: the names met in this
    function). A transfer between devices is timed apart from the op whose value it moves (a recv
    waits for its send), as TF's _Send and _Recv nodes are."""
    name = trace_ops.op_name(operation.location)
    device = table.device_of(operation)
    if name is None:
        with table.placed_on(device):
            return rule(CoreOp(operation))
    if is_transfer(operation):
        name += "/_Send" if is_send(operation) else "/_Recv"
    top = _outermost(operation)
    start = trace_ops.begin(top)
    with table.placed_on(device):  # a loop's or cond's body ops run where the op does
        out = rule(CoreOp(operation))
    trace_ops.end(table.slot(name, kind, device), start, counts=name not in timed)
    timed.add(name)
    return out


def _outermost(operation):
    while operation.parent is not None:
        operation = operation.parent
    return operation


def _as_value(value):
    """Rules may return an op of one result (as linalg's builders do) instead of its value."""
    if isinstance(value, ir.Value):
        return value
    if hasattr(value, "results"):
        return value.results[0]
    return value[0]  # an OpResultList


def check_legal(module: ir.Module) -> None:
    left = [
        (format_location(operation.location), f"'{operation.name}' has no lowering to core")
        for operation in all_ops(module)
        if is_tgc_op(operation)
    ]
    if left:
        raise PassFailure("tgc-to-core", left)


@dataclasses.dataclass(frozen=True)
class ToCorePass(ModulePass):
    """Lowers every tgc op to linalg/tensor/arith/math; fails naming any op it cannot lower."""

    name = "tgc-to-core"

    def run(self, module: ir.Module) -> None:
        load_all_lowerings()
        for function in functions(module):
            lower_function(function)
        check_legal(module)
