"""tgc-nvptx-tree-reduce: a large float reduction of every axis to a 0-d buffer (or keepdims'
1x...x1 one) becomes two block-parallel launches instead of one thread's loop.

Kernel 1 runs ``blocks`` blocks of THREADS threads. Thread t of block b accumulates the elements
b * THREADS + t, + blocks * THREADS, ... serially (consecutive threads read consecutive elements:
coalesced), starting from the combiner's identity (0 for a sum, 1 for a product, -inf for a max,
+inf for a min), so threads past the end contribute nothing. The block's threads then store their
values in workgroup (shared) memory and halve them in a tree: in step s (THREADS/2, ..., 1) thread
t < s combines shared[t] and shared[t + s], a gpu.barrier between steps. Thread 0 writes the
block's result to a buffer of ``blocks`` partials. Kernel 2, one block, reduces the partials the
same way and combines them with the 0-d buffer's initial value (a linalg.generic accumulates into
its output) — unless that value is a fill with the identity just before, which then goes.

The element each iteration reads is the generic's body, cloned: a reduction of a fused elementwise
chain (a loss's ``reduce_mean(square(y - t))``) reads its inputs and computes the chain in the
same loop. A mean is the sum followed by the existing 0-d divide.

Warp shuffles (gpu.shuffle) would finish the last 32 values without shared memory, but the
nvptx-emulated target runs kernels on the host one thread at a time between barriers
(barrier_phases.py), where a shuffle has no meaning: the tree stays in shared memory, its barriers
at the kernel's top level (the steps' guards are scf.ifs around loads and stores only).

Below MIN_ELEMENTS elements the one-thread kernel (tgc-nvptx-serial-kernels) stays: two launches
cost more than the loop. Integer reductions, dynamic shapes and bodies this pass cannot clone
(nested regions, a combiner it does not know) are left alone.
"""

from __future__ import annotations

import dataclasses
import math
import struct

from mlir import ir

from tgc.dialect.ir_helpers import all_ops, body_ops, functions, operation_of
from tgc.lowering.nvptx.kernel_text import KernelText
from tgc.passes.base import ModulePass

# Fewer elements than this: one thread's loop (two launches and a tree cost more).
MIN_ELEMENTS = 4096
# Threads per block (a power of two: the tree halves it). 256 threads of 4 or 8 bytes: 1-2 KiB of
# shared memory.
THREADS = 256
# Kernel 1's grid: enough blocks to fill an H100/H200 (132 SMs x 8 resident blocks of 256
# threads) in one wave, each thread then accumulating at least ELEMENTS_PER_THREAD elements.
MAX_BLOCKS = 1024
ELEMENTS_PER_THREAD = 4

# Combiner op -> its identity (what a thread past the end contributes).
_IDENTITIES = {
    "arith.addf": 0.0,
    "arith.mulf": 1.0,
    "arith.maximumf": -math.inf,
    "arith.maxnumf": -math.inf,
    "arith.minimumf": math.inf,
    "arith.minnumf": math.inf,
}
_ELEMENT_CALLEE = "__tgc_tree_reduce_element"
_WORKGROUP = "#gpu.address_space<workgroup>"


def _float_literal(value: float, element: str) -> str:
    """An arith.constant literal; infinities as their bit pattern (MLIR's form)."""
    if math.isfinite(value):
        return repr(value)
    if element == "f32":
        return "0x" + struct.pack(">f", value).hex().upper()
    return "0x" + struct.pack(">d", value).hex().upper()


@dataclasses.dataclass
class _Reduction:
    """What the pass learned about one linalg.generic it rewrites."""

    generic: ir.Operation
    combiner: str  # the op name, e.g. arith.addf
    element: str  # f32 or f64
    sizes: list  # the iteration space's static sizes
    indices: list  # per input: its indices, each ("dim", k) or ("const", c)

    @property
    def count(self) -> int:
        return math.prod(self.sizes)

    @property
    def blocks(self) -> int:
        return min(-(-self.count // (THREADS * ELEMENTS_PER_THREAD)), MAX_BLOCKS)

    @property
    def final_threads(self) -> int:
        """Kernel 2's block: the partials' count rounded up to a power of two, one warp at least."""
        return min(THREADS, max(32, 1 << (self.blocks - 1).bit_length()))


def _analyse(generic) -> _Reduction | None:
    """A _Reduction if ``generic`` is a static float reduction of every axis to one element whose
    body this pass can clone; None otherwise."""
    kinds = [str(a).rpartition("<")[2].rstrip(">") for a in generic.attributes["iterator_types"]]
    operands = list(generic.operands)
    if not kinds or any(kind != "reduction" for kind in kinds):
        return None
    if not all(isinstance(o.type, ir.MemRefType) for o in operands):
        return None
    out = ir.MemRefType(operands[-1].type)
    if not isinstance(out.element_type, (ir.F32Type, ir.F64Type)) or len(operands) < 2:
        return None
    maps = [ir.AffineMapAttr(a).value for a in generic.attributes["indexing_maps"]]
    if not _one_element(out, maps[-1]):
        return None
    sizes: list = [None] * len(kinds)
    indices = []
    for operand, map_ in zip(operands[:-1], maps[:-1]):
        shape = ir.MemRefType(operand.type)
        if not shape.has_static_shape:
            return None
        row = []
        for position, expr in enumerate(map_.results):
            expr = expr.maybe_downcast()
            if isinstance(expr, ir.AffineDimExpr):
                dim = expr.position
                if sizes[dim] not in (None, shape.shape[position]):
                    return None
                sizes[dim] = shape.shape[position]
                row.append(("dim", dim))
            elif isinstance(expr, ir.AffineConstantExpr):
                row.append(("const", expr.value))
            else:
                return None
        indices.append(row)
    if None in sizes:
        return None
    combiner = _combiner(generic)
    if combiner is None:
        return None
    return _Reduction(generic, combiner, str(out.element_type), sizes, indices)


def _one_element(out: ir.MemRefType, map_: ir.AffineMap) -> bool:
    """A 0-d output, or keepdims' 1x...x1 one written at index 0 on every dim."""
    if not out.has_static_shape or any(size != 1 for size in out.shape):
        return False
    zeros = [expr.maybe_downcast() for expr in map_.results]
    return all(isinstance(e, ir.AffineConstantExpr) and e.value == 0 for e in zeros)


def _combiner(generic) -> str | None:
    """The body's last op if it combines the accumulator (the out argument, used only there)
    with a value computed from the inputs by ops without regions."""
    body = generic.regions[0].blocks[0]
    ops = [op.operation for op in body.operations]
    accumulator = body.arguments[len(body.arguments) - 1]
    yielded = ops[-1].operands[0]
    owner = yielded.owner
    if isinstance(owner, ir.Block) or owner.name not in _IDENTITIES:
        return None
    combine = owner.operation
    if any(len(op.regions) for op in ops):
        return None
    uses = [operation_of(use.owner) for use in accumulator.uses]
    if len(uses) != 1 or uses[0] != combine or list(combine.operands).count(accumulator) != 1:
        return None
    return combine.name


class _Writer(KernelText):
    """MLIR text of the two launches: a function of (inputs..., out) whose body is them."""

    def __init__(self, reduction: _Reduction, inputs: list, out_type: str, with_init: bool):
        super().__init__()
        self.r, self.out_type = reduction, out_type
        self.input_types = [str(t) for t in inputs]
        self.input_elements = [str(ir.MemRefType(t).element_type) for t in inputs]
        self.out_rank = ir.MemRefType(reduction.generic.operands[-1].type).rank
        self.with_init = with_init
        self.el = reduction.element

    def identity(self) -> str:
        name = f"%{self.prefix}id"
        literal = _float_literal(_IDENTITIES[self.r.combiner], self.el)
        self.constants[name] = f"{name} = arith.constant {literal} : {self.el}"
        return name

    def text(self) -> str:
        r = self.r
        args = [f"%in{j}: {t}" for j, t in enumerate(self.input_types)]
        head = f"func.func @tree({', '.join([*args, f'%out: {self.out_type}'])}) {{"
        partials = f"memref<{r.blocks}x{self.el}>"
        lines = [head, f"%partials = memref.alloc() : {partials}"]
        # Kernel 1: each block's result into partials[block]; kernel 2: the partials into %out.
        lines += self._launch(
            "h", r.blocks, THREADS, self._accumulate_elements, ("%partials", "%bx", partials)
        )
        lines += self._launch(
            "g",
            1,
            r.final_threads,
            lambda: self._accumulate_partials(partials),
            ("%out", None, self.out_type),
        )
        lines += ["return", "}", self._element_declaration()]
        return "\n".join(lines)

    def _element_declaration(self) -> str:
        types = ", ".join([*self.input_elements, self.el, *["index"] * len(self.r.sizes)])
        return f"func.func private @{_ELEMENT_CALLEE}({types}) -> {self.el}"

    def _launch(self, prefix: str, blocks: int, threads: int, accumulate, result: tuple) -> list:
        """A 1-d launch with a shared buffer of ``threads`` values: each thread's value (%acc,
        from ``accumulate``), the block's tree, thread 0's store to ``result`` (buffer, index,
        type). Its constants are inside (outlining would pass outer ones as parameters, and the
        loops would not fold)."""
        self.constants, self.prefix, self.lines = {}, prefix, []
        grid, block, one = self.const(blocks), self.const(threads), self.const(1)
        outer = list(self.constants.values())
        shared = f"memref<{threads}x{self.el}, {_WORKGROUP}>"
        launch = (
            f"gpu.launch blocks(%bx, %by, %bz) in (%gx = {grid}, %gy = {one}, %gz = {one})"
            f" threads(%tx, %ty, %tz) in (%sx = {block}, %sy = {one}, %sz = {one})"
            f" workgroup(%shared : {shared}) {{"
        )
        self.constants, self.prefix, self.lines = {}, f"{prefix}k", []
        accumulate()
        self._tree(threads, shared)
        self._thread_zero_stores(shared, *result)
        return [*outer, launch, *self.constants.values(), *self.lines, "gpu.terminator", "}"]

    def _accumulate_elements(self) -> None:
        """Kernel 1: each thread's strided slice of the iteration space, serially."""
        start = self.fresh("first")
        self.emit(f"{start}_ = arith.muli %bx, {self.const(THREADS)} : index")
        self.emit(f"{start} = arith.addi {start}_, %tx : index")
        stride = self.const(self.r.blocks * THREADS)
        self.emit(
            f"%acc = scf.for %i = {start} to {self.const(self.r.count)} step {stride}"
            f" iter_args(%a = {self.identity()}) -> ({self.el}) {{"
        )
        dims = self._delinearize("%i")
        values = [self._load_input(j, dims) for j in range(len(self.input_types))]
        signature = ", ".join([*self.input_elements, self.el, *["index"] * len(dims)])
        operands = ", ".join([*values, "%a", *dims])
        # A placeholder for the generic's body, which the pass clones in its place.
        call = f"func.call @{_ELEMENT_CALLEE}({operands})"
        self.emit(f"%e = {call} : ({signature}) -> {self.el}")
        self.emit(f"scf.yield %e : {self.el}")
        self.emit("}")

    def _accumulate_partials(self, partials: str) -> None:
        """Kernel 2 (one block): the partials, strided over its threads."""
        step = self.const(self.r.final_threads)
        self.emit(
            f"%acc = scf.for %i = %tx to {self.const(self.r.blocks)} step {step}"
            f" iter_args(%a = {self.identity()}) -> ({self.el}) {{"
        )
        self.emit(f"%p = memref.load %partials[%i] : {partials}")
        self.emit(f"%e = {self.r.combiner} %a, %p : {self.el}")
        self.emit(f"scf.yield %e : {self.el}")
        self.emit("}")

    def _delinearize(self, flat: str) -> list:
        """The iteration dims of a flat row-major index (the last dim fastest)."""
        sizes = self.r.sizes
        dims = [""] * len(sizes)
        rest = flat
        for k in range(len(sizes) - 1, 0, -1):
            dims[k], quotient = self.fresh("d"), self.fresh("q")
            self.emit(f"{dims[k]} = arith.remui {rest}, {self.const(sizes[k])} : index")
            self.emit(f"{quotient} = arith.divui {rest}, {self.const(sizes[k])} : index")
            rest = quotient
        dims[0] = rest
        return dims

    def _load_input(self, j: int, dims: list) -> str:
        where = [dims[n] if kind == "dim" else self.const(n) for kind, n in self.r.indices[j]]
        name = self.fresh("v")
        self.emit(f"{name} = memref.load %in{j}[{', '.join(where)}] : {self.input_types[j]}")
        return name

    def _tree(self, threads: int, shared: str) -> None:
        """shared[t] = the thread's value; then halvings, a barrier after each but the last (thread
        0 reads what it wrote itself)."""
        self.emit(f"memref.store %acc, %shared[%tx] : {shared}")
        self.emit("gpu.barrier")
        step = threads // 2
        while step >= 1:
            active = self.fresh("active")
            self.emit(f"{active} = arith.cmpi ult, %tx, {self.const(step)} : index")
            self.emit(f"scf.if {active} {{")
            other = self.fresh("other")
            self.emit(f"{other} = arith.addi %tx, {self.const(step)} : index")
            mine, theirs, both = self.fresh("mine"), self.fresh("theirs"), self.fresh("both")
            self.emit(f"{mine} = memref.load %shared[%tx] : {shared}")
            self.emit(f"{theirs} = memref.load %shared[{other}] : {shared}")
            self.emit(f"{both} = {self.r.combiner} {mine}, {theirs} : {self.el}")
            self.emit(f"memref.store {both}, %shared[%tx] : {shared}")
            self.emit("}")
            if step > 1:
                self.emit("gpu.barrier")
            step //= 2

    def _thread_zero_stores(self, shared: str, buffer: str, index: str | None, type_: str) -> None:
        """Thread 0 stores the tree's root; into %out combined with its initial value unless the
        identity fill before went."""
        self.emit(f"%first = arith.cmpi eq, %tx, {self.const(0)} : index")
        self.emit("scf.if %first {")
        self.emit(f"%total = memref.load %shared[{self.const(0)}] : {shared}")
        value = "%total"
        if index is None:  # the output: index 0 on each of its dims (none when 0-d)
            index = ", ".join([self.const(0)] * self.out_rank)
        if self.with_init and buffer == "%out":
            self.emit(f"%init = memref.load %out[{index}] : {type_}")
            self.emit(f"%with_init = {self.r.combiner} %total, %init : {self.el}")
            value = "%with_init"
        self.emit(f"memref.store {value}, {buffer}[{index}] : {type_}")
        self.emit("}")


def _identity_fill(generic, reduction: _Reduction, block_ops: list):
    """The linalg.fill of the generic's output with the combiner's identity that the generic's
    result overwrites anyway (no other op touches the buffer between them), or None."""
    out = generic.operands[len(generic.operands) - 1]
    position = {op: n for n, op in enumerate(block_ops)}
    if generic not in position:
        return None
    owners = [operation_of(use.owner) for use in out.uses]
    fills = [owner for owner in owners if owner.name == "linalg.fill"]
    if len(fills) != 1 or fills[0] not in position:
        return None
    fill = fills[0]
    here, there = position[generic], position[fill]
    for owner in owners:
        if owner in (fill, generic):
            continue
        if owner not in position or there < position[owner] < here:
            return None
    if there > here:
        return None
    value = fill.operands[0].owner
    if isinstance(value, ir.Block) or value.name != "arith.constant":
        return None
    constant = value.attributes["value"].maybe_downcast()
    if not isinstance(constant, ir.FloatAttr):
        return None
    if constant.value != _IDENTITIES[reduction.combiner]:
        return None
    return fill


@dataclasses.dataclass(frozen=True)
class TreeReducePass(ModulePass):
    """Static f32/f64 linalg.generic reductions of every axis to one element, of MIN_ELEMENTS
    elements or more, at a function's top level -> two launches: per-block shared-memory trees
    into partials, then one block's tree over the partials."""

    name = "tgc-nvptx-tree-reduce"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for op in body_ops(function):
                if op.name != "linalg.generic":
                    continue
                reduction = _analyse(op)
                if reduction is not None and reduction.count >= MIN_ELEMENTS:
                    self._replace(reduction, body_ops(function))

    def _replace(self, reduction: _Reduction, block_ops: list) -> None:
        generic = reduction.generic
        operands = list(generic.operands)
        fill = _identity_fill(generic, reduction, block_ops)
        inputs = [o.type for o in operands[:-1]]
        writer = _Writer(reduction, inputs, str(operands[-1].type), with_init=fill is None)
        replace_with_kernel_text(generic, writer.text(), fill)


def replace_with_kernel_text(generic, text: str, fill) -> None:
    """``generic`` (and the identity ``fill`` before it, when given) replaced by the body of the
    one function in ``text``, whose arguments are the generic's operands; the body's placeholder
    calls of the element function become the generic's own body."""
    operands = list(generic.operands)
    parsed = ir.Module.parse(text)
    body = parsed.body.operations[0].regions[0].blocks[0]
    for arg, operand in zip(body.arguments, operands):
        arg.replace_all_uses_with(operand)
    moved = list(body.operations)[:-1]  # all but func.return
    for inner in moved:
        inner.operation.move_before(generic)
    for inner in moved:
        for call in _element_calls(inner.operation):
            _inline_body(generic, call)
    if fill is not None:
        fill.erase()
    generic.erase()


def _element_calls(root) -> list:
    """The func.call ops in ``root``, ``root`` itself included (a moved op may be one)."""
    return [op for op in (*all_ops(root), root) if op.name == "func.call"]


def _inline_body(generic, call) -> None:
    """The generic's body in place of the placeholder call: its arguments (inputs..., out) are the
    call's (loaded values..., accumulator), linalg.index dim k the call's dim k."""
    body = generic.regions[0].blocks[0]
    arguments = list(body.arguments)
    operands = list(call.operands)
    mapping = {arg: operands[n] for n, arg in enumerate(arguments)}
    dims = operands[len(arguments) :]
    ops = [op.operation for op in body.operations]
    for op in ops[:-1]:
        if op.name == "linalg.index":
            mapping[op.results[0]] = dims[ir.IntegerAttr(op.attributes["dim"]).value]
            continue
        new = op.clone(ip=ir.InsertionPoint(call)).operation
        for n, operand in enumerate(new.operands):
            if operand in mapping:
                new.operands[n] = mapping[operand]
        for old, result in zip(op.results, new.results):
            mapping[old] = result
    yielded = ops[-1].operands[0]  # may be defined outside the body (a constant): kept as it is
    call.results[0].replace_all_uses_with(mapping.get(yielded, yielded))
    call.erase()
