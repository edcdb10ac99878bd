"""The programs of tests/e2e/test_misc_ops.py and (run as a script) TensorFlow 2.21's values for
them, printed as JSON (tests/e2e/misc_ops_tf_values.json):

    /tmp/tfenv/bin/python tests/oracle/misc_ops_oracle.py > tests/e2e/misc_ops_tf_values.json

(compat.v1 with v2 behaviour disabled.) Each program takes the API as ``t`` (TF's compat.v1, or
tgc) and finds the ops through ``ops(t)``: tf.* / tf.nn.* in TF, tgc/frontend/misc_ops.py in tgc
(the same functions tgc exports as tf.* / tf.nn.*). Inputs come from numpy's RandomState.
"""

import json
import types

import numpy as np


def data(seed, *shape):
    return np.random.RandomState(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


def r(values):
    return np.round(np.asarray(values, np.float64), 7).tolist()


_NAMES = ("logical_xor", "scalar_mul", "matrix_diag", "matrix_diag_part", "shape_n")
_NN_NAMES = ("sufficient_statistics", "normalize_moments", "weighted_moments", "zero_fraction")


def ops(t):
    if t.__name__.startswith("tgc"):
        from tgc.frontend import misc_ops

        return types.SimpleNamespace(**{n: getattr(misc_ops, n) for n in _NAMES + _NN_NAMES})
    found = {n: getattr(t, n) for n in _NAMES}
    found.update({n: getattr(t.nn, n) for n in _NN_NAMES})
    return types.SimpleNamespace(**found)


def _run(t, fetches, feed=None):
    with t.Session() as s:
        return s.run(fetches, feed)


def logical_xor_scalar_mul_shape_n(t):
    o = ops(t)
    with t.Graph().as_default():
        a = t.constant([[True, False], [True, True]])
        b = t.constant([False, True])
        x = t.constant(data(1, 2, 3))
        y = o.scalar_mul(t.constant(2.5), x)
        (gx,) = t.gradients(t.reduce_sum(y * t.constant(data(2, 2, 3))), [x])
        p = t.placeholder(t.float32, [None, 3])
        shapes = o.shape_n([p, x, t.zeros([4, 1, 5])])
        xor, yv, gv, sv = _run(
            t, [o.logical_xor(a, b), y, gx, shapes], {p: np.zeros((7, 3), np.float32)}
        )
        static = [s.shape.as_list() for s in shapes]
    return {
        "xor": np.asarray(xor).tolist(),
        "scalar_mul": r(yv),
        "scalar_mul_grad": r(gv),
        "shape_n": [np.asarray(s).tolist() for s in sv],
        "shape_n_static": static,
    }


def matrix_diags(t):
    o = ops(t)
    res = {}
    with t.Graph().as_default():
        d = t.constant(data(3, 2, 3))
        m = o.matrix_diag(d)
        (gd,) = t.gradients(t.reduce_sum(m * t.constant(data(4, 2, 3, 3))), [d])
        res["diag"], res["diag_grad"] = [r(v) for v in _run(t, [m, gd])]
        for key, shape in (("part_wide", (2, 3, 4)), ("part_tall", (4, 2)), ("part_sq", (3, 3))):
            x = t.constant(data(5, *shape))
            p = o.matrix_diag_part(x)
            w = t.constant(data(6, *p.shape.as_list()))
            (gx,) = t.gradients(t.reduce_sum(p * w), [x])
            res[key], res[key + "_grad"] = [r(v) for v in _run(t, [p, gx])]
    return res


def moments(t):
    o = ops(t)
    res = {}
    with t.Graph().as_default():
        x = t.constant(data(7, 3, 4, 2) * 3.0 + 1.0)
        for key, shift, keep in (("plain", None, False), ("shift", 0.5, True)):
            counts, m_ss, v_ss, sh = o.sufficient_statistics(x, [0, 1], shift=shift, keep_dims=keep)
            mean, var = o.normalize_moments(counts, m_ss, v_ss, sh)
            (gx,) = t.gradients(t.reduce_sum(var * t.constant(data(8, *var.shape.as_list()))), [x])
            res[key] = [r(v) for v in _run(t, [counts, m_ss, v_ss, mean, var, gx])]
        w = t.constant(np.abs(data(9, 3, 4, 1)) + 0.1)
        for key, axes, keep in (("weighted", [0, 1], False), ("weighted_keep", [1], True)):
            mean, var = o.weighted_moments(x, axes, w, keep_dims=keep)
            (gx, gw) = t.gradients(t.reduce_sum(mean) + t.reduce_sum(var * 0.5), [x, w])
            res[key] = [r(v) for v in _run(t, [mean, var, gx, gw])]
        z = t.constant(np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0]], np.float32))
        zi = t.constant(np.array([0, 3, 0, 0, 7], np.int32))
        res["zero_fraction"] = r(_run(t, [o.zero_fraction(z), o.zero_fraction(zi)]))
    return res


PROGRAMS = {
    "logical_xor_scalar_mul_shape_n": logical_xor_scalar_mul_shape_n,
    "matrix_diags": matrix_diags,
    "moments": moments,
}


if __name__ == "__main__":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    values = {name: fn(tf) for name, fn in PROGRAMS.items()}
    print(json.dumps({"tensorflow": tf.VERSION, "values": values}))
