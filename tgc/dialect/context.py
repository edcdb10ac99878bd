"""MLIR contexts with the tgc dialect loaded: every compile and every `tgc opt` run starts here."""

from __future__ import annotations

from mlir import ir

from tgc.dialect.irdl import load_dialect


def make_context() -> ir.Context:
    context = ir.Context()
    context.load_all_available_dialects()
    load_dialect(context)
    return context
