"""tgc-conv-gemm: the CPU's f32/f64 convolutions as BLAS GEMMs (im2col, col2im).

Core lowering (tgc/lowering/to_core/conv.py) writes conv2d and its two gradients as linalg loops and
tags the op that computes each with ``tgc.conv`` and the conv's geometry. This pass rewrites the
tagged ops of f32/f64 into GEMMs that tgc-blas-matmul hands to OpenBLAS; other dtypes keep the loops
(no BLAS routine for them). It runs first in the CPU pipeline from core, before tgc-outline-gemm
and elementwise fusion, and before the pipeline's cse, which then builds the patch matrix that
conv2d and its filter gradient share once.

conv2d and conv2d_backprop_filter go through im2col: a gather copies each output pixel's window
into one row of a patch matrix [N*OH*OW, KH*KW*C], and one linalg.matmul with the reshaped filter
(or, for the filter gradient, the patch matrix read transposed against the gradient) does the
arithmetic. For the convnet's second layer (batch 32, 14x14x32 -> 64, 5x5) that is one 6272x800x64
GEMM instead of a seven-deep loop nest. conv2d_backprop_input is the GEMM of the gradient with
the transposed filter, giving the columns [N, OH, OW, KH, KW, C], then col2im: for each window tap
(a loop over the static taps, so still no scatter), each output pixel whose tap is in bounds adds
its C channels into dx. Large patch matrices are built and multiplied one image at a time, in
loops that tgc-parallel-loops runs as chunks of images on the session's threads (each image's GEMM
on its thread); the filter gradient sums its images in GRADIENT_PARTS parts, added in part order.

Convs whose window has few elements for their output channels (the convnet's first layer: 5x5 on
one channel) skip im2col: conv2d and its filter gradient are computed directly (conv_direct.py;
the pass's ``direct`` option). A direct conv2d whose only reader adds a bias per channel (and that
sum's only reader, if any, is a relu) starts each pixel's sum from the bias and takes the max with
zero before writing it, instead of two more loops over the output; an im2col conv's GEMM adds into
rows of the bias instead of zeros, and per image takes the relu while the image is in cache
(FUSE_BIAS_RELU). Reads of the batch size (tensor.dim) of the conv's result, which an unknown
batch brings, are moved to its input. The convnet's layers with bias and relu, 1 thread, thread
CPU time, interleaved medians of 40, machine shared at load 8: first 1.00 -> 0.56 ms, second 5.82
-> 5.74 ms; its forward (unknown batch) 10.03 -> 9.55 ms and SGD step 26.56 -> 26.31 ms.

The gather and col2im move contiguous runs as vectors (vector_runs.py: as linalg loops LLVM made
them scalar code): a window row's KW*C adjacent elements when the width is not dilated (else the
gather copies element by element), one pixel's C channels. On the convnet's second layer (1
thread, thread CPU time, benchmarks/convnet_profile.py --ab) its forward conv went from 5.8 to
5.4 ms, its filter gradient from 5.3 to 4.8 ms and its input gradient from 5.8 to 4.8 ms.
"""

from __future__ import annotations

import dataclasses
import math

from mlir import ir
from mlir.dialects import arith, func, linalg, scf, tensor

from tgc.dialect.ir_helpers import defining_op, find_function, functions, module_of
from tgc.lowering.to_core.common import (
    PARALLEL,
    const_index,
    dim,
    element_type,
    empty,
    fill,
    generic,
    identity_map,
    scalar_const,
    shape_of,
)
from tgc.lowering.to_core.conv import (
    collapse,
    indexing_map,
    loop_dim,
    reassociation,
    tensor_type,
)
from tgc.lowering.cpu.conv_direct import GRADIENT_PARTS, direct_conv, direct_filter_gradient
from tgc.lowering.cpu.conv_direct import _part_bounds as part_bounds
from tgc.lowering.cpu.conv_direct import direct_wins
from tgc.lowering.cpu.pool_vector import max_pool, max_pool_grad_tiles
from tgc.lowering.cpu.vector_runs import (
    PARALLEL_FOR,
    add_run,
    copy_run,
    index_sum,
    loop_nest,
    loop_nests,
)
from tgc.lowering.to_core.linalg_ops import matmul_maps
from tgc.passes.base import ModulePass

_DYNAMIC = ir.ShapedType.get_dynamic_size()
_BLAS_TYPES = ("f32", "f64")
# im2col and col2im move contiguous runs as vectors (vector_runs.py): a window row's KW*C adjacent
# elements when the width is not dilated, one pixel's C channels. False keeps the linalg forms
# (an element-by-element gather, a slice add per tap), which LLVM compiles to scalar code;
# benchmarks/convnet_profile.py --ab compares the two, and the tests run both.
VECTOR_RUNS = True
# False turns the pass's ``direct`` option off everywhere (conv_direct.py: conv2d and its filter
# gradient of few window elements computed without a patch matrix), for
# benchmarks/convnet_profile.py --ab and the tests.
DIRECT_CONV = True


# ---- im2col and GEMM builders -------------------------------------------------------------------


def _expand_rows(matrix, shape, batch_of) -> ir.Value:
    """The [N*OH*OW, O] matrix back to [N, OH, OW, O] (N read from ``batch_of`` when unknown)."""
    result = tensor_type(shape, element_type(matrix))
    dynamic = [dim(batch_of, 0)] if shape[0] is None else []
    static = [_DYNAMIC if d is None else d for d in shape]
    return tensor.ExpandShapeOp(
        result, matrix, reassociation([[0, 1, 2], [3]]), dynamic, static
    ).result


def _gemm_call(a, b, out_type, transpose_a=False, acc=None, transpose_b=False) -> ir.Value:
    """matmul(a, b) (added to ``acc`` when given, else into zeros of ``out_type``) through a private
    function holding the linalg.matmul.

    The call keeps linalg-fuse-elementwise-ops from folding the im2col reshapes into the matmul
    (it would turn it into a 7-loop generic that no longer reaches BLAS); LLVM inlines the call
    afterwards. Without ``acc`` the function takes an empty tensor and zero-fills it itself (name
    suffix ``_z``), so tgc-blas-matmul sees fill-then-matmul and calls BLAS with beta = 0 instead
    of a memset of C first.
    """
    elem = element_type(out_type) if acc is None else element_type(acc)
    init = (
        acc
        if acc is not None
        else empty(
            out_type, {0: dim(a, 1 if transpose_a else 0)} if shape_of(out_type)[0] is None else {}
        )
    )
    types = [a.type, b.type, init.type]
    name = "tgc_gemm_" + "_".join(
        str(t).replace("tensor<", "").replace(">", "").replace("?", "d") for t in types
    )
    name += (
        ("_ta" if transpose_a else "")
        + ("_tb" if transpose_b else "")
        + ("_z" if acc is None else "")
    )
    module = module_of(ir.InsertionPoint.current.block.owner)
    if find_function(module, name) is None:
        body = module.regions[0].blocks[0]
        with ir.InsertionPoint.at_block_begin(body), ir.Location.unknown():
            callee = func.FuncOp(
                name, ir.FunctionType.get(types, [init.type]), visibility="private"
            )
            entry = callee.add_entry_block()
            with ir.InsertionPoint(entry):
                x, y, c = entry.arguments
                if acc is None:
                    c = fill(scalar_const(0.0, elem), c)
                func.ReturnOp([_matmul_into(x, y, c, transpose_a, transpose_b)])
    return func.CallOp([init.type], ir.FlatSymbolRefAttr.get(name), [a, b, init]).result


def _matmul_into(a, b, c, transpose_a, transpose_b=False) -> ir.Value:
    if not (transpose_a or transpose_b):
        return linalg.matmul(a, b, outs=[c])
    return linalg.matmul(a, b, outs=[c], indexing_maps=matmul_maps(transpose_a, transpose_b))


def _patch_matrix(xp, out_hw, window, strides, dilations) -> ir.Value:
    """im2col: rows (n, i, j), columns (kh, kw, c) = xp[n, i*sh + kh*dh, j*sw + kw*dw, c]."""
    if dilations[1] == 1 and VECTOR_RUNS:
        return _patch_matrix_by_window_rows(xp, out_hw, window, strides, dilations[0])
    n, _, _, c = shape_of(xp)
    shape = (n, out_hw[0], out_hw[1], window[0], window[1], c)
    init = empty(tensor_type(shape, element_type(xp)), {0: dim(xp, 0)} if n is None else {})
    source = indexing_map(
        6,
        [
            0,
            loop_dim(1) * strides[0] + loop_dim(3) * dilations[0],
            loop_dim(2) * strides[1] + loop_dim(4) * dilations[1],
            5,
        ],
    )
    patches = generic([xp], [init], [source, identity_map(6)], [PARALLEL] * 6, lambda v, _: v)[0]
    return collapse(patches, [[0, 1, 2], [3, 4, 5]])


def _patch_matrix_by_window_rows(xp, out_hw, window, strides, dilation_h) -> ir.Value:
    """im2col when the window's columns are adjacent (width dilation 1): the KW*C elements of one
    window row, (kw, c), are one contiguous run of xp's collapsed (w, c) dim starting at
    j*sw*C, copied as one vector (vector_runs.py) instead of element by element.

    Rows (n, i, j), columns (kh, t) = xp[n, i*sh + kh*dh, j*sw*C + t], t = kw*C + c.
    """
    n, _, _, c = shape_of(xp)
    flat = collapse(xp, [[0], [1], [2, 3]])
    run = window[1] * c
    shape = (n, out_hw[0], out_hw[1], window[0], run)
    init = empty(tensor_type(shape, element_type(xp)), {0: dim(xp, 0)} if n is None else {})
    bounds = [dim(xp, 0), const_index(out_hw[0]), const_index(out_hw[1]), const_index(window[0])]

    def copy_window_row(ivs, patches):
        b, i, j, kh = ivs
        row = index_sum((i, strides[0]), (kh, dilation_h))
        column = index_sum((j, strides[1] * c))
        return copy_run(flat, [b, row, column], patches, [b, i, j, kh, const_index(0)], run)

    patches = loop_nest(bounds, init, copy_window_row, parallel=True)
    return collapse(patches, [[0, 1, 2], [3, 4]])


# Per-image patch matrices at least this large are built and multiplied one image at a time: a
# whole batch's matrix of that kind is above glibc's mmap threshold, so every step would pay for
# fresh zeroed pages, and it would stream through DRAM twice; one image's stays in cache between the
# gather and the GEMM. Smaller ones keep the single batch-wide GEMM.
PER_IMAGE_PATCH_BYTES = 256 * 1024


def _per_image(xp, out_hw, window, channels=None) -> bool:
    """True when one image's [OH*OW, KH*KW*C] patch (or column) matrix reaches
    PER_IMAGE_PATCH_BYTES; C is xp's channel count unless ``channels`` is given."""
    c = shape_of(xp)[3] if channels is None else channels
    elem_bytes = 8 if str(element_type(xp)) == "f64" else 4
    return out_hw[0] * out_hw[1] * window[0] * window[1] * c * elem_bytes >= PER_IMAGE_PATCH_BYTES


def _image(v, n) -> ir.Value:
    """v[n:n+1] of an NHWC tensor (``n`` an index value), batch dim kept as 1."""
    _, h, w, c = shape_of(v)
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    result = tensor_type((1, h, w, c), element_type(v))
    return tensor.ExtractSliceOp(
        result, v, [n], [], [], [dynamic, 0, 0, 0], [1, h, w, c], [1, 1, 1, 1]
    ).result


def _insert_image(v, dest, n) -> ir.Value:
    _, h, w, c = shape_of(v)
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    return tensor.InsertSliceOp(
        v, dest, [n], [], [], [dynamic, 0, 0, 0], [1, h, w, c], [1, 1, 1, 1]
    ).result


def _over_images(batch_of, init, body, parallel=False) -> ir.Value:
    """scf.for n over the batch of ``batch_of`` carrying ``init``; ``body(n, carried)`` returns
    the next. ``parallel``: each iteration writes only its image of the carried tensor, so
    tgc-parallel-loops may run images on several threads (each image's GEMM then on its thread)."""
    loop = scf.ForOp(const_index(0), dim(batch_of, 0), const_index(1), [init])
    if parallel:
        loop.attributes[PARALLEL_FOR] = ir.UnitAttr.get()
    with ir.InsertionPoint(loop.body):
        scf.YieldOp([body(loop.induction_variable, loop.inner_iter_args[0])])
    return loop.results[0]


def _conv_gemm(xp, f, result_shape, strides, dilations, bias=None, relu=None) -> ir.Value:
    """conv2d of an already padded xp as patches [N*OH*OW, KH*KW*C] @ filter [KH*KW*C, O]; with
    ``bias`` ([O]) the GEMM adds into rows of the bias instead of zeros, and ``relu`` (the max
    op's name; per-image GEMMs only) takes each image's max with zero while it is in cache."""
    n, oh, ow, o = result_shape
    kh, kw, _, _ = shape_of(f)
    if _per_image(xp, (oh, ow), (kh, kw)):
        return _conv_gemm_per_image(xp, f, result_shape, strides, dilations, bias, relu)
    assert relu is None, "the whole-batch conv GEMM does not fuse a relu"
    patches = _patch_matrix(xp, (oh, ow), (kh, kw), strides, dilations)
    rows = None if n is None else n * oh * ow
    rows_type = tensor_type((rows, o), element_type(xp))
    acc = None if bias is None else _bias_rows(bias, rows_type, dim(patches, 0))
    product = _gemm_call(patches, collapse(f, [[0, 1, 2], [3]]), rows_type, acc=acc)
    return _expand_rows(product, result_shape, xp)


def _bias_rows(bias, rows_type, rows) -> ir.Value:
    """[rows, O] of ``rows_type`` whose every row is ``bias`` [O] (``rows``: the count, used when
    the type's is unknown)."""
    init = empty(rows_type, {0: rows} if shape_of(rows_type)[0] is None else {})
    maps = [indexing_map(2, [1]), identity_map(2)]
    return generic([bias], [init], maps, [PARALLEL] * 2, lambda v, _: v)[0]


def _relu_rows(product, relu) -> ir.Value:
    """max(product, +0.0) elementwise, ``relu`` the max op's name."""
    elem = element_type(product)
    init = empty(product.type, {})

    def body(v, _):
        zero = scalar_const(0.0, elem)
        return ir.Operation.create(relu, results=[elem], operands=[v, zero]).result

    return generic([product], [init], [identity_map(2)] * 2, [PARALLEL] * 2, body)[0]


def _conv_gemm_per_image(xp, f, result_shape, strides, dilations, bias=None, relu=None):
    """``_conv_gemm`` one image at a time: out[n] = patches(xp[n]) @ filter, n over the batch."""
    _, oh, ow, o = result_shape
    kh, kw, _, _ = shape_of(f)
    filter_matrix = collapse(f, [[0, 1, 2], [3]])
    rows_type = tensor_type((oh * ow, o), element_type(xp))

    def body(n, out):
        patches = _patch_matrix(_image(xp, n), (oh, ow), (kh, kw), strides, dilations)
        acc = None if bias is None else _bias_rows(bias, rows_type, None)
        product = _gemm_call(patches, filter_matrix, rows_type, acc=acc)
        if relu is not None:
            product = _relu_rows(product, relu)
        return _insert_image(_expand_rows(product, (1, oh, ow, o), xp), out, n)

    return _over_images(
        xp, empty(tensor_type(result_shape, element_type(xp)), {0: dim(xp, 0)}), body, True
    )


def _filter_gradient_gemm(xp, g, filter_shape, strides, dilations) -> ir.Value:
    """df [KH*KW*C, O] = patches^T @ g [N*OH*OW, O], BLAS reading the patch matrix transposed."""
    _, oh, ow, _ = shape_of(g)
    kh, kw, c, o = filter_shape
    if _per_image(xp, (oh, ow), (kh, kw)):
        return _filter_gradient_per_image(xp, g, filter_shape, strides, dilations)
    patches = _patch_matrix(xp, (oh, ow), (kh, kw), strides, dilations)
    product = _gemm_call(
        patches,
        collapse(g, [[0, 1, 2], [3]]),
        tensor_type((kh * kw * c, o), element_type(xp)),
        transpose_a=True,
    )
    result = tensor_type(filter_shape, element_type(xp))
    return tensor.ExpandShapeOp(
        result, product, reassociation([[0, 1, 2], [3]]), [], list(filter_shape)
    ).result


def _filter_gradient_per_image(xp, g, filter_shape, strides, dilations) -> ir.Value:
    """``_filter_gradient_gemm`` summed one image at a time (BLAS accumulates with beta = 1).

    The batch is cut into GRADIENT_PARTS parts (conv_direct.py's), each summing its images into
    its own [KH*KW*C, O] matrix in an iteration of a loop that tgc-parallel-loops may run on
    several threads (each part's GEMMs on its thread); the parts are then added in part order:
    the same sums on any number of threads, in every run."""
    _, oh, ow, _ = shape_of(g)
    kh, kw, c, o = filter_shape
    elem = element_type(xp)
    rows_type = tensor_type((kh * kw * c, o), elem)

    def part(ivs, carried):
        (partials,), (index,) = carried, ivs
        begin, end = part_bounds(dim(xp, 0), index)
        # The part sums into its own row of the partials: a tensor.empty of its own was merged
        # by cse with an identical one before the loop (another [KH*KW*C, O] of the function),
        # one buffer that every thread's part zeroed and summed into at once
        # (findings-convfuzz.md C1).
        zeros = fill(scalar_const(0.0, elem), _part_at(partials, index, rows_type))
        images = scf.ForOp(begin, end, const_index(1), [zeros])
        with ir.InsertionPoint(images.body):
            n = images.induction_variable
            patches = _patch_matrix(_image(xp, n), (oh, ow), (kh, kw), strides, dilations)
            g_rows = collapse(_image(g, n), [[0, 1, 2], [3]])
            acc = images.inner_iter_args[0]
            scf.YieldOp([_gemm_call(patches, g_rows, None, transpose_a=True, acc=acc)])
        return [_insert_part(images.results[0], partials, index)]

    parts_type = tensor_type((GRADIENT_PARTS, kh * kw * c, o), elem)
    bounds = [const_index(GRADIENT_PARTS)]
    partials = loop_nests(bounds, [empty(parts_type, {})], part, parallel=True)[0]
    product = _part(partials, 0, rows_type)
    for p in range(1, GRADIENT_PARTS):
        maps = [identity_map(2)] * 3
        added = _part(partials, p, rows_type)
        product = generic(
            [product, added],
            [empty(rows_type, {})],
            maps,
            [PARALLEL] * 2,
            lambda a, b, _: arith.addf(a, b),
        )[0]
    result = tensor_type(filter_shape, elem)
    return tensor.ExpandShapeOp(
        result, product, reassociation([[0, 1, 2], [3]]), [], list(filter_shape)
    ).result


def _insert_part(matrix, partials, index) -> ir.Value:
    """partials[index] = matrix (``index`` an index value)."""
    rows, cols = shape_of(matrix)
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    return tensor.InsertSliceOp(
        matrix, partials, [index], [], [], [dynamic, 0, 0], [1, rows, cols], [1, 1, 1]
    ).result


def _part_at(partials, index, matrix_type) -> ir.Value:
    """partials[index] as a matrix of ``matrix_type`` (``index`` an index value)."""
    rows, cols = shape_of(matrix_type)
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    return tensor.ExtractSliceOp(
        matrix_type, partials, [index], [], [], [dynamic, 0, 0], [1, rows, cols], [1, 1, 1]
    ).result


def _part(partials, p: int, matrix_type) -> ir.Value:
    """partials[p] as a matrix of ``matrix_type``."""
    rows, cols = shape_of(matrix_type)
    return tensor.ExtractSliceOp(
        matrix_type, partials, [], [], [], [p, 0, 0], [1, rows, cols], [1, 1, 1]
    ).result


def _col2im_ranges(in_size, out_size, k, stride, dilation, before):
    """For window offset k: (first output index, count, first input index) of the outputs whose
    tap lands inside the input, h = i*stride + k*dilation - before with 0 <= h < in_size; None if
    none."""
    shift = k * dilation - before
    first = max(0, (stride - 1 - shift) // stride)  # ceil(-shift / stride), at least 0
    last = min(out_size - 1, (in_size - 1 - shift) // stride)
    if last < first:
        return None
    return first, last - first + 1, first * stride + shift


def _col2im(columns, input_shape, window, strides, dilations, before, elem) -> ir.Value:
    """dx [n, H, W, C] = sum over window taps (kh, kw) of columns [n, OH, OW, KH, KW, C] placed
    at h = i*sh + kh*dh - pt: for each tap, the outputs whose tap is in bounds add their C
    channels into dx as one vector each (vector_runs.py)."""
    if not VECTOR_RUNS:
        return _col2im_slices(columns, input_shape, window, strides, dilations, before, elem)
    n, oh, ow, kh_size, kw_size, c = shape_of(columns)
    _, h, w, _ = input_shape
    acc = fill(
        scalar_const(0.0, elem),
        empty(tensor_type((n, h, w, c), elem), {0: dim(columns, 0)} if n is None else {}),
    )
    for kh in range(kh_size):
        rows = _col2im_ranges(h, oh, kh, strides[0], dilations[0], before[0])
        for kw in range(kw_size):
            cols = _col2im_ranges(w, ow, kw, strides[1], dilations[1], before[1])
            if rows is not None and cols is not None:
                acc = _add_tap(columns, acc, (kh, kw), rows, cols, strides)
    return acc


def _col2im_slices(columns, input_shape, window, strides, dilations, before, elem) -> ir.Value:
    """dx [n, H, W, C] = sum over window taps (kh, kw) of columns [n, OH, OW, KH, KW, C] placed
    at h = i*sh + kh*dh - pt: one accumulating slice add per tap, over the outputs whose tap is in
    bounds."""
    n, oh, ow, kh_size, kw_size, c = shape_of(columns)
    _, h, w, _ = input_shape
    batch = [dim(columns, 0)] if n is None else []
    acc = fill(
        scalar_const(0.0, elem),
        empty(tensor_type((n, h, w, c), elem), {0: batch[0]} if batch else {}),
    )
    for kh in range(kh_size):
        rows = _col2im_ranges(h, oh, kh, strides[0], dilations[0], before[0])
        for kw in range(kw_size):
            cols = _col2im_ranges(w, ow, kw, strides[1], dilations[1], before[1])
            if rows is None or cols is None:
                continue
            (i0, ci, h0), (j0, cj, w0) = rows, cols
            sizes = [_DYNAMIC if n is None else n, ci, cj, c]
            tap = tensor.ExtractSliceOp(
                tensor_type((n, ci, cj, c), elem),
                columns,
                [],
                batch,
                [],
                [0, i0, j0, kh, kw, 0],
                [sizes[0], ci, cj, 1, 1, c],
                [1] * 6,
            ).result
            window_strides = [1, strides[0], strides[1], 1]
            target = tensor.ExtractSliceOp(
                tensor_type((n, ci, cj, c), elem),
                acc,
                [],
                batch,
                [],
                [0, h0, w0, 0],
                sizes,
                window_strides,
            ).result
            summed = generic(
                [tap],
                [target],
                [identity_map(4)] * 2,
                [PARALLEL] * 4,
                lambda v, a: arith.addf(a, v),
            )[0]
            acc = tensor.InsertSliceOp(
                summed, acc, [], batch, [], [0, h0, w0, 0], sizes, window_strides
            ).result
    return acc


def _add_tap(columns, acc, tap, rows, cols, strides) -> ir.Value:
    """acc[b, h0 + i*sh, w0 + j*sw, :] += columns[b, i0 + i, j0 + j, kh, kw, :] for i < ci,
    j < cj, where ``rows`` = (i0, ci, h0) and ``cols`` = (j0, cj, w0)."""
    (i0, ci, h0), (j0, cj, w0) = rows, cols
    c = shape_of(columns)[5]
    bounds = [dim(columns, 0), const_index(ci), const_index(cj)]

    def add_pixel(ivs, acc):
        b, i, j = ivs
        source = [b, index_sum(i0, i), index_sum(j0, j)] + [const_index(t) for t in tap]
        target = [b, index_sum(h0, (i, strides[0])), index_sum(w0, (j, strides[1]))]
        return add_run(columns, source + [const_index(0)], acc, target + [const_index(0)], c)

    return loop_nest(bounds, acc, add_pixel)


def _input_gradient_gemm(f, g, input_shape, strides, dilations, before) -> ir.Value:
    """dx = col2im(g [rows, O] @ f^T [O, KH*KW*C]), one image at a time when its column matrix is
    large.

    The GEMM has the forward conv's shape transposed (N = KH*KW*C wide), which OpenBLAS runs
    faster than the flipped-filter conv's N = C, and the columns are half the size of that conv's
    patch matrix.
    """
    n, oh, ow, _ = shape_of(g)
    kh, kw, c, _ = shape_of(f)
    elem = element_type(g)
    input_shape = (n,) + tuple(
        input_shape[1:]
    )  # the batch as g has it (the caller casts to the result's)
    filter_rows = collapse(f, [[0, 1, 2], [3]])  # [KH*KW*C, O], read transposed by the GEMM

    def columns_of(gi, images):
        rows = None if images is None else images * oh * ow
        product = _gemm_call(
            collapse(gi, [[0, 1, 2], [3]]),
            filter_rows,
            tensor_type((rows, kh * kw * c), elem),
            transpose_b=True,
        )
        shape = (images, oh, ow, kh, kw, c)
        dynamic = [dim(gi, 0)] if images is None else []
        return tensor.ExpandShapeOp(
            tensor_type(shape, elem),
            product,
            reassociation([[0, 1, 2], [3, 4, 5]]),
            dynamic,
            [_DYNAMIC if d is None else d for d in shape],
        ).result

    geometry = {
        "input_shape": input_shape,
        "window": (kh, kw),
        "strides": strides,
        "dilations": dilations,
        "before": before,
        "elem": elem,
    }
    if not _per_image(g, (oh, ow), (kh, kw), channels=c):
        return _col2im(columns_of(g, n), **geometry)
    image_shape = (1,) + tuple(input_shape[1:])

    def body(i, out):
        dx = _col2im(columns_of(_image(g, i), 1), **{**geometry, "input_shape": image_shape})
        return _insert_image(dx, out, i)

    return _over_images(
        g, empty(tensor_type(input_shape, elem), {0: dim(g, 0)} if n is None else {}), body, True
    )


# ---- the pass -----------------------------------------------------------------------------------

# Pure ops that built a rewritten conv's operands in core's form (its zero init, the spread
# gradient, the flipped filter): erased with it once nothing else reads them.
_BUILDERS = (
    "arith.constant",
    "tensor.dim",
    "tensor.empty",
    "linalg.fill",
    "linalg.generic",
    "tensor.insert_slice",
)


def _geometry(op) -> tuple:
    """(strides, dilations, padding (top, bottom, left, right)) of a tagged conv op."""
    return tuple(
        list(ir.DenseI64ArrayAttr(op.attributes[f"tgc.conv_{key}"]))
        for key in ("strides", "dilations", "padding")
    )


def _conv2d(op, direct: bool) -> ir.Value:
    xp, f = op.operands[0], op.operands[1]
    strides, dilations, _ = _geometry(op)
    if direct and direct_wins(shape_of(f), element_type(xp)):
        fused = _fused_direct_conv(op, xp, f, strides, dilations)
        if fused is not None:
            return fused
        return direct_conv(xp, f, shape_of(op.results[0].type), strides, dilations)
    fused = _fused_gemm_conv(op, xp, f, strides, dilations)
    if fused is not None:
        return fused
    return _conv_gemm(xp, f, shape_of(op.results[0].type), strides, dilations)


# ---- a direct conv's bias add and relu ----------------------------------------------------------

# True: a conv2d whose only reader adds a bias per output channel (and whose sum's only reader, if
# any, is a relu) computes them itself: the direct conv (conv_direct.py) as it writes each pixel,
# the im2col GEMM by adding into rows of the bias, per image then taking the relu while the image
# is in cache: fewer loops over the output (see the module's docstring). False: benchmarks' A/B
# (convnet_profile.py --ab tgc.lowering.cpu.conv_gemm:FUSE_BIAS_RELU) and the tests.
FUSE_BIAS_RELU = True
_RELU_OPS = ("arith.maximumf", "arith.maxnumf")
_IDENTITY_4D = "affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>"
_CHANNEL_4D = "affine_map<(d0, d1, d2, d3) -> (d3)>"


def _fused_direct_conv(op, xp, f, strides, dilations) -> ir.Value | None:
    """The direct conv2d with its bias add (and relu) computed in its loop; None when the conv's
    result is not read that way."""

    def build(bias, relu):
        result_shape = shape_of(op.results[0].type)
        return direct_conv(xp, f, result_shape, strides, dilations, bias=bias, relu=relu)

    return _fused(op, xp, build, with_relu=True)


def _fused_gemm_conv(op, xp, f, strides, dilations) -> ir.Value | None:
    """The im2col conv2d whose GEMM adds into rows of its bias (and, per image, takes the relu);
    None when the conv's result is not read that way."""
    result_shape = shape_of(op.results[0].type)
    kh, kw, _, _ = shape_of(f)

    def build(bias, relu):
        return _conv_gemm(xp, f, result_shape, strides, dilations, bias=bias, relu=relu)

    # the whole batch's relu stays its own loop (the output is too large to be in cache)
    return _fused(op, xp, build, with_relu=_per_image(xp, result_shape[1:3], (kh, kw)))


def _fused(op, xp, build, with_relu: bool) -> ir.Value | None:
    """``build(bias, relu op name or None)`` in place of the conv ``op``, its bias add and (when
    ``with_relu``) its relu, which are erased; None when the conv's result is not read that way.

    The batch sizes read from the conv's result (tensor.dim, for the add's output) are read from
    ``xp`` instead; the conv, then unread, is erased by the pass."""
    epilogue = _fused_epilogue(op) if FUSE_BIAS_RELU else None
    if epilogue is None:
        return None
    bias, add, relu = epilogue
    relu = relu if with_relu else None
    with ir.InsertionPoint(add), add.location:  # the bias may be defined after the conv
        fused = build(bias, None if relu is None else _body_op(relu).name)
    for reader in _batch_dims(op.results[0]):
        reader.operands[0] = xp
    add.results[0].replace_all_uses_with(fused)  # its readers all follow the add
    if relu is not None:
        relu.results[0].replace_all_uses_with(fused)
        _erase_unused(relu)
    if not any(list(add.results[0].uses)):
        _erase_unused(add)
    return fused


def _batch_dims(value) -> list:
    """The tensor.dim ops reading dim 0 (the batch) of ``value``."""
    found = []
    for use in value.uses:
        reader = getattr(use.owner, "operation", use.owner)
        if reader.name == "tensor.dim" and _constant_int(reader.operands[1]) == 0:
            found.append(reader)
    return found


def _constant_int(value) -> int | None:
    producer = defining_op(value)
    if producer is None or producer.name != "arith.constant":
        return None
    attr = producer.attributes["value"]
    return ir.IntegerAttr(attr).value if isinstance(attr, ir.IntegerAttr) else None


def _only_user(value) -> ir.Operation | None:
    """The one op reading ``value``, reads of its batch size aside (tensor.dim of dim 0)."""
    batch_dims = _batch_dims(value)
    users = [getattr(use.owner, "operation", use.owner) for use in value.uses]
    users = [u for u in users if u not in batch_dims]
    return users[0] if len(users) == 1 else None


def _body_op(generic) -> ir.Operation | None:
    """The one computing op of a generic's body: None unless the body (constants aside) is that
    op and a yield of its result."""
    ops = [o.operation for o in generic.regions[0].blocks[0].operations]
    ops = [o for o in ops if o.name != "arith.constant"]
    if len(ops) != 2 or ops[1].name != "linalg.yield" or len(ops[0].results) != 1:
        return None
    return ops[0] if ops[1].operands[0] == ops[0].results[0] else None


def _maps(generic) -> list:
    return [str(m) for m in ir.ArrayAttr(generic.attributes["indexing_maps"])]


def _bias_of(conv_result) -> tuple | None:
    """(bias [O], the add) when the conv's only reader is a generic adding ``bias[o]`` to each
    of its elements."""
    add = _only_user(conv_result)
    if add is None or add.name != "linalg.generic" or len(add.operands) != 3:
        return None
    body = _body_op(add)
    if body is None or body.name != "arith.addf":
        return None
    a, b = list(add.regions[0].blocks[0].arguments)[:2]
    x, y = body.operands
    if not ((x == a and y == b) or (x == b and y == a)):
        return None
    maps = _maps(add)
    ins = list(add.operands[:2])
    for conv_at, bias_at in ((0, 1), (1, 0)):
        if ins[conv_at] == conv_result and maps[conv_at] == _IDENTITY_4D:
            same_type = add.results[0].type == conv_result.type
            if maps[bias_at] == _CHANNEL_4D and maps[2] == _IDENTITY_4D and same_type:
                return ins[bias_at], add
    return None


def _relu_of(value) -> ir.Operation | None:
    """The generic taking max(v, +0.0) of each element of ``value`` when it is its only reader."""
    relu = _only_user(value)
    if relu is None or relu.name != "linalg.generic" or len(relu.operands) != 2:
        return None
    body = _body_op(relu)
    if body is None or body.name not in _RELU_OPS or relu.operands[0] != value:
        return None
    arg = relu.regions[0].blocks[0].arguments[0]
    x, y = body.operands
    zero = y if x == arg else x if y == arg else None
    if zero is None or not _is_positive_zero(zero) or _maps(relu) != [_IDENTITY_4D] * 2:
        return None
    if relu.results[0].type != value.type:
        return None
    return relu


def _is_positive_zero(value) -> bool:
    producer = defining_op(value)
    if producer is None or producer.name != "arith.constant":
        return False
    attr = producer.attributes["value"]
    if not isinstance(attr, ir.FloatAttr):
        return False
    zero = ir.FloatAttr(attr).value
    return zero == 0.0 and math.copysign(1.0, zero) > 0


def _fused_epilogue(conv) -> tuple | None:
    """(bias, the add, the relu or None) reading a conv's result, or None."""
    found = _bias_of(conv.results[0])
    if found is None:
        return None
    bias, add = found
    return bias, add, _relu_of(add.results[0])


def _backprop_filter(op, direct: bool) -> ir.Value:
    xp, g = op.operands[0], op.operands[1]
    strides, dilations, _ = _geometry(op)
    filter_shape = shape_of(op.results[0].type)
    if direct and direct_wins(filter_shape, element_type(xp), filter_gradient=True):
        return direct_filter_gradient(xp, g, filter_shape, strides, dilations)
    return _filter_gradient_gemm(xp, g, filter_shape, strides, dilations)


def _gradient_and_filter(op):
    """(g, f) of core's input-gradient conv: the source of the tensor.insert_slice that spreads the
    gradient, and the input of the generic that flips the filter; None when its operands were not
    built that way."""
    spread, flip = (defining_op(v) for v in op.operands[:2])
    if spread is None or spread.name != "tensor.insert_slice":
        return None
    if flip is None or flip.name != "linalg.generic" or len(flip.operands) != 2:
        return None
    return spread.operands[0], flip.operands[0]


def _backprop_input(op, _direct: bool) -> ir.Value | None:
    found = _gradient_and_filter(op)
    if found is None:
        return None
    g, f = found
    strides, dilations, (top, _, left, _) = _geometry(op)
    result_type = op.results[0].type
    dx = _input_gradient_gemm(f, g, shape_of(result_type), strides, dilations, (top, left))
    return dx if dx.type == result_type else tensor.CastOp(result_type, dx).result


def _max_pool(op, _direct: bool) -> ir.Value | None:
    return max_pool(op) if VECTOR_RUNS else None


def _max_pool_grad(op, _direct: bool) -> ir.Value | None:
    return max_pool_grad_tiles(op) if VECTOR_RUNS else None


_REWRITES = {
    "conv2d": _conv2d,
    "backprop_filter": _backprop_filter,
    "backprop_input": _backprop_input,
    "max_pool": _max_pool,
    "max_pool_grad": _max_pool_grad,
}


# The attributes by which core tags a conv op's (or max_pool_grad's) computing op with its kind.
_TAGS = ("tgc.conv", "tgc.pool")


def _kind(op) -> str | None:
    tag = next((t for t in _TAGS if t in op.attributes), None)
    return None if tag is None else ir.StringAttr(op.attributes[tag]).value


def _tagged_convs(function) -> list:
    """The ops core tagged as a conv op or max_pool_grad (see tgc/lowering/to_core/conv.py), of
    f32 or f64."""
    found = []

    def visit(op):
        op = op.operation
        if _kind(op) is not None and len(op.results) == 1:
            if str(element_type(op.results[0].type)) in _BLAS_TYPES:
                found.append(op)
        return ir.WalkResult.ADVANCE

    function.operation.walk(visit)
    return found


def _erase_unused(op) -> None:
    """Erases ``op`` and then, recursively, the builders of its operands that nothing else reads."""
    producers = [defining_op(v) for v in op.operands]
    op.erase()
    for producer in producers:
        if (
            producer is not None
            and producer.name in _BUILDERS
            and not any(list(r.uses) for r in producer.results)
        ):
            _erase_unused(producer)


def _rewrite(op, direct: bool) -> None:
    kind = _kind(op)
    if kind not in _REWRITES:
        return
    with ir.InsertionPoint(op), op.location:
        result = _REWRITES[kind](op, direct)
    if result is None:
        return
    op.results[0].replace_all_uses_with(result)
    _erase_unused(op)


@dataclasses.dataclass(frozen=True)
class ConvGemmPass(ModulePass):
    """Rewrites core's tagged f32/f64 convs and conv gradients into im2col/col2im and BLAS GEMMs."""

    name = "tgc-conv-gemm"
    # conv2d and its filter gradient with windows of few elements are computed directly
    # (conv_direct.py) instead of by im2col and a GEMM.
    direct: bool = True

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for op in _tagged_convs(function):
                _rewrite(op, self.direct and DIRECT_CONV)
