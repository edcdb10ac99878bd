"""The tgc dialect: the op registry (one declaration per op), dtypes, IRDL generation.

Imported by tgc/__init__.py before anything of tgc imports mlir: MLIR's libraries are kept apart
from another LLVM in the process from here on (mlir_libraries.py)."""

from tgc.dialect import mlir_libraries as _mlir_libraries

_mlir_libraries.load_bindings_apart_from_a_foreign_llvm()
