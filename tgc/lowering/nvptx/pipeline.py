"""The nvptx target's pipeline from the core level to the gpu level, and the ops validated on it."""

from __future__ import annotations

from tgc.lowering.nvptx.align_shared import AlignSharedPass
from tgc.lowering.nvptx.check_host import CheckHostPass
from tgc.lowering.nvptx.contiguous_dim_first import TILE_SIZES, ContiguousDimFirstPass
from tgc.lowering.nvptx.drop_empty_linalg import DropEmptyLinalgPass
from tgc.lowering.nvptx.drop_empty_loops import DropEmptyLoopsPass
from tgc.lowering.nvptx.empty_buffer_accesses import EmptyBufferAccessesPass
from tgc.lowering.nvptx.linalg_copies import LinalgCopiesPass
from tgc.lowering.nvptx.mma_matmul import MmaMatmulPass
from tgc.lowering.nvptx.one_gpu_module import OneGpuModulePass
from tgc.lowering.nvptx.out_params import OutParamsPass
from tgc.lowering.nvptx.parallel_dims_first import ParallelDimsFirstPass
from tgc.lowering.nvptx.serial_kernels import SerialKernelsPass
from tgc.lowering.nvptx.sink_views import SinkViewsPass
from tgc.lowering.nvptx.split_reduce import SplitReducePass
from tgc.lowering.nvptx.static_transfers import StaticTransfersPass
from tgc.lowering.nvptx.tile_matmul import TileMatmulPass
from tgc.lowering.nvptx.tree_reduce import TreeReducePass

# Registry ops whose PTX tests/e2e/test_nvptx_target.py passes through `ptxas -arch=sm_90` (each
# has a case there, and each family beyond the elementwise ops is checked on every registry sample,
# through ptxas and numerically on the nvptx-emulated target).
# Float elementwise ops (their math functions expand to PTX instructions, no libdevice call),
# comparisons, a naive matmul, and constants (a one-value constant folds into the kernel; any other
# is a buffer the launch plan uploads once).
ELEMENTWISE_OPS = (
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
# Reductions over any axes, to a 0-d result too: one thread per output element runs the reduced
# axes serially (tgc-nvptx-parallel-dims-first); a float one of tgc-nvptx-split-reduce's
# MIN_REDUCED points or more per output element is a flat grid of register accumulators, split
# into partials and a second launch when the reduced extent is long; a float reduction of every
# axis to a 0-d result
# of tree_reduce.MIN_ELEMENTS elements or more is two launches of shared-memory trees
# (tgc-nvptx-tree-reduce), a smaller or integer one a one-thread kernel (tgc-nvptx-serial-kernels).
# No warp shuffles (nvptx-emulated could not run them).
REDUCTION_OPS = (
    "argmax",
    "argmin",
    "dim_size",
    "l2_loss",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_sum",
)
# Broadcasts between ranks, casts, fills, logical ops, and the gradients' broadcast and
# unbroadcast (a sum over the broadcast axes).
BROADCAST_OPS = (
    "broadcast_like",
    "cast",
    "fill",
    "fill_like",
    "logical_and",
    "logical_not",
    "logical_or",
    "unbroadcast_like",
)
# Data movement: host-level views where the layout allows (reshapes of whole buffers), copy
# kernels otherwise; slices are subviews taken inside the kernels (tgc-nvptx-sink-views). The
# embedding gradient's scatter-add is one thread's loop (tgc-nvptx-serial-kernels): naive.
# ``gather`` checks its indices as TF's CPU kernel does (TF's GPU kernel writes zeros instead): the
# check's kernel writes a record that the launch plan's "check" step reads, raising the CPU's error
# (tgc/lowering/runtime_errors.py device_check). Its gradient's indices are those it checked.
SHAPE_OPS = (
    "concat",
    "expand_dims",
    "gather",
    "gather_grad",
    "identity",
    "one_hot",
    "reshape",
    "reshape_like",
    "shape",
    "slice",
    "split",
    "split_like",
    "squeeze",
    "stop_gradient",
    "strided_slice",
    "strided_slice_grad",
    "tile",
    "tile_grad",
    "transpose",
)
# Softmax and the losses built on it: reductions along the class axis and elementwise ops.
NN_OPS = (
    "log_softmax",
    "sigmoid_cross_entropy_with_logits",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "sparse_softmax_cross_entropy_with_logits",
)
# Convolutions and pooling with their gradients, as direct loops (one thread per output element,
# the window or the reduced axes serially): no im2col GEMM, no shared-memory tiles. conv2d, and
# the gradients of 64 or more reduced points per output (the filter gradient; the input gradient
# with many channels), are tgc-nvptx-split-reduce's flat grids of register accumulators; a
# max-pool gradient's rank-6 scatter and NHWC elementwise ops one flat launch too.
CONV_OPS = (
    "avg_pool",
    "avg_pool_grad",
    "conv2d",
    "conv2d_backprop_filter",
    "conv2d_backprop_input",
    "max_pool",
    "max_pool_grad",
)
# Random numbers: a counter-based hash of the seed, the run's step and each element's index, the
# same code as on the CPU, so a seeded graph draws the same numbers on both.
RANDOM_OPS = (
    "dropout",
    "random_normal",
    "random_uniform",
    "random_uniform_like",
    "truncated_normal",
)
# tf.matmul on rank > 2: linalg.batch_matmul as naive loops, one thread per output element and the
# inner dim serially (tgc-nvptx-tile-matmul's shared-memory tiles take linalg.matmul only). Shapes
# are static on this target, so the batch dims' broadcasting is decided at compile time.
BATCH_MATMUL_OPS = ("batch_matmul",)
VALIDATED_OPS = (
    ELEMENTWISE_OPS
    + REDUCTION_OPS
    + BROADCAST_OPS
    + SHAPE_OPS
    + NN_OPS
    + CONV_OPS
    + RANDOM_OPS
    + BATCH_MATMUL_OPS
)

ONE_SHOT_BUFFERIZE = (
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}"
)
# Adjacent parallel loops over the same space fuse (an elementwise op after a matmul or a reduction
# reads, in the same thread, the element that thread just wrote: one kernel less each).
LOOPS = "func.func(convert-linalg-to-parallel-loops,scf-parallel-loop-fusion)"
# Parallel loops in tiles of TILE_SIZES (after tgc-nvptx-contiguous-dim-first the first dim is the
# buffers' contiguous one): the outer loop becomes the grid, the inner one a block's threads; fixed
# inner bounds (an in-bounds check instead of min bounds) let convert-parallel-loops-to-gpu size the
# block when a dim is not a multiple of its tile.
TILE = (
    "func.func(scf-parallel-loop-tiling{parallel-loop-tile-sizes="
    + ",".join(map(str, TILE_SIZES))
    + " no-min-max-bounds=true})"
)
MAP = "func.func(gpu-map-parallel-loops,convert-parallel-loops-to-gpu)"


def pipeline_elements(allow_tf32: bool = False, emulated: bool = False) -> list:
    """core -> the gpu level: kernels outlined into one gpu.module, launched by the host
    function, results written into out-param buffers. (PTX is the next stage: codegen.py.)
    ``allow_tf32``: f32 matmuls run on tensor cores in TF32 (tgc-nvptx-mma-matmul);
    ``emulated``: for nvptx-emulated, whose host emulates their mma.sync and cp.async."""
    # f32 matmuls on tensor cores when the user allows TF32; the others (and without it, all)
    # to the FMA kernel.
    tensor_cores = [MmaMatmulPass(allow_tf32=True, emulated=emulated)] if allow_tf32 else []
    return [
        # Sends and receives keep their tensor's static shape (the launch plan performs them).
        StaticTransfersPass(),
        OutParamsPass(),
        # One kernel for a chain of elementwise ops instead of one kernel and buffer each.
        "func.func(linalg-fuse-elementwise-ops)",
        "eliminate-empty-tensors",
        ONE_SHOT_BUFFERIZE,
        LinalgCopiesPass(),
        # Linalg ops on a buffer of no element do nothing: gone before any becomes a kernel.
        DropEmptyLinalgPass(),
        # Matmuls: shared-memory tiles and register micro-tiles, a launch of their own.
        *tensor_cores,
        TileMatmulPass(),
        # Large float reductions of every axis to a scalar: per-block shared-memory trees into
        # partials, then one block's tree (below MIN_ELEMENTS: the one-thread kernel further on).
        TreeReducePass(),
        # Reductions of many points per output (a filter or bias gradient, a convolution), and
        # elementwise ops of rank 4 or more: a flat grid (register accumulators), split into
        # partials and a second launch when the outputs are few and the reductions long.
        SplitReducePass(),
        # Reductions: one thread per output element (parallel dims become the grid).
        ParallelDimsFirstPass(),
        LOOPS,
        # The contiguous dim on threadIdx.x (coalesced accesses) where the grid's limits allow.
        ContiguousDimFirstPass(),
        TILE,
        DropEmptyLoopsPass(),
        # What has no parallel loop left (0-d arithmetic, full reductions): one-thread kernels.
        SerialKernelsPass(),
        MAP,
        # Integer powers have no instruction: a loop in a function the kernels call (outlining
        # copies it into the gpu.module).
        "convert-math-to-funcs",
        SinkViewsPass(),
        # What a kernel still reads of an empty buffer is behind a test that cannot hold: gone, so
        # that no kernel takes one.
        EmptyBufferAccessesPass(),
        # Constants and index arithmetic into the kernels (immediates, not parameters).
        "gpu-launch-sink-index-computations",
        "gpu-kernel-outlining",
        "canonicalize",
        "cse",
        # The host's copies of the functions kernels call, now unused.
        "symbol-dce",
        OneGpuModulePass(),
        # Shared buffers 16-byte aligned (the mma matmul's 16-byte cp.async copies).
        AlignSharedPass(),
        CheckHostPass(),
    ]
