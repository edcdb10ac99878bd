"""The numpy reference of a drawn graph: the registry's ``opdef.eval`` composed along it.

``evaluate`` gives every value id in a chosen float dtype (float32 rounds after each op, as a
float32 program does); ``finite_difference`` gives d loss / d target by central differences in
float64, with the target's value held fixed downstream when it is an intermediate tensor (what
``tf.gradients`` means by the gradient with respect to an intermediate), and the results of
non-differentiable ops held at their values (no gradient flows through ``stop_gradient``). An
element where the one-sided differences disagree sits on a kink (relu at 0, max of a tie) and has no
single right answer: it is reported in a mask, and the checks skip it.
"""

from __future__ import annotations

import warnings

import numpy as np

from tgc.dialect.registry import REGISTRY

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
        moved = array + offsets[i] if i in offsets else array
        values.append(overrides[i] if i in overrides else moved.astype(np_dtype))
    for node in spec.nodes:
        attrs = dict(node.attrs)
        if node.op == "constant":
            attrs["value"] = np.asarray(attrs["value"]).astype(np_dtype)
        args = [values[a].copy() for a in node.args]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            outs = REGISTRY[node.op].evaluate(args, _attrs_in(attrs, spec.dtype, dtype))
        for out in outs:
            out = np.asarray(out)
            value_id = len(values)
            if out.dtype.kind == "f":
                out = (out + offsets[value_id] if value_id in offsets else out).astype(np_dtype)
            values.append(overrides[value_id] if value_id in overrides else out)
    return values


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
        if node.op != "constant" and not REGISTRY[node.op].differentiable:
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
