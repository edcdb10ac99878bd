"""Ops on tensors statically known to hold no element (a 0 in their type), found by the random-graph
campaign (/tmp/notes/conformance-findings.md F4 and "reshape of a tensor typed [0, ?]"): TF returns
empty tensors of the right shape, and tf.gradients of a reduce_sum through them zeros of the input's
shape. Each case is compared with numpy."""

import numpy as np
import pytest

import tgc as tf
from tgc.frontend.build import make_op


def _run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def _stride_1_pool_result(x, ksize, padding):
    """What TF's stride-1 NHWC pool of x gives when x holds no element: an
    empty array of its shape."""
    n, h, w, c = x.shape
    if padding == "VALID":
        h, w = h - ksize + 1, w - ksize + 1
    return np.zeros((n, max(h, 0), max(w, 0), c), x.dtype)


@pytest.mark.parametrize("pool", [tf.nn.avg_pool, tf.nn.max_pool])
@pytest.mark.parametrize(
    "shape, padding", [((1, 2, 2, 0), "SAME"), ((1, 0, 0, 0), "SAME"), ((3, 2, 2, 0), "VALID")]
)
def test_pool_of_an_input_with_no_channels_and_its_gradient(pool, shape, padding):
    # The pool rules built a tensor.extract_slice at channel offset 0 of a 0-channel dim:
    # CompileError "offset 3 is out-of-bounds: 0 >= 0" (campaign seed 1343).
    x = tf.placeholder(tf.float32, shape)
    y = pool(x, [1, 2, 2, 1], [1, 1, 1, 1], padding)
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    xv = np.ones(shape, np.float32)
    y_v, g_v = _run([y, g], {x: xv})
    np.testing.assert_array_equal(y_v, _stride_1_pool_result(xv, 2, padding))
    np.testing.assert_array_equal(g_v, np.zeros(shape, np.float32))


def test_pool_of_no_channels_with_an_unknown_batch():
    x = tf.placeholder(tf.float32, [None, 3, 3, 0])
    y = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    y_v, g_v = _run([y, g], {x: np.ones((2, 3, 3, 0), np.float32)})
    assert y_v.shape == (2, 2, 2, 0) and g_v.shape == (2, 3, 3, 0)


def test_conv2d_with_no_input_channels_is_zero_and_its_gradients():
    # An empty sum over channels: every output is 0; the gradients are
    # zeros of the operands' shapes.
    x = tf.placeholder(tf.float32, [1, 3, 3, 0])
    f = tf.placeholder(tf.float32, [2, 2, 0, 4])
    y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
    gx, gf = tf.gradients(tf.reduce_sum(y * 3.0), [x, f])
    y_v, gx_v, gf_v = _run(
        [y, gx, gf], {x: np.ones((1, 3, 3, 0), np.float32), f: np.ones((2, 2, 0, 4), np.float32)}
    )
    np.testing.assert_array_equal(y_v, np.zeros((1, 3, 3, 4), np.float32))
    np.testing.assert_array_equal(gx_v, np.zeros((1, 3, 3, 0), np.float32))
    np.testing.assert_array_equal(gf_v, np.zeros((2, 2, 0, 4), np.float32))


def test_conv2d_with_no_output_channels_and_its_gradients():
    x = tf.placeholder(tf.float32, [2, 3, 3, 2])
    f = tf.placeholder(tf.float32, [2, 2, 2, 0])
    y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "VALID")
    gx, gf = tf.gradients(tf.reduce_sum(y), [x, f])
    y_v, gx_v, gf_v = _run(
        [y, gx, gf], {x: np.ones((2, 3, 3, 2), np.float32), f: np.ones((2, 2, 2, 0), np.float32)}
    )
    assert y_v.shape == (2, 2, 2, 0)
    np.testing.assert_array_equal(gx_v, np.zeros((2, 3, 3, 2), np.float32))
    assert gf_v.shape == (2, 2, 2, 0)


def test_reshape_like_of_a_tensor_typed_0_by_unknown_and_its_gradient():
    # Collapsing [0, ?] built a memref.collapse_shape whose group mixed a static 0 with a dynamic
    # dim, which canonicalization folded to a static result the verifier refused.
    x = tf.placeholder(tf.float64, [0, None])
    t = tf.placeholder(tf.float64, [None, None])
    y = make_op("reshape_like", [x, t])
    (g,) = tf.gradients(tf.reduce_sum(y * 2.0), x)
    y_v, g_v = _run([y, g], {x: np.zeros((0, 1)), t: np.zeros((0, 1))})
    np.testing.assert_array_equal(y_v, np.zeros((0, 1)))
    np.testing.assert_array_equal(g_v, np.zeros((0, 1)))


@pytest.mark.parametrize(
    "new_shape, want", [([-1], (0,)), ([0, 5], (0, 5)), ([-1, 3, 1], (0, 3, 1))]
)
def test_reshape_of_a_tensor_typed_0_by_unknown_and_its_gradient(new_shape, want):
    x = tf.placeholder(tf.float64, [0, None])
    y = tf.reshape(x, new_shape)
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    y_v, g_v = _run([y, g], {x: np.zeros((0, 7))})
    np.testing.assert_array_equal(y_v, np.zeros(want))
    np.testing.assert_array_equal(g_v, np.zeros((0, 7)))


def test_reshape_of_a_tensor_with_an_unknown_and_a_0_dim_in_one_group():
    x = tf.placeholder(tf.float32, [None, 0, 2])
    y = tf.reshape(x, [-1, 2])
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    y_v, g_v = _run([y, g], {x: np.zeros((4, 0, 2), np.float32)})
    np.testing.assert_array_equal(y_v, np.zeros((0, 2), np.float32))
    np.testing.assert_array_equal(g_v, np.zeros((4, 0, 2), np.float32))


# TF 2.21's values (tests/oracle: /tmp/tfenv/bin/python, tf.compat.v1): matrix_inverse of a batch of
# [0, 0] matrices is empty of the input's shape, matrix_determinant of a [0, 0] matrix is 1.0 (the
# empty product), of [0, 3, 3] an empty [0], and the inverse's gradient is empty too.
@pytest.mark.parametrize("shape", [(2, 0, 0), (0, 3, 3), (0, 0)])
def test_inverse_and_determinant_of_empty_matrices_and_the_gradient(shape):
    # The batched rule sliced an [n, n] matrix with n = 0 given as a run-time value, the slice typed
    # 0x0: invalid IR, refused when a GPU's run re-parsed the module ("expected type to be
    # 'tensor<1x?x?xf64>' or a rank-reduced version", campaign seed 79 on nvptx-emulated).
    from tgc.dialect import targets

    x = tf.placeholder(tf.float64, shape)
    inverse = tf.matrix_inverse(x)
    determinant = tf.matrix_determinant(x)
    (g,) = tf.gradients(tf.reduce_sum(inverse), x)
    xv = np.ones(shape)
    with targets.selected("nvptx-emulated"):
        for config in (None, tf.ConfigProto(device_count={"GPU": 1})):
            with tf.Session(config=config) as sess:
                inv_v, det_v, g_v = sess.run([inverse, determinant, g], {x: xv})
            assert inv_v.shape == shape and g_v.shape == shape
            np.testing.assert_array_equal(det_v, np.ones(shape[:-2]))


def test_inverse_of_an_empty_strided_slice_of_a_loop_result_on_the_gpu():
    """Campaign seed 79, shrunk: a strided slice that selects nothing, inverted."""
    from tgc.dialect import targets

    x = tf.placeholder(tf.float64, [1, 4, 1, 1])
    looped = tf.while_loop(lambda i, v: i < 1, lambda i, v: [i + 1, v], [tf.constant(0), x])[1]
    empty = looped[1:-1, -1:-3:2, 0:0:2, 0:0]
    inverse = tf.matrix_inverse(empty)
    with targets.selected("nvptx-emulated"):
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            value = sess.run(inverse, {x: np.ones((1, 4, 1, 1))})
    assert value.shape == (0, 0, 0, 0)


@pytest.mark.parametrize("transpose_b", [False, True])
def test_matmul_broadcast_against_an_empty_batch_with_an_unknown_inner_dim(transpose_b):
    """[1, 4] @ [0, ?, 4]: the unknown inner dim is checked at run time and both operands are read
    over the smaller size; the slice of b then had offset 0 in its 0-sized batch dim, which MLIR's
    verifier refuses ("offset 0 is out-of-bounds: 0 >= 0"; random-graph campaign seed 301239).
    TF returns zeros of shape [0, 1, 4] and a zero gradient."""
    a = tf.placeholder(tf.float64, [1, 4])
    b = tf.placeholder(tf.float64, [0, 4, None] if transpose_b else [0, None, 4])
    c = tf.matmul(a, b, transpose_b=transpose_b)
    (grad_a,) = tf.gradients(tf.reduce_sum(c), [a])
    b_value = np.zeros((0, 4, 4))
    got, got_grad = _run([c, grad_a], {a: np.ones((1, 4)), b: b_value})
    assert got.shape == (0, 1, 4) and got_grad.shape == (1, 4)
    np.testing.assert_array_equal(got_grad, np.zeros((1, 4)))


def test_split_like_whose_second_piece_is_empty_by_the_static_sizes():
    """x [1] split like a [1] and b [?]: the second piece starts at 1, the end of x, so it holds no
    element whatever b's size; as a slice at offset 1 of a 1-sized dim MLIR's verifier refused it
    ("offset 0 is out-of-bounds: 1 >= 1"; random-graph campaign seed 303078)."""
    x = tf.placeholder(tf.float64, [1])
    a = tf.placeholder(tf.float64, [1])
    b = tf.placeholder(tf.float64, [None])
    first, second = make_op("split_like", [x, a, b], axis=0)
    got_first, got_second = _run(
        [first, second], {x: np.array([2.5]), a: np.zeros(1), b: np.zeros(0)}
    )
    np.testing.assert_array_equal(got_first, [2.5])
    assert got_second.shape == (0,)
