"""The programs of tests/e2e/test_sparse_optimizers.py, written once for tgc and for TensorFlow
(tests/oracle/sparse_optimizers.py records TF's answers): a Variable ``table`` read by gathers,
trained by each TF1 optimizer for the ids of STEPS.

Row 0 is gathered in the first step only, row 2 twice in one step, row 3 in the last: a row
left out of a step is where TF's sparse updates (an IndexedSlices gradient) differ from dense ones.
"""

import numpy as np

STEPS = ([0, 1], [2, 2], [1, 3])


def optimizers(tf) -> dict:
    return {
        "sgd": lambda: tf.train.GradientDescentOptimizer(0.1),
        "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9),
        "nesterov": lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        "adagrad": lambda: tf.train.AdagradOptimizer(0.1),
        "adadelta": lambda: tf.train.AdadeltaOptimizer(1.0, rho=0.5, epsilon=1e-3),
        "rmsprop": lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5),
        "rmsprop_centered": lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5, centered=True),
        "adam": lambda: tf.train.AdamOptimizer(0.1),
    }


def losses(tf) -> dict:
    """name -> (loss of (table, ids), the table's shape)."""

    def gathered(table, ids):
        rows = tf.gather(table, ids)
        return tf.reduce_sum(tf.square(rows) * 0.5 + rows)

    def two_gathers(table, ids):  # TF concatenates the two IndexedSlices: still sparse
        return gathered(table, ids) + tf.reduce_sum(tf.gather(table, ids[:1]) * 3.0)

    def lookup_of_rank_3(table, ids):
        return tf.reduce_sum(tf.sin(tf.nn.embedding_lookup(table, ids)))

    def gathered_and_dense(table, ids):  # a dense read too: TF's gradient is dense
        return gathered(table, ids) + tf.reduce_sum(table * 0.25)

    def gathered_and_its_shape(table, ids):  # tf.shape(table) passes no gradient: still sparse
        return gathered(table, ids) + tf.reduce_sum(tf.reshape(tf.ones([8]), tf.shape(table)))

    def gather_on_axis_1(table, ids):  # TF's gradient of a gather on another axis is dense
        return tf.reduce_sum(tf.square(tf.gather(table, ids, axis=1)))

    return {
        "clipped": (gathered, (4, 2)),
        "gathered": (gathered, (4, 2)),
        "two_gathers": (two_gathers, (4, 2)),
        "lookup_of_rank_3": (lookup_of_rank_3, (4, 2, 2)),
        "gathered_and_dense": (gathered_and_dense, (4, 2)),
        "gathered_and_its_shape": (gathered_and_its_shape, (4, 2)),
        "gather_on_axis_1": (gather_on_axis_1, (2, 4)),
    }


def initial(shape) -> np.ndarray:
    return (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 4 - 0.5).astype(np.float32)


def train(tf, case: str, optimizer: str) -> dict:
    """The table and its slots (by slot name) after the steps, as lists. The "clipped" case
    clips the gradient by its global norm between compute_gradients and apply_gradients (TF keeps
    it an IndexedSlices, whose norm is that of its rows before duplicates are summed: its steps
    gather no row twice)."""
    build, shape = losses(tf)[case]
    with tf.Graph().as_default():
        table = tf.Variable(initial(shape), name="table")
        ids = tf.placeholder(tf.int32, [None])
        opt = optimizers(tf)[optimizer]()
        loss = build(table, ids)
        if case == "clipped":
            ((grad, var),) = opt.compute_gradients(loss)
            (clipped,), _ = tf.clip_by_global_norm([grad], 1.0)
            step = opt.apply_gradients([(clipped, var)])
        else:
            step = opt.minimize(loss)
        slots = {name: opt.get_slot(table, name) for name in sorted(opt.get_slot_names())}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for feed in STEPS if case != "clipped" else ([0, 1], [2], [1, 3]):
                sess.run(step, {ids: feed})
            values = sess.run({"table": table, **slots})
    return {name: np.asarray(v).tolist() for name, v in values.items()}
