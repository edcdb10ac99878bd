"""TensorFlow's numbers for tests/e2e/test_tf1_api_items.py (issue 17's "the rest of what those
programs used"): each section builds the test's program with TF 2.21's ``compat.v1`` and prints what
the test asserts, as JSON, one line per section.

Run it in an environment of its own (TensorFlow is not a dependency of tgc):

    python -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0
    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/tf1_api_oracle.py [SECTION ...]

(tf-keras: TF 2.21's ``compat.v1.layers`` needs Keras 2.) The inputs are written out here and in
the test alike, so both run the same program.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

# ---- inputs shared with the test -----------------------------------------------------------------

REDUCE_FEED = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 7.5) / 6.0
REDUCE_FEED_RANK1 = np.array([0.5, -1.25, 2.0, 3.0])
DENSE_X = np.array([[1.0, 2.0, -1.0, 0.5], [0.0, -3.0, 2.5, 1.0]])
BN_H = np.array(
    [[1.0, -2.0, 0.5], [3.0, 0.0, -1.5], [-0.5, 4.0, 2.0], [2.0, 1.0, 0.0], [0.5, -1.0, 1.0]]
)
BN_WEIGHTS = np.array([[0.5, -1.0, 2.0]])


def _floats(value):
    return np.asarray(value, np.float64).tolist()


def _session_run(fetches, feed):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


# ---- 1. reductions over every axis of a tensor of unknown rank ----------------------------------


def reduce_unknown_rank():
    tf.reset_default_graph()
    x = tf.placeholder("float")
    reductions = [
        tf.reduce_sum(x),
        tf.reduce_mean(x),
        tf.reduce_max(x),
        tf.reduce_min(x),
        tf.reduce_prod(x),
        tf.reduce_logsumexp(x),
    ]
    loss = tf.reduce_mean(x * x) + tf.reduce_max(x)
    (grad,) = tf.gradients(loss, [x])
    out = {"static_shapes": [str(r.shape) for r in reductions]}
    with tf.Session() as sess:
        for key, feed in (("rank3", REDUCE_FEED), ("rank1", REDUCE_FEED_RANK1), ("scalar", 2.5)):
            values, g = sess.run([reductions, grad], {x: feed})
            out[key] = {"reductions": _floats(values), "grad": _floats(g)}
    return out


# ---- 2. shapes holding Dimensions ----------------------------------------------------------------


def dimension_shapes():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4])
    w = tf.get_variable(
        "w",
        [x.shape[1], 3],
        initializer=tf.constant_initializer(np.arange(12.0).reshape(4, 3) / 10.0),
    )
    b = tf.get_variable("b", x.get_shape()[1:2] + [2], initializer=tf.zeros_initializer())
    n = x.get_shape()[1].value
    z = tf.zeros([x.get_shape()[1], tf.Dimension(2)])
    ones = tf.ones(tf.TensorShape([x.shape[1], None])[:1])
    y = tf.matmul(x, w) + tf.reduce_sum(z) + tf.reduce_sum(ones)
    r = tf.reshape(x, [-1, x.shape[1] * 2])
    parts = tf.split(x, x.shape[1], axis=1)
    d = x.shape[1]
    arithmetic = [str(v) for v in (d * 2, d + 1, 3 * d, d // 3, d % 3, d - 1, x.shape[0] * 2)]
    comparisons = [d > 3, d < 3, x.shape[0] > 1]
    y_value, r_value = _session_run([y, r], {x: DENSE_X})
    return {
        "w_shape": w.shape.as_list(),
        "b_shape": str(b.shape),
        "n": n,
        "z_shape": z.shape.as_list(),
        "y": _floats(y_value),
        "r": _floats(r_value),
        "r_shape": str(r.shape),
        "parts": [str(p.shape) for p in parts],
        "arithmetic": arithmetic,
        "comparisons": comparisons,
    }


# ---- 3. batch normalization with a bool placeholder for `training` -------------------------------


def batch_norm_training_flag():
    tf.reset_default_graph()
    h = tf.placeholder(tf.float32, [None, 3])
    training = tf.placeholder(tf.bool, None)
    y = tf.layers.batch_normalization(h, training=training, momentum=0.9)
    loss = tf.reduce_sum(y * BN_WEIGHTS.astype(np.float32) * y)
    gamma, beta, mean, var = tf.global_variables()
    grads = tf.gradients(loss, [h, gamma, beta])
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    out = {
        "variables": [v.op.name for v in (gamma, beta, mean, var)],
        "update_ops": len(updates),
    }
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        steps = []
        for flag in (True, True, False):
            values = sess.run([y] + grads, {h: BN_H, training: flag})
            sess.run(updates, {h: BN_H, training: flag})
            steps.append(
                {
                    "training": flag,
                    "y": _floats(values[0]),
                    "grads": [_floats(g) for g in values[1:]],
                    "moving": _floats(sess.run([mean, var])),
                }
            )
        out["steps"] = steps
    return out


BN_IMAGES = np.arange(24, dtype=np.float64).reshape(2, 2, 2, 3) / 7.0 - np.array([0.5, 1.0, 2.0])


def batch_norm_fused_training_flag():
    """4-D inputs take TF's fused batch norm (moving variance fed the unbiased batch variance)."""
    tf.reset_default_graph()
    h = tf.placeholder(tf.float32, [None, 2, 2, 3])
    training = tf.placeholder(tf.bool, None)
    y = tf.layers.batch_normalization(h, training=training)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    moving = tf.global_variables()[2:]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        trained = sess.run([y, updates], {h: BN_IMAGES, training: True})[0]
        after = sess.run(moving)
        inferred = sess.run(y, {h: BN_IMAGES, training: False})
    return {"trained": _floats(trained), "moving": _floats(after), "inferred": _floats(inferred)}


# ---- 6. tf.compat, tf.compat.v1, tf.logging, tf.app ----------------------------------------------

REGRESSION_X = np.array([[1.0], [2.0], [3.0], [4.0]])
REGRESSION_Y = np.array([[2.5], [4.0], [7.5], [9.0]])


def compat_v1_program():
    """Linear regression written with tf.compat.v1 names only, three gradient-descent steps."""
    v1 = tf.compat.v1
    v1.reset_default_graph()
    x = v1.placeholder(v1.float32, [None, 1])
    y = v1.placeholder(v1.float32, [None, 1])
    w = v1.get_variable("w", [1, 1], initializer=v1.constant_initializer(0.5))
    b = v1.Variable(v1.zeros([1]))
    loss = v1.reduce_mean(v1.square(v1.matmul(x, w) + b - y))
    train = v1.train.GradientDescentOptimizer(0.05).minimize(loss)
    losses = []
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(3):
            losses.append(float(sess.run([loss, train], {x: REGRESSION_X, y: REGRESSION_Y})[0]))
        w_value, b_value = sess.run([w, b])
    return {"losses": losses, "w": _floats(w_value), "b": _floats(b_value)}


def compat_strings():
    c = tf.compat
    return {
        "as_str": c.as_str(b"ab\xc3\xa9"),
        "as_bytes": list(c.as_bytes("ab\u00e9")),
        "as_text": c.as_text(b"x"),
        "as_str_any": c.as_str_any(3),
        "bytearray": list(c.as_bytes(bytearray(b"q"))),
        "dimension_value": c.dimension_value(tf.Dimension(3)),
    }


def logging_levels():
    levels = [tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.ERROR]
    default = tf.logging.get_verbosity()
    tf.logging.set_verbosity(tf.logging.INFO)
    return {
        "levels": levels + [tf.logging.FATAL],
        "default": default,
        "after": tf.logging.get_verbosity(),
    }


APP_ARGV = [
    "prog",
    "--batch_size=7",
    "--learning_rate",
    "0.5",
    "--nouse_fp16",
    "--fake",
    "pos1",
    "--data_dir=/d",
    "--hidden=8,16",
]


def app_flags():
    flags = tf.app.flags
    flags.DEFINE_string("data_dir", "/tmp/data", "where the data is")
    flags.DEFINE_integer("batch_size", 32, "examples per step")
    flags.DEFINE_float("learning_rate", 0.01, "step size")
    flags.DEFINE_boolean("use_fp16", True, "half precision")
    flags.DEFINE_boolean("fake", False, "fake data")
    flags.DEFINE_list("hidden", "4", "layer sizes")
    seen = {}

    def main(argv):
        f = flags.FLAGS
        seen.update(
            argv=list(argv),
            data_dir=f.data_dir,
            batch_size=f.batch_size,
            learning_rate=f.learning_rate,
            use_fp16=f.use_fp16,
            fake=f.fake,
            hidden=f.hidden,
        )
        return 3

    try:
        tf.app.run(main, argv=APP_ARGV)
    except SystemExit as exc:
        seen["exit_code"] = exc.code
    return seen


# ---- 4. dtypes int8, int16, uint8 ----------------------------------------------------------------

SMALL_INTS = {
    "int8": np.array([[-128, -3, 0], [5, 100, 127]]),
    "int16": np.array([[-30000, -3, 0], [5, 300, 32767]]),
    "uint8": np.array([[0, 3, 128], [200, 254, 255]]),
}
SMALL_FLOATS = np.array([[0.0, 3.9, 127.0], [100.5, 12.2, 65.0]])


def small_int_dtypes():
    tf.reset_default_graph()
    out = {"as_dtype": [tf.as_dtype(n).name for n in ("int8", "int16", "uint8")]}
    out["numpy"] = [tf.as_dtype(t).name for t in (np.int8, np.int16, np.uint8)]
    floats = tf.placeholder(tf.float32, [None, 3])
    for name, values in SMALL_INTS.items():
        x = tf.placeholder(tf.as_dtype(name), [None, 3])
        targets = ["float32", "float64", "int32", "int64", "bool", "int8", "int16", "uint8"]
        casts = [tf.cast(x, t) for t in targets if t != name]
        into = tf.cast(floats, name)
        values_out = _session_run(
            [x] + casts + [into], {x: values.astype(name), floats: SMALL_FLOATS}
        )
        out[name] = {
            "fetched_dtype": values_out[0].dtype.name,
            "casts": [v.tolist() for v in values_out[1:-1]],
            "cast_dtypes": [c.dtype.name for c in casts],
            "from_float": values_out[-1].tolist(),
        }
    constants = [
        tf.constant([1, 200, 255], tf.uint8),
        tf.cast(tf.constant([3.0, 250.0, 128.5]), tf.uint8),
        tf.cast(tf.reshape(tf.constant([[7, 128, 300]]), [-1]), tf.uint8),
        tf.cast(tf.constant([1, 200, 255], tf.uint8), tf.float32) / 255.0,
    ]
    out["constants"] = [v.tolist() for v in _session_run(constants, None)]
    x = tf.placeholder(tf.uint8, [4])
    out["bitcast"] = _session_run(
        tf.bitcast(x, tf.int8), {x: np.array([0, 127, 128, 255], np.uint8)}
    ).tolist()
    return out


# ---- 5. arg_min/arg_max, diag, matrix_determinant, matrix_inverse --------------------------------

ARG_FEED = np.array([[3.0, -1.0, 4.0, 1.5], [-5.0, 9.0, 2.0, 6.0], [5.0, 3.0, -5.0, 8.0]])
MATRIX = np.array([[4.0, -2.0, 1.0], [3.0, 6.0, -4.0], [2.0, 1.0, 8.0]])
MATRIX_WEIGHTS = np.array([[1.0, -0.5, 2.0], [0.25, 1.5, -1.0], [-2.0, 0.5, 1.0]])
NEEDS_PIVOT = np.array([[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 5.0]])
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
BATCH = np.array(
    [
        [[[2.0, 1.0], [0.5, 3.0]], [[0.0, 1.0], [2.0, 4.0]]],
        [[[1.0, -1.0], [1.0, 1.0]], [[5.0, 2.0], [1.0, 1.5]]],
    ]
)
DIAG_VECTOR = np.array([1.5, -2.0, 3.0])
DIAG_MATRIX = np.array([[1.0, 2.0], [3.0, 4.0]])


def arg_min_max():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4])
    outs = [
        tf.arg_max(x, 1),
        tf.arg_min(x, 0),
        tf.arg_max(x, dimension=0),
        tf.arg_min(x, dimension=1, output_type=tf.int32),
    ]
    values = _session_run(outs, {x: ARG_FEED})
    return {"values": [v.tolist() for v in values], "dtypes": [o.dtype.name for o in outs]}


def matrices():
    tf.reset_default_graph()
    a = tf.placeholder(tf.float64, [None, None])
    v = tf.placeholder(tf.float32, [3])
    m = tf.placeholder(tf.float32, [2, 2])
    det = tf.matrix_determinant(a)
    inv = tf.matrix_inverse(a)
    inv_adjoint = tf.matrix_inverse(a, adjoint=True)
    loss = 0.5 * det + tf.reduce_sum(inv * MATRIX_WEIGHTS)
    (grad,) = tf.gradients(loss, [a])
    batch = tf.placeholder(tf.float32, [None, 2, 2, 2])
    batch_det = tf.matrix_determinant(batch)
    batch_inv = tf.matrix_inverse(batch)
    batch_loss = tf.reduce_sum(batch_det * [1.0, -2.0]) + tf.reduce_sum(batch_inv * batch_inv)
    (batch_grad,) = tf.gradients(batch_loss, [batch])
    batch_adjoint = tf.matrix_inverse(batch, adjoint=True)
    d_vector, d_matrix = tf.diag(v), tf.diag(m)
    part = tf.diag_part(d_matrix)
    diag_loss = tf.reduce_sum(d_vector * d_vector) + tf.reduce_sum(tf.diag_part(d_matrix * 3.0))
    diag_grads = tf.gradients(diag_loss, [v, m])
    out = {"diag_shapes": [str(d_vector.shape), str(d_matrix.shape), str(part.shape)]}
    with tf.Session() as sess:
        for key, feed in (("matrix", MATRIX), ("needs_pivot", NEEDS_PIVOT)):
            values = sess.run([det, inv, inv_adjoint, grad], {a: feed})
            out[key] = [_floats(x) for x in values]
        out["singular_det"] = float(sess.run(det, {a: SINGULAR}))
        values = sess.run([batch_det, batch_inv, batch_grad, batch_adjoint], {batch: BATCH})
        out["batch"] = [_floats(x) for x in values]
        out["batch_shapes"] = [str(t.shape) for t in (batch_det, batch_inv)]
        values = sess.run([d_vector, d_matrix, part] + diag_grads, {v: DIAG_VECTOR, m: DIAG_MATRIX})
        out["diag"] = [_floats(x) for x in values]
    return out


UNIQUE_FEED = np.array([4, 1, 4, 7, 1, 1, 9])
UNIQUE_FLOATS = np.array([2.5, -1.0, 2.5, 0.0, -1.0])


def unique_values():
    tf.reset_default_graph()
    x = tf.placeholder(tf.int32, [None])
    f = tf.placeholder(tf.float32, [None])
    y, idx = tf.unique(x)
    total = tf.reduce_sum(y) + tf.size(y)
    floats = tf.unique(f, out_idx=tf.int64)
    values = _session_run([y, idx, total, floats.y, floats.idx], {x: UNIQUE_FEED, f: UNIQUE_FLOATS})
    return {
        "values": [np.asarray(v).tolist() for v in values],
        "dtypes": [v.dtype.name for v in (y, idx, floats.y, floats.idx)],
        "shapes": [str(t.shape) for t in (y, idx)],
    }


SECTIONS = {
    "reduce_unknown_rank": reduce_unknown_rank,
    "dimension_shapes": dimension_shapes,
    "batch_norm_training_flag": batch_norm_training_flag,
    "small_int_dtypes": small_int_dtypes,
    "arg_min_max": arg_min_max,
    "unique_values": unique_values,
    "matrices": matrices,
    "batch_norm_fused_training_flag": batch_norm_fused_training_flag,
    "compat_v1_program": compat_v1_program,
    "compat_strings": compat_strings,
    "logging_levels": logging_levels,
    "app_flags": app_flags,
}


def main(args):
    """One JSON line per section; with --python, one Python assignment of them all to paste into
    the test (``TF_VALUES = {...}``; ruff format lays it out)."""
    as_python = "--python" in args
    names = [a for a in args if a != "--python"] or list(SECTIONS)
    values = {name: SECTIONS[name]() for name in names}
    print(f"# TensorFlow {tf.__version__} (compat.v1, v2 behaviour disabled)")
    if as_python:
        print(f"TF_VALUES = {values!r}")
        return
    for name, value in values.items():
        print(json.dumps({name: value}))


if __name__ == "__main__":
    main(sys.argv[1:])
