"""The programs of tests/e2e/test_array_ops_more.py and (run as a script) TensorFlow 2.21's values
for them, written as JSON (one program per line) to the file the test reads:

    /tmp/tfenv/bin/python tests/oracle/array_ops_more.py > tests/e2e/array_ops_more_tf_values.json

(``tensorflow.compat.v1`` with v2 behaviour disabled.) Each program takes the API ``t`` (TF's
compat.v1 module, or tgc), builds a fresh graph, runs it and returns a dict of plain lists.
Inputs come from numpy's RandomState, so both sides see the same values. Gradients are of
sum(op(x) * w) for a fixed w, so they are the op's adjoint applied to w.
"""

import numpy as np


def data(seed, *shape, low=-1.0, high=1.0):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(np.float32)


def _graph(t, build):
    g = t.Graph()
    with g.as_default():
        fetches, feeds = build()
        with t.Session() as sess:
            return sess.run(fetches, feeds or {})


def _with_gradient(t, out, key, y, x, seed):
    """out[key] = y and out[key + "_grad"] = d sum(y * w) / dx."""
    out[key] = y
    w = data(seed, *y.shape.as_list()) if y.shape.is_fully_defined() else None
    if w is not None:
        (grad,) = t.gradients(t.reduce_sum(y * w), [x])
        out[key + "_grad"] = t.convert_to_tensor(grad)  # TF's may be IndexedSlices


def pad(t):
    def build():
        x = t.placeholder(t.float32, [3, 4])
        xn = t.placeholder(t.float32, [None, 4])
        x3 = t.placeholder(t.float32, [2, 3, 2])
        p = t.placeholder(t.int32, [2, 2])
        out = {}
        for mode in ("CONSTANT", "REFLECT", "SYMMETRIC"):
            _with_gradient(t, out, mode + "_2d", t.pad(x, [[1, 2], [2, 3]], mode), x, 1)
            _with_gradient(t, out, mode + "_3d", t.pad(x3, [[1, 0], [0, 2], [1, 1]], mode), x3, 2)
            out[mode + "_unknown_rows"] = t.pad(xn, [[2, 1], [0, 3]], mode)
            out[mode + "_fed_paddings"] = t.pad(xn, p, mode)
        _with_gradient(t, out, "constant_7", t.pad(x, [[0, 1], [3, 0]], constant_values=7.5), x, 3)
        _with_gradient(t, out, "symmetric_full", t.pad(x, [[3, 3], [4, 4]], "SYMMETRIC"), x, 4)
        out["lower_case_mode"] = t.pad(x, [[1, 1], [1, 1]], "reflect")
        out["int32"] = t.pad(t.constant([[1, 2], [3, 4]]), [[1, 0], [0, 1]], constant_values=-3)
        out["uint8"] = t.pad(
            t.constant(np.array([[1, 250]], np.uint8)),
            [[1, 0], [0, 1]],
            "CONSTANT",
            constant_values=200,
        )
        out["bool"] = t.pad(t.constant([[True, False]]), [[0, 1], [1, 0]])
        out["int64_paddings"] = t.pad(x, np.array([[0, 1], [1, 0]], np.int64))
        out["scalar"] = t.pad(t.constant(5.0), np.zeros([0, 2], np.int32))
        feed = {x: data(5, 3, 4), xn: data(6, 5, 4), x3: data(7, 2, 3, 2), p: [[2, 1], [3, 2]]}
        return out, feed

    return _graph(t, build)


def reverse(t):
    def build():
        x = t.placeholder(t.float32, [2, 3, 4])
        xn = t.placeholder(t.float32, [None, None, 4])
        out = {}
        for axes in ([0], [1], [-1], [0, 2], [2, 0, 1], []):
            key = "axes_" + "_".join(map(str, axes))
            _with_gradient(t, out, key, t.reverse(x, axes), x, 10)
            out[key + "_unknown"] = t.reverse_v2(xn, axes)
        out["int32"] = t.reverse(t.constant([[1, 2, 3]]), [1])
        out["uint8"] = t.reverse(t.constant(np.array([[1, 250, 3]], np.uint8)), [-1])
        return out, {x: data(11, 2, 3, 4), xn: data(12, 3, 2, 4)}

    return _graph(t, build)


_STEPS = [
    (None, None, -1),
    (None, None, -2),
    (3, None, -1),
    (None, 1, -1),
    (-2, 0, -2),
    (10, -10, -3),
    (-1, -6, -1),
    (1, 4, -1),
    (0, None, -1),
]


def negative_steps(t):
    def build():
        x = t.placeholder(t.float32, [5, 6])
        xn = t.placeholder(t.float32, [None, None])
        out = {}
        for i, (b, e, s) in enumerate(_STEPS):
            _with_gradient(t, out, f"rows_{i}", x[b:e:s], x, 20 + i)
            _with_gradient(t, out, f"cols_{i}", x[1:, b:e:s], x, 40 + i)
            out[f"unknown_{i}"] = xn[b:e:s, ::-1]
        out["mixed"] = x[::-2, 3]
        out["ellipsis"] = x[..., ::-1]
        out["strided_slice"] = t.strided_slice(x, [4, 0], [0, 6], [-1, 3])
        out["strided_slice_masks"] = t.strided_slice(
            x, [0, -1], [0, 0], [-2, -1], begin_mask=1, end_mask=3
        )
        return out, {x: data(13, 5, 6), xn: data(14, 5, 6)}

    return _graph(t, build)


def gather_scatter_nd(t):
    def build():
        x = t.placeholder(t.float32, [2, 3, 4])
        xn = t.placeholder(t.float32, [None, 3, None])
        u = t.placeholder(t.float32, [3, 2])
        i64 = np.array([[1, 2], [0, 0], [1, 2]], np.int64)
        out = {}
        _with_gradient(t, out, "rows", t.gather_nd(x, [[1], [0], [1]]), x, 70)
        _with_gradient(t, out, "pairs", t.gather_nd(x, i64), x, 71)
        _with_gradient(t, out, "points", t.gather_nd(x, [[[1, 2, 3]], [[0, 1, 1]]]), x, 72)
        out["whole"] = t.gather_nd(x, np.zeros((2, 0), np.int32))  # TF 2.21 fails its gradient
        out["unknown_dims"] = t.gather_nd(xn, [[1, 2], [0, 1]])
        out["int32"] = t.gather_nd(t.constant([[1, 2], [3, 4]]), [[1, 0], [0, 1]])
        out["uint8"] = t.gather_nd(t.constant(np.array([[1, 250]], np.uint8)), [[0, 1]])
        _with_gradient(t, out, "scatter", t.scatter_nd([[1], [3], [1]], u, [5, 2]), u, 74)
        _with_gradient(t, out, "scatter_pairs", t.scatter_nd(i64, u, [2, 3, 2]), u, 75)
        out["scatter_int32"] = t.scatter_nd([[0, 1], [1, 0], [0, 1]], [1, 2, 3], t.constant([2, 2]))
        return out, {x: data(76, 2, 3, 4), xn: data(77, 2, 3, 5), u: data(78, 3, 2)}

    return _graph(t, build)


def masks(t):
    def build():
        x = t.placeholder(t.float32, [3, 4, 2])
        xn = t.placeholder(t.float32, [None, 4])
        lengths = t.placeholder(t.int32, [None])
        m = np.random.RandomState(80).uniform(size=(3, 4)) > 0.5
        m_fed = t.placeholder(t.bool, [None])
        out = {}
        _with_gradient(t, out, "mask_2d", t.boolean_mask(x, m) * 1.0, x, 81)
        out["mask_2d_grad"] = t.convert_to_tensor(
            t.gradients(t.reduce_sum(t.boolean_mask(x, m) ** 2), [x])[0]
        )
        out["mask_axis1"] = t.boolean_mask(x, m[0], axis=1)
        out["mask_axis1_grad"] = t.convert_to_tensor(
            t.gradients(t.reduce_sum(t.boolean_mask(x, m[0], axis=1) ** 2), [x])[0]
        )
        out["mask_fed"] = t.boolean_mask(xn, m_fed)
        out["mask_none"] = t.boolean_mask(xn, t.greater(t.cast(m_fed, t.int32), 5))
        out["mask_int32"] = t.boolean_mask(
            t.constant([[1, 2], [3, 4]]), [[True, False], [True, True]]
        )
        out["seq"] = t.sequence_mask(lengths)
        out["seq_5_float"] = t.sequence_mask(lengths, 5, dtype=t.float32)
        out["seq_2d"] = t.sequence_mask([[1, 3], [2, 0]], 4)
        out["seq_int64_maxlen"] = t.sequence_mask(
            t.constant([2, 1], t.int64), t.constant(3, t.int64)
        )
        lengths_fed = [1, 4, 0, 2]
        feed = {x: data(82, 3, 4, 2), xn: data(83, 5, 4), lengths: lengths_fed}
        feed[m_fed] = [True, False, False, True, True]
        return out, feed

    return _graph(t, build)


def matrices_and_broadcasts(t):
    def build():
        x = t.placeholder(t.float32, [2, 3, 4])
        xn = t.placeholder(t.float32, [None, 3, None])
        v = t.placeholder(t.float32, [3])
        out = {}
        out["eye_3"] = t.eye(3)
        out["eye_2x4_batch"] = t.eye(2, 4, batch_shape=[2], dtype=t.int32)
        _with_gradient(t, out, "matrix_transpose", t.matrix_transpose(x), x, 100)
        _with_gradient(t, out, "broadcast_to", t.broadcast_to(v, [2, 2, 3]), v, 101)
        out["broadcast_to_run_time"] = t.broadcast_to(v, t.shape(xn[:, :, 0]))
        out["broadcast_to_bool"] = t.broadcast_to(t.constant([True, False]), [2, 2])
        out["broadcast_dynamic_shape"] = t.broadcast_dynamic_shape([2, 1, 3], [4, 1])
        out["broadcast_dynamic_shape_run_time"] = t.broadcast_dynamic_shape(t.shape(xn), [1, 3, 1])
        a, b = t.constant([1.0, 2.0, 3.0]), t.constant([4.0, 5.0])
        out["meshgrid_xy"] = t.meshgrid(a, b)
        out["meshgrid_ij"] = t.meshgrid(a, b, t.constant([7.0, 8.0]), indexing="ij")
        for i, (shift, axis) in enumerate([(1, 0), (-2, 2), ([1, 2], [1, 2]), ([1, 3], [-1, -1])]):
            _with_gradient(t, out, f"roll_{i}", t.roll(x, shift, axis), x, 110 + i)
            out[f"roll_{i}_unknown"] = t.roll(xn, shift, axis)
        for i, (lo, up) in enumerate([(0, 0), (1, 0), (-1, 1), (0, -1), (2, 2)]):
            _with_gradient(t, out, f"band_{i}", t.matrix_band_part(x, lo, up), x, 120 + i)
            out[f"band_{i}_unknown"] = t.matrix_band_part(xn, lo, up)
        out["invert_permutation"] = t.invert_permutation([2, 0, 3, 1])
        perm = t.placeholder(t.int32, [None])
        out["invert_permutation_fed"] = t.invert_permutation(perm)
        feed = {x: data(102, 2, 3, 4), xn: data(103, 2, 3, 5), v: data(104, 3)}
        feed[perm] = [3, 0, 4, 1, 2]
        return out, feed

    return _graph(t, build)


def blocks(t):
    def build():
        x = t.placeholder(t.float32, [2, 4, 6, 3])
        xn = t.placeholder(t.float32, [None, None, None, 3])
        d = t.placeholder(t.float32, [1, 2, 3, 8])
        xb = t.placeholder(t.float32, [None, 4, 6, 3])
        out = {}
        _with_gradient(t, out, "space_to_depth", t.space_to_depth(x, 2), x, 130)
        out["space_to_depth_unknown"] = t.space_to_depth(xn, 2)
        _with_gradient(t, out, "depth_to_space", t.depth_to_space(d, 2), d, 131)
        out["round_trip"] = t.depth_to_space(t.space_to_depth(x, 2), 2)
        out["ensure_shape"] = t.ensure_shape(xn, [2, None, 6, 3])
        for i, (k, s, r, pad) in enumerate(
            [
                ([1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"),
                ([1, 3, 2, 1], [1, 2, 3, 1], [1, 1, 1, 1], "SAME"),
                ([1, 2, 3, 1], [1, 1, 2, 1], [1, 2, 2, 1], "SAME"),
                ([1, 2, 2, 1], [1, 3, 2, 1], [1, 2, 1, 1], "VALID"),
            ]
        ):
            patches = t.extract_image_patches(x, k, s, r, pad)
            _with_gradient(t, out, f"patches_{i}", patches, x, 140 + i)
            out[f"patches_{i}_unknown_batch"] = t.extract_image_patches(xb, k, s, r, pad)
        feed = {x: data(132, 2, 4, 6, 3), xn: data(133, 2, 4, 6, 3), d: data(134, 1, 2, 3, 8)}
        feed[xb] = data(135, 1, 4, 6, 3)
        return out, feed

    return _graph(t, build)


PROGRAMS = {
    "pad": pad,
    "reverse": reverse,
    "negative_steps": negative_steps,
    "gather_scatter_nd": gather_scatter_nd,
    "masks": masks,
    "matrices_and_broadcasts": matrices_and_broadcasts,
    "blocks": blocks,
}


def as_lists(value):
    """Plain lists: floats rounded to 7 decimals, integers exact."""
    if isinstance(value, dict):
        return {k: as_lists(v) for k, v in value.items()}
    array = np.asarray(value)
    if array.dtype.kind in "iub":
        return array.tolist()
    return np.round(array.astype(np.float64), 7).tolist()


if __name__ == "__main__":
    import json

    import tensorflow as tensorflow

    tf1 = tensorflow.compat.v1
    tf1.disable_v2_behavior()
    lines = [f'"version": {json.dumps(tensorflow.__version__)}']
    for name, program in PROGRAMS.items():
        lines.append(f"{json.dumps(name)}: {json.dumps(as_lists(program(tf1)))}")
    print("{\n" + ",\n".join(lines) + "\n}")
