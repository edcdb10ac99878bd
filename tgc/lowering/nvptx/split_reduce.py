"""tgc-nvptx-split-reduce: a float reduction with few outputs and a long reduced extent (the
filter gradient of a convolution, a bias gradient's sum over batch x pixels) becomes one or two
launches of a flat grid instead of one thread per output element walking everything serially;
one with many outputs and a long enough extent (a convolution of many input channels, forward
or its input gradient) one launch of a flat grid accumulating in registers.

The naive schedule (tgc-nvptx-parallel-dims-first, then 32x8 tiles of the parallel dims taken last
dim first, tgc-nvptx-contiguous-dim-first) gives a conv2d_backprop_filter of a 3x3x1x16 filter 48
working threads, each running 3 output elements x batch x pixels iterations, and accumulates
through the output buffer in global memory (a load and a store per iteration: the compiler cannot
keep it in a register, the output may alias an input). Here:

- Kernel 1 (when the reduction is split, K > 1): K x P threads for P output elements, thread
  (k, p) accumulating, in a register from the combiner's identity, the reduced points
  k, k + K, k + 2K, ... of output element p, and storing the result in partials[k][p]. Which
  of k and p consecutive threads take follows the largest input's last (contiguous) dim, so
  that their loads of it are coalesced: consecutive output elements (t = k * P + p, p in the
  output's row-major order) when that dim is a parallel one, as a filter or bias gradient's
  channels; consecutive reduced points (t = p * K + k, partials stored [p][k]) when it is
  reduced, as a sum along rows.
- Kernel 2: P threads, thread p combining the output's initial value (or the identity, when a
  fill of the identity just before went) with its K partials in order, and storing it.

K = min(ceil(sqrt(R)), ceil(MAX_THREADS / P)) for R reduced points, so both kernels' serial
loops are about sqrt(R) long while the grid fills the GPU; K = 1 is one kernel (no partials),
which still accumulates in a register on a flat grid; below MIN_REDUCED points K is 1.

The same flat launch serves two ops the tiles map badly: conv2d's forward
(linalg.conv_2d_nhwc_hwcf) whatever its window (the tiles left every output channel serial in each
thread), and an elementwise generic (parallel dims only) of MIN_PARALLEL_RANK dims or more, one
thread per element, of any int or float type: the tiles cover two dims, only three dims reach the
grid and the rest run serially in each thread (the 16x16 tiles of dims 0 and 1 that this replaced
left an NHWC bias + relu every channel serially, a max-pool gradient's scatter into a rank-6 view
128 elements, and a warp's threads walking dim 0, not the contiguous last dim). The price: such a
generic no longer fuses with a neighbour's loops of the same shape (scf-parallel-loop-fusion), a
launch more where it did; the lecture convnet and a 14x14x32 conv layer's step launch as many
kernels either way.

The summation order changes (strided partials, then their sum): float results differ from the
serial order by rounding only.

The generic's body is cloned into the loop (tree_reduce's placeholder call and inlining), so a
reduction of fused elementwise ops (relu's mask times the incoming gradient) computes them as it
reads. Taken: static memref linalg.generics (and conv2d's linalg.conv_2d_nhwc_hwcf, whose
indexing maps _structure writes from its strides and dilations) at a function's top level with
one output whose indexing map lists every parallel dim once (or a constant 0 for a unit dim),
inputs indexed by affine expressions of the dims (a convolution's ``oh + kh``), and either
reduction dims (a float output, R >= MIN_REDUCED but for conv2d, a body tree_reduce can clone: a
known combiner of the accumulator) or MIN_PARALLEL_RANK parallel dims or more. Full reductions
to one element are tgc-nvptx-tree-reduce's.
"""

from __future__ import annotations

import dataclasses
import math

from mlir import ir

from tgc.dialect.ir_helpers import body_ops, functions
from tgc.lowering.nvptx.kernel_text import KernelText
from tgc.lowering.nvptx.tree_reduce import (
    _ELEMENT_CALLEE,
    _IDENTITIES,
    _combiner,
    _float_literal,
    _identity_fill,
    replace_with_kernel_text,
)
from tgc.passes.base import ModulePass

# Fewer reduced points per output element than this: the naive loop stays (short enough).
# conv2d's forward is taken whatever its window: its naive loops run every output channel serially.
MIN_REDUCED = 64
# An elementwise generic (parallel dims only) of this rank or more is one flat launch too: the
# tiled loops reach three dims only, the others would run serially in each thread.
MIN_PARALLEL_RANK = 4
# Kernel 1's threads at most: enough for an H100/H200 (132 SMs x 2048 resident threads is
# 270k; a quarter of that already hides the loads' latency for these short loops).
MAX_THREADS = 65536
THREADS = 256  # per block, 1-d


@dataclasses.dataclass
class _Split:
    """What the pass learned about one linalg.generic it rewrites."""

    generic: ir.Operation
    combiner: str | None  # e.g. arith.addf; None: parallel dims only (an elementwise generic)
    element: str  # the output's element type
    sizes: list  # each iteration dim's static size
    parallel: list  # parallel dims in the output's row-major order (last fastest)
    reduced: list  # reduction dims in iteration order (last fastest)
    input_maps: list  # per input: its indexing map's results (AffineExprs)
    output_index: list  # per output dim: ("dim", d) or ("const", 0)
    reduced_fastest: bool  # consecutive threads of kernel 1 take consecutive reduced points

    @property
    def outputs(self) -> int:
        return math.prod(self.sizes[d] for d in self.parallel)

    @property
    def reduced_points(self) -> int:
        return math.prod(self.sizes[d] for d in self.reduced)

    @property
    def splits(self) -> int:
        """K: partials per output element (1: no partials, one kernel; always for a reduction
        shorter than MIN_REDUCED, a small convolution window)."""
        if self.reduced_points < MIN_REDUCED:
            return 1
        by_length = math.isqrt(self.reduced_points - 1) + 1
        by_threads = max(1, -(-MAX_THREADS // self.outputs))
        return max(1, min(by_length, by_threads))


def _structure(op) -> tuple | None:
    """(iterator kinds, indexing maps) of a linalg.generic, or of a named op whose maps this
    pass writes itself (conv2d's forward: a linalg.conv_2d_nhwc_hwcf); None for others."""
    if op.name == "linalg.generic":
        kinds = [str(a).rpartition("<")[2].rstrip(">") for a in op.attributes["iterator_types"]]
        return kinds, [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    if op.name == "linalg.conv_2d_nhwc_hwcf":
        return _conv_2d_nhwc_hwcf(op)
    return None


def _conv_2d_nhwc_hwcf(op) -> tuple:
    """linalg's definition of the op: dims (n, oh, ow, f, kh, kw, c); the input read at
    (n, oh * sh + kh * dh, ow * sw + kw * dw, c), the filter at (kh, kw, c, f)."""
    sh, sw = (int(v) for v in ir.DenseIntElementsAttr(op.attributes["strides"]))
    dh, dw = (int(v) for v in ir.DenseIntElementsAttr(op.attributes["dilations"]))
    dims = "(d0, d1, d2, d3, d4, d5, d6)"
    texts = [
        f"{dims} -> (d0, d1 * {sh} + d4 * {dh}, d2 * {sw} + d5 * {dw}, d6)",
        f"{dims} -> (d4, d5, d6, d3)",
        f"{dims} -> (d0, d1, d2, d3)",
    ]
    maps = [ir.AffineMapAttr(ir.Attribute.parse(f"affine_map<{t}>")).value for t in texts]
    return ["parallel"] * 4 + ["reduction"] * 3, maps


def _analyse(generic) -> _Split | None:
    """A _Split if this pass can and should rewrite ``generic`` (a linalg.generic, or a named op
    _structure knows); None otherwise."""
    structure = _structure(generic)
    if structure is None:
        return None
    kinds, maps = structure
    segments = list(ir.DenseI32ArrayAttr(generic.attributes["operandSegmentSizes"]))
    operands = list(generic.operands)
    elementwise = "reduction" not in kinds
    if segments[1] != 1 or "parallel" not in kinds:
        return None
    if elementwise and len(kinds) < MIN_PARALLEL_RANK:
        return None
    types = _static_memref_types(operands, elementwise)
    if types is None or len(maps) != len(operands) or any(m.n_symbols for m in maps):
        return None
    sizes = _dim_sizes(maps, types, len(kinds))
    if sizes is None:
        return None
    output_index = _output_index(maps[-1], types[-1], kinds)
    if output_index is None:
        return None
    if _has_nested_regions(generic):
        return None  # the body's inlining remaps the operands of its top-level ops only
    combiner = None if elementwise else _combiner(generic)
    if combiner is None and not elementwise:
        return None
    split = _Split(
        generic,
        combiner,
        str(types[-1].element_type),
        sizes,
        [d for kind, d in output_index if kind == "dim"],
        [d for d, kind in enumerate(kinds) if kind == "reduction"],
        [list(m.results) for m in maps[:-1]],
        output_index,
        _contiguous_dim_reduced(maps[:-1], types[:-1], kinds),
    )
    taken = elementwise or generic.name != "linalg.generic" or split.reduced_points >= MIN_REDUCED
    return split if taken else None


def _static_memref_types(operands: list, elementwise: bool) -> list | None:
    """The operands' memref types if all are static, and the output's element type one this
    pass writes: a reduction needs its combiner's float identity; an elementwise op stores what
    it computes, int or float."""
    if not all(isinstance(o.type, ir.MemRefType) for o in operands):
        return None
    types = [ir.MemRefType(o.type) for o in operands]
    if not all(t.has_static_shape for t in types):
        return None
    element = (ir.IntegerType, ir.F32Type, ir.F64Type) if elementwise else (ir.F32Type, ir.F64Type)
    return types if isinstance(types[-1].element_type, element) else None


def _has_nested_regions(op) -> bool:
    """Whether an op of the body has regions (a truncated normal's rejection loop, an scf.if)."""
    return any(len(inner.operation.regions) for inner in op.regions[0].blocks[0].operations)


def _contiguous_dim_reduced(maps: list, types: list, kinds: list) -> bool:
    """Whether the largest input's last (contiguous) dim is indexed by a reduction dim alone."""
    if not maps:
        return False
    largest = max(range(len(maps)), key=lambda j: math.prod(types[j].shape))
    results = maps[largest].results
    if not results:
        return False
    last = results[-1].maybe_downcast()
    return isinstance(last, ir.AffineDimExpr) and kinds[last.position] == "reduction"


def _dim_sizes(maps: list, types: list, rank: int) -> list | None:
    """Each iteration dim's size, from the operand dims indexed by it alone; None if some dim
    has none or two disagree."""
    sizes: list = [None] * rank
    for map_, type_ in zip(maps, types):
        for position, expr in enumerate(map_.results):
            expr = expr.maybe_downcast()
            if isinstance(expr, ir.AffineDimExpr):
                size = type_.shape[position]
                if sizes[expr.position] not in (None, size):
                    return None
                sizes[expr.position] = size
    return None if None in sizes or 0 in sizes else sizes


def _output_index(map_: ir.AffineMap, type_: ir.MemRefType, kinds: list) -> list | None:
    """The output's indices: every parallel dim once, or a constant 0 on a unit dim."""
    index, seen = [], set()
    for position, expr in enumerate(map_.results):
        expr = expr.maybe_downcast()
        if isinstance(expr, ir.AffineDimExpr) and kinds[expr.position] == "parallel":
            if expr.position in seen:
                return None
            seen.add(expr.position)
            index.append(("dim", expr.position))
        elif isinstance(expr, ir.AffineConstantExpr) and expr.value == 0:
            if type_.shape[position] != 1:
                return None
            index.append(("const", 0))
        else:
            return None
    parallel = {d for d, kind in enumerate(kinds) if kind == "parallel"}
    return index if seen == parallel else None


class _Writer(KernelText):
    """MLIR text of the launches: a function of (inputs..., out) whose body is them."""

    def __init__(self, split: _Split, input_types: list, out_type: str, with_init: bool):
        super().__init__()
        self.s, self.out_type, self.with_init = split, out_type, with_init
        self.input_types = [str(t) for t in input_types]
        self.input_elements = [str(ir.MemRefType(t).element_type) for t in input_types]
        self.el = split.element
        self.rank = len(split.sizes)
        body = split.generic.regions[0].blocks[0]
        self.reads_output = bool(list(body.arguments[len(body.arguments) - 1].uses))
        shape = [split.splits, split.outputs]
        if split.reduced_fastest:
            shape.reverse()
        self.partials = f"memref<{shape[0]}x{shape[1]}x{self.el}>"

    def text(self) -> str:
        s = self.s
        args = [f"%in{j}: {t}" for j, t in enumerate(self.input_types)]
        lines = [f"func.func @split({', '.join([*args, f'%out: {self.out_type}'])}) {{"]
        if s.splits > 1:
            lines.append(f"%partials = memref.alloc() : {self.partials}")
            lines += self._launch("h", s.splits * s.outputs, self._partial)
            lines += self._launch("g", s.outputs, self._combine_partials)
        else:
            lines += self._launch("g", s.outputs, self._whole)
        lines += ["return", "}", self._element_declaration()]
        return "\n".join(lines)

    def _element_declaration(self) -> str:
        types = ", ".join([*self.input_elements, self.el, *["index"] * self.rank])
        return f"func.func private @{_ELEMENT_CALLEE}({types}) -> {self.el}"

    def _launch(self, prefix: str, threads: int, body) -> list:
        """A 1-d launch of ``threads`` threads (THREADS a block; the last block's extra threads
        do nothing); ``body`` writes what thread %t (< threads) does. Its constants are inside
        (outlining would pass outer ones as parameters, and the loops would not fold)."""
        self.constants, self.prefix, self.lines = {}, prefix, []
        grid = self.const(-(-threads // THREADS))
        block, one = self.const(THREADS), self.const(1)
        outer = list(self.constants.values())
        launch = (
            f"gpu.launch blocks(%bx, %by, %bz) in (%gx = {grid}, %gy = {one}, %gz = {one})"
            f" threads(%tx, %ty, %tz) in (%sx = {block}, %sy = {one}, %sz = {one}) {{"
        )
        self.constants, self.prefix, self.lines = {}, f"{prefix}k", []
        self.emit(f"%t_ = arith.muli %bx, {self.const(THREADS)} : index")
        self.emit("%t = arith.addi %t_, %tx : index")
        self.emit(f"%live = arith.cmpi ult, %t, {self.const(threads)} : index")
        self.emit("scf.if %live {")
        body()
        self.emit("}")
        return [*outer, launch, *self.constants.values(), *self.lines, "gpu.terminator", "}"]

    # ---- what a thread does ----------------------------------------------------------------------

    def _partial(self) -> None:
        """Kernel 1: thread (k, p) = (t / P, t % P), or (t % K, t / K) when reduced points go
        fastest, accumulates reduced points k, k + K, ... of output element p."""
        s = self.s
        if s.reduced_fastest:
            self.emit(f"%k = arith.remui %t, {self.const(s.splits)} : index")
            self.emit(f"%p = arith.divui %t, {self.const(s.splits)} : index")
        else:
            self.emit(f"%p = arith.remui %t, {self.const(s.outputs)} : index")
            self.emit(f"%k = arith.divui %t, {self.const(s.outputs)} : index")
        acc = self._accumulate("%p", "%k", s.splits, self._identity())
        self.emit(
            f"memref.store {acc}, %partials[{self._partial_index('%k', '%p')}] : {self.partials}"
        )

    def _partial_index(self, k: str, p: str) -> str:
        return f"{p}, {k}" if self.s.reduced_fastest else f"{k}, {p}"

    def _combine_partials(self) -> None:
        """Kernel 2: thread p combines the output's start with partials[0..K)[p], in order."""
        s = self.s
        where = self._output_indices("%t")
        start = self._start(where)
        self.emit(
            f"%sum = scf.for %j = {self.const(0)} to {self.const(s.splits)} step {self.const(1)}"
            f" iter_args(%a = {start}) -> ({self.el}) {{"
        )
        where_partial = self._partial_index("%j", "%t")
        self.emit(f"%v = memref.load %partials[{where_partial}] : {self.partials}")
        self.emit(f"%e = {s.combiner} %a, %v : {self.el}")
        self.emit(f"scf.yield %e : {self.el}")
        self.emit("}")
        self.emit(f"memref.store %sum, %out[{where}] : {self.out_type}")

    def _whole(self) -> None:
        """K = 1: thread p accumulates every reduced point onto the output's start."""
        where = self._output_indices("%t")
        acc = self._accumulate("%t", self.const(0), 1, self._start(where))
        self.emit(f"memref.store {acc}, %out[{where}] : {self.out_type}")

    def _start(self, where: str) -> str:
        """The value the output element starts from: its initial value, or the identity (an
        elementwise body that does not read its output: a zero it ignores)."""
        if self.s.combiner is None and not self.reads_output:
            name = f"%{self.prefix}zero"
            zero = "0" if self.el.startswith("i") else "0.0"
            self.constants[name] = f"{name} = arith.constant {zero} : {self.el}"
            return name
        if not self.with_init:
            return self._identity()
        self.emit(f"%init = memref.load %out[{where}] : {self.out_type}")
        return "%init"

    def _accumulate(self, flat_output: str, first: str, step: int, start: str) -> str:
        """A loop over reduced points first, first + step, ... < R for output element
        ``flat_output``, from ``start``; its result's name."""
        s = self.s
        dims = [""] * self.rank
        for d, value in zip(s.parallel, self._delinearize(flat_output, s.parallel)):
            dims[d] = value
        self.emit(
            f"%acc = scf.for %r = {first} to {self.const(s.reduced_points)} step "
            f"{self.const(step)} iter_args(%a = {start}) -> ({self.el}) {{"
        )
        for d, value in zip(s.reduced, self._delinearize("%r", s.reduced)):
            dims[d] = value
        values = [self._load_input(j, dims) for j in range(len(self.input_types))]
        signature = ", ".join([*self.input_elements, self.el, *["index"] * self.rank])
        operands = ", ".join([*values, "%a", *dims])
        # A placeholder for the generic's body, which the pass clones in its place.
        self.emit(f"%e = func.call @{_ELEMENT_CALLEE}({operands}) : ({signature}) -> {self.el}")
        self.emit(f"scf.yield %e : {self.el}")
        self.emit("}")
        return "%acc"

    def _delinearize(self, flat: str, dims: list) -> list:
        """The values of ``dims`` (row-major, the last fastest) at a flat index."""
        values = [""] * len(dims)
        rest = flat
        for n in range(len(dims) - 1, 0, -1):
            size = self.const(self.s.sizes[dims[n]])
            values[n], quotient = self.fresh("d"), self.fresh("q")
            self.emit(f"{values[n]} = arith.remui {rest}, {size} : index")
            self.emit(f"{quotient} = arith.divui {rest}, {size} : index")
            rest = quotient
        if dims:
            values[0] = rest
        return values

    def _output_indices(self, flat: str) -> str:
        values = iter(self._delinearize(flat, self.s.parallel))
        return ", ".join(
            next(values) if kind == "dim" else self.const(0) for kind, _ in self.s.output_index
        )

    def _load_input(self, j: int, dims: list) -> str:
        where = [self._index(expr, dims) for expr in self.s.input_maps[j]]
        name = self.fresh("v")
        self.emit(f"{name} = memref.load %in{j}[{', '.join(where)}] : {self.input_types[j]}")
        return name

    def _index(self, expr, dims: list) -> str:
        """An input index: a dim's value, a constant, or an affine.apply of the expression."""
        expr = expr.maybe_downcast()
        if isinstance(expr, ir.AffineDimExpr):
            return dims[expr.position]
        if isinstance(expr, ir.AffineConstantExpr):
            return self.const(expr.value)
        names = ", ".join(f"d{n}" for n in range(self.rank))
        name = self.fresh("i")
        self.emit(f"{name} = affine.apply affine_map<({names}) -> ({expr})>({', '.join(dims)})")
        return name

    def _identity(self) -> str:
        name = f"%{self.prefix}id"
        literal = _float_literal(_IDENTITIES[self.s.combiner], self.el)
        self.constants[name] = f"{name} = arith.constant {literal} : {self.el}"
        return name


@dataclasses.dataclass(frozen=True)
class SplitReducePass(ModulePass):
    """Float linalg.generic (and conv_2d_nhwc_hwcf) reductions of R >= MIN_REDUCED reduced
    points per output -> a flat grid of register accumulators, split into partials when the
    outputs are few and R is long."""

    name = "tgc-nvptx-split-reduce"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for op in body_ops(function):
                split = _analyse(op) if op.name.startswith("linalg.") else None
                if split is not None:
                    self._replace(split, body_ops(function))

    def _replace(self, split: _Split, block_ops: list) -> None:
        generic = split.generic
        operands = list(generic.operands)
        fill = _identity_fill(generic, split, block_ops) if split.combiner else None
        inputs = [o.type for o in operands[:-1]]
        writer = _Writer(split, inputs, str(operands[-1].type), with_init=fill is None)
        replace_with_kernel_text(generic, writer.text(), fill)
