"""Helpers every tgc -> core rule shares: types, constants, dynamic dims, and linalg.generic
building.

A rule builds at the insertion point of the op it replaces. Dims unknown at compile time (``?``) are
read with ``tensor.dim`` from an operand that has the same dim, so one compiled function serves
every batch size.

Broadcasting follows TensorFlow at run time: an unknown dim that turns out to be 1 broadcasts, and
dims that differ otherwise fail the run with "Incompatible shapes" (tgc/lowering/runtime_errors.py).
Only an axis where operands' unknown dims may differ pays for that (``uncertain_axes``); static
shapes and the usual ``[None, n] + [n]`` keep their single linalg.generic.
"""

from __future__ import annotations

import contextlib

from mlir import ir
from mlir.dialects import arith, linalg, scf, tensor

from tgc.dialect.ir_helpers import module_of

PARALLEL = "parallel"
REDUCTION = "reduction"


# ---- types ---------------------------------------------------------------------------------------


def ranked(value_or_type) -> ir.RankedTensorType:
    t = value_or_type.type if isinstance(value_or_type, ir.Value) else value_or_type
    return ir.RankedTensorType(t)


def element_type(value_or_type) -> ir.Type:
    return ranked(value_or_type).element_type


def is_float(t: ir.Type) -> bool:
    return isinstance(t, (ir.F16Type, ir.BF16Type, ir.F32Type, ir.F64Type)) or str(t) in (
        "f16",
        "bf16",
        "f32",
        "f64",
    )


def is_bool(t: ir.Type) -> bool:
    return str(t) == "i1"


def shape_of(value_or_type) -> list:
    """Static shape with None for dynamic dims."""
    r = ranked(value_or_type)
    return [None if r.is_dynamic_dim(i) else r.get_dim_size(i) for i in range(r.rank)]


# ---- constants and dims --------------------------------------------------------------------------


def const_index(n: int) -> ir.Value:
    return arith.ConstantOp(ir.IndexType.get(), n).result


def scalar_const(value, elem: ir.Type) -> ir.Value:
    if is_float(elem):
        return arith.ConstantOp(elem, ir.FloatAttr.get(elem, float(value))).result
    if is_bool(elem):
        return arith.ConstantOp(elem, ir.IntegerAttr.get(elem, 1 if value else 0)).result
    if not ir.IntegerType(elem).is_signless:  # ui8 (uint8): arith's constants are signless
        width = ir.IntegerType(elem).width
        signless = ir.IntegerType.get_signless(width)
        bits = int(value) % (1 << width)
        signed = bits - (1 << width) if bits >= 1 << (width - 1) else bits
        constant = arith.ConstantOp(signless, ir.IntegerAttr.get(signless, signed)).result
        return ir.Operation.create(  # the same bits read as ui8, as the bitcast rule does
            "builtin.unrealized_conversion_cast", results=[elem], operands=[constant]
        ).results[0]
    return arith.ConstantOp(elem, ir.IntegerAttr.get(elem, int(value))).result


def dim(value: ir.Value, i: int) -> ir.Value:
    """Dim i of a tensor as an index value (a constant when static)."""
    static = shape_of(value)[i]
    if static is not None:
        return const_index(static)
    return tensor.DimOp(value, const_index(i)).result


def empty(result_type: ir.Type, dynamic_dims: dict) -> ir.Value:
    """tensor.empty of ``result_type``; ``dynamic_dims`` maps each ``?`` dim index to an index
    value."""
    shape = shape_of(result_type)
    sizes = []
    for i, d in enumerate(shape):
        if d is not None:
            sizes.append(d)
        elif i in dynamic_dims:
            sizes.append(dynamic_dims[i])
        else:
            raise ValueError(f"no size for dynamic dim {i} of {result_type}")
    return tensor.EmptyOp(sizes, element_type(result_type)).result


def broadcast_dynamic_dims(result_type: ir.Type, operands: list, skip=()) -> dict:
    """For an elementwise result, take each ``?`` dim (but those in ``skip``) from an operand whose
    aligned dim is unknown."""
    rank = ranked(result_type).rank
    out = {}
    for i, d in enumerate(shape_of(result_type)):
        if d is not None or i in skip:
            continue
        for v in operands:
            vshape = shape_of(v)
            j = i - (rank - len(vshape))
            if j >= 0 and vshape[j] is None:
                out[i] = dim(v, j)
                break
    return out


# ---- linalg.generic ------------------------------------------------------------------------------


def affine_map(num_dims: int, exprs: list) -> ir.AffineMapAttr:
    """exprs: a dim index, or ('const', 0) for a broadcast dim."""
    built = [
        ir.AffineConstantExpr.get(e[1]) if isinstance(e, tuple) else ir.AffineDimExpr.get(e)
        for e in exprs
    ]
    return ir.AffineMapAttr.get(ir.AffineMap.get(num_dims, 0, built))


def broadcast_map(operand: ir.Value, result_shape: list) -> ir.AffineMapAttr:
    """Indexing map reading ``operand`` at the result's index under numpy broadcasting."""
    rank = len(result_shape)
    oshape = shape_of(operand)
    lead = rank - len(oshape)
    exprs = []
    for j, d in enumerate(oshape):
        r = result_shape[lead + j]
        exprs.append(("const", 0) if d == 1 and r != 1 else lead + j)
    return affine_map(rank, exprs)


def identity_map(rank: int) -> ir.AffineMapAttr:
    return affine_map(rank, list(range(rank)))


def generic(inputs, inits, maps, iterators, body) -> list:
    """Builds a linalg.generic; ``body(*scalars)`` returns the yielded scalar(s) for each init."""
    op = linalg.GenericOp(
        [v.type for v in inits],
        inputs,
        inits,
        ir.ArrayAttr.get(maps),
        ir.ArrayAttr.get([ir.Attribute.parse(f"#linalg.iterator_type<{it}>") for it in iterators]),
    )
    arg_types = [element_type(v) for v in list(inputs) + list(inits)]
    block = op.regions[0].blocks.append(*arg_types)
    with ir.InsertionPoint(block):
        out = body(*block.arguments)
        linalg.YieldOp(list(out) if isinstance(out, (list, tuple)) else [out])
    return list(op.results)


def elementwise(operands: list, result_type: ir.Type, body) -> ir.Value:
    """A broadcasting elementwise op: ``body(*scalars)`` computes one result element."""
    result_shape = shape_of(result_type)
    uncertain = uncertain_axes(operands, result_shape)
    dynamic_dims = broadcast_dynamic_dims(result_type, operands, skip=uncertain)
    if uncertain:
        operands, run_time_dims = broadcast_at_run_time(operands, result_shape, uncertain)
        dynamic_dims.update(run_time_dims)
    init = empty(result_type, dynamic_dims)
    maps = [broadcast_map(v, result_shape) for v in operands] + [identity_map(len(result_shape))]
    return generic(
        operands, [init], maps, [PARALLEL] * len(result_shape), lambda *a: body(*a[: len(operands)])
    )[0]


def fill(value: ir.Value, init: ir.Value) -> ir.Value:
    """linalg.fill of a scalar into ``init``."""
    return linalg.fill(value, outs=[init])


# ---- broadcasting decided at run time ------------------------------------------------------------

# The operands of the op being lowered, each with its dims' classes from tgc-shape-equality
# (tgc/passes/shape_equality.py): dims of one class are equal at run time.
_PROVEN: list = []


@contextlib.contextmanager
def proven_dims(operation: ir.Operation):
    """While a rule lowers ``operation``: dim_key knows the dims tgc-shape-equality proved equal
    among its operands (its ``tgc.dim_classes``)."""
    from tgc.passes.shape_equality import dim_classes_of

    # An op without classes pushes none, so that a loop's classes do not reach its body's ops
    # (lowered while the loop's rule runs).
    classes = dim_classes_of(operation) or []
    _PROVEN.append(list(zip(operation.operands, classes)))
    try:
        yield
    finally:
        _PROVEN.pop()


def _proven_key(value: ir.Value, i: int):
    for operand, classes in _PROVEN[-1] if _PROVEN else ():
        if operand == value and i < len(classes) and classes[i] >= 0:
            return ("class", classes[i])
    return None


def dim_key(value: ir.Value, i: int):
    """A key that two dims share when they are equal at run time by construction: the constant, the
    class tgc-shape-equality proved them in, or the function argument's dim or index value they
    were both read from (chased through tensor.empty, the inits of linalg ops and tensor.cast).
    Different keys say nothing."""
    for _ in range(256):
        static = shape_of(value)[i]
        if static is not None:
            return ("const", static)
        proven = _proven_key(value, i)
        if proven is not None:
            return proven
        owner = value.owner
        if isinstance(owner, ir.Block):
            return ("dim", value, i)
        op = owner.operation
        if op.name == "tensor.empty":
            dynamic_before = sum(d is None for d in shape_of(value)[:i])
            return index_key(op.operands[dynamic_before])
        if (
            op.name.startswith("linalg.")
            and len(op.results)
            and len(op.operands) >= len(op.results)
        ):
            value = op.operands[
                len(op.operands) - len(op.results) + ir.OpResult(value).result_number
            ]
            continue
        if op.name == "tensor.cast":
            value = op.operands[0]
            continue
        return ("dim", value, i)
    return ("dim", value, i)


def index_key(value: ir.Value):
    """dim_key for an index value: a tensor.dim is the dim it reads."""
    owner = value.owner
    if not isinstance(owner, ir.Block):
        op = owner.operation
        if op.name == "tensor.dim":
            index = op.operands[1].owner
            if not isinstance(index, ir.Block) and index.operation.name == "arith.constant":
                return dim_key(
                    op.operands[0], ir.IntegerAttr(index.operation.attributes["value"]).value
                )
        if op.name == "arith.constant":
            return ("const", ir.IntegerAttr(op.attributes["value"]).value)
    return ("value", value)


def uncertain_axes(operands: list, result_shape: list) -> dict:
    """Result axis -> [(operand index, operand axis)] of the operands that take part in it (a dim
    other than a static 1), for the axes where an unknown dim may turn out to be 1 or to differ."""
    rank = len(result_shape)
    out = {}
    for i, r in enumerate(result_shape):
        taking_part = []
        for k, v in enumerate(operands):
            shape = shape_of(v)
            j = i - (rank - len(shape))
            if j >= 0 and shape[j] != 1:
                taking_part.append((k, j))
        unknown = [(k, j) for k, j in taking_part if shape_of(operands[k])[j] is None]
        if not unknown or (r is None and len(taking_part) == 1):
            continue  # static, or the one operand that sizes this axis
        keys = [dim_key(operands[k], j) for k, j in taking_part]
        if all(key == keys[0] for key in keys) and (r is None or keys[0] == ("const", r)):
            continue  # equal by construction (x - reduce_max(x, keepdims) and the like)
        out[i] = taking_part
    return out


def _index_cmp(predicate: str, a: ir.Value, b: ir.Value) -> ir.Value:
    return arith.cmpi(getattr(arith.CmpIPredicate, predicate), a, b)


def _incompatible(d: ir.Value, size: ir.Value) -> ir.Value:
    """A dim that neither equals the broadcast size nor is 1 (TensorFlow's broadcasting rule)."""
    one = const_index(1)
    return arith.andi(_index_cmp("ne", d, one), _index_cmp("ne", d, size))


def _any(conditions: list) -> ir.Value:
    out = conditions[0]
    for c in conditions[1:]:
        out = arith.ori(out, c)
    return out


def broadcast_at_run_time(operands: list, result_shape: list, uncertain: dict):
    """Sizes each uncertain axis from the operands' dims (TensorFlow's rule: dims equal, or 1
    broadcast), reports incompatible dims, and gives each operand whose dim differs from the
    result's a broadcast copy. Returns (operands for identity maps on those axes,
    result axis -> size)."""
    one = const_index(1)
    sizes, mismatched = {}, []
    for i, taking_part in uncertain.items():
        dims = [dim(operands[k], j) for k, j in taking_part]
        if result_shape[i] is not None:
            size = const_index(result_shape[i])
        else:
            size = dims[0]
            for d in dims[1:]:
                size = arith.select(_index_cmp("eq", size, one), d, size)
        sizes[i] = size
        mismatched += [_incompatible(d, size) for d in dims]
    report_incompatible(_any(mismatched), operands)
    out = list(operands)
    for k, v in enumerate(operands):
        axes = {
            j: sizes[i]
            for i, taking_part in uncertain.items()
            for kk, j in taking_part
            if kk == k and shape_of(v)[j] is None
        }
        if axes:
            out[k] = _broadcast_if_needed(v, axes)
    return out, {i: s for i, s in sizes.items() if result_shape[i] is None}


def _device_of(operation) -> str:
    """The device of the function holding ``operation`` ("" when it names none)."""
    op = operation
    while op is not None and op.name != "func.func":
        op = op.parent
    if op is None or "tgc.device" not in op.attributes:
        return ""
    return ir.StringAttr(op.attributes["tgc.device"]).value


def can_report(operation) -> bool:
    """Whether code at ``operation`` may call the host to fail the run (a run-time check): code for
    the CPU (or for no device in particular) can; a GPU's or an accelerator's kernels cannot."""
    device = _device_of(operation).upper()
    return not any(kind in device for kind in ("GPU", "ACCEL"))


def on_gpu(operation) -> bool:
    """Whether ``operation`` is in a GPU's function, whose kernels report a failed check through a
    record the launch plan reads (runtime_errors.device_check) instead of calling the host."""
    return "GPU" in _device_of(operation).upper()


def shapes_values(operands: list) -> list:
    """INCOMPATIBLE_SHAPES' values: the operand count, then each operand's rank and dims."""
    values = [const_index(len(operands))]
    for v in operands:
        values.append(const_index(len(shape_of(v))))
        values += [dim(v, j) for j in range(len(shape_of(v)))]
    return values


def report_incompatible(condition: ir.Value, operands: list) -> None:
    """When ``condition`` holds at run time, fails the run with TensorFlow's "Incompatible shapes:
    [4,3] vs. [2,3]", naming the op being lowered (the current location)."""
    from tgc.lowering import runtime_errors
    from tgc.runtime.executable import INCOMPATIBLE_SHAPES

    check = scf.IfOp(condition)
    with ir.InsertionPoint(check.then_block):
        values = shapes_values(operands)
        module = module_of(check.operation)
        runtime_errors.report(
            module,
            INCOMPATIBLE_SHAPES,
            {"node": runtime_errors.node_description(ir.Location.current)},
            values,
        )
        scf.YieldOp([])


def fail_when(operation, failed: ir.Value, kind: int, values: list, **facts) -> None:
    """Fails the run with the error of ``kind`` (``values``, the JSON payload's ``facts`` and the
    node being lowered) when ``failed`` holds: in code for the CPU a call of the host, in a GPU's
    or an accelerator's a record the launch plan reads after the kernels."""
    from tgc.lowering import runtime_errors

    payload = {"node": runtime_errors.node_description(ir.Location.current), **facts}
    module = module_of(operation)
    if not can_report(operation):
        runtime_errors.device_check(module, kind, payload, failed, values)
        return
    check = scf.IfOp(failed)
    with ir.InsertionPoint(check.then_block):
        runtime_errors.report(module, kind, payload, values)
        scf.YieldOp([])


def fail_out_of_range(operation, failed: ir.Value, message: str, values: list) -> None:
    """Fails the run with InvalidArgumentError ``message`` ({0}, {1}...: ``values``, index
    values) when ``failed`` holds (an op's bounds on a dim known at run time only)."""
    from tgc.runtime.host_calls import ARGUMENT_OUT_OF_RANGE

    fail_when(operation, failed, ARGUMENT_OUT_OF_RANGE, values, message=message)


def as_index(size) -> ir.Value:
    """An int or an index value as an index value."""
    return const_index(size) if isinstance(size, int) else size


def check_dims(operation, value: ir.Value, sizes: list, message: str, proven=()) -> None:
    """Fails the run where ``value``'s dims are not ``sizes`` (per axis an int, an index value, or
    None for any size), on each axis whose size is not static on both sides nor in ``proven``.
    ``message`` holds ``{got}`` and ``{wanted}``, each replaced by the dims' placeholders (the
    wanted ones "?" where None): TF-style shape texts such as "[3,2] is not ... [4,2]"."""
    static = shape_of(value)
    axes = [
        i
        for i, size in enumerate(sizes)
        if size is not None
        and i not in proven
        and not (isinstance(size, int) and static[i] is not None)
    ]
    if not axes:
        return
    failed = _any([_index_cmp("ne", dim(value, i), as_index(sizes[i])) for i in axes])
    rank = len(sizes)
    got = ",".join(f"{{{j}}}" for j in range(rank))
    wanted = ",".join("?" if size is None else f"{{{rank + j}}}" for j, size in enumerate(sizes))
    values = [dim(value, j) for j in range(rank)]
    values += [const_index(0) if size is None else as_index(size) for size in sizes]
    text = message.replace("{got}", got).replace("{wanted}", wanted)
    fail_out_of_range(operation, failed, text, values)


def as_type(operation, value: ir.Value, wanted: ir.Type) -> ir.Value:
    """``value`` as ``wanted``, a tensor type of its rank and element type that a loop variable or
    an if's result has: a tensor.cast, checked at run time where ``wanted`` knows a size that
    ``value`` does not (a cast alone would let the next trip or op read past the buffer). A value
    of another rank or of contradicting sizes is left as it is (the IR's verifier refuses it)."""
    if value.type == wanted or not isinstance(wanted, ir.RankedTensorType):
        return value
    source, target = ranked(value), ir.RankedTensorType(wanted)
    if source.rank != target.rank or source.element_type != target.element_type:
        return value
    sizes = [None if d == ir.ShapedType.get_dynamic_size() else d for d in target.shape]
    known = shape_of(value)
    if any(w is not None and k is not None and w != k for w, k in zip(sizes, known)):
        return value
    check_dims(
        operation, value, sizes, "a tensor of shape [{got}] where the graph's shape is [{wanted}]"
    )
    return tensor.CastOp(wanted, value).result


def broadcast_to_like(x: ir.Value, target: ir.Value, result_type: ir.Type) -> ir.Value:
    """x broadcast to target's shape (``result_type``): an unknown dim of x must be target's or 1,
    which is tested at run time unless equal by construction."""
    shape = shape_of(result_type)
    lead = len(shape) - len(shape_of(x))
    axes = {
        j: dim(target, lead + j)
        for j, d in enumerate(shape_of(x))
        if d is None and dim_key(x, j) != dim_key(target, lead + j)
    }
    if axes:
        report_incompatible(
            _any([_incompatible(dim(x, j), size) for j, size in axes.items()]), [x, target]
        )
        x = _broadcast_if_needed(x, axes)
    init = empty(result_type, {i: dim(target, i) for i, d in enumerate(shape) if d is None})
    maps = [broadcast_map(x, shape), identity_map(len(shape))]
    return generic([x], [init], maps, [PARALLEL] * len(shape), lambda a, _: a)[0]


def _broadcast_if_needed(v: ir.Value, axes: dict) -> ir.Value:
    """``v`` with each axis j of ``axes`` (operand axis -> run-time size) that is 1 broadcast to its
    size; a dim that is neither gives a zero tensor of the right size (the run has already failed,
    and what follows must stay within its buffers when the error handler returns)."""
    dims = {j: dim(v, j) for j in axes}
    differs = _any([_index_cmp("ne", dims[j], size) for j, size in axes.items()])
    outer = scf.IfOp(differs, [v.type], has_else=True)
    with ir.InsertionPoint(outer.then_block):
        incompatible = _any([_incompatible(dims[j], size) for j, size in axes.items()])
        inner = scf.IfOp(incompatible, [v.type], has_else=True)
        with ir.InsertionPoint(inner.then_block):
            rank = len(
                shape_of(v)
            )  # zeros written by a generic: tgc-bool-storage rewrites those for bool
            zeros = generic(
                [],
                [_empty_like(v, axes)],
                [identity_map(rank)],
                [PARALLEL] * rank,
                lambda _: scalar_const(0, element_type(v)),
            )[0]
            scf.YieldOp([zeros])
        with ir.InsertionPoint(inner.else_block):
            scf.YieldOp([_broadcast_ones(v, axes, dims)])
        scf.YieldOp(list(inner.results))
    with ir.InsertionPoint(outer.else_block):
        scf.YieldOp([v])
    return outer.results[0]


def _empty_like(v: ir.Value, axes: dict) -> ir.Value:
    """tensor.empty of v's type with the sizes of ``axes`` in place of v's dims."""
    return empty(
        v.type,
        {j: axes[j] if j in axes else dim(v, j) for j, d in enumerate(shape_of(v)) if d is None},
    )


def _broadcast_ones(v: ir.Value, axes: dict, dims: dict) -> ir.Value:
    """v read at index 0 along each axis of ``axes`` whose dim is 1, written out at the axis'
    size."""
    rank = len(shape_of(v))
    init = _empty_like(v, axes)
    one, zero = const_index(1), const_index(0)
    is_one = {j: _index_cmp("eq", dims[j], one) for j in axes}

    def body(_):
        indices = []
        for j in range(rank):
            index = linalg.IndexOp(j).result
            if j in is_one:
                index = arith.select(is_one[j], zero, index)
            indices.append(index)
        return tensor.ExtractOp(v, indices).result

    return generic([], [init], [identity_map(rank)], [PARALLEL] * rank, body)[0]
