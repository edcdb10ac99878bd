"""The pass registry: every tgc pass by its pipeline name, imported only when used.

The target-neutral passes (the graph passes and the lowering to core) are listed here; each target
brings its own (``Target.passes``, tgc/dialect/targets.py), so that a new target adds passes without
touching this file."""

from __future__ import annotations

from importlib import import_module

# name -> (module, class); one pass per file, the file named after the pass.
PASSES = {
    "tgc-autodiff": ("tgc.passes.autodiff", "AutodiffPass"),
    "tgc-decompose": ("tgc.passes.decompose", "DecomposePass"),
    "tgc-verify": ("tgc.passes.verify", "VerifyPass"),
    "tgc-fold": ("tgc.passes.fold", "FoldPass"),
    "tgc-simplify": ("tgc.passes.simplify", "SimplifyPass"),
    "tgc-cse": ("tgc.passes.cse", "CsePass"),
    "tgc-dce": ("tgc.passes.dce", "DcePass"),
    "tgc-place": ("tgc.passes.place", "PlacePass"),
    "tgc-partition": ("tgc.passes.partition", "PartitionPass"),
    "tgc-lower-variables": ("tgc.passes.lower_variables", "LowerVariablesPass"),
    "tgc-shape-equality": ("tgc.passes.shape_equality", "ShapeEqualityPass"),
    "tgc-to-core": ("tgc.lowering.to_core", "ToCorePass"),
    "tgc-bool-storage": ("tgc.lowering.bool_storage", "BoolStoragePass"),
    "tgc-read-only-arguments": ("tgc.lowering.read_only_arguments", "ReadOnlyArgumentsPass"),
    "tgc-return-in-place": ("tgc.lowering.return_in_place", "ReturnInPlacePass"),
    "tgc-widen-i1-memrefs": ("tgc.lowering.widen_i1_memrefs", "WidenI1MemrefsPass"),
}


def tgc_passes() -> dict:
    """Every tgc pass, name -> (module, class): the target-neutral ones and every target's."""
    from tgc.dialect import targets

    table = dict(PASSES)
    for target_name in targets.names():
        table.update(targets.get(target_name).pass_table())
    return table


def get_pass_class(name: str):
    table = tgc_passes()
    if name not in table:
        raise KeyError(name)
    module, cls = table[name]
    return getattr(import_module(module), cls)


def pass_help() -> dict:
    """name -> the docstring's first paragraph on one line, for `tgc opt --list-passes`."""
    return {name: _summary(get_pass_class(name).__doc__) for name in sorted(tgc_passes())}


def _summary(doc: str | None) -> str:
    """The first paragraph of ``doc`` with its line breaks (kept within 100 columns) undone."""
    first_paragraph = (doc or "").strip().split("\n\n")[0]
    return " ".join(first_paragraph.split())
