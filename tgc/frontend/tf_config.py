"""`tf.config`, as far as tgc has it: ``tf.config.experimental``'s TF32 switch.

``tf.config.experimental.enable_tensor_float_32_execution(True)`` lets float32 matmuls placed on
the GPU run on TF32 tensor cores (10-bit mantissa products, float32 sums) in what is compiled
after the call: a session's graphs when they first run, or an artifact of `tgc compile` whose
program makes the call (as `tgc compile --allow-tf32` does). Unlike TensorFlow, whose switch is on
by default on Ampere and later GPUs, it is off until turned on, as PyTorch's ``allow_tf32``:
float32 results keep float32 products unless asked. The CPU has no TF32; there it changes nothing.
"""

from __future__ import annotations

import types

# The switch's state lives with the lowering; it is imported when the switch is used, so that
# `import tgc` (which exports this module as tf.config) imports no lowering: a deployment that only
# loads artifacts needs numpy and tgc.runtime.


def enable_tensor_float_32_execution(enabled) -> None:
    """Turns TF32 for float32 matmuls on the GPU on (``True``) or off (``False``)."""
    from tgc.lowering.tensor_float_32 import enable_tensor_float_32

    enable_tensor_float_32(bool(enabled))


def tensor_float_32_execution_enabled() -> bool:
    """Whether float32 matmuls compiled for the GPU from now on run in TF32."""
    from tgc.lowering.tensor_float_32 import tensor_float_32_enabled

    return tensor_float_32_enabled()


experimental = types.ModuleType(
    "tgc.config.experimental", "TF's tf.config.experimental: the TF32 switch."
)
experimental.enable_tensor_float_32_execution = enable_tensor_float_32_execution
experimental.tensor_float_32_execution_enabled = tensor_float_32_execution_enabled
