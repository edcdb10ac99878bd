"""Control and meta ops: ``no_op`` (what `tf.group` and `tf.no_op` fetch) and the gradient request.

``tgc.gradient`` is how the frontend asks for a gradient: it stands for d(sum(y * dy))/dx and is
replaced by the ``tgc-autodiff`` pass with the backward graph built from the registry's rules.
"""

from __future__ import annotations

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Sample, ShapeError, op
from tgc.dialect.types import format_shape


@op("no_op", tf_type="NoOp", results=0)
class NoOp:
    """Does nothing; fetched for its control dependencies (`tf.no_op`, `tf.group`)."""

    flops = no_flops

    samples = (Sample(()),)  # no operands, no results: it compiles to an empty function

    def infer():
        return []

    def eval():
        return []

    grad = NOT_DIFFERENTIABLE


class GradientNotExpanded(RuntimeError):
    pass


@op("gradient", tf_type="SymbolicGradient", operands=("y", "x", "dy"))
class Gradient:
    """The gradient of sum(y * dy) with respect to x (`tf.gradients`), expanded by tgc-autodiff."""

    flops = no_flops

    def infer(y, x, dy):
        if y.shape != dy.shape and len(y.shape) != len(dy.shape):
            raise ShapeError(
                f"grad_ys shape {format_shape(dy.shape)} does not match ys shape "
                f"{format_shape(y.shape)}"
            )
        if y.dtype != dy.dtype:
            raise ShapeError(f"grad_ys dtype {dy.dtype} does not match ys dtype {y.dtype}")
        return x

    def eval(y, x, dy):
        raise GradientNotExpanded(
            "tgc.gradient has no value of its own: run the tgc-autodiff pass first"
        )

    grad = NOT_DIFFERENTIABLE
