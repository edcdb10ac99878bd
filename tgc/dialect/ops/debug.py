"""Debugging from compiled code: ``print`` (tf.Print, tf.print), ``assert`` (tf.Assert and the
assert_* family) and ``check_numerics``.

All three call back into the host where they run (tgc/lowering/to_core/debug.py): a print writes
when the op runs, in program order, inside loops and conditionals too; a failed assertion or a
tensor with NaN or Inf fails the run with InvalidArgumentError. They are ``stateful``: never
folded, merged or removed while a fetch or a control dependency asks for them. Targets that cannot
call the host (GPU, accelerator) do not list them, so placement keeps them on the CPU.

``spec`` is JSON the host reads back (tgc/runtime/host_calls.py): for a print, tf.Print's message,
summarize, first_n (style "Print"), or tf.print's pieces (text, or the index of a data tensor), sep,
end, stream (style "print"); for an assertion, its data pieces and summarize.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, Sample, ShapeError, op

_PRINTABLE = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
)


def _check_printable(kind: str, data) -> None:
    for i, d in enumerate(data):
        if d.dtype not in _PRINTABLE:
            raise ShapeError(f"{kind} cannot send data {i} ({d.describe()}) to the host")


@op(
    "print",
    tf_type="Print",
    operands="variadic",
    attrs={"spec": Attr("str")},
    stateful=True,
)
class Print:
    """Returns its first operand and prints the others when it runs (`tf.Print`, `tf.print`)."""

    flops = no_flops

    def infer(*operands, spec):
        if not operands:
            raise ShapeError("print needs the tensor it passes through")
        _check_printable("print", operands[1:])
        return operands[0]

    def eval(*operands, spec):
        from tgc.runtime import host_calls

        facts = json.loads(spec)
        text = host_calls.print_message(facts, list(operands[1:]))
        if text is not None:
            host_calls.write(facts, text)
        return operands[0].copy()

    def grad(b, op, g):
        return [g] + [None] * (len(op.inputs) - 1)

    # Stateful: the one-op harness does not run it (tests/e2e/test_debug_ops.py does); the sample
    # serves the cost-rule tests.
    samples = [
        Sample(
            shapes=((2, 3), (2, 3), (4,)),
            dtypes=("float32", "float32", "int32"),
            attrs={"spec": json.dumps({"style": "print", "pieces": [{"tensor": 0}]})},
        )
    ]


@op(
    "assert",
    tf_type="Assert",
    operands="variadic",
    attrs={"spec": Attr("str")},
    results=0,
    stateful=True,
)
class Assert:
    """Fails the run with InvalidArgumentError, its data in the message, when the scalar bool
    condition (the first operand) is false (`tf.Assert`)."""

    flops = no_flops

    def infer(*operands, spec):
        if not operands:
            raise ShapeError("assert needs a condition")
        condition = operands[0]
        if condition.dtype != "bool" or condition.shape != ():
            raise ShapeError(f"the condition must be a scalar bool, not {condition.describe()}")
        _check_printable("assert", operands[1:])
        return []

    def eval(*operands, spec):
        if not bool(operands[0]):
            from tgc.runtime import host_calls

            facts = json.loads(spec)
            if "format" in facts:  # build.check_op: TensorFlow's words
                print(host_calls.format_check(facts["format"], operands[1:]), file=sys.stderr)
                return []
            parts = []
            for piece in facts.get("data", []):
                if "text" in piece:
                    parts.append(f"[{piece['text']}]")
                else:
                    value = operands[1 + piece["tensor"]]
                    parts.append(f"[{host_calls.summarize_v1(value, facts.get('summarize'))}]")
            print("assertion failed: " + " ".join(parts), file=sys.stderr)
        return []

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(
            shapes=((), (3,)),
            dtypes=("bool", "float32"),
            values=(np.array(True), None),
            attrs={"spec": json.dumps({"data": [{"text": "x"}, {"tensor": 0}]})},
        )
    ]


GRADIENT_MESSAGE = "Not a number (NaN) or infinity (Inf) values detected in gradient. "


@op(
    "check_numerics",
    tf_type="CheckNumerics",
    operands=("x",),
    attrs={"message": Attr("str")},
    stateful=True,
)
class CheckNumerics:
    """Returns x, failing the run with InvalidArgumentError when it holds a NaN or an Inf
    (`tf.debugging.check_numerics`)."""

    flops = no_flops

    def infer(x, message):
        if x.dtype not in ("float16", "bfloat16", "float32", "float64"):
            raise ShapeError(f"check_numerics takes a float tensor, not {x.describe()}")
        return x

    def eval(x, message):
        return x.copy()

    def grad(b, op, g):
        # TensorFlow's gradient checks the incoming gradient too.
        return [b.check_numerics(g, message=GRADIENT_MESSAGE + op.attrs["message"])]

    samples = [Sample(shapes=((2, 3),), attrs={"message": "checked"})]
