"""tgc.driver.signature.select: the one choice of a run's ops, feeds and fetches that Session.run,
tgc.export_graph, `tgc compile` and `tgc graph` share."""

import numpy as np
import pytest

import tgc as tf
from tgc.dialect.types import TensorSpec
from tgc.driver.signature import HostOpInRun, UnfedPlaceholder, select
from tgc.frontend import summary_ops


def test_without_feeds_every_needed_placeholder_is_fed_in_program_order():
    b = tf.placeholder(tf.float32, [2], name="b")
    a = tf.placeholder(tf.float32, [None, 2], name="a")
    tf.placeholder(tf.float32, [2], name="unused")
    total = tf.add(a, b, name="total")  # a is the first input, b the first made
    run = select([total])
    assert [t.name for t, _ in run.feeds] == ["b:0", "a:0"]
    assert [spec.shape for _, spec in run.feeds] == [(2,), (None, 2)]
    assert [t.name for t in run.fetches] == ["total:0"]
    assert [op.name for op in run.ops] == ["total"]
    assert not run.step


def test_narrowed_placeholders_take_the_given_spec():
    keep = tf.placeholder(tf.float32, name="keep")  # unknown rank
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    out = tf.multiply(x, keep, name="out")
    with pytest.raises(ValueError, match="placeholder 'keep' has unknown rank: give its shape"):
        select([out])
    run = select([out], narrowed={keep: TensorSpec((), "float32")})
    assert [(t.name, spec.shape) for t, spec in run.feeds] == [("keep:0", ()), ("x:0", (None, 4))]


def test_fed_tensors_cut_the_graph_and_a_fetched_op_is_run_not_returned():
    x = tf.placeholder(tf.float32, [3], name="x")
    hidden = tf.square(x, name="hidden")
    v = tf.Variable(np.zeros(3, np.float32), name="v")
    step = tf.assign_add(v, hidden, name="step")
    doubled = tf.add(hidden, hidden, name="doubled")
    run = select([step.op, doubled], [(hidden, None, None)])
    assert [t.name for t, _ in run.feeds] == ["hidden:0"]
    assert "Square" not in [op.type for op in run.ops]  # cut at the fed tensor
    assert [t.name for t in run.fetches] == ["doubled:0"]
    assert [variable._name for variable in run.variables] == ["v"]


def test_random_ops_take_the_step_counter_as_the_last_argument():
    x = tf.placeholder(tf.float32, [3], name="x")
    noisy = tf.add(x, tf.random_normal([3], seed=1), name="noisy")
    run = select([noisy])
    assert [t.name for t, _ in run.feeds] == ["x:0", "rng_step:0"]
    assert run.step


def test_errors_carry_the_op_at_fault_for_the_session():
    x = tf.placeholder(tf.float32, [None], name="x")
    y = tf.placeholder(tf.float32, [None], name="y")
    with pytest.raises(UnfedPlaceholder, match="'y' must be fed") as unfed:
        select([tf.add(x, y, name="sum")], [x])
    assert unfed.value.placeholder is y.op
    summary = summary_ops.scalar("loss", tf.reduce_sum(x))
    with tf.control_dependencies([summary]):  # the graph refuses it as a data input already
        after = tf.identity(x, name="after")
    with pytest.raises(
        HostOpInRun, match="'loss' .* runs on the host and cannot be compiled"
    ) as host:
        select([after], [x])
    assert host.value.op is summary.op
