"""Direct convolution for windows of few elements: conv2d and its filter gradient without im2col.

When a window holds few elements (KH*KW*C, the GEMM's K: 25 for the convnet's first layer, 5x5 on
one channel), the im2col GEMM is memory-bound: the patch matrix it writes and reads back is K
values per output pixel, as large as the output itself for K = O, and the GEMM does only O
multiply-adds per value it reads. Here each output pixel instead gets its O channels as one vector
(``vector<O>``): conv2d is K broadcast-FMAs of the pixel's window values with the filter's rows
(read once, outside the loops), and the filter gradient carries K accumulator vectors through the
loop over output pixels, each pixel adding its window value times its gradient vector. Nothing is
materialized but the result.

Chosen per shape (``direct_wins``) by the window's elements times the output channels, K*O, as
measured (1 thread, thread CPU time, batch 32 at 28x28, 5x5 windows, im2col -> direct, ms):

    K x O     conv2d        filter gradient
    25 x 32   1.00 -> 0.38  1.46 -> 0.81   (the convnet's first layer)
    50 x 32   1.42 -> 0.83  1.81 -> 1.35
    75 x 32   2.40 -> 1.46  3.04 -> 2.12
    100 x 32  1.83 -> 1.80  2.13 -> 1.83
    25 x 64   1.44 -> 0.80  2.06 -> 1.85
    75 x 64   2.95 -> 2.55  3.43 -> 4.79
    25 x 128  2.59 -> 1.92  3.28 -> 4.00
    75 x 128  4.54 -> 5.28  5.55 -> 10.26

The filter gradient's K accumulators of O elements outgrow the registers sooner: it goes direct up
to K*O = 2400, conv2d up to 4800 (halved for f64, whose vectors take twice the registers), and
neither past the windows measured (K of 75 and 100: MAX_DIRECT_GRADIENT_WINDOW,
MAX_DIRECT_WINDOW). The convnet's second layer (K = 800) stays with the GEMM; its SGD step went
from 32.0 to 30.6 ms (benchmarks/convnet_profile.py --ab tgc.lowering.cpu.conv_gemm:DIRECT_CONV,
shared machine).
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, scf, tensor, vector

from tgc.lowering.cpu.vector_runs import MAX_VECTOR, index_sum, loop_nests, read_run, write_run
from tgc.lowering.to_core.common import const_index, dim, element_type, empty, shape_of
from tgc.lowering.to_core.conv import tensor_type

# The largest K*O (window elements times output channels) computed directly (see above).
MAX_DIRECT_CONV = 4800
MAX_DIRECT_FILTER_GRADIENT = 2400
# The largest window (K) computed directly, whatever O: the table's wins end at K = 100 (conv2d)
# and 75 (filter gradient). A K*O limit alone let a 5x4 window on 29 channels with 2 outputs go
# direct: the filter gradient's 580 accumulators took 43 s in one-shot-bufferize and ran about 2x
# slower than im2col, conv2d of 400-2000 window elements on 2 outputs 3x slower
# (tests/unit/test_conv_direct_window.py; found by tests/conformance/conv.py).
MAX_DIRECT_WINDOW = 100
MAX_DIRECT_GRADIENT_WINDOW = 75
# The filter gradient's batch is summed in this many parts, each on any thread (parallel_loops.py):
# 2 chunks per thread of a 2-core machine, and 4 rows of partial sums to add at the end.
GRADIENT_PARTS = 4


def direct_wins(filter_shape, elem, filter_gradient: bool = False) -> bool:
    """Whether conv2d (or its filter gradient) with this filter [KH, KW, C, O] of ``elem`` is
    computed directly rather than by im2col and a GEMM (f64's vectors take twice the registers)."""
    kh, kw, c, o = filter_shape
    limit = MAX_DIRECT_FILTER_GRADIENT if filter_gradient else MAX_DIRECT_CONV
    window_limit = MAX_DIRECT_GRADIENT_WINDOW if filter_gradient else MAX_DIRECT_WINDOW
    scale = 2 if str(elem) == "f64" else 1
    return kh * kw * c * o * scale <= limit and kh * kw * c <= window_limit and o <= MAX_VECTOR


def _window(filter_shape) -> list:
    """The window's elements (kh, kw, c) in the filter's row order."""
    kh, kw, c, _ = filter_shape
    return [(a, b, ch) for a in range(kh) for b in range(kw) for ch in range(c)]


def _zeros(length: int, elem) -> ir.Value:
    vtype = ir.VectorType.get([length], elem)
    return arith.ConstantOp(
        vtype, ir.DenseElementsAttr.get_splat(vtype, ir.FloatAttr.get(elem, 0.0))
    ).result


def _window_value(xp, pixel, tap, strides, dilations) -> ir.Value:
    """xp[b, i*sh + kh*dh, j*sw + kw*dw, c] for pixel (b, i, j) and tap (kh, kw, c)."""
    b, i, j = pixel
    kh, kw, c = tap
    row = index_sum((i, strides[0]), kh * dilations[0])
    column = index_sum((j, strides[1]), kw * dilations[1])
    return tensor.ExtractOp(xp, [b, row, column, const_index(c)]).result


def _pixel_bounds(xp, out_hw) -> list:
    return [dim(xp, 0), const_index(out_hw[0]), const_index(out_hw[1])]


def direct_conv(xp, f, result_shape, strides, dilations, bias=None, relu=None) -> ir.Value:
    """conv2d of an already padded xp: out[b, i, j, :] = sum over the window of the window value
    times the filter's row, as O-wide vector FMAs.

    ``bias`` (an [O] tensor) starts each pixel's sum instead of zeros and ``relu`` (the name of
    the max op, arith.maximumf or arith.maxnumf) takes the sum's max with zero before the write:
    the conv's bias add and relu computed in the same pass over the output instead of two more
    loops over it (tgc-conv-gemm finds them, conv_gemm.py's ``_fused_epilogue``)."""
    _, oh, ow, o = result_shape
    elem = element_type(xp)
    taps = _window(shape_of(f))
    filter_rows = [read_run(f, [const_index(t) for t in tap] + [const_index(0)], o) for tap in taps]
    start = _zeros(o, elem) if bias is None else read_run(bias, [const_index(0)], o)
    vtype = ir.VectorType.get([o], elem)
    init = empty(
        tensor_type(result_shape, elem), {0: dim(xp, 0)} if result_shape[0] is None else {}
    )

    def pixel(ivs, carried):
        (out,) = carried
        acc = start
        for tap, filter_row in zip(taps, filter_rows):
            x = vector.BroadcastOp(vtype, _window_value(xp, ivs, tap, strides, dilations)).result
            acc = vector.FMAOp(x, filter_row, acc).result
        if relu is not None:
            acc = ir.Operation.create(relu, results=[vtype], operands=[acc, _zeros(o, elem)]).result
        return [write_run(acc, out, list(ivs) + [const_index(0)])]

    return loop_nests(_pixel_bounds(xp, (oh, ow)), [init], pixel, parallel=True)[0]


def direct_filter_gradient(xp, g, filter_shape, strides, dilations) -> ir.Value:
    """df[kh, kw, c, :] = sum over output pixels (b, i, j) of the pixel's window value at
    (kh, kw, c) times g[b, i, j, :]: one accumulator vector per window element, carried through
    the loops over the pixels. The batch is cut into GRADIENT_PARTS parts, each summed into its
    own row of partial sums by an iteration of a loop that tgc-parallel-loops may run on several
    threads; the rows are then added in part order (the same sums on any number of threads)."""
    _, oh, ow, o = shape_of(g)
    elem = element_type(xp)
    taps = _window(filter_shape)
    vtype = ir.VectorType.get([o], elem)

    def pixel(ivs, accs):
        gradient = read_run(g, list(ivs) + [const_index(0)], o)
        return [
            vector.FMAOp(
                vector.BroadcastOp(vtype, _window_value(xp, ivs, tap, strides, dilations)).result,
                gradient,
                acc,
            ).result
            for tap, acc in zip(taps, accs)
        ]

    def part(ivs, carried):
        (partials,) = carried
        (index,) = ivs
        begin, end = _part_bounds(dim(xp, 0), index)
        images = scf.ForOp(begin, end, const_index(1), [_zeros(o, elem) for _ in taps])
        with ir.InsertionPoint(images.body):
            b = images.induction_variable
            sums = loop_nests(
                [const_index(oh), const_index(ow)],
                list(images.inner_iter_args),
                lambda ivs, accs: pixel([b, *ivs], accs),
            )
            scf.YieldOp(sums)
        for t, total in enumerate(images.results):
            partials = write_run(total, partials, [index, const_index(t), const_index(0)])
        return [partials]

    parts_type = tensor_type((GRADIENT_PARTS, len(taps), o), elem)
    bounds = [const_index(GRADIENT_PARTS)]
    partials = loop_nests(bounds, [empty(parts_type, {})], part, parallel=True)[0]
    df = empty(tensor_type(filter_shape, elem), {})
    for t, tap in enumerate(taps):
        total = read_run(partials, [const_index(0), const_index(t), const_index(0)], o)
        for p in range(1, GRADIENT_PARTS):
            row = read_run(partials, [const_index(p), const_index(t), const_index(0)], o)
            total = arith.addf(total, row)
        df = write_run(total, df, [const_index(t) for t in tap] + [const_index(0)])
    return df


def _part_bounds(batch: ir.Value, index: ir.Value) -> tuple:
    """[begin, end) of the images of part ``index``: ceil(batch / GRADIENT_PARTS) each, the last
    ones shorter or empty."""
    per = arith.divui(
        arith.addi(batch, const_index(GRADIENT_PARTS - 1)), const_index(GRADIENT_PARTS)
    )
    begin = arith.muli(index, per)
    return begin, arith.minui(arith.addi(begin, per), batch)
