"""tf.test.TestCase and tf.test.main as TF1 test files use them (tgc/frontend/testing.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import unittest

import numpy as np

import tgc as tf


class TF1StyleTest(tf.test.TestCase):
    """Written as a TF1 test file is: graphs on the default graph, test_session, assertAllClose."""

    def testSessionRunsTheDefaultGraph(self):
        x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
        y = tf.matmul(x, x)
        with self.test_session() as sess:
            self.assertIs(tf.get_default_session(), sess)
            self.assertAllClose(sess.run(y), [[7.0, 10.0], [15.0, 22.0]])
            self.assertAllClose(y.eval(), np.array([[7.0, 10.0], [15.0, 22.0]]))
        self.assertShapeEqual(np.zeros((2, 2)), y)

    def testCachedSessionIsOnePerTestAndSessionIsNew(self):
        with self.cached_session() as first:
            pass
        with self.test_session() as second:
            pass
        self.assertIs(first, second)
        with self.session() as fresh:
            self.assertIsNot(fresh, first)
            self.assertIs(tf.get_default_session(), fresh)

    def testEachTestStartsWithAFreshSeededGraph(self):
        self.assertEqual(tf.get_default_graph().get_operations(), [])
        self.assertEqual(tf.get_default_graph().seed, 87654321)
        with self.cached_session():
            self.assertAllEqual(tf.random_uniform([3]).eval().shape, [3])

    def testNestedAssertAllClose(self):
        self.assertAllClose(
            {"a": [1.0, (2.0, 3.0)], "b": np.ones(2)},
            {"a": [1.0 + 1e-7, (2.0, 3.0)], "b": [1.0, 1.0]},
        )
        self.assertAllClose([np.zeros(2), np.ones(3)], [[0.0, 0.0], [1.0, 1.0, 1.0]])
        with self.assertRaises(AssertionError):
            self.assertAllClose([1.0, 2.0], [1.0, 2.1])
        with self.assertRaisesRegex(AssertionError, "shape mismatch"):
            self.assertAllClose(np.zeros((2, 3)), np.zeros((3, 2)))
        with self.assertRaisesRegex(AssertionError, "mismatched keys"):
            self.assertAllClose({"a": 1.0}, {"b": 1.0})
        self.assertNotAllClose([1.0], [2.0])

    def testAssertAllEqualEvaluatesTensors(self):
        v = tf.Variable([1, 2, 3])
        with self.test_session() as sess:
            sess.run(tf.global_variables_initializer())
            self.assertAllEqual(v, [1, 2, 3])
            self.assertAllEqual(tf.constant([True, False]), [True, False])
            self.assertAllGreater(tf.constant([2.0, 3.0]), 1.0)
            self.assertAllLessEqual(tf.constant([2.0, 3.0]), 3.0)
            self.assertEqual(list(self.evaluate({"v": v})["v"]), [1, 2, 3])
        with self.assertRaises(AssertionError):
            self.assertAllEqual([1, 2], [1, 3])
        self.assertNear(1.0, 1.05, 0.1)
        self.assertArrayNear([1.0, 2.0], [1.01, 2.0], 0.02)

    def testAssertRaisesOpError(self):
        x = tf.placeholder(tf.float32, [None])
        checked = tf.check_numerics(x, "x has a NaN")
        with self.test_session() as sess:
            with self.assertRaisesOpError("x has a NaN"):
                sess.run(checked, {x: [np.nan]})

    def testTempDir(self):
        import os

        path = self.get_temp_dir()
        self.assertTrue(os.path.isdir(path))
        self.assertTrue(os.path.isdir(tf.test.get_temp_dir()))


def test_a_failing_tf_test_is_reported_by_unittest():
    class Failing(tf.test.TestCase):
        def testWrong(self):
            with self.test_session():
                self.assertAllClose(tf.constant([1.0, 2.0]).eval(), [1.0, 2.5])

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Failing).run(result)
    assert len(result.failures) == 1 and "Mismatched elements: 1 / 2" in result.failures[0][1]


def test_tf_test_main_runs_the_file_as_tf1_does(tmp_path):
    script = tmp_path / "my_op_test.py"
    script.write_text(
        textwrap.dedent(
            """
            import tgc as tf

            class SquareTest(tf.test.TestCase):
                def testSquare(self):
                    with self.test_session():
                        x = tf.square([2, 3])
                        self.assertAllEqual(x.eval(), [4, 9])

            if __name__ == '__main__':
                tf.test.main()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 1 test" in done.stderr and "OK" in done.stderr
