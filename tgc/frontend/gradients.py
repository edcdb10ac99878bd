"""``tgc.gradients``: puts gradient requests into the graph for the tgc-autodiff pass to expand.

For each x this adds one ``tgc.gradient(y, x, dy)`` per y that depends on x (TensorFlow sums over ys)
and returns None for an x that no y depends on, as TensorFlow does. The backward graph itself is built
later, in the IR, from the registry's gradient rules.
"""

from __future__ import annotations

from tgc.dialect.registry import REGISTRY
from tgc.frontend.build import convert_to_tensor, make_op
from tgc.frontend.graph import Tensor, get_default_graph

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _differentiable_ancestors(y: Tensor, stop: set) -> set:
    """Tensors that y depends on through differentiable ops."""
    seen, stack = set(), [y]
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        op = t.op
        if op in stop or op.opdef is None:
            continue
        # A gradient request is differentiable through what it stands for: tgc-autodiff expands the
        # inner request first, so the outer one sees plain ops (second-order gradients).
        if op.opdef != "gradient" and not REGISTRY[op.opdef].differentiable:
            continue
        stack.extend(i for i in op.inputs if i.spec.dtype in _FLOATS)
    return seen


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def gradients(ys, xs, grad_ys=None, name="gradients", stop_gradients=None, **_ignored):
    """d(sum of ys)/d(each x) (`tf.gradients`); grad_ys weight each y (ones by default)."""
    ys = [convert_to_tensor(y) for y in _as_list(ys)]
    xs_in = _as_list(xs)
    xs = [convert_to_tensor(x) for x in xs_in]
    grad_ys = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys)
    if len(grad_ys) != len(ys):
        raise ValueError(f"grad_ys has {len(grad_ys)} entries but ys has {len(ys)}")
    stop = {convert_to_tensor(s).op for s in _as_list(stop_gradients)} if stop_gradients is not None else set()
    graph = get_default_graph()
    results = []
    with graph.name_scope(name or "gradients"):
        seeds = []
        for y, g in zip(ys, grad_ys):
            if y.spec.dtype not in _FLOATS:
                raise TypeError(f"cannot differentiate '{y.name}' of dtype {y.spec.dtype}; gradients need floating-point ys")
            seeds.append(make_op("fill_like", [y], name="grad_ys", value=1.0) if g is None else convert_to_tensor(g, dtype=y.dtype))
        reach = [_differentiable_ancestors(y, stop) for y in ys]
        for x in xs:
            parts = [make_op("gradient", [y, x, dy]) for y, dy, r in zip(ys, seeds, reach) if x in r]
            total = parts[0] if parts else None
            for p in parts[1:]:
                total = make_op("add", [total, p], name="AddN")
            results.append(total)
    return results
