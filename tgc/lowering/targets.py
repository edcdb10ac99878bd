"""What each device kind can run, asked by the placer: derived from the lowering tables, not listed.

A CPU runs every op that tgc-to-core lowers (the CPU pipeline starts from core), every composite that
decomposes into such ops, and the ops that earlier passes remove (listed with the pass). Kinds with no
lowering pipeline yet (GPU, ACCEL) run nothing, so a request for them is an error at placement.
"""

from __future__ import annotations

from functools import lru_cache

from tgc.dialect.registry import load_all_ops

# Ops that never reach a lowering because a pass removes them first.
REMOVED_BY_PASS = {
    "gradient": "tgc-autodiff",
    "variable": "tgc-lower-variables",
    "read_variable": "tgc-lower-variables",
    "reread_variable": "tgc-lower-variables",
    "assign": "tgc-lower-variables",
    "assign_add": "tgc-lower-variables",
    "assign_sub": "tgc-lower-variables",
}


def _core_lowered() -> set:
    from tgc.lowering.to_core import load_all_lowerings

    return set(load_all_lowerings())


@lru_cache(maxsize=None)
def supported_ops(kind: str) -> frozenset:
    """Registry op names a device of ``kind`` (CPU, GPU, ...) can run."""
    if kind != "CPU":
        return frozenset()
    registry = load_all_ops()
    core = _core_lowered()
    return frozenset(
        n
        for n, d in registry.items()
        if n in core or d.decompose is not None or n in REMOVED_BY_PASS
    )


def can_run(op_name: str, kind: str) -> bool:
    return op_name in supported_ops(kind)
