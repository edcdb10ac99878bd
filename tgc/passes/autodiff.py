"""tgc-autodiff: expands each ``tgc.gradient`` request into the backward graph (reverse mode).

For a request d(sum(y * dy))/dx the pass walks the ops between x and y in reverse program order,
calls each op's registry gradient rule, sums the contributions of values used more than once, and
replaces the request with the result. Requests sharing (y, dy) share one backward sweep. Gradients
flow only through floating-point values and stop at ops marked NOT_DIFFERENTIABLE
(``stop_gradient``, comparisons, ...); an x that y does not depend on gets zeros. The result is
plain tgc IR.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.builder import IRBuilder, OpInfo, Val
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
        if any(v in reached for v in op.operands):
            reached.update(r for r in op.results if _is_float(r))
    return reached


def _ancestors(y: ir.Value) -> set:
    """Ops that y depends on (including its own defining op)."""
    seen, stack = set(), [y]
    while stack:
        operation = defining_op(stack.pop())
        if operation is None or operation in seen:
            continue
        seen.add(operation)
        stack.extend(operation.operands)
    return seen


class _Adjoints:
    """Accumulates gradient contributions per value, summing fan-out."""

    def __init__(self, builder: IRBuilder):
        self.builder = builder
        self.parts: dict = {}

    def add(self, value: ir.Value, grad: Val) -> None:
        self.parts.setdefault(value, []).append(grad)

    def get(self, value: ir.Value):
        parts = self.parts.get(value)
        if not parts:
            return None
        total = parts[0]
        for part in parts[1:]:
            total = self.builder.add(total, part)
        self.parts[value] = [total]
        return total


def _backward(ops, y, dy, xs, builder) -> _Adjoints:
    reached = _reached_from(xs, ops)
    path = _ancestors(y)
    adjoints = _Adjoints(builder)
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


@dataclasses.dataclass(frozen=True)
class AutodiffPass(ModulePass):
    """Replaces tgc.gradient requests by their backward graphs (reverse-mode autodiff)."""

    name = "tgc-autodiff"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            while self._expand_first_group(function):
                pass

    def _expand_first_group(self, function) -> bool:
        ops = body_ops(function)
        requests = [op for op in ops if op.name == "tgc.gradient"]
        if not requests:
            return False
        first = requests[0]
        y, dy = first.operands[0], first.operands[2]
        group = [r for r in requests if r.operands[0] == y and r.operands[2] == dy]
        builder = IRBuilder.before(first)
        builder.reverse_sweep = _backward  # what a loop's rule runs on its body (loop_gradient.py)
        forward = ops[: ops.index(first)]
        adjoints = _backward(forward, y, dy, [r.operands[1] for r in group], builder)
        # Every sum of fan-out contributions is built before any request goes: the builder inserts
        # before the first request, and erasing it would leave the builder nowhere to insert.
        grads = [self._resolved_gradient(adjoints, request) for request in group]
        for request, grad in zip(group, grads):
            request.results[0].replace_all_uses_with(grad.value)
            request.erase()
        return True

    @staticmethod
    def _resolved_gradient(adjoints: _Adjoints, request) -> Val:
        x = request.operands[1]
        grad = adjoints.get(x)
        if grad is None:
            return IRBuilder.before(request).zeros_like(Val(x))
        if grad.value.type != x.type:  # same shape, known in one and unknown in the other
            return IRBuilder.before(request).reshape_like(grad, Val(x))
        return grad
