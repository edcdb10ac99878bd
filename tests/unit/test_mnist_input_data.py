"""TF1's MNIST reader (`from tgc.examples.tutorials.mnist import input_data`) on small IDX files
written here: the splits, the scaling, TF's next_batch across epochs, downloads and bad files."""

import gzip
import struct

import numpy as np
import pytest

import tgc as tf
from tgc.examples.tutorials.mnist import input_data


def _write_idx(path, magic, dims, data):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims))
        f.write(np.asarray(data, np.uint8).tobytes())


def _mnist_files(folder, n_train=30, n_test=7, side=4):
    rng = np.random.default_rng(0)
    images = {
        "train": rng.integers(0, 256, (n_train, side, side)),
        "t10k": rng.integers(0, 256, (n_test, side, side)),
    }
    labels = {"train": np.arange(n_train) % 10, "t10k": (np.arange(n_test) * 3) % 10}
    for split in ("train", "t10k"):
        _write_idx(
            folder / f"{split}-images-idx3-ubyte.gz",
            2051,
            [len(images[split]), side, side],
            images[split],
        )
        _write_idx(
            folder / f"{split}-labels-idx1-ubyte.gz", 2049, [len(labels[split])], labels[split]
        )
    return images, labels


def test_read_data_sets_splits_scales_and_one_hots(tmp_path):
    images, labels = _mnist_files(tmp_path)
    mnist = input_data.read_data_sets(str(tmp_path), one_hot=True, validation_size=10)
    assert mnist.train.num_examples == 20 and mnist.validation.num_examples == 10
    assert mnist.test.images.shape == (7, 16) and mnist.test.images.dtype == np.float32
    np.testing.assert_allclose(mnist.test.images, images["t10k"].reshape(7, 16) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(mnist.validation.labels.argmax(1), labels["train"][:10])
    np.testing.assert_array_equal(mnist.train.labels.argmax(1), labels["train"][10:])
    assert tf.examples.tutorials.mnist.input_data is input_data


def test_unreshaped_uint8_images_keep_their_pixels(tmp_path):
    images, labels = _mnist_files(tmp_path)
    mnist = input_data.read_data_sets(
        str(tmp_path), dtype=tf.uint8, reshape=False, validation_size=0
    )
    assert mnist.test.images.shape == (7, 4, 4, 1)
    np.testing.assert_array_equal(mnist.test.images[..., 0], images["t10k"])
    np.testing.assert_array_equal(mnist.test.labels, labels["t10k"])


def test_next_batch_sees_every_example_once_per_epoch_and_spans_epochs(tmp_path):
    _mnist_files(tmp_path)
    train = input_data.read_data_sets(str(tmp_path), validation_size=0, seed=3).train
    pixels = train.images.copy()
    rows = [tuple(row) for _ in range(3) for row in train.next_batch(10)[0]]
    assert sorted(rows) == sorted(map(tuple, pixels)) and train.epochs_completed == 0
    crossing, crossing_labels = train.next_batch(8)  # 8 of 30: two epochs' parts
    more, _ = train.next_batch(8)
    assert train.epochs_completed == 1 and crossing.shape == (8, 16) and len(crossing_labels) == 8
    second_epoch = [tuple(r) for r in crossing] + [tuple(r) for r in more]
    assert len(set(second_epoch)) == 16  # no example twice within one epoch's first batches


def test_a_batch_bigger_than_the_split_is_refused(tmp_path):
    _mnist_files(tmp_path)
    mnist = input_data.read_data_sets(str(tmp_path), validation_size=25)
    with pytest.raises(ValueError, match="a batch of 6 is more than the 5 examples"):
        mnist.train.next_batch(6)


def test_missing_files_are_downloaded_from_the_source_url(tmp_path):
    source = tmp_path / "mirror"
    source.mkdir()
    _mnist_files(source)
    target = tmp_path / "data"
    mnist = input_data.read_data_sets(
        str(target), source_url=source.as_uri() + "/", validation_size=5
    )
    assert mnist.train.num_examples == 25
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in source.iterdir())


def test_a_failed_download_names_the_files_to_put_there(tmp_path):
    with pytest.raises(OSError, match=r"Put train-images-idx3-ubyte.gz, .* in .*nowhere"):
        input_data.read_data_sets(
            str(tmp_path / "nowhere"), source_url=(tmp_path / "none").as_uri() + "/"
        )
    assert not list((tmp_path / "nowhere").iterdir())  # no partial file left to pass for data


def test_bad_magic_and_truncated_files_are_named(tmp_path):
    _mnist_files(tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2051, [7], np.zeros(7))
    with pytest.raises(
        ValueError, match="Invalid magic number 2051 in MNIST label file: .*t10k-labels"
    ):
        input_data.read_data_sets(str(tmp_path))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2049, [9], np.zeros(7))
    with pytest.raises(ValueError, match="promises 9 bytes of data, the file has 7"):
        input_data.read_data_sets(str(tmp_path))
    _mnist_files(tmp_path)
    with pytest.raises(
        ValueError, match="Validation size should be between 0 and 30. Received: 31."
    ):
        input_data.read_data_sets(str(tmp_path), validation_size=31)


def test_fake_data_gives_tf1s_fake_batches():
    mnist = input_data.read_data_sets("unused", fake_data=True, one_hot=True)
    images, labels = mnist.train.next_batch(3)
    assert np.asarray(images).shape == (3, 784) and np.all(np.asarray(images) == 1)
    np.testing.assert_array_equal(np.asarray(labels), [[1] + [0] * 9] * 3)


def test_a_softmax_regression_trains_on_it(tmp_path):
    """The tutorials' program shape: placeholders fed from next_batch, one-hot labels."""
    _mnist_files(tmp_path, n_train=200, n_test=20)
    mnist = input_data.read_data_sets(str(tmp_path), one_hot=True, validation_size=0, seed=0)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 16])
    y = tf.placeholder(tf.float32, [None, 10])
    w = tf.Variable(tf.zeros([16, 10]))
    logits = tf.matmul(x, w)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: mnist.train.images, y: mnist.train.labels})
        for _ in range(40):
            bx, by = mnist.train.next_batch(50)
            sess.run(step, {x: bx, y: by})
        last = sess.run(loss, {x: mnist.train.images, y: mnist.train.labels})
    assert first == pytest.approx(np.log(10), rel=1e-5), first
    assert last < 0.95 * first, (first, last)
