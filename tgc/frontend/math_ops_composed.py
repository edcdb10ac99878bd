"""`tf.norm`, `tf.cross` and `tf.einsum`, composed from math_ops and array_ops (so gradients and
every target come for free). A module of its own: math_ops cannot import it back (it builds on
math_ops), so tgc/__init__.py exports these names.

einsum takes the common forms: any number of operands whose subscripts are letters, each letter
at most once per operand and in the output, with an explicit output (``->``) or TF's implicit one
(the letters seen once, sorted). It contracts operands left to right: a pair with no shared
letter kept in the output is one matmul (tgc's tensordot), a batch of matrix products
("bij,bjk->bik", transposes too) one batched tf.matmul, other pairs multiply broadcast and sum.
Ellipses (``...``) and repeated letters (diagonals, traces) are refused with a clear error.
"""

from __future__ import annotations

import string

import numpy as np

from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import check_op, convert_to_tensor
from tgc.graph.graph import get_default_graph

__all__ = ["norm", "cross", "einsum"]


# ---- norm ---------------------------------------------------------------------------------------


def _norm_axes(x, axis):
    """The axes as a list of one (a vector norm) or two (a matrix norm), or None (every axis,
    flattened, a vector norm); TF's error otherwise."""
    if axis is None:
        return None
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    if not all(isinstance(a, (int, np.integer)) for a in axes) or not 1 <= len(axes) <= 2:
        raise ValueError(
            f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}"
        )
    rank = x.spec.rank
    if rank is not None:
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(
                    f"norm: axis {a} is out of range for '{x.name}' of shape {x.shape}"
                )
        axes = [int(a) % rank for a in axes]
    if len(axes) == 2 and axes[0] == axes[1]:
        raise ValueError(
            f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}"
        )
    return [int(a) for a in axes]


def _vector_norm(x, ord, axes, keep):
    magnitude = math_ops.abs(x)
    if ord in ("euclidean", 2, 2.0):
        return math_ops.sqrt(math_ops.reduce_sum(x * x, axes, keepdims=keep))
    if ord in (1, 1.0):
        return math_ops.reduce_sum(magnitude, axes, keepdims=keep)
    if ord == np.inf:
        return math_ops.reduce_max(magnitude, axes, keepdims=keep)
    p = float(ord)
    total = math_ops.reduce_sum(math_ops.pow(magnitude, p), axes, keepdims=keep)
    return math_ops.pow(total, 1.0 / p)


def _matrix_norm(x, ord, axes, keep):
    rows, columns = axes
    magnitude = math_ops.abs(x)
    if ord in ("euclidean", "fro"):
        return math_ops.sqrt(math_ops.reduce_sum(x * x, axes, keepdims=keep))
    if ord not in (1, 1.0, np.inf):
        raise ValueError(
            f"norm: ord={ord!r} over the matrix axes {axes} is not supported by tgc: only "
            "'fro' / 'euclidean', 1 and np.inf (ord=2 needs the singular values)"
        )
    summed, largest = (rows, columns) if ord in (1, 1.0) else (columns, rows)
    sums = math_ops.reduce_sum(magnitude, summed, keepdims=True)
    out = math_ops.reduce_max(sums, largest, keepdims=True)
    return out if keep else array_ops.squeeze(out, axis=sorted(axes))


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None, keep_dims=None):  # noqa: A002
    """`tf.norm`: vector norms (ord 'euclidean' / 2, 1, np.inf, any p > 0) over every element or
    along one axis; matrix norms ('fro' / 'euclidean', 1, np.inf) over a pair of axes. As TF's,
    the euclidean norm is sqrt(sum(x * x)), so its gradient at an all-zero x is NaN."""
    x = convert_to_tensor(tensor)
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    axes = _norm_axes(x, axis)
    is_matrix = axes is not None and len(axes) == 2
    vector_ords = ("euclidean", 1, 2, np.inf)
    matrix_ords = ("euclidean", "fro", 1, 2, np.inf)
    numeric = isinstance(ord, (int, float, np.number)) and not isinstance(ord, bool)
    if is_matrix and ord not in matrix_ords:
        raise ValueError(f"'ord' must be a supported matrix norm in {list(matrix_ords)}, got {ord}")
    if not is_matrix and not (ord in vector_ords or (numeric and ord > 0)):
        raise ValueError(f"'ord' must be a supported vector norm, got {ord}")
    with get_default_graph().name_scope(name or "norm"):
        if is_matrix:
            return _matrix_norm(x, ord, axes, keep)
        if axes is None and not keep:
            flat = array_ops.reshape(x, [-1])
            return _vector_norm(flat, ord, [0], False)
        return _vector_norm(x, ord, axes, keep)


# ---- cross --------------------------------------------------------------------------------------


def cross(a, b, name=None):
    """`tf.cross`: the cross products of the 3-vectors along the last axis of a and b."""
    a, b = math_ops._pair(a, b)
    for t in (a, b):
        shape = t.spec.shape
        if shape is None or not shape or shape[-1] != 3:
            last = "unknown" if not shape else shape[-1]
            raise ValueError(
                f"cross: Dimension must be 3 but is {last}: '{t.name}' (shape {t.shape}) must "
                "hold 3-vectors along its last axis, known when the graph is built"
            )
    _check_same_shape(a, b, name or "Cross")
    with get_default_graph().name_scope(name or "Cross") as scope:
        with get_default_graph().control_dependencies(_same_shape_at_run_time(a, b)):
            a, b = math_ops.identity(a), math_ops.identity(b)
        a0, a1, a2 = array_ops.unstack(a, 3, axis=-1)
        b0, b1, b2 = array_ops.unstack(b, 3, axis=-1)
        parts = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
        return array_ops.stack(parts, axis=-1, name=scope)


def _shape_text(shape) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _check_same_shape(a, b, name) -> None:
    """TF's Cross shape rule: a and b of one shape (no broadcasting), in its words."""
    sa, sb = a.spec.shape, b.spec.shape
    shapes = f"for '{name}' (op: 'Cross') with input shapes: {_shape_text(sa)}, {_shape_text(sb)}."
    if len(sa) != len(sb):
        raise ValueError(f"Shapes must be equal rank, but are {len(sa)} and {len(sb)} {shapes}")
    for i, (x, y) in enumerate(zip(sa, sb)):
        if x is not None and y is not None and x != y:
            raise ValueError(
                f"Dimension {i} in both shapes must be equal, but are {x} and {y}. Shapes are "
                f"{_shape_text(sa)} and {_shape_text(sb)}. {shapes}"
            )


def _same_shape_at_run_time(a, b) -> list:
    """TF's Cross kernel's check where a dim is known only at run time: a [1, 3] must not
    broadcast over [2, 3]."""
    if None not in a.spec.shape + b.spec.shape:
        return []
    sa, sb = array_ops.shape(a), array_ops.shape(b)
    same = math_ops.reduce_all(math_ops.equal(sa, sb))
    return [check_op(same, "Both inputs must be of same shape: {0} vs. {1}", [sa, sb])]


# ---- einsum -------------------------------------------------------------------------------------


def _parse_equation(equation, count):
    """(inputs' subscripts, output subscripts), checked as TF checks them."""
    text = equation.replace(" ", "")
    if "." in text:
        raise ValueError(
            f"einsum: equation {equation!r} has an ellipsis ('...'), which tgc does not support: "
            "name every axis with a letter"
        )
    inputs_text, arrow, output = text.partition("->")
    inputs = inputs_text.split(",")
    if len(inputs) != count:
        raise ValueError(
            f"einsum: equation {equation!r} has {len(inputs)} input subscripts but {count} "
            "operands were given"
        )
    for sub in inputs + [output]:
        bad = [c for c in sub if c not in string.ascii_letters]
        if bad:
            raise ValueError(f"einsum: equation {equation!r} has a bad subscript {bad[0]!r}")
    seen = "".join(inputs)
    if not arrow:  # TF's implicit output: the letters seen once, in alphabetical order
        output = "".join(sorted(c for c in set(seen) if seen.count(c) == 1))
    if len(set(output)) != len(output):
        raise ValueError(f"Output subscripts contain a label appearing more than once: {equation}")
    for c in output:
        if c not in seen:
            raise ValueError(
                f"Output subscripts contain the label {c} not present in the input subscripts."
            )
    for sub in inputs:
        if len(set(sub)) != len(sub):
            raise ValueError(
                f"einsum: subscripts {sub!r} of {equation!r} repeat a letter (a diagonal or a "
                "trace), which tgc does not support"
            )
    return inputs, output


def _check_operand(x, sub, equation):
    if x.spec.rank is None or x.spec.rank != len(sub):
        raise ValueError(
            f"einsum: subscripts {sub!r} of {equation!r} name {len(sub)} axes but '{x.name}' has "
            f"shape {x.shape}"
        )


def _sum_out(x, sub, keep):
    """x with the letters not in ``keep`` summed away."""
    gone = [i for i, c in enumerate(sub) if c not in keep]
    if not gone:
        return x, sub
    return math_ops.reduce_sum(x, gone), "".join(c for c in sub if c in keep)


def _arrange(x, sub, order):
    """x transposed to the letters' ``order`` (its own letters only)."""
    wanted = "".join(c for c in order if c in sub)
    if wanted == sub:
        return x
    return array_ops.transpose(x, [sub.index(c) for c in wanted])


def _contract(a, a_sub, b, b_sub, keep):
    """(a * b with the shared letters not in ``keep`` summed, its subscripts)."""
    shared = [c for c in a_sub if c in b_sub]
    summed = [c for c in shared if c not in keep]
    batch = [c for c in shared if c in keep]
    a_shape, b_shape = a.shape.as_list(), b.shape.as_list()
    for c in shared:
        da, db = a_shape[a_sub.index(c)], b_shape[b_sub.index(c)]
        if da is not None and db is not None and da != db:
            raise ValueError(
                f"einsum: letter {c!r} is {da} long in '{a.name}' {a.shape} but {db} in "
                f"'{b.name}' {b.shape}"
            )
    if not batch and _tensordot_fits(a, a_sub, b, b_sub, summed):
        axes = [[a_sub.index(c) for c in summed], [b_sub.index(c) for c in summed]]
        out = math_ops.tensordot(a, b, axes)
        return out, "".join(c for c in a_sub if c not in summed) + "".join(
            c for c in b_sub if c not in summed
        )
    if batch and _batch_matmul_fits(a_sub, b_sub, summed):
        return _batch_matmul(a, a_sub, b, b_sub, "".join(batch), summed[0])
    letters = a_sub + "".join(c for c in b_sub if c not in a_sub)
    wide_a = _broadcastable(a, a_sub, letters)
    wide_b = _broadcastable(b, b_sub, letters)
    return _sum_out(wide_a * wide_b, letters, keep)


def _batch_matmul_fits(a_sub, b_sub, summed):
    """Whether the pair is a batch of matrix products ("bij,bjk->bik" and its transposes): one
    summed letter and one free letter on each side besides the kept shared (batch) letters."""
    free_a = [c for c in a_sub if c not in b_sub]
    free_b = [c for c in b_sub if c not in a_sub]
    return len(summed) == 1 and len(free_a) == 1 and len(free_b) == 1


def _batch_matmul(a, a_sub, b, b_sub, batch, summed):
    """The pair as one tf.matmul over the ``batch`` letters (a BatchMatMulV2, not a broadcast
    product of every (i, j, k) triple); an operand whose matrix comes transposed is read so."""
    (free_a,) = [c for c in a_sub if c not in b_sub]
    (free_b,) = [c for c in b_sub if c not in a_sub]
    transpose_a = a_sub.index(summed) < a_sub.index(free_a)
    transpose_b = b_sub.index(free_b) < b_sub.index(summed)
    a_order = batch + (summed + free_a if transpose_a else free_a + summed)
    b_order = batch + (free_b + summed if transpose_b else summed + free_b)
    out = math_ops.matmul(
        _arrange(a, a_sub, a_order),
        _arrange(b, b_sub, b_order),
        transpose_a=transpose_a,
        transpose_b=transpose_b,
    )
    return out, batch + free_a + free_b


def _tensordot_fits(a, a_sub, b, b_sub, summed):
    """Whether tensordot (one matmul) takes the pair: contracted dims known, b's free dims
    known, a's free dims at most one unknown."""
    a_shape, b_shape = a.shape.as_list(), b.shape.as_list()
    if any(a_shape[a_sub.index(c)] is None or b_shape[b_sub.index(c)] is None for c in summed):
        return False
    if any(d is None for c, d in zip(b_sub, b_shape) if c not in summed):
        return False
    return sum(d is None for c, d in zip(a_sub, a_shape) if c not in summed) <= 1


def _broadcastable(x, sub, letters):
    """x transposed to ``letters``' order with a size-1 axis for each letter it lacks."""
    x = _arrange(x, sub, letters)
    present = "".join(c for c in letters if c in sub)
    for i, c in enumerate(letters):
        if c not in present:
            x = array_ops.expand_dims(x, i)
            present = present[:i] + c + present[i:]
    return x


def einsum(equation, *inputs, **kwargs):
    """`tf.einsum` of the common forms (see the module's docstring); ``name`` as TF's."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum: unexpected keyword argument(s) {sorted(kwargs)}")
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a string but got {equation!r}")
    operands = [convert_to_tensor(x) for x in inputs]
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    subs, output = _parse_equation(equation, len(operands))
    for x, sub in zip(operands, subs):
        _check_operand(x, sub, equation)
    with get_default_graph().name_scope(name or "einsum") as scope:
        result, result_sub = operands[0], subs[0]
        for i in range(1, len(operands)):
            later = output + "".join(subs[i + 1 :])
            result, result_sub = _sum_out(result, result_sub, later + subs[i])
            right, right_sub = _sum_out(operands[i], subs[i], later + result_sub)
            result, result_sub = _contract(result, result_sub, right, right_sub, later)
        result, result_sub = _sum_out(result, result_sub, output)
        return math_ops.identity(_arrange(result, result_sub, output), name=scope)
