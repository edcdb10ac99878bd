"""tgc-lower-variables: turns variable state into function arguments and results.

Runs just before lowering. Each variable read before any assignment in a function becomes a trailing
argument (its value at entry); every assigned variable's final value becomes a trailing result.
Reads after an assignment see the assigned value, as program order says; so does a
``reread_variable``, which becomes the value current where it stands. The function records the order
in ``tgc.var_inputs`` and ``tgc.var_outputs`` so the runtime can pass and store the values.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import func

from tgc.dialect.attrs import tensor_type
from tgc.dialect.builder import IRBuilder, Val, decode_attrs
from tgc.dialect.ir_helpers import (
    assigns_variable,
    body_ops,
    declares_variable,
    functions,
    opdef_of,
    reads_variable,
)
from tgc.dialect.types import TensorSpec
from tgc.passes.base import ModulePass

# The assignments that combine the variable's value with their operand, and the op that does it.
_UPDATES = {"assign_add": "add", "assign_sub": "subtract"}


def variable_specs(module: ir.Module) -> dict:
    specs = {}
    for op in module.body.operations:
        if declares_variable(op):
            attrs = decode_attrs(op.operation)
            specs[attrs["sym_name"]] = TensorSpec(attrs["shape"], attrs["dtype"])
    return specs


class _State:
    def __init__(self, function, specs):
        self.block = function.regions[0].blocks[0]
        self.specs = specs
        self.current: dict = {}
        self.inputs: list = []
        self.outputs: list = []

    def value_of(self, name: str, loc) -> Val:
        if name not in self.current:
            if name not in self.specs:
                raise KeyError(name)
            arg = self.block.add_argument(tensor_type(self.specs[name]), loc)
            self.inputs.append(name)
            self.current[name] = Val(arg, self.specs[name])
        return self.current[name]


@dataclasses.dataclass(frozen=True)
class LowerVariablesPass(ModulePass):
    """Turns tgc variable reads and assigns into function arguments and results."""

    name = "tgc-lower-variables"

    def run(self, module: ir.Module) -> None:
        specs = variable_specs(module)
        for function in functions(module):
            self._lower_function(function, specs)
        for op in list(module.body.operations):
            if declares_variable(op):
                op.operation.erase()

    def _lower_function(self, function, specs) -> None:
        state = _State(function, specs)
        for op in body_ops(function):
            if reads_variable(op) or assigns_variable(op):
                self._lower_op(op, state)
        ret = body_ops(function)[-1]
        outputs = list(ret.operands) + [state.current[n].value for n in state.outputs]
        with ir.InsertionPoint(ret), ret.location:
            func.ReturnOp(outputs)
        ret.erase()
        arg_types = [a.type for a in state.block.arguments]
        function.attributes["function_type"] = ir.TypeAttr.get(
            ir.FunctionType.get(arg_types, [v.type for v in outputs])
        )
        function.attributes["tgc.var_inputs"] = ir.ArrayAttr.get(
            [ir.StringAttr.get(n) for n in state.inputs]
        )
        function.attributes["tgc.var_outputs"] = ir.ArrayAttr.get(
            [ir.StringAttr.get(n) for n in state.outputs]
        )

    def _to_variable_type(self, op, value: Val, name: str, spec: TensorSpec) -> Val:
        """The value in the variable's static type. A value with unknown dims (a fed batch) is
        reshaped to the variable's shape; the session checked at run time that the shapes agree."""
        if value.value.type == tensor_type(spec):
            return value
        compatible = (
            value.dtype == spec.dtype
            and len(value.shape) == len(spec.shape)
            and all(d is None or d == s for d, s in zip(value.shape, spec.shape))
        )
        if not compatible:
            self.fail(
                op,
                f"cannot assign {value.spec.mlir_text()} to variable '{name}' "
                f"of type {spec.mlir_text()}",
            )
        return IRBuilder.before(op).reshape(value, shape=list(spec.shape))

    def _lower_op(self, op, state: _State) -> None:
        name = decode_attrs(op)["var"]
        if name not in state.specs:
            self.fail(op, f"'{op.name}' refers to undeclared variable '{name}'")
        update = _UPDATES.get(opdef_of(op).name)
        if reads_variable(op):
            new = state.value_of(name, op.location)
        elif update is None:
            new = Val(op.operands[0])
        else:
            builder = IRBuilder.before(op)
            new = builder.op(update, state.value_of(name, op.location), Val(op.operands[0]))
        if assigns_variable(op):
            new = self._to_variable_type(op, new, name, state.specs[name])
            state.current[name] = new
            if name not in state.outputs:
                state.outputs.append(name)
        op.results[0].replace_all_uses_with(new.value)
        op.erase()
