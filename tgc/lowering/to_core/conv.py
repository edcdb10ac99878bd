"""Core lowering of NHWC convolution and pooling and of their backprop ops.

Forward ops are linalg's named ops on a padded input: conv2d is ``tensor.pad`` (zeros) then
``linalg.conv_2d_nhwc_hwcf``; max_pool pads with -inf for ``linalg.pooling_nhwc_max``; avg_pool is
``linalg.pooling_nhwc_sum`` divided by the per-window count of in-bounds elements (a constant, since
spatial dims are static).

The backprop ops that route a gradient back through strided windows are written as gathers, so
that no loop ever scatters: the gradient is first *spread* onto a zero tensor on the stride lattice
(a strided ``tensor.insert_slice``), after which each input position reads a plain stride-1 window
of it. That makes conv2d_backprop_input a stride-1 convolution with the flipped filter (a generic
with the channel loop innermost, faster than the named op under the loop lowering), avg_pool_grad a
stride-1 sum pool, and max_pool_grad a stride-1 window that keeps the entries whose recorded argmax
is this position. conv2d_backprop_filter is a direct ``linalg.generic`` reduction over batch and
output pixels.

This form is the same for every dtype and every target. So that a target can compute a convolution
its own way (the CPU target turns f32/f64 ones into BLAS GEMMs: tgc/lowering/cpu/conv_gemm.py)
without recognising generics by their shape, the linalg op that computes each conv op's result
carries discardable attributes; a target that ignores them runs the loops as they are:

- ``tgc.conv``: ``"conv2d"`` on the named conv (operands: the padded input, the filter),
  ``"backprop_filter"`` on the filter-gradient generic (inputs: the padded input, the gradient),
  ``"backprop_input"`` on the input-gradient generic (inputs: the spread gradient, written by a
  ``tensor.insert_slice`` of the gradient, and the flipped filter, a generic of the filter);
- ``tgc.conv_strides``, ``tgc.conv_dilations``: the forward conv's (height, width) strides and
  dilations;
- ``tgc.conv_padding``: its zero padding (top, bottom, left, right) of the input.

max_pool and max_pool_grad are tagged too, with ``tgc.pool`` (not ``tgc.conv``, which the targets
that compute convolutions their own way all take): ``"max_pool"`` on the named pooling op,
``"max_pool_grad"`` (only for windows that tile the input) on the generic that writes the
[N, OH, KH, OW, KW, C] tiles (inputs: the gradient and the windows' first argmax, a generic whose
first input is the padded input). The CPU computes them with vectors
(tgc/lowering/cpu/pool_vector.py).

Only the batch dim may be unknown; it is read with ``tensor.dim`` (see ``common.dim``).
"""

from __future__ import annotations

import math

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg, tensor

from tgc.dialect.attrs import encode
from tgc.dialect.ops.conv import avg_pool_counts, spatial_geometry
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL,
    REDUCTION,
    check_dims,
    const_index,
    dim,
    dim_key,
    element_type,
    empty,
    fail_out_of_range,
    fill,
    generic,
    identity_map,
    scalar_const,
    shape_of,
)

_ONES = (1, 1, 1, 1)
_DYNAMIC = ir.ShapedType.get_dynamic_size()


# ---- helpers ------------------------------------------------------------------------------------


def tensor_type(shape, elem) -> ir.RankedTensorType:
    return ir.RankedTensorType.get([_DYNAMIC if d is None else d for d in shape], elem)


def reassociation(groups: list) -> ir.ArrayAttr:
    """The reassociation attribute of a collapse/expand_shape from lists of dim indices."""
    i64 = ir.IntegerType.get_signless(64)
    return ir.ArrayAttr.get(
        [ir.ArrayAttr.get([ir.IntegerAttr.get(i64, i) for i in g]) for g in groups]
    )


def collapse(value, groups: list) -> ir.Value:
    """collapse_shape of ``value`` by ``groups`` (a group with an unknown dim collapses to
    unknown)."""
    shape = shape_of(value)
    merged = [
        None if any(shape[i] is None for i in g) else math.prod(shape[i] for i in g) for g in groups
    ]
    return tensor.CollapseShapeOp(
        tensor_type(merged, element_type(value)), value, reassociation(groups)
    ).result


def _filled(shape, elem, value, batch_of) -> ir.Value:
    """A tensor of ``shape`` (batch taken from ``batch_of`` when unknown) filled with ``value``."""
    t = tensor_type(shape, elem)
    dynamic = {0: dim(batch_of, 0)} if shape[0] is None else {}
    return fill(scalar_const(value, elem), empty(t, dynamic))


def _holds_no_element(value_or_type) -> bool:
    """Whether a tensor's type has a static 0 dim."""
    return 0 in shape_of(value_or_type)


def _when_empty(op, batch_of, sums=True):
    """The result of a conv or pool op known to hold no element, as a tensor.empty; with ``sums`` (a
    convolution or its gradients), also that of one with an operand known to hold no element: zeros,
    a sum over no element (conv2d of 0 input channels). None otherwise.

    The general path is never built for them: it pads, slices and collapses at offsets that a
    0-size dim does not have, which the verifier refuses ('offset 3 is out-of-bounds: 0 >= 0').
    ``batch_of`` has the result's batch dim, the only one that may be unknown.
    """
    empty_operand = any(_holds_no_element(v) for v in op.operands)
    if not (_holds_no_element(op.result_type) or (sums and empty_operand)):
        return None
    dynamic = {0: dim(batch_of, 0)} if shape_of(op.result_type)[0] is None else {}
    result = empty(op.result_type, dynamic)
    if _holds_no_element(op.result_type):
        return result
    return fill(scalar_const(0.0, element_type(op.result_type)), result)


def indexing_map(num_dims, exprs) -> ir.AffineMapAttr:
    """An indexing map from affine expressions; an int stands for that loop dim."""
    built = [ir.AffineDimExpr.get(e) if isinstance(e, int) else e for e in exprs]
    return ir.AffineMapAttr.get(ir.AffineMap.get(num_dims, 0, built))


def loop_dim(i):
    return ir.AffineDimExpr.get(i)


def _index(i) -> ir.Value:
    return linalg.IndexOp(ir.IntegerAttr.get(ir.IntegerType.get_signless(64), i)).result


def _window(kh, kw, elem) -> ir.Value:
    """The shape-only operand that gives pooling loops their window extent (its values are never
    read)."""
    return tensor.EmptyOp([kh, kw], elem).result


def pad_spatial(x, geometry, value) -> ir.Value:
    """x padded in height and width by the (before, after) amounts of ``geometry``, with
    ``value``."""
    (_, ht, hb), (_, wl, wr) = geometry
    if ht == hb == wl == wr == 0:
        return x
    n, h, w, c = shape_of(x)
    elem = element_type(x)
    result = tensor_type((n, h + ht + hb, w + wl + wr, c), elem)
    pad = tensor.PadOp(result, x, [], [], [0, ht, wl, 0], [0, hb, wr, 0])
    block = pad.regions[0].blocks.append(*[ir.IndexType.get()] * 4)
    with ir.InsertionPoint(block):
        tensor.YieldOp(scalar_const(value, elem))
    return pad.result


def spread(v, full_hw, offsets, strides, background) -> ir.Value:
    """v placed on a lattice: out[n, oh + i*sh, ow + j*sw, c] = v[n, i, j, c], ``background``
    elsewhere."""
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
    """A stride-1 conv as linalg.generic with the output channel innermost (loops n, i, j, kh, kw,
    c, o).

    Same sum as ``_conv``; under convert-linalg-to-loops this order walks f and the output
    contiguously and vectorizes, where the named op's order (c innermost, a strided scalar
    reduction) does not.
    """
    init = _filled(result_shape, element_type(x), 0.0, x)
    maps = [
        indexing_map(
            7,
            [
                0,
                loop_dim(1) + loop_dim(3) * dilations[0],
                loop_dim(2) + loop_dim(4) * dilations[1],
                5,
            ],
        ),
        indexing_map(7, [3, 4, 5, 6]),
        indexing_map(7, [0, 1, 2, 6]),
    ]
    iterators = [PARALLEL] * 3 + [REDUCTION] * 3 + [PARALLEL]
    return generic(
        [x, f], [init], maps, iterators, lambda a, b, acc: arith.addf(acc, arith.mulf(a, b))
    )[0]


def mark(value, kind, op, geometry) -> ir.Value:
    """Tags the linalg op that computes ``value`` as the conv op ``kind`` (module docstring)."""
    (_, top, bottom), (_, left, right) = geometry
    i64_array = ir.DenseI64ArrayAttr.get
    marked = value.owner
    marked.attributes["tgc.conv"] = ir.StringAttr.get(kind)
    marked.attributes["tgc.conv_strides"] = i64_array(list(op.attrs["strides"][1:3]))
    marked.attributes["tgc.conv_dilations"] = i64_array(list(op.attrs["dilations"][1:3]))
    marked.attributes["tgc.conv_padding"] = i64_array([top, bottom, left, right])
    return value


@lowers("conv2d")
def _conv2d(op):
    x, f = op.operands
    if (known := _when_empty(op, x)) is not None:
        return known
    geometry = _conv_geometry(shape_of(x), shape_of(f), op.attrs)
    xp = pad_spatial(x, geometry, 0.0)
    s, d = op.attrs["strides"], op.attrs["dilations"]
    return mark(_conv(xp, f, shape_of(op.result_type), s[1:3], d[1:3]), "conv2d", op, geometry)


def _flipped_filter(f) -> ir.Value:
    """f'[kh, kw, o, c] = f[KH-1-kh, KW-1-kw, c, o]: the filter of the transposed convolution."""
    kh, kw, c, o = shape_of(f)
    init = empty(tensor_type((kh, kw, o, c), element_type(f)), {})
    source = indexing_map(4, [(kh - 1) - loop_dim(0), (kw - 1) - loop_dim(1), 3, 2])
    return generic([f], [init], [source, identity_map(4)], [PARALLEL] * 4, lambda a, _: a)[0]


def _check_same_batch(op, x, g, kernel: str) -> None:
    """TF's check that x and the gradient g hold the same batch, where one is known at run time
    only (the graph checked the static dims; spatial dims are always static): the lowering reads
    both over the batch of one of them."""
    if dim_key(x, 0) == dim_key(g, 0):
        return  # equal by construction
    x_batch, g_batch = dim(x, 0), dim(g, 0)
    differ = arith.cmpi(arith.CmpIPredicate.ne, x_batch, g_batch)
    message = (
        f"{kernel}: input and out_backprop must have the same batch size. "
        "Input batch: {0}, outbackprop batch: {1}, batch_dim: 0"
    )
    fail_out_of_range(op.operation, differ, message, [x_batch, g_batch])


def _with_static_gradient(op, g, input_shape, filter_shape, kernel: str) -> ir.Value:
    """g cast to the shape the convolution of ``input_shape`` by ``filter_shape`` gives (its batch
    as it is), after TF's checks of each of g's spatial and depth dims known at run time only:
    the lowering reads g over those sizes."""
    shape = shape_of(g)
    if None not in shape[1:]:
        return g
    geometry = _conv_geometry(input_shape, filter_shape, op.attrs)
    expected = [shape[0], geometry[0][0], geometry[1][0], filter_shape[3]]
    s, d = op.attrs["strides"], op.attrs["dilations"]
    for axis in (1, 2):
        if shape[axis] is None:
            actual = dim(g, axis)
            differ = arith.cmpi(arith.CmpIPredicate.ne, actual, const_index(expected[axis]))
            message = (
                f"{kernel}: Size of out_backprop doesn't match computed: actual = {{0}}, "
                f"computed = {expected[axis]} spatial_dim: {axis} input: {input_shape[axis]} "
                f"filter: {filter_shape[axis - 1]} output: {{0}} stride: {s[axis]} "
                f"dilation: {d[axis]}"
            )
            fail_out_of_range(op.operation, differ, message, [actual])
    if shape[3] is None:
        differ = arith.cmpi(arith.CmpIPredicate.ne, dim(g, 3), const_index(expected[3]))
        message = f"{kernel}: filter and out_backprop must have the same out_depth"
        fail_out_of_range(op.operation, differ, message, [])
    return tensor.cast(tensor_type(expected, element_type(g)), g)


@lowers("conv2d_backprop_input")
def _conv2d_backprop_input(op):
    # dx[h] = sum_kh g_lattice[h + pt - kh*d]: a stride-1 conv of the spread gradient with the
    # flipped filter, dilated by d. The spread puts g[i] at (KH-1)*d - pt + i*s of a tensor
    # H + (KH-1)*d long.
    f, g, x = op.operands
    _check_same_batch(op, x, g, "Conv2DCustomBackpropInput")
    g = _with_static_gradient(op, g, shape_of(x), shape_of(f), "Conv2DCustomBackpropInput")
    if (known := _when_empty(op, g)) is not None:
        return known
    _, h, w, _ = shape_of(x)
    kh, kw, _, _ = shape_of(f)
    s, d = op.attrs["strides"], op.attrs["dilations"]
    geometry = _conv_geometry(shape_of(x), shape_of(f), op.attrs)
    (_, ht, _), (_, wl, _) = geometry
    full = (h + (kh - 1) * d[1], w + (kw - 1) * d[2])
    gp = spread(g, full, ((kh - 1) * d[1] - ht, (kw - 1) * d[2] - wl), s[1:3], 0.0)
    dx = _conv_channels_inner(gp, _flipped_filter(f), shape_of(op.result_type), d[1:3])
    return mark(dx, "backprop_input", op, geometry)


@lowers("conv2d_backprop_filter")
def _conv2d_backprop_filter(op):
    # df[kh, kw, c, o] = sum over (n, i, j) of xpad[n, i*sh + kh*dh, j*sw + kw*dw, c]
    #   * g[n, i, j, o].
    # Loops (n, i, j, kh, kw, c, o): o innermost, so the accumulation walks contiguous memory.
    x, g = op.operands
    _check_same_batch(op, x, g, "Conv2DCustomBackpropFilter")
    kernel = "Conv2DCustomBackpropFilter"
    g = _with_static_gradient(op, g, shape_of(x), shape_of(op.result_type), kernel)
    if (known := _when_empty(op, x)) is not None:
        return known
    filter_shape = shape_of(op.result_type)
    s, d = op.attrs["strides"], op.attrs["dilations"]
    geometry = _conv_geometry(shape_of(x), filter_shape, op.attrs)
    xp = pad_spatial(x, geometry, 0.0)
    elem = element_type(x)
    init = fill(scalar_const(0.0, elem), empty(op.result_type, {}))
    maps = [
        indexing_map(
            7,
            [
                0,
                loop_dim(1) * s[1] + loop_dim(3) * d[1],
                loop_dim(2) * s[2] + loop_dim(4) * d[2],
                5,
            ],
        ),
        indexing_map(7, [0, 1, 2, 6]),
        indexing_map(7, [3, 4, 5, 6]),
    ]
    iterators = [REDUCTION] * 3 + [PARALLEL] * 4
    df = generic(
        [xp, g], [init], maps, iterators, lambda a, b, acc: arith.addf(acc, arith.mulf(a, b))
    )[0]
    return mark(df, "backprop_filter", op, geometry)


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
    pooled = linalg.pooling_nhwc_max(
        xp, _window(k[1], k[2], elem), outs=[init], strides=list(s[1:3]), dilations=[1, 1]
    )
    pooled.owner.attributes["tgc.pool"] = ir.StringAttr.get("max_pool")
    return pooled


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
            tensor_type(counts.shape, ir.F32Type.get()), encode("tensor", array)
        ).result
        init = empty(tensor_type(counts.shape, elem), {})
        return generic(
            [f32], [init], [identity_map(2)] * 2, [PARALLEL] * 2, lambda v, _: arith.truncf(elem, v)
        )[0]
    return arith.ConstantOp(tensor_type(counts.shape, elem), encode("tensor", array)).result


def _divide_by_counts(v, counts) -> ir.Value:
    """v[n, i, j, c] / counts[i, j]."""
    init = empty(v.type, {0: dim(v, 0)} if shape_of(v)[0] is None else {})
    maps = [identity_map(4), indexing_map(4, [1, 2]), identity_map(4)]
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


def _checked_pool_gradient(op, x, g, kernel: str) -> ir.Value:
    """g cast to the pooling's output type (x's batch, the windows' height and width, x's
    channels) after a run-time check of each of g's dims that is not that by construction: the
    lowering reads g over those sizes, and writes x's batch. These gradient ops are internal
    (their operands agree in graphs tgc builds); one of an artifact's hand-written IR must still
    fail the run, never write past a buffer."""
    x_shape = shape_of(x)
    (oh, _, _), (ow, _, _) = _pool_geometry(x_shape, op.attrs)
    expected = [x_shape[0], oh, ow, x_shape[3]]
    proven = (0,) if dim_key(x, 0) == dim_key(g, 0) else ()
    message = (
        f"{kernel}: the gradient's shape [{{got}}] is not the pooling's output shape [{{wanted}}]"
    )
    check_dims(op.operation, g, [dim(x, 0), oh, ow, x_shape[3]], message, proven)
    # x's batch, unknown where x's is: the result has x's type
    target = tensor_type(expected, element_type(g))
    return g if g.type == target else tensor.cast(target, g)


@lowers("avg_pool_grad")
def _avg_pool_grad(op):
    # Each window spreads g / count over its elements: a stride-1 sum pool of the spread shares.
    x, g = op.operands
    g = _checked_pool_gradient(op, x, g, "AvgPoolGrad")
    if (known := _when_empty(op, x, sums=False)) is not None:
        return known
    k = op.attrs["ksize"]
    elem = element_type(g)
    shares = _lattice(op, shape_of(x), _divide_by_counts(g, _counts(op, shape_of(x))), 0.0)
    init = _filled(shape_of(op.result_type), elem, 0.0, g)
    return linalg.pooling_nhwc_sum(
        shares, _window(k[1], k[2], elem), outs=[init], strides=[1, 1], dilations=[1, 1]
    )


def _takes_first_max(v, m, at, k):
    """(take, offset) in a window reduction over loop dims 4 and 5 (kh, kw): whether the element
    v at window offset kh*KW + kw (i32, at's type) becomes the window's running first maximum m,
    found so far at offset ``at``. Ties go to the smaller offset whatever order the loops run in,
    which is how "first" is defined."""
    offset = arith.addi(arith.muli(_index(4), const_index(k[2])), _index(5))
    offset = arith.index_cast(at.type, offset)
    above = arith.cmpf(arith.CmpFPredicate.OGT, v, m)
    tie_before = arith.andi(
        arith.cmpf(arith.CmpFPredicate.OEQ, v, m),
        arith.cmpi(arith.CmpIPredicate.slt, offset, at),
    )
    return arith.ori(above, tie_before), offset


def _first_argmax(xp, out_shape, k, s, carried=None) -> ir.Value:
    """For each window, kh*KW + kw of its first maximum (row-major), as i32; with ``carried`` (a
    tensor shaped like ``xp``), instead carried's element at that maximum.

    Ties go to the smaller offset whatever order the loops run in, which is how "first" is defined.
    """
    elem = element_type(xp)
    i32 = ir.IntegerType.get_signless(32)
    outs = [_filled(out_shape, elem, float("-inf"), xp), _filled(out_shape, i32, k[1] * k[2], xp)]
    reads = [xp]
    if carried is not None:
        reads.append(carried)
        outs.append(_filled(out_shape, element_type(carried), 0.0, xp))
    window_read = indexing_map(
        6, [0, loop_dim(1) * s[1] + loop_dim(4), loop_dim(2) * s[2] + loop_dim(5), 3]
    )
    maps = [window_read] * len(reads) + [indexing_map(6, [4, 5])]
    maps += [indexing_map(6, [0, 1, 2, 3])] * len(outs)

    def body(v, *rest):
        m, at = rest[len(reads)], rest[len(reads) + 1]
        take, offset = _takes_first_max(v, m, at, k)
        kept = [arith.select(take, v, m), arith.select(take, offset, at)]
        if carried is not None:
            kept.append(arith.select(take, rest[0], rest[-1]))
        return kept

    window = _window(k[1], k[2], elem)
    results = generic(reads + [window], outs, maps, [PARALLEL] * 4 + [REDUCTION] * 2, body)
    return results[-1]


def _tiles_input(op, input_shape) -> bool:
    """True when the pooling windows tile the padded input: stride == window, and every input row
    and column lies in exactly one window (always so for SAME; for VALID when the windows reach the
    end)."""
    k, s = op.attrs["ksize"], op.attrs["strides"]
    if tuple(k[1:3]) != tuple(s[1:3]):
        return False
    geometry = _pool_geometry(input_shape, op.attrs)
    return all(
        out * k[i + 1] >= input_shape[i + 1] + before for i, (out, before, _) in enumerate(geometry)
    )


def _max_pool_grad_tiled(x, g, at, k, geometry) -> ir.Value:
    """max_pool_grad for non-overlapping windows: each input element has one window, so
    dx[n, oh*KH + kh - pt, ow*KW + kw - pl, c] = g[n, oh, ow, c] where that window's argmax is
    (kh, kw).

    One generic writes the padded-input-sized [N, OH, KH, OW, KW, C] (g and the argmax read once
    per element, no lattice or reduction loops); the padding rows are then sliced off.
    """
    n, oh, ow, c = shape_of(g)
    elem = element_type(g)
    shape = (n, oh, k[1], ow, k[2], c)
    init = empty(tensor_type(shape, elem), {0: dim(g, 0)} if n is None else {})
    reads = indexing_map(6, [0, 1, 3, 5])

    def body(gv, where, _):
        # g where this element is its window's argmax, else +0, as bits(g) & keep with keep all
        # ones exactly when d = argmax - offset is 0: (d*d - 1) >> 31. A select here (or a mask
        # LLVM can see is one) becomes a branch around the load of g once a 32-channel loop is
        # fully unrolled, mispredicted per element. |d| <= KH*KW.
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
    tiles.owner.attributes["tgc.pool"] = ir.StringAttr.get("max_pool_grad")
    padded = collapse(tiles, [[0], [1, 2], [3, 4], [5]])
    _, h, w, _ = shape_of(x)
    (_, ht, _), (_, wl, _) = geometry
    result = tensor_type((n, h, w, c), elem)
    dynamic = [dim(g, 0)] if n is None else []
    sizes = [_DYNAMIC if n is None else n, h, w, c]
    return tensor.ExtractSliceOp(
        result, padded, [], dynamic, [], [0, ht, wl, 0], sizes, [1, 1, 1, 1]
    ).result


@lowers("max_pool_grad")
def _max_pool_grad(op):
    # dx[h, w] = sum over windows whose first maximum is (h, w) of their gradient. With g and the
    # argmax spread onto the lattice, input position h sees window offset kh at h + (KH-1-kh).
    x, g = op.operands
    g = _checked_pool_gradient(op, x, g, "MaxPoolGrad")
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
    reads = indexing_map(6, [0, loop_dim(1) + loop_dim(4), loop_dim(2) + loop_dim(5), 3])
    maps = [reads, reads, indexing_map(6, [4, 5]), indexing_map(6, [0, 1, 2, 3])]

    def body(gv, where, _w, acc):
        flipped = arith.addi(
            arith.muli(arith.subi(const_index(k[1] - 1), _index(4)), const_index(k[2])),
            arith.subi(const_index(k[2] - 1), _index(5)),
        )
        mine = arith.cmpi(arith.CmpIPredicate.eq, where, arith.index_cast(where.type, flipped))
        return arith.addf(acc, arith.select(mine, gv, scalar_const(0.0, elem)))

    inputs = [g_lat, at_lat, _window(k[1], k[2], elem)]
    return generic(inputs, [init], maps, [PARALLEL] * 4 + [REDUCTION] * 2, body)[0]


@lowers("max_pool_grad_grad")
def _max_pool_grad_grad(op):
    # out[w] = g at window w's first maximum of x: _first_argmax's reduction, carrying g.
    x, g = op.operands
    message = "MaxPoolGradGrad: the gradient's shape [{got}] is not the input's shape [{wanted}]"
    proven = (0,) if dim_key(x, 0) == dim_key(g, 0) else ()
    check_dims(op.operation, g, [dim(x, 0), *shape_of(x)[1:]], message, proven)
    if g.type != x.type:  # x's batch, unknown where x's is: the reads below follow x's type
        g = tensor.cast(x.type, g)
    if (known := _when_empty(op, x, sums=False)) is not None:
        return known
    k, s = op.attrs["ksize"], op.attrs["strides"]
    geometry = _pool_geometry(shape_of(x), op.attrs)
    xp = pad_spatial(x, geometry, float("-inf"))
    gp = pad_spatial(g, geometry, 0.0)
    return _first_argmax(xp, shape_of(op.result_type), k, s, carried=gp)
