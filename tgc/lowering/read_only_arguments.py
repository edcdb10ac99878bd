"""tgc-read-only-arguments: marks every public function's arguments `bufferization.writable = false`.

Runs on core IR just before bufferization. A compiled function's arguments are the caller's arrays
(feeds, the session's variable values): bufferization must never reuse their buffers for results,
whatever a lowering rule's destination-passing style would allow, so a run can never change a feed.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.passes.base import ModulePass, functions


def _is_private(function) -> bool:
    return "sym_visibility" in function.attributes and ir.StringAttr(function.attributes["sym_visibility"]).value == "private"


@dataclasses.dataclass(frozen=True)
class ReadOnlyArgumentsPass(ModulePass):
    """Marks function arguments read-only for bufferization (a run never writes into a feed)."""

    name = "tgc-read-only-arguments"

    def run(self, module: ir.Module) -> None:
        read_only = ir.DictAttr.get({"bufferization.writable": ir.BoolAttr.get(False)})
        for function in functions(module):
            if not len(function.regions[0].blocks) or _is_private(function):
                continue  # declarations and internal helpers (outlined GEMMs) take no caller arrays
            count = len(function.regions[0].blocks[0].arguments)
            function.attributes["arg_attrs"] = ir.ArrayAttr.get([read_only] * count)
