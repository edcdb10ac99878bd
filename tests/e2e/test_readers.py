"""TF1's file input pipeline (tgc/frontend/readers.py): string_input_producer, the readers and
decode_csv / decode_raw, against TensorFlow 2.21 compat.v1's values in readers_tf_values.json
(made by ``/tmp/tfenv/bin/python tests/oracle/readers.py``; the programs here are the oracle's)."""

import json
import os
import pathlib

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import readers

TF_VALUES = json.loads((pathlib.Path(__file__).parent / "readers_tf_values.json").read_text())

CSV_ROWS = [
    (0.5 * i, 1.0 - 0.25 * i, 3.0 * (0.5 * i) - 2.0 * (1.0 - 0.25 * i) + 0.5) for i in range(6)
]


@pytest.fixture(autouse=True)
def reader_names(monkeypatch):
    """The names as TF has them, until tgc's namespace exports them."""
    for name in ("TextLineReader", "FixedLengthRecordReader", "WholeFileReader"):
        monkeypatch.setattr(tf, name, getattr(readers, name), raising=False)
    for name in ("decode_csv", "decode_raw", "read_file"):
        monkeypatch.setattr(tf, name, getattr(readers, name), raising=False)
    for name in ("string_input_producer", "match_filenames_once"):
        monkeypatch.setattr(tf.train, name, getattr(readers, name), raising=False)


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("x1,x2,y\n")
        for row in rows:
            f.write(",".join(repr(v) for v in row) + "\n")


def write_cifar(path, count):
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 10, size=(count, 1)).astype(np.uint8)
    images = rng.randint(0, 256, size=(count, 3 * 32 * 32)).astype(np.uint8)
    records = np.concatenate([labels, images], axis=1)
    records.tofile(path)
    return records


def csv_regression(path):
    g = tf.Graph()
    with g.as_default():
        files = tf.train.string_input_producer([path], num_epochs=2, shuffle=False)
        reader = tf.TextLineReader(skip_header_lines=1)
        key, value = reader.read(files)
        x1, x2, y = tf.decode_csv(value, record_defaults=[[0.0], [0.0], [0.0]])
        features = tf.stack([x1, x2])
        keys, xs, ys = tf.train.batch([key, features, y], batch_size=4)
        w = tf.Variable(tf.zeros([2, 1]))
        b = tf.Variable(0.0)
        pred = tf.squeeze(tf.matmul(xs, w), 1) + b
        loss = tf.reduce_mean(tf.square(pred - ys))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        init = tf.group(tf.global_variables_initializer(), tf.local_variables_initializer())
        out = {"losses": [], "keys": []}
        with tf.Session() as sess:
            sess.run(init)
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            try:
                while not coord.should_stop():
                    k, step_loss, _ = sess.run([keys, loss, train])
                    out["losses"].append(float(step_loss))
                    out["keys"].append([os.path.basename(s.decode()) for s in k])
            except tf.errors.OutOfRangeError:
                out["end"] = "OutOfRangeError"
            finally:
                coord.request_stop()
            coord.join(threads)
            out["w"] = sess.run(w).ravel().tolist()
            out["b"] = float(sess.run(b))
    return out


def cifar_batches(path):
    """cifar10_input.py's reading of data_batch_*.bin, batched by 2 for one epoch."""
    g = tf.Graph()
    with g.as_default():
        files = tf.train.string_input_producer([path], num_epochs=1, shuffle=False)
        label_bytes, height, width, depth = 1, 32, 32, 3
        image_bytes = height * width * depth
        reader = tf.FixedLengthRecordReader(record_bytes=label_bytes + image_bytes)
        key, value = reader.read(files)
        record_bytes = tf.decode_raw(value, tf.uint8)
        label = tf.cast(tf.strided_slice(record_bytes, [0], [label_bytes]), tf.int32)
        depth_major = tf.reshape(
            tf.strided_slice(record_bytes, [label_bytes], [label_bytes + image_bytes]),
            [depth, height, width],
        )
        uint8image = tf.transpose(depth_major, [1, 2, 0])
        image = tf.cast(uint8image, tf.float32)
        image.set_shape([height, width, 3])
        label.set_shape([1])
        images, labels, keys = tf.train.batch([image, label, key], batch_size=2)
        out = {"labels": [], "sums": [], "corner": [], "keys": [], "images": []}
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            try:
                while True:
                    im, lb, k = sess.run([images, labels, keys])
                    out["labels"].append(lb.ravel().tolist())
                    out["sums"].append(im.sum(axis=(1, 2, 3)).tolist())
                    out["corner"].append(im[:, 0, 0, :].tolist())
                    out["keys"].append([os.path.basename(s.decode()) for s in k])
                    out["images"].append(im)
            except tf.errors.OutOfRangeError:
                out["end"] = "OutOfRangeError"
            finally:
                coord.request_stop()
            coord.join(threads)
    return out


def test_csv_pipeline_trains_a_linear_regression_until_the_input_ends(tmp_path):
    path = str(tmp_path / "data.csv")
    write_csv(path, CSV_ROWS)
    got = csv_regression(path)
    want = TF_VALUES["csv_regression"]
    assert got["end"] == want["end"] == "OutOfRangeError"
    assert got["keys"] == want["keys"]  # 12 lines (2 epochs of 6) in batches of 4, in file order
    np.testing.assert_allclose(got["losses"], want["losses"], rtol=1e-5)
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-5)
    np.testing.assert_allclose(got["b"], want["b"], rtol=1e-5)


def test_cifar10_records_read_with_fixed_length_reader_and_decode_raw(tmp_path):
    path = str(tmp_path / "data_batch_1.bin")
    records = write_cifar(path, 5)
    got = cifar_batches(path)
    want = TF_VALUES["cifar"]
    for key in ("labels", "sums", "corner", "keys", "end"):
        assert got[key] == want[key], key
    # Two full batches of 2; the fifth record is left in the queue when the input ends (TF's).
    expected = records[:4, 1:].reshape(4, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32)
    np.testing.assert_array_equal(np.concatenate(got["images"]), expected)


def decode_error(line, defaults):
    with tf.Graph().as_default():
        fields = tf.decode_csv(tf.constant(line), record_defaults=defaults)
        with tf.Session() as sess:
            with pytest.raises(tf.errors.OpError) as caught:
                sess.run(fields)
    return [type(caught.value).__name__, caught.value.message]


@pytest.mark.parametrize(
    "case, line, defaults",
    [
        ("bad_float", "1.0,abc", lambda: [[0.0], [0.0]]),
        ("bad_int", "1,2.5", lambda: [[0], [0]]),
        ("missing_field", "1.0,", lambda: [[0.0], tf.constant([], tf.float32)]),
        ("field_count", "1.0,2.0,3.0", lambda: [[0.0], [0.0]]),
    ],
)
def test_decode_csv_errors_are_tfs(case, line, defaults):
    assert decode_error(line, defaults()) == TF_VALUES[case]


def test_missing_file_raises_tfs_not_found(tmp_path):
    path = str(tmp_path / "missing.csv")
    with tf.Graph().as_default():
        files = tf.train.string_input_producer([path], num_epochs=1, shuffle=False)
        _, value = tf.TextLineReader().read(files)
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            with pytest.raises(tf.errors.NotFoundError) as caught:
                sess.run(value)
            coord.request_stop()
            coord.join(threads)
    name, message = TF_VALUES["missing_file"]
    assert name == "NotFoundError"
    assert caught.value.message == message.format(path=path)
