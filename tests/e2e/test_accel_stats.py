"""The simulator's statistics of the accelerator programs a run executed, for a caller that does not
know the partitions' function names (a benchmark summing a Session step)."""

import numpy as np

import tgc as tf
from tgc.lowering.accel import in_process


def test_every_function_run_since_clear_stats_reports_its_programs():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [40, 30], name="x")
        w = tf.placeholder(tf.float32, [30, 20], name="w")
        with tf.device("/accel:0"):
            y = tf.matmul(x, w, name="y")
        in_process.clear_stats()
        assert in_process.all_last_stats() == {}
        config = tf.ConfigProto(device_count={"ACCEL": 1})
        with tf.Session(config=config) as sess:
            sess.run(y, {x: np.ones((40, 30)), w: np.ones((30, 20))})
    [(name, stats)] = in_process.all_last_stats().items()
    assert in_process.last_stats(name) == stats
    assert sum(s.macs for s in stats) == 40 * 30 * 20
    in_process.clear_stats()
    assert in_process.all_last_stats() == {} and in_process.last_stats() is None
