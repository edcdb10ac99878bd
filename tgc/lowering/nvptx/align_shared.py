"""tgc-nvptx-align-shared: every kernel's workgroup (shared-memory) buffers aligned to 16 bytes.

MLIR declares a workgroup attribution `.shared .align <element size>` unless the gpu.func says
otherwise (``workgroup_attrib_attrs``, ``llvm.align``). The tensor-core matmul's 16-byte cp.async
copies (tgc-nvptx-mma-matmul) need a 16-byte aligned destination; with `.align 4` that held only as
long as ptxas happened to place the buffers there. Runs after outlining, on the gpu.funcs.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.passes.base import ModulePass

SHARED_ALIGNMENT = 16  # bytes: the widest access (cp.async.cg and ld/st.shared.v4 of 16 bytes)


@dataclasses.dataclass(frozen=True)
class AlignSharedPass(ModulePass):
    """``llvm.align = 16`` on every workgroup attribution of every gpu.func."""

    name = "tgc-nvptx-align-shared"

    def run(self, module: ir.Module) -> None:
        for op in all_ops(module):
            if op.name == "gpu.func" and "workgroup_attributions" in op.attributes:
                count = ir.IntegerAttr(op.attributes["workgroup_attributions"]).value
                if count:
                    op.attributes["workgroup_attrib_attrs"] = ir.ArrayAttr.get(
                        [_aligned(op, index) for index in range(count)]
                    )


def _aligned(function, index: int) -> ir.DictAttr:
    """The attribution's attributes (kept) with ``llvm.align`` at least SHARED_ALIGNMENT."""
    entries = {}
    if "workgroup_attrib_attrs" in function.attributes:
        existing = ir.DictAttr(ir.ArrayAttr(function.attributes["workgroup_attrib_attrs"])[index])
        entries = {existing[i].name: existing[i].attr for i in range(len(existing))}
    i64 = ir.IntegerType.get_signless(64)
    current = ir.IntegerAttr(entries["llvm.align"]).value if "llvm.align" in entries else 0
    entries["llvm.align"] = ir.IntegerAttr.get(i64, max(current, SHARED_ALIGNMENT))
    return ir.DictAttr.get(entries)
