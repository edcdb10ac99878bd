"""Loops: ``tgc.while``, the compiled `tf.while_loop`.

Design (why functions and not regions): the tgc dialect is generated as IRDL from the registry, and
an IRDL op cannot be a terminator, so a region of tgc ops would need an upstream terminator, and
scf's and func's all demand their own parent op. TensorFlow's functional ``While`` takes its cond
and body as functions; so does ``tgc.while``:

    %r:2 = "tgc.while"(%i0, %x0, %captured) {cond = "while_cond", body = "while_body",
                                              num_vars = 2 : i64,
                                              operandSegmentSizes = array<i32: 1, 1, 1, 0, ...>,
                                              resultSegmentSizes = array<i32: 1, 1, 0, ...>}

``cond`` and ``body`` name ``func.func``s of the nested module ``@tgc.loops`` (emitted by
tgc/graph/emit.py). Each takes the loop variables then the captured outer tensors (the op's
operands after the first ``num_vars``); cond returns a scalar i1 tensor, body the next values of
the loop variables. The graph passes walk only the top-level module's functions, so the loop's
functions stay as emitted whatever placement and partitioning do (they run where the loop op is
placed); tgc-to-core lowers them and inlines them into an ``scf.while``
(tgc/lowering/to_core/loops.py), which removes the nested module.

The segment sizes attributes are IRDL's way to give each operand its own type (up to
``VARIADIC_SLOTS``, tgc/dialect/irdl.py); ``create_while`` writes them.

The loop variables keep their shapes and dtypes across iterations (the frontend checks the body
against them, as TensorFlow's shape invariants do).
"""

from __future__ import annotations

from mlir import ir

from tgc.dialect.attrs import tensor_type
from tgc.dialect.builder import Val, encode_attrs
from tgc.dialect.costs import no_flops
from tgc.dialect.registry import VARIADIC_SLOTS, Attr, GradientRefused, ShapeError, op

# The nested module of the loops' cond and body functions.
LOOPS_MODULE = "tgc.loops"


class LoopNotLowered(RuntimeError):
    pass


def _refuse_gradient(builder, info, *douts):
    """tgc-autodiff reached the loop: refuse (tgc-autodiff reports it at the loop) rather than give
    a wrong gradient."""
    loc = str(info.operation.location)
    loop = loc[5:].split('"', 1)[0] if loc.startswith('loc("') else "while"
    raise GradientRefused(
        f"tgc cannot differentiate through tf.while_loop '{loop}' yet (gradients through loops "
        "are not implemented: compute the loop's gradient by hand, or unroll the loop in Python)"
    )


# stateful: the loop's value depends on functions outside the op, which tgc-fold cannot evaluate
# and tgc-cse cannot compare; the frontend emits a loop only when a fetch needs it, so keeping it
# from tgc-dce costs nothing.
@op(
    "while",
    tf_type="While",
    operands="variadic",
    results="variadic",
    attrs={"cond": Attr("str"), "body": Attr("str"), "num_vars": Attr("int")},
    stateful=True,
)
class While:
    """Runs ``body`` while ``cond`` holds (`tf.while_loop`): operands are the loop variables'
    initial values then the captured tensors; results the loop variables' final values."""

    flops = no_flops

    def infer(*operands, cond, body, num_vars):
        if not 0 < num_vars <= len(operands):
            raise ShapeError(
                f"num_vars = {num_vars} must be between 1 and the {len(operands)} operands"
            )
        return list(operands[:num_vars])

    def eval(*operands, cond, body, num_vars):
        raise LoopNotLowered(
            "tgc.while has no value of its own outside a module: its cond and body are functions"
        )

    grad = _refuse_gradient


def segment_sizes(count: int) -> ir.Attribute:
    """``count`` present slots of the op's VARIADIC_SLOTS optional operands (or results)."""
    if count > VARIADIC_SLOTS:
        raise ShapeError(
            f"a tf.while_loop takes at most {VARIADIC_SLOTS} loop variables and captured tensors "
            f"together, not {count}"
        )
    return ir.DenseI32ArrayAttr.get([1] * count + [0] * (VARIADIC_SLOTS - count))


def create_while(ip, loc, inputs: list, cond: str, body: str, num_vars: int) -> list:
    """A ``tgc.while`` of the loop variables' initial values then the captures (``Val``s); returns
    its results as ``Val``s."""
    attrs = {"cond": cond, "body": body, "num_vars": num_vars}
    specs = While.result_specs([v.spec for v in inputs], attrs)
    attributes = encode_attrs(While, attrs)
    attributes["operandSegmentSizes"] = segment_sizes(len(inputs))
    attributes["resultSegmentSizes"] = segment_sizes(len(specs))
    created = ir.Operation.create(
        While.mlir_name,
        results=[tensor_type(s) for s in specs],
        operands=[v.value for v in inputs],
        attributes=attributes,
        loc=loc,
        ip=ip,
    )
    return [Val(r, s) for r, s in zip(created.results, specs)]
