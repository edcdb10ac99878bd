"""A target with static shapes (the nvptx target's kernels are sized at compile time) gets one
compile per combination of fed shapes from a Session and @tgc.jit, and never a dynamic dim at its
pipeline; the CPU target keeps one compile for every batch size. The target here is the CPU's,
made static and made to refuse any dynamic argument dim at the core level."""

import dataclasses

import numpy as np
import pytest
from mlir import ir

import tgc
import tgc as tf
from tgc import errors
from tgc.dialect import targets
from tgc.lowering.cpu.target import CPU, CpuTarget
from tgc.passes.base import ModulePass

SEEN = []  # the argument shapes (None: a dynamic dim) of every public function the target compiled


@dataclasses.dataclass(frozen=True)
class StaticArgumentsPass(ModulePass):
    """Records every public function's argument shapes and fails on a dynamic dim."""

    name = "test-static-arguments"

    def run(self, module):
        for op in module.body.operations:
            if op.operation.name != "func.func" or "sym_visibility" in op.attributes:
                continue
            shapes = [_shape(arg.type) for arg in op.regions[0].blocks[0].arguments]
            SEEN.append(shapes)
            if any(None in shape for shape in shapes):
                self.fail(op, f"a dynamic dim reached the target: {shapes}")


def _shape(type_) -> tuple:
    if not isinstance(type_, ir.ShapedType):
        return ()  # not a tensor: no dims
    if not type_.has_rank:
        return (None,)  # unranked: as dynamic as it gets
    return tuple(
        None if type_.is_dynamic_dim(i) else type_.get_dim_size(i) for i in range(type_.rank)
    )


@dataclasses.dataclass(frozen=True)
class StaticCpu(CpuTarget):
    def pipeline_elements(self, *, for_session: bool, external_libraries: bool = True) -> list:
        elements = super().pipeline_elements(
            for_session=for_session, external_libraries=external_libraries
        )
        return [StaticArgumentsPass(), *elements]


@pytest.fixture
def cpu_static():
    fields = {f.name: getattr(CPU, f.name) for f in dataclasses.fields(CPU)}
    target = StaticCpu(**{**fields, "name": "cpu-static", "static_shapes": True})
    targets.register(target, default_for_type=False)
    SEEN.clear()
    try:
        with targets.selected("cpu-static"):
            yield target
    finally:
        targets.unregister(target.name)


def _batch_graph():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="w")
        y = tf.reduce_sum(tf.tanh(tf.matmul(x, w)), axis=1, name="y")
        init = tf.global_variables_initializer()
    return graph, x, y, init


def _expected(x):
    w = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    return np.tanh(x @ w).sum(axis=1)


BATCHES = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((5, 3), np.float32)]


@pytest.mark.parametrize("fetch_by_name", [False, True], ids=["fast-path", "general-path"])
def test_a_session_compiles_once_per_fed_shape_for_a_static_target(cpu_static, fetch_by_name):
    graph, x, y, init = _batch_graph()
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        before = sess.compile_count
        fetch = "y:0" if fetch_by_name else y
        for batch in [*BATCHES, BATCHES[0]]:  # back to the first shape: its compile is kept
            np.testing.assert_allclose(sess.run(fetch, {x: batch}), _expected(batch), rtol=1e-6)
        assert sess.compile_count == before + 2
    batch_shapes = [shapes[0] for shapes in SEEN if len(shapes) == 2]  # (x, w) of the y run
    assert batch_shapes == [(2, 3), (5, 3)]


def test_a_static_target_keeps_the_session_errors_of_feeds(cpu_static):
    graph = tf.Graph()
    with graph.as_default():
        a = tf.placeholder(tf.float32, [None, 3], name="a")
        b = tf.placeholder(tf.float32, [None, 3], name="b")
        total = tf.add(a, b, name="total")
    with tf.Session(graph=graph) as sess:
        np.testing.assert_allclose(
            sess.run(total, {a: np.ones((2, 3)), b: np.ones((2, 3))}), np.full((2, 3), 2.0)
        )
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(2, 4\) for Tensor"):
            sess.run(total, {a: np.ones((2, 4)), b: np.ones((2, 4))})
        with pytest.raises(
            errors.InvalidArgumentError, match="not broadcast-compatible for 'total'"
        ):
            sess.run(total, {a: np.ones((2, 3)), b: np.ones((4, 3))})
        assert sess.compile_count == 1
    assert all(None not in shape for shapes in SEEN for shape in shapes)


def test_jit_compiles_once_per_argument_shape_for_a_static_target(cpu_static):
    @tgc.jit
    def f(x, w):
        return tgc.reduce_sum(tgc.tanh(x @ w), axis=1)

    w = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    for batch in [*BATCHES, BATCHES[0]]:
        np.testing.assert_allclose(f(batch, w), _expected(batch), rtol=1e-6)
    assert f.compile_count == 2
    assert [shapes for shapes in SEEN] == [[(2, 3), (3, 2)], [(5, 3), (3, 2)]]


def test_the_cpu_target_serves_every_batch_size_with_one_compile():
    graph, x, y, init = _batch_graph()
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        before = sess.compile_count
        for batch in BATCHES:
            np.testing.assert_allclose(sess.run(y, {x: batch}), _expected(batch), rtol=1e-6)
        assert sess.compile_count == before + 1


def test_variables_carry_over_between_the_compiles_of_a_static_target(cpu_static):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(np.ones((3,), np.float32), name="w")
        loss = tf.reduce_mean(tf.square(tf.reduce_sum(x * w, axis=1)))
        step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()
    expected = np.ones(3)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        for batch in [*BATCHES, BATCHES[0]]:
            sess.run(step, {x: batch})
            expected = expected - 0.1 * 2 * (batch @ expected) @ batch / len(batch)
        np.testing.assert_allclose(sess.run(w), expected, rtol=1e-5)
