"""max_pool, and max_pool_grad of non-overlapping windows, on the CPU with C-wide vectors.

max_pool (core: ``linalg.pooling_nhwc_max`` on the input padded with -inf, tagged ``tgc.pool =
"max_pool"``) is, per output pixel, the arith.maximumf of the window's KH*KW input vectors, as the
named op's (NaN propagates); its loops keep the channels outside the window's, a strided scalar
reduction. On the convnet's first pool (batch 32, 28x28x32) 0.39 -> 0.29 ms (thread CPU time, 1
thread, with the copy of the result out, benchmarks/convnet_profile.py --ab).

Core lowering (tgc/lowering/to_core/conv.py, ``_max_pool_grad_tiled``) writes max_pool_grad of
windows that tile the input as two generics: one records each window's first argmax over the
padded input, the other writes each window's gradient to that position of the
[N, OH, KH, OW, KW, C] tiles (tagged ``tgc.pool = "max_pool_grad"``). Their innermost loop is the
C channels, which LLVM unrolls and leaves scalar (see vector_runs.py). Here, per output pixel
(n, i, j): the window's KH*KW input vectors are scanned in row-major order keeping the running
maximum and its offset with the core form's comparisons (greater, or equal at a smaller offset
than the one kept: ties keep the first, a window of -inf takes its first element, NaN is never the
maximum), and each tap's tile gets the gradient vector where the offset is that tap's, +0
elsewhere (convnet: 0.56 -> 0.28 ms). Channels wider than vector_runs.MAX_VECTOR keep the core
forms of both ops.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith

from tgc.dialect.ir_helpers import defining_op
from tgc.lowering.cpu.vector_runs import MAX_VECTOR, index_sum, loop_nests, read_run, write_run
from tgc.lowering.to_core.common import const_index, dim, element_type, empty, shape_of


def _splat(length: int, elem, value) -> ir.Value:
    vtype = ir.VectorType.get([length], elem)
    attr = (
        ir.FloatAttr.get(elem, value)
        if isinstance(value, float)
        else ir.IntegerAttr.get(elem, value)
    )
    return arith.ConstantOp(vtype, ir.DenseElementsAttr.get_splat(vtype, attr)).result


def _padded_input(tiles_op):
    """The padded input the argmax generic (the tiles generic's second input) reads; None when the
    operands were not built by core's max_pool_grad."""
    argmax = defining_op(tiles_op.operands[1])
    if argmax is None or argmax.name != "linalg.generic" or len(argmax.operands) != 4:
        return None
    return argmax.operands[0]


def max_pool(pool_op) -> ir.Value | None:
    """The tagged linalg.pooling_nhwc_max's result computed with vectors; None to keep it."""
    xp = pool_op.operands[0]
    n, oh, ow, c = shape_of(pool_op.results[0].type)
    kh, kw = shape_of(pool_op.operands[1])
    strides = list(ir.DenseIntElementsAttr(pool_op.attributes["strides"]))
    dilations = list(ir.DenseIntElementsAttr(pool_op.attributes["dilations"]))
    if c > MAX_VECTOR:
        return None
    elem = element_type(xp)
    result = empty(pool_op.results[0].type, {0: dim(xp, 0)} if n is None else {})

    def pixel(ivs, carried):
        (out,) = carried
        batch, i, j = ivs
        best = _splat(c, elem, float("-inf"))
        for a in range(kh):
            for b in range(kw):
                row = index_sum((i, strides[0]), a * dilations[0])
                column = index_sum((j, strides[1]), b * dilations[1])
                best = arith.maximumf(best, read_run(xp, [batch, row, column, const_index(0)], c))
        return [write_run(best, out, [batch, i, j, const_index(0)])]

    bounds = [dim(xp, 0), const_index(oh), const_index(ow)]
    return loop_nests(bounds, [result], pixel, parallel=True)[0]


def max_pool_grad_tiles(tiles_op) -> ir.Value | None:
    """The tiles [N, OH, KH, OW, KW, C] of a tagged max_pool_grad, computed with vectors; None to
    keep the core form."""
    xp = _padded_input(tiles_op)
    n, oh, kh, ow, kw, c = shape_of(tiles_op.results[0].type)
    if xp is None or c > MAX_VECTOR:
        return None
    g = tiles_op.operands[0]
    elem = element_type(g)
    i32 = ir.IntegerType.get_signless(32)
    tiles = empty(tiles_op.results[0].type, {0: dim(g, 0)} if n is None else {})
    taps = [(a, b) for a in range(kh) for b in range(kw)]

    def pixel(ivs, carried):
        (out,) = carried
        batch, i, j = ivs
        best, where = _splat(c, elem, float("-inf")), _splat(c, i32, kh * kw)
        for offset, (a, b) in enumerate(taps):
            at = [batch, index_sum((i, kh), a), index_sum((j, kw), b), const_index(0)]
            v = read_run(xp, at, c)
            here = _splat(c, i32, offset)
            tie_before = arith.andi(
                arith.cmpf(arith.CmpFPredicate.OEQ, v, best),
                arith.cmpi(arith.CmpIPredicate.slt, here, where),
            )
            take = arith.ori(arith.cmpf(arith.CmpFPredicate.OGT, v, best), tie_before)
            best = arith.select(take, v, best)
            where = arith.select(take, here, where)
        gradient = read_run(g, [batch, i, j, const_index(0)], c)
        zeros = _splat(c, elem, 0.0)
        for offset, (a, b) in enumerate(taps):
            mine = arith.cmpi(arith.CmpIPredicate.eq, where, _splat(c, i32, offset))
            at = [batch, i, const_index(a), j, const_index(b), const_index(0)]
            out = write_run(arith.select(mine, gradient, zeros), out, at)
        return [out]

    bounds = [dim(g, 0), const_index(oh), const_index(ow)]
    return loop_nests(bounds, [tiles], pixel, parallel=True)[0]
