"""tf.range, tf.zeros, tf.ones and tf.fill of sizes known only at run time
(``tf.range(tf.shape(x)[0])``, ``tf.zeros([batch, n_hidden])``), as TF1 programs build index
vectors and initial states; numpy is the reference, and TF's run-time errors for a zero delta,
bounds in the wrong order and a negative dim."""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf


def test_range_of_run_time_bounds_matches_numpy():
    x = tf.placeholder(tf.float32, [None, 3])
    n = tf.shape(x)[0]
    limit = tf.placeholder(tf.float32, [])
    step = tf.placeholder(tf.int64, [])
    ranges = {
        "count": tf.range(n),
        "odd": tf.range(1, n * 3, 2),
        "down": tf.range(5, n, -1),
        "floats": tf.range(0.5, limit, 0.25),
        "int64": tf.range(0, 10, step),
        "empty": tf.range(n, n),
    }
    assert ranges["count"].shape.as_list() == [None] and ranges["floats"].dtype == tf.float32
    assert ranges["int64"].dtype == tf.int64
    with tf.Session() as sess:
        got = sess.run(ranges, {x: np.zeros((4, 3)), limit: 1.6, step: 3})
    want = {
        "count": np.arange(4),
        "odd": np.arange(1, 12, 2),
        "down": np.arange(5, 4, -1),
        "floats": 0.5 + np.arange(5) * 0.25,
        "int64": np.arange(0, 10, 3),
        "empty": np.arange(4, 4),
    }
    for key, expected in want.items():
        np.testing.assert_allclose(got[key], expected, err_msg=key)
        assert got[key].dtype == np.dtype(ranges[key].dtype.name), key


def test_the_dynamic_rnn_tutorials_last_relevant_output():
    """aymericdamien's dynamic_rnn: the output at each sequence's last step, by flat index."""
    outputs = tf.placeholder(tf.float32, [None, 5, 2])
    seqlen = tf.placeholder(tf.int32, [None])
    batch_size = tf.shape(outputs)[0]
    index = tf.range(0, batch_size) * 5 + (seqlen - 1)
    last = tf.gather(tf.reshape(outputs, [-1, 2]), index)
    values = np.arange(30, dtype=np.float32).reshape(3, 5, 2)
    lengths = np.array([2, 5, 1], np.int32)
    with tf.Session() as sess:
        got = sess.run(last, {outputs: values, seqlen: lengths})
    np.testing.assert_array_equal(got, values[np.arange(3), lengths - 1])


def test_range_checks_fail_the_run_as_tfs_do():
    step = tf.placeholder(tf.int32, [])
    r = tf.range(0, 10, step)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Requires delta != 0:\] \[0\]"):
            sess.run(r, {step: 0})
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Requires start <= limit when delta > 0.*\[0\] \[10\] \[-1\]",
        ):
            sess.run(r, {step: -1})
        np.testing.assert_array_equal(sess.run(r, {step: 4}), [0, 4, 8])  # usable after


def test_fills_of_run_time_dims():
    x = tf.placeholder(tf.float32, [None, 3])
    n = tf.shape(x)[0]
    fills = {
        "zeros": tf.zeros([n, 10]),
        "ones_int": tf.ones(tf.stack([2, n]), dtype=tf.int32),
        "fill": tf.fill([n, 2], 2.5),
        "inner": tf.zeros([3, n, 2], dtype=tf.float64),
    }
    assert fills["zeros"].shape.as_list() == [None, 10]
    with tf.Session() as sess:
        got = sess.run(fills, {x: np.zeros((4, 3))})
    np.testing.assert_array_equal(got["zeros"], np.zeros((4, 10), np.float32))
    np.testing.assert_array_equal(got["ones_int"], np.ones((2, 4), np.int32))
    np.testing.assert_array_equal(got["fill"], np.full((4, 2), 2.5, np.float32))
    assert got["inner"].shape == (3, 4, 2) and got["inner"].dtype == np.float64
    assert not got["inner"].any()


def test_a_float_fill_of_an_int_tensors_shape_keeps_its_fraction():
    p = tf.placeholder(tf.int32, [None])
    with tf.Session() as sess:
        got = sess.run(tf.fill(tf.shape(p), 0.05), {p: [1, 2, 3]})
    np.testing.assert_allclose(got, [0.05] * 3, rtol=1e-7)  # was 0 (the int tensor's dtype)


def test_a_negative_run_time_dim_is_tfs_error():
    k = tf.placeholder(tf.int32, [])
    z = tf.zeros([k, 2])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Fill dims must be >= 0.*\[-2\]"):
            sess.run(z, {k: -2})
        assert sess.run(z, {k: 0}).shape == (0, 2)


def test_reshape_to_run_time_dims_matches_numpy_with_its_gradient():
    x = tf.placeholder(tf.float32, [None, 4, 3])
    n = tf.shape(x)[0]
    reshaped = {
        "batch_rest": tf.reshape(x, [n, -1]),
        "stacked": tf.reshape(x, tf.stack([n * 2, 6])),
        "full": tf.reshape(x, [n, 4, 3]),
    }
    assert reshaped["full"].shape.as_list() == [None, 4, 3]
    assert reshaped["batch_rest"].shape.as_list() == [None, None]
    (grad,) = tf.gradients(tf.reduce_sum(reshaped["batch_rest"] ** 2), [x])
    values = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    with tf.Session() as sess:
        got, got_grad = sess.run([reshaped, grad], {x: values})
    np.testing.assert_array_equal(got["batch_rest"], values.reshape(2, 12))
    np.testing.assert_array_equal(got["stacked"], values.reshape(4, 6))
    np.testing.assert_array_equal(got["full"], values)
    np.testing.assert_array_equal(got_grad, 2 * values)


def test_a_run_time_shape_that_does_not_fit_is_tfs_error():
    x = tf.placeholder(tf.float32, [None, 4, 3])
    k = tf.placeholder(tf.int32, [])
    values = np.zeros((2, 4, 3), np.float32)
    with tf.Session() as sess:
        # TF's words (tests/oracle/kernel_messages.py has more)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"^Input to reshape is a tensor with 24 values, but the requested shape has 15",
        ):
            sess.run(tf.reshape(x, [k, 5]), {x: values, k: 3})
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"requested shape requires a multiple of 5"
        ):
            sess.run(tf.reshape(x, [k, -1]), {x: values, k: 5})  # 24 is no multiple of 5
        assert sess.run(tf.reshape(x, [k, -1]), {x: values, k: 6}).shape == (6, 4)


def test_a_reshape_to_a_static_shape_checks_the_run_time_size():
    """A cond merging [2, 3] and [1, 3] gives [?, 3]; its reshape to [2, 3] read past the [1, 3]
    branch's buffer (garbage in the second row) instead of failing as TF's CPU kernel does."""
    v = tf.placeholder(tf.float64, [3])
    pred = tf.placeholder(tf.bool, [])
    merged = tf.cond(pred, lambda: tf.ones([2, 3], tf.float64), lambda: tf.expand_dims(v, 0))
    assert merged.shape.as_list() == [None, 3]
    reshaped = tf.reshape(merged, [2, 3])
    rows = tf.reshape(merged, [-1, 2])  # 6 values fit, 3 do not
    like = tf.reshape(merged, tf.shape(tf.zeros([3, 2])))
    with tf.Session() as sess:
        np.testing.assert_array_equal(
            sess.run(reshaped, {v: [1, 2, 3], pred: True}), np.ones((2, 3))
        )
        np.testing.assert_array_equal(sess.run(rows, {v: [1, 2, 3], pred: True}), np.ones((3, 2)))
        np.testing.assert_array_equal(sess.run(like, {v: [1, 2, 3], pred: True}), np.ones((3, 2)))
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Input to reshape is a tensor with 3 values, but the requested shape has 6"
            r"\n\t \[\[node Reshape \(defined at ",
        ):
            sess.run(reshaped, {v: [1, 2, 3], pred: False})
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Input to reshape is a tensor with 3 values, but the requested shape requires "
            r"a multiple of 2\n\t \[\[node Reshape_1 ",
        ):
            sess.run(rows, {v: [1, 2, 3], pred: False})
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Input to reshape is a tensor with 3 values, but the requested shape has 6",
        ):
            sess.run(like, {v: [1, 2, 3], pred: False})


def test_a_reshape_of_a_data_dependent_size():
    """boolean_mask's size is known only at run time: [-1, 3] needs a multiple of 3."""
    x = tf.placeholder(tf.float32, [6])
    rows = tf.reshape(tf.boolean_mask(x, x > 0), [-1, 3])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(rows, {x: [1, 2, 3, -4, -5, -6]}), [[1, 2, 3]])
        np.testing.assert_array_equal(
            sess.run(rows, {x: [1, 2, 3, 4, 5, 6]}), [[1, 2, 3], [4, 5, 6]]
        )
        assert sess.run(rows, {x: [-1] * 6}).shape == (0, 3)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Input to reshape is a tensor with 4 values, but the requested shape requires "
            r"a multiple of 3",
        ):
            sess.run(rows, {x: [1, -1, 2, 3, -4, 5]})


def test_bounds_on_dims_known_at_run_time_only_are_tfs_errors():
    """A cond merging [5] and [3] gives [?]: a slice, an index, a split and a matmul that fit the
    [5] read past the [3] branch's buffer (garbage, or a product over 3 of 5 terms) instead of
    failing as TF's CPU kernels do."""
    v = tf.placeholder(tf.float64, [3])
    pred = tf.placeholder(tf.bool, [])
    merged = tf.cond(pred, lambda: tf.range(5.0, dtype=tf.float64), lambda: v)
    assert merged.shape.as_list() == [None]
    ops = {
        "slice": tf.slice(merged, [1], [4]),
        "late_begin": tf.slice(merged, [4], [-1]),
        "index": merged[4],
        "split": tf.split(merged, [2, 3])[1],
        "halves": tf.split(merged, 5)[4],
        "matmul": tf.matmul(tf.reshape(merged, [1, -1]), tf.ones([5, 1], tf.float64)),
    }
    with tf.Session() as sess:
        got = sess.run(ops, {v: [7, 8, 9], pred: True})
        np.testing.assert_array_equal(got["slice"], [1, 2, 3, 4])
        np.testing.assert_array_equal(got["late_begin"], [4])
        assert got["index"] == 4
        np.testing.assert_array_equal(got["split"], [2, 3, 4])
        np.testing.assert_array_equal(got["halves"], [4])
        np.testing.assert_array_equal(got["matmul"], [[10]])
        expected = {
            "slice": r"Expected size\[0\] in \[0, 2\], but got 4",
            "late_begin": r"Expected begin\[0\] in \[0, 3\], but got 4",
            "index": r"Can not squeeze dim\[0\], expected a dimension of 1, got 0",
            "split": r"Expected size\[0\] in \[0, 1\], but got 3",
            "halves": r"Number of ways to split should evenly divide the split dimension, but got "
            r"split_dim 0 \(size = 3\) and num_split 5",
            "matmul": r"Matrix size-incompatible: In\[0\]: \[1,3\], In\[1\]: \[5,1\]",
        }
        for name, message in expected.items():
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                sess.run(ops[name], {v: [7, 8, 9], pred: False})


def test_a_concat_of_dims_that_differ_at_run_time_is_an_error():
    """tf.stack of a [5] and a [3] that the graph knows as [?] each, and a concat along axis 1 of
    [5, 2] and [3, 4]: tgc returned [2, 3] and [3, 6] (the first operand read over the second's
    size) instead of failing as TF does ("Shapes of all inputs must match", "ConcatOp : Dimensions
    of inputs should match")."""
    pred = tf.placeholder(tf.bool, [])
    five = tf.cond(pred, lambda: tf.ones([5]), lambda: tf.ones([3]))
    three = tf.cond(pred, lambda: tf.ones([3]), lambda: tf.ones([3]))
    rows = tf.cond(pred, lambda: tf.ones([5, 2]), lambda: tf.ones([3, 2]))
    wide = tf.cond(pred, lambda: tf.ones([3, 4]), lambda: tf.ones([3, 4]))
    stacked, joined = tf.stack([five, three]), tf.concat([rows, wide], 1)
    with tf.Session() as sess:
        got_stacked, got_joined = sess.run([stacked, joined], {pred: False})
        np.testing.assert_array_equal(got_stacked, np.ones((2, 3)))
        np.testing.assert_array_equal(got_joined, np.ones((3, 6)))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[1,5\] vs. \[1,3\]"):
            sess.run(stacked, {pred: True})
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[5,2\] vs. \[3,4\]"):
            sess.run(joined, {pred: True})


def test_a_matrix_that_is_not_square_at_run_time_is_an_error():
    """A cond merging a [3, 3] and a [2, 3] gives [?, 3], which matrix_inverse takes for [3, 3]:
    the [2, 3] branch's inverse was read past its buffer (NaNs and Infs), its determinant 0."""
    pred = tf.placeholder(tf.bool, [])
    a = tf.cond(pred, lambda: 2 * tf.eye(3, dtype=tf.float64), lambda: tf.ones([2, 3], tf.float64))
    inverse, det = tf.matrix_inverse(a), tf.matrix_determinant(a)
    with tf.Session() as sess:
        got_inverse, got_det = sess.run([inverse, det], {pred: True})
        np.testing.assert_allclose(got_inverse, np.eye(3) / 2)
        assert got_det == 8
        for fetch in (inverse, det):
            with pytest.raises(
                tf.errors.InvalidArgumentError,
                match=r"Input matrix must be square, got a 2x3 matrix\.",
            ):
                sess.run(fetch, {pred: False})


def test_a_diagonal_whose_dims_differ_at_run_time_is_an_error():
    """tf.diag_part of a cond merging a [4, 4] and a [3, 4] ([?, 4]) read x[i, i] for i < 3 of the
    [3, 4] branch (an answer where TF fails), and of [2, 3, 2, 3] and [2, 2, 2, 3] ([2, ?, 2, 3])
    read past the smaller one. TF 2.21's messages (tests/oracle/run_time_dims.py):
    'Invalid shape [3,4]: dimensions 0 and 1 do not match.'"""
    pred = tf.placeholder(tf.bool, [])
    square = tf.cond(
        pred, lambda: tf.reshape(tf.range(16.0), [4, 4]), lambda: tf.ones([3, 4], tf.float32)
    )
    blocks = tf.cond(
        pred,
        lambda: tf.reshape(tf.range(36, dtype=tf.int64), [2, 3, 2, 3]),
        lambda: tf.ones([2, 2, 2, 3], tf.int64),
    )
    assert square.shape.as_list() == [None, 4] and blocks.shape.as_list() == [2, None, 2, 3]
    diagonals = [tf.diag_part(square), tf.diag_part(blocks)]
    with tf.Session() as sess:
        got_square, got_blocks = sess.run(diagonals, {pred: True})
        np.testing.assert_array_equal(got_square, [0, 5, 10, 15])
        np.testing.assert_array_equal(got_blocks, [[0, 7, 14], [21, 28, 35]])
        messages = [
            r"Invalid shape \[3,4\]: dimensions 0 and 1 do not match\.",
            r"Invalid shape \[2,2,2,3\]: dimensions 1 and 3 do not match\.",
        ]
        for fetch, message in zip(diagonals, messages):
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                sess.run(fetch, {pred: False})


def test_conv_backprops_of_batches_that_differ_at_run_time_are_errors():
    """tf.nn.conv2d_backprop_filter and _input of an input and a gradient whose batch sizes a cond
    leaves unknown ([?, 5, 5, 3]) read the larger over the smaller's batch (the filter's
    gradient summed a batch row past the [1, ...] buffer) instead of failing as TF 2.21's kernels do
    (tests/oracle/run_time_dims.py, oneDNN off: TF's own kernels). The filter's gradient of a static
    input and a gradient of unknown batch does not compile today (/tmp/notes/findings-rtdims.md)."""
    pred = tf.placeholder(tf.bool, [])
    x = tf.cond(pred, lambda: tf.ones([2, 5, 5, 3]), lambda: tf.ones([1, 5, 5, 3]))
    g = tf.cond(pred, lambda: tf.ones([2, 5, 5, 4]), lambda: tf.ones([1, 5, 5, 4]))
    same = [1, 1, 1, 1]
    backprops = {
        "filter_of_x": tf.nn.conv2d_backprop_filter(
            x, [3, 3, 3, 4], tf.ones([2, 5, 5, 4]), same, "SAME"
        ),
        "input_of_g": tf.nn.conv2d_backprop_input(
            [2, 5, 5, 3], tf.ones([3, 3, 3, 4]), g, same, "SAME"
        ),
    }
    # All ones: each filter tap sums, per image, the 16, 20 or 25 input positions it meets.
    per_image = np.outer([4, 5, 4], [4, 5, 4]).reshape(3, 3, 1, 1) * np.ones((3, 3, 3, 4))
    with tf.Session() as sess:
        got = sess.run(backprops, {pred: True})
        np.testing.assert_array_equal(got["filter_of_x"], 2 * per_image)
        assert got["input_of_g"].shape == (2, 5, 5, 3) and got["input_of_g"][0, 2, 2, 0] == 36
        expected = {
            "filter_of_x": r"Conv2DCustomBackpropFilter: input and out_backprop must have the same "
            r"batch size\. Input batch: 1, outbackprop batch: 2, batch_dim: 0",
            "input_of_g": r"Conv2DCustomBackpropInput: input and out_backprop must have the same "
            r"batch size\. Input batch: 2, outbackprop batch: 1, batch_dim: 0",
        }
        for name, message in expected.items():
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                sess.run(backprops[name], {pred: False})


def test_a_tensor_array_row_whose_size_differs_at_run_time_is_an_error():
    """A TensorArray of rows [3] written a cond's [2] ([?] to the graph) took the two values and
    left the third of the row unwritten (0) instead of failing as TF 2.21 does
    (tests/oracle/run_time_dims.py: TF's message is prefixed 'TensorArray TensorArray_0: ')."""
    pred = tf.placeholder(tf.bool, [])
    row = tf.cond(pred, lambda: tf.constant([4.0, 5.0, 6.0]), lambda: tf.constant([4.0, 5.0]))
    stacked = tf.TensorArray(tf.float32, size=2).write(0, tf.ones([3])).write(1, row).stack()
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(stacked, {pred: True}), [[1, 1, 1], [4, 5, 6]])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Could not write to TensorArray index 1 because the value shape is \[2\] which "
            r"is incompatible with the TensorArray's inferred element shape: \[3\] \(consider "
            r"setting infer_shape=False\)\.",
        ):
            sess.run(stacked, {pred: False})


def test_a_conv_input_gradient_whose_size_differs_at_run_time_is_an_error():
    """tf.nn.conv2d_backprop_input of a gradient whose height, width or depth a cond leaves unknown
    did not compile (a Python TypeError in the lowering, or 'no size for dynamic dim'); now it runs
    the branch that fits and fails the other with TF 2.21's errors (tests/oracle/run_time_dims.py,
    oneDNN off)."""
    pred = tf.placeholder(tf.bool, [])
    filters = tf.ones([3, 3, 3, 4])
    others = {"height": [2, 4, 5, 4], "width": [2, 5, 6, 4], "depth": [2, 5, 5, 3]}
    backprops = {}
    for name, other in others.items():
        g = tf.cond(pred, lambda: tf.ones([2, 5, 5, 4]), lambda o=other: tf.ones(o))
        assert g.shape.as_list().count(None) == 1
        backprops[name] = tf.nn.conv2d_backprop_input(
            [2, 5, 5, 3], filters, g, [1, 1, 1, 1], "SAME"
        )
    expected = {
        "height": r"Conv2DCustomBackpropInput: Size of out_backprop doesn't match computed: "
        r"actual = 4, computed = 5 spatial_dim: 1 input: 5 filter: 3 output: 4 stride: 1 "
        r"dilation: 1",
        "width": r"actual = 6, computed = 5 spatial_dim: 2 input: 5 filter: 3 output: 6 stride: 1",
        "depth": r"Conv2DCustomBackpropInput: filter and out_backprop must have the same out_depth",
    }
    with tf.Session() as sess:
        for name, fetch in backprops.items():
            got = sess.run(fetch, {pred: True})
            assert got.shape == (2, 5, 5, 3) and got[1, 2, 2, 2] == 36, name  # 9 taps x 4
            with pytest.raises(tf.errors.InvalidArgumentError, match=expected[name]):
                sess.run(fetch, {pred: False})


def test_scatter_nd_updates_that_do_not_fit_at_run_time_are_an_error():
    """tf.scatter_nd of updates whose size a cond leaves unknown took the [1] branch's one update
    for two index rows (the second read past its buffer: 3e-41 in the output) and [2, 2] rows into
    a [4, 3] shape (3 values read per 2-value row). TF 2.21 fails both
    (tests/oracle/run_time_dims.py): 'Dimensions [0,1) of indices[shape=[2,1]] must match
    dimensions [0,1) of updates[shape=[1]]', 'Dimensions [1,2) of input[shape=[4,3]] must match
    dimensions [1,2) of updates[shape=[2,2]]'; tgc's assertion says the same with the shapes."""
    pred = tf.placeholder(tf.bool, [])
    rows = tf.cond(pred, lambda: tf.constant([5.0, 6.0]), lambda: tf.constant([5.0]))
    wide = tf.cond(pred, lambda: tf.ones([2, 3]), lambda: tf.ones([2, 2]))
    scattered = {
        "rows": tf.scatter_nd([[0], [2]], rows, [4]),
        "wide": tf.scatter_nd([[0], [2]], wide, [4, 3]),
    }
    with tf.Session() as sess:
        got = sess.run(scattered, {pred: True})
        np.testing.assert_array_equal(got["rows"], [5, 0, 6, 0])
        np.testing.assert_array_equal(got["wide"], [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]])
        failing = {
            "rows": r"Dimensions \[0,1\) of indices must match dimensions \[0,1\) of updates; "
            r"indices' shape, updates' shape:\] \[2 1\] \[1\]",
            "wide": r"Dimensions \[1,2\) of input must match dimensions \[1,2\) of updates; "
            r"shape\[1:\], updates' shape:\] \[3\] \[2 2\]",
        }
        for name, message in failing.items():
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                sess.run(scattered[name], {pred: False})


def test_in_top_k_of_a_target_count_that_differs_at_run_time_is_an_error():
    """tf.nn.in_top_k of [2, 3] predictions and a cond's [1] targets ([?] to the graph) broadcast
    the one target over both rows ([True, True]) where TF 2.21 fails: 'First dimension of
    predictions 2 must match length of targets 1' (tests/oracle/run_time_dims.py)."""
    pred = tf.placeholder(tf.bool, [])
    targets = tf.cond(pred, lambda: tf.constant([2, 0]), lambda: tf.constant([2]))
    hits = tf.nn.in_top_k(tf.constant([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]), targets, 1)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(hits, {pred: True}), [True, True])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"First dimension of predictions must match length of targets:\] \[2\] \[1\]",
        ):
            sess.run(hits, {pred: False})


def test_sequence_lengths_that_do_not_fit_the_batch_at_run_time_are_errors():
    """tf.reverse_sequence and tf.nn.dynamic_rnn of a cond's [1] lengths ([?] to the graph) for a
    batch of 2 broadcast the one length over both rows where TF 2.21 fails
    (tests/oracle/run_time_dims.py): 'Length of seq_lengths != input.dims(0), (1 vs. 2)', and for
    dynamic_rnn (TF_USE_LEGACY_KERAS=1) its Select's 'Number of batches of 'then' must match size
    of 'cond', but saw: 2 vs. 1'."""
    pred = tf.placeholder(tf.bool, [])
    lengths = tf.cond(pred, lambda: tf.constant([2, 3]), lambda: tf.constant([2]))
    steps = tf.reshape(tf.range(6.0), [2, 3])
    reversed_ = tf.reverse_sequence(steps, lengths, seq_axis=1, batch_axis=0)
    cell = tf.nn.rnn_cell.BasicRNNCell(2)
    outputs, _ = tf.nn.dynamic_rnn(
        cell, tf.ones([2, 3, 1]), sequence_length=lengths, dtype=tf.float32
    )
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(reversed_, {pred: True}), [[1, 0, 2], [5, 4, 3]])
        got = sess.run(outputs, {pred: True})
        assert not got[0, 2].any() and got[1, 2].all()  # row 0 stops after 2 steps
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Length of seq_lengths != input\.dims\(0\):\] \[1\] \[2\]",
        ):
            sess.run(reversed_, {pred: False})
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"sequence_length must hold one length per batch row: lengths, batch size\] "
            r"\[1\] \[2\]",
        ):
            sess.run(outputs, {pred: False})


def test_sparse_to_dense_values_that_do_not_fit_the_indices_are_an_error():
    """tf.sparse_to_dense of a cond's [1] values for 2 indices broadcast the one value as if it were
    a scalar ([1, 0, 1, 0]) where TF 2.21 fails: 'sparse_values has incorrect shape [1], should be
    [] or [2]' (tests/oracle/run_time_dims.py); the same sizes known when the graph is built fail
    there."""
    pred = tf.placeholder(tf.bool, [])
    values = tf.cond(pred, lambda: tf.constant([5.0, 6.0]), lambda: tf.constant([5.0]))
    dense = tf.sparse_to_dense([[0], [2]], [4], values)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(dense, {pred: True}), [5, 0, 6, 0])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"sparse_values has incorrect shape, should be \[\] or \[K\]: its size, K\] "
            r"\[1\] \[2\]",
        ):
            sess.run(dense, {pred: False})
    with pytest.raises(ValueError, match=r"sparse_values has incorrect shape \[1\], should be "):
        tf.sparse_to_dense([[0], [2]], [4], [5.0])
    scalar = tf.sparse_to_dense([[0], [2]], [4], 5.0)  # one value for every index
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(scalar), [5, 0, 5, 0])


def test_crop_and_resize_box_indices_that_do_not_fit_the_boxes_are_an_error():
    """tf.image.crop_and_resize of a cond's [1] boxes with 2 box indices, or 2 boxes with a cond's
    [1] indices, broadcast the one over the other where TF 2.21 fails: 'box_index has
    incompatible shape' (tests/oracle/run_time_dims.py); counts known when the graph is built fail
    there."""
    pred = tf.placeholder(tf.bool, [])
    image = tf.reshape(tf.range(32.0), [2, 4, 4, 1])
    whole = [0.0, 0.0, 1.0, 1.0]
    boxes = tf.cond(pred, lambda: tf.constant([whole, whole]), lambda: tf.constant([whole]))
    indices = tf.cond(pred, lambda: tf.constant([1, 0]), lambda: tf.constant([1]))
    crops = {
        "boxes": tf.image.crop_and_resize(image, boxes, [1, 0], [2, 2]),
        "indices": tf.image.crop_and_resize(image, [whole, whole], indices, [2, 2]),
    }
    corners = np.array([[[16, 19], [28, 31]], [[0, 3], [12, 15]]], np.float32)[..., None]
    with tf.Session() as sess:
        got = sess.run(crops, {pred: True})
        for name in crops:
            np.testing.assert_array_equal(got[name], corners, err_msg=name)
            with pytest.raises(
                tf.errors.InvalidArgumentError, match=r"box_index has incompatible shape"
            ):
                sess.run(crops[name], {pred: False})
    with pytest.raises(ValueError, match=r"box_index has incompatible shape: 1 indices for 2"):
        tf.image.crop_and_resize(image, [whole, whole], [0], [2, 2])


def test_pool_and_filter_gradient_of_a_batch_known_at_run_time_compile_in_a_session():
    """A cond merging a [2, 4, 4, 3] and a [1, 4, 4, 3] batch gave its buffer a fully dynamic
    layout, whose vector reads (max-pool's, the filter gradient's) no pass lowers: "Failure while
    creating the ExecutionEngine" (tgc-identity-if-results keeps the branches' identity layout)."""
    pred = tf.placeholder(tf.bool, [])
    values = np.arange(96, dtype=np.float32).reshape(2, 4, 4, 3)
    x = tf.cond(pred, lambda: tf.constant(values), lambda: tf.ones([1, 4, 4, 3]))
    pooled = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    g = tf.cond(pred, lambda: tf.ones([2, 4, 4, 2]), lambda: tf.ones([1, 4, 4, 2]))
    filter_gradient = tf.nn.conv2d_backprop_filter(x, [3, 3, 3, 2], g, [1, 1, 1, 1], "SAME")
    with tf.Session() as sess:
        got, got_filter = sess.run([pooled, filter_gradient], {pred: True})
        ones_pooled, ones_filter = sess.run([pooled, filter_gradient], {pred: False})
    np.testing.assert_array_equal(got, values.reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4)))
    np.testing.assert_array_equal(ones_pooled, np.ones((1, 2, 2, 3)))
    # d filter[kh, kw, c, o] = sum over images and output pixels of x at the shifted pixel (g = 1)
    padded = np.pad(values, [(0, 0), (1, 1), (1, 1), (0, 0)])
    want = np.stack(
        [
            [padded[:, i : i + 4, j : j + 4, :].sum(axis=(0, 1, 2)) for j in range(3)]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(got_filter, np.repeat(want[..., None], 2, axis=3), rtol=1e-6)
    # all ones, one image: each tap sees (rows it covers) x (columns it covers) pixels
    covered = np.array([3, 4, 3])
    np.testing.assert_array_equal(ones_filter[:, :, 0, 0], np.outer(covered, covered))
