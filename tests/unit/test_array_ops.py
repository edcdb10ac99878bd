"""The array/shape op family end to end: tgc.frontend.array_ops -> registry -> core lowering -> JIT.

Every op runs through tgc.Session and is compared with numpy, with a None batch dim fed two
different batch sizes; gradients are compared with central finite differences of the numpy reference
(float64); build-time errors are checked by their messages.
"""

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import array_ops as A

RNG = np.random.default_rng(1234)
BATCHES = (2, 5)


def run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def batch_input(batch, rest, dtype=np.float32):
    return RNG.uniform(-2, 2, (batch,) + tuple(rest)).astype(dtype)


def check_batched(build, reference, rest=(4, 3), dtype=tf.float32):
    """build(placeholder [None, *rest]) vs reference(array) for two batch
    sizes through one graph."""
    x = tf.placeholder(dtype, [None, *rest])
    y = build(x)
    for batch in BATCHES:
        a = batch_input(batch, rest, np.dtype(dtype.as_numpy_dtype))
        got = run(y, {x: a})
        want = reference(a)
        if isinstance(want, list):
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and g.shape == w.shape
                np.testing.assert_array_equal(g, w)
        else:
            assert got.dtype == np.asarray(want).dtype and got.shape == np.shape(want)
            np.testing.assert_array_equal(got, want)


def numeric_grad(reference, arrays, i, weights, eps=1e-6):
    """d/d arrays[i] of sum(reference(*arrays) * weights) by central differences."""
    out = np.zeros_like(arrays[i])
    for idx in np.ndindex(arrays[i].shape):
        total = 0.0
        for sign in (1, -1):
            moved = [a.copy() for a in arrays]
            moved[i][idx] += sign * eps
            total += sign * float(np.sum(np.asarray(reference(*moved)) * weights))
        out[idx] = total / (2 * eps)
    return out


def check_grad(build, reference, shapes, dynamic=True):
    """Gradients of sum(build(xs) * w) w.r.t. every x (float64 placeholders, batch dim unknown)."""
    xs = [tf.placeholder(tf.float64, [None if dynamic else s[0], *s[1:]]) for s in shapes]
    y = build(*xs)
    for batch in BATCHES:
        arrays = [RNG.uniform(-2, 2, (batch,) + tuple(s[1:])) for s in shapes]
        weights = RNG.standard_normal(np.shape(reference(*arrays)))
        grads = tf.gradients(tf.reduce_sum(y * tf.constant(weights)), xs)
        got = run(grads, dict(zip(xs, arrays)))
        for i, g in enumerate(got):
            np.testing.assert_allclose(
                g, numeric_grad(reference, arrays, i, weights), rtol=1e-5, atol=1e-6
            )
        if not dynamic:
            break


def build_error(fn):
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


# ---- reshape family ------------------------------------------------------------------------------


def test_reshape_with_minus_one_and_unknown_batch():
    check_batched(lambda x: A.reshape(x, [-1, 6]), lambda a: a.reshape(-1, 6))
    check_batched(lambda x: A.reshape(x, [-1]), lambda a: a.reshape(-1))


def test_reshape_to_run_time_shape_of_other_tensor():
    x = tf.placeholder(tf.float32, [None, 4, 3])
    flat = A.reshape(x, [-1, 12])
    back = A.reshape(flat * 2.0, A.shape(x))
    for batch in BATCHES:
        a = batch_input(batch, (4, 3))
        np.testing.assert_array_equal(run(back, {x: a}), a * 2)


def test_reshape_to_another_shape_sizes_its_one_unknown_dim_as_tf():
    """TF 2.21's Reshape shape rule: x [2, 3] to tf.shape(y) of y [?, 3] is [2, 3]; to [?, 4] a
    ValueError ("Dimension size must be evenly divisible by 4 but is 6")."""
    x = tf.placeholder(tf.float32, [2, 3])
    y = tf.placeholder(tf.float32, [None, 3])
    assert A.reshape(x, A.shape(y)).shape.as_list() == [2, 3]
    assert A.reshape(y, A.shape(x)).shape.as_list() == [2, 3]
    assert A.reshape(y, A.shape(y)).shape.as_list() == [None, 3]  # x's count unknown
    with pytest.raises(ValueError, match="Dimension size must be evenly divisible by 4 but is 6"):
        A.reshape(x, A.shape(tf.placeholder(tf.float32, [None, 4])))


def test_reshape_static_and_scalar():
    x = tf.constant(np.arange(6, dtype=np.int32))
    one = tf.constant(np.array([7.5], np.float32))
    got, scalar = run([A.reshape(x, [3, 2]), A.reshape(one, [])], {})
    np.testing.assert_array_equal(got, np.arange(6).reshape(3, 2))
    assert scalar.shape == () and scalar == np.float32(7.5)


def test_reshape_gradient():
    check_grad(
        lambda x: A.reshape(x, [-1, 2]) * A.reshape(x, [-1, 2]),
        lambda a: a.reshape(-1, 2) ** 2,
        [(2, 3, 2)],
    )


def test_reshape_error_names_both_shapes():
    x = tf.placeholder(tf.float32, [2, 3])
    message = build_error(lambda: A.reshape(x, [4, 2]))
    assert "cannot reshape (2, 3) (6 elements) to [4, 2] (8 elements)" in message
    assert "'Reshape'" in message


def test_transpose_default_perm_and_explicit():
    check_batched(lambda x: A.transpose(x), lambda a: a.T.copy())
    check_batched(lambda x: A.transpose(x, perm=[0, 2, 1]), lambda a: a.transpose(0, 2, 1))


def test_transpose_gradient():
    check_grad(lambda x: A.transpose(x, [1, 2, 0]), lambda a: a.transpose(1, 2, 0), [(2, 3, 4)])


def test_expand_dims_and_squeeze():
    check_batched(lambda x: A.expand_dims(x, 1), lambda a: a[:, None])
    check_batched(lambda x: A.expand_dims(x, dim=-1), lambda a: a[..., None])
    check_batched(lambda x: A.squeeze(A.expand_dims(x, 2)), lambda a: a, rest=(4, 3))
    check_batched(lambda x: A.squeeze(x, squeeze_dims=[1]), lambda a: a[:, 0], rest=(1, 3))
    x = tf.placeholder(tf.float32, [None, 1, 3, 1])
    assert A.squeeze(x).shape == tf.TensorShape([None, 3])


def test_squeeze_of_an_empty_axis_list_removes_every_size_1_axis():
    """TF's axis=[] is its default, not "no axis": tf.squeeze(ones [1, 2, 1], axis=[]) has shape
    [2] in TF 2.21's compat.v1 (found by the random graphs against TensorFlow, tfdiff.py)."""
    x = tf.placeholder(tf.float32, [1, 2, 1])
    for axis in ([], ()):
        assert A.squeeze(x, axis=axis).shape == tf.TensorShape([2])
    assert A.squeeze(x, squeeze_dims=[]).shape == tf.TensorShape([2])
    out = run(A.squeeze(x, axis=[]), {x: np.ones((1, 2, 1), np.float32)})
    np.testing.assert_array_equal(out, np.ones(2, np.float32))


def test_squeeze_error():
    x = tf.placeholder(tf.float32, [2, 3])
    assert "cannot squeeze axis 1 of shape (2, 3): its size is not 1" in build_error(
        lambda: A.squeeze(x, 1)
    )


# ---- concat, split, stack ------------------------------------------------------------------------


def test_concat_three_values_and_negative_axis():
    x = tf.placeholder(tf.float32, [None, 3])
    y = A.concat([x, x * 2.0, tf.constant(np.ones((1, 3), np.float32))], axis=0)
    z = A.concat([x, x[:, :1]], axis=-1)
    assert y.shape == tf.TensorShape([None, 3]) and z.shape == tf.TensorShape([None, 4])
    for batch in BATCHES:
        a = batch_input(batch, (3,))
        got_y, got_z = run([y, z], {x: a})
        np.testing.assert_array_equal(
            got_y, np.concatenate([a, a * 2, np.ones((1, 3), np.float32)])
        )
        np.testing.assert_array_equal(got_z, np.concatenate([a, a[:, :1]], axis=-1))


def test_concat_single_value_is_identity():
    x = tf.placeholder(tf.int32, [None])
    a = np.array([3, 1, 2], np.int32)
    np.testing.assert_array_equal(run(A.concat([x], 0), {x: a}), a)


def test_concat_gradient_unknown_dims_on_both_operands():
    check_grad(
        lambda x, y: A.concat([x, y, x], axis=0),
        lambda a, b: np.concatenate([a, b, a]),
        [(2, 3), (3, 3)],
    )
    check_grad(
        lambda x, y: A.concat([x, y], axis=1),
        lambda a, b: np.concatenate([a, b], 1),
        [(2, 3), (2, 1)],
    )


def test_concat_error_names_both_shapes():
    x = tf.placeholder(tf.float32, [2, 3])
    y = tf.placeholder(tf.float32, [2, 4])
    message = build_error(lambda: A.concat([x, y], axis=0))
    assert "concat operands (2, 3) and (2, 4) differ in dim 1 (3 vs 4)" in message
    z = tf.placeholder(tf.float32, [3])
    assert "concat needs operands of the same rank but got (2, 3) and (3,)" in build_error(
        lambda: A.concat([x, z], 0)
    )


def test_split_equal_and_sizes():
    check_batched(lambda x: A.split(x, 2, axis=1), lambda a: np.split(a, 2, axis=1))
    check_batched(lambda x: A.split(x, 3, axis=-1), lambda a: [p for p in np.split(a, 3, axis=-1)])
    check_batched(lambda x: A.split(x, [1, -1], axis=1), lambda a: [a[:, :1], a[:, 1:]])
    check_batched(lambda x: A.split(x, [1, 2], axis=2), lambda a: [a[:, :, :1], a[:, :, 1:]])


def test_split_along_unknown_batch_dim():
    x = tf.placeholder(tf.float32, [None, 2])
    parts = A.split(x, 2, axis=0)
    for batch in (2, 6):
        a = batch_input(batch, (2,))
        got = run(parts, {x: a})
        for g, w in zip(got, np.split(a, 2)):
            np.testing.assert_array_equal(g, w)


def test_split_gradient_with_an_unused_part():
    def build(x):
        first, _, third = A.split(x, 3, axis=1)
        return first * third

    def reference(a):
        first, _, third = np.split(a, 3, axis=1)
        return first * third

    check_grad(build, reference, [(2, 6)])
    check_grad(lambda x: A.split(x, [1, 2], axis=1)[1], lambda a: a[:, 1:], [(2, 3)])


def test_split_errors():
    x = tf.placeholder(tf.float32, [2, 5])
    assert "cannot split dim 1 (size 5) of (2, 5) into 2 equal parts" in build_error(
        lambda: A.split(x, 2, axis=1)
    )
    assert "do not add up to dim 1" in build_error(lambda: A.split(x, [2, 2], axis=1))


def test_stack_and_unstack():
    x = tf.placeholder(tf.float32, [None, 3])
    stacked = A.stack([x, x * 3.0], axis=1)
    parts = A.unstack(x, axis=1)
    assert len(parts) == 3 and parts[0].shape == tf.TensorShape([None])
    for batch in BATCHES:
        a = batch_input(batch, (3,))
        got, got_parts = run([stacked, parts], {x: a})
        np.testing.assert_array_equal(got, np.stack([a, a * 3], axis=1))
        for g, w in zip(got_parts, [a[:, i] for i in range(3)]):
            np.testing.assert_array_equal(g, w)


def test_stack_unstack_gradient():
    check_grad(
        lambda x: A.stack(A.unstack(x, axis=1)[::-1], axis=0),
        lambda a: np.stack(list(a.T[::-1])),
        [(2, 3)],
    )


def test_unstack_needs_known_count():
    x = tf.placeholder(tf.float32, [None, 3])
    assert "cannot infer num from shape (?, 3)" in build_error(lambda: A.unstack(x))


# ---- slicing and indexing ------------------------------------------------------------------------


def test_slice_with_minus_one_size():
    check_batched(lambda x: A.slice(x, [0, 1, 0], [-1, 2, 2]), lambda a: a[:, 1:3, :2])
    check_batched(lambda x: A.slice(x, [1, 0, 1], [1, -1, -1]), lambda a: a[1:2, :, 1:])


def test_slice_gradient():
    check_grad(lambda x: A.slice(x, [0, 1], [-1, 2]), lambda a: a[:, 1:3], [(2, 4)])
    check_grad(lambda x: A.slice(x, [1, 1], [1, -1]), lambda a: a[1:2, 1:], [(3, 4)])


def test_slice_error():
    x = tf.placeholder(tf.float32, [4, 5])
    assert "slice begin [1, 2] size [2, 4] runs past dim 1 of (4, 5)" in build_error(
        lambda: A.slice(x, [1, 2], [2, 4])
    )


INDEX_KEYS = [
    0,
    -1,
    (slice(None), 1),
    (Ellipsis, 2),
    (None, 0, slice(1, None, 2)),
    (slice(None), None, slice(None, -1), Ellipsis, None),
    (slice(1, None), slice(None, None, 3), -2),
    (slice(-3, -1), Ellipsis),
    (slice(0, 100, 2),),
    (1, 2, 0),
    Ellipsis,
    None,
]


@pytest.mark.parametrize("key", INDEX_KEYS, ids=repr)
def test_getitem_matches_numpy(key):
    check_batched(lambda x: x[key], lambda a: a[key].copy(), rest=(4, 3))


def test_getitem_on_unknown_batch_dim_with_negative_indices():
    x = tf.placeholder(tf.int32, [None])
    for batch in (3, 7):
        a = np.arange(batch, dtype=np.int32) * 10
        got = run([x[-1], x[-2], x[-3:], x[1:-1:2]], {x: a})
        for g, w in zip(got, [a[-1], a[-2], a[-3:], a[1:-1:2]]):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize(
    "key", [(slice(None), 1), (slice(None), slice(1, None, 2), -1), (Ellipsis, None, 0)], ids=repr
)
def test_getitem_gradient(key):
    check_grad(lambda x: x[key], lambda a: a[key], [(3, 4, 3)])


def test_strided_slice_with_masks():
    def build(x):
        return A.strided_slice(
            x, [0, 1, 0], [0, 4, 2], [1, 2, 1], begin_mask=1, end_mask=1, shrink_axis_mask=4
        )

    check_batched(build, lambda a: a[:, 1:4:2, 0])
    check_batched(
        lambda x: A.strided_slice(x, [0, 1], [0, 2], ellipsis_mask=1, new_axis_mask=0),
        lambda a: a[..., 1:2],
    )


def test_indexing_errors():
    x = tf.placeholder(tf.float32, [None, 4])
    assert "index 4 is out of bounds for axis 1" in build_error(lambda: x[:, 4])
    assert "strides[1] must be non-zero" in build_error(lambda: x[:, ::0])
    assert "too many indices (3)" in build_error(lambda: x[0, 0, 0])
    with pytest.raises(TypeError, match="tensor indices must be ints"):
        x[x]


# ---- tile ----------------------------------------------------------------------------------------


def test_tile_static_and_unknown_batch():
    check_batched(lambda x: A.tile(x, [2, 1, 3]), lambda a: np.tile(a, (2, 1, 3)))
    x = tf.constant(np.array([[1, 2]], np.int32))
    np.testing.assert_array_equal(run(A.tile(x, [3, 2]), {}), np.tile([[1, 2]], (3, 2)))


def test_tile_gradient_static_and_unknown_dims():
    check_grad(lambda x: A.tile(x, [2, 3]), lambda a: np.tile(a, (2, 3)), [(2, 3)], dynamic=False)
    check_grad(lambda x: A.tile(x, [3, 2]), lambda a: np.tile(a, (3, 2)), [(2, 3)], dynamic=True)


def test_tile_error():
    x = tf.placeholder(tf.float32, [2, 3])
    assert "tile multiples [2] need 2 entries for input (2, 3)" in build_error(
        lambda: A.tile(x, [2])
    )


# ---- one_hot -------------------------------------------------------------------------------------


def _one_hot(indices, depth, on=1.0, off=0.0, axis=-1, dtype=np.float32):
    hit = indices[..., None] == np.arange(depth)
    return np.where(np.moveaxis(hit, -1, indices.ndim if axis == -1 else axis), on, off).astype(
        dtype
    )


def test_one_hot_default_and_out_of_range_indices():
    idx = tf.placeholder(tf.int32, [None])
    y = A.one_hot(idx, 4)
    for a in (np.array([0, 3, 1], np.int32), np.array([2, -1, 4, 0, 1], np.int32)):
        got = run(y, {idx: a})
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, _one_hot(a, 4))


def test_one_hot_axis_values_and_dtype():
    idx = tf.placeholder(tf.int64, [None, 2])
    y = A.one_hot(idx, 3, on_value=5, off_value=-2, axis=1)
    z = A.one_hot(idx, 3, axis=0, dtype=tf.float64)
    for batch in BATCHES:
        a = RNG.integers(0, 3, (batch, 2)).astype(np.int64)
        got_y, got_z = run([y, z], {idx: a})
        np.testing.assert_array_equal(got_y, _one_hot(a, 3, 5, -2, axis=1, dtype=np.int32))
        np.testing.assert_array_equal(got_z, _one_hot(a, 3, axis=0, dtype=np.float64))


def test_one_hot_is_not_differentiable_and_rejects_float_indices():
    x = tf.placeholder(tf.float32, [3])
    assert "one_hot indices must be int32 or int64 but got float32" in build_error(
        lambda: A.one_hot(x, 3)
    )
    # No gradient flows through one_hot, even from float values cast to indices (TF returns None).
    v = tf.placeholder(tf.float32, [3])
    assert tf.gradients(tf.reduce_sum(A.one_hot(tf.cast(v, tf.int32), 3)), [v]) == [None]


# ---- fills, shape, size, rank --------------------------------------------------------------------


def test_fill_zeros_ones_static():
    got = run([A.fill([2, 3], 7), A.fill([2], 1.5), A.zeros([2, 2], tf.int64), A.ones([3])], {})
    np.testing.assert_array_equal(got[0], np.full((2, 3), 7, np.int32))
    np.testing.assert_array_equal(got[1], np.full(2, 1.5, np.float32))
    np.testing.assert_array_equal(got[2], np.zeros((2, 2), np.int64))
    np.testing.assert_array_equal(got[3], np.ones(3, np.float32))
    assert [g.dtype for g in got] == [np.int32, np.float32, np.int64, np.float32]


def test_fills_from_run_time_shape_and_like():
    check_batched(lambda x: A.zeros(A.shape(x), tf.int32), lambda a: np.zeros(a.shape, np.int32))
    check_batched(lambda x: A.fill(A.shape(x), 2.5), lambda a: np.full(a.shape, 2.5, np.float32))
    check_batched(lambda x: A.ones_like(x), lambda a: np.ones_like(a))
    check_batched(lambda x: A.zeros_like(x, dtype=tf.int64), lambda a: np.zeros(a.shape, np.int64))


def test_shape_size_rank_with_unknown_batch():
    check_batched(lambda x: A.shape(x), lambda a: np.array(a.shape, np.int32))
    check_batched(lambda x: A.shape(x, out_type=tf.int64), lambda a: np.array(a.shape, np.int64))
    check_batched(lambda x: A.size(x), lambda a: np.int32(a.size))
    check_batched(lambda x: A.rank(x), lambda a: np.int32(a.ndim))


def test_shape_size_rank_with_unknown_rank():
    x = tf.placeholder(tf.float32, None)
    fetches = [A.shape(x), A.size(x), A.rank(x)]
    for a in (np.zeros((2, 3), np.float32), np.zeros((4,), np.float32)):
        got = run(fetches, {x: a})
        np.testing.assert_array_equal(got[0], np.array(a.shape, np.int32))
        assert got[1] == a.size and got[2] == a.ndim


def test_static_size_and_rank_are_constants():
    x = tf.placeholder(tf.float32, [2, 3])
    assert A.size(x).op.opdef == "constant" and A.rank(x).op.opdef == "constant"
    assert run([A.size(x), A.rank(x)], {}) == [6, 2]


def test_a_computed_reshape_shape_must_be_a_vector_of_known_length():
    x = tf.placeholder(tf.int32, [None])
    with pytest.raises(ValueError, match="must be a vector of known length"):
        A.reshape(tf.placeholder(tf.float32, [4]), x + 1)
