"""tgc-parallel-loops: loops over a batch whose iterations write disjoint parts of their buffers run
as chunks on the parallel runtime's threads (tgc/lowering/cpu/parallel_gemm.py).

The CPU lowerings that build such loops (direct convolution, max-pool and its gradient's tiles,
the im2col gather: conv_direct.py, pool_vector.py, conv_gemm.py) put ``tgc.parallel_for`` on the
outermost ``scf.for``, whose iterations are the batch's images. After bufferization (the loop then
carries no values: it writes memrefs in place), this pass outlines each such loop:

* ``@<f>_loop<i>(begin, end, captured...)``: the loop over [begin, end) with its body, every value
  it used from outside passed in (memrefs, scalars) or recomputed (constants, and the pure ops
  over them: the filter rows a direct convolution reads before its loops);
* ``@<f>_loop<i>_chunk(context, begin, end)``: what the runtime calls, ``void (void *, int64_t,
  int64_t)``: it loads the captured values from the context (an LLVM struct of memref
  descriptors and scalars) and calls the loop function;
* in place of the loop: the struct built and stored in a stack slot, and a call of
  ``tgc_parallel_for(chunk, context, iterations, work)``, ``work`` being a compile-time estimate of
  one iteration's operations (the runtime keeps small loops, such as one image, on the calling
  thread).

A body may call the GEMM driver, directly or through functions of the module that call nothing
else (the im2col convolution's per-image GEMM: the runtime runs a driver call made inside a job on
its thread alone), and may allocate (its buffers, per iteration): a failed allocation's check, as
the GEMM kernel's, reports to the runtime's ``tgc_parallel_error`` (the module's error handler
wherever the runtime is linked: jit.py, the artifact's), which fails the loop on its caller's
thread. A loop that calls anything else (OpenBLAS, which has threads of its own; host callbacks),
holds a stack slot, or uses a value that cannot be passed is left as it is.

Modules that link their own runtime (artifacts, ``place=inline``) define a
weak serial ``tgc_parallel_for`` (the whole range on the calling thread) that the linked runtime
replaces, as the GEMM driver's (blas.py).
"""

from __future__ import annotations

import dataclasses
import math

from mlir import ir
from mlir.dialects import arith, func, llvm

from tgc.dialect.ir_helpers import all_ops, defining_op, find_function, functions, is_within
from tgc.lowering.cpu.parallel_gemm import DRIVER_PREFIX, LOOP_ENTRY
from tgc.lowering.cpu.vector_runs import PARALLEL_FOR
from tgc.passes.base import ModulePass

# Off: tagged loops stay as they are (benchmarks' A/B: convnet_profile.py --ab
# tgc.lowering.cpu.parallel_loops:OUTLINE).
OUTLINE = True
# Ops recomputed inside the outlined loop instead of passed in: pure, no regions.
_RECOMPUTED = ("arith.", "vector.broadcast", "vector.transfer_read", "memref.dim", "affine.apply")
# Ops a body may not hold: indirect calls (of what the pass cannot see), stack slots; its direct
# calls must reach only the GEMM driver (_vouched_function).
_NOT_OUTLINED = ("func.call_indirect", "memref.alloca")
_CALLS = ("func.call", "llvm.call")
# The largest stack slot a function called from a chunk may hold (bytes): far below a worker
# thread's stack (glibc's default, 8 MiB).
SMALL_FRAME_SLOT = 64 * 1024
_UNKNOWN_TRIPS = 16  # an inner loop of unknown trip count counts this many iterations of work


def _i64() -> ir.Type:
    return ir.IntegerType.get_signless(64)


def _ptr() -> ir.Type:
    return ir.Type.parse("!llvm.ptr")


def _descriptor_type(memref_type: ir.MemRefType) -> ir.Type:
    """The LLVM struct the memref lowering makes of a memref of this rank."""
    rank = memref_type.rank
    arrays = f", array<{rank} x i64>, array<{rank} x i64>" if rank else ""
    return ir.Type.parse(f"!llvm.struct<(ptr, ptr, i64{arrays})>")


def _field_type(value_type: ir.Type) -> ir.Type:
    if isinstance(value_type, ir.MemRefType):
        return _descriptor_type(ir.MemRefType(value_type))
    return _i64() if isinstance(value_type, ir.IndexType) else value_type


def _owner_op(value: ir.Value) -> ir.Operation:
    """The operation that defines ``value``, or the op whose block has it as an argument."""
    if isinstance(value.owner, ir.Block):
        return value.owner.owner.operation
    return value.owner.operation


def _is_scalar(value_type: ir.Type) -> bool:
    return isinstance(value_type, (ir.IndexType, ir.IntegerType, ir.F32Type, ir.F64Type))


class _Plan:
    """What the outlined loop receives (``arguments``) and recomputes (``recomputed``, in order)."""

    def __init__(self, loop):
        self.loop = loop
        self.arguments: list = []
        self.recomputed: list = []
        self._seen: list = []  # values already planned

    def _known(self, value) -> bool:
        return any(value == seen for seen in self._seen)

    def take(self, value: ir.Value) -> bool:
        """Plans ``value`` (used inside the loop, defined outside); False when it cannot be had."""
        if self._known(value):
            return True
        defining = defining_op(value)
        recompute = defining is not None and defining.name.startswith(_RECOMPUTED)
        if recompute and not len(defining.regions):
            if not all(self.take(operand) for operand in defining.operands):
                return False
            self._seen.append(value)
            if not any(defining == op for op in self.recomputed):
                self.recomputed.append(defining)
            return True
        if isinstance(value.type, ir.MemRefType) or _is_scalar(value.type):
            self._seen.append(value)
            self.arguments.append(value)
            return True
        return False


def _callee(op) -> str:
    return ir.FlatSymbolRefAttr(op.attributes["callee"]).value


def _vouched_function(module, name: str, seen: set) -> bool:
    """Whether a body may call ``name``: the GEMM driver (which runs a call from inside a job on
    its thread alone), or a function of the module that holds only what a body may hold and
    calls only such functions (the conv's GEMM call, tgc-blas-matmul's function around the
    driver). Anything else (OpenBLAS, libm, host callbacks) is refused: its threads or state are
    not the runtime's."""
    if name.startswith(DRIVER_PREFIX):
        return True
    function = find_function(module, name)
    if function is None or not len(function.regions[0].blocks):
        return False
    if name in seen:
        return True  # already being checked higher up
    seen.add(name)
    return _holds_only_vouched(module, function, seen)


def _holds_only_vouched(module, root, seen: set) -> bool:
    """Whether ``root`` (a loop, a function) holds no refused op and calls only vouched functions
    (``seen``: the functions of the module already being checked)."""
    for op in all_ops(root):
        if op.name.startswith(_NOT_OUTLINED) and not _small_frame_slot(op):
            return False
        if op.name in _CALLS and (
            "callee" not in op.attributes or not _vouched_function(module, _callee(op), seen)
        ):
            return False
    return True


def _small_frame_slot(op) -> bool:
    """Whether ``op`` is a static ``memref.alloca`` of at most SMALL_FRAME_SLOT bytes at the top
    of a function a body calls (the narrow GEMM's accumulator block): it lives in that call's
    frame, on the thread running the chunk, and is freed when the call returns. One in the loop's
    own body would grow the stack with every iteration."""
    if op.name != "memref.alloca" or op.parent.name != "func.func":
        return False  # (also one in a loop of the function: that grows with every iteration)
    buffer = ir.MemRefType(op.results[0].type)
    if not buffer.has_static_shape:
        return False
    bits = buffer.element_type.width if hasattr(buffer.element_type, "width") else 64
    return math.prod(buffer.shape) * bits // 8 <= SMALL_FRAME_SLOT


def _module_of(op):
    while op.parent is not None:
        op = op.parent
    return op


def _plan(loop) -> _Plan | None:
    plan = _Plan(loop.operation)
    if not _holds_only_vouched(_module_of(loop.operation), loop, set()):
        return None
    for op in all_ops(loop):
        for operand in op.operands:
            if not is_within(_owner_op(operand), loop) and not plan.take(operand):
                return None
    return plan


def _static_trips(loop) -> int:
    bounds = []
    for operand in list(loop.operands)[:3]:
        defining = defining_op(operand)
        if defining is None or defining.name != "arith.constant":
            return _UNKNOWN_TRIPS
        bounds.append(ir.IntegerAttr(defining.attributes["value"]).value)
    low, high, step = bounds
    return max(0, (high - low + step - 1) // step) if step > 0 else _UNKNOWN_TRIPS


def _call_work(op) -> int:
    """A vouched call (a GEMM) reads its memref operands at least once: their elements (an
    unknown dim counts _UNKNOWN_TRIPS)."""
    total = 1
    for operand in op.operands:
        if isinstance(operand.type, ir.MemRefType):
            shape = ir.MemRefType(operand.type).shape
            total += math.prod(_UNKNOWN_TRIPS if d < 0 else d for d in shape)
    return total


def _work(block) -> int:
    """Operations one run of ``block`` executes, inner loops multiplied out (an estimate)."""
    total = 0
    for op in block.operations:
        inner = sum(_work(b) for region in op.regions for b in region.blocks)
        if op.name == "scf.for":
            total += _static_trips(op) * inner
        elif op.name in _CALLS:
            total += _call_work(op)
        else:
            total += 1 + inner
    return total


def _is_zero_and_one(loop) -> bool:
    low, _, step = list(loop.operands)[:3]
    values = []
    for operand in (low, step):
        defining = defining_op(operand)
        if defining is None or defining.name != "arith.constant":
            return False
        values.append(ir.IntegerAttr(defining.attributes["value"]).value)
    return values == [0, 1]


def _loop_function(module, plan: _Plan, name: str):
    """@name(begin, end, arguments...): the loop over [begin, end)."""
    index = ir.IndexType.get()
    types = [index, index] + [value.type for value in plan.arguments]
    with ir.InsertionPoint(module.body), plan.loop.location:
        function = func.FuncOp(name, ir.FunctionType.get(types, []))
        function.attributes["sym_visibility"] = ir.StringAttr.get("private")
        entry = function.add_entry_block()
    begin, end, *passed = entry.arguments
    mapping = list(zip(plan.arguments, passed))

    def mapped(value):
        for old, new in mapping:
            if old == value:
                return new
        return None

    with ir.InsertionPoint(entry):
        for op in plan.recomputed:
            clone = op.clone()
            for i, operand in enumerate(op.operands):
                clone.operands[i] = mapped(operand)
            mapping.extend(zip(op.results, clone.results))
        step = arith.constant(index, 1)  # before the loop, which uses it
        loop = plan.loop.clone()
        del loop.attributes[PARALLEL_FOR]
        loop.operands[0], loop.operands[1], loop.operands[2] = begin, end, step
        for op in all_ops(loop):
            for i, operand in enumerate(op.operands):
                new = mapped(operand)
                if new is not None:
                    op.operands[i] = new
        func.ReturnOp([])
    return function


def _chunk_function(module, plan: _Plan, name: str, loop_name: str, struct: ir.Type):
    """@name(context, begin, end): the context's values, then the loop function."""
    index, i64 = ir.IndexType.get(), _i64()
    with ir.InsertionPoint(module.body), plan.loop.location:
        function = func.FuncOp(name, ir.FunctionType.get([_ptr(), i64, i64], []))
        function.attributes["sym_visibility"] = ir.StringAttr.get("private")
        entry = function.add_entry_block()
    context, begin, end = entry.arguments
    with ir.InsertionPoint(entry), plan.loop.location:
        loaded = llvm.load(struct, context)
        values = []
        for i, value in enumerate(plan.arguments):
            field = llvm.extractvalue(_field_type(value.type), loaded, [i])
            if isinstance(value.type, ir.MemRefType):
                field = ir.Operation.create(
                    "builtin.unrealized_conversion_cast", results=[value.type], operands=[field]
                ).result
            elif isinstance(value.type, ir.IndexType):
                field = arith.index_cast(index, field)
            values.append(field)
        bounds = [arith.index_cast(index, begin), arith.index_cast(index, end)]
        func.CallOp([], ir.FlatSymbolRefAttr.get(loop_name), bounds + values)
        func.ReturnOp([])


def _entry_type() -> ir.FunctionType:
    i64 = _i64()
    body = ir.FunctionType.get([_ptr(), i64, i64], [])
    return ir.FunctionType.get([body, _ptr(), i64, i64], [])


def _declare_entry(module, place: str) -> None:
    """``tgc_parallel_for``: declared (the JIT gives the in-process runtime's) or defined weak and
    serial (code that links its own runtime)."""
    if find_function(module, LOOP_ENTRY) is not None:
        return
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        entry = func.FuncOp(LOOP_ENTRY, _entry_type())
        if place == "external":
            entry.attributes["sym_visibility"] = ir.StringAttr.get("private")
            return
        entry.attributes["llvm.linkage"] = ir.Attribute.parse("#llvm.linkage<weak>")
        block = entry.add_entry_block()
        body, context, total, _ = block.arguments
        with ir.InsertionPoint(block):
            zero = arith.constant(_i64(), 0)
            func.CallIndirectOp([], body, [context, zero, total])
            func.ReturnOp([])


def _replace_with_call(plan: _Plan, chunk_name: str, struct: ir.Type, work: int) -> None:
    loop = plan.loop
    i64 = _i64()
    function = loop.parent
    while function.name != "func.func":
        function = function.parent
    entry = function.regions[0].blocks[0]
    with ir.InsertionPoint.at_block_begin(entry), loop.location:
        slot = llvm.alloca(_ptr(), arith.constant(i64, 1), struct)
    with ir.InsertionPoint(loop), loop.location:
        packed = llvm.mlir_undef(struct)
        for i, value in enumerate(plan.arguments):
            if isinstance(value.type, ir.MemRefType):
                value = ir.Operation.create(
                    "builtin.unrealized_conversion_cast",
                    results=[_descriptor_type(ir.MemRefType(value.type))],
                    operands=[value],
                ).result
            elif isinstance(value.type, ir.IndexType):
                value = arith.index_cast(i64, value)
            packed = llvm.insertvalue(packed, value, [i])
        llvm.store(packed, slot)
        chunk = func.ConstantOp(_entry_type().inputs[0], ir.FlatSymbolRefAttr.get(chunk_name))
        total = arith.index_cast(i64, list(loop.operands)[1])
        estimate = arith.constant(i64, work)
        func.CallOp([], ir.FlatSymbolRefAttr.get(LOOP_ENTRY), [chunk.result, slot, total, estimate])
    loop.erase()


def _fresh_names(module, base: str, count: int) -> tuple:
    """(loop function, chunk function) names that no function of the module has."""
    while True:
        loop_name = f"{base}_loop{count}"
        chunk_name = f"{loop_name}_chunk"
        if find_function(module, loop_name) is None and find_function(module, chunk_name) is None:
            return loop_name, chunk_name
        count += 1


@dataclasses.dataclass(frozen=True)
class ParallelLoopsPass(ModulePass):
    """Outlines the scf.for loops tagged ``tgc.parallel_for`` into chunks that the parallel
    runtime's ``tgc_parallel_for`` runs on its threads; ``place``: ``external`` (the JIT links the
    in-process runtime) or ``inline`` (a weak serial entry, replaced where the runtime is
    linked)."""

    name = "tgc-parallel-loops"
    place: str = "inline"

    def run(self, module: ir.Module) -> None:
        count = 0
        for function in functions(module):
            base = ir.StringAttr(function.attributes["sym_name"]).value
            loops = [
                op
                for op in all_ops(function)
                if op.name == "scf.for" and PARALLEL_FOR in op.attributes
            ]
            for loop in loops:
                outline = OUTLINE and not len(loop.results) and _is_zero_and_one(loop)
                plan = _plan(loop) if outline else None
                if plan is None:
                    del loop.attributes[PARALLEL_FOR]  # stays a plain loop
                    continue
                work = _work(loop.regions[0].blocks[0])
                loop_name, chunk_name = _fresh_names(module, base, count)
                count += 1
                struct = ir.Type.parse(
                    "!llvm.struct<("
                    + ", ".join(str(_field_type(v.type)) for v in plan.arguments)
                    + ")>"
                )
                _declare_entry(module, self.place)
                _loop_function(module, plan, loop_name)
                _chunk_function(module, plan, chunk_name, loop_name, struct)
                _replace_with_call(plan, chunk_name, struct, work)
