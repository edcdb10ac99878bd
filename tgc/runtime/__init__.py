"""The runtime: runs compiled graphs. Imports numpy and ctypes only, never MLIR."""

from tgc.runtime.artifact import load  # noqa: F401  (numpy + ctypes only)
