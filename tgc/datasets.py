"""Small real data sets for examples and tests: handwritten digits, loaded without any download.

This module sits outside the compiler pipeline: it only hands numpy arrays to programs that feed
them to ``Session.run``. The digits are scikit-learn's bundled copy of the UCI optical-digits test
set (1797 images of 8x8 pixels, 10 classes), which ships inside sklearn's wheel, so loading never
touches the network. The returned splits follow the TF1 tutorial's ``mnist.train`` / ``mnist.test``
shape of API (``images``, ``labels``, ``num_examples``, ``next_batch``) and also unpack as
``(x_train, y_train), (x_test, y_test) = load_digits()``.

No PyPI package was found that ships the 28x28 MNIST images inside its wheel, so there is no
``load_mnist``: fetching MNIST at run time is not possible on machines without network access.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_INSTALL_HINT = (
    "tgc.datasets.load_digits needs scikit-learn, which ships the digits images; "
    "install it with `pip install scikit-learn` or `pip install tgc[datasets]`"
)


class DataSet:
    """One split: ``images`` (float32, [n, 64], in [0, 1]) and ``labels`` (int64 [n], or one-hot
    float32)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int = 0):
        if len(images) != len(labels):
            raise ValueError(f"DataSet: {len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(images))
        self._pos = 0
        self.epochs_completed = 0

    @property
    def num_examples(self) -> int:
        return len(self.images)

    def next_batch(self, batch_size: int):
        """The next ``batch_size`` examples of a shuffled pass; reshuffles at each epoch's end, as
        TF's tutorial does."""
        if not 0 < batch_size <= self.num_examples:
            raise ValueError(
                f"next_batch: batch_size must be in 1..{self.num_examples}, got {batch_size}"
            )
        if self._pos + batch_size > self.num_examples:
            self._order = self._rng.permutation(self.num_examples)
            self._pos = 0
            self.epochs_completed += 1
        idx = self._order[self._pos : self._pos + batch_size]
        self._pos += batch_size
        return self.images[idx], self.labels[idx]

    def __iter__(self):
        # Lets a split unpack as (images, labels), the Keras-style spelling.
        return iter((self.images, self.labels))

    def __repr__(self):
        return (
            f"<DataSet {self.num_examples} examples, "
            f"images {self.images.shape}, labels {self.labels.shape}>"
        )


class Datasets(NamedTuple):
    train: DataSet
    test: DataSet


def _sklearn_digits():
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    bunch = sk_load_digits()
    return bunch.data, bunch.target


def _one_hot(labels: np.ndarray, depth: int) -> np.ndarray:
    out = np.zeros((len(labels), depth), np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _stratified_split(
    labels: np.ndarray, test_fraction: float, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays for train and test holding each class in the same proportion (so
    accuracy is comparable)."""
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_fraction: float = 0.25, one_hot: bool = False, seed: int = 0) -> Datasets:
    """The 8x8 handwritten digits as ``Datasets(train, test)``.

    Images are flattened to 64 float32 pixels scaled to [0, 1] (the raw values are 0..16). Labels
    are int64 class ids, or float32 one-hot rows of width 10 with ``one_hot=True``. The split is
    stratified by class and fixed by ``seed``, so the same call always gives the same split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must be in (0, 1), got {test_fraction}")
    data, target = _sklearn_digits()
    images = (np.asarray(data, np.float32) / 16.0).reshape(len(data), -1)
    labels = np.asarray(target, np.int64)
    rng = np.random.default_rng(seed)
    tr, te = _stratified_split(labels, test_fraction, rng)
    ys = _one_hot(labels, 10) if one_hot else labels
    return Datasets(DataSet(images[tr], ys[tr], seed), DataSet(images[te], ys[te], seed + 1))
