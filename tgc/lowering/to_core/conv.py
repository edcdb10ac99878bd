"""Core lowering of NHWC convolution and pooling and of their backprop ops.

Forward ops are linalg's named ops on a padded input: conv2d is ``tensor.pad`` (zeros) then
``linalg.conv_2d_nhwc_hwcf``; max_pool pads with -inf for ``linalg.pooling_nhwc_max``; avg_pool is
``linalg.pooling_nhwc_sum`` divided by the per-window count of in-bounds elements (a constant, since
spatial dims are static).

The backprop ops that route a gradient back through strided windows are written as gathers, so that no
loop ever scatters: the gradient is first *spread* onto a zero tensor on the stride lattice (a strided
``tensor.insert_slice``), after which each input position reads a plain stride-1 window of it. That
makes conv2d_backprop_input (for dtypes without BLAS) a stride-1 convolution with the flipped filter (a generic with the channel
loop innermost, faster than the named op under the loop lowering), avg_pool_grad a stride-1 sum
pool, and max_pool_grad a stride-1 window that keeps the entries whose recorded argmax is this
position. conv2d_backprop_filter is a direct ``linalg.generic`` reduction over batch and output pixels.

For f32 and f64 the conv ops become BLAS GEMMs instead. conv2d and conv2d_backprop_filter go through
im2col: a gather copies each output pixel's window into one row of a patch matrix [N*OH*OW, KH*KW*C],
and one linalg.matmul with the reshaped filter (or, for the filter gradient, the patch matrix read
transposed against the gradient) does the arithmetic, which the CPU pipeline's tgc-blas-matmul hands
to OpenBLAS. For the convnet's second layer (batch 32, 14x14x32 -> 64, 5x5) that is one 6272x800x64
GEMM instead of a seven-deep loop nest. conv2d_backprop_input is the GEMM of the gradient with the
transposed filter, giving the columns [N, OH, OW, KH, KW, C], then col2im: one accumulating slice add
per window tap (a loop over the static taps, so still no scatter). Large patch matrices are built and
multiplied one image at a time. Other dtypes keep the direct loops (no BLAS routine for them).

Only the batch dim may be unknown; it is read with ``tensor.dim`` (see ``common.dim``).
"""

from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.dialects import arith, func, linalg, scf, tensor

from tgc.dialect.attrs import encode
from tgc.dialect.ops.conv import avg_pool_counts, spatial_geometry
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL,
    REDUCTION,
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
from tgc.lowering.to_core.linalg_ops import matmul_maps

_ONES = (1, 1, 1, 1)
_DYNAMIC = ir.ShapedType.get_dynamic_size()


# ---- helpers ------------------------------------------------------------------------------------


def _tensor_type(shape, elem) -> ir.RankedTensorType:
    return ir.RankedTensorType.get([_DYNAMIC if d is None else d for d in shape], elem)


def _filled(shape, elem, value, batch_of) -> ir.Value:
    """A tensor of ``shape`` (batch taken from ``batch_of`` when unknown) filled with ``value``."""
    t = _tensor_type(shape, elem)
    dynamic = {0: dim(batch_of, 0)} if shape[0] is None else {}
    return fill(scalar_const(value, elem), empty(t, dynamic))


def _holds_no_element(value_or_type) -> bool:
    """Whether a tensor's type has a static 0 dim."""
    return 0 in shape_of(value_or_type)


def _when_empty(op, batch_of, sums=True):
    """The result of a conv or pool op known to hold no element, as a tensor.empty; with ``sums`` (a
    convolution or its gradients), also that of one with an operand known to hold no element: zeros,
    a sum over no element (conv2d of 0 input channels). None otherwise.

    The general path is never built for them: it pads, slices and collapses at offsets that a 0-size
    dim does not have, which the verifier refuses ('offset 3 is out-of-bounds: 0 >= 0'). ``batch_of``
    has the result's batch dim, the only one that may be unknown.
    """
    empty_operand = any(_holds_no_element(v) for v in op.operands)
    if not (_holds_no_element(op.result_type) or (sums and empty_operand)):
        return None
    dynamic = {0: dim(batch_of, 0)} if shape_of(op.result_type)[0] is None else {}
    result = empty(op.result_type, dynamic)
    if _holds_no_element(op.result_type):
        return result
    return fill(scalar_const(0.0, element_type(op.result_type)), result)


def _map(num_dims, exprs) -> ir.AffineMapAttr:
    """An indexing map from affine expressions; an int stands for that loop dim."""
    built = [ir.AffineDimExpr.get(e) if isinstance(e, int) else e for e in exprs]
    return ir.AffineMapAttr.get(ir.AffineMap.get(num_dims, 0, built))


def _d(i):
    return ir.AffineDimExpr.get(i)


def _index(i) -> ir.Value:
    return linalg.IndexOp(ir.IntegerAttr.get(ir.IntegerType.get_signless(64), i)).result


def _window(kh, kw, elem) -> ir.Value:
    """The shape-only operand that gives pooling loops their window extent (its values are never read)."""
    return tensor.EmptyOp([kh, kw], elem).result


def pad_spatial(x, geometry, value) -> ir.Value:
    """x padded in height and width by the (before, after) amounts of ``geometry``, with ``value``."""
    (_, ht, hb), (_, wl, wr) = geometry
    if ht == hb == wl == wr == 0:
        return x
    n, h, w, c = shape_of(x)
    elem = element_type(x)
    result = _tensor_type((n, h + ht + hb, w + wl + wr, c), elem)
    pad = tensor.PadOp(result, x, [], [], [0, ht, wl, 0], [0, hb, wr, 0])
    block = pad.regions[0].blocks.append(*[ir.IndexType.get()] * 4)
    with ir.InsertionPoint(block):
        tensor.YieldOp(scalar_const(value, elem))
    return pad.result


def spread(v, full_hw, offsets, strides, background) -> ir.Value:
    """v placed on a lattice: out[n, oh + i*sh, ow + j*sw, c] = v[n, i, j, c], ``background`` elsewhere."""
    n, _, _, c = shape_of(v)
    elem = element_type(v)
    dest = _filled((n, full_hw[0], full_hw[1], c), elem, background, v)
    sizes = [_DYNAMIC if d is None else d for d in shape_of(v)]
    dynamic_sizes = [dim(v, 0)] if n is None else []
    return tensor.InsertSliceOp(
        v,
        dest,
        [],
        dynamic_sizes,
        [],
        [0, offsets[0], offsets[1], 0],
        sizes,
        [1, strides[0], strides[1], 1],
    ).result


# ---- conv2d -------------------------------------------------------------------------------------


def _conv_geometry(input_shape, filter_shape, attrs):
    return spatial_geometry(
        input_shape[1:3], filter_shape[:2], attrs["strides"], attrs["dilations"], attrs["padding"]
    )


def _conv(x, f, result_shape, strides, dilations) -> ir.Value:
    """linalg.conv_2d_nhwc_hwcf of an already padded x into a zero-filled result."""
    init = _filled(result_shape, element_type(x), 0.0, x)
    return linalg.conv_2d_nhwc_hwcf(
        x, f, outs=[init], strides=list(strides), dilations=list(dilations)
    )


def _conv_channels_inner(x, f, result_shape, dilations) -> ir.Value:
    """A stride-1 conv as linalg.generic with the output channel innermost (loops n, i, j, kh, kw, c, o).

    Same sum as ``_conv``; under convert-linalg-to-loops this order walks f and the output contiguously
    and vectorizes, where the named op's order (c innermost, a strided scalar reduction) does not:
    measured 2x faster for a 32x28x28x32 input and a 3x3x32x32 filter.
    """
    init = _filled(result_shape, element_type(x), 0.0, x)
    maps = [
        _map(7, [0, _d(1) + _d(3) * dilations[0], _d(2) + _d(4) * dilations[1], 5]),
        _map(7, [3, 4, 5, 6]),
        _map(7, [0, 1, 2, 6]),
    ]
    iterators = [PARALLEL] * 3 + [REDUCTION] * 3 + [PARALLEL]
    return generic(
        [x, f], [init], maps, iterators, lambda a, b, acc: arith.addf(acc, arith.mulf(a, b))
    )[0]


# ---- im2col (f32/f64: the arithmetic becomes one BLAS GEMM) --------------------------------------


def _uses_gemm(value) -> bool:
    return str(element_type(value)) in ("f32", "f64")


def _groups(groups: list) -> ir.ArrayAttr:
    i64 = ir.IntegerType.get_signless(64)
    return ir.ArrayAttr.get(
        [ir.ArrayAttr.get([ir.IntegerAttr.get(i64, i) for i in g]) for g in groups]
    )


def _product(values):
    out = 1
    for v in values:
        out *= v
    return out


def _collapse(value, groups: list) -> ir.Value:
    """collapse_shape of ``value`` by ``groups`` (a group with an unknown dim collapses to unknown)."""
    shape = shape_of(value)
    merged = [
        None if any(shape[i] is None for i in g) else _product(shape[i] for i in g) for g in groups
    ]
    return tensor.CollapseShapeOp(
        _tensor_type(merged, element_type(value)), value, _groups(groups)
    ).result


def _expand_rows(matrix, shape, batch_of) -> ir.Value:
    """The [N*OH*OW, O] matrix back to [N, OH, OW, O] (N read from ``batch_of`` when unknown)."""
    result = _tensor_type(shape, element_type(matrix))
    dynamic = [dim(batch_of, 0)] if shape[0] is None else []
    static = [_DYNAMIC if d is None else d for d in shape]
    return tensor.ExpandShapeOp(result, matrix, _groups([[0, 1, 2], [3]]), dynamic, static).result


def _gemm_call(a, b, out_type, transpose_a=False, acc=None, transpose_b=False) -> ir.Value:
    """matmul(a, b) (added to ``acc`` when given, else into zeros of ``out_type``) through a private
    function holding the linalg.matmul.

    The call keeps linalg-fuse-elementwise-ops from folding the im2col reshapes into the matmul (it
    would turn it into a 7-loop generic that no longer reaches BLAS); LLVM inlines the call afterwards.
    Without ``acc`` the function takes an empty tensor and zero-fills it itself (name suffix ``_z``), so
    tgc-blas-matmul sees fill-then-matmul and calls BLAS with beta = 0 instead of a memset of C first
    (the convnet's per-image col2im GEMMs zeroed 20 MB per step that way).
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
    module = ir.InsertionPoint.current.block.owner
    while (
        not isinstance(getattr(module, "opview", module), ir.Module)
        and module.name != "builtin.module"
    ):
        module = module.parent
    body = module.regions[0].blocks[0]
    if not any(
        op.operation.name == "func.func" and ir.StringAttr(op.attributes["sym_name"]).value == name
        for op in body.operations
    ):
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
    n, _, _, c = shape_of(xp)
    shape = (n, out_hw[0], out_hw[1], window[0], window[1], c)
    init = empty(_tensor_type(shape, element_type(xp)), {0: dim(xp, 0)} if n is None else {})
    source = _map(
        6,
        [
            0,
            _d(1) * strides[0] + _d(3) * dilations[0],
            _d(2) * strides[1] + _d(4) * dilations[1],
            5,
        ],
    )
    patches = generic([xp], [init], [source, identity_map(6)], [PARALLEL] * 6, lambda v, _: v)[0]
    return _collapse(patches, [[0, 1, 2], [3, 4, 5]])


# Per-image patch matrices at least this large are built and multiplied one image at a time: the
# whole batch's matrix (40 MB for the convnet's input gradient) is above glibc's mmap threshold, so
# every step paid for fresh zeroed pages, and it streams through DRAM twice. One image's (1.25 MB)
# stays in cache between the gather and the GEMM. Smaller ones keep the single batch-wide GEMM.
PER_IMAGE_PATCH_BYTES = 256 * 1024


def _per_image(xp, out_hw, window, channels=None) -> bool:
    """True when one image's [OH*OW, KH*KW*C] patch (or column) matrix reaches PER_IMAGE_PATCH_BYTES;
    C is xp's channel count unless ``channels`` is given."""
    c = shape_of(xp)[3] if channels is None else channels
    elem_bytes = 8 if str(element_type(xp)) == "f64" else 4
    return out_hw[0] * out_hw[1] * window[0] * window[1] * c * elem_bytes >= PER_IMAGE_PATCH_BYTES


def _image(v, n) -> ir.Value:
    """v[n:n+1] of an NHWC tensor (``n`` an index value), batch dim kept as 1."""
    _, h, w, c = shape_of(v)
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    result = _tensor_type((1, h, w, c), element_type(v))
    return tensor.ExtractSliceOp(
        result, v, [n], [], [], [dynamic, 0, 0, 0], [1, h, w, c], [1, 1, 1, 1]
    ).result


def _insert_image(v, dest, n) -> ir.Value:
    _, h, w, c = shape_of(v)
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    return tensor.InsertSliceOp(
        v, dest, [n], [], [], [dynamic, 0, 0, 0], [1, h, w, c], [1, 1, 1, 1]
    ).result


def _over_images(batch_of, init, body) -> ir.Value:
    """scf.for n over the batch of ``batch_of`` carrying ``init``; ``body(n, carried)`` returns the next."""
    loop = scf.ForOp(const_index(0), dim(batch_of, 0), const_index(1), [init])
    with ir.InsertionPoint(loop.body):
        scf.YieldOp([body(loop.induction_variable, loop.inner_iter_args[0])])
    return loop.results[0]


def _conv_gemm(xp, f, result_shape, strides, dilations) -> ir.Value:
    """conv2d of an already padded xp as patches [N*OH*OW, KH*KW*C] @ filter [KH*KW*C, O]."""
    n, oh, ow, o = result_shape
    kh, kw, _, _ = shape_of(f)
    if _per_image(xp, (oh, ow), (kh, kw)):
        return _conv_gemm_per_image(xp, f, result_shape, strides, dilations)
    patches = _patch_matrix(xp, (oh, ow), (kh, kw), strides, dilations)
    rows = None if n is None else n * oh * ow
    product = _gemm_call(
        patches, _collapse(f, [[0, 1, 2], [3]]), _tensor_type((rows, o), element_type(xp))
    )
    return _expand_rows(product, result_shape, xp)


def _conv_gemm_per_image(xp, f, result_shape, strides, dilations) -> ir.Value:
    """``_conv_gemm`` one image at a time: out[n] = patches(xp[n]) @ filter, for n over the batch."""
    _, oh, ow, o = result_shape
    kh, kw, _, _ = shape_of(f)
    filter_matrix = _collapse(f, [[0, 1, 2], [3]])
    rows_type = _tensor_type((oh * ow, o), element_type(xp))

    def body(n, out):
        patches = _patch_matrix(_image(xp, n), (oh, ow), (kh, kw), strides, dilations)
        product = _gemm_call(patches, filter_matrix, rows_type)
        return _insert_image(_expand_rows(product, (1, oh, ow, o), xp), out, n)

    return _over_images(
        xp, empty(_tensor_type(result_shape, element_type(xp)), {0: dim(xp, 0)}), body
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
        _collapse(g, [[0, 1, 2], [3]]),
        _tensor_type((kh * kw * c, o), element_type(xp)),
        transpose_a=True,
    )
    result = _tensor_type(filter_shape, element_type(xp))
    return tensor.ExpandShapeOp(
        result, product, _groups([[0, 1, 2], [3]]), [], list(filter_shape)
    ).result


def _filter_gradient_per_image(xp, g, filter_shape, strides, dilations) -> ir.Value:
    """``_filter_gradient_gemm`` summed one image at a time (BLAS accumulates with beta = 1)."""
    _, oh, ow, _ = shape_of(g)
    kh, kw, c, o = filter_shape
    elem = element_type(xp)
    total = fill(scalar_const(0.0, elem), empty(_tensor_type((kh * kw * c, o), elem), {}))

    def body(n, acc):
        patches = _patch_matrix(_image(xp, n), (oh, ow), (kh, kw), strides, dilations)
        return _gemm_call(
            patches, _collapse(_image(g, n), [[0, 1, 2], [3]]), None, transpose_a=True, acc=acc
        )

    product = _over_images(xp, total, body)
    result = _tensor_type(filter_shape, elem)
    return tensor.ExpandShapeOp(
        result, product, _groups([[0, 1, 2], [3]]), [], list(filter_shape)
    ).result


@lowers("conv2d")
def _conv2d(op):
    x, f = op.operands
    if (known := _when_empty(op, x)) is not None:
        return known
    geometry = _conv_geometry(shape_of(x), shape_of(f), op.attrs)
    xp = pad_spatial(x, geometry, 0.0)
    s, d = op.attrs["strides"], op.attrs["dilations"]
    if _uses_gemm(x):
        return _conv_gemm(xp, f, shape_of(op.result_type), s[1:3], d[1:3])
    return _conv(xp, f, shape_of(op.result_type), s[1:3], d[1:3])


def _flipped_filter(f) -> ir.Value:
    """f'[kh, kw, o, c] = f[KH-1-kh, KW-1-kw, c, o]: the filter of the transposed convolution."""
    kh, kw, c, o = shape_of(f)
    init = empty(_tensor_type((kh, kw, o, c), element_type(f)), {})
    source = _map(4, [(kh - 1) - _d(0), (kw - 1) - _d(1), 3, 2])
    return generic([f], [init], [source, identity_map(4)], [PARALLEL] * 4, lambda a, _: a)[0]


def _col2im_ranges(in_size, out_size, k, stride, dilation, before):
    """For window offset k: (first output index, count, first input index) of the outputs whose tap
    lands inside the input, h = i*stride + k*dilation - before with 0 <= h < in_size; None if none."""
    shift = k * dilation - before
    first = max(0, (stride - 1 - shift) // stride)  # ceil(-shift / stride), at least 0
    last = min(out_size - 1, (in_size - 1 - shift) // stride)
    if last < first:
        return None
    return first, last - first + 1, first * stride + shift


def _col2im(columns, input_shape, window, strides, dilations, before, elem) -> ir.Value:
    """dx [n, H, W, C] = sum over window taps (kh, kw) of columns [n, OH, OW, KH, KW, C] placed at
    h = i*sh + kh*dh - pt: one accumulating slice add per tap, over the outputs whose tap is in bounds."""
    n, oh, ow, kh_size, kw_size, c = shape_of(columns)
    _, h, w, _ = input_shape
    batch = [dim(columns, 0)] if n is None else []
    acc = fill(
        scalar_const(0.0, elem),
        empty(_tensor_type((n, h, w, c), elem), {0: batch[0]} if batch else {}),
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
                _tensor_type((n, ci, cj, c), elem),
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
                _tensor_type((n, ci, cj, c), elem),
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


def _input_gradient_gemm(f, g, input_shape, strides, dilations, before) -> ir.Value:
    """dx = col2im(g [rows, O] @ f^T [O, KH*KW*C]), one image at a time when its column matrix is large.

    The GEMM has the forward conv's shape transposed (N = KH*KW*C wide), which OpenBLAS runs about
    1.6x faster than the flipped-filter conv's N = C (measured for the convnet's 196x64x800 vs
    196x1600x32 per image), and the columns are half the size of that conv's patch matrix.
    """
    n, oh, ow, _ = shape_of(g)
    kh, kw, c, _ = shape_of(f)
    elem = element_type(g)
    input_shape = (n,) + tuple(
        input_shape[1:]
    )  # the batch as g has it (the caller casts to the result's)
    filter_rows = _collapse(f, [[0, 1, 2], [3]])  # [KH*KW*C, O], read transposed by the GEMM

    def columns_of(gi, images):
        rows = None if images is None else images * oh * ow
        product = _gemm_call(
            _collapse(gi, [[0, 1, 2], [3]]),
            filter_rows,
            _tensor_type((rows, kh * kw * c), elem),
            transpose_b=True,
        )
        shape = (images, oh, ow, kh, kw, c)
        dynamic = [dim(gi, 0)] if images is None else []
        return tensor.ExpandShapeOp(
            _tensor_type(shape, elem),
            product,
            _groups([[0, 1, 2], [3, 4, 5]]),
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
        g, empty(_tensor_type(input_shape, elem), {0: dim(g, 0)} if n is None else {}), body
    )


@lowers("conv2d_backprop_input")
def _conv2d_backprop_input(op):
    # f32/f64: GEMM and col2im. Otherwise dx[h] = sum_kh g_lattice[h + pt - kh*d]: a stride-1 conv of
    # the spread gradient with the flipped filter, dilated by d. The spread puts g[i] at
    # (KH-1)*d - pt + i*s of a tensor H + (KH-1)*d long.
    f, g, x = op.operands
    if (known := _when_empty(op, g)) is not None:
        return known
    _, h, w, _ = shape_of(x)
    kh, kw, _, _ = shape_of(f)
    s, d = op.attrs["strides"], op.attrs["dilations"]
    (_, ht, _), (_, wl, _) = _conv_geometry(shape_of(x), shape_of(f), op.attrs)
    if _uses_gemm(g):
        dx = _input_gradient_gemm(f, g, shape_of(op.result_type), s[1:3], d[1:3], (ht, wl))
        return dx if dx.type == op.result_type else tensor.CastOp(op.result_type, dx).result
    full = (h + (kh - 1) * d[1], w + (kw - 1) * d[2])
    gp = spread(g, full, ((kh - 1) * d[1] - ht, (kw - 1) * d[2] - wl), s[1:3], 0.0)
    return _conv_channels_inner(gp, _flipped_filter(f), shape_of(op.result_type), d[1:3])


@lowers("conv2d_backprop_filter")
def _conv2d_backprop_filter(op):
    # df[kh, kw, c, o] = sum over (n, i, j) of xpad[n, i*sh + kh*dh, j*sw + kw*dw, c] * g[n, i, j, o].
    # Loops (n, i, j, kh, kw, c, o): o innermost, so the accumulation walks contiguous memory.
    x, g = op.operands
    if (known := _when_empty(op, x)) is not None:
        return known
    filter_shape = shape_of(op.result_type)
    s, d = op.attrs["strides"], op.attrs["dilations"]
    xp = pad_spatial(x, _conv_geometry(shape_of(x), filter_shape, op.attrs), 0.0)
    if _uses_gemm(x):
        return _filter_gradient_gemm(xp, g, filter_shape, s[1:3], d[1:3])
    elem = element_type(x)
    init = fill(scalar_const(0.0, elem), empty(op.result_type, {}))
    maps = [
        _map(7, [0, _d(1) * s[1] + _d(3) * d[1], _d(2) * s[2] + _d(4) * d[2], 5]),
        _map(7, [0, 1, 2, 6]),
        _map(7, [3, 4, 5, 6]),
    ]
    iterators = [REDUCTION] * 3 + [PARALLEL] * 4
    return generic(
        [xp, g], [init], maps, iterators, lambda a, b, acc: arith.addf(acc, arith.mulf(a, b))
    )[0]


# ---- pooling ------------------------------------------------------------------------------------


def _pool_geometry(input_shape, attrs):
    return spatial_geometry(
        input_shape[1:3], attrs["ksize"][1:3], attrs["strides"], _ONES, attrs["padding"]
    )


@lowers("max_pool")
def _max_pool(op):
    (x,) = op.operands
    if (known := _when_empty(op, x, sums=False)) is not None:
        return known
    k, s = op.attrs["ksize"], op.attrs["strides"]
    elem = element_type(x)
    xp = pad_spatial(x, _pool_geometry(shape_of(x), op.attrs), float("-inf"))
    init = _filled(shape_of(op.result_type), elem, float("-inf"), x)
    return linalg.pooling_nhwc_max(
        xp, _window(k[1], k[2], elem), outs=[init], strides=list(s[1:3]), dilations=[1, 1]
    )


def _counts(op, input_shape) -> ir.Value:
    """The (out_h, out_w) constant of in-bounds elements per window."""
    a = op.attrs
    counts = avg_pool_counts(tuple(input_shape[1:3]), a["ksize"], a["strides"], a["padding"])
    elem = element_type(op.operands[0])
    array = counts.astype(
        {"f16": np.float16, "f32": np.float32, "f64": np.float64}.get(str(elem), np.float32)
    )
    if str(elem) == "bf16":  # no bf16 numpy constants: build in f32 and truncate
        f32 = arith.ConstantOp(
            _tensor_type(counts.shape, ir.F32Type.get()), encode("tensor", array)
        ).result
        init = empty(_tensor_type(counts.shape, elem), {})
        return generic(
            [f32], [init], [identity_map(2)] * 2, [PARALLEL] * 2, lambda v, _: arith.truncf(elem, v)
        )[0]
    return arith.ConstantOp(_tensor_type(counts.shape, elem), encode("tensor", array)).result


def _divide_by_counts(v, counts) -> ir.Value:
    """v[n, i, j, c] / counts[i, j]."""
    init = empty(v.type, {0: dim(v, 0)} if shape_of(v)[0] is None else {})
    maps = [identity_map(4), _map(4, [1, 2]), identity_map(4)]
    return generic([v, counts], [init], maps, [PARALLEL] * 4, lambda a, b, _: arith.divf(a, b))[0]


@lowers("avg_pool")
def _avg_pool(op):
    (x,) = op.operands
    if (known := _when_empty(op, x, sums=False)) is not None:
        return known
    k, s = op.attrs["ksize"], op.attrs["strides"]
    elem = element_type(x)
    xp = pad_spatial(x, _pool_geometry(shape_of(x), op.attrs), 0.0)
    init = _filled(shape_of(op.result_type), elem, 0.0, x)
    total = linalg.pooling_nhwc_sum(
        xp, _window(k[1], k[2], elem), outs=[init], strides=list(s[1:3]), dilations=[1, 1]
    )
    return _divide_by_counts(total, _counts(op, shape_of(x)))


def _lattice(op, input_shape, g, background) -> ir.Value:
    """g spread so that input position h reads window offset kh at h + (KH-1-kh): see ``spread``."""
    k, s = op.attrs["ksize"], op.attrs["strides"]
    (_, ht, _), (_, wl, _) = _pool_geometry(input_shape, op.attrs)
    full = (input_shape[1] + k[1] - 1, input_shape[2] + k[2] - 1)
    return spread(g, full, (k[1] - 1 - ht, k[2] - 1 - wl), s[1:3], background)


@lowers("avg_pool_grad")
def _avg_pool_grad(op):
    # Each window spreads g / count over its elements: a stride-1 sum pool of the spread shares.
    x, g = op.operands
    if (known := _when_empty(op, x, sums=False)) is not None:
        return known
    k = op.attrs["ksize"]
    elem = element_type(g)
    shares = _lattice(op, shape_of(x), _divide_by_counts(g, _counts(op, shape_of(x))), 0.0)
    init = _filled(shape_of(op.result_type), elem, 0.0, g)
    return linalg.pooling_nhwc_sum(
        shares, _window(k[1], k[2], elem), outs=[init], strides=[1, 1], dilations=[1, 1]
    )


def _first_argmax(xp, out_shape, k, s) -> ir.Value:
    """For each window, kh*KW + kw of its first maximum (row-major), as i32.

    Ties go to the smaller offset whatever order the loops run in, which is how "first" is defined.
    """
    elem = element_type(xp)
    i32 = ir.IntegerType.get_signless(32)
    best = _filled(out_shape, elem, float("-inf"), xp)
    where = _filled(out_shape, i32, k[1] * k[2], xp)
    maps = [
        _map(6, [0, _d(1) * s[1] + _d(4), _d(2) * s[2] + _d(5), 3]),
        _map(6, [4, 5]),
        _map(6, [0, 1, 2, 3]),
        _map(6, [0, 1, 2, 3]),
    ]

    def body(v, _w, m, at):
        offset = arith.addi(arith.muli(_index(4), const_index(k[2])), _index(5))
        offset = arith.index_cast(i32, offset)
        above = arith.cmpf(arith.CmpFPredicate.OGT, v, m)
        tie_before = arith.andi(
            arith.cmpf(arith.CmpFPredicate.OEQ, v, m),
            arith.cmpi(arith.CmpIPredicate.slt, offset, at),
        )
        take = arith.ori(above, tie_before)
        return [arith.select(take, v, m), arith.select(take, offset, at)]

    window = _window(k[1], k[2], elem)
    return generic([xp, window], [best, where], maps, [PARALLEL] * 4 + [REDUCTION] * 2, body)[1]


def _tiles_input(op, input_shape) -> bool:
    """True when the pooling windows tile the padded input: stride == window, and every input row and
    column lies in exactly one window (always so for SAME; for VALID when the windows reach the end)."""
    k, s = op.attrs["ksize"], op.attrs["strides"]
    if tuple(k[1:3]) != tuple(s[1:3]):
        return False
    geometry = _pool_geometry(input_shape, op.attrs)
    return all(
        out * k[i + 1] >= input_shape[i + 1] + before for i, (out, before, _) in enumerate(geometry)
    )


def _max_pool_grad_tiled(x, g, at, k, geometry) -> ir.Value:
    """max_pool_grad for non-overlapping windows: each input element has one window, so
    dx[n, oh*KH + kh - pt, ow*KW + kw - pl, c] = g[n, oh, ow, c] where that window's argmax is (kh, kw).

    One generic writes the padded-input-sized [N, OH, KH, OW, KW, C] (g and the argmax read once per
    element, no lattice or reduction loops); the padding rows are then sliced off. For the convnet's
    first pool (32x28x28x32, 2x2) this replaced 2.9 ms of spread + six-deep loops.
    """
    n, oh, ow, c = shape_of(g)
    elem = element_type(g)
    shape = (n, oh, k[1], ow, k[2], c)
    init = empty(_tensor_type(shape, elem), {0: dim(g, 0)} if n is None else {})
    reads = _map(6, [0, 1, 3, 5])

    def body(gv, where, _):
        # g where this element is its window's argmax, else +0, as bits(g) & keep with keep all ones
        # exactly when d = argmax - offset is 0: (d*d - 1) >> 31. A select here (or a mask LLVM can
        # see is one) becomes a branch around the load of g once a 32-channel loop is fully unrolled,
        # mispredicted per element: 3 ms instead of 0.2 for a 32x28x28x32 input. |d| <= KH*KW.
        offset = arith.addi(arith.muli(_index(2), const_index(k[2])), _index(4))
        i32, bits = where.type, ir.IntegerType.get_signless(elem.width)
        d = arith.subi(where, arith.index_cast(i32, offset))
        keep = arith.shrsi(
            arith.subi(arith.muli(d, d), scalar_const(1, i32)), scalar_const(31, i32)
        )
        if bits.width != 32:  # all ones or zero, at the element's width
            keep = arith.extsi(bits, keep) if bits.width > 32 else arith.trunci(bits, keep)
        return arith.bitcast(elem, arith.andi(arith.bitcast(bits, gv), keep))

    tiles = generic([g, at], [init], [reads, reads, identity_map(6)], [PARALLEL] * 6, body)[0]
    padded = _collapse(tiles, [[0], [1, 2], [3, 4], [5]])
    _, h, w, _ = shape_of(x)
    (_, ht, _), (_, wl, _) = geometry
    result = _tensor_type((n, h, w, c), elem)
    dynamic = [dim(g, 0)] if n is None else []
    sizes = [_DYNAMIC if n is None else n, h, w, c]
    return tensor.ExtractSliceOp(
        result, padded, [], dynamic, [], [0, ht, wl, 0], sizes, [1, 1, 1, 1]
    ).result


@lowers("max_pool_grad")
def _max_pool_grad(op):
    # dx[h, w] = sum over windows whose first maximum is (h, w) of their gradient. With g and the argmax
    # spread onto the lattice, input position h sees window offset kh at h + (KH-1-kh).
    x, g = op.operands
    if (known := _when_empty(op, x, sums=False)) is not None:
        return known
    k, s = op.attrs["ksize"], op.attrs["strides"]
    elem = element_type(g)
    geometry = _pool_geometry(shape_of(x), op.attrs)
    xp = pad_spatial(x, geometry, float("-inf"))
    at = _first_argmax(xp, shape_of(g), k, s)
    if _tiles_input(op, shape_of(x)):
        return _max_pool_grad_tiled(x, g, at, k, geometry)
    g_lat = _lattice(op, shape_of(x), g, 0.0)
    at_lat = _lattice(op, shape_of(x), at, -1)
    init = _filled(shape_of(op.result_type), elem, 0.0, g)
    reads = _map(6, [0, _d(1) + _d(4), _d(2) + _d(5), 3])
    maps = [reads, reads, _map(6, [4, 5]), _map(6, [0, 1, 2, 3])]

    def body(gv, where, _w, acc):
        flipped = arith.addi(
            arith.muli(arith.subi(const_index(k[1] - 1), _index(4)), const_index(k[2])),
            arith.subi(const_index(k[2] - 1), _index(5)),
        )
        mine = arith.cmpi(arith.CmpIPredicate.eq, where, arith.index_cast(where.type, flipped))
        return arith.addf(acc, arith.select(mine, gv, scalar_const(0.0, elem)))

    inputs = [g_lat, at_lat, _window(k[1], k[2], elem)]
    return generic(inputs, [init], maps, [PARALLEL] * 4 + [REDUCTION] * 2, body)[0]
