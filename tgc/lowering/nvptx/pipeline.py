"""The nvptx target's pipeline from the core level to the gpu level, and the ops validated on it."""

from __future__ import annotations

from tgc.lowering.nvptx.check_host import CheckHostPass
from tgc.lowering.nvptx.one_gpu_module import OneGpuModulePass
from tgc.lowering.nvptx.out_params import OutParamsPass

# Registry ops whose PTX tests/e2e/test_nvptx_target.py passes through `ptxas -arch=sm_90` (each
# has a case there): float elementwise ops (their math functions expand to PTX instructions, no
# libdevice call), comparisons, a naive matmul, and constants with one value used by elementwise
# ops (folded into the kernel; any other constant is refused by tgc-nvptx-check-host).
VALIDATED_OPS = (
    "abs",
    "add",
    "atan",
    "ceil",
    "constant",
    "cos",
    "cosh",
    "divide",
    "elu",
    "equal",
    "erf",
    "exp",
    "expm1",
    "floor",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "log",
    "log1p",
    "matmul",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "pow",
    "relu",
    "round",
    "rsqrt",
    "select",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "tanh",
)

ONE_SHOT_BUFFERIZE = (
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}"
)
# Parallel loops in tiles of 16x16: the outer loop becomes the grid, the inner one a block's
# threads; fixed inner bounds (an in-bounds check instead of min bounds) let
# convert-parallel-loops-to-gpu size the block when a dim is not a multiple of 16.
TILE_AND_MAP = (
    "func.func(convert-linalg-to-parallel-loops,"
    "scf-parallel-loop-tiling{parallel-loop-tile-sizes=16,16 no-min-max-bounds=true},"
    "gpu-map-parallel-loops,convert-parallel-loops-to-gpu)"
)


def pipeline_elements() -> list:
    """core -> the gpu level: kernels outlined into one gpu.module, launched by the host
    function, results written into out-param buffers. (PTX is the next stage: codegen.py.)"""
    return [
        OutParamsPass(),
        # One kernel for a chain of elementwise ops instead of one kernel and buffer each.
        "func.func(linalg-fuse-elementwise-ops)",
        "eliminate-empty-tensors",
        ONE_SHOT_BUFFERIZE,
        TILE_AND_MAP,
        "gpu-kernel-outlining",
        "canonicalize",
        "cse",
        OneGpuModulePass(),
        CheckHostPass(),
    ]
