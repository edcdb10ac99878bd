"""The numpy reference of a drawn graph: the registry's ``opdef.eval`` composed along it.

``evaluate`` gives every value id in a chosen float dtype (float32 rounds after each op, as a
float32 program does); ``finite_difference`` gives d loss / d target by central differences in
float64, with the target's value held fixed downstream when it is an intermediate tensor (what
``tf.gradients`` means by the gradient with respect to an intermediate), and the results of
non-differentiable ops held at their values (no gradient flows through ``stop_gradient``). An
element where the one-sided differences disagree sits on a kink (relu at 0, max of a tie) and has no
single right answer: it is reported in a mask, and the checks skip it.

Control flow (``CONTROL_OPS``: a node ``while_loop``, ``cond`` or ``case`` holding ``Body``
sub-graphs) runs as Python: the body as many times as its trip count says, the branch of the first
predicate that holds. Its bodies hold differentiable registry ops only (generator.py), so finite
differences need nothing frozen inside them; a predicate computed outside is a comparison, frozen
with the other non-differentiable results, as tf.gradients holds the branch taken.
"""

from __future__ import annotations

import warnings

import numpy as np

from tgc.dialect.registry import REGISTRY

CONTROL_OPS = (
    "while_loop",
    "cond",
    "case",
)  # the generator's control-flow nodes (not registry ops)

FD_STEP = 1e-6
KINK_RTOL = 1e-2  # one-sided slopes differing by more than this (relative) mark a kink


def evaluate(
    spec, dtype: str = "float64", overrides: dict | None = None, offsets: dict | None = None
) -> list:
    """Every value id's array; float values in ``dtype``; ``overrides``
    replaces value ids outright; ``offsets`` are added to float values, inputs or computed (an
    accelerator's rounding, accel_numerics.py)."""
    overrides = overrides or {}
    offsets = offsets or {}
    np_dtype = np.dtype(dtype)
    values = []
    for i, array in enumerate(spec.arrays):
        if i in overrides:
            values.append(overrides[i])
        elif array.dtype.kind != "f":  # a bool placeholder (a predicate)
            values.append(array)
        else:
            values.append((array + offsets[i] if i in offsets else array).astype(np_dtype))
    for node in spec.nodes:
        args = [values[a] for a in node.args]
        outs = evaluate_op(node.op, args, node.attrs, spec.dtype, dtype)
        for out in outs:
            out = np.asarray(out)
            value_id = len(values)
            if out.dtype.kind == "f":
                out = (out + offsets[value_id] if value_id in offsets else out).astype(np_dtype)
            values.append(overrides[value_id] if value_id in overrides else out)
    return values


def evaluate_op(op: str, args: list, attrs: dict, graph_dtype: str, dtype: str | None) -> list:
    """One node's results: a registry op's ``evaluate``, or a control-flow node run as Python.
    Float values in ``dtype``; ``dtype=None`` evaluates as the generator does while drawing (the
    operands as given, the attributes in the graph's dtype)."""
    if op in CONTROL_OPS:
        return _evaluate_control(op, args, attrs, graph_dtype, dtype)
    attrs = dict(attrs)
    if dtype is not None:
        if op == "constant":
            attrs["value"] = np.asarray(attrs["value"]).astype(dtype)
        attrs = _attrs_in(attrs, graph_dtype, dtype)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        outs = REGISTRY[op].evaluate([np.asarray(a).copy() for a in args], attrs)
    outs = [np.asarray(o) for o in outs]
    if dtype is None:
        return outs
    return [o.astype(dtype) if o.dtype.kind == "f" else o for o in outs]


def run_body(body, params: list, graph_dtype: str, dtype: str | None) -> list:
    """A ``Body``'s outputs on parameter values ``params``."""
    values = list(params)
    for node in body.nodes:
        values.extend(
            evaluate_op(node.op, [values[a] for a in node.args], node.attrs, graph_dtype, dtype)
        )
    return [values[o] for o in body.outputs]


def trip_count(attrs: dict) -> int:
    """How many times a drawn loop runs its body: its counter's bound, or maximum_iterations
    when that is smaller."""
    limit = attrs["maximum_iterations"]
    return attrs["trips"] if limit is None else min(attrs["trips"], limit)


def taken_branch(preds: list) -> int:
    """The branch a cond (true, false) or a case (one per pred, then the default) runs: the first
    whose predicate holds, else the last."""
    return next((i for i, p in enumerate(preds) if bool(p)), len(preds))


def _evaluate_control(op: str, args: list, attrs: dict, graph_dtype: str, dtype) -> list:
    if op == "while_loop":
        k = attrs["vars"]
        state, captured = list(args[:k]), list(args[k:])
        for _ in range(trip_count(attrs)):
            state = run_body(attrs["body"], state + captured, graph_dtype, dtype)
        return [np.asarray(s) for s in state]
    count = 1 if op == "cond" else attrs["preds"]
    preds, captured = args[:count], list(args[count:])
    branch = attrs["branches"][taken_branch(preds)]
    return [np.asarray(o) for o in run_body(branch, captured, graph_dtype, dtype)]


def _attrs_in(attrs: dict, graph_dtype: str, dtype: str) -> dict:
    """dtype attributes that name the graph's float dtype name ``dtype`` in this evaluation."""
    return {
        k: (dtype if v == graph_dtype else v) if isinstance(v, str) else v for k, v in attrs.items()
    }


def loss_value(spec, values: list) -> float:
    return float(sum(np.sum(np.asarray(values[v], np.float64) * w) for v, w in spec.loss))


def frozen_values(spec, base: list) -> dict:
    """Value ids no gradient flows back through, with their unperturbed values: the results of ops
    declared NOT_DIFFERENTIABLE (stop_gradient, comparisons, argmax, ...), as
    tf.gradients sees them."""
    frozen, value = {}, len(spec.inputs)
    for node in spec.nodes:
        if node.op in CONTROL_OPS or node.op == "constant":
            pass  # differentiable (their bodies hold differentiable ops only)
        elif not REGISTRY[node.op].differentiable:
            frozen.update({value + k: base[value + k] for k in range(node.results)})
        value += node.results
    return frozen


def finite_difference(spec, target: int, base: list, offsets: dict | None = None) -> tuple:
    """(gradient, kink mask) of the loss with respect to value id ``target`` in float64
    (``offsets`` as for evaluate; ``base`` evaluated with them)."""
    frozen = frozen_values(spec, base)
    frozen.pop(target, None)

    def _loss_with(spec, target, array):
        return loss_value(spec, evaluate(spec, "float64", {**frozen, target: array}, offsets))

    x = np.asarray(base[target], np.float64)
    grad = np.zeros(x.shape)
    kink = np.zeros(x.shape, bool)
    centre = _loss_with(spec, target, x)
    for j in np.ndindex(x.shape):
        step = FD_STEP * (1.0 + abs(x[j]))
        plus, minus = x.copy(), x.copy()
        plus[j] += step
        minus[j] -= step
        up, down = _loss_with(spec, target, plus), _loss_with(spec, target, minus)
        grad[j] = (up - down) / (2 * step)
        forward, backward = (up - centre) / step, (centre - down) / step
        kink[j] = abs(forward - backward) > KINK_RTOL * (1.0 + abs(grad[j]))
    return grad, kink
