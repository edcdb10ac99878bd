"""Drawn graphs built in TensorFlow 1 itself against tgc (tfdiff.py, the campaign's ``--variant
tf``). TensorFlow is not in CI: the tests that need it skip there; run them with a Python that has
it (``/tmp/peers/bin/python -m pytest tests/conformance/test_tfdiff.py``)."""

import dataclasses

import numpy as np
import pytest

from conformance import checks, tfdiff
from conformance.generator import RandomChooser, catalogue, draw_graph

# Seeds of the campaign's tf variant that ran in TensorFlow and in tgc alike: a few of each kind,
# and those of the disagreements fixed since (10, 50, 59: a gradient of zeros where TF's is None,
# through ones_like, floor or tf.reshape(y, tf.shape(x)); 129, 166, 236: tf.squeeze(x,
# axis=[]) kept the size-1 axes; 937, and 34, 70 with loops: None where TF's is zeros, an
# unused output of an op differentiated because its input comes from another target; 19, 33,
# 73, 155: zeros where TF's is None, a loop's or cond's result that reads no target).
SEEDS = (0, 1, 6, 10, 34, 50, 59, 129, 166, 236, 937)
CONTROL_SEEDS = (0, 2, 7, 19, 33, 34, 70, 73, 75, 155)
# A seed names a graph of this registry (an op added changes the graphs drawn): one that now draws
# a disagreement understood and left (tfdiff.KNOWN) still agrees.
AGREE = ("pass", "known")


def _tf():
    pytest.importorskip("tensorflow")
    return tfdiff.tensorflow_or_none()


def _draw(seed: int, control_flow: int = 0):
    entries = tfdiff.entries_tf(catalogue())
    return draw_graph(
        RandomChooser(seed), seed=seed, entries=entries, variant="tf", control_flow=control_flow
    )


def test_every_drawn_op_has_a_tf_call_or_a_reason():
    """The table covers the catalogue: an op added to the registry needs a TF call here (or a
    reason in NOT_IN_TF), or the tf variant would stop drawing it unnoticed."""
    drawn = set(catalogue())
    assert drawn <= set(tfdiff.TF_OPS) | set(tfdiff.NOT_IN_TF)
    assert not set(tfdiff.TF_OPS) & set(tfdiff.NOT_IN_TF)
    assert not set(tfdiff.entries_tf(catalogue())) & set(tfdiff.NOT_IN_TF)


def test_tf_table_names_exactly_tf_ops():
    assert set(tfdiff.tf_calls(_tf())) >= set(tfdiff.TF_OPS)


@pytest.mark.parametrize("seed", SEEDS)
def test_graphs_agree_with_tensorflow(seed):
    outcome = tfdiff.run_tfdiff(_draw(seed), _tf())
    assert outcome.status in AGREE, outcome.detail


@pytest.mark.parametrize("seed", CONTROL_SEEDS)
def test_control_flow_graphs_agree_with_tensorflow(seed):
    spec = _draw(seed, control_flow=20)
    assert any(n.op in checks.CONTROL_OPS for n in spec.nodes)
    outcome = tfdiff.run_tfdiff(spec, _tf())
    assert outcome.status in AGREE, outcome.detail


def test_a_wrong_number_of_tgc_is_caught(monkeypatch):
    tf = _tf()
    spec = _draw(1)
    run = checks.run_session

    def off_by_a_little(spec, target, *args, **kwargs):
        result = run(spec, target, *args, **kwargs)
        result["forward"][0] = np.asarray(result["forward"][0]) * 1.01 + 0.01
        return result

    monkeypatch.setattr(checks, "run_session", off_by_a_little)
    outcome = tfdiff.run_tfdiff(spec, tf)
    assert (outcome.status, outcome.category) == ("wrong", "tf-forward"), outcome.detail


def test_a_graph_tf_refuses_is_its_own_category(monkeypatch):
    """A graph TensorFlow refuses (here: its call raises) and tgc runs is a finding with both
    sides said."""
    tf = _tf()
    spec = _draw(1)
    op = spec.nodes[0].op
    calls = dict(tfdiff._calls(tf))

    def refuse(t, a):
        raise ValueError("TensorFlow says no")

    monkeypatch.setitem(tfdiff._CALLS, op, refuse)
    outcome = tfdiff.run_tfdiff(dataclasses.replace(spec), tf)
    assert (outcome.status, outcome.category) == ("wrong", "tf-refuses")
    assert "TensorFlow says no" in outcome.detail and "tgc: builds and runs it" in outcome.detail
    assert calls  # the table itself is left as it was by monkeypatch


def test_known_disagreements_are_told_apart_without_tensorflow():
    """The campaign's 'known' outcomes: TF's own bugs and the disagreements left on purpose
    (tfdiff.KNOWN), each with its reason; anything else stays 'wrong'."""
    spec = _draw(1)
    ref = checks.compute_reference(spec, with_gradients=False)
    tf_bug = checks.Outcome(
        "wrong",
        "tf-refuses",
        "TF run: InvalidArgumentError: Graph execution error: | Input 1 of node "
        "gradients/while/Switch_2_grad/b_switch was passed float from NextIteration:0 "
        "incompatible with expected double\ntgc: builds and runs it",
    )
    known = tfdiff._known(spec, ref, tf_bug)
    assert known.status == "known" and known.detail.startswith("TF's bug")
    other = checks.Outcome("wrong", "tf-refuses", "TF build: ValueError: something else")
    assert tfdiff._known(spec, ref, other) is other
