"""Prints TF_VALUES for tests/e2e/test_math_ops_more.py: run with TensorFlow 2.21 (compat.v1, v2
behaviour disabled),

    /tmp/tfenv/bin/python tests/oracle/math_ops_more.py

Each program takes the API module as ``t`` (TF's compat.v1 here, tgc in the test) and returns
plain lists, so the test runs the very same programs under tgc and compares."""

from __future__ import annotations

import json

import numpy as np

NAN, INF = float("nan"), float("inf")


def _run(t, fetches, feeds):
    with t.Session() as s:
        return s.run(fetches, feeds)


def _listed(values):
    if isinstance(values, (list, tuple)):
        return [_listed(v) for v in values]
    values = np.asarray(values)
    if values.dtype.kind == "f":  # JSON has no NaN or inf: spell them as strings
        return [_listed(v) for v in values] if values.ndim else _float(values)
    return values.tolist()


def _float(v):
    v = float(v)
    return repr(v) if not np.isfinite(v) else v


def non_finite(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 3])
        y = t.placeholder(t.float64, [4])
        fetches = [t.is_nan(x), t.is_inf(x), t.is_finite(x), t.math.is_nan(y), t.math.is_finite(y)]
        feeds = {x: [[NAN, INF, -INF], [0.0, -1.5, 3e38]], y: [NAN, 1.0, -INF, 2.0]}
        return _listed(_run(t, fetches, feeds))


TOP_K_ROWS = [[1.0, 3.0, 3.0, 2.0, 0.0, 3.0], [-1.0, -2.0, 5.0, 5.0, 4.0, -INF]]


def top_k(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 6])
        cube = t.placeholder(t.float64, [2, None, 3])
        ints = t.constant([[4, 1, 4, 9], [2, 2, 2, 2]])
        fetches = [
            list(t.math.top_k(x, 3)),
            list(t.math.top_k(x, k=6, sorted=True)),
            list(t.math.top_k(x)),  # k = 1
            list(t.math.top_k(x, t.constant(2))),
            list(t.math.top_k(cube, 2)),
            list(t.math.top_k(ints, 2)),
            list(t.math.top_k(t.constant([2.0, 7.0, 1.0]), 2)),
            list(t.math.top_k(x, 0)),
        ]
        cube_value = np.arange(12, dtype=np.float64).reshape(2, 2, 3)[:, :, ::-1] % 5
        out = _run(t, fetches, {x: TOP_K_ROWS, cube: cube_value})
        shapes = [[v.shape.as_list(), i.shape.as_list(), i.dtype.name] for v, i in fetches[:2]]
        return {"values": _listed(out), "shapes": shapes}


def top_k_gradient(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [2, 6])
        values, _ = t.math.top_k(x, 3)
        loss = t.reduce_sum(values * t.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        return _listed(_run(t, t.gradients(loss, x)[0], {x: TOP_K_ROWS}))


def in_top_k(t):
    g = t.Graph()
    with g.as_default():
        p = t.placeholder(t.float32, [None, 4])
        targets = t.placeholder(t.int32, [None])
        targets64 = t.placeholder(t.int64, [None])
        rows = [[1.0, 2.0, 2.0, 3.0], [0.5, 0.5, 0.5, 0.5], [NAN, 1.0, 2.0, 3.0], [0, 1, 2, 3]]
        fetches = [
            t.math.in_top_k(p, targets, 1),
            t.math.in_top_k(p, targets, 2),
            t.math.in_top_k(p, targets64, 4),
            t.math.in_top_k(p, targets, 0),
        ]
        feeds = {p: rows, targets: [1, 3, 3, 1], targets64: [2, 0, 3, 3]}
        out = _run(t, fetches, feeds)
        out_of_range = _run(t, t.math.in_top_k(p, targets, 3), {p: rows[3:] * 2, targets: [4, -1]})
        return _listed(out + [out_of_range])


def scans(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 5])
        ints = t.constant([[1, 2, 3], [4, 5, 6]])
        long = t.constant(np.arange(1, 14, dtype=np.float64) / 4.0)
        fetches = []
        for op in (t.cumsum, t.cumprod):
            for exclusive in (False, True):
                for reverse in (False, True):
                    fetches.append(op(x, axis=1, exclusive=exclusive, reverse=reverse))
            fetches += [op(x), op(x, axis=-1), op(ints, axis=0), op(ints, 1, True, True)]
            fetches += [op(long, exclusive=True), op(long, reverse=True)]
        value = [[1.0, -2.0, 3.0, 0.5, 2.0], [0.5, 0.0, -1.5, 2.0, 1.0]]
        return _listed(_run(t, fetches, {x: value}))


def scan_gradients(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [2, 5])
        w = t.constant(np.arange(10, dtype=np.float32).reshape(2, 5) / 3.0 - 1.0)
        fetches = []
        for op in (t.cumsum, t.cumprod):
            for exclusive in (False, True):
                for reverse in (False, True):
                    y = op(x, axis=1, exclusive=exclusive, reverse=reverse)
                    fetches.append(t.gradients(t.reduce_sum(y * w), x)[0])
            fetches.append(t.gradients(t.reduce_sum(op(x, axis=0) * w), x)[0])
        value = [[1.0, -2.0, 3.0, 0.5, 2.0], [0.5, 1.5, -1.5, 2.0, 1.0]]  # no zero: TF divides
        return _listed(_run(t, fetches, {x: value}))


MATRIX = [[1.0, -2.0, 3.0], [-0.5, 4.0, 0.25]]


def norms(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 3])
        fetches = [
            t.norm(x),
            t.norm(x, ord=1),
            t.norm(x, ord=np.inf),
            t.norm(x, ord=3),
            t.norm(x, axis=1),
            t.norm(x, ord=1, axis=0, keepdims=True),
            t.norm(x, ord=np.inf, axis=-1),
            t.norm(x, ord="fro", axis=[0, 1]),
            t.norm(x, ord=1, axis=(0, 1)),
            t.norm(x, ord=np.inf, axis=[0, 1], keepdims=True),
            t.norm(x, ord=2, keep_dims=True),
        ]
        fetches.append(t.gradients(t.norm(x, axis=1), x)[0])
        fetches.append(t.gradients(t.norm(x, ord=1, axis=[0, 1]), x)[0])
        return _listed(_run(t, fetches, {x: MATRIX}))


def cross_products(t):
    g = t.Graph()
    with g.as_default():
        a = t.placeholder(t.float32, [None, 3])
        b = t.constant([[0.5, 1.0, -1.0], [2.0, 0.0, 1.0]])
        c = t.cross(a, b)
        grads = t.gradients(t.reduce_sum(c * t.constant([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])), a)
        return _listed(_run(t, [c, grads[0]], {a: MATRIX}))


EINSUMS = [
    ("ij,jk->ik", [[2, 3], [3, 4]]),
    ("ij,jk", [[2, 3], [3, 4]]),
    ("bij,bjk->bik", [[2, 2, 3], [2, 3, 4]]),
    ("bij,jk->bik", [[2, 2, 3], [3, 4]]),
    ("ij->ji", [[2, 3]]),
    ("ij->", [[2, 3]]),
    ("ij->j", [[2, 3]]),
    ("i,j->ij", [[3], [4]]),
    ("i,i->", [[3], [3]]),
    ("bi,bi->b", [[2, 3], [2, 3]]),
    ("ijk->kji", [[2, 3, 4]]),
    ("ij,jk,kl->il", [[2, 3], [3, 4], [4, 2]]),
    ("abc,cd->abd", [[2, 3, 4], [4, 5]]),
    ("bhqd,bhkd->bhqk", [[2, 2, 3, 4], [2, 2, 5, 4]]),
    ("ij,kj->ik", [[2, 3], [4, 3]]),
    ("ik,kj->", [[2, 3], [3, 4]]),
]


def einsums(t):
    out = []
    for equation, shapes in EINSUMS:
        g = t.Graph()
        with g.as_default():
            values = [
                (np.arange(np.prod(s), dtype=np.float32).reshape(s) % 7 - 3.0) / 2.0 for s in shapes
            ]
            places = [t.placeholder(t.float32, [None] + s[1:]) for s in shapes]
            y = t.einsum(equation, *places)
            shape = np.einsum(equation, *values).shape  # the weights' shape: y's, known
            w = t.constant(np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape), t.float32)
            grads = t.gradients(t.reduce_sum(y * w), places)
            feeds = dict(zip(places, values))
            out.append([equation, _listed(_run(t, [y] + grads, feeds))])
    return out


NN_INPUT = [[-3.0, -0.5, 0.0, 0.25, 2.0, 40.0]]


def activations(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 6])
        ys = [t.nn.selu(x), t.nn.crelu(x), t.nn.softsign(x), t.nn.swish(x), t.nn.crelu(x, axis=0)]
        ys.append(t.nn.silu(x, beta=0.5))
        grads = [t.gradients(t.reduce_sum(y * y), x)[0] for y in ys]
        return _listed(_run(t, ys + grads, {x: NN_INPUT}))


def weighted_losses(t):
    g = t.Graph()
    with g.as_default():
        logits = t.placeholder(t.float32, [None, 4])
        labels = t.constant([[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 1.0, 0.0]])
        wce = t.nn.weighted_cross_entropy_with_logits(labels=labels, logits=logits, pos_weight=3.0)
        wce_targets = t.nn.weighted_cross_entropy_with_logits(
            targets=labels, logits=logits, pos_weight=t.constant([0.5, 1.0, 2.0, 4.0])
        )
        unit = t.nn.l2_normalize(logits, axis=1)
        target = t.nn.l2_normalize(labels + 0.25, axis=1)
        cosine = t.losses.cosine_distance(target, unit, axis=1)
        cosine_none = t.losses.cosine_distance(
            target, unit, axis=1, weights=t.constant([[2.0], [0.5]]), reduction="none"
        )
        cosine_dim = t.losses.cosine_distance(target, unit, dim=1, reduction="weighted_mean")
        fetches = [wce, wce_targets, cosine, cosine_none, cosine_dim]
        fetches += t.gradients(t.reduce_sum(wce) + cosine, logits)
        value = [[-2.0, 0.5, 1.5, 30.0], [0.25, -40.0, 3.0, -1.0]]
        return _listed(_run(t, fetches, {logits: value}))


SEGMENT_DATA = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, -8.0], [-1.0, 0.5]]


def segments(t):
    g = t.Graph()
    with g.as_default():
        data = t.placeholder(t.float32, [None, 2])
        ids = t.placeholder(t.int32, [None])
        loose = t.placeholder(t.int32, [None])
        ints = t.constant([1, 2, 4, -3, 9])
        w = t.constant([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0], [-1.0, 1.5]])
        fetches, grads = [], []
        for kind in ("sum", "mean", "max", "min", "prod"):
            sorted_op = getattr(t, f"segment_{kind}")
            fetches += [sorted_op(data, ids), sorted_op(ints, [0, 0, 1, 1, 3])]
            y = sorted_op(data, ids)
            grads.append(t.gradients(t.reduce_sum(y * w[:3]), data)[0])
            unsorted_op = getattr(t, f"unsorted_segment_{kind}")
            u = unsorted_op(data, loose, 4)
            fetches += [u, unsorted_op(data, loose, t.constant(4)), unsorted_op(ints, loose, 5)]
            if kind in ("sum", "mean", "prod"):
                grads.append(t.gradients(t.reduce_sum(u * w), data)[0])
        feeds = {data: SEGMENT_DATA, ids: [0, 0, 2, 2, 2], loose: [3, -1, 0, 3, 0]}
        values = _run(t, fetches + grads, feeds)
        shapes = [f.shape.as_list() for f in fetches]
        return {"values": _listed(values), "shapes": shapes}


def segments_of_matrix_ids(t):
    g = t.Graph()
    with g.as_default():
        data = t.constant(np.arange(12, dtype=np.float32).reshape(2, 3, 2))
        ids = t.constant([[0, 2, 1], [2, 2, 0]])
        return _listed(_run(t, [t.unsorted_segment_sum(data, ids, 3)], {}))


def histograms(t):
    g = t.Graph()
    with g.as_default():
        values = t.placeholder(t.float32, [None])
        fetches = [
            t.histogram_fixed_width(values, [0.0, 10.0], nbins=5),
            t.histogram_fixed_width(values, t.constant([-2.0, 2.0]), nbins=3, dtype=t.int64),
            t.histogram_fixed_width(t.constant([[1, 5], [9, 12]]), [0, 10], nbins=2),
        ]
        feeds = {values: [-1.0, 0.0, 1.5, 2.0, 5.0, 15.0, 10.0, 9.99, -2.0, 1.9]}
        return _listed(_run(t, fetches, feeds))


def unique_counts(t):
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.int32, [None])
        y, idx, count = t.unique_with_counts(x)
        y64, idx64, count64 = t.unique_with_counts(x, out_idx=t.int64)
        out = _run(t, [y, idx, count, idx64, count64], {x: [4, 1, 4, 2, 4, 7, 1]})
        return {"values": _listed(out), "dtypes": [idx64.dtype.name, count64.dtype.name]}


BITWISE_DTYPES = ["int8", "int16", "int32", "int64", "uint8"]


def bitwise(t):
    out = {}
    for name in BITWISE_DTYPES:
        g = t.Graph()
        with g.as_default():
            dtype = getattr(t, name)
            first = [0, 1, 5, 100, 127, 255, 128, 77] if name == "uint8" else [0, 1, 5, 100, 127]
            first = first if name == "uint8" else first + [-1, -128, 77]
            a = t.placeholder(dtype, [None])
            b = t.constant([3, 7, 1, 2, 0, 9, 1, 8], dtype=dtype)
            ops = t.bitwise
            fetches = [
                ops.bitwise_and(a, b),
                ops.bitwise_or(a, b),
                ops.bitwise_xor(a, b),
                ops.invert(a),
                ops.left_shift(a, b),
                ops.right_shift(a, b),
                ops.bitwise_and(t.reshape(a, [8, 1]), b),  # broadcasting
                ops.left_shift(a, 2),
                ops.bitwise_xor(a, 5),
            ]
            if name != "uint8":
                fetches.append(ops.right_shift(a, t.constant(-1, dtype)))
            out[name] = _listed(_run(t, fetches, {a: first}))
    return out


def errors(t):
    """TF's messages (their first line) for bad inputs, where TF raises when building."""
    out = {}
    x = t.placeholder(t.float32, [2, 3])
    cases = {
        "top_k_k_too_large": lambda: t.math.top_k(x, 5),
        "top_k_negative_k": lambda: t.math.top_k(x, -1),
        "in_top_k_batch": lambda: t.math.in_top_k(x, t.constant([1, 2, 0]), 1),
        "is_nan_int": lambda: t.is_nan(t.constant([1, 2])),
        "norm_bad_ord": lambda: t.norm(x, ord=-1),
        "norm_bad_axis": lambda: t.norm(x, axis=[0, 1, 2]),
        "norm_matrix_ord": lambda: t.norm(x, ord=0.5, axis=[0, 1]),
        "einsum_repeated_output": lambda: t.einsum("ij,jk->ikk", x, t.ones([3, 3])),
        "einsum_unknown_output": lambda: t.einsum("ab->c", x),
        "cosine_no_axis": lambda: t.losses.cosine_distance(x, x),
        "cross_not_3": lambda: t.cross(t.ones([2, 2]), t.ones([2, 2])),
        "bitwise_float": lambda: t.bitwise.bitwise_and(x, x),
        "invert_float": lambda: t.bitwise.invert(x),
    }
    for key, build in cases.items():
        try:
            build()
            out[key] = None
        except Exception as error:  # noqa: BLE001 (recording whatever TF raises)
            out[key] = [type(error).__name__, str(error).splitlines()[0]]
    return out


PROGRAMS = [non_finite, top_k, top_k_gradient, in_top_k, scans, scan_gradients]
MORE_PROGRAMS = [norms, cross_products, einsums, activations, weighted_losses]
SEGMENT_PROGRAMS = [segments, segments_of_matrix_ids, histograms, unique_counts, bitwise]

if __name__ == "__main__":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    values = {p.__name__: p(tf) for p in PROGRAMS + MORE_PROGRAMS + SEGMENT_PROGRAMS}
    values["errors"] = errors(tf)
    print(json.dumps(values))
