"""tgc-nvptx-mma-matmul: a static f32 linalg.matmul on buffers becomes one gpu.launch whose warps
multiply on tensor cores (mma.sync m16n8k8 in TF32, sm_80 and later), when the user allows TF32.

TF32 keeps float32's exponent and 10 of its 23 mantissa bits: the tensor cores multiply the
operands cut to that (a relative error up to 2^-10 each), the sums stay float32. So, as in PyTorch
(``torch.backends.cuda.matmul.allow_tf32``), it is opt-in: the pass rewrites matmuls only with
``allow-tf32=true`` (``tgc compile --allow-tf32``, or TF's switch); otherwise
tgc-nvptx-tile-matmul's FMA kernel takes them. (f64 has no TF32 form; tgc has no bf16/f16 tensors
on this target.) The kernel: mma_kernel.py; with ``emulated=true`` (nvptx-emulated) the same
kernel for the host, its mma.sync and cp.async emulated: mma_emulated.py.

A +0.0 fill of C right before the matmul (a plain product's C = 0) goes: the kernel's
accumulators start at zero and C is only written (one kernel and one pass over C less).
"""

from __future__ import annotations

import dataclasses
import math

from mlir import ir

from tgc.dialect.ir_helpers import all_ops
from tgc.lowering.nvptx.mma_emulated import EmulatedMmaWriter
from tgc.lowering.nvptx.mma_kernel import DYNAMIC_SHARED_BYTES, MmaTiles, MmaWriter
from tgc.lowering.nvptx.tile_matmul import matmul_transposes
from tgc.passes.base import ModulePass

DEFAULT_TILES = MmaTiles()


def _static_f32_buffers(op) -> bool:
    types = [o.type for o in op.operands]
    if not all(isinstance(t, ir.MemRefType) for t in types):
        return False
    memrefs = [ir.MemRefType(t) for t in types]
    return all(m.has_static_shape and isinstance(m.element_type, ir.F32Type) for m in memrefs)


@dataclasses.dataclass(frozen=True)
class MmaMatmulPass(ModulePass):
    """Static f32 linalg.matmul on buffers (plain or transposed operands) -> a gpu.launch of warps
    running mma.sync in TF32, with ``allow_tf32``; without it the pass changes nothing."""

    name = "tgc-nvptx-mma-matmul"
    allow_tf32: bool = False
    # nvptx-emulated: the same kernel for the host, its mma.sync and cp.async emulated
    # (mma_emulated.py)
    emulated: bool = False

    def run(self, module: ir.Module) -> None:
        if not self.allow_tf32:
            return
        for op in all_ops(module):
            if op.name == "linalg.matmul" and _static_f32_buffers(op):
                transposes = matmul_transposes(op)
                if transposes is not None and self._fits(transposes):
                    self._replace(op, transposes)

    def _writer(self) -> type:
        return EmulatedMmaWriter if self.emulated else MmaWriter

    @staticmethod
    def _fits(transposes: tuple) -> bool:
        """The stages fit the dynamic shared memory sm_90 gives a block (tiles past 48 KiB run
        where the GPU allows them: the runtime checks its device's limit)."""
        return DEFAULT_TILES.shared_bytes(transposes) <= DYNAMIC_SHARED_BYTES

    def _replace(self, op, transposes) -> None:
        a, b, c = (ir.MemRefType(o.type) for o in op.operands)
        m, n = c.shape
        k = a.shape[0] if transposes[0] else a.shape[1]
        fill = _zero_fill_of(op)
        writer = self._writer()(
            DEFAULT_TILES, [a, b, c], (m, n, k), transposes, zero_init=fill is not None
        )
        parsed = ir.Module.parse(writer.text())
        body = parsed.body.operations[0].regions[0].blocks[0]
        for arg, operand in zip(body.arguments, op.operands):
            arg.replace_all_uses_with(operand)
        for inner in list(body.operations)[:-1]:  # all but func.return
            inner.move_before(op)
        op.erase()
        if fill is not None:  # the kernel writes every element of C
            fill.erase()


def _zero_fill_of(matmul):
    """The linalg.fill of +0.0 into the matmul's C right before it (bufferization's C = 0 of a
    plain product), or None. (+0.0 only: -0.0 + -0.0 would keep its sign, 0.0 + -0.0 not.)"""
    matmul = matmul.operation
    before = [o.operation for o in matmul.block.operations]
    at = next(i for i, o in enumerate(before) if o == matmul)
    fill = before[at - 1] if at else None
    if fill is None or fill.name != "linalg.fill" or fill.operands[1] != matmul.operands[2]:
        return None
    value = fill.operands[0].owner
    if not isinstance(value, ir.OpView) or value.operation.name != "arith.constant":
        return None
    attribute = value.operation.attributes["value"]
    if not isinstance(attribute, ir.FloatAttr):
        return None
    zero = ir.FloatAttr(attribute).value
    return fill if zero == 0.0 and math.copysign(1.0, zero) > 0 else None
