"""Graph optimizations change nothing a program can see: every seed example gives the
same numbers with tgc-fold, tgc-simplify and tgc-cse in the pipeline (the default) and
without them (opt_level L0)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tgc
from tgc.frontend import config as config_module

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHORT_RUNS = {
    "two_layer_net": dict(steps=3, print_every=10),
    "linear_regression": dict(steps=3, print_every=10),
    "linear_regression_scoped": dict(steps=3, print_every=10),
    "softmax_regression_digits": dict(steps=3, print_every=10),
    "convnet": dict(steps=2, print_every=10),
}


def _run(name, optimize: bool, monkeypatch):
    if not optimize:
        # Every Session the example makes compiles with the plain pipeline, as opt_level=L0 asks.
        monkeypatch.setattr(
            config_module.OptimizerOptions, "optimize", property(lambda self: False)
        )
        assert "tgc-fold" not in tgc.ConfigProto().graph_pipeline()
    else:
        assert "tgc-fold,tgc-simplify,tgc-cse" in tgc.ConfigProto().graph_pipeline()
    tgc.reset_default_graph()
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(**SHORT_RUNS[name])
    monkeypatch.undo()
    return result


def _numbers(result):
    if isinstance(result, dict):
        return {k: _numbers(v) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return [_numbers(v) for v in result]
    return np.asarray(result, dtype=np.float64)


@pytest.mark.parametrize("name", sorted(SHORT_RUNS))
def test_example_gives_the_same_numbers_without_graph_optimizations(name, monkeypatch, capsys):
    optimized = _numbers(_run(name, True, monkeypatch))
    plain = _numbers(_run(name, False, monkeypatch))
    assert str(type(optimized)) == str(type(plain))
    np.testing.assert_allclose(
        np.hstack(_flatten(optimized)), np.hstack(_flatten(plain)), rtol=1e-5, atol=1e-6
    )


def _flatten(tree):
    if isinstance(tree, dict):
        return [x for k in sorted(tree) for x in _flatten(tree[k])]
    if isinstance(tree, list):
        return [x for v in tree for x in _flatten(v)]
    return [np.ravel(tree)]
