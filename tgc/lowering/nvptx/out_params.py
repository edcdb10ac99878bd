"""tgc-nvptx-out-params: a public function writes its results into buffers the caller passes.

Runs at the core level, before bufferization. A GPU's host code must not allocate the results it
returns (its allocations are host memory) nor copy into them: each tensor result becomes one more
memref argument, written through ``bufferization.materialize_in_destination ... restrict writable``,
so that one-shot-bufferize has the last kernel store straight into the caller's buffer. The kernels'
bare-pointer calling convention needs every shape known, so a dynamic dim is refused here, naming
the argument or result.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import functions
from tgc.passes.base import ModulePass

OUT_PARAMS_ATTR = "tgc.out_params"  # on a public function: how many trailing arguments are results


def _is_public(function) -> bool:
    visibility = (
        function.attributes["sym_visibility"] if "sym_visibility" in function.attributes else None
    )
    return visibility is None or ir.StringAttr(visibility).value == "public"


def _has_dynamic_dim(type_: ir.Type) -> bool:
    return isinstance(type_, ir.ShapedType) and not type_.has_static_shape


@dataclasses.dataclass(frozen=True)
class OutParamsPass(ModulePass):
    """Tensor results of public functions become out-param memrefs (static shapes only)."""

    name = "tgc-nvptx-out-params"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            if _is_public(function):
                self._check_static(function)
                self._results_to_out_params(function)

    def _check_static(self, function) -> None:
        name = ir.StringAttr(function.attributes["sym_name"]).value
        ftype = ir.FunctionType(ir.TypeAttr(function.attributes["function_type"]).value)
        for kind, types in (("argument", ftype.inputs), ("result", ftype.results)):
            for index, type_ in enumerate(types):
                if _has_dynamic_dim(type_):
                    self.fail(
                        function,
                        f"the nvptx target compiles static shapes only: {kind} {index} of @{name} "
                        f"is {type_} (give every feed a full shape)",
                    )

    def _results_to_out_params(self, function) -> None:
        block = function.regions[0].blocks[0]
        ret = block.operations[len(block.operations) - 1]
        results = list(ret.operands)
        # The launch plan (launch_plan.py) reads which trailing arguments are the outputs.
        function.attributes[OUT_PARAMS_ATTR] = ir.IntegerAttr.get(
            ir.IntegerType.get_signless(64), len(results)
        )
        if not results:
            return
        outs = [block.add_argument(_memref_of(v.type), ret.location) for v in results]
        with ir.InsertionPoint(ret), ret.location:
            for value, out in zip(results, outs):
                ir.Operation.create(
                    "bufferization.materialize_in_destination",
                    operands=[value, out],
                    attributes={"restrict": ir.UnitAttr.get(), "writable": ir.UnitAttr.get()},
                )
            ir.Operation.create("func.return")
        ret.erase()
        ftype = ir.FunctionType(ir.TypeAttr(function.attributes["function_type"]).value)
        inputs = list(ftype.inputs) + [out.type for out in outs]
        function.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(inputs, []))


def _memref_of(tensor_type: ir.Type) -> ir.Type:
    tensor = ir.RankedTensorType(tensor_type)
    return ir.MemRefType.get(list(tensor.shape), tensor.element_type)
