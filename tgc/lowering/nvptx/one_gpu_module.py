"""tgc-nvptx-one-gpu-module: every kernel in one gpu.module, so the target emits one PTX module.

Runs after gpu-kernel-outlining, which puts each kernel in a gpu.module of its own; the driver API
then loads one module per kernel, and the PTX of several modules is not one file ptxas accepts.
The kernels move into the first gpu.module under names made unique there (``<name>_<n>``), and
every gpu.launch_func is pointed at its kernel's new symbol. The functions kernels call (outlining
copies each into every gpu.module that needs it, under the same name) move there once.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.passes.base import ModulePass


def _symbol(op) -> str:
    return ir.StringAttr(op.attributes["sym_name"]).value


@dataclasses.dataclass(frozen=True)
class OneGpuModulePass(ModulePass):
    """Merges the gpu.modules of outlined kernels into one, renaming the kernels."""

    name = "tgc-nvptx-one-gpu-module"

    def run(self, module: ir.Module) -> None:
        gpu_modules = [
            op.operation for op in module.body.operations if op.operation.name == "gpu.module"
        ]
        if len(gpu_modules) < 2:
            return
        target = gpu_modules[0]
        renamed = self._gather_kernels(gpu_modules, target)
        for gpu_module in gpu_modules[1:]:
            gpu_module.erase()
        target_name = _symbol(target)
        for op in all_ops(module):
            if op.name == "gpu.launch_func":
                old = tuple(ir.SymbolRefAttr(op.attributes["kernel"]).value)
                op.attributes["kernel"] = ir.SymbolRefAttr.get([target_name, renamed[old]])

    @staticmethod
    def _gather_kernels(gpu_modules: list, target) -> dict:
        """Moves every gpu.func into ``target`` under a fresh name; returns (module, kernel) ->
        its new name."""
        target_body = target.regions[0].blocks[0]
        helpers = {
            _symbol(op.operation)
            for op in target_body.operations
            if op.operation.name == "func.func"
        }
        renamed = {}
        for gpu_module in gpu_modules:
            for op in list(gpu_module.regions[0].blocks[0].operations):
                kernel = op.operation
                if kernel.name == "func.func" and _symbol(kernel) not in helpers:
                    helpers.add(_symbol(kernel))
                    kernel.move_after(list(target_body.operations)[-1])
                if kernel.name != "gpu.func":
                    continue
                new_name = f"{_symbol(kernel)}_{len(renamed)}"
                renamed[(_symbol(gpu_module), _symbol(kernel))] = new_name
                kernel.attributes["sym_name"] = ir.StringAttr.get(new_name)
                if gpu_module != target:
                    kernel.move_after(list(target_body.operations)[-1])
        return renamed
