"""TensorFlow 2.21's answers for tests/e2e/test_argmax_empty_axis.py, printed as TF_VALUES:

    /tmp/tfenv/bin/python tests/oracle/argmax_empty_axis.py

(compat.v1 with v2 behaviour disabled, on the CPU.) ArgMax and ArgMin over an axis of size 0 fail
the run; over another axis of a tensor with no elements they give an empty result.
"""

import pprint

import numpy as np

CASES = {
    # name: (op, shape, axis)
    "argmax_last_of_3x0": ("argmax", (3, 0), -1),
    "argmin_1_of_3x0": ("argmin", (3, 0), 1),
    "argmax_0_of_0": ("argmax", (0,), 0),
    "argmax_0_of_3x0": ("argmax", (3, 0), 0),
}


def run_case(t, op, shape, axis):
    with t.Graph().as_default():
        x = t.placeholder(t.float32, [None] * len(shape))
        out = getattr(t, op)(x, axis)
        with t.Session() as sess:
            try:
                return ("ok", np.asarray(sess.run(out, {x: np.zeros(shape)})).tolist())
            except Exception as exc:  # noqa: BLE001 - the error is the answer
                lines = [line.strip() for line in str(exc).splitlines() if "is empty" in line]
                return (type(exc).__name__, lines[0] if lines else str(exc))


if __name__ == "__main__":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    print("TF_VALUES =", end=" ")
    pprint.pprint({name: run_case(tf, *case) for name, case in CASES.items()})
