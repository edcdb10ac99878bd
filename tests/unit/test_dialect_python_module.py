"""MLIR's Python bindings look for a module ``mlir.dialects.<namespace>`` of op classes whenever
they wrap an op, and remember only a module they found. The tgc dialect (IRDL) has none, so every
tgc op wrapped was a failed import (813 on the first run of the two-layer SGD step, about 20 ms);
loading the dialect registers an empty module that is found once (tgc/dialect/irdl.py)."""

import sys

import numpy as np

import tgc as tf


class _RecordingFinder:
    """A meta path finder that finds nothing and records what was looked for."""

    def __init__(self):
        self.names = []

    def find_spec(self, fullname, path=None, target=None):
        self.names.append(fullname)
        return None


def test_compiling_a_graph_looks_for_no_python_module_of_the_tgc_dialect():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.reduce_sum(tf.nn.relu(x * 2.0 - 1.0), axis=1)
    finder = _RecordingFinder()
    sys.meta_path.insert(0, finder)
    try:
        with tf.Session() as sess:
            got = sess.run(y, {x: [[1.0, 0.0, 2.0]]})
    finally:
        sys.meta_path.remove(finder)
    np.testing.assert_allclose(got, [4.0])
    assert "mlir.dialects.tgc" not in finder.names
    assert sys.modules["mlir.dialects.tgc"].__doc__.startswith("tgc: the tgc dialect")
