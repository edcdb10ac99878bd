"""Operand domains the random-graph generator keeps that the registry ops' samples cannot state:
row indices below the rows of the operand they index (generator.ROW_INDEX_OPERANDS).

Random-graph campaign seed 304738 (cpu, control flow, variant artifact, float64) drew
``gather_grad(v1, argmax(v2), v1)``: segment id 1 for the 1 row of v1. The registry's gather_grad
(TensorFlow's UnsortedSegmentSum) drops such an id, as tgc's internal scatter-adds need, and its
reference did too; its gradient, a gather at the ids, failed the run ("indices[0] = 1 is not in
[0, 1)"). TensorFlow fails on that id in the forward already, and its gradient's GatherV2 with the
same message as tgc's (TF_VALUES below): the graph was outside the op's domain, and the generator
no longer draws it. The user's op, tf.unsorted_segment_sum, fails such a run in the forward.
"""

import numpy as np
import pytest

import tgc
from conformance import generator
from conformance.generator import FLOAT, GraphSpec, Input, RandomChooser, catalogue
from tgc.dialect.types import TensorSpec

# TensorFlow 2.21's answers (`/tmp/tfenv/bin/python tests/oracle/unsorted_segment_ids.py`,
# compat.v1, CPU): unsorted_segment_sum of data [[1.0015, 0.8706, 1.1385]] into 1 segment, and the
# gradient of its sum weighted by [[0.198, 0.524, 1.635]], for segment ids [0], [-1] and [1].
TF_VALUES = {
    "in_range": ("ok", [[1.0015, 0.8706, 1.1385]]),
    "in_range_grad": ("ok", [[0.198, 0.524, 1.635]]),
    "negative": ("ok", [[0.0, 0.0, 0.0]]),
    "negative_grad": ("ok", [[0.0, 0.0, 0.0]]),
    "past_the_rows": ("InvalidArgumentError", "segment_ids[0] = 1 is out of range [0, 1)"),
    "past_the_rows_grad": ("InvalidArgumentError", "indices[0] = 1 is not in [0, 1)"),
}
DATA = np.array([[1.0015, 0.8706, 1.1385]])
WEIGHTS = np.array([[0.198, 0.524, 1.635]])


def _spec_of(*values) -> GraphSpec:
    """A graph of placeholders holding ``values`` only, to draw one node on."""
    spec = GraphSpec(seed=0, dtype="float64", inputs=[], nodes=[])
    for i, value in enumerate(values):
        dtype = None if value.dtype == np.float64 else str(value.dtype)
        shape = value.shape
        spec.inputs.append(Input(f"p{i}", "placeholder", shape, shape, -2.0, 2.0, dtype))
        spec.values.append(value)
        spec.static.append(TensorSpec(value.shape, str(value.dtype)))
    return spec


@pytest.mark.parametrize("ids, drawn", [([1], False), ([0], True)])
def test_gather_grad_is_drawn_only_with_ids_below_the_rows(ids, drawn):
    """The campaign's situation: the only float value has 1 row; its int operand holds id 1 (the
    sample's int_high, 3, lets it through), or id 0."""
    entry = catalogue()["gather_grad"]
    assert (FLOAT, "int64", FLOAT) in entry.signatures
    outcomes = []
    for seed in range(20):
        spec = _spec_of(DATA, np.array(ids, np.int64))
        outcomes.append(generator._try_node(RandomChooser(seed), spec, entry, avoid=set()))
        assert [n.op for n in spec.nodes] == (["gather_grad"] if outcomes[-1] else [])
    assert any(outcomes) == drawn and (all(outcomes) or not drawn)


def test_row_indices_ok():
    ok = generator._row_indices_ok
    values = [np.zeros((2, 3)), np.array([0, 1]), np.array([2]), np.array([-1]), np.zeros((0,))]
    assert ok("gather_grad", [0, 1, 0], values)
    assert not ok("gather_grad", [0, 2, 0], values)  # id 2 of 2 rows
    assert not ok("gather_grad", [0, 3, 0], values)  # a negative id: TF drops its row
    assert ok("gather_grad", [4, 4, 0], values)  # no id at all
    assert ok("gather", [0, 2], values)  # not an op of ROW_INDEX_OPERANDS


def _run_segment_sum(ids):
    with tgc.Graph().as_default():
        data = tgc.placeholder(tgc.float64, [1, 3])
        segment_ids = tgc.placeholder(tgc.int32, [1])
        sums = tgc.unsorted_segment_sum(data, segment_ids, 1)
        (grad,) = tgc.gradients(tgc.reduce_sum(sums * WEIGHTS), [data])
        with tgc.Session() as sess:
            return sess.run([sums, grad], {data: DATA, segment_ids: ids})


@pytest.mark.parametrize("case, ids", [("in_range", [0]), ("negative", [-1])])
def test_unsorted_segment_sum_of_valid_and_negative_ids_is_tensorflows(case, ids):
    sums, grad = _run_segment_sum(ids)
    np.testing.assert_allclose(sums, TF_VALUES[case][1])
    np.testing.assert_allclose(grad, TF_VALUES[f"{case}_grad"][1])


def test_unsorted_segment_sum_fails_on_an_id_past_the_segments_in_the_forward():
    """TF: InvalidArgumentError "segment_ids[0] = 1 is out of range [0, 1)"; tgc's run fails with
    the same error and text in the op's own check."""
    assert TF_VALUES["past_the_rows"][0] == "InvalidArgumentError"
    with pytest.raises(tgc.errors.InvalidArgumentError) as caught:
        _run_segment_sum([1])
    text = str(caught.value)
    assert text.startswith(TF_VALUES["past_the_rows"][1])
    assert "UnsortedSegmentSum/Assert" in text


def test_the_registry_gradient_of_an_id_past_the_rows_is_zero_as_its_forward_drops_it():
    """The campaign's failing run, fixed ids: the registry's gather_grad (UnsortedSegmentSum) of
    id 1 into 1 row drops the row, and its gradient gives it 0 (it failed gather's index check).
    The op is internal: tf.unsorted_segment_sum checks the ids first (next test)."""
    from tgc.frontend.build import make_op

    with tgc.Graph().as_default():
        data = tgc.placeholder(tgc.float64, [1, 3])
        ids = tgc.placeholder(tgc.int64, [1])
        sums = make_op("gather_grad", [data, ids, data])
        (grad,) = tgc.gradients(tgc.reduce_sum(sums * WEIGHTS), [data])
        with tgc.Session() as sess:
            got_sums, got_grad = sess.run([sums, grad], {data: DATA, ids: [1]})
    np.testing.assert_array_equal(got_sums, np.zeros((1, 3)))
    np.testing.assert_array_equal(got_grad, np.zeros((1, 3)))


def test_the_gradient_alone_of_unsorted_segment_sum_checks_the_ids():
    """TF fails the gradient alone in its gather ("indices[0] = 1 is not in [0, 1)"); tgc's
    gradient reads the ids after the forward's check, so it fails with the same class and the
    forward's text."""
    assert TF_VALUES["past_the_rows_grad"][0] == "InvalidArgumentError"
    with tgc.Graph().as_default():
        data = tgc.placeholder(tgc.float64, [1, 3])
        segment_ids = tgc.placeholder(tgc.int32, [1])
        sums = tgc.unsorted_segment_sum(data, segment_ids, 1)
        (grad,) = tgc.gradients(tgc.reduce_sum(sums * WEIGHTS), [data])
        with tgc.Session() as sess:
            with pytest.raises(tgc.errors.InvalidArgumentError) as caught:
                sess.run(grad, {data: DATA, segment_ids: [1]})
    assert str(caught.value).startswith(TF_VALUES["past_the_rows"][1])
