"""TensorFlow 2.21's answers for tests/e2e/test_kernel_messages.py: values and the kernels' error
texts where a shape is known only at run time (a tf.cond of constants of different sizes, or a
placeholder with None dims), printed as a dict:

    /tmp/tfenv/bin/python tests/oracle/kernel_messages.py

(compat.v1 with v2 behaviour disabled, on the CPU.)
"""

import pprint

import numpy as np
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()


def answer(run):
    """("ok", value) or (error class, the kernel's message: the line after "Node: '...'" in TF's
    text, else its first line)."""
    try:
        return ("ok", np.asarray(run()).tolist())
    except Exception as exc:  # noqa: BLE001 - the error is the answer
        lines = str(getattr(exc, "message", exc)).splitlines()
        after_node = [lines[i + 1] for i, s in enumerate(lines[:-1]) if s.startswith("Node: ")]
        return (type(exc).__name__, (after_node or lines)[0].strip())


def cond_of(pred, a, b):
    return tf.cond(pred, lambda: tf.constant(a), lambda: tf.constant(b))


def where_rows():
    """TF1's tf.where (Select) with a vector condition beside matrices: rows."""
    out = {}
    with tf.Graph().as_default(), tf.Session() as sess:
        ones, zeros = tf.ones([2, 2]), tf.zeros([2, 2])
        out["square"] = answer(lambda: sess.run(tf.where([True, False], ones, zeros)))
        x = tf.constant(np.arange(12.0).reshape(2, 3, 2), tf.float64)
        out["rank3"] = answer(lambda: sess.run(tf.where([False, True], x, -x)))
        try:
            tf.where([True, False, True], tf.ones([2, 4]), tf.zeros([2, 4]))
        except ValueError as exc:
            out["static"] = ("ValueError", str(exc).split(" for ")[0])
        pred = tf.placeholder(tf.bool, [])
        cond = cond_of(pred, [True, False], [True])
        x = tf.placeholder(tf.float64, [2, 3])
        picked = tf.where(cond, x, 2 * x)
        weights = tf.constant([[1.0, 2, 3], [4, 5, 6]], tf.float64)
        (grad,) = tf.gradients(tf.reduce_sum(picked * weights), [x])
        value = np.arange(6.0).reshape(2, 3)
        out["run_time"] = answer(lambda: sess.run(picked, {pred: True, x: value}))
        out["run_time_grad"] = answer(lambda: sess.run(grad, {pred: True, x: value}))
        out["run_time_short"] = answer(lambda: sess.run(picked, {pred: False, x: value}))
    return out


def assign_shapes():
    """tf.assign / assign_add / assign_sub of a value of another size (ref variables, as compat.v1
    with v2 behaviour disabled makes them): at run time and at build time."""
    out = {}
    with tf.Graph().as_default(), tf.Session() as sess:
        v = tf.Variable([1.0, 2.0, 3.0])
        pred = tf.placeholder(tf.bool, [])
        value = cond_of(pred, [5.0, 6.0, 7.0], [5.0, 6.0])
        updates = {"assign": tf.assign, "assign_add": tf.assign_add, "assign_sub": tf.assign_sub}
        for key, update in updates.items():
            fetch = update(v, value)
            sess.run(v.initializer)
            out[key] = answer(lambda: sess.run(fetch, {pred: True}))
            out[key + "_short"] = answer(lambda: sess.run(fetch, {pred: False}))
        for key, update in updates.items():
            try:
                update(v, tf.constant([1.0, 2.0]))
            except ValueError as exc:
                out[key + "_static"] = ("ValueError", str(exc).split(" for ")[0])
        try:
            tf.assign(v, tf.constant([[1.0, 2.0, 3.0]]))
        except ValueError as exc:
            out["assign_rank"] = ("ValueError", str(exc).split(" for ")[0])
    return out


def segment_ids():
    """Sorted and unsorted segment ops' id checks, and their checks of data against ids known at
    run time."""
    out = {}
    with tf.Graph().as_default(), tf.Session() as sess:
        data = tf.constant(np.arange(8.0).reshape(4, 2))
        for ids in ([0, 1, 3, 1], [0, -1, 5, 9]):
            for kind in ("sum", "max", "prod", "mean"):
                op = getattr(tf.math, f"unsorted_segment_{kind}")
                out[f"unsorted_{kind}_{ids}"] = answer(lambda: sess.run(op(data, ids, 3)))
        cube = tf.constant(np.arange(12.0).reshape(2, 3, 2))
        ids2 = [[0, 1, 1], [0, 7, 0]]
        out["unsorted_2d"] = answer(lambda: sess.run(tf.unsorted_segment_sum(cube, ids2, 2)))
        for ids in ([0, -1, 0, 0], [0, 0, -2, -1], [-3, -2, -1, 0], [2, 1, 0, 0], [0, 0, 1, 3]):
            for kind in ("sum", "max", "mean"):
                op = getattr(tf.math, f"segment_{kind}")
                out[f"sorted_{kind}_{ids}"] = answer(lambda: sess.run(op(data, ids)))
        pred = tf.placeholder(tf.bool, [])
        ids = cond_of(pred, [0, 1, 1, 0], [0, 1])
        unsorted, sorted_ = tf.unsorted_segment_sum(data, ids, 2), tf.segment_sum(data, ids)
        out["unsorted_run_time"] = answer(lambda: sess.run(unsorted, {pred: False}))
        out["sorted_run_time"] = answer(lambda: sess.run(sorted_, {pred: False}))
    return out


def cross_shapes():
    """tf.cross of a [1, 3] known at run time only beside a [2, 3], and of known other shapes."""
    out = {}
    with tf.Graph().as_default(), tf.Session() as sess:
        pred = tf.placeholder(tf.bool, [])
        a = cond_of(pred, [[1.0, 0, 0], [0, 1, 0]], [[1.0, 0, 0]])
        c = tf.cross(a, tf.constant([[0.0, 1, 0], [0, 0, 1]]))
        out["run_time"] = answer(lambda: sess.run(c, {pred: True}))
        out["run_time_short"] = answer(lambda: sess.run(c, {pred: False}))
        for key, shape in (("static", [1, 3]), ("static_rank", [3])):
            try:
                tf.cross(tf.ones(shape), tf.ones([2, 3]))
            except ValueError as exc:
                out[key] = ("ValueError", str(exc).split(" for ")[0])
    return out


RESHAPES = [
    ((2, 3), [2, 4, 1]),
    ((2, 3), [4, -1, 1]),
    ((2, 3), [-1, -1, 1]),
    ((2, 3), [1, -2, 6]),
    ((2, 3), [0, -1, 1]),
    ((2, 3), [-1, 3, -1]),
    ((2, 3), [3, -1, 1]),
    ((0, 3), [-1, 0, 1]),
    ((0, 3), [2, 0, -1]),
    ((0, 3), [-1, 2, 3]),
]


def reshape_run_time():
    """tf.reshape to a shape vector fed at run time: the result's shape or the kernel's error."""
    out = {}
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.placeholder(tf.float32, [None, 3])
        shape = tf.placeholder(tf.int32, [3])
        reshaped = tf.shape(tf.reshape(x, shape))
        for x_shape, value in RESHAPES:
            feeds = {x: np.ones(x_shape), shape: value}
            out[f"{x_shape} {value}"] = answer(lambda: sess.run(reshaped, feeds))
    return out


if __name__ == "__main__":
    pprint.pprint(
        {
            "where_rows": where_rows(),
            "assign_shapes": assign_shapes(),
            "segment_ids": segment_ids(),
            "cross_shapes": cross_shapes(),
            "reshape_run_time": reshape_run_time(),
        },
        width=100,
    )
