"""tgc-identity-if-results: an ``scf.if`` whose branches both yield buffers of one identity-layout
type gives its result that type, not the fully dynamic layout bufferization chose.

one-shot-bufferize types an ``scf.if`` result from its branches' buffers before their casts: a
tf.cond merging a [2, 4, 4, 3] and a [1, 4, 4, 3] yields ``memref<?x4x4x3xf32>`` from each branch
(casts of identity buffers), yet the result becomes ``memref<?x4x4x3xf32, strided<[?, ?, ?, ?],
offset: ?>>``. A ``vector.transfer_read`` of such a buffer (max-pool's and the direct
convolution's runs) has a dynamic innermost stride, which no pass lowers to LLVM: the module did
not compile. This pass, right after bufferization, retypes such a result to the branches' common
identity type (yielding the casts' sources) and casts it back for users that need the old type;
loads, stores, transfers and dims take the identity-typed buffer itself.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import memref

from tgc.dialect.ir_helpers import all_ops, defining_op, has_identity_layout
from tgc.passes.base import ModulePass

# Users whose result types do not depend on their buffer operand's layout.
_LAYOUT_FREE_USERS = (
    "memref.load",
    "memref.store",
    "memref.dim",
    "vector.transfer_read",
    "vector.transfer_write",
    "vector.load",
    "vector.store",
)


@dataclasses.dataclass(frozen=True)
class IdentityIfResultsPass(ModulePass):
    """Gives scf.if results the identity-layout buffer type both branches yield."""

    name = "tgc-identity-if-results"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name == "scf.if" and len(op.results):
                _retype(op)


def _identity_source(value: ir.Value):
    """The identity-layout buffer ``value`` casts (or is), else None."""
    owner = defining_op(value)
    if owner is not None and owner.name == "memref.cast":
        value = owner.operands[0]
    if not isinstance(value.type, ir.MemRefType):
        return None
    return value if has_identity_layout(value.type) else None


def _terminator(region):
    operations = region.blocks[0].operations
    return operations[len(operations) - 1]


def _retype(if_op) -> None:
    yields = [_terminator(region) for region in if_op.regions]
    new_types, sources = [], []
    for i, result in enumerate(if_op.results):
        pair = [_identity_source(y.operands[i]) for y in yields]
        retype = (
            isinstance(result.type, ir.MemRefType)
            and not has_identity_layout(result.type)
            and all(p is not None for p in pair)
            and pair[0].type == pair[1].type
        )
        new_types.append(pair[0].type if retype else result.type)
        sources.append(pair if retype else None)
    if all(s is None for s in sources):
        return
    with if_op.location, ir.InsertionPoint(if_op):
        new_if = ir.Operation.create(
            "scf.if", results=new_types, operands=list(if_op.operands), regions=2
        )
    for old_region, new_region in zip(if_op.regions, new_if.regions):
        old_region.blocks[0].append_to(new_region)
    for i, pair in enumerate(sources):
        if pair is not None:
            for y, source in zip(yields, pair):
                replaced = y.operands[i]
                y.operands[i] = source
                _erase_if_unused_cast(replaced)
    for old, new in zip(if_op.results, new_if.results):
        _replace_uses(old, new, new_if)
    if_op.erase()


def _erase_if_unused_cast(value: ir.Value) -> None:
    owner = defining_op(value)
    if owner is not None and owner.name == "memref.cast" and not list(value.uses):
        owner.erase()


def _replace_uses(old: ir.Value, new: ir.Value, new_if) -> None:
    if old.type == new.type:
        old.replace_all_uses_with(new)
        return
    cast = None
    for use in list(old.uses):
        user = use.owner
        if user.name in _LAYOUT_FREE_USERS:
            user.operands[use.operand_number] = new
            continue
        if cast is None:
            with new_if.location, ir.InsertionPoint(new_if):
                cast = memref.CastOp(old.type, new)
            cast.operation.move_after(new_if)
        user.operands[use.operand_number] = cast.result
