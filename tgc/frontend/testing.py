"""``tf.test``: TF1's test helpers: ``TestCase``, ``main`` and a local cluster.

``tf.test.TestCase`` is a ``unittest.TestCase`` that starts each test as TF1's does (a fresh
default graph whose graph-level seed is TF's default 87654321, and Python's and numpy's generators
seeded with it) and adds the sessions and assertions TF1 tests use: ``test_session``,
``cached_session`` (one session per test, closed after it), ``session`` (a new one),
``evaluate``, ``assertAllClose`` (nested lists, tuples, dicts and tensors), ``assertAllEqual``,
``assertShapeEqual``, ``assertNear``, ``assertArrayNear``, ``assertAllGreater`` and the like,
``assertRaisesOpError`` and ``get_temp_dir``. ``tf.test.main()`` runs the module's tests with
unittest.
"""

from __future__ import annotations

import contextlib
import random
import re
import tempfile
import unittest

import numpy as np

from tgc.frontend.cluster import create_local_cluster
from tgc.frontend.session import Session
from tgc.graph.default_session import get_default_session
from tgc.graph.graph import Tensor, get_default_graph, reset_default_graph
from tgc.runtime.errors import OpError

DEFAULT_GRAPH_SEED = 87654321  # TF's random_seed.DEFAULT_GRAPH_SEED, which TestCase.setUp sets


def _is_tensor_like(value) -> bool:
    return isinstance(value, Tensor) or hasattr(value, "value") and hasattr(value, "initializer")


class TestCase(unittest.TestCase):
    """`tf.test.TestCase`: unittest's TestCase with TF1's sessions and array assertions."""

    def setUp(self):
        super().setUp()
        self._cached = None
        self._temp_dir = None
        random.seed(DEFAULT_GRAPH_SEED)
        np.random.seed(DEFAULT_GRAPH_SEED)
        reset_default_graph()
        get_default_graph().seed = DEFAULT_GRAPH_SEED

    def tearDown(self):
        self._close_cached()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None
        super().tearDown()

    # ---- sessions ------------------------------------------------------------------------------

    def _close_cached(self):
        cached = getattr(self, "_cached", None)
        if cached is not None:
            cached[1].close()
            self._cached = None

    @contextlib.contextmanager
    def session(self, graph=None, config=None, use_gpu=False, force_gpu=False):
        """A new Session on ``graph`` (the default graph), default inside the block."""
        graph = graph if graph is not None else get_default_graph()
        with graph.as_default(), Session(graph=graph, config=config) as sess:
            yield sess

    @contextlib.contextmanager
    def cached_session(self, graph=None, config=None, use_gpu=False, force_gpu=False):
        """One Session per test and graph (closed after the test), default inside the block."""
        graph = graph if graph is not None else get_default_graph()
        if getattr(self, "_cached", None) is None or self._cached[0] is not graph:
            self._close_cached()
            self._cached = (graph, Session(graph=graph, config=config))
        sess = self._cached[1]
        with graph.as_default(), sess.as_default():
            yield sess

    @property
    def test_session(self):
        """TF1's name for cached_session. A property, so that unittest's loader (which collects
        callable class attributes named test*) does not run it as a test."""
        return self.cached_session

    def evaluate(self, tensors):
        """Runs ``tensors`` (any nesting) in the default session, else in a cached one."""
        sess = get_default_session()
        if sess is not None:
            return sess.run(tensors)
        with self.cached_session() as sess:
            return sess.run(tensors)

    def get_temp_dir(self) -> str:
        if getattr(self, "_temp_dir", None) is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="tgc_test_")
        return self._temp_dir.name

    # ---- assertions ----------------------------------------------------------------------------

    def _ndarray(self, value):
        if _is_tensor_like(value):
            value = self.evaluate(value)
        return np.asarray(value)

    def assertAllClose(self, a, b, rtol=1e-6, atol=1e-6, msg=None):
        """Elementwise |a - b| <= atol + rtol * |b|, through nested lists, tuples and dicts."""
        self._assert_nested(a, b, rtol, atol, msg, path="")

    def _assert_nested(self, a, b, rtol, atol, msg, path):
        if isinstance(a, dict) or isinstance(b, dict):
            self.assertIsInstance(a, dict, f"{path}: {msg or ''}")
            self.assertIsInstance(b, dict, f"{path}: {msg or ''}")
            self.assertEqual(set(a), set(b), f"mismatched keys at {path or 'top'}: {msg or ''}")
            for key in a:
                self._assert_nested(a[key], b[key], rtol, atol, msg, f"{path}[{key!r}]")
            return
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            try:
                a_array, b_array = np.asarray(a, np.float64), np.asarray(b, np.float64)
            except (TypeError, ValueError):  # ragged or holding tensors: item by item
                self.assertEqual(len(a), len(b), f"length mismatch at {path}: {msg or ''}")
                for i, (x, y) in enumerate(zip(a, b)):
                    self._assert_nested(x, y, rtol, atol, msg, f"{path}[{i}]")
                return
        else:
            a_array, b_array = self._ndarray(a), self._ndarray(b)
        self.assertEqual(
            a_array.shape, b_array.shape, f"shape mismatch at {path or 'top'}: {msg or ''}"
        )
        np.testing.assert_allclose(
            a_array, b_array, rtol=rtol, atol=atol, err_msg=f"{path} {msg or ''}".strip()
        )

    def assertAllEqual(self, a, b, msg=None):
        a_array, b_array = self._ndarray(a), self._ndarray(b)
        self.assertEqual(a_array.shape, b_array.shape, f"shape mismatch: {msg or ''}")
        np.testing.assert_array_equal(a_array, b_array, err_msg=msg or "")

    def assertNotAllClose(self, a, b, **kwargs):
        try:
            self.assertAllClose(a, b, **kwargs)
        except AssertionError:
            return
        raise AssertionError("The two values are close at all elements")

    def assertShapeEqual(self, np_array, tf_tensor, msg=None):
        """The numpy array's shape is the tensor's static shape."""
        if not isinstance(np_array, np.ndarray) or not isinstance(tf_tensor, Tensor):
            raise TypeError("assertShapeEqual takes a numpy array and a tensor")
        self.assertEqual(list(np_array.shape), tf_tensor.shape.as_list(), msg)

    def assertNear(self, f1, f2, err, msg=None):
        self.assertTrue(
            f1 == f2 or abs(f1 - f2) <= err, f"{f1!r} != {f2!r} +/- {err!r} {msg or ''}"
        )

    def assertArrayNear(self, farray1, farray2, err, msg=None):
        self.assertEqual(len(farray1), len(farray2), msg)
        for f1, f2 in zip(farray1, farray2):
            self.assertNear(float(f1), float(f2), err, msg)

    def assertNDArrayNear(self, ndarray1, ndarray2, err, msg=None):
        self.assertTrue(np.linalg.norm(ndarray1 - ndarray2) <= err, msg)

    def assertAllGreater(self, a, comparison_target):
        self.assertGreater(np.min(self._ndarray(a)), comparison_target)

    def assertAllLess(self, a, comparison_target):
        self.assertLess(np.max(self._ndarray(a)), comparison_target)

    def assertAllGreaterEqual(self, a, comparison_target):
        self.assertGreaterEqual(np.min(self._ndarray(a)), comparison_target)

    def assertAllLessEqual(self, a, comparison_target):
        self.assertLessEqual(np.max(self._ndarray(a)), comparison_target)

    def assertDTypeEqual(self, target, expected_dtype):
        self.assertEqual(np.asarray(target).dtype, np.dtype(expected_dtype))

    @contextlib.contextmanager
    def assertRaisesWithPredicateMatch(self, exception_type, expected_err_re_or_predicate):
        """The block raises ``exception_type`` whose message matches the regex (or for which the
        predicate holds)."""
        if callable(expected_err_re_or_predicate):
            predicate = expected_err_re_or_predicate
        else:
            pattern = expected_err_re_or_predicate

            def predicate(error):
                return re.search(pattern, str(error)) is not None

        try:
            yield
        except exception_type as error:
            if not predicate(error):
                raise AssertionError(f"Exception of type {type(error)}: {error}") from error
        else:
            raise AssertionError(f"{exception_type.__name__} not raised")

    def assertRaisesOpError(self, expected_err_re_or_predicate):
        """The block fails a run with a tf.errors.OpError matching the regex or predicate."""
        return self.assertRaisesWithPredicateMatch(OpError, expected_err_re_or_predicate)


def main(argv=None):
    """Runs the calling module's tests (`tf.test.main`)."""
    unittest.main(module="__main__", argv=argv)


def get_temp_dir() -> str:
    """A temporary directory for this process's tests (`tf.test.get_temp_dir`)."""
    global _TEMP_DIR
    if _TEMP_DIR is None:
        _TEMP_DIR = tempfile.TemporaryDirectory(prefix="tgc_test_")
    return _TEMP_DIR.name


_TEMP_DIR = None

__all__ = ["TestCase", "create_local_cluster", "get_temp_dir", "main"]
