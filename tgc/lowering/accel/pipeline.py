"""The accel target's pipeline from the core level to accel ops on buffers, and which graph ops
the accelerator runs (ACCEL_OPS; runs_on_accel decides per op instance, from its types)."""

from __future__ import annotations

from mlir import ir

from tgc.lowering.accel.outline_conv import OutlineConvPass
from tgc.lowering.accel.tile_conv import TileConvPass
from tgc.lowering.accel.tile_generic import TileGenericPass, reshape_boundary
from tgc.lowering.accel.tile_matmul import TileMatmulPass

# The registry ops the accelerator runs (besides the variable ops: see target.py): the matrix
# unit's matmul, and the ops whose core lowering is linalg generics (and fills) of float
# arithmetic the vector unit computes. Everything else stays on the CPU by placement.
VECTOR_OPS = (
    # elementwise math
    "abs",
    "add",
    "subtract",
    "multiply",
    "divide",
    "maximum",
    "minimum",
    "negative",
    "exp",
    "expm1",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "square",
    "pow",
    "tanh",
    "sigmoid",
    "relu",
    "floor",
    "ceil",
    "round",
    "sign",
    "sin",
    "cos",
    "identity",
    "stop_gradient",
    "constant",  # travels inside the programs that load it
    "dim_size",  # a float count: a constant once shapes are static (canonicalize folds it)
    "cast",
    # comparisons and logic: bools are 0.0 and 1.0 in the accelerator's float32 memory
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "select",
    # a transpose: transposing DMAs; slices and concatenations: boxes of a tensor
    "transpose",
    "slice",
    "concat",
    "split",
    "split_like",
    "strided_slice",  # positive strides (steps of the DMA box)
    "strided_slice_grad",
    # reshapes: views when they add or drop dims of size 1, else DMA copies in chunks of rows
    "expand_dims",
    "squeeze",
    "reshape",
    "reshape_like",
    # broadcasts and reductions
    "broadcast_like",
    "unbroadcast_like",
    "fill_like",
    "reduce_sum",
    "reduce_mean",
    "reduce_max",
    "reduce_min",
    "reduce_prod",
    "l2_loss",
    # pooling (forward): a strided DMA per window tap, max or add on the vector unit
    "max_pool",
    "avg_pool",
    "avg_pool_grad",
    # activations and losses
    "softmax",
    "log_softmax",
    "softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits",
)
# A variable's ops: at the core level a variable is an argument of the compiled function (an
# assigned one also a result), which the host plan passes in and keeps; assign_add/assign_sub are
# elementwise on the vector unit. Placement asks about each op of a variable (declaration, reads,
# assigns) with its types: a float variable goes to the accelerator, an integer one stays.
VARIABLE_OPS = (
    "variable",
    "read_variable",
    "reread_variable",
    "assign",
    "assign_add",
    "assign_sub",
)
# The matrix unit's ops (tile_matmul.py, tile_conv.py): floats only.
MATRIX_OPS = ("matmul", "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter")
ACCEL_OPS = (*MATRIX_OPS, *VECTOR_OPS, *VARIABLE_OPS)

# Element types the accelerator's device memory holds (as float32; bools as 0.0 and 1.0).
_ELEMENT_TYPES = ("f32", "f64", "i1")
# The ops that may take or make bools: comparisons, logic, select, casts and data movement.
_BOOLS_OK = (
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "select",
    "cast",
    "identity",
    "stop_gradient",
    "constant",
    "expand_dims",
    "squeeze",
    "reshape",
    "reshape_like",
    "transpose",
    "slice",
    "strided_slice",
    "concat",
    "split",
    "broadcast_like",
    "variable",
    "read_variable",
    "reread_variable",
    "assign",
)


def runs_on_accel(operation, op_name: str) -> bool:
    """Whether the accelerator runs this graph-level op: its name is one of ACCEL_OPS and every
    tensor it takes and makes is float32, float64 or bool (the placement then decides by cost).
    Unknown dims are fine: a session specialises the feeds of a static-shape target."""
    if op_name not in ACCEL_OPS:
        return False
    if op_name in _BOOLS_OK:  # moves, compares or selects bools (0.0 and 1.0 here)
        allowed = _ELEMENT_TYPES
    else:  # arithmetic: on bools it would be integer arithmetic, which the vector unit has not
        allowed = ("f32", "f64")
    if op_name in ("reshape", "reshape_like") and not _adds_or_drops_unit_dims(operation):
        return False
    if op_name in ("strided_slice", "strided_slice_grad") and not _positive_strides(operation):
        return False
    values = list(operation.operands) + list(operation.results)
    return all(_element_type(value) in allowed for value in values)


def _next_to_the_matrix_unit(operation) -> bool:
    """Whether a reshape takes a matmul's or convolution's result or feeds one: upstream
    elementwise fusion would fold it into the contraction, which would then reach the vector unit
    as a generic instead of the matrix unit. It stays on the CPU (a convnet's flatten before its
    dense layer, say)."""
    matrix = {f"tgc.{name}" for name in MATRIX_OPS}
    producer = operation.operands[0].owner
    if getattr(producer, "name", None) in matrix:
        return True
    return any(use.owner.name in matrix for result in operation.results for use in result.uses)


def _positive_strides(operation) -> bool:
    """A strided slice whose strides are all positive: DMA boxes step forward only."""
    from tgc.dialect.builder import decode_attrs

    return all(stride > 0 for stride in decode_attrs(operation)["strides"])


def _adds_or_drops_unit_dims(operation) -> bool:
    """Whether the accelerator can reshape: by adding or dropping dims of size 1 (its DMA then
    reads the tensor through the reshape), or by splitting both shapes into outer x inner with
    one static inner size that fits a tile (a DMA copy, chunks of outer rows). Unknown dims may
    be in the outer parts only."""
    source, result = operation.operands[0].type, operation.results[-1].type
    if not (isinstance(source, ir.RankedTensorType) and isinstance(result, ir.RankedTensorType)):
        return False
    shapes = [list(ir.RankedTensorType(t).shape) for t in (source, result)]
    non_unit = [[d for d in shape if d != 1] for shape in shapes]
    if non_unit[0] == non_unit[1]:
        return True
    if _next_to_the_matrix_unit(operation):
        return False
    dynamic = ir.ShapedType.get_dynamic_size()
    known = [[None if d == dynamic else d for d in shape] for shape in shapes]
    return reshape_boundary(*known) is not None


def _element_type(value) -> str | None:
    type_ = value.type
    if not isinstance(type_, ir.ShapedType):
        return None
    return str(ir.ShapedType(type_).element_type)


ONE_SHOT_BUFFERIZE = (
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}"
)


def pipeline_elements() -> list:
    """core -> accel ops on memrefs; program.py then reads each function into a program."""
    return [
        # Shapes are static: a dim_size (reduce_mean's gradient) folds to a constant.
        "canonicalize",
        # A chain of elementwise ops (and a reduction's elementwise producers) becomes one generic:
        # its tiles then make one trip through the buffer, the vector unit doing the whole body.
        # ... but not into a convolution's gradient generic: behind a call for the fusion's span,
        # it stays whole and tagged for tgc-accel-tile-conv (outline_conv.py).
        OutlineConvPass(),
        "func.func(linalg-fuse-elementwise-ops)",
        "inline",
        # Sends and receives stay calls of the transfer functions (the host performs them around
        # the programs); the static casts of their tensors give the DMAs their shapes.
        ONE_SHOT_BUFFERIZE,
        # Before the others: it takes core's padded copies, spread gradients and flipped filters
        # that only feed a convolution (its DMAs pad, stride and flip instead).
        TileConvPass(),
        TileMatmulPass(),
        TileGenericPass(),
    ]
