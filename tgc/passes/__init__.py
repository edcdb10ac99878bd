"""The pass registry: every tgc pass by its pipeline name, imported only when used."""

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
    "tgc-to-core": ("tgc.lowering.to_core", "ToCorePass"),
    "tgc-bool-storage": ("tgc.lowering.bool_storage", "BoolStoragePass"),
    "tgc-read-only-arguments": ("tgc.lowering.read_only_arguments", "ReadOnlyArgumentsPass"),
    "tgc-return-in-place": ("tgc.lowering.return_in_place", "ReturnInPlacePass"),
    "tgc-widen-i1-memrefs": ("tgc.lowering.widen_i1_memrefs", "WidenI1MemrefsPass"),
    "tgc-conv-gemm": ("tgc.lowering.cpu.conv_gemm", "ConvGemmPass"),
    "tgc-blas-matmul": ("tgc.lowering.cpu.blas", "BlasMatmulPass"),
    "tgc-outline-gemm": ("tgc.lowering.cpu.outline_gemm", "OutlineGemmPass"),
    "tgc-gemm-update": ("tgc.lowering.cpu.gemm_update", "GemmUpdatePass"),
    "tgc-strided-copies": ("tgc.lowering.cpu.strided_copies", "StridedCopiesPass"),
    "tgc-check-allocs": ("tgc.lowering.cpu.check_allocs", "CheckAllocsPass"),
}


def get_pass_class(name: str):
    if name not in PASSES:
        raise KeyError(name)
    module, cls = PASSES[name]
    return getattr(import_module(module), cls)


def pass_help() -> dict:
    """name -> first docstring line, for `tgc opt --list-passes`."""
    out = {}
    for name in sorted(PASSES):
        doc = (get_pass_class(name).__doc__ or "").strip().splitlines()
        out[name] = doc[0] if doc else ""
    return out
