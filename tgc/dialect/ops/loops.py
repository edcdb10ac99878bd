"""Loops: ``tgc.while``, the compiled `tf.while_loop`, and ``tgc.relax_shape``, which lets a loop
variable's shape vary (its shape invariant's unknown dims).

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
``VARIADIC_SLOTS``, tgc/dialect/irdl.py); ``create_while`` (tgc/dialect/loop_functions.py) writes
them, beside the helpers that find, copy and inline the loops' functions.

The loop variables keep their shapes and dtypes across iterations (the frontend checks the body
against them, as TensorFlow's shape invariants do).
"""

from __future__ import annotations

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import Attr, GradientRefused, ShapeError, op
from tgc.dialect.shapes import spec


class LoopNotLowered(RuntimeError):
    pass


def _gradient(builder, info, *douts):
    """Reverse mode through the loop (tgc/dialect/loop_gradient.py): it needs the autodiff pass's
    reverse sweep, which tgc-autodiff hands to the rules through its builder."""
    sweep = getattr(builder, "reverse_sweep", None)
    if sweep is None:
        loc = str(info.operation.location)
        loop = loc[5:].split('"', 1)[0] if loc.startswith('loc("') else "while"
        raise GradientRefused(
            f"tgc cannot differentiate through tf.while_loop '{loop}' here: its gradient is "
            "built by tgc-autodiff"
        )
    from tgc.dialect.loop_gradient import loop_gradient

    return loop_gradient(builder, info, list(douts), sweep)


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

    grad = _gradient


# stateful: its result type deliberately forgets sizes that its operand's type knows, so tgc-fold
# must not replace it by a constant (of the operand's static type: the loop needs the relaxed one),
# nor tgc-cse merge it with an op of another type; the one-op registry harness (which checks that
# the result rule's shape is eval's) skips it, the loop tests run it.
@op(
    "relax_shape",
    tf_type="EnsureShape",
    operands=("x",),
    attrs={"shape": Attr("ints")},
    stateful=True,
)
class RelaxShape:
    """x with the dims that ``shape`` marks -1 unknown (a loop variable whose shape invariant lets
    it vary): the values are x's, only the static type forgets sizes."""

    flops = no_flops

    def infer(x, shape):
        if len(shape) != len(x.shape) or any(
            d != -1 and (e is None or e != d) for d, e in zip(shape, x.shape)
        ):
            raise ShapeError(f"shape {list(x.shape)} is not an instance of {list(shape)}")
        return spec(tuple(None if d == -1 else d for d in shape), x.dtype)

    def eval(x, shape):
        return x

    def grad(b, op, g):
        (x,) = op.inputs
        if any(d is not None and e is not None and d != e for d, e in zip(g.shape, x.shape)):
            # The adjoint has the relaxed result's type; one whose known sizes contradict x's (a
            # cond branch that cannot have run, its sibling's sizes flowing back) keeps that type,
            # so that the reshape below fails only if that branch runs.
            g = b.relax_shape(g, shape=list(op.attrs["shape"]))
        return [b.reshape_like(g, x)]
