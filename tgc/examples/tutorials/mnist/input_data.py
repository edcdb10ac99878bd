"""TF1's MNIST reader: ``input_data.read_data_sets(dir, one_hot=True)`` and the ``DataSet``
splits its tutorials use (``mnist.train.next_batch(100)``, ``mnist.test.images``).

Reads the four gzipped IDX files from ``train_dir``; a file that is not there is downloaded from
``source_url`` as TF does, and when that fails (a machine without network access) the error names
the files to put in ``train_dir``. The batches follow TF's ``next_batch``: the first epoch is
shuffled, and a batch that runs past the end of an epoch takes the rest of it and the start of the
next, reshuffled. Shuffling uses its own generator (seeded by ``seed``), not numpy's global one.
"""

from __future__ import annotations

import gzip
import os
import urllib.error
import urllib.request
from typing import NamedTuple

import numpy as np

DEFAULT_SOURCE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
NUM_CLASSES = 10


class Datasets(NamedTuple):
    train: "DataSet"
    validation: "DataSet"
    test: "DataSet"


def _read_u32(stream, path: str) -> int:
    data = stream.read(4)
    if len(data) != 4:
        raise ValueError(f"{path}: the file ends inside its IDX header")
    return int(np.frombuffer(data, dtype=">u4")[0])


def _read_body(stream, count: int, path: str) -> np.ndarray:
    data = stream.read(count)
    if len(data) != count:
        raise ValueError(
            f"{path}: the header promises {count} bytes of data, the file has {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8)


def extract_images(path: str) -> np.ndarray:
    """The images of a gzipped IDX3 file as uint8 [n, rows, cols, 1]."""
    with gzip.open(path, "rb") as stream:
        magic = _read_u32(stream, path)
        if magic != IMAGES_MAGIC:
            raise ValueError(f"Invalid magic number {magic} in MNIST image file: {path}")
        n, rows, cols = (_read_u32(stream, path) for _ in range(3))
        return _read_body(stream, n * rows * cols, path).reshape(n, rows, cols, 1)


def dense_to_one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    one_hot = np.zeros((labels.shape[0], num_classes))
    one_hot[np.arange(labels.shape[0]), labels] = 1
    return one_hot


def extract_labels(path: str, one_hot: bool = False, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """The labels of a gzipped IDX1 file as uint8 [n] (or float [n, num_classes] one-hot)."""
    with gzip.open(path, "rb") as stream:
        magic = _read_u32(stream, path)
        if magic != LABELS_MAGIC:
            raise ValueError(f"Invalid magic number {magic} in MNIST label file: {path}")
        labels = _read_body(stream, _read_u32(stream, path), path)
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"{path}: label {labels.max()} is not below {num_classes} classes")
    return dense_to_one_hot(labels, num_classes) if one_hot else labels


class DataSet:
    """One split: ``images`` (float32 in [0, 1], [n, 784] when reshaped) and ``labels``."""

    def __init__(
        self,
        images,
        labels,
        fake_data=False,
        one_hot=False,
        dtype=np.float32,
        reshape=True,
        seed=None,
    ):
        dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
        if dtype not in (np.dtype(np.uint8), np.dtype(np.float32)):
            raise TypeError(f"Invalid image dtype {dtype}, expected uint8 or float32")
        self._rng = np.random.default_rng(seed)
        self.fake_data = fake_data
        self.one_hot = one_hot
        if fake_data:
            self._num_examples = 10000
        else:
            images, labels = np.asarray(images), np.asarray(labels)
            if images.shape[0] != labels.shape[0]:
                raise ValueError(f"images.shape: {images.shape} labels.shape: {labels.shape}")
            self._num_examples = images.shape[0]
            if reshape:
                images = images.reshape(images.shape[0], int(np.prod(images.shape[1:])))
            if dtype == np.float32:
                images = images.astype(np.float32) * np.float32(1.0 / 255.0)
        self._images = images
        self._labels = labels
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self):
        return self._images

    @property
    def labels(self):
        return self._labels

    @property
    def num_examples(self) -> int:
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        return self._epochs_completed

    def _fake_batch(self, batch_size: int):
        image = [1] * 784
        label = [1] + [0] * (NUM_CLASSES - 1) if self.one_hot else 0
        return [image for _ in range(batch_size)], [label for _ in range(batch_size)]

    def _shuffle(self) -> None:
        order = self._rng.permutation(self._num_examples)
        self._images = self._images[order]
        self._labels = self._labels[order]

    def next_batch(self, batch_size, fake_data=False, shuffle=True):
        """The next ``batch_size`` examples; past an epoch's end, its rest and the next's start."""
        if fake_data or self.fake_data:
            return self._fake_batch(batch_size)
        if batch_size > self._num_examples:
            raise ValueError(
                f"next_batch: a batch of {batch_size} is more than the {self._num_examples} "
                "examples of the split"
            )
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size <= self._num_examples:
            self._index_in_epoch += batch_size
            return self._images[start : self._index_in_epoch], self._labels[
                start : start + batch_size
            ]
        self._epochs_completed += 1
        rest_images, rest_labels = self._images[start:], self._labels[start:]
        if shuffle:
            self._shuffle()
        self._index_in_epoch = batch_size - len(rest_images)
        end = self._index_in_epoch
        return (
            np.concatenate((rest_images, self._images[:end]), axis=0),
            np.concatenate((rest_labels, self._labels[:end]), axis=0),
        )


def maybe_download(filename: str, work_directory: str, source_url: str) -> str:
    """``work_directory/filename``, downloaded from ``source_url`` when it is not there yet."""
    path = os.path.join(work_directory, filename)
    if os.path.exists(path):
        return path
    os.makedirs(work_directory, exist_ok=True)
    partial = path + ".part"
    try:
        with urllib.request.urlopen(source_url) as response, open(partial, "wb") as out:
            out.write(response.read())
    except (urllib.error.URLError, OSError, ValueError) as err:
        if os.path.exists(partial):
            os.remove(partial)
        raise OSError(
            f"MNIST: {path} is not there and downloading it from {source_url} failed ({err}). "
            f"Put {TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_IMAGES} and {TEST_LABELS} in "
            f"{work_directory} (the files of http://yann.lecun.com/exdb/mnist/)."
        ) from None
    os.replace(partial, path)  # a download cut short never passes for the file
    return path


def read_data_sets(
    train_dir,
    fake_data=False,
    one_hot=False,
    dtype=np.float32,
    reshape=True,
    validation_size=5000,
    seed=None,
    source_url=DEFAULT_SOURCE_URL,
) -> Datasets:
    """MNIST's train (less the first ``validation_size`` images), validation and test splits."""
    if fake_data:

        def fake():
            return DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype, seed=seed)

        return Datasets(train=fake(), validation=fake(), test=fake())
    source_url = source_url or DEFAULT_SOURCE_URL

    def local(name):
        return maybe_download(name, train_dir, source_url + name)

    train_images = extract_images(local(TRAIN_IMAGES))
    train_labels = extract_labels(local(TRAIN_LABELS), one_hot=one_hot)
    test_images = extract_images(local(TEST_IMAGES))
    test_labels = extract_labels(local(TEST_LABELS), one_hot=one_hot)
    if not 0 <= validation_size <= len(train_images):
        raise ValueError(
            f"Validation size should be between 0 and {len(train_images)}. "
            f"Received: {validation_size}."
        )
    options = dict(dtype=dtype, reshape=reshape, seed=seed)
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:], **options),
        validation=DataSet(
            train_images[:validation_size], train_labels[:validation_size], **options
        ),
        test=DataSet(test_images, test_labels, **options),
    )
