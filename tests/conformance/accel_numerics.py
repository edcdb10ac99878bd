"""How far the accelerator's numbers may be from float64 numpy, derived from its arithmetic.

The accelerator (docs/accel-machine.md) computes a matmul on its matrix unit with both operands
rounded to bfloat16 (8 significant bits: relative error at most 2^-8 each, so 2^-7 + 2^-16 per
product) and the products summed in float32 (at most K * 2^-24 relative of the sum of |products|,
doubled for the partial sums across K tiles). So for C = A @ B

    |C_got - C| <= (2^-7 + 2^-16 + K * 2^-23) * (|A| @ |B|)

and every other op it runs on its vector unit in float32 (as float32 numpy computes it): for a
float64 graph, ten times the error of that op evaluated in float32 by numpy (the suite's allowance
for float32 rounding, ``checks.forward_tolerance``: the accelerator may order a reduction's sums
otherwise), plus 4 float32 ulps.

``error_bounds`` gives a bound per element of every value of a drawn graph: an op that ran on the
accelerator adds its own error to what its operands bring, and every op (wherever it ran) carries
its operands' bounds to its results to first order: |f(x + e) - f(x)| <= sum_j |df/dx_j| e_j,
measured by moving each operand element by its bound, up and down, one at a time (secants, so a
kink or a jump within the bound is counted). The graphs are small (at most a few hundred elements
a value), so this costs a few thousand numpy calls a graph. A value with a non-float result that
flips within its operands' bounds (a comparison of two near-equal matmul results) has no single
right answer: it and everything computed from it are ``uncertain`` and not compared.

Gradients: the accelerator's backward products round like its forward ones (``gradient_rtol``:
2^-7 of the gradient's magnitude per bf16 matmul of the run), and its forward values, off by up to
their bounds, move the point where the gradient is taken: ``gradient_allowances`` takes the finite
differences again with the accelerator's values moved by their bounds (all up, all down, and one
random pattern of signs) and allows the largest change. A kink within the bounds (relu of a matmul
that is nearly 0) shows as a large change, so that element is in effect not compared: it has no
single right answer either.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from conformance import reference
from tgc.dialect.registry import REGISTRY

BF16_UNIT = 2.0**-8  # relative rounding error of a bfloat16 (8 significant bits, to nearest)
F32_UNIT = 2.0**-24
FLOAT32_FACTOR = 10  # as checks.forward_tolerance allows float32 rounding
MATRIX_UNIT_OPS = ("matmul",)  # drawn ops computed on the matrix unit; the accelerator's others:
# vector. The convolutions run there too (not drawn: generator.EXCLUDED_OPS); a run's count of
# bf16 products (Bounds.matrix_ops) counts them.
PRODUCT_OPS = MATRIX_UNIT_OPS + ("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter")
# Elements per operand moved one at a time; past this, all at once (up and down): a bigger operand
# is rare in drawn graphs (dims of at most 4).
PER_ELEMENT_LIMIT = 4096


@dataclass
class Bounds:
    """Per value id: the float64 array of allowed |got - float64 reference| from the accelerator's
    rounding (zeros where none reaches), and the value ids with no single right answer."""

    forward: list
    uncertain: set = field(default_factory=set)
    accel_nodes: set = field(default_factory=set)  # node indices that ran on the accelerator
    gradients: dict = field(default_factory=dict)  # target -> gradient_allowances' array
    matrix_ops: int = 0  # matmuls the whole run (forward and gradients) ran on the matrix unit
    vector_ops: int = 0  # other ops it ran on the accelerator

    def gradient_rtol(self, dtype: str) -> float:
        """Relative error the accelerator may add to a gradient: each bf16 matmul on the way
        (forward or backward, in the chain rule's products) at most 2^-7 + 2^-16 of the gradient's
        magnitude, each float32 vector op (in a float64 graph) 4 ulps."""
        vector = 4 * F32_UNIT if dtype == "float64" else 0.0
        return self.matrix_ops * (2 * BF16_UNIT + BF16_UNIT**2) + self.vector_ops * vector


def _evaluate(op: str, args: list, attrs: dict) -> list:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return [np.asarray(o) for o in REGISTRY[op].evaluate([a.copy() for a in args], attrs)]


def matmul_error(args: list, bounds: list, attrs: dict) -> np.ndarray:
    """The matrix unit's own error on operands known within ``bounds`` (see the module text)."""
    a, b = (np.abs(x.astype(np.float64)) + e for x, e in zip(args, bounds))
    k = a.shape[-2] if attrs.get("transpose_a") else a.shape[-1] if a.ndim else 1
    magnitude = _evaluate("matmul", [a, b], attrs)[0]
    return (2 * BF16_UNIT + BF16_UNIT**2 + k * 2 * F32_UNIT) * magnitude


def float32_error(op: str, args: list, attrs: dict, outs: list) -> list:
    """The vector unit's own error on a float64 graph's op: ten times the op's error computed in
    float32 against float64, plus 4 float32 ulps of the result (float32 graphs already allow
    their rounding)."""
    as32 = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in args]
    attrs32 = {k: ("float32" if v == "float64" else v) for k, v in attrs.items()}
    outs32 = _evaluate(op, as32, attrs32)
    errors = []
    for out, out32 in zip(outs, outs32):
        if out.dtype.kind != "f":
            errors.append(np.zeros(out.shape))
            continue
        diff = np.abs(out32.astype(np.float64) - out.astype(np.float64))
        errors.append(FLOAT32_FACTOR * np.nan_to_num(diff, nan=np.inf) + 4 * F32_UNIT * np.abs(out))
    return errors


def carried_error(op: str, args: list, bounds: list, attrs: dict, outs: list) -> tuple:
    """(per result: the error the operands' bounds carry into it, whether a non-float result
    flips). Each float operand element moves by its bound, up then down; the results' largest
    moves add up over the elements."""
    if op in PERIODIC_UNARY:
        return [_periodic_carried(bounds[0], outs[0])], False
    carried = [np.zeros(o.shape) for o in outs]
    flips = False
    for i, (arg, bound) in enumerate(zip(args, bounds)):
        if arg.dtype.kind != "f" or not np.any(bound):
            continue
        moves = _moves(bound)
        for move in moves:
            worst = [np.zeros(o.shape) for o in outs]
            for sign in (1.0, -1.0):
                moved = list(args)
                moved[i] = (arg.astype(np.float64) + sign * move).astype(arg.dtype)
                for k, (out, again) in enumerate(zip(outs, _evaluate(op, moved, attrs))):
                    if out.dtype.kind != "f":
                        flips = flips or not np.array_equal(out, again)
                        continue
                    diff = np.abs(again.astype(np.float64) - out.astype(np.float64))
                    worst[k] = np.maximum(worst[k], np.nan_to_num(diff, nan=np.inf))
            for k in range(len(outs)):
                carried[k] = carried[k] + worst[k]
    return carried, flips


# Moving an operand only to its bound's ends misses the swing in between once the bound spans
# part of a period: sin and cos change by at most |move| (slope at most 1) and never by more than 2.
PERIODIC_UNARY = frozenset({"sin", "cos"})


def _periodic_carried(bound: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.minimum(2.0, np.asarray(bound, np.float64)), out.shape).copy()


def _moves(bound: np.ndarray) -> list:
    """The bound one element at a time (each a full-shape array), or whole when too many."""
    nonzero = np.argwhere(bound > 0)
    if len(nonzero) > PER_ELEMENT_LIMIT or not np.all(np.isfinite(bound)):
        return [np.where(np.isfinite(bound), bound, 0.0)] if np.all(np.isfinite(bound)) else []
    moves = []
    for index in map(tuple, nonzero):
        move = np.zeros(bound.shape)
        move[index] = bound[index]
        moves.append(move)
    return moves


def error_bounds(spec, values64: list, accel_nodes: set, accel_inputs: set = frozenset()) -> Bounds:
    """Bounds of every value id of ``spec`` when the nodes ``accel_nodes`` (indices into
    spec.nodes) ran on the accelerator; ``values64`` is the float64 reference. ``accel_inputs``:
    the Variables it held, in its device memory's float32 (a float64 one rounded on its way in)."""
    forward = [
        F32_UNIT * np.abs(a.astype(np.float64))
        if i in accel_inputs and spec.dtype == "float64"
        else np.zeros(np.shape(a))
        for i, a in enumerate(spec.arrays)
    ]
    uncertain: set = set()
    value = len(spec.inputs)
    for index, node in enumerate(spec.nodes):
        args = [np.asarray(values64[a]) for a in node.args]
        outs = [np.asarray(values64[value + k]) for k in range(node.results)]
        bounds = [forward[a] for a in node.args]
        attrs = reference._attrs_in(dict(node.attrs), spec.dtype, "float64")
        if node.op == "constant":
            errors = [np.zeros(o.shape) for o in outs]
        elif any(a in uncertain for a in node.args) or any(
            not np.all(np.isfinite(b)) for b in bounds
        ):
            errors = [np.full(o.shape, np.inf) for o in outs]
            uncertain.update(value + k for k in range(node.results))
        else:
            errors, flips = carried_error(node.op, args, bounds, attrs, outs)
            if flips:
                uncertain.update(value + k for k, o in enumerate(outs) if o.dtype.kind != "f")
            if index in accel_nodes:
                own = (
                    [matmul_error(args, bounds, attrs)]
                    if node.op in MATRIX_UNIT_OPS
                    else float32_error(node.op, args, attrs, outs)
                    if spec.dtype == "float64"
                    else [np.zeros(o.shape) for o in outs]
                )
                errors = [e + o for e, o in zip(errors, own)]
        forward.extend(errors)
        value += node.results
    return Bounds(forward, uncertain, set(accel_nodes))


def gradient_allowances(spec, bounds: Bounds, fd: dict) -> dict:
    """Per gradient target (a value id): how far its finite-difference gradient ``fd[t][0]``
    moves when the accelerator's values move within their bounds (see the module text). Infinite
    (no check) when an uncertain value is in the graph."""
    if not spec.targets:
        return {}
    if bounds.uncertain:
        return {t: np.full(np.shape(fd[t][0]), np.inf) for t in spec.targets}
    moved = _accel_values(spec, bounds)
    allowances = {t: np.zeros(np.shape(fd[t][0])) for t in spec.targets}
    if not moved:
        return allowances
    rng = np.random.default_rng(spec.seed)
    patterns = [
        {v: bounds.forward[v] for v in moved},
        {v: -bounds.forward[v] for v in moved},
        {
            v: bounds.forward[v] * rng.choice([-1.0, 1.0], np.shape(bounds.forward[v]))
            for v in moved
        },
    ]
    for offsets in patterns:
        base = reference.evaluate(spec, "float64", offsets=offsets)
        for t in spec.targets:
            gradient, _ = reference.finite_difference(spec, t, base, offsets)
            change = np.nan_to_num(np.abs(gradient - fd[t][0]), nan=np.inf)
            allowances[t] = np.maximum(allowances[t], change)
    return allowances


def _accel_values(spec, bounds: Bounds) -> list:
    """Float value ids computed (or held, a Variable) on the accelerator with a nonzero bound."""
    out = [i for i in range(len(spec.inputs)) if np.any(bounds.forward[i])]
    value = len(spec.inputs)
    for index, node in enumerate(spec.nodes):
        for k in range(node.results):
            b = bounds.forward[value + k]
            if index in bounds.accel_nodes and np.any(b) and np.all(np.isfinite(b)):
                out.append(value + k)
        value += node.results
    return out
