"""The lecture examples under examples/ run end to end and learn; tgc.datasets loads the digits.

Each example's ``main()`` is called with few steps so the whole file stays fast on two cores. Losses
are checked against numbers known in closed form (the loss at the initial weights, least squares)
and for falling; the digits models for their test accuracy.
"""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from tgc import datasets

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- tgc.datasets --------------------------------------------------------------------------------


def test_load_digits_splits_scaled_images_by_class():
    d = datasets.load_digits()
    assert d.train.images.shape == (1347, 64) and d.test.images.shape == (450, 64)
    assert d.train.images.dtype == np.float32
    assert d.train.images.min() == 0.0 and d.train.images.max() == 1.0
    assert d.train.labels.dtype == np.int64 and set(np.unique(d.test.labels)) == set(range(10))
    # stratified: every class holds close to a quarter of its images in the test split
    for c in range(10):
        n_test, n_train = np.sum(d.test.labels == c), np.sum(d.train.labels == c)
        assert abs(n_test / (n_test + n_train) - 0.25) < 0.01


def test_load_digits_is_deterministic_and_unpacks_keras_style():
    (x1, y1), (xt1, yt1) = datasets.load_digits(one_hot=True)
    (x2, y2), _ = datasets.load_digits(one_hot=True)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert y1.shape == (1347, 10) and y1.dtype == np.float32
    np.testing.assert_array_equal(y1.sum(axis=1), np.ones(1347, np.float32))
    assert xt1.shape == (450, 64) and yt1.shape == (450, 10)


def test_next_batch_covers_an_epoch_then_reshuffles():
    train = datasets.load_digits().train
    batches = [train.next_batch(449)[1] for _ in range(3)]  # 3 * 449 = 1347: exactly one epoch
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.sort(train.labels))
    assert train.epochs_completed == 0
    train.next_batch(10)
    assert train.epochs_completed == 1


def test_next_batch_rejects_a_batch_larger_than_the_split():
    test = datasets.load_digits().test
    with pytest.raises(ValueError, match="batch_size must be in 1..450, got 451"):
        test.next_batch(451)


def test_load_digits_names_the_package_when_sklearn_is_missing(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "sklearn.datasets", None
    )  # makes `from sklearn.datasets import` fail
    with pytest.raises(ImportError, match=r"pip install scikit-learn"):
        datasets.load_digits()


# ---- examples ------------------------------------------------------------------------------------


def test_two_layer_net_loss_starts_at_chance_and_falls():
    losses = load_example("two_layer_net").main(steps=60, print_every=0)
    n, c = 64, 10
    # weights of stddev 0.01 give near-zero scores: the summed cross-entropy starts near N log C
    assert abs(losses[0] - n * math.log(c)) < 2.0
    assert losses[-1] < 0.8 * losses[0]
    assert all(
        b < a for a, b in zip(losses, losses[1:])
    )  # one fixed batch: SGD descends every step


def test_linear_regression_reaches_least_squares_fit():
    ex = load_example("linear_regression")
    losses, (w, b) = ex.main(steps=150, print_every=0)
    xs, ys = ex.make_data()
    assert losses[0] == pytest.approx(np.mean(ys.astype(np.float64) ** 2), rel=1e-5)  # W = b = 0
    (w_ref, b_ref), *_ = np.linalg.lstsq(np.stack([xs, np.ones_like(xs)], 1), ys, rcond=None)
    assert w == pytest.approx(w_ref, abs=1e-2) and b == pytest.approx(b_ref, abs=1e-2)
    assert losses[-1] < 0.01 * losses[0]


def test_linear_regression_scoped_adam_recovers_the_weights():
    losses, w_out, true_w = load_example("linear_regression_scoped").main(steps=200, print_every=0)
    assert losses[-1] < 0.01 * losses[0]
    np.testing.assert_allclose(w_out, true_w, atol=0.05)


def test_softmax_regression_on_digits_reaches_90_percent():
    losses, acc = load_example("softmax_regression_digits").main(steps=200, print_every=0)
    assert losses[0] == pytest.approx(math.log(10), rel=1e-5)  # zero weights: uniform softmax
    assert np.mean(losses[-20:]) < 0.5 * losses[0]
    assert acc >= 0.90


def test_convnet_on_digits_learns():
    losses, acc = load_example("convnet").main(steps=150, print_every=0)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5])
    assert acc >= 0.80


# ---- the two-layer net on a GPU ------------------------------------------------------------------


def test_gpu_two_layer_net_trains_on_the_emulated_gpu(capsys):
    losses = load_example("gpu_two_layer_net").main(steps=12, print_every=0, emulate=True)
    err = capsys.readouterr().err
    assert "scores: (tgc.matmul): /job:localhost/replica:0/task:0/device:GPU:0" in err
    assert losses[-1] < losses[0]
    # At the initial weights (stddev 0.01) the scores are near 0: the loss is close to N * log(C).
    assert abs(losses[0] - 64 * math.log(10)) < 3


def test_gpu_two_layer_net_falls_back_to_the_cpu_without_a_gpu(capsys):
    from tgc.dialect import targets

    if targets.get("nvptx").available_devices():
        pytest.skip("this machine has a GPU")
    losses = load_example("gpu_two_layer_net").main(steps=3, print_every=0)
    assert "scores: (tgc.matmul): /job:localhost/replica:0/task:0/device:CPU:0" in (
        capsys.readouterr().err
    )
    assert losses[-1] < losses[0]
