"""The compiler driver: between the TF1 API (and the CLI) and the compiler.

It chooses what one run computes (``signature``), assembles every pipeline from pass objects and the
targets' own pipelines (``pipelines``), compiles for in-process runs (``jit``) and for artifacts
(``aot``), and turns compiler failures into errors in the user's terms (``errors``).
"""
