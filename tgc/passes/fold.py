"""tgc-fold: evaluates ops whose operands are all constants and replaces them by constants.

The value comes from the op's numpy reference in the registry, so folding and every backend agree by
construction. Ops with effects or randomness (``stateful`` in the registry) are never folded, nor
meta ops without a value of their own; results above ``size-limit`` elements are left alone so a
module does not swell. Ops are visited in program order, so a whole constant subgraph folds in one
run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from mlir import ir

from tgc.dialect.attrs import decode_dense, spec_of_type
from tgc.dialect.builder import IRBuilder, decode_attrs
from tgc.dialect.ir_helpers import body_ops, defining_op, functions, opdef_of
from tgc.dialect.types import numpy_dtype
from tgc.passes.base import ModulePass


def constant_value(value: ir.Value):
    """The numpy value of ``value`` if a tgc.constant defines it, else None."""
    operation = defining_op(value)
    if operation is None or operation.name != "tgc.constant":
        return None
    return decode_dense(operation.attributes["value"])


def _foldable(operation) -> bool:
    opdef = opdef_of(operation)
    return (
        opdef is not None
        and operation.name != "tgc.constant"
        and not opdef.stateful
        and not opdef.module_level
        and len(operation.results) > 0
    )


def _evaluate(operation, arrays):
    opdef = opdef_of(operation)
    try:
        with np.errstate(all="ignore"):
            return opdef.evaluate(arrays, decode_attrs(operation, opdef))
    except (
        Exception
    ):  # a reference that cannot evaluate these values (e.g. a meta op) is not folded
        return None


@dataclasses.dataclass(frozen=True)
class FoldPass(ModulePass):
    """Replaces ops whose operands are all constants by constants (numpy reference semantics)."""

    name = "tgc-fold"
    size_limit: int = 1 << 16

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for operation in body_ops(function):
                if _foldable(operation):
                    self._fold(operation)

    def _fold(self, operation) -> None:
        arrays = [constant_value(v) for v in operation.operands]
        if any(a is None for a in arrays):
            return
        specs = [spec_of_type(r.type) for r in operation.results]
        if any(not s.is_static or int(np.prod(s.shape)) > self.size_limit for s in specs):
            return
        outs = _evaluate(operation, arrays)
        if outs is None or len(outs) != len(specs):
            return
        builder = IRBuilder.before(operation)
        for result, spec, out in zip(operation.results, specs, outs):
            value = np.asarray(out).astype(numpy_dtype(spec.dtype)).reshape(spec.shape)
            result.replace_all_uses_with(builder.constant(value).value)
        operation.erase()
