"""tgc-nvptx-check-host: after kernel outlining, the host functions compute nothing themselves.

Their buffers live on the GPU, so the host may only launch kernels and hand buffers around:
allocate, reshape views, name constant tensors (the launch plan uploads them to the device once),
copy whole buffers (device to device), call functions (sends and receives of tensors, which the
launch plan performs; it refuses any other call), return. An op left outside every kernel (a 0-d
tensor's arithmetic has no loop to map to threads) would touch device memory from the CPU: it is
refused here, naming the op and the likely cause, instead of producing code that crashes at run
time.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect.ir_helpers import all_ops, functions
from tgc.passes.base import ModulePass

# Dialects whose ops touch memory or compute on it; the host's ops must be none of these, except
# the buffer handling below.
_COMPUTING_DIALECTS = ("memref", "linalg", "scf", "affine", "math", "vector", "bufferization")
_BUFFER_HANDLING = {
    "memref.alloc",
    "memref.dealloc",
    "memref.expand_shape",
    "memref.collapse_shape",
    "memref.cast",
    "memref.get_global",  # a constant tensor: the launch plan uploads its values once
    "memref.copy",  # of whole buffers (no strided view is made on the host): device to device
}


# What usually leaves each op on the host, in the user's terms.
_CAUSES = {
    "memref.subview": "a view of part of a buffer (a slice) outside a kernel",
    # The launch plan sizes every buffer and grid at compile time.
    "memref.dim": "a tensor of unknown shape: the target compiles static shapes only",
}
_DEFAULT_CAUSE = "computation outside a GPU kernel, such as arithmetic on 0-d tensors"


def _computes(op) -> bool:
    dialect = op.name.partition(".")[0]
    return dialect in _COMPUTING_DIALECTS and op.name not in _BUFFER_HANDLING


@dataclasses.dataclass(frozen=True)
class CheckHostPass(ModulePass):
    """Refuses host code that reads or writes buffers outside a GPU kernel."""

    name = "tgc-nvptx-check-host"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            for op in all_ops(function):
                if _computes(op):
                    name = ir.StringAttr(function.attributes["sym_name"]).value
                    self.fail(
                        op,
                        f"the nvptx target cannot run '{op.name}' of @{name} on the host "
                        f"({_CAUSES.get(op.name, _DEFAULT_CAUSE)})",
                    )
