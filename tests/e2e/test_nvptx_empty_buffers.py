"""Graphs with tensors that hold no element, on the GPU (nvptx-emulated): matmuls with an empty
dim and their gradients, reductions over an empty axis, softmax of nothing. TensorFlow runs them on
a GPU and returns empty tensors, or zeros (a product over an empty inner dim) and the reduction's
identity where the result is not empty. The random-graph campaign's seeds 400853 and 401398
(nvptx-emulated) were refused instead: "kernel @main_p0_kernel_13 takes an empty buffer
(memref<1x0xf64>) as parameter 0, which cannot be passed as one pointer", because
tgc-nvptx-tile-matmul made a launch of a matmul on an empty buffer (tgc-nvptx-drop-empty-linalg now
erases such ops first). Each case is compared with numpy; no GPU is needed."""

import re

import numpy as np
import pytest

from nvptx_checks import compile_nvptx, needs_ptxas, ptxas_info, session_run

from tgc.frontend.build import make_op

DTYPES = [np.float32, np.float64]


def _matmul_and_gradients(tf, fed, transpose_b=False):
    a, b = fed["a"], fed["b"]
    c = tf.matmul(a, b, transpose_b=transpose_b)
    weights = tf.constant(np.arange(1.0, 1.0 + np.prod(c.shape.as_list())).reshape(c.shape))
    loss = tf.reduce_sum(c * tf.cast(weights, c.dtype))
    return [c, *tf.gradients(loss, [a, b])]


# (a's shape, b's shape): an empty inner dim (C is zeros, the gradients empty), an empty row or
# column count (C empty, a gradient zeros of a non-empty operand's shape: a matmul over an empty
# inner dim again), and nothing at all.
SHAPES = [((2, 0), (0, 3)), ((0, 2), (2, 3)), ((2, 3), (3, 0)), ((0, 0), (0, 0))]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_matmul_with_an_empty_dim_and_its_gradients(dtype, a_shape, b_shape):
    a = np.ones(a_shape, dtype)
    b = np.ones(b_shape, dtype)
    c, grad_a, grad_b = session_run(_matmul_and_gradients, {"a": a, "b": b})
    weights = np.arange(1.0, 1.0 + a_shape[0] * b_shape[1]).reshape(a_shape[0], b_shape[1])
    np.testing.assert_array_equal(c, np.zeros((a_shape[0], b_shape[1]), dtype))
    np.testing.assert_array_equal(grad_a, weights @ b.T)
    np.testing.assert_array_equal(grad_b, a.T @ weights)
    assert c.dtype == dtype and grad_a.shape == a_shape and grad_b.shape == b_shape


def test_batch_matmul_of_an_empty_slice_and_its_gradient():
    """Campaign seed 400853, shrunk: a [1, 0] slice of a reduction, times itself transposed in a
    batch matmul, is [[0]]; the gradient with respect to the slice is empty."""

    def build(tf, fed):
        product = make_op("reduce_prod", [fed["x"]], axes=[0], keepdims=True)
        empty = make_op("expand_dims", [make_op("slice", [product], begin=[0], size=[0])], axis=0)
        square = make_op("batch_matmul", [empty, empty], transpose_a=False, transpose_b=True)
        loss = tf.reduce_sum(square * np.float64([[-0.386]]))
        return [square, *tf.gradients(loss, [empty])]

    x = np.array([0.1605, 0.6827, -0.2376])
    square, grad = session_run(build, {"x": x})
    np.testing.assert_array_equal(square, np.zeros((1, 1)))
    assert grad.shape == (1, 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_reductions_over_an_empty_axis_give_their_identity(dtype):
    """Campaign seed 401398's reduce_prod over the empty axis of a [0, 1] strided slice: TF gives
    the empty product, 1; a sum gives 0; softmax and a matmul of the slice are empty."""

    def build(tf, fed):
        x = fed["x"]
        return [
            tf.reduce_prod(x, axis=0),
            tf.reduce_sum(x, axis=0),
            tf.reduce_sum(tf.nn.softmax(x)),
            tf.matmul(tf.sqrt(x), tf.sqrt(x), transpose_b=True),
        ]

    x = np.ones((0, 2), dtype)
    prod, total, softmax_total, square = session_run(build, {"x": x})
    np.testing.assert_array_equal(prod, np.ones(2, dtype))
    np.testing.assert_array_equal(total, np.zeros(2, dtype))
    assert softmax_total == 0 and square.shape == (0, 0)


def test_strided_slice_of_nothing_from_a_tile_and_the_gradients():
    """Campaign seed 401398 (two devices), in one partition: a [0, 1] strided slice of a tiled
    variable through softmax, sqrt, a matmul with itself and reduce_prod; TF's values are numpy's:
    the tile's gradient is the reduce_prod's 1 at no element, 0 everywhere."""

    def build(tf, fed):
        tiled = make_op("tile", [fed["v"]], multiples=[2, 1])
        empty = make_op(
            "strided_slice",
            [tiled],
            begin=[6, 1],
            end=[-4, 1],
            strides=[2, 2],
            begin_mask=2,
            end_mask=0,
        )
        softmax = make_op("softmax", [empty], axis=1)
        square = tf.matmul(tf.sqrt(empty), tf.sqrt(empty), transpose_b=True)
        product = make_op("reduce_prod", [empty], axes=[0], keepdims=False)
        loss = tf.reduce_sum(product * np.float64([0.526])) + tf.reduce_sum(softmax)
        loss += tf.reduce_sum(tf.sign(square))
        return [empty, square, product, *tf.gradients(loss, [fed["v"]])]

    v = np.array([[0.7422], [0.8641], [1.9309]])
    empty, square, product, grad = session_run(build, {"v": v})
    assert empty.shape == (0, 1) and square.shape == (0, 0)
    np.testing.assert_array_equal(product, np.ones(1))
    np.testing.assert_array_equal(grad, np.zeros((3, 1)))


@pytest.fixture
def tf32_switch():
    from tgc.frontend import tf_config

    yield tf_config.experimental
    tf_config.experimental.enable_tensor_float_32_execution(False)


def test_float32_matmul_over_an_empty_inner_dim_with_tf32_on(tf32_switch):
    """With TF32 on, float32 matmuls go to tgc-nvptx-mma-matmul's tensor-core kernel, which comes
    after the empty ones are dropped too."""
    tf32_switch.enable_tensor_float_32_execution(True)
    a, b = np.ones((2, 0), np.float32), np.ones((0, 3), np.float32)
    c, grad_a, grad_b = session_run(_matmul_and_gradients, {"a": a, "b": b})
    np.testing.assert_array_equal(c, np.zeros((2, 3), np.float32))
    assert grad_a.shape == (2, 0) and grad_b.shape == (0, 3)


EMPTY_INNER_DIM = """
func.func @main(%a: tensor<2x0xf32>, %b: tensor<0x3xf32>, %x: tensor<3x0xf32>) ->
    (tensor<2x3xf32>, tensor<3x0xf32>) {
  %c = "tgc.matmul"(%a, %b) {transpose_a = false, transpose_b = false} :
    (tensor<2x0xf32>, tensor<0x3xf32>) -> tensor<2x3xf32>
  %e = "tgc.exp"(%x) : (tensor<3x0xf32>) -> tensor<3x0xf32>
  return %c, %e : tensor<2x3xf32>, tensor<3x0xf32>
}
"""


@needs_ptxas
def test_the_ptx_of_an_empty_matmul_is_a_fill_that_ptxas_assembles(tmp_path):
    """The compiled module keeps one kernel, C's fill of zeros: no launch takes an empty buffer,
    and ptxas -arch=sm_90 assembles the PTX."""
    ptx = compile_nvptx(tmp_path, EMPTY_INNER_DIM, "--emit", "ptx")
    assert len(re.findall(r"^\.visible \.entry ", ptx, re.MULTILINE)) == 1
    ptxas_info(tmp_path, ptx)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_gather_of_no_indices_and_its_gradient(dtype):
    """The index check's kernel read the bad index of no indices under a test that cannot hold
    (position < count = 0), and so took the empty indices as a parameter: refused ("kernel
    @main_p0_kernel takes an empty buffer (memref<0xi32>) as parameter 1") until
    tgc-nvptx-empty-buffer-accesses. TF: an empty [0, 2] gather and a zero gradient."""

    def build(tf, fed):
        rows = tf.gather(fed["params"], fed["indices"])
        return [rows, *tf.gradients(tf.reduce_sum(rows), [fed["params"]])]

    params = np.arange(6, dtype=dtype).reshape(3, 2)
    rows, grad = session_run(build, {"params": params, "indices": np.zeros((0,), np.int32)})
    assert rows.shape == (0, 2) and rows.dtype == dtype
    np.testing.assert_array_equal(grad, np.zeros((3, 2), dtype))


GATHER_OF_NO_INDICES = """
func.func @main(%p: tensor<3x2xf32>, %i: tensor<0xi32>) -> tensor<0x2xf32> {
  %r = "tgc.gather"(%p, %i) : (tensor<3x2xf32>, tensor<0xi32>) -> tensor<0x2xf32>
  return %r : tensor<0x2xf32>
}
"""


@needs_ptxas
def test_the_ptx_of_a_gather_of_no_indices_assembles(tmp_path):
    """The index check's kernel takes two buffers, the first bad position's and the record's (the
    empty indices were a third), and ptxas -arch=sm_90 assembles it."""
    ptx = compile_nvptx(tmp_path, GATHER_OF_NO_INDICES, "--emit", "ptx")
    entries = re.findall(r"^\.visible \.entry \w+\(([^)]*)\)", ptx, re.MULTILINE)
    assert len(entries) == 1 and entries[0].count(".param") == 2
    ptxas_info(tmp_path, ptx)
