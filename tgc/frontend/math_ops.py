"""`tgc.math` and the arithmetic of the TF1 API: elementwise math, comparisons, matmul, reductions.

Each function is a thin wrapper over ``make_op``; Python numbers next to a tensor take its dtype, as
in TensorFlow. The Tensor operator overloads (``+ - * / ** @``, comparisons) are installed here.
uint8 operands go to tgc/frontend/uint8_math.py, which computes on them as TF does (or refuses the
ops TF has no uint8 kernel for).
"""

from __future__ import annotations

import numpy as _np

from tgc.dialect.types import as_dtype
from tgc.frontend import uint8_math as _u8
from tgc.frontend.build import check_op, constant, convert_to_tensor, make_op
from tgc.frontend.gradients import keep_gathered_rows
from tgc.graph.graph import Tensor


def _pair(x, y):
    """Tensors for a binary op: a non-tensor side takes the other side's dtype."""
    tx = isinstance(x, Tensor) or hasattr(x, "_as_graph_element")
    ty = isinstance(y, Tensor) or hasattr(y, "_as_graph_element")
    if tx and not ty:
        x = convert_to_tensor(x)
        return x, convert_to_tensor(y, dtype=_python_operand_dtype(y, x.dtype))
    if ty and not tx:
        y = convert_to_tensor(y)
        return convert_to_tensor(x, dtype=_python_operand_dtype(x, y.dtype)), y
    return convert_to_tensor(x), convert_to_tensor(y)


def _python_operand_dtype(value, dtype):
    return dtype


def _binary(opname):
    def fn(x, y, name=None):
        a, b = _pair(x, y)
        if _u8.is_uint8(a):
            return _u8.binary(opname, a, b, name=name)
        return make_op(opname, [a, b], name=name)

    fn.__name__ = opname
    return fn


def _unary(opname):
    def fn(x, name=None):
        x = convert_to_tensor(x)
        if _u8.is_uint8(x):
            if opname == "square":
                return _u8.square(x, name=name)
            if opname == "round":  # TF's tf.round returns an integer tensor itself
                return x
            _u8.refuse(f"tf.{opname}", x)
        return make_op(opname, [x], name=name)

    fn.__name__ = opname
    return fn


add = _binary("add")
subtract = _binary("subtract")
multiply = _binary("multiply")
maximum = _binary("maximum")
minimum = _binary("minimum")
pow = _binary("pow")  # noqa: A001 (TF's name)
equal = _binary("equal")
not_equal = _binary("not_equal")
less = _binary("less")
less_equal = _binary("less_equal")
greater = _binary("greater")
greater_equal = _binary("greater_equal")
logical_and = _binary("logical_and")
logical_or = _binary("logical_or")
sub = subtract
mul = multiply

negative = _unary("negative")
neg = negative
abs = _unary("abs")  # noqa: A001
sign = _unary("sign")
square = _unary("square")
sqrt = _unary("sqrt")
rsqrt = _unary("rsqrt")
exp = _unary("exp")
log = _unary("log")
floor = _unary("floor")
sigmoid = _unary("sigmoid")
tanh = _unary("tanh")
logical_not = _unary("logical_not")
sin = _unary("sin")
cos = _unary("cos")
tan = _unary("tan")
atan = _unary("atan")
sinh = _unary("sinh")
cosh = _unary("cosh")
log1p = _unary("log1p")
expm1 = _unary("expm1")
erf = _unary("erf")
ceil = _unary("ceil")
round = _unary("round")  # noqa: A001 (TF's name)


# The float type `tf.divide` (TF's truediv) divides integers in: float32 for 8 and 16 bits.
_TRUEDIV_FLOAT = {"int8": "float32", "uint8": "float32", "int16": "float32"}


def divide(x, y, name=None):
    """x / y; integer tensors are divided as floats, as `tf.divide` does (int8, uint8 and int16 as
    float32, int32 and int64 as float64)."""
    a, b = _pair(x, y)
    if a.dtype.is_integer:
        as_float = _TRUEDIV_FLOAT.get(a.dtype.name, "float64")
        a, b = cast(a, as_float), cast(b, as_float)
    return make_op("divide", [a, b], name=name or "truediv")


truediv = divide


def div(x, y, name=None):
    """TF1's `tf.div`: floor division for integers, true division for floats."""
    a, b = _pair(x, y)
    if _u8.is_uint8(a):
        return _u8.binary("divide", a, b, name=name or "div")
    return make_op("divide", [a, b], name=name or "div")


def floordiv(x, y, name=None):
    a, b = _pair(x, y)
    if _u8.is_uint8(a):
        return _u8.binary("divide", a, b, name=name or "floordiv")
    if a.dtype.is_integer:
        return make_op("divide", [a, b], name=name or "floordiv")
    return floor(make_op("divide", [a, b]), name=name)


floor_div = floordiv


def floormod(x, y, name=None):
    """x - floor(x / y) * y: the remainder takes y's sign, as Python's % and `tf.floormod`. Its ops
    sit in the scope of its name, so that an integer division by zero names it ("FloorMod/...")."""
    a, b = _pair(x, y)
    if _u8.is_uint8(a):
        return _u8.by_value(floormod, a, b, name or "FloorMod")
    with a.graph.name_scope(name or "FloorMod") as scope:
        return subtract(a, multiply(floordiv(a, b), b), name=scope)


mod = floormod


def squared_difference(x, y, name=None):
    a, b = _pair(x, y)
    if _u8.is_uint8(a):
        _u8.refuse("tf.squared_difference", a)
    return square(subtract(a, b), name=name)


def reciprocal(x, name=None):
    x = convert_to_tensor(x)
    if _u8.is_uint8(x):
        _u8.refuse("tf.reciprocal", x)
    return divide(constant(1, dtype=x.dtype), x, name=name)


def cast(x, dtype, name=None):
    x = convert_to_tensor(x)
    dtype = as_dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.dtype.name == "uint8":
        return _u8.cast_from_uint8(x, dtype, name or "Cast")
    if dtype.name == "uint8":
        return _u8.narrow(x, name or "Cast")
    return make_op("cast", [x], name=name or "Cast", dtype=dtype.name)


def bitcast(input, type, name=None):
    """`tf.bitcast`: the same bits read as ``type``, which must have the input's width."""
    x = convert_to_tensor(input)
    return make_op("bitcast", [x], name=name or "Bitcast", dtype=as_dtype(type).name)


def to_float(x, name=None):
    return cast(x, "float32", name=name)


def to_int32(x, name=None):
    return cast(x, "int32", name=name)


def to_int64(x, name=None):
    return cast(x, "int64", name=name)


def identity(x, name=None):
    return make_op("identity", [convert_to_tensor(x)], name=name)


def stop_gradient(x, name=None):
    return make_op("stop_gradient", [convert_to_tensor(x)], name=name)


def where(condition, x=None, y=None, name=None):
    """TF1's `tf.where(condition, x, y)` (the Select kernel): elementwise, except that a vector
    condition beside a higher-rank x picks whole rows (x's first axis), as TF1 programs use it to
    choose examples. Other shapes broadcast as numpy's (where_v2's rule)."""
    if x is None or y is None:
        raise ValueError("tgc.where needs both x and y: index-returning where has no static shape")
    a, b = _pair(x, y)
    condition = convert_to_tensor(condition)
    widest = a if len(a.spec.shape or ()) >= len(b.spec.shape or ()) else b
    if condition.spec.rank == 1 and widest.spec.rank is not None and widest.spec.rank > 1:
        return _select_rows(condition, a, b, widest, name or "Select")
    return make_op("select", [condition, a, b], name=name or "Select")


def where_v2(condition, x, y, name=None):
    """TF2's `tf.where` (`tf.where_v2`, the SelectV2 kernel): condition, x and y broadcast as
    numpy's, a vector condition going along x's last axis."""
    a, b = _pair(x, y)
    return make_op("select", [convert_to_tensor(condition), a, b], name=name or "SelectV2")


def _select_rows(condition, x, y, widest, name):
    """Select's rows form: condition[i] picks x[i] or y[i] whole. Its length must be x's first
    dim: checked now where both are known (TF's shape error), else at run time in the kernel's
    words (a [1] condition must not broadcast over the rows)."""
    count, rows = condition.spec.shape[0], widest.spec.shape[0]
    checks = []
    if count is not None and rows is not None:
        if count != rows:
            inputs = ", ".join(_shape_text(t) for t in (condition, x, y))
            raise ValueError(
                f"Dimension 0 in both shapes must be equal, but are {count} and {rows}. Shapes "
                f"are [{count}] and [{rows}]. for '{name}' (op: 'Select') with input shapes: "
                f"{inputs}."
            )
    else:
        count_now, rows_now = _first_dim(condition), _first_dim(widest)
        message = "Number of batches of 'then' must match size of 'cond', but saw: {0} vs. {1}"
        checks.append(check_op(equal(count_now, rows_now), message, [rows_now, count_now]))
    per_row = make_op("reshape", [condition], shape=[-1] + [1] * (widest.spec.rank - 1))
    with condition.graph.control_dependencies(checks):
        return make_op("select", [per_row, x, y], name=name)


def _first_dim(t):
    """t's first dim read at run time (an int32 scalar)."""
    dims = make_op("shape", [t], out_type="int32")
    return make_op("gather", [dims, constant(0, dtype="int32")])


def _shape_text(t) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in t.spec.shape) + "]"


select = where


def matmul(
    a,
    b,
    transpose_a=False,
    transpose_b=False,
    adjoint_a=False,
    adjoint_b=False,
    name=None,
    **_ignored,
):
    """`tf.matmul`: rank-2 operands are one MatMul; higher ranks are matrices over leading batch
    dims that broadcast (TF's BatchMatMulV2). ``adjoint_*`` is ``transpose_*`` (no complex)."""
    a, b = _pair(a, b)
    batched = len(a.shape) > 2 or len(b.shape) > 2
    return make_op(
        "batch_matmul" if batched else "matmul",
        [a, b],
        name=name,
        transpose_a=bool(transpose_a or adjoint_a),
        transpose_b=bool(transpose_b or adjoint_b),
    )


def add_n(inputs, name=None):
    inputs = list(inputs)
    if not inputs:
        raise ValueError("add_n needs at least one input")
    total = convert_to_tensor(inputs[0])
    plus = add if _u8.is_uint8(total) else lambda a, b, name: make_op("add", [a, b], name=name)
    for i, t in enumerate(inputs[1:]):
        total = plus(total, convert_to_tensor(t), name=name if i == len(inputs) - 2 else None)
    return total if len(inputs) > 1 else identity(total, name=name)


def _axes(x, axis):
    if axis is None:
        rank = x.spec.rank
        if rank is None:
            raise ValueError(
                f"reducing '{x.name}' of unknown rank over all axes with keepdims=True needs a "
                "known rank (the kept axes are one per dim); give its placeholder a shape"
            )
        return list(range(rank))
    if isinstance(axis, Tensor):
        raise TypeError("reduction axes must be Python ints, not tensors")
    return [int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis])]


def _flat_if_unknown_rank(x, axis, keep):
    """(x, axis) for a reduction over every axis of an x whose rank is known only at run time
    (`tf.reduce_sum(tf.placeholder("float"))`): x flattened, reduced along its one axis. The
    scalar result is TF's (shape ()); the gradient flows back through the reshape."""
    if axis is not None or keep or x.spec.rank is not None:
        return x, axis
    flat = make_op("reshape", [x], shape=[-1])
    return flat, 0


def _reduction(opname, tf_name):
    def fn(
        input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None
    ):
        x = convert_to_tensor(input_tensor)
        axis = axis if axis is not None else reduction_indices
        keep = bool(keepdims if keepdims is not None else (keep_dims or False))
        x, axis = _flat_if_unknown_rank(x, axis, keep)
        if _u8.is_uint8(x):
            return _u8.reduction(opname, x, name or tf_name, axes=_axes(x, axis), keepdims=keep)
        return make_op(opname, [x], name=name or tf_name, axes=_axes(x, axis), keepdims=keep)

    fn.__name__ = opname
    return fn


reduce_sum = _reduction("reduce_sum", "Sum")
reduce_mean = _reduction("reduce_mean", "Mean")
reduce_max = _reduction("reduce_max", "Max")
reduce_min = _reduction("reduce_min", "Min")
reduce_prod = _reduction("reduce_prod", "Prod")


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    x = cast(convert_to_tensor(input_tensor), "int32")
    return cast(reduce_min(x, axis=axis, keepdims=keepdims), "bool", name=name)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    # a comparison, not a cast: the max over no elements is the int minimum, and any of none is
    # False
    x = cast(convert_to_tensor(input_tensor), "int32")
    return greater(reduce_max(x, axis=axis, keepdims=keepdims), 0, name=name)


def _arg(opname):
    def fn(input, axis=None, name=None, dimension=None, output_type="int64"):
        x = convert_to_tensor(input)
        axis = axis if axis is not None else (dimension if dimension is not None else 0)
        attrs = {"axis": int(axis), "output_type": as_dtype(output_type).name}
        if _u8.is_uint8(x):
            return _u8.arg_reduction(opname, x, name, **attrs)
        return make_op(opname, [x], name=name, **attrs)

    fn.__name__ = opname
    return fn


argmax = _arg("argmax")
argmin = _arg("argmin")
# TF1's older names (they take the axis as ``dimension`` too).
arg_max = argmax
arg_min = argmin


# ---- matrices ------------------------------------------------------------------------------------


def diag(diagonal, name=None):
    """`tf.diag`: a tensor of rank 2k with ``diagonal`` (rank k, 1 to 3) on its diagonal."""
    return make_op("diag", [convert_to_tensor(diagonal)], name=name or "Diag")


def diag_part(input, name=None):
    """`tf.diag_part`: the diagonal ``x[i..., i...]`` of a tensor of rank 2k."""
    return make_op("diag_part", [convert_to_tensor(input)], name=name or "DiagPart")


def matrix_determinant(input, name=None):
    """`tf.matrix_determinant` of square matrices ``[..., n, n]`` (float32 or float64)."""
    return make_op(
        "matrix_determinant", [convert_to_tensor(input)], name=name or "MatrixDeterminant"
    )


def matrix_inverse(input, adjoint=False, name=None):
    """`tf.matrix_inverse` of square matrices ``[..., n, n]``; ``adjoint``: of their transposes."""
    x = convert_to_tensor(input)
    if adjoint:
        if x.spec.rank is None or x.spec.rank < 2:
            raise ValueError(
                f"matrix_inverse with adjoint=True needs matrices [..., n, n] of known rank but "
                f"'{x.name}' has shape {x.shape}"
            )
        rank = x.spec.rank
        x = make_op("transpose", [x], perm=list(range(rank - 2)) + [rank - 1, rank - 2])
    return make_op("matrix_inverse", [x], name=name or "MatrixInverse")


# ---- clipping (TF 1.15's formulas, so the numbers and gradients match) ---------------------------


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """t with every element clipped to [clip_value_min, clip_value_max] (min first, then max, as
    TF)."""
    t = convert_to_tensor(t)
    return maximum(minimum(t, clip_value_max), clip_value_min, name=name or "clip_by_value")


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t * clip_norm / max(l2norm(t, axes), clip_norm); a zero-norm slice is left as is."""
    t = convert_to_tensor(t)
    l2sum = reduce_sum(t * t, axes, keepdims=True)
    positive = greater(l2sum, 0.0)
    # sqrt of 0 has an infinite gradient; TF takes it of 1 where the sum is 0 and selects it away.
    l2norm = where(positive, sqrt(where(positive, l2sum, _ones_like(l2sum))), l2sum)
    clipped = identity(t * clip_norm / maximum(l2norm, clip_norm), name=name or "clip_by_norm")
    return keep_gathered_rows(t, clipped)


def _ones_like(x):
    return make_op("fill_like", [x], value=1.0)


def _zeros_like(x):
    return make_op("fill_like", [x], value=0.0)


def global_norm(t_list, name=None):
    """sqrt(sum of every tensor's squared elements); None entries are skipped."""
    tensors = [convert_to_tensor(t) for t in t_list if t is not None]
    if not tensors:
        raise ValueError("global_norm needs at least one tensor that is not None")
    half_squared = add_n([make_op("l2_loss", [t]) for t in tensors])
    return sqrt(half_squared * 2.0, name=name or "global_norm")


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """(tensors scaled by clip_norm / max(global_norm, clip_norm), the global norm), None kept as
    None."""
    if isinstance(t_list, Tensor) or not hasattr(t_list, "__iter__"):
        raise TypeError("clip_by_global_norm expects a list of tensors")
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else convert_to_tensor(use_norm)
    clip = convert_to_tensor(clip_norm, dtype=norm.dtype)
    scale = clip * minimum(1.0 / norm, 1.0 / clip)
    clipped = [
        None
        if t is None
        else keep_gathered_rows(
            t,
            identity(
                convert_to_tensor(t) * cast(scale, convert_to_tensor(t).dtype),
                name=name and f"{name}_{i}",
            ),
        )
        for i, t in enumerate(t_list)
    ]
    return clipped, norm


# ---- more of TF1's math built from the ops above -------------------------------------------------


def reduce_logsumexp(
    input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None
):
    """log(sum(exp(x))) computed as TF does, around the (gradient-stopped) max for stability."""
    x = convert_to_tensor(input_tensor)
    axis = axis if axis is not None else reduction_indices
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    x, axis = _flat_if_unknown_rank(x, axis, keep)
    top = stop_gradient(reduce_max(x, axis, keepdims=True))
    # An infinite max would make x - top NaN; TF replaces it by 0 there.
    top = where(equal(abs(top), float("inf")), _zeros_like(top), top)
    out = log(reduce_sum(exp(x - top), axis, keepdims=True)) + top
    if keep:
        return identity(out, name=name or "ReduceLogSumExp")
    return make_op("squeeze", [out], name=name or "ReduceLogSumExp", axes=_axes(x, axis))


def to_double(x, name=None):
    return cast(x, "float64", name=name)


def count_nonzero(
    input_tensor,
    axis=None,
    keepdims=None,
    dtype="int64",
    name=None,
    reduction_indices=None,
    keep_dims=None,
):
    """The number of non-zero elements along the axes, in ``dtype`` (int64 by default, as TF)."""
    x = convert_to_tensor(input_tensor)
    axis = axis if axis is not None else reduction_indices
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    nonzero = cast(not_equal(x, constant(0, dtype=x.dtype)), "int64")
    return cast(reduce_sum(nonzero, axis, keepdims=keep), dtype, name=name)


# ---- tf.cond (compiled: tgc/frontend/control.py) ---------------------------------------------


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """`tf.cond`, which runs only the taken branch (tgc/frontend/control.py)."""
    from tgc.frontend.control import cond as compiled_cond

    return compiled_cond(pred, true_fn, false_fn, strict=strict, name=name, fn1=fn1, fn2=fn2)


# ---- operator overloads --------------------------------------------------------------------------


def _install_operators():
    # TF1 names an operator's op after the operator ("add", "mul", "truediv"), not after its type
    # ("AddV2"): programs fetch them by those names (get_tensor_by_name("layer/add:0")).
    def binary(fn, key, reverse=False):
        if reverse:
            return lambda self, other: fn(other, self, name=key)
        return lambda self, other: fn(self, other, name=key)

    table = {
        "add": add,
        "sub": subtract,
        "mul": multiply,
        "truediv": divide,
        "floordiv": floordiv,
        "pow": pow,
        "matmul": matmul,
        "and": logical_and,
        "or": logical_or,
        "mod": floormod,
    }
    for key, fn in table.items():
        setattr(Tensor, f"__{key}__", binary(fn, key))
        setattr(Tensor, f"__r{key}__", binary(fn, key, reverse=True))
    Tensor.__div__ = Tensor.__truediv__
    Tensor.__lt__ = lambda self, other: less(self, other)
    Tensor.__le__ = lambda self, other: less_equal(self, other)
    Tensor.__gt__ = lambda self, other: greater(self, other)
    Tensor.__ge__ = lambda self, other: greater_equal(self, other)
    Tensor.__neg__ = lambda self: negative(self)
    Tensor.__abs__ = lambda self: abs(self)
    Tensor.__invert__ = lambda self: logical_not(self)


_install_operators()


def div_no_nan(x, y, name=None):
    """`tf.div_no_nan`: x / y, and 0 where y is 0 (the divisor is made safe first, so the gradient
    has no NaN either)."""
    a, b = _pair(x, y)
    zero = equal(b, constant(0, dtype=b.dtype))
    safe = where(zero, make_op("fill_like", [b], value=1.0), b)
    quotient = divide(a, safe)
    return where(
        zero, make_op("fill_like", [quotient], value=0.0), quotient, name=name or "div_no_nan"
    )


def truncatediv(x, y, name=None):
    """`tf.truncatediv`: x / y rounded towards zero (C's division: -7 / 5 = -1). Integers: floor
    division, moved up by one where the remainder is non-zero and the signs differ; floats: the
    quotient truncated. Not differentiable, as TF's TruncateDiv."""
    a, b = _pair(x, y)
    if _u8.is_uint8(a):  # unsigned: truncating is flooring
        return floordiv(a, b, name=name or "TruncateDiv")
    if not a.dtype.is_integer:
        q = stop_gradient(divide(a, b))
        return where(
            less(q, constant(0, dtype=q.dtype)), ceil(q), floor(q), name=name or "TruncateDiv"
        )
    with a.graph.name_scope(name or "TruncateDiv") as scope:
        quotient = floordiv(a, b)
        remainder = subtract(a, multiply(quotient, b))
        zero = constant(0, dtype=a.dtype)
        inexact = logical_and(not_equal(remainder, zero), not_equal(less(a, zero), less(b, zero)))
        return add(quotient, cast(inexact, a.dtype), name=scope)


def truncatemod(x, y, name=None):
    """`tf.truncatemod`: the remainder of truncatediv, with x's sign (C's fmod)."""
    a, b = _pair(x, y)
    if _u8.is_uint8(a):
        _u8.refuse("tf.truncatemod", a)
    with a.graph.name_scope(name or "TruncateMod") as scope:
        return subtract(a, multiply(truncatediv(a, b), b), name=scope)


def tensordot(a, b, axes, name=None):
    """`tf.tensordot`: sums the products of a's and b's elements over the given axes (an int N:
    a's last N with b's first N; or a pair of axis lists), as one matmul between transposed,
    reshaped operands. The contracted dims must be known when the graph is built; a's free dims
    may hold one unknown dim, b's none."""
    from tgc.graph.graph import get_default_graph

    def reshape(x, shape, name=None):
        return make_op("reshape", [x], name=name, shape=shape)

    def transpose(x, perm):
        return make_op("transpose", [x], perm=perm)

    with get_default_graph().name_scope(name or "Tensordot") as scope:
        a, b = convert_to_tensor(a), convert_to_tensor(b)
        a_axes, b_axes = _tensordot_axes(a, b, axes)
        a_shape, b_shape = a.shape.as_list(), b.shape.as_list()
        for i, j in zip(a_axes, b_axes):
            if a_shape[i] is None or b_shape[j] is None or a_shape[i] != b_shape[j]:
                raise ValueError(
                    f"tensordot: dim {i} of '{a.name}' {a.shape} and dim {j} of '{b.name}' "
                    f"{b.shape} are contracted, so they must be known and equal"
                )
        a_free = [i for i in range(len(a_shape)) if i not in a_axes]
        b_free = [j for j in range(len(b_shape)) if j not in b_axes]
        if any(b_shape[j] is None for j in b_free) or sum(a_shape[i] is None for i in a_free) > 1:
            raise ValueError(
                f"tensordot: '{b.name}' {b.shape} must have known free dims and '{a.name}' "
                f"{a.shape} at most one unknown"
            )
        inner = int(_np.prod([a_shape[i] for i in a_axes], dtype=_np.int64))
        a_matrix = reshape(transpose(a, a_free + a_axes), [-1, inner])
        b_matrix = reshape(transpose(b, b_axes + b_free), [inner, -1])
        product = matmul(a_matrix, b_matrix)
        shape = [-1 if a_shape[i] is None else a_shape[i] for i in a_free]
        shape += [b_shape[j] for j in b_free]
        if product.shape.as_list() == shape:  # TF returns the product itself then
            return product
        return reshape(product, shape, name=scope)


def _tensordot_axes(a, b, axes):
    a_rank, b_rank = a.shape.ndims, b.shape.ndims
    if a_rank is None or b_rank is None:
        raise ValueError(f"tensordot needs operands of known rank: {a.shape} and {b.shape}")
    if isinstance(axes, Tensor):
        axes = _np.asarray(axes.op.attrs["value"]) if axes.op.opdef == "constant" else None
        if axes is None:
            raise ValueError("tensordot: axes must be known when the graph is built")
        axes = axes.tolist()
    if isinstance(axes, (int, _np.integer)) or getattr(axes, "ndim", None) == 0:
        n = int(axes)
        if not 0 <= n <= min(a_rank, b_rank):
            raise ValueError(f"tensordot: axes={n} must be in [0, {min(a_rank, b_rank)}]")
        return list(range(a_rank - n, a_rank)), list(range(n))
    if len(axes) != 2:
        raise ValueError(f"tensordot: axes must be an int or a pair of lists but got {axes!r}")
    a_axes, b_axes = (
        [int(v)] if isinstance(v, (int, _np.integer)) else [int(w) for w in v] for v in axes
    )
    if len(a_axes) != len(b_axes):
        raise ValueError(
            f"tensordot: different number of contraction axes for a and b: {a_axes} and {b_axes}"
        )
    return [i % a_rank for i in a_axes], [j % b_rank for j in b_axes]


# ---- tf.is_nan/is_inf/is_finite, tf.cumsum/cumprod, tf.math.top_k/in_top_k (composed ops) -------
from tgc.frontend.math_ops_more import *  # noqa: E402,F401,F403
from tgc.frontend.math_ops_more import in_top_k, top_k  # noqa: E402,F401
