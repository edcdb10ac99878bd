"""Conditionals: ``tgc.if``, the compiled `tf.cond` that runs only the taken branch.

Same design as ``tgc.while`` (tgc/dialect/ops/loops.py says why functions and not regions): the
two branches are private ``func.func``s of the nested module ``@tgc.loops``, named by attributes,
and each takes the op's operands after the predicate (the Variables the branches assign, then the
captured outer tensors):

    %r:2 = "tgc.if"(%pred, %captured) {then_branch = "cond/true", else_branch = "cond/false",
                                       result_types = "tensor<3xf32>;tensor<?xi32>",
                                       operandSegmentSizes = ..., resultSegmentSizes = ...}

The results' types cannot be derived from the operands (they are the branches'), so the op
carries them in ``result_types`` (each ``TensorSpec.mlir_text()``, ``;``-separated): a dim on
which the branches differ is unknown. Both functions return exactly those types (the emitter
relaxes a branch's static dim). tgc-to-core inlines copies of the branches into an ``scf.if``
(tgc/lowering/to_core/conds.py).
"""

from __future__ import annotations

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import Attr, GradientRefused, ShapeError, op
from tgc.dialect.result_types import decode_result_types


class ConditionalNotLowered(RuntimeError):
    pass


def _gradient(builder, info, *douts):
    """The gradient is another ``tgc.if`` of the branches' vector-Jacobian products
    (tgc/dialect/cond_gradient.py), built with tgc-autodiff's reverse sweep."""
    sweep = getattr(builder, "reverse_sweep", None)
    if sweep is None:
        raise GradientRefused(
            "tgc cannot differentiate through tf.cond here: its gradient is built by tgc-autodiff"
        )
    from tgc.dialect.cond_gradient import cond_gradient

    return cond_gradient(builder, info, list(douts), sweep)


# stateful: the op's value depends on functions outside it, which tgc-fold cannot evaluate and
# tgc-cse cannot compare (and a branch may assign a Variable).
@op(
    "if",
    tf_type="If",
    operands="variadic",
    results="variadic",
    attrs={"then_branch": Attr("str"), "else_branch": Attr("str"), "result_types": Attr("str")},
    stateful=True,
)
class If:
    """Runs ``then_branch`` when the scalar bool ``pred`` (the first operand) holds, else
    ``else_branch`` (`tf.cond`); both take the other operands and return ``result_types``."""

    flops = no_flops

    def infer(*operands, then_branch, else_branch, result_types):
        if not operands:
            raise ShapeError("tgc.if needs a predicate operand")
        pred = operands[0]
        if pred.dtype != "bool" or pred.shape != ():
            raise ShapeError(f"the predicate must be a scalar bool, not {pred.describe()}")
        return decode_result_types(result_types)

    def eval(*operands, then_branch, else_branch, result_types):
        raise ConditionalNotLowered(
            "tgc.if has no value of its own outside a module: its branches are functions"
        )

    grad = _gradient
