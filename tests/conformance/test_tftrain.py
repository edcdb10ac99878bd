"""Drawn graphs trained in TensorFlow 1 itself against tgc (tftrain.py, the campaign's ``--variant
tf_train``). TensorFlow is not in CI: the tests that need it skip there; run them with a Python
that has it (``/tmp/peers/bin/python -m pytest tests/conformance/test_tftrain.py``)."""

import pytest

from conformance import tfdiff, tftrain
from conformance.generator import RandomChooser, catalogue, draw_graph

# Seeds whose graphs train in both, one or more per optimizer
SEEDS = (151, 152, 153, 154, 156, 157, 158, 159, 160)


def _tf():
    pytest.importorskip("tensorflow")
    return tfdiff.tensorflow_or_none()


def _draw(seed: int):
    return draw_graph(RandomChooser(seed), seed=seed, entries=tfdiff.entries_tf(catalogue()))


def test_placeholders_of_static_shapes_become_variables_and_only_those():
    spec = _draw(152)
    turned = tftrain._as_variables(spec.inputs)
    for before, after in zip(spec.inputs, turned):
        static = before.kind == "placeholder" and before.dtype is None
        static = static and before.static == before.shape
        assert after.kind == ("variable" if static else before.kind)
        assert after.static == before.static


def test_seeds_pick_every_optimizer():
    picked = {tftrain.optimizer_of(_draw(seed)) for seed in range(150, 190)}
    assert picked == set(tftrain.OPTIMIZERS)


@pytest.mark.parametrize("seed", SEEDS)
def test_training_agrees_with_tensorflow(seed):
    outcome = tftrain.run_tftrain(_draw(seed), _tf())
    assert outcome.ok and outcome.category == "tf_train", outcome.detail


def test_a_wrong_update_of_tgc_is_caught(monkeypatch):
    """tgc's SGD stepping 2 % too far fails the comparison."""
    tf = _tf()
    import tgc

    seed = next(s for s in range(150, 190) if tftrain.optimizer_of(_draw(s)) == "sgd")
    dense = tgc.train.GradientDescentOptimizer._apply_dense

    def too_far(self, grad, var):
        return dense(self, grad * 1.02, var)

    monkeypatch.setattr(tgc.train.GradientDescentOptimizer, "_apply_dense", too_far)
    outcome = tftrain.run_tftrain(_draw(seed), tf)
    assert outcome.status == "wrong" and outcome.category == "tf-training", outcome.detail
