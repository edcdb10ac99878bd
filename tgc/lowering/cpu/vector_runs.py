"""Copies and accumulating adds of contiguous runs of a tensor's innermost dim, as explicit vector
transfers in scf.for loops (on tensors, before bufferization); conv_direct.py and pool_vector.py
build their loops and vectors with it too.

tgc-conv-gemm's im2col gather and col2im slice adds move data in runs: a window row's KW*C
elements, one pixel's C channels. Written as linalg loops, LLVM unrolled the short innermost loop
and left it scalar: each element became a scalar load, add and store (the convnet's col2im
compiled to 800 vaddss and no vaddps), most likely because the buffers come from memref.alloc's
aligned allocation (an inttoptr of malloc's result plus an offset), so it cannot tell that a store
into one does not change the next load from the other. A ``vector.transfer_read`` and
``vector.transfer_write`` of the whole run need no such proof: convert-vector-to-llvm makes them
vector loads and stores. Runs longer than MAX_VECTOR are split into MAX_VECTOR-element pieces (a
loop) and their remainder, so that no vector outgrows the register file.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, scf, vector

from tgc.lowering.to_core.common import const_index, element_type, scalar_const, shape_of

MAX_VECTOR = 256  # elements per transfer at most (sixteen 512-bit registers of f32)
# The attribute tgc-parallel-loops (parallel_loops.py) outlines a loop for.
PARALLEL_FOR = "tgc.parallel_for"


def loop_nests(bounds: list, inits: list, body, parallel: bool = False) -> list:
    """scf.for loops over ``bounds`` (index values, outermost first) carrying the values ``inits``
    (tensors, vectors); ``body(induction variables, carried values)`` returns the next ones.
    ``parallel``: the outermost loop's iterations write disjoint parts of the carried tensors (the
    batch's images), so tgc-parallel-loops may run them on several threads."""

    def build(level, ivs, carried):
        if level == len(bounds):
            return body(ivs, carried)
        loop = scf.ForOp(const_index(0), bounds[level], const_index(1), list(carried))
        if parallel and level == 0:
            loop.attributes[PARALLEL_FOR] = ir.UnitAttr.get()
        with ir.InsertionPoint(loop.body):
            inner = build(level + 1, ivs + [loop.induction_variable], list(loop.inner_iter_args))
            scf.YieldOp(inner)
        return list(loop.results)

    return build(0, [], inits)


def loop_nest(bounds: list, init: ir.Value, body, parallel: bool = False) -> ir.Value:
    """``loop_nests`` carrying the one tensor ``init``; ``body(ivs, carried)`` returns the next."""
    return loop_nests(bounds, [init], lambda ivs, carried: [body(ivs, carried[0])], parallel)[0]


def index_sum(*terms) -> ir.Value:
    """The index value sum of ``terms``: ints, index values, or (value, int factor) pairs."""
    total = None
    for term in terms:
        if isinstance(term, int) and term == 0:
            continue
        if isinstance(term, tuple):
            value, factor = term
            term = value if factor == 1 else arith.muli(value, const_index(factor))
        elif isinstance(term, int):
            term = const_index(term)
        total = term if total is None else arith.addi(total, term)
    return total if total is not None else const_index(0)


def _innermost_map(rank: int) -> ir.AffineMapAttr:
    return ir.AffineMapAttr.get(ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(rank - 1)]))


def read_run(source: ir.Value, indices: list, length: int) -> ir.Value:
    """source[indices...] over ``length`` elements of the innermost dim, as a vector."""
    elem = element_type(source)
    return vector.transfer_read(
        ir.VectorType.get([length], elem),
        source,
        indices,
        _innermost_map(len(shape_of(source))),
        scalar_const(0.0, elem),
        [True],
    )


def write_run(value: ir.Value, dest: ir.Value, indices: list) -> ir.Value:
    """dest with the vector ``value`` written at indices... along the innermost dim."""
    rank = len(shape_of(dest))
    return vector.TransferWriteOp(
        dest.type, value, dest, indices, _innermost_map(rank), [True]
    ).result


def _pieces(length: int):
    """(number of full MAX_VECTOR pieces, remainder) of a run."""
    return divmod(length, MAX_VECTOR) if length > MAX_VECTOR else (0, length)


def _move(source, source_at, dest, dest_at, length, accumulate) -> ir.Value:
    """dest[dest_at...] (+)= source[source_at...] over ``length`` elements of the innermost dim; the
    ``*_at`` are index lists whose last entry is the run's first element."""

    def piece(dest, offset, size):
        s_at = source_at[:-1] + [index_sum(source_at[-1], offset)]
        d_at = dest_at[:-1] + [index_sum(dest_at[-1], offset)]
        value = read_run(source, s_at, size)
        if accumulate:
            value = arith.addf(read_run(dest, d_at, size), value)
        return write_run(value, dest, d_at)

    full, rest = _pieces(length)
    if full:
        dest = loop_nest(
            [const_index(full)],
            dest,
            lambda ivs, d: piece(d, (ivs[0], MAX_VECTOR), MAX_VECTOR),
        )
    if rest:
        dest = piece(dest, full * MAX_VECTOR, rest)
    return dest


def copy_run(source, source_at, dest, dest_at, length) -> ir.Value:
    """dest with ``length`` elements of source's innermost dim from ``source_at`` written at
    ``dest_at``."""
    return _move(source, source_at, dest, dest_at, length, accumulate=False)


def add_run(source, source_at, dest, dest_at, length) -> ir.Value:
    """dest with ``length`` elements of source's innermost dim from ``source_at`` added into it at
    ``dest_at``."""
    return _move(source, source_at, dest, dest_at, length, accumulate=True)
