"""A block-synchronous kernel body run on the host (tgc-nvptx-kernels-on-host's helper).

On the GPU a block's threads run at once and meet at each gpu.barrier. On the host they run one
after another, so the body is split at each barrier into phases, each phase a loop nest over the
block's threads (z, y, x): every thread finishes a phase before any starts the next, which is what
the barrier guarantees. A value a thread computes in one phase and uses in a later one is kept per
thread in a host buffer (one element per thread of the block), stored at the end of its phase and
loaded at the start of the phase that uses it. A barrier may also sit in an scf.for at the top
level of the body (the K loop of a tiled matmul): that loop runs on the host around its body's
phases, its bounds the same for every thread, its iter_args (a thread's registers) kept per thread
in buffers. A barrier anywhere else (under an scf.if, say: threads that could disagree) is refused.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import arith, memref, scf

_DIMS = ("x", "y", "z")
_NEST = "tgc.thread_phase"


def _BYTE() -> ir.Type:
    return ir.IntegerType.get_signless(8)


def _is_bool(type_: ir.Type) -> bool:
    return isinstance(type_, ir.IntegerType) and ir.IntegerType(type_).width == 1


def _store(value, buffer, index) -> None:
    """At the current insertion point."""
    if _is_bool(value.type):
        value = arith.ExtUIOp(_BYTE(), value).result
    memref.StoreOp(value, buffer, [index])


def _load(buffer, index, type_: ir.Type):
    value = memref.LoadOp(buffer, [index]).result
    return arith.TruncIOp(type_, value).result if _is_bool(type_) else value


def contains_barrier(op) -> bool:
    found = []

    def visit(inner):
        if inner.operation.name == "gpu.barrier":
            found.append(inner)
            return ir.WalkResult.INTERRUPT
        return ir.WalkResult.ADVANCE

    op.operation.walk(visit)
    return bool(found)


@dataclasses.dataclass
class _Nest:
    """One phase: the loops over a block's threads, its body's yield, the thread's ids and its
    index into per-thread buffers."""

    index: int
    innermost: ir.Operation
    body_yield: ir.Operation
    ids: dict
    linear: ir.Value
    after_linear: ir.Operation


class Phases:
    """Builds the phases of one kernel body inside the host's loops over blocks."""

    def __init__(self, fail, entry: ir.Block, entry_end, block_sizes: list, zero, one):
        self.fail, self.entry, self.entry_end = fail, entry, entry_end
        self.sizes, self.zero, self.one = block_sizes, zero, one
        self.nests: list[_Nest] = []
        self.buffers: list = []
        with ir.InsertionPoint(entry_end):
            product = arith.MulIOp(block_sizes[0], block_sizes[1]).result
            self.threads = arith.MulIOp(product, block_sizes[2]).result

    def run(self, ops: list, anchor) -> None:
        """Splits ``ops`` (the kernel body, gpu.return excluded) into phases before ``anchor``,
        then carries the values that cross phases."""
        self._sequence(ops, anchor)
        self._carry_across_phases()
        self._replace_thread_ids()
        for nest in self.nests:
            del nest.innermost.attributes[_NEST]

    def free_buffers(self, before) -> None:
        with ir.InsertionPoint(before):
            for buffer in self.buffers:
                memref.DeallocOp(buffer)

    def _sequence(self, ops: list, anchor) -> None:
        segment: list = []
        for op in ops:
            name = op.operation.name
            if name == "gpu.barrier":
                self._phase(segment, anchor)
                segment = []
                op.operation.erase()
            elif name == "scf.for" and contains_barrier(op):
                self._phase(segment, anchor)
                segment = []
                self._loop(op.operation, anchor)
            elif contains_barrier(op):
                self.fail(
                    op.operation,
                    f"a gpu.barrier inside '{name}' cannot be split into phases on the host "
                    "(only barriers at the kernel's top level or in a top-level scf.for)",
                )
            else:
                segment.append(op.operation)
        self._phase(segment, anchor)

    def _phase(self, ops: list, anchor) -> None:
        if not ops:
            return
        nest = self._nest(anchor)
        for op in ops:
            op.move_before(nest.body_yield)

    def _nest(self, anchor) -> _Nest:
        """Loops over the block's threads (z, y, x) before ``anchor``."""
        ids = {}
        point = ir.InsertionPoint(anchor)
        loop = None
        for i in (2, 1, 0):
            loop = scf.ForOp(self.zero, self.sizes[i], self.one, ip=point)
            ids[_DIMS[i]] = loop.induction_variable
            with ir.InsertionPoint(loop.body):
                terminator = scf.YieldOp([])
            point = ir.InsertionPoint(terminator)
        loop.operation.attributes[_NEST] = ir.IntegerAttr.get(
            ir.IntegerType.get_signless(64), len(self.nests)
        )
        with point:
            rows = arith.MulIOp(ids["z"], self.sizes[1]).result
            rows = arith.AddIOp(rows, ids["y"]).result
            columns = arith.MulIOp(rows, self.sizes[0]).result
            linear = arith.AddIOp(columns, ids["x"])
        nest = _Nest(
            len(self.nests),
            loop.operation,
            terminator.operation,
            ids,
            linear.result,
            linear.operation,
        )
        self.nests.append(nest)
        return nest

    def _per_thread_buffer(self, type_: ir.Type):
        """One element per thread; a bool in a byte (memrefs of i1 do not lower to LLVM)."""
        element = _BYTE() if _is_bool(type_) else type_
        with ir.InsertionPoint(self.entry_end):
            buffer = memref.AllocOp(
                ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], element), [self.threads], []
            ).result
        self.buffers.append(buffer)
        return buffer

    def _uniform(self, value) -> bool:
        """Defined before the blocks' loops (a constant moved there, an argument)."""
        owner = value.owner
        if isinstance(owner, ir.Block):
            return owner == self.entry
        return owner.operation.block == self.entry

    def _loop(self, loop, anchor) -> None:
        lower, upper, step, *inits = loop.operands
        for bound in (lower, upper, step):
            if not self._uniform(bound):
                self.fail(
                    loop, "an scf.for with a gpu.barrier needs bounds that every thread shares"
                )
        body = loop.regions[0].blocks[0]
        buffers = [self._per_thread_buffer(v.type) for v in inits]
        if inits:
            nest = self._nest(anchor)
            with ir.InsertionPoint(nest.body_yield):
                for value, buffer in zip(inits, buffers):
                    _store(value, buffer, nest.linear)
        host_loop = scf.ForOp(lower, upper, step, ip=ir.InsertionPoint(anchor))
        with ir.InsertionPoint(host_loop.body):
            host_yield = scf.YieldOp([])
        body.arguments[0].replace_all_uses_with(host_loop.induction_variable)
        if inits:
            nest = self._nest(host_yield)
            with ir.InsertionPoint(nest.body_yield):
                for argument, buffer in zip(list(body.arguments)[1:], buffers):
                    argument.replace_all_uses_with(_load(buffer, nest.linear, argument.type))
        ops = list(body.operations)
        terminator = ops[-1]
        self._sequence(ops[:-1], host_yield)
        if inits:
            nest = self._nest(host_yield)
            with ir.InsertionPoint(nest.body_yield):
                for value, buffer in zip(terminator.operands, buffers):
                    _store(value, buffer, nest.linear)
            nest = self._nest(anchor)
            with ir.InsertionPoint(nest.body_yield):
                for result, buffer in zip(loop.results, buffers):
                    result.replace_all_uses_with(_load(buffer, nest.linear, result.type))
        loop.erase()

    def _nest_of(self, op) -> int | None:
        while op is not None:
            if op.name == "scf.for" and _NEST in op.attributes:
                return ir.IntegerAttr(op.attributes[_NEST]).value
            op = op.parent
        return None

    def _carry_across_phases(self) -> None:
        """A value used in a phase other than its own: stored per thread at the end of its
        phase, loaded at the start of each phase that uses it."""
        for nest in self.nests:
            for op in list(nest.body_yield.block.operations):
                for result in op.results:
                    self._carry(nest, result)

    def _carry(self, nest: _Nest, value) -> None:
        elsewhere: dict[int, list] = {}
        for use in list(value.uses):
            where = self._nest_of(use.owner)
            if where is not None and where != nest.index:
                elsewhere.setdefault(where, []).append((use.owner, use.operand_number))
        if not elsewhere:
            return
        buffer = self._per_thread_buffer(value.type)
        with ir.InsertionPoint(nest.body_yield):
            _store(value, buffer, nest.linear)
        for where, uses in elsewhere.items():
            target = self.nests[where]
            with ir.InsertionPoint.after(target.after_linear):
                loaded = _load(buffer, target.linear, value.type)
            for owner, number in uses:
                owner.operands[number] = loaded

    def _replace_thread_ids(self) -> None:
        """gpu.thread_id in each phase: that phase's loop variables."""
        for nest in self.nests:
            found = []

            def visit(op, found=found):
                if op.operation.name == "gpu.thread_id":
                    found.append(op.operation)
                return ir.WalkResult.ADVANCE

            nest.innermost.walk(visit)
            for op in found:
                dimension = str(op.attributes["dimension"]).rstrip(">").split()[-1]
                op.result.replace_all_uses_with(nest.ids[dimension])
                op.erase()
