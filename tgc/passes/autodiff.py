"""tgc-autodiff: expands each ``tgc.gradient`` request into the backward graph (reverse mode).

For a request d(sum(y * dy))/dx the pass walks the ops between x and y in reverse program order,
calls each op's registry gradient rule, sums the contributions of values used more than once, and
replaces the request with the result. Requests sharing (y, dy) share one backward sweep. Gradients
flow only through floating-point values and stop at ops marked NOT_DIFFERENTIABLE
(``stop_gradient``, comparisons, ...); an x that y does not depend on gets zeros. The result is
plain tgc IR.

Each op built gets TF's name for it (tgc/dialect/gradient_names.py) as its location:
``<scope>/<forward op>_grad/<Type>``, the scope being that of the request (``gradients`` for
``gradients/SymbolicGradient``), over the request's file location; fan-out sums are
``<scope>/AddN``. Run-time errors, traced step stats and the graph tools name them so.
"""

from __future__ import annotations

import dataclasses
import functools

from mlir import ir

from tgc.dialect.builder import IRBuilder, OpInfo, Val
from tgc.dialect.gradient_names import GradientNames, location_name, names_in
from tgc.dialect.ir_helpers import body_ops, defining_op, functions, opdef_of
from tgc.dialect.registry import GradientRefused
from tgc.passes.base import ModulePass, PassFailure, format_location

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _is_float(value: ir.Value) -> bool:
    return Val(value).dtype in _FLOATS


def _reached_from(xs, ops) -> set:
    """Values that depend on any x through differentiable ops, in program order."""
    reached = {x for x in xs if _is_float(x)}
    for op in ops:
        opdef = opdef_of(op)
        if opdef is None or not opdef.differentiable:
            continue
        # an operand read for its shape only (a *_like op's target) passes no gradient on
        if any(v in reached and opdef.carries_gradient(k) for k, v in enumerate(op.operands)):
            reached.update(r for r in op.results if _is_float(r))
    return reached


def _ancestors(ys: list) -> set:
    """Ops that any of ys depends on (including their own defining ops)."""
    seen, stack = set(), list(ys)
    while stack:
        operation = defining_op(stack.pop())
        if operation is None or operation in seen:
            continue
        seen.add(operation)
        stack.extend(operation.operands)
    return seen


class _Adjoints:
    """Accumulates gradient contributions per value, summing fan-out (``<scope>/AddN``)."""

    def __init__(self, builder: IRBuilder, names: GradientNames):
        self.builder = builder
        self.names = names
        self.parts: dict = {}

    def add(self, value: ir.Value, grad: Val) -> None:
        self.parts.setdefault(value, []).append(grad)

    def get(self, value: ir.Value):
        parts = self.parts.get(value)
        if not parts:
            return None
        total = parts[0]
        if len(parts) > 1:
            namer, self.builder.namer = self.builder.namer, self.names.top("AddN")
            for part in parts[1:]:
                total = self.builder.add(total, part)
            self.builder.namer = namer
        self.parts[value] = [total]
        return total


def _backward(ops, seeds: list, xs, builder, names: GradientNames) -> _Adjoints:
    """The adjoints of the values ``ops`` compute from xs, given the adjoint ``dy`` of each y of
    ``seeds`` [(y, dy), ...]: one sweep for all ys (the VJP of a loop's body or a cond's branch
    at all its results: each op's rule runs once, not once per result). The ops built are named
    by ``names``, each after the forward op whose rule built it. The builder's namer is as it
    was on return."""
    outer = builder.namer
    try:
        return _sweep(ops, seeds, xs, builder, names)
    finally:
        builder.namer = outer


def _sweep(ops, seeds: list, xs, builder, names: GradientNames) -> _Adjoints:
    reached = _reached_from(xs, ops)
    path = _ancestors([y for y, _ in seeds])
    adjoints = _Adjoints(builder, names)
    for y, dy in seeds:
        adjoints.add(y, Val(dy))
    for op in reversed(ops):
        opdef = opdef_of(op)
        if op not in path or opdef is None or not any(r in reached for r in op.results):
            continue
        if not opdef.differentiable:
            continue
        douts = [adjoints.get(r) if r in reached else None for r in op.results]
        if all(d is None for d in douts):
            continue
        info = OpInfo(op)
        builder.namer = names.of_op(_forward_name(op))
        douts = [d if d is not None else builder.zeros_like(o) for d, o in zip(douts, info.outputs)]
        try:
            grads = info.opdef.grad(builder, info, *douts)
        except GradientRefused as exc:  # an op whose rule refuses (tf.while_loop's, for now)
            where = format_location(op.location)
            raise PassFailure(AutodiffPass.name, [(where, str(exc))]) from None
        for operand, grad in zip(op.operands, grads):
            if grad is not None and operand in reached:
                adjoints.add(operand, grad)
    return adjoints


def _forward_name(op) -> str:
    """The TF name of a forward op (its type when it has none: an op built by a pass)."""
    name = location_name(op.location)
    return name if name is not None else opdef_of(op).tf_type


def _gradient_names(request, taken: set) -> GradientNames:
    """The names of a request's ops: under its scope (``gradients`` of
    ``gradients/SymbolicGradient``; none for a request without a name), over its file location."""
    location = request.location
    name = location_name(location)
    scope = name.rpartition("/")[0] if name is not None else ""
    where = location.child_loc if name is not None else location
    return GradientNames(scope or "gradients", where, taken)


@dataclasses.dataclass(frozen=True)
class AutodiffPass(ModulePass):
    """Replaces tgc.gradient requests by their backward graphs (reverse-mode autodiff)."""

    name = "tgc-autodiff"

    def run(self, module: ir.Module) -> None:
        taken = names_in(module.operation)  # backward ops get names no op has
        for function in functions(module):
            while self._expand_first_group(function, taken):
                pass

    def _expand_first_group(self, function, taken: set) -> bool:
        ops = body_ops(function)
        requests = [op for op in ops if op.name == "tgc.gradient"]
        if not requests:
            return False
        first = requests[0]
        y, dy = first.operands[0], first.operands[2]
        group = [r for r in requests if r.operands[0] == y and r.operands[2] == dy]
        builder = IRBuilder.before(first)
        names = _gradient_names(first, taken)
        # What a loop's or cond's rule runs on its body (loop_gradient.py), naming its ops alike.
        builder.reverse_sweep = functools.partial(_backward, names=names)
        forward = ops[: ops.index(first)]
        adjoints = _backward(forward, [(y, dy)], [r.operands[1] for r in group], builder, names)
        # Every sum of fan-out contributions is built before any request goes: the builder inserts
        # before the first request, and erasing it would leave the builder nowhere to insert.
        grads = [self._resolved_gradient(adjoints, request, names) for request in group]
        for request, grad in zip(group, grads):
            request.results[0].replace_all_uses_with(grad.value)
            request.erase()
        return True

    @staticmethod
    def _resolved_gradient(adjoints: _Adjoints, request, names: GradientNames) -> Val:
        x = request.operands[1]
        grad = adjoints.get(x)
        builder = IRBuilder.before(request)
        builder.namer = names.top()
        if grad is None:
            return builder.zeros_like(Val(x))
        if grad.value.type != x.type:  # same shape, known in one and unknown in the other
            return builder.reshape_like(grad, Val(x))
        return grad
