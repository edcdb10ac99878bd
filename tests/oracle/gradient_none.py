"""TensorFlow 2.21's answers for tests/e2e/test_gradient_none.py, written to
tests/e2e/gradient_none_tf_values.json:

    /tmp/peers/bin/python tests/oracle/gradient_none.py

(compat.v1 with v2 behaviour disabled, on the CPU.) ``tf.gradients`` is None for an x whose every
path to y runs through an op with no gradient: TF registers Floor's, Ceil's and Round's gradient as
None (not zeros: Sign's is zeros), and ZerosLike, OnesLike and Shape as not differentiable. A path
that does carry a gradient makes it a value (zeros where the only other paths are None's). Found by
the random graphs against TensorFlow (tests/conformance/tfdiff.py).
"""

import json
import os

import numpy as np

X = np.array([[-1.5, -0.25, 0.5], [0.75, 1.25, 2.5]])

# name: the loss of x (a [2, 3] float64 placeholder), built with module t
CASES = {
    "floor": lambda t, x: t.reduce_sum(t.floor(x)),
    "ceil": lambda t, x: t.reduce_sum(t.ceil(x)),
    "round": lambda t, x: t.reduce_sum(t.round(x)),
    "sign": lambda t, x: t.reduce_sum(t.sign(x)),
    "floor_plus_square": lambda t, x: t.reduce_sum(t.floor(x) + x * x),
    "floor_times_x": lambda t, x: t.reduce_sum(t.floor(x) * x),
    "ones_like": lambda t, x: t.reduce_sum(t.ones_like(x)),
    "zeros_like_plus_x": lambda t, x: t.reduce_sum(t.zeros_like(x) + 2.0 * x),
    # x's shape only (Shape is not differentiable in TF): tgc builds these as ops reading x
    "reshape_to_shape_of_x": lambda t, x: t.reduce_sum(
        t.square(t.reshape(t.constant(np.arange(6.0)), t.shape(x)))
    ),
    "fill_shape_of_x": lambda t, x: t.reduce_sum(t.fill(t.shape(x), t.constant(2.5, t.float64))),
    "broadcast_to_shape_of_x": lambda t, x: t.reduce_sum(
        t.broadcast_to(t.constant([1.0, 2.0, 3.0], t.float64), t.shape(x))
    ),
    "reshape_x_to_shape_of_x": lambda t, x: t.reduce_sum(t.square(t.reshape(x * 3.0, t.shape(x)))),
    # (y, the tensor to differentiate by): an output y does not use, of an op whose other outputs
    # y uses, has a gradient of zeros in TF (the op is on the path: its unused outputs get zeros)
    "unused_split_output": lambda t, x: _unused_split_output(t, x),
    "unused_loop_output": lambda t, x: _unused_loop_output(t, x),
    # TF1's loops and conds are a Switch and Merge per tensor: a result that does not depend on x
    # (its body or branches never read x's variable) has no gradient by x
    "loop_result_not_reading_x": lambda t, x: _loop_result_not_reading_x(t, x),
    "loop_result_reading_x_on_a_later_trip": lambda t, x: _loop_result_reading_x_later(t, x),
    "cond_result_not_reading_x": lambda t, x: t.reduce_sum(
        t.cond(
            t.constant(True),
            lambda: (x * 2.0, t.constant(1.0, t.float64)),
            lambda: (x, t.constant(2.0, t.float64)),
        )[1]
    ),
    # (y, [tensors]): gradients by several tensors at once. An output y does not use, of an op
    # whose other outputs y uses and whose input comes from another of them, has a gradient of
    # zeros in TF (the op is between the tensors and y, so its unused outputs get zeros), not None
    "unused_split_output_and_x": lambda t, x: _unused_split_output_and_x(t, x),
    "unused_split_output_and_an_unrelated_x": lambda t, x: _unused_split_output_unrelated(t, x),
}


def _loop_result_not_reading_x(t, x):
    start = t.constant(np.ones((2, 3)))
    _, a, b = t.while_loop(
        lambda i, a, b: i < 2, lambda i, a, b: [i + 1, a * 2.0, b * b], [t.constant(0), x, start]
    )
    return t.reduce_sum(b)


def _loop_result_reading_x_later(t, x):
    """b's next value reads a, whose first value is x: b depends on x from the second trip."""
    start = t.constant(np.ones((2, 3)))
    _, a, b = t.while_loop(
        lambda i, a, b: i < 2, lambda i, a, b: [i + 1, a * 2.0, b * a], [t.constant(0), x, start]
    )
    return t.reduce_sum(b)


SEVERAL = ("unused_split_output_and_x", "unused_split_output_and_an_unrelated_x")


def _unused_split_output_and_x(t, x):
    y, second = _unused_split_output(t, x)
    return y, [second, x]


def _unused_split_output_unrelated(t, x):
    first, second = t.split(t.constant(np.arange(4.0)), 2, axis=0)
    return t.reduce_sum(t.square(first)) + t.reduce_sum(x), [second, x]


def _unused_split_output(t, x):
    first, second = t.split(x * 2.0, 2, axis=0)
    return t.reduce_sum(t.square(first)), second


def _unused_loop_output(t, x):
    _, a, b = t.while_loop(
        lambda i, a, b: i < 2, lambda i, a, b: [i + 1, a * 2.0, b + 1.0], [t.constant(0), x, x * x]
    )
    return t.reduce_sum(a), b


def run_case(t, loss):
    """(None or the gradient as a list, the loss) of the case in module t."""
    with t.Graph().as_default():
        x = t.placeholder(t.float64, [2, 3])
        y = loss(t, x)
        y, wrt = y if isinstance(y, tuple) else (y, x)
        several = isinstance(wrt, list)
        grads = t.gradients(y, wrt if several else [wrt])
        with t.Session() as sess:
            value = float(sess.run(y, {x: X}))
            got = [None if g is None else np.asarray(sess.run(g, {x: X})).tolist() for g in grads]
        return (got if several else got[0]), value


PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "e2e",
    "gradient_none_tf_values.json",
)

if __name__ == "__main__":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    values = {name: run_case(tf, case) for name, case in CASES.items()}
    with open(PATH, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "tensorflow": tf.__version__ if hasattr(tf, "__version__") else "2.21",
                "values": values,
            },
            fh,
            indent=1,
        )
        fh.write("\n")
    print(json.dumps(values))
