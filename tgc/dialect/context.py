"""MLIR contexts with the tgc dialect loaded: every compile and every `tgc opt` run starts here."""

from __future__ import annotations

from mlir import ir

from tgc.dialect.irdl import load_dialect


def make_context() -> ir.Context:
    context = ir.Context()
    context.load_all_available_dialects()
    load_dialect(context)
    return context


def load_target_dialects(context: ir.Context, text: str) -> None:
    """Loads the dialects of each registered target that IR ``text`` uses (a target's own
    dialect, such as accel, is loaded on demand: compiles make their ops in a context of their
    own, and loading every target's dialect into every context would cost each compile)."""
    from tgc.dialect import targets

    for name in targets.names():
        target = targets.get(name)
        if any(f"{dialect}." in text for dialect in target.dialects):
            target.load_dialects(context)
