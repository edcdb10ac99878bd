"""tgc-read-only-arguments: marks public functions' arguments `bufferization.writable = false`.

Runs on core IR just before bufferization. A compiled function's arguments are the caller's arrays
(feeds, the session's variable values): bufferization must never reuse their buffers for results,
whatever a lowering rule's destination-passing style would allow, so a run can never change a feed.

With ``writable-variables=true`` (the session's pipeline) one kind of argument is left writable: the
value of a variable the function also assigns (named in both ``tgc.var_inputs`` and
``tgc.var_outputs``), when the module is a single partition. The session owns those arrays and
replaces them with the assigned values anyway, so bufferization may update them in place (an SGD
step then writes each weight where it lies, see tgc-gemm-update) and the runtime hands the same
array back. Their indices go in the function's ``tgc.in_place_arguments``, which outlives
bufferization, for tgc-return-in-place. With several partitions a variable may be read on another
thread while it is assigned, so every argument stays read-only there; so it does in artifacts, whose
callers (C included) own what they pass, unless compiled with ``tgc compile --variables-in-place``
(tgc/driver/pipelines.py target_lowering(variables_writable=True)).
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import functions
from tgc.passes.base import ModulePass

IN_PLACE_ATTRIBUTE = "tgc.in_place_arguments"


def _is_private(function) -> bool:
    return (
        "sym_visibility" in function.attributes
        and ir.StringAttr(function.attributes["sym_visibility"]).value == "private"
    )


def _names(function, key: str) -> list:
    if key not in function.attributes:
        return []
    return [ir.StringAttr(a).value for a in ir.ArrayAttr(function.attributes[key])]


def assigned_variable_arguments(function) -> set:
    """Indices of the arguments holding a variable that the function also assigns (variables are
    the trailing arguments, in ``tgc.var_inputs`` order)."""
    inputs, outputs = _names(function, "tgc.var_inputs"), set(_names(function, "tgc.var_outputs"))
    count = len(function.regions[0].blocks[0].arguments)
    first = count - len(inputs)
    return {first + i for i, name in enumerate(inputs) if name in outputs}


@dataclasses.dataclass(frozen=True)
class ReadOnlyArgumentsPass(ModulePass):
    """Marks function arguments read-only for bufferization (a run never writes into a feed)."""

    name = "tgc-read-only-arguments"
    writable_variables: bool = False

    def run(self, module: ir.Module) -> None:
        read_only = ir.DictAttr.get({"bufferization.writable": ir.BoolAttr.get(False)})
        writable = ir.DictAttr.get({"bufferization.writable": ir.BoolAttr.get(True)})
        public = [f for f in functions(module) if not _is_private(f)]
        in_place = (
            self.writable_variables and sum("tgc.partition_of" in f.attributes for f in public) <= 1
        )
        for (
            function
        ) in public:  # declarations and private helpers (outlined GEMMs) take no caller arrays
            keep = assigned_variable_arguments(function) if in_place else set()
            count = len(function.regions[0].blocks[0].arguments)
            function.attributes["arg_attrs"] = ir.ArrayAttr.get(
                [writable if i in keep else read_only for i in range(count)]
            )
            if keep:
                function.attributes[IN_PLACE_ATTRIBUTE] = ir.DenseI64ArrayAttr.get(sorted(keep))
