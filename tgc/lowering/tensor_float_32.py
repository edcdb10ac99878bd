"""TF's process-wide TF32 switch (tf.config.experimental.enable_tensor_float_32_execution), which
GPU targets read (the nvptx target: tgc/lowering/nvptx/target.py). Off by default, as PyTorch's
``allow_tf32`` (TF turns it on by default on Ampere and later): float32 matmuls keep float32
products unless the user asks. Whatever is compiled after it is turned on (a session's graphs,
`tgc compile` of a program that turns it on) runs its f32 matmuls on TF32 tensor cores, as
``tgc compile --allow-tf32`` does."""

from __future__ import annotations

_STATE = {"enabled": False}


def enable_tensor_float_32(enabled: bool) -> None:
    _STATE["enabled"] = bool(enabled)


def tensor_float_32_enabled() -> bool:
    return _STATE["enabled"]
