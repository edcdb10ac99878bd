"""tgc-accel-tile-conv: conv2d and its two gradients at the buffer level become matmuls of windows
on the matrix unit.

Runs after bufferization, before tgc-accel-tile-matmul. Core lowering tags the linalg op that
computes each conv op (``tgc.conv``: "conv2d", "backprop_input", "backprop_filter", with the forward
conv's strides, dilations and padding; tgc/lowering/to_core/conv.py). With x the input (N x H x W x
C), w the filter (KH x KW x C x F) and dy the output's gradient (N x OH x OW x F), every one of them
is a sum over the filter taps (kh, kw) of matmuls, the rows of a window read in one N-D DMA:

- conv2d: y[(n, oh, ow), f] += x[n, oh*sh + kh*dh - top, ow*sw + kw*dw - left, c] . w[kh, kw, c, f].
  The window is a strided box of x (steps sh, sw), its rows the output positions; padding is the
  DMA's zero fill for the box's elements outside x, so the core level's zero-padded copy of x goes.
- backprop_filter: dw[kh, kw]^T (F x C) = dy^T . window, summed over the output positions. Per
  chunk of at most 1024 positions, dy^T comes once (transposing DMAs, in slices of at most 128
  positions: the matmul's K) and serves every tap; each tap's window (positions x channels) is
  the weights. The accumulators are stored transposed (``perm``) into dw at the end.
- backprop_input: dx at the positions h = sh*i + rh (one phase (rh, rw) of the stride lattice at a
  time) is dy's stride-1 window at (i + (rh + top - kh*dh) / sh, ...) . w[kh, kw]^T, for the taps
  whose offset divides by the stride; each phase is stored with steps (sh, sw) into dx. The core
  level's spread gradient (dy on a zero lattice) and flipped filter go: the DMA reads dy and w
  (w transposed: ``perm``) where they are.

conv2d and backprop_input run each chunk's contraction K-outer over its steps (tap and tile of
channels): A's window per step, B's filter tile per step and column of the result, both cast to
bf16 (the filter's tiles kept for the later chunks while WEIGHT_CACHE_BYTES allow), one f32
accumulator per column of the result, zeroed before the first step (the core level's zero fill of
the result goes) and stored after the last. Rows come in chunks of at most 1024 positions that are
a box (images, rows of the image, columns): the store is one DMA.
"""

from __future__ import annotations

import dataclasses
import math

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.accel import ops as accel
from tgc.lowering.accel.tile_matmul import cast_to_bf16
from tgc.passes.base import ModulePass

TILE = 128  # the matrix unit's rows and columns (Machine.array_rows, array_cols by default)
CHUNK_ROWS = 1024  # output positions per chunk of rows, at least
MOST_ROWS = 8192  # ... and at most, when the channels are few
ROW_BYTES = 2 * 1024 * 1024  # a chunk's f32 tile of one channel tile (window or accumulator)
ACCUMULATOR_BYTES = 8 * 1024 * 1024  # the filter gradient's accumulators, at most, per pass
WEIGHT_CACHE_BYTES = 4 * 1024 * 1024  # the filter's bf16 tiles kept across chunks, at most
F32_BYTES, BF16_BYTES = 4, 2


def _tiles(extent: int, size: int = TILE) -> list:
    """[begin, end) of each tile along a dim."""
    return [[start, min(start + size, extent)] for start in range(0, extent, size)]


def _position_boxes(shape: tuple, limit: int) -> list:
    """Boxes (begin, count per dim) of the positions of an (N, H, W) grid, each at most ``limit``
    positions, that cover the grid in row-major order: whole images when one fits, else whole rows
    of an image, else pieces of a row."""
    n, h, w = shape
    boxes = []
    if h * w <= limit:
        per = max(1, limit // max(h * w, 1))
        for n0 in range(0, n, per):
            boxes.append(([n0, 0, 0], [min(per, n - n0), h, w]))
    elif w <= limit:
        per = limit // w
        for n0 in range(n):
            for h0 in range(0, h, per):
                boxes.append(([n0, h0, 0], [1, min(per, h - h0), w]))
    else:
        for n0 in range(n):
            for h0 in range(h):
                for w0 in range(0, w, limit):
                    boxes.append(([n0, h0, w0], [1, 1, min(limit, w - w0)]))
    return [box for box in boxes if all(count > 0 for count in box[1])]


def _shape(value) -> list:
    return list(ir.MemRefType(value.type).shape)


def _owner(value):
    owner = value.owner
    return owner if isinstance(owner, ir.Operation) else getattr(owner, "operation", None)


def _is_zero(value) -> bool:
    producer = _owner(value)
    if producer is None or producer.name != "arith.constant":
        return False
    attribute = producer.attributes["value"]
    return isinstance(attribute, ir.FloatAttr) and ir.FloatAttr(attribute).value == 0.0


def _zero_fill(op, target) -> bool:
    """``op`` sets every element of ``target`` to 0: a linalg.fill of 0, or core's linalg.map that
    yields 0 (tensor.pad's body, bufferized)."""
    if op.name == "linalg.fill":
        return op.operands[1] == target and _is_zero(op.operands[0])
    if op.name == "linalg.map" and list(op.operands) == [target]:
        body = op.regions[0].blocks[0]
        yields = [o for o in body.operations if o.operation.name == "linalg.yield"]
        return len(yields) == 1 and _is_zero(yields[0].operands[0])
    return False


@dataclasses.dataclass
class _Copied:
    """A buffer core built as zeros with ``source`` copied into a (strided) subview of it."""

    source: ir.Value
    offsets: list
    strides: list
    ops: list  # the alloc, fill, subview and copy: erased with the conv


def _copied_into_zeros(value):
    """The _Copied that built ``value``, or None when it is not such a buffer."""
    alloc = _owner(value)
    if alloc is None or alloc.name != "memref.alloc":
        return None
    uses = [use.owner for use in value.uses]
    fills = [op for op in uses if _zero_fill(op, value)]
    views = [op for op in uses if op.name == "memref.subview"]
    if len(fills) != 1 or len(views) != 1:
        return None
    view = views[0]
    copies = [use.owner for use in view.results[0].uses]
    if len(copies) != 1 or copies[0].name != "memref.copy" or copies[0].operands[1] != view.result:
        return None
    offsets = list(ir.DenseI64ArrayAttr(view.attributes["static_offsets"]))
    strides = list(ir.DenseI64ArrayAttr(view.attributes["static_strides"]))
    return _Copied(copies[0].operands[0], offsets, strides, [copies[0], view, fills[0], alloc])


def _flipped_filter(value, window: tuple):
    """(w, [generic, alloc]) when ``value`` is core's flipped filter of w (the generic writing
    value[kh', kw', f, c] = w[KH-1-kh', KW-1-kw', c, f]), else None."""
    alloc = _owner(value)
    if alloc is None or alloc.name != "memref.alloc":
        return None
    writers = [use.owner for use in value.uses if use.owner.name == "linalg.generic"]
    writers = [op for op in writers if len(op.operands) == 2 and op.operands[1] == value]
    if len(writers) != 1:
        return None
    generic = writers[0]
    kh, kw = window
    expected = ir.Attribute.parse(
        f"affine_map<(d0, d1, d2, d3) -> (-d0 + {kh - 1}, -d1 + {kw - 1}, d3, d2)>"
    )
    if ir.ArrayAttr(generic.attributes["indexing_maps"])[0] != expected:
        return None
    return generic.operands[0], [generic, alloc]


def _chunk_rows(inner: int, outer: int) -> int:
    """Output positions per chunk: 1024, or more (up to MOST_ROWS) when the channels are few, so
    that a tap's window (positions x inner channels) and the accumulators (positions x outer
    channels) stay within ROW_BYTES per tile of 128 channels, all accumulators within
    ACCUMULATOR_BYTES. Every chunk pays one window DMA, with
    its latency, per tap: a one-channel layer's windows are tiny, so fewer, larger chunks."""
    widest = max(min(inner, TILE), min(outer, TILE), 1)
    most = min(MOST_ROWS, ROW_BYTES // (widest * F32_BYTES))
    return max(CHUNK_ROWS, min(most, ACCUMULATOR_BYTES // (max(outer, 1) * F32_BYTES)))


@dataclasses.dataclass(frozen=True)
class _Geometry:
    strides: tuple  # (sh, sw)
    dilations: tuple  # (dh, dw)
    before: tuple  # (top, left): the padding before the input's first row and column

    @staticmethod
    def of(op):
        def pair(key):
            return tuple(ir.DenseI64ArrayAttr(op.attributes[f"tgc.conv_{key}"]))

        top, _, left, _ = pair("padding")
        return _Geometry(pair("strides"), pair("dilations"), (top, left))

    def window_start(self, axis: int, out: int, tap: int) -> int:
        """The input index that output index ``out`` reads through filter tap ``tap``."""
        return out * self.strides[axis] + tap * self.dilations[axis] - self.before[axis]


@dataclasses.dataclass
class _Step:
    """One step of a contraction: A's tile (rows x k) and, per column tile, B's (k x cols)."""

    k: int
    load_lhs: object  # (staging, narrow) -> None: the DMA(s) and cast of A's tile
    load_rhs: object  # (cols, staging, narrow) -> None
    key: tuple | None = None  # which weights B is: steps of another chunk with this key reuse it


class _Layout:
    """Rings of slots for one contraction's staging and bf16 tiles, then its accumulators."""

    def __init__(self, rows: int, k: int, columns: list):
        width = max((end - begin for begin, end in columns), default=0)
        sizes = {
            "lhs_f32": rows * k * F32_BYTES,
            "lhs_bf16": rows * k * BF16_BYTES,
            "rhs_f32": k * width * F32_BYTES,
            "rhs_bf16": k * width * BF16_BYTES,
        }
        self.slots, self.turn, offset = {}, {}, 0
        for kind, size in sizes.items():
            size = max(size, F32_BYTES)
            self.slots[kind] = [offset, offset + size]
            self.turn[kind] = 0
            offset += 2 * size
        acc = max(rows * width * F32_BYTES, F32_BYTES)
        self.acc = [offset + j * acc for j in range(len(columns))]
        self.end = offset + len(columns) * acc

    def take(self, kind: str) -> int:
        slots = self.slots[kind]
        self.turn[kind] += 1
        return slots[(self.turn[kind] - 1) % len(slots)]


class _WeightCache:
    """bf16 copies of B's tiles kept for the whole op (loaded by the first chunk, reused by the
    others), in a region above every chunk's layout, while they fit."""

    def __init__(self, rows: int, k: int, columns: list):
        """Above the layout of a chunk of at most ``rows`` rows and steps of at most ``k``."""
        self.base = _Layout(rows, min(k, TILE), columns).end
        self.used, self.offsets = 0, {}

    def place(self, key, nbytes: int):
        """The offset of a new copy, or None when the region is full."""
        if self.used + nbytes > WEIGHT_CACHE_BYTES:
            return None
        self.offsets[key] = self.base + self.used
        self.used += -(-nbytes // 64) * 64
        return self.offsets[key]


def _contract(rows: int, steps: list, columns: list, start, store, cache=None) -> None:
    """acc_j = sum over steps of A_step . B_step[:, column j], K-outer: each step's A tile meets
    B's tile of every column. ``start(j, acc)`` readies accumulator j, ``store(j, acc)`` writes
    it out. B's tiles of keyed steps are kept in ``cache`` (loaded once for all chunks)."""
    layout = _Layout(rows, max((s.k for s in steps), default=0), columns)
    for j, _ in enumerate(columns):
        start(j, layout.acc[j])
    for number, step in enumerate(steps):
        lhs_staging, lhs = layout.take("lhs_f32"), layout.take("lhs_bf16")
        step.load_lhs(lhs_staging, lhs)
        _cast(lhs_staging, lhs, [rows, step.k])
        for j, cols in enumerate(columns):
            width = cols[1] - cols[0]
            key = None if cache is None or step.key is None else (step.key, tuple(cols))
            if key is not None and key in cache.offsets:
                rhs = cache.offsets[key]
            else:
                placed = None if key is None else cache.place(key, step.k * width * BF16_BYTES)
                rhs_staging = layout.take("rhs_f32")
                rhs = layout.take("rhs_bf16") if placed is None else placed
                step.load_rhs(cols, rhs_staging, rhs)
                _cast(rhs_staging, rhs, [step.k, width])
            accel.create(
                "matmul",
                lhs_at=lhs,
                lhs_shape=[rows, step.k],
                rhs_at=rhs,
                rhs_shape=[step.k, width],
                acc_at=layout.acc[j],
                acc_shape=[rows, width],
            )
    for j, _ in enumerate(columns):
        store(j, layout.acc[j])


def _cast(staging: int, narrow: int, shape: list) -> None:
    """The f32 tile at ``staging`` to bf16 at ``narrow``, cast 128 elements a row (the vector
    unit's rate) whatever the tile's shape: a window of one channel is 1024 x 1."""
    cast_to_bf16(staging, narrow, shape[0] * shape[1])


def _load(source, begin, count, to, step=None, perm=None, fill=None) -> None:
    attrs = {"begin": list(begin), "count": list(count), "step": list(step or [1] * len(begin))}
    if perm is not None:
        attrs["perm"] = list(perm)
    if fill is not None:
        attrs["fill"] = fill
    accel.create("dma_load", [source], to=to, **attrs)


def _store(target, begin, count, at, step=None, perm=None) -> None:
    attrs = {"begin": list(begin), "count": list(count), "step": list(step or [1] * len(begin))}
    if perm is not None:
        attrs["perm"] = list(perm)
    accel.create("dma_store", [target], from_=at, **attrs)


def _leaves(geometry_box: list, shape: list) -> bool:
    """Whether a box (begin, count, step per dim) reaches outside a tensor of ``shape``."""
    for (begin, count, step), extent in zip(geometry_box, shape):
        last = begin + (count - 1) * step
        if count and (begin < 0 or last >= extent or begin >= extent):
            return True
    return False


def _window_load(x, begin, count, step, to, perm=None) -> None:
    """A window of x: zeros where it leaves x (padding)."""
    box = list(zip(begin, count, step))
    fill = 0.0 if _leaves(box, _shape(x)) else None
    _load(x, begin, count, to, step=step, perm=perm, fill=fill)


@dataclasses.dataclass(frozen=True)
class TileConvPass(ModulePass):
    """Core's tagged conv2d, backprop_input and backprop_filter on static f32/f64 memrefs -> accel
    DMAs of windows and matmuls."""

    name = "tgc-accel-tile-conv"

    def run(self, module: ir.Module) -> None:
        accel.load_dialect(module.context)
        for op in [op for op in all_ops(module) if "tgc.conv" in op.attributes]:
            kind = ir.StringAttr(op.attributes["tgc.conv"]).value
            if kind not in _KINDS:
                self.fail(op, f"the accelerator does not run the convolution op '{kind}'")
            self._check(op)
            _KINDS[kind](self, op)

    def _check(self, op) -> None:
        for value in op.operands:
            type_ = value.type
            if not isinstance(type_, ir.MemRefType):
                self.fail(op, "tgc-accel-tile-conv runs after bufferization (memref operands)")
            memref = ir.MemRefType(type_)
            if not memref.has_static_shape:
                self.fail(op, f"the accelerator's convolution needs static shapes, not {type_}")
            if not isinstance(memref.element_type, (ir.F32Type, ir.F64Type)):
                self.fail(op, f"the accelerator convolves float32 or float64 tensors, not {type_}")

    def _output(self, op):
        """The result buffer and whether core zero-filled it (that fill goes)."""
        out = op.operands[2]
        fills = [use.owner for use in out.uses if _zero_fill(use.owner, out)]
        return out, fills

    def _input(self, op, value):
        """x and the ops of core's zero-padded copy of it, or value itself."""
        copied = _copied_into_zeros(value)
        if copied is None:
            return value, []
        if any(s != 1 for s in copied.strides):
            self.fail(op, "the convolution's padded input is not a plain copy of its input")
        return copied.source, copied.ops

    def conv2d(self, op) -> None:
        geometry = _Geometry.of(op)
        x, padding_ops = self._input(op, op.operands[0])
        w = op.operands[1]
        out, fills = self._output(op)
        n, oh, ow, f = _shape(out)
        kh, kw, c, _ = _shape(w)
        columns = _tiles(f)
        limit = _chunk_rows(c, f)
        cache = _WeightCache(min(n * oh * ow, limit), c, columns)
        with ir.InsertionPoint(op), op.location:
            for begin, count in _position_boxes((n, oh, ow), limit):
                rows = count[0] * count[1] * count[2]
                steps = [
                    self._conv_step(x, w, geometry, begin, count, (tap_h, tap_w), channels)
                    for tap_h in range(kh)
                    for tap_w in range(kw)
                    for channels in _tiles(c)
                ]
                _contract(
                    rows,
                    steps,
                    columns,
                    self._starter(out, fills, begin, count, columns),
                    self._storer(out, begin, count, columns),
                    cache,
                )
        _erase(op, fills, padding_ops)

    @staticmethod
    def _conv_step(x, w, geometry, begin, count, tap, channels) -> _Step:
        tap_h, tap_w = tap
        h0 = geometry.window_start(0, begin[1], tap_h)
        w0 = geometry.window_start(1, begin[2], tap_w)
        width = channels[1] - channels[0]

        def load_lhs(staging, _):
            window_begin = [begin[0], h0, w0, channels[0]]
            window_step = [1, geometry.strides[0], geometry.strides[1], 1]
            _window_load(x, window_begin, [*count, width], window_step, staging)

        def load_rhs(cols, staging, _):
            filter_begin = [tap_h, tap_w, channels[0], cols[0]]
            _load(w, filter_begin, [1, 1, width, cols[1] - cols[0]], staging)

        return _Step(width, load_lhs, load_rhs, key=(tap, tuple(channels)))

    def _starter(self, out, fills, begin, count, columns):
        def start(j, acc):
            cols = columns[j]
            shape = [count[0] * count[1] * count[2], cols[1] - cols[0]]
            if fills:
                accel.create("zero", at=acc, shape=shape)
            else:
                _load(out, [*begin, cols[0]], [*count, cols[1] - cols[0]], acc)

        return start

    @staticmethod
    def _storer(out, begin, count, columns, step=None):
        def store(j, acc):
            cols = columns[j]
            _store(out, [*begin, cols[0]], [*count, cols[1] - cols[0]], acc, step)

        return store

    def backprop_filter(self, op) -> None:
        """dw[kh, kw]^T (F x C) = sum over the output positions of dy^T . window: per chunk of at
        most 1024 positions, dy^T comes once in slices of at most 128 positions (the matmul's K;
        a transposing DMA each) and serves every tap, whose window (positions x channels, a
        plain strided DMA) is the weights. The accumulators (F x C per tap) are stored
        transposed into dw at the end."""
        geometry = _Geometry.of(op)
        x, padding_ops = self._input(op, op.operands[0])
        dy = op.operands[1]
        out, fills = self._output(op)
        kh, kw, c, f = _shape(out)
        n, oh, ow, _ = _shape(dy)
        units = [((th, tw), ct) for th in range(kh) for tw in range(kw) for ct in _tiles(c)]
        per_group = max(1, ACCUMULATOR_BYTES // (f * TILE * F32_BYTES))
        chunks = _position_boxes((n, oh, ow), _chunk_rows(c, f))
        with ir.InsertionPoint(op), op.location:
            for first in range(0, len(units), per_group):
                group = units[first : first + per_group]
                largest = max(math.prod(count) for _, count in chunks)
                layout = _FilterLayout(f, len(group), largest, min(c, TILE))
                for number, (tap, channels) in enumerate(group):
                    _start_filter(out, fills, tap, channels, f, layout.acc[number])
                for begin, count in chunks:
                    slices = _load_gradient_slices(dy, begin, count, f, layout)
                    for number, (tap, channels) in enumerate(group):
                        window = _load_filter_window(
                            x, geometry, tap, channels, begin, count, layout
                        )
                        _filter_matmuls(slices, window, channels, f, layout.acc[number])
                for number, (tap, channels) in enumerate(group):
                    width = channels[1] - channels[0]
                    begin_ = [tap[0], tap[1], channels[0], 0]
                    _store(out, begin_, [1, 1, width, f], layout.acc[number], perm=[0, 1, 3, 2])
        _erase(op, fills, padding_ops)

    def backprop_input(self, op) -> None:
        """dx, one phase of the stride lattice at a time: dy's windows . w[kh, kw]^T."""
        geometry = _Geometry.of(op)
        out, fills = self._output(op)
        n, h, w_, c = _shape(out)
        kernel = _shape(op.operands[1])[:2]
        dy, spread_ops = self._gradient(op, geometry, kernel)
        flipped = _flipped_filter(op.operands[1], tuple(kernel))
        if flipped is None:
            self.fail(op, "the input gradient's filter is not core's flipped filter")
        w = flipped[0]
        kh, kw, _, f = _shape(w)
        sh, sw = geometry.strides
        columns = _tiles(c)
        limit = _chunk_rows(f, c)
        cache = _WeightCache(min(n * h * w_, limit), f, columns)
        with ir.InsertionPoint(op), op.location:
            for rh in range(min(sh, h)):
                for rw in range(min(sw, w_)):
                    grid = (n, -(-(h - rh) // sh), -(-(w_ - rw) // sw))
                    taps = [
                        (tap_h, tap_w)
                        for tap_h in range(kh)
                        for tap_w in range(kw)
                        if (rh + geometry.before[0] - tap_h * geometry.dilations[0]) % sh == 0
                        and (rw + geometry.before[1] - tap_w * geometry.dilations[1]) % sw == 0
                    ]
                    for begin, count in _position_boxes(grid, limit):
                        rows = count[0] * count[1] * count[2]
                        steps = [
                            self._input_step(dy, w, geometry, (rh, rw), tap, begin, count, fs)
                            for tap in taps
                            for fs in _tiles(f)
                        ]
                        at = [begin[0], rh + sh * begin[1], rw + sw * begin[2]]
                        _contract(
                            rows,
                            steps,
                            columns,
                            self._starter_strided(out, fills, at, count, columns, (sh, sw)),
                            self._storer(out, at, count, columns, [1, sh, sw, 1]),
                            cache,
                        )
        _erase(op, fills, spread_ops, flipped[1])

    def _gradient(self, op, geometry, kernel) -> tuple:
        """dy and the ops of core's spread of it (erased with the conv). A spread that puts dy
        on the whole of its zeros (a 1x1 kernel at stride 1, unpadded) is an identity that
        canonicalize folds away: the operand is then dy itself."""
        spread = _copied_into_zeros(op.operands[0])
        if spread is not None:
            return spread.source, spread.ops
        operand = op.operands[0]
        full = _shape(operand)[1:3]
        identity = all(
            (kernel[axis] - 1) * geometry.dilations[axis] == geometry.before[axis]
            and (geometry.strides[axis] == 1 or full[axis] == 1)
            for axis in (0, 1)
        )
        if not identity:
            self.fail(op, "the input gradient's spread gradient is not a copy of the gradient")
        return operand, []

    @staticmethod
    def _input_step(dy, w, geometry, phase, tap, begin, count, gradients) -> _Step:
        """dy's stride-1 window of this phase and tap (its rows: the phase's positions) and
        w[kh, kw]^T (F x C: a transposing DMA)."""
        offsets = [
            (phase[axis] + geometry.before[axis] - tap[axis] * geometry.dilations[axis])
            // geometry.strides[axis]
            for axis in (0, 1)
        ]
        width = gradients[1] - gradients[0]

        def load_lhs(staging, _):
            window_begin = [begin[0], begin[1] + offsets[0], begin[2] + offsets[1], gradients[0]]
            _window_load(dy, window_begin, [*count, width], [1, 1, 1, 1], staging)

        def load_rhs(cols, staging, _):
            filter_begin = [tap[0], tap[1], cols[0], gradients[0]]
            count_ = [1, 1, cols[1] - cols[0], width]
            _load(w, filter_begin, count_, staging, perm=[0, 1, 3, 2])

        return _Step(width, load_lhs, load_rhs, key=(tuple(tap), tuple(gradients)))

    def _starter_strided(self, out, fills, at, count, columns, strides):
        def start(j, acc):
            cols = columns[j]
            shape = [count[0] * count[1] * count[2], cols[1] - cols[0]]
            if fills:
                accel.create("zero", at=acc, shape=shape)
            else:
                step = [1, strides[0], strides[1], 1]
                _load(out, [*at, cols[0]], [*count, cols[1] - cols[0]], acc, step=step)

        return start


class _FilterLayout:
    """The filter gradient's buffer: rings of slots for dy^T's slices (f32 staging, and one bf16
    region per chunk) and the windows, then one F x 128 accumulator per (tap, channel tile)."""

    def __init__(self, f: int, accumulators: int, positions: int, width: int):
        """``positions``: the largest chunk's; ``width``: the widest tile of channels."""
        sizes = {
            "dy_f32": f * min(positions, TILE) * F32_BYTES,
            "dy_bf16": f * positions * BF16_BYTES,
            "window_f32": positions * width * F32_BYTES,
            "window_bf16": positions * width * BF16_BYTES,
        }
        self.slots, self.turn, offset = {}, {}, 0
        for kind, size in sizes.items():
            self.slots[kind] = [offset, offset + size]
            self.turn[kind] = 0
            offset += 2 * size
        self.acc = [offset + i * f * width * F32_BYTES for i in range(accumulators)]

    def take(self, kind: str) -> int:
        self.turn[kind] += 1
        return self.slots[kind][(self.turn[kind] - 1) % 2]


def _start_filter(out, fills, tap, channels, f, acc) -> None:
    """The accumulator of dw[kh, kw, channels, :]^T: zeros, or dw's values read transposed."""
    width = channels[1] - channels[0]
    if fills:
        accel.create("zero", at=acc, shape=[f, width])
    else:
        _load(out, [tap[0], tap[1], channels[0], 0], [1, 1, width, f], acc, perm=[0, 1, 3, 2])


def _load_gradient_slices(dy, begin, count, f, layout) -> list:
    """dy^T of one chunk, in slices of at most 128 positions, each contiguous in the chunk's
    row-major order: [(first position, positions, bf16 offset)]."""
    region = layout.take("dy_bf16")
    slices, first = [], 0
    for sub_begin, sub_count in _position_boxes(tuple(count), TILE):
        positions = sub_count[0] * sub_count[1] * sub_count[2]
        at = [b + s for b, s in zip(begin, sub_begin)]
        staging, narrow = layout.take("dy_f32"), region + first * f * BF16_BYTES
        _load(dy, [*at, 0], [*sub_count, f], staging, perm=[3, 0, 1, 2])
        _cast(staging, narrow, [f, positions])
        slices.append((first, positions, narrow))
        first += positions
    return slices


def _load_filter_window(x, geometry, tap, channels, begin, count, layout) -> int:
    """The tap's window over the chunk's positions (rows) and these channels, in bf16."""
    h0 = geometry.window_start(0, begin[1], tap[0])
    w0 = geometry.window_start(1, begin[2], tap[1])
    width = channels[1] - channels[0]
    staging, narrow = layout.take("window_f32"), layout.take("window_bf16")
    window_step = [1, geometry.strides[0], geometry.strides[1], 1]
    _window_load(x, [begin[0], h0, w0, channels[0]], [*count, width], window_step, staging)
    _cast(staging, narrow, [count[0] * count[1] * count[2], width])
    return narrow


def _filter_matmuls(slices, window, channels, f, acc) -> None:
    """acc (F x channels) += dy^T's slice . the window's rows of that slice, for each slice."""
    width = channels[1] - channels[0]
    for first, positions, gradient in slices:
        accel.create(
            "matmul",
            lhs_at=gradient,
            lhs_shape=[f, positions],
            rhs_at=window + first * width * BF16_BYTES,
            rhs_shape=[positions, width],
            acc_at=acc,
            acc_shape=[f, width],
        )


_KINDS = {
    "conv2d": TileConvPass.conv2d,
    "backprop_filter": TileConvPass.backprop_filter,
    "backprop_input": TileConvPass.backprop_input,
}


def _erase(op, fills: list, *builders: list) -> None:
    """Erases the conv op and its result's zero fill, then each chain of core ops that built an
    operand (users first, the buffer last) when nothing else reads that buffer."""
    for gone in [op, *fills]:
        gone.erase()
    for chain in builders:
        if not chain:
            continue
        buffer = chain[-1].results[0]
        if all(any(use.owner == o for o in chain) for use in buffer.uses):
            for gone in chain:
                gone.erase()
