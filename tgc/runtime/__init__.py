"""The runtime: runs compiled graphs. Imports numpy and ctypes only, never MLIR."""
