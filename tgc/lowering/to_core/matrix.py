"""tgc -> core for the matrix ops of tgc/dialect/ops/matrix.py.

``diag`` and ``diag_part`` are one linalg.generic each: diag's input map reads ``x[i...]`` over the
result's (i..., j...) and the body keeps it where i == j; diag_part reads ``x[i..., i...]`` through
a map that repeats its dims.

``matrix_determinant`` and ``matrix_inverse`` of a batch ``[..., n, n]`` reshape it to ``[b, n, n]``
and loop over the b matrices (extract_slice, the matrix's rule, insert), reshaping the results back.
For one matrix they are Gaussian elimination with partial pivoting, as
nested scf.for loops over the matrix carried as a tensor (tensor.extract/insert; bufferization
makes the inserts in place): for each column k, the row at or below k with the largest |a[r, k]|
is swapped into row k. The determinant multiplies the pivots (negated per swap) and eliminates
below the pivot (a zero pivot: the column is already zero below it, the determinant 0). The inverse
is Gauss-Jordan: the pivot row is scaled to 1 and eliminated from every other row, the same steps
applied to an identity matrix carried alongside, which ends as the inverse.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, linalg, math, scf, tensor

from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL,
    affine_map,
    const_index,
    dim,
    dim_key,
    element_type,
    empty,
    fail_out_of_range,
    generic,
    identity_map,
    scalar_const,
    shape_of,
)

# ---- diag and diag_part --------------------------------------------------------------------------


@lowers("diag")
def _diag(op):
    (x,) = op.operands
    rank = len(shape_of(x))
    out_shape = shape_of(op.result_type)
    init = empty(
        op.result_type, {i: dim(x, i % rank) for i, d in enumerate(out_shape) if d is None}
    )
    zero = scalar_const(0, element_type(x))

    def body(value, _):
        on_diagonal = None
        for j in range(rank):
            same = arith.cmpi(
                arith.CmpIPredicate.eq, linalg.IndexOp(j).result, linalg.IndexOp(rank + j).result
            )
            on_diagonal = same if on_diagonal is None else arith.andi(on_diagonal, same)
        return arith.select(on_diagonal, value, zero)

    maps = [affine_map(2 * rank, list(range(rank))), identity_map(2 * rank)]
    return generic([x], [init], maps, [PARALLEL] * (2 * rank), body)[0]


def _check_diagonal_dims(op, x) -> None:
    """TF's check that x's shape is [d..., d...] where a dim is known at run time only (the graph
    checked the static ones): diag_part reads x[i..., i...] up to the first half's sizes."""
    rank = len(shape_of(x))
    half = rank // 2
    shape = "[" + ",".join(f"{{{i}}}" for i in range(rank)) + "]"
    sizes = [dim(x, i) for i in range(rank)]
    for i in range(half):
        if dim_key(x, i) == dim_key(x, half + i):
            continue  # equal by construction
        differ = arith.cmpi(arith.CmpIPredicate.ne, sizes[i], sizes[half + i])
        message = f"Invalid shape {shape}: dimensions {i} and {half + i} do not match."
        fail_out_of_range(op.operation, differ, message, sizes)


@lowers("diag_part")
def _diag_part(op):
    (x,) = op.operands
    _check_diagonal_dims(op, x)
    half = len(shape_of(x)) // 2
    out_shape = shape_of(op.result_type)
    init = empty(op.result_type, {i: dim(x, i) for i, d in enumerate(out_shape) if d is None})
    maps = [affine_map(half, list(range(half)) * 2), identity_map(half)]
    return generic([x], [init], maps, [PARALLEL] * half, lambda value, _: value)[0]


# ---- loops over a matrix carried as a tensor -----------------------------------------------------


def _for(lower, upper, carried: list, body) -> list:
    """scf.for i in [lower, upper) carrying ``carried``; ``body(i, *carried)`` returns the new
    values."""
    loop = scf.ForOp(lower, upper, const_index(1), carried)
    with ir.InsertionPoint(loop.body):
        scf.YieldOp(list(body(loop.induction_variable, *loop.inner_iter_args)))
    return list(loop.results)


def _get(matrix, row, col):
    return tensor.ExtractOp(matrix, [row, col]).result


def _set(matrix, row, col, value):
    return tensor.InsertOp(value, matrix, [row, col]).result


def _pivot_row(a, k, n):
    """The row r >= k with the largest |a[r, k]| (the first of equals)."""
    start = (k, math.absf(_get(a, k, k)))

    def consider(r, best_row, best_abs):
        candidate = math.absf(_get(a, r, k))
        better = arith.cmpf(arith.CmpFPredicate.OGT, candidate, best_abs)
        return [arith.select(better, r, best_row), arith.select(better, candidate, best_abs)]

    after_k = arith.addi(k, const_index(1))
    return _for(after_k, n, list(start), consider)[0]


def _swap_rows(matrices: list, k, p, n) -> list:
    """Rows k and p exchanged in each matrix (nothing changes when p == k)."""

    def swap_column(c, *ms):
        out = []
        for m in ms:
            row_k, row_p = _get(m, k, c), _get(m, p, c)
            out.append(_set(_set(m, k, c, row_p), p, c, row_k))
        return out

    return _for(const_index(0), n, matrices, swap_column)


def _eliminate(matrices: list, k, rows, n, factor_of) -> list:
    """For each row r in ``rows`` (a (lower, upper) range): row r -= factor_of(r, a) * row k, in
    every matrix (the first is a, the one the factors are read from)."""

    def one_row(r, *ms):
        factor = factor_of(r, ms[0])

        def one_column(c, *ms_inner):
            return [
                _set(m, r, c, arith.subf(_get(m, r, c), arith.mulf(factor, _get(m, k, c))))
                for m in ms_inner
            ]

        return _for(const_index(0), n, list(ms), one_column)

    return _for(rows[0], rows[1], matrices, one_row)


def _identity(like, result_type):
    n = dim(like, 0)
    init = empty(result_type, {i: n for i, d in enumerate(shape_of(result_type)) if d is None})
    elem = element_type(result_type)
    one, zero = scalar_const(1, elem), scalar_const(0, elem)

    def body(_):
        same = arith.cmpi(
            arith.CmpIPredicate.eq, linalg.IndexOp(0).result, linalg.IndexOp(1).result
        )
        return arith.select(same, one, zero)

    return generic([], [init], [identity_map(2)], [PARALLEL] * 2, body)[0]


# ---- batches of matrices -------------------------------------------------------------------------


def _tensor_type(dims, elem):
    return ir.RankedTensorType.get(
        [ir.ShapedType.get_dynamic_size() if d is None else d for d in dims], elem
    )


def _static_or_value(values):
    """(static sizes with dynamic markers, dynamic index values) for tensor slice ops."""
    static, dynamic = [], []
    for v in values:
        if isinstance(v, int):
            static.append(v)
        else:
            static.append(ir.ShapedType.get_dynamic_size())
            dynamic.append(v)
    return static, dynamic


def _batched(a, result_type, one_matrix, scalar_result: bool):
    """``one_matrix`` (an [n, n] tensor -> its result: a scalar, or an [n, n] tensor) over every
    matrix of ``a`` ([..., n, n]), giving ``result_type``."""
    from tgc.lowering.to_core.array import reshape_to

    shape, elem = shape_of(a), element_type(a)
    if len(shape) == 2:
        out = one_matrix(a)
        return tensor.FromElementsOp(result_type, [out]).result if scalar_result else out
    n_static = shape[-1] if shape[-1] is not None else shape[-2]
    n = const_index(n_static) if n_static is not None else dim(a, len(shape) - 1)
    batch_dims = [dim(a, i) for i in range(len(shape) - 2)]
    if n_static == 0:
        return _of_empty_matrices(result_type, one_matrix, scalar_result, batch_dims, elem)
    count = batch_dims[0]
    for d in batch_dims[1:]:
        count = arith.muli(count, d)
    batch_static = None
    if None not in shape[:-2]:
        batch_static = 1
        for d in shape[:-2]:
            batch_static *= d
    stacked = reshape_to(a, _tensor_type([batch_static, n_static, n_static], elem), [count, n, n])
    matrix_type = _tensor_type([n_static, n_static], elem)
    # A static n, 0 too, is part of the slice's type: given as a value, the type would be [?, ?].
    side = n if n_static is None else n_static
    sizes_static, sizes_dynamic = _static_or_value([1, side, side])
    ones = [1, 1, 1]
    if scalar_result:
        init = empty(_tensor_type([batch_static], elem), {0: count})
    else:
        init = empty(_tensor_type([batch_static, n_static, n_static], elem), {0: count, 1: n, 2: n})

    def one(k, results):
        offsets_static, offsets_dynamic = _static_or_value([k, 0, 0])
        matrix = tensor.ExtractSliceOp(
            matrix_type,
            stacked,
            offsets_dynamic,
            sizes_dynamic,
            [],
            offsets_static,
            sizes_static,
            ones,
        ).result
        out = one_matrix(matrix)
        if scalar_result:
            return [tensor.InsertOp(out, results, [k]).result]
        return [
            tensor.InsertSliceOp(
                out,
                results,
                offsets_dynamic,
                sizes_dynamic,
                [],
                offsets_static,
                sizes_static,
                ones,
            ).result
        ]

    (results,) = _for(const_index(0), count, [init], one)
    out_dims = batch_dims if scalar_result else batch_dims + [n, n]
    return reshape_to(results, result_type, out_dims)


def _of_empty_matrices(result_type, one_matrix, scalar_result: bool, batch_dims: list, elem):
    """``_batched`` over [..., 0, 0] matrices: no slice of them is valid IR (an offset into a dim of
    size 0 is out of bounds), and none is needed: each matrix's result is that of one empty
    matrix (a determinant's 1, the empty product), an [n, n] result holds no element."""
    dims = {i: d for i, d in enumerate(batch_dims) if shape_of(result_type)[i] is None}
    out = empty(result_type, dims)
    if not scalar_result:
        return out
    value = one_matrix(empty(_tensor_type([0, 0], elem), {}))
    return linalg.fill(value, outs=[out])


# ---- determinant and inverse ---------------------------------------------------------------------


def _check_square(op, a) -> None:
    """TF's check that a's matrices are square, where a size is known at run time only (the graph
    checked the rest): the lowering reads [n, n] of them."""
    rank = len(shape_of(a))
    if None not in shape_of(a)[-2:]:
        return
    rows, columns = dim(a, rank - 2), dim(a, rank - 1)
    differ = arith.cmpi(arith.CmpIPredicate.ne, rows, columns)
    message = "Input matrix must be square, got a {0}x{1} matrix."
    fail_out_of_range(op.operation, differ, message, [rows, columns])


@lowers("matrix_determinant")
def _matrix_determinant(op):
    (a,) = op.operands
    _check_square(op, a)
    return _batched(a, op.result_type, _determinant, scalar_result=True)


@lowers("matrix_inverse")
def _matrix_inverse(op):
    (a,) = op.operands
    _check_square(op, a)
    if a.type != op.result_type:  # [?, n] -> [n, n]: the op's type knows both sides (a square)
        a = tensor.CastOp(op.result_type, a).result
    return _batched(a, op.result_type, _inverse, scalar_result=False)


def _determinant(a):
    """The determinant of one [n, n] matrix, as a scalar."""
    elem = element_type(a)
    n = dim(a, 0)
    zero = scalar_const(0, elem)

    def column(k, a, det):
        p = _pivot_row(a, k, n)
        (a,) = _swap_rows([a], k, p, n)
        swapped = arith.cmpi(arith.CmpIPredicate.ne, p, k)
        det = arith.select(swapped, arith.negf(det), det)
        pivot = _get(a, k, k)
        det = arith.mulf(det, pivot)
        # A zero pivot leaves zeros below it (it is the largest |value| there): nothing to remove.
        pivot_is_zero = arith.cmpf(arith.CmpFPredicate.OEQ, pivot, zero)

        def factor(r, current):
            return arith.select(pivot_is_zero, zero, arith.divf(_get(current, r, k), pivot))

        (a,) = _eliminate([a], k, (arith.addi(k, const_index(1)), n), n, factor)
        return [a, det]

    return _for(const_index(0), n, [a, scalar_const(1, elem)], column)[1]


def _inverse(a):
    """The inverse of one [n, n] matrix."""
    n = dim(a, 0)
    zero = scalar_const(0, element_type(a))

    def column(k, a, inverse):
        p = _pivot_row(a, k, n)
        a, inverse = _swap_rows([a, inverse], k, p, n)
        pivot = _get(a, k, k)

        def scale(c, a, inverse):
            return [
                _set(a, k, c, arith.divf(_get(a, k, c), pivot)),
                _set(inverse, k, c, arith.divf(_get(inverse, k, c), pivot)),
            ]

        a, inverse = _for(const_index(0), n, [a, inverse], scale)

        def factor(r, current):
            is_pivot_row = arith.cmpi(arith.CmpIPredicate.eq, r, k)
            return arith.select(is_pivot_row, zero, _get(current, r, k))

        return _eliminate([a, inverse], k, (const_index(0), n), n, factor)

    return _for(const_index(0), n, [a, _identity(a, a.type)], column)[1]
