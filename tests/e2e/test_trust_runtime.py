"""Compiled code that random-graph testing found reading or writing past its buffers (issue 12,
section 2): broadcasting decided at run time (2) and allocations too large to make (5). Each
case is checked against numpy, or against TensorFlow's error and message, and the session is
used again after an error."""

import numpy as np
import pytest

import tgc
import tgc as tf
from tgc.runtime import executable


def _run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


# ---- 2. an unknown dim fed as 1 broadcasts -------------------------------------------------------


def test_unknown_dim_fed_as_one_broadcasts_and_its_gradient_sums_back():
    x = tf.placeholder(tf.float32, [None, 3])
    c = tf.placeholder(tf.float32, [None, 3])
    y = x + c
    gx, gc = tf.gradients(tf.reduce_sum(y * y), [x, c])
    xv = np.arange(12, dtype=np.float32).reshape(4, 3)
    cv = np.array([[10, 20, 30]], np.float32)
    with tf.Session() as sess:
        out, gxv, gcv = sess.run([y, gx, gc], {x: xv, c: cv})
        np.testing.assert_array_equal(out, xv + cv)
        np.testing.assert_allclose(gxv, 2 * (xv + cv))
        assert gcv.shape == (1, 3)
        np.testing.assert_allclose(gcv, (2 * (xv + cv)).sum(0, keepdims=True))
        # the other operand broadcasting, through the same compiled function
        out, gxv, gcv = sess.run([y, gx, gc], {x: cv, c: xv})
        np.testing.assert_array_equal(out, xv + cv)
        assert gxv.shape == (1, 3) and gcv.shape == (4, 3)
        np.testing.assert_allclose(gxv, (2 * (xv + cv)).sum(0, keepdims=True))
        # equal dims, and an empty batch against a row
        out = sess.run(y, {x: xv, c: xv})
        np.testing.assert_array_equal(out, 2 * xv)
        assert sess.run(y, {x: np.zeros((0, 3), np.float32), c: cv}).shape == (0, 3)


def test_ten_million_rows_broadcast_without_reading_past_the_row():
    x = tf.placeholder(tf.float32, [None, 3])
    c = tf.placeholder(tf.float32, [None, 3])
    xv = np.ones((10_000_000, 3), np.float32)
    out = _run(x + c, {x: xv, c: np.array([[1, 2, 3]], np.float32)})
    assert out.shape == (10_000_000, 3)
    np.testing.assert_array_equal(out[[0, 1, 5_000_000, -1]], [[2, 3, 4]] * 4)


_BINARY = {
    "add": (tf.add, np.add),
    "subtract": (tf.subtract, np.subtract),
    "multiply": (tf.multiply, np.multiply),
    "maximum": (tf.maximum, np.maximum),
    "minimum": (tf.minimum, np.minimum),
    "less": (tf.less, np.less),
    "equal": (tf.equal, np.equal),
}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_every_binary_op_broadcasts_unknown_dims_of_one_in_every_dtype(dtype):
    rng = np.random.default_rng(0)
    # x: [None, None, 3] fed (2, 1, 3); y: [None, 4, None] fed (1, 4, 3): each
    # broadcasts on a different axis
    x = tf.placeholder(dtype, [None, None, 3])
    y = tf.placeholder(dtype, [None, 4, None])
    xv = rng.integers(1, 5, (2, 1, 3)).astype(dtype)
    yv = rng.integers(1, 5, (1, 4, 3)).astype(dtype)
    names = sorted(_BINARY)
    outs = _run([_BINARY[n][0](x, y) for n in names], {x: xv, y: yv})
    for name, out in zip(names, outs):
        np.testing.assert_array_equal(out, _BINARY[name][1](xv, yv), err_msg=name)


def test_where_and_logic_broadcast_unknown_dims_of_one():
    cond = tf.placeholder(tf.bool, [None, None])
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, None])
    a = tf.placeholder(tf.bool, [None, 3])
    cv = np.array([[True], [False]])  # (2, 1)
    xv = np.array([[1, 2, 3]], np.float32)  # (1, 3)
    yv = np.full((2, 3), -1, np.float32)
    av = np.array([[True, False, True]])
    picked, both = _run(
        [tf.where(cond, x, y), tf.logical_and(cond, a)], {cond: cv, x: xv, y: yv, a: av}
    )
    np.testing.assert_array_equal(picked, np.where(cv, xv, yv))
    np.testing.assert_array_equal(both, np.logical_and(cv, av))


def test_where_gradients_sum_back_to_the_fed_shapes():
    cond = tf.placeholder(tf.bool, [None, None])
    x = tf.placeholder(tf.float64, [None, 3])
    y = tf.placeholder(tf.float64, [None, None])
    gx, gy = tf.gradients(tf.reduce_sum(tf.where(cond, x, y) * 3.0), [x, y])
    cv = np.array([[True], [False]])
    gxv, gyv = _run([gx, gy], {cond: cv, x: np.ones((1, 3)), y: np.ones((2, 3))})
    np.testing.assert_array_equal(gxv, [[3, 3, 3]])
    np.testing.assert_array_equal(gyv, [[0, 0, 0], [3, 3, 3]])


def test_fill_with_a_fed_scalar_row_broadcasts_to_the_fed_shape():
    x = tf.placeholder(tf.float32, [None, 3])
    v = tf.placeholder(tf.float32, [None, 3])
    out = _run(
        tf.fill(tf.shape(x), 0.0) + v,
        {x: np.zeros((4, 3), np.float32), v: np.ones((1, 3), np.float32)},
    )
    np.testing.assert_array_equal(out, np.ones((4, 3)))


def test_jit_broadcasts_and_differentiates_unknown_dims_of_one():
    f = tgc.jit(lambda a, b: a * b)
    a, b = np.arange(6.0).reshape(3, 2), np.array([[2.0, 3.0]])
    np.testing.assert_array_equal(f(a, b), a * b)
    ga, gb = tgc.grad(lambda a, b: tgc.reduce_sum(a * b), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ga, np.broadcast_to(b, a.shape))
    np.testing.assert_array_equal(gb, a.sum(0, keepdims=True))


# ---- 2. dims that do not broadcast fail with TensorFlow's error, from the compiled code itself ---


def _compiled_add(dtype="float32"):
    """x + y compiled for feeds [None, 3] and run without the session's shape validation,
    as an artifact or a second caller would: the compiled code's own check must catch what
    the session would refuse."""
    from tgc.driver.jit import compile_run
    from tgc.graph.prune import prune

    x = tf.placeholder(dtype, [None, 3], name="x")
    y = tf.placeholder(dtype, [None, 3], name="y")
    z = tf.add(x, y, name="sum")
    compiled = compile_run(prune([z.op], {x, y}), [(x, x.spec), (y, y.spec)], [z])
    return lambda a, b: compiled.call([a, b], {})[0][0]


@pytest.mark.parametrize("path", ["c", "python"])
def test_incompatible_run_time_shapes_raise_tensorflows_error_and_the_code_stays_usable(
    path, monkeypatch
):
    if (
        path == "python"
    ):  # the runtime without its C extension: the handler records, the code returns
        monkeypatch.setattr(executable, "_fastcall", None)
    call = _compiled_add()
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        call(np.ones((4, 3), np.float32), np.ones((2, 3), np.float32))
    assert str(info.value).startswith("Incompatible shapes: [4,3] vs. [2,3]")
    assert "[[node sum (defined at" in str(info.value)
    np.testing.assert_array_equal(
        call(np.ones((4, 3), np.float32), np.full((1, 3), 2, np.float32)), np.full((4, 3), 3)
    )


# ---- 5. an allocation that cannot be made raises ResourceExhaustedError; the session stays usable

_HUGE = [10**6, 10**6]
# Surviving a failed allocation needs the C call path's guard; without it the process ends (README).
needs_guard = pytest.mark.skipif(
    executable._fastcall is None, reason="needs the C extension tgc.runtime._fastcall"
)
_OOM = (
    "OOM when allocating tensor with shape[1000000,1000000] and type {} on "
    "/job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu"
)


@needs_guard
@pytest.mark.parametrize(
    "make, dtype, node",
    [
        (lambda: tf.fill(_HUGE, 1.0), "float", "Fill"),
        (lambda: tf.zeros(_HUGE, tf.int32), "int32", "zeros"),
        (lambda: tf.random_normal(_HUGE, dtype=tf.float64), "double", "random_normal"),
        (lambda: tf.tile(tf.constant([[1.0]]), _HUGE), "float", "Tile"),
    ],
)
def test_a_huge_static_tensor_raises_resource_exhausted_naming_op_and_shape(make, dtype, node):
    huge = make()
    x = tf.placeholder(tf.float32, [None])
    small = x * 2.0
    with tf.Session() as sess:
        with pytest.raises(tf.errors.ResourceExhaustedError) as info:
            sess.run(huge)
        message = str(info.value)
        if node == "Tile":  # its buffer is the (rows, copies, cols, copies) block it reshapes
            assert message.startswith(
                _OOM.format(dtype).replace("1000000,1000000", "1000000,1,1000000,1")
            )
        else:
            assert message.startswith(_OOM.format(dtype))
        assert f"[[node {node}" in message
        np.testing.assert_array_equal(
            sess.run(small, {x: np.arange(3, dtype=np.float32)}), [0, 2, 4]
        )


@needs_guard
def test_a_run_time_matmul_too_large_raises_and_the_next_run_is_right():
    a = tf.placeholder(tf.float32, [None, 1])
    b = tf.placeholder(tf.float32, [1, None])
    product = tf.matmul(a, b, name="outer")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.ResourceExhaustedError) as info:
            sess.run(
                product, {a: np.ones((10**6, 1), np.float32), b: np.ones((1, 10**6), np.float32)}
            )
        assert str(info.value).startswith(_OOM.format("float"))
        assert "[[node outer (defined at" in str(info.value)
        small = sess.run(product, {a: [[1.0], [2.0]], b: [[3.0, 4.0]]})
        np.testing.assert_array_equal(small, [[3, 4], [6, 8]])


@needs_guard
def test_an_allocation_failing_on_the_second_device_aborts_the_run_and_the_session_recovers():
    x = tf.placeholder(tf.float32, [None])
    with tf.device("/cpu:0"):
        doubled = x * 2.0
    with tf.device("/cpu:1"):
        huge = tf.fill(_HUGE, 1.0) + tf.reduce_sum(doubled)
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        with pytest.raises(tf.errors.ResourceExhaustedError) as info:
            sess.run(huge, {x: np.ones(3, np.float32)})
        assert "device:CPU:1" in str(info.value)
        np.testing.assert_array_equal(sess.run(doubled, {x: np.ones(3, np.float32)}), [2, 2, 2])


@pytest.mark.parametrize("prefer", ["library", "llvm-ir"])
def test_an_artifact_raises_incompatible_shapes_and_broadcasts_a_dim_of_one(tmp_path, prefer):
    from tgc.frontend.export import export_graph
    from tgc.runtime.artifact import load
    from tgc.tools.cli import main as cli_main

    if prefer == "llvm-ir":
        pytest.importorskip("llvmlite")
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 3], name="y")
    tf.add(x, y, name="sum")
    graph = tmp_path / "graph.mlir"
    export_graph(["sum"], ["x", "y"], path=str(graph))
    with pytest.raises(SystemExit) as done:
        cli_main(["compile", str(graph), "-o", str(tmp_path / "art")])
    assert done.value.code in (0, None)
    art = load(str(tmp_path / "art"), prefer=prefer)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"^Incompatible shapes: \[4,3\] vs\. \[2,3\]"
    ):
        art(x=np.ones((4, 3), np.float32), y=np.ones((2, 3), np.float32))
    out = art(x=np.ones((4, 3), np.float32), y=np.full((1, 3), 2, np.float32))["sum"]
    np.testing.assert_array_equal(out, np.full((4, 3), 3))
