"""The runtime: runs compiled graphs. Imports numpy and ctypes only, never MLIR."""

from tgc.runtime.loaders import load  # noqa: F401  (each artifact format's loader; numpy + ctypes)
