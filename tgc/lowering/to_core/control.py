"""Core lowering of control ops: ``no_op`` has no effect and disappears."""

from __future__ import annotations

from tgc.lowering.to_core import lowers


@lowers("no_op")
def _no_op(op):
    return []
