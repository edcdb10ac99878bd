"""ConfigProto as TF1 programs write it: what tgc reads, accepts and ignores, and refuses."""

import numpy as np
import pytest

import tgc as tf


def test_thread_counts_and_the_cse_switch_change_no_value():
    """intra_op_parallelism_threads sets OpenBLAS's threads (tests/unit/test_blas_threads.py);
    inter_op_parallelism_threads and the CSE switch are accepted and ignored."""
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.add(x * x, x * x, name="y")  # a common subexpression
    options = tf.OptimizerOptions(do_common_subexpression_elimination=False)
    config = tf.ConfigProto(
        intra_op_parallelism_threads=1,
        inter_op_parallelism_threads=2,
        graph_options=tf.GraphOptions(optimizer_options=options),
    )
    assert config.graph_pipeline() == tf.ConfigProto().graph_pipeline()
    with tf.Session(config=config) as sess:
        got = sess.run(y, {x: np.array([1, 2, 3], np.float32)})
    np.testing.assert_array_equal(got, [2, 8, 18])


def test_device_count_makes_cpus_and_an_unknown_option_is_refused():
    assert tf.ConfigProto(device_count={"CPU": 2}).device_names() == (
        "/job:localhost/replica:0/task:0/device:CPU:0",
        "/job:localhost/replica:0/task:0/device:CPU:1",
    )
    assert len(tf.ConfigProto(device_count={"GPU": 1}).device_names()) == 1
    with pytest.raises(TypeError, match="no_such_option"):
        tf.ConfigProto(no_such_option=None)
