"""The ops a target that starts from the core level can run: derived from the lowering tables.

Every op that tgc-to-core lowers, every composite that tgc-decompose turns into such ops, and the
ops that earlier passes remove (listed with the pass). A target whose pipeline starts from core (the
CPU's does) runs exactly these.
"""

from __future__ import annotations

from functools import cache

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


@cache
def runnable_from_core() -> frozenset:
    """Registry op names that reach code through the core level."""
    from tgc.lowering.to_core import load_all_lowerings

    core = set(load_all_lowerings())
    return frozenset(
        name
        for name, opdef in load_all_ops().items()
        if name in core or opdef.decompose is not None or name in REMOVED_BY_PASS
    )
