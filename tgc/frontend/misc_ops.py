"""TF1 ops that programs use and tgc composes from its own ops (so gradients and every target
work): ``logical_xor``, ``scalar_mul``, ``random_shuffle``, ``matrix_diag``,
``matrix_diag_part``, ``shape_n``, and tf.nn's ``sufficient_statistics``, ``normalize_moments``,
``weighted_moments`` and ``zero_fraction``.

``random_shuffle`` ranks random keys by comparing each with every other ([n, n] booleans, as
tgc's top_k does: there is no sort op), so it suits batches and small tables, not a whole data
set of tens of thousands of rows (use tf.data's shuffle or numpy there).
"""

from __future__ import annotations

import numbers

from tgc.frontend import array_ops, math_ops, random_ops
from tgc.frontend.build import convert_to_tensor
from tgc.graph.graph import get_default_graph


def _scope(name, default):
    return get_default_graph().name_scope(name or default)


# ---- tf. ---------------------------------------------------------------------------------------


def logical_xor(x, y, name="LogicalXor"):
    """x XOR y of bool tensors, as TF: (x | y) & !(x & y)."""
    with _scope(name, "LogicalXor"):
        x, y = convert_to_tensor(x), convert_to_tensor(y)
        for what, t in (("x", x), ("y", y)):
            if t.dtype.name != "bool":
                raise TypeError(f"logical_xor: {what} '{t.name}' must be bool, got {t.dtype.name}")
        return math_ops.logical_and(
            math_ops.logical_or(x, y), math_ops.logical_not(math_ops.logical_and(x, y))
        )


def scalar_mul(scalar, x, name=None):
    """scalar * x, ``scalar`` a 0-d tensor or a number (TF's error otherwise)."""
    with _scope(name, "scalar_mul"):
        x = convert_to_tensor(x)
        scalar = convert_to_tensor(scalar, dtype=x.dtype)
        if scalar.shape.ndims != 0:
            raise ValueError(f"Only scalar multiply works, got shape {scalar.shape}")
        return math_ops.multiply(scalar, x)


def shape_n(input, out_type="int32", name=None):  # noqa: A002 (TF's name)
    """The shapes of a list of tensors, one int32 (or int64) vector each."""
    with _scope(name, "ShapeN"):
        return [array_ops.shape(convert_to_tensor(t), out_type=out_type) for t in input]


def _iota(n):
    return array_ops.range(0, n)


def _row(v):
    return array_ops.expand_dims(v, 0)


def _column(v):
    return array_ops.expand_dims(v, 1)


def _dim(x, axis):
    static = x.shape[axis].value
    return static if static is not None else array_ops.shape(x)[axis]


def _identity_mask(rows, cols):
    """[rows, cols] bool, True on the main diagonal."""
    return math_ops.equal(
        array_ops.expand_dims(_iota(rows), 1), array_ops.expand_dims(_iota(cols), 0)
    )


def matrix_diag(diagonal, name="MatrixDiag", **unsupported):
    """[..., n] -> [..., n, n] with ``diagonal`` on the main diagonal and zeros elsewhere."""
    _refuse_v2_arguments("matrix_diag", unsupported)
    with _scope(name, "MatrixDiag"):
        d = convert_to_tensor(diagonal)
        if d.shape.ndims is not None and d.shape.ndims < 1:
            raise ValueError(f"matrix_diag: diagonal '{d.name}' must be at least 1-D: {d.shape}")
        n = _dim(d, -1)
        column = array_ops.expand_dims(d, -1)  # [..., n, 1]
        zeros = array_ops.zeros_like(column)
        return math_ops.where(_identity_mask(n, n), column, zeros)


def matrix_diag_part(input, name="matrix_diag_part", **unsupported):  # noqa: A002
    """[..., m, n] -> [..., min(m, n)]: the main diagonal of each innermost matrix."""
    _refuse_v2_arguments("matrix_diag_part", unsupported)
    with _scope(name, "matrix_diag_part"):
        x = convert_to_tensor(input)
        if x.shape.ndims is not None and x.shape.ndims < 2:
            raise ValueError(f"matrix_diag_part: input '{x.name}' must be at least 2-D: {x.shape}")
        rows, cols = x.shape[-2].value, x.shape[-1].value
        if rows is None or cols is None:
            raise ValueError(
                f"matrix_diag_part: tgc needs the last two dimensions of '{x.name}' (shape "
                f"{x.shape}) known when the graph is built"
            )
        kept = math_ops.where(_identity_mask(rows, cols), x, array_ops.zeros_like(x))
        # the diagonal has min(rows, cols) entries: sum along the longer axis
        return math_ops.reduce_sum(kept, axis=-1 if rows <= cols else -2)


def _refuse_v2_arguments(op, arguments):
    """TF 2's k / num_rows / num_cols / padding_value / align: off-diagonal bands, not TF1's."""
    given = {k: v for k, v in arguments.items() if v not in (None, 0)}
    if given:
        raise ValueError(
            f"{op}: tgc supports the main diagonal only (TF1's {op}), not {sorted(given)}"
        )


def random_shuffle(value, seed=None, name=None):
    """``value`` with its first dimension randomly permuted; seeded as tgc's random ops (the
    graph seed and ``seed``), a new permutation each run. A first dimension known only at run time
    draws the permutation a known one of that size would; [n, n] comparisons: see the module
    docstring."""
    with _scope(name, "RandomShuffle"):
        value = convert_to_tensor(value)
        if value.shape.ndims == 0:
            return array_ops.identity(value)
        if value.shape.ndims is None:
            raise ValueError(
                f"random_shuffle: tgc needs the rank of '{value.name}' known when the graph is "
                "built"
            )
        n = _dim(value, 0)  # an int, or the size read at run time
        keys = random_ops.random_uniform([n], seed=seed)
        index = _iota(n)
        # before[i, j]: key j sorts before key i (smaller, or equal with a lower index)
        before = math_ops.logical_or(
            math_ops.less(_row(keys), _column(keys)),
            math_ops.logical_and(
                math_ops.equal(_row(keys), _column(keys)),
                math_ops.less(_row(index), _column(index)),
            ),
        )
        position = math_ops.reduce_sum(math_ops.cast(before, "int32"), axis=1)
        # permutation[p]: the i whose position is p
        at = math_ops.cast(math_ops.equal(_row(position), _column(index)), "int32")
        permutation = math_ops.reduce_sum(math_ops.multiply(at, _row(index)), axis=1)
        return array_ops.gather(value, permutation)


# ---- tf.nn. ------------------------------------------------------------------------------------


def _axes_list(axes, what):
    if isinstance(axes, numbers.Integral):
        return [int(axes)]
    return [int(a) for a in axes]


def sufficient_statistics(x, axes, shift=None, keep_dims=None, name=None, keepdims=None):
    """(count, sum(x - shift), sum((x - shift) ** 2), shift) over ``axes``; count is a tensor of
    x's dtype."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    axes = _axes_list(axes, "sufficient_statistics")
    with _scope(name, "sufficient_statistics"):
        x = convert_to_tensor(x)
        sizes = [x.shape[a].value for a in axes]
        if all(s is not None for s in sizes):
            count = 1
            for s in sizes:
                count *= s
            counts = convert_to_tensor(float(count), dtype=x.dtype, name="count")
        else:
            dims = array_ops.gather(array_ops.shape(x), axes)
            counts = math_ops.cast(math_ops.reduce_prod(dims), x.dtype, name="count")
        if shift is not None:
            shift = convert_to_tensor(shift, dtype=x.dtype)
            m_ss = math_ops.subtract(x, shift)
            v_ss = math_ops.squared_difference(x, shift)
        else:
            m_ss, v_ss = x, math_ops.square(x)
        m_ss = math_ops.reduce_sum(m_ss, axis=axes, keepdims=keep, name="mean_ss")
        v_ss = math_ops.reduce_sum(v_ss, axis=axes, keepdims=keep, name="var_ss")
    return counts, m_ss, v_ss, shift


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """(mean, variance) from sufficient_statistics' sums: mean_ss / count + shift and
    variance_ss / count - (mean_ss / count) ** 2."""
    with _scope(name, "normalize"):
        divisor = math_ops.reciprocal(convert_to_tensor(counts), name="divisor")
        shifted_mean = math_ops.multiply(mean_ss, divisor, name="shifted_mean")
        mean = shifted_mean if shift is None else math_ops.add(shifted_mean, shift, name="mean")
        variance = math_ops.subtract(
            math_ops.multiply(variance_ss, divisor),
            math_ops.square(shifted_mean),
            name="variance",
        )
        return mean, variance


def weighted_moments(x, axes, frequency_weights, name=None, keep_dims=None, keepdims=None):
    """The frequency-weighted mean and variance over ``axes`` (weights broadcast against x)."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    axes = _axes_list(axes, "weighted_moments")
    with _scope(name, "weighted_moments"):
        x = convert_to_tensor(x)
        needs_cast = x.dtype.name == "float16"
        if needs_cast:
            x = math_ops.cast(x, "float32")
        weights = convert_to_tensor(frequency_weights)
        if weights.dtype != x.dtype:
            weights = math_ops.cast(weights, x.dtype)
        weighted_sum = math_ops.reduce_sum(math_ops.multiply(weights, x), axis=axes, keepdims=True)
        broadcast_weights = math_ops.add(weights, array_ops.zeros_like(x))
        divisor = math_ops.reciprocal(
            math_ops.reduce_sum(broadcast_weights, axis=axes, keepdims=True)
        )
        mean = math_ops.multiply(weighted_sum, divisor)
        distsq = math_ops.reduce_sum(
            math_ops.multiply(weights, math_ops.squared_difference(x, mean)),
            axis=axes,
            keepdims=True,
        )
        variance = math_ops.multiply(distsq, divisor)
        if not keep:
            mean = array_ops.squeeze(mean, axis=axes)
            variance = array_ops.squeeze(variance, axis=axes)
        if needs_cast:
            mean, variance = math_ops.cast(mean, "float16"), math_ops.cast(variance, "float16")
        return mean, variance


def zero_fraction(value, name=None):
    """The fraction of zeros in ``value``, a float32 scalar."""
    with _scope(name, "zero_fraction"):
        value = convert_to_tensor(value)
        zero = convert_to_tensor(0, dtype=value.dtype)
        return math_ops.reduce_mean(math_ops.cast(math_ops.equal(value, zero), "float32"))
