"""TensorFlow 2.21's answers for tests/unit/test_nn_ops.py's labels that broadcast:

    /tmp/peers/bin/python tests/oracle/softmax_xent_broadcast.py

(compat.v1, graph mode, on the CPU.) TF's kernel broadcasts the labels to the logits: [3], [2, 1]
and [1, 3] labels beside [2, 3] logits give a loss per row; labels of more rows than the logits
fail ("logits and labels must be broadcastable"); ranks above 2 fail in TF's reshapes (tgc reads
them as numpy's broadcast of the labels). The last case is the test's fed [None, 3] labels of one
row beside two rows of logits.
"""

import numpy as np
import tensorflow.compat.v1 as tf

tf.disable_eager_execution()

CASES = [
    # (labels shape, logits shape, labels fed, logits fed)
    ((3,), (2, 3), None, None),
    ((2, 1), (2, 3), None, None),
    ((1, 3), (2, 3), None, None),
    ((2, 3), (1, 3), None, None),
    ((1, 2, 3), (2, 2, 3), None, None),
    (
        (None, 3),
        (None, 3),
        [[0.5488135, 0.71518937, 0.60276335]],
        [[0.5448832, 0.4236548, 0.6458941], [0.4375872, 0.891773, 0.96366274]],
    ),
]


def run_case(labels_shape, logits_shape, labels_fed, logits_fed):
    rng = np.random.default_rng(5)
    z_value = rng.random([1 if d is None else d for d in labels_shape])
    x_value = rng.normal(size=[2 if d is None else d for d in logits_shape])
    z_value = z_value if labels_fed is None else np.asarray(labels_fed)
    x_value = x_value if logits_fed is None else np.asarray(logits_fed)
    with tf.Graph().as_default():
        z = tf.placeholder(tf.float64, labels_shape)
        x = tf.placeholder(tf.float64, logits_shape)
        try:
            y = tf.nn.softmax_cross_entropy_with_logits_v2(labels=z, logits=x)
            with tf.Session() as sess:
                return "ok", sess.run(y, {z: z_value, x: x_value}).tolist()
        except Exception as exc:  # noqa: BLE001 - the error is the answer
            return type(exc).__name__, str(exc).splitlines()[0][:160]


if __name__ == "__main__":
    for case in CASES:
        print(case[:2], *run_case(*case))
