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


def decode_error(line, defaults, field_delim=","):
    with tf.Graph().as_default():
        fields = tf.decode_csv(tf.constant(line), record_defaults=defaults, field_delim=field_delim)
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
        ("int_overflow", "99999999999", lambda: [[0]]),
    ],
)
def test_decode_csv_errors_are_tfs(case, line, defaults):
    assert decode_error(line, defaults()) == TF_VALUES[case]


def test_decode_csv_field_delim_of_two_chars_is_tfs_error():
    assert decode_error("1;2", [[0], [0]], field_delim=";;") == TF_VALUES["field_delim"]


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


def test_epoch_counter_is_a_local_variable_that_must_be_initialized(tmp_path):
    path = str(tmp_path / "data.csv")
    write_csv(path, CSV_ROWS)
    with tf.Graph().as_default():
        files = tf.train.string_input_producer([path], num_epochs=1, shuffle=False)
        assert [v.name for v in tf.local_variables()] == ["input_producer/limit_epochs/epochs:0"]
        files.dequeue()
        with tf.Session() as sess:
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            with pytest.raises(tf.errors.OpError) as caught:
                coord.join(threads, stop_grace_period_secs=5)
    assert [type(caught.value).__name__, caught.value.message] == TF_VALUES["uninitialized_epochs"]


@pytest.mark.parametrize(
    "case, strings",
    [("decode_raw_sizes", [b"abcd", b"abcdefgh"]), ("decode_raw_multiple", [b"abcde"])],
)
def test_decode_raw_errors_are_tfs(case, strings):
    with tf.Graph().as_default():
        out = tf.decode_raw(tf.constant(strings), tf.int32)
        with tf.Session() as sess:
            with pytest.raises(tf.errors.OpError) as caught:
                sess.run(out)
    assert [type(caught.value).__name__, caught.value.message] == TF_VALUES[case]


def test_decode_raw_byte_orders_and_shape():
    with tf.Graph().as_default():
        strings = tf.constant([[b"\x01\x02\x03\x04"], [b"\xff\xfe\x00\x80"]])
        little = tf.decode_raw(strings, tf.int16)
        big = tf.decode_raw(strings, tf.int16, little_endian=False)
        with tf.Session() as sess:
            a, b = sess.run([little, big])
    want = TF_VALUES["decode_raw_int16"]
    assert little.shape.as_list() == want["shape"]  # the width of a constant's strings: unknown
    assert a.dtype == np.int16
    assert a.tolist() == want["little"] and b.tolist() == want["big"]


def test_whole_file_reader_read_file_and_match_filenames_once(tmp_path):
    paths = []
    for name, text in (("b.txt", "second\nfile\n"), ("a.txt", "first file")):
        paths.append(str(tmp_path / name))
        pathlib.Path(paths[-1]).write_text(text)
    with tf.Graph().as_default():
        files = tf.train.string_input_producer(paths, num_epochs=1, shuffle=False)
        key, value = tf.WholeFileReader().read(files)
        contents = tf.read_file(tf.constant(paths[1]))
        matched = tf.train.match_filenames_once(str(tmp_path / "*.txt"))
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            read = [sess.run([key, value]) for _ in paths]
            coord.request_stop()
            coord.join(threads)
            got = {
                "read": [[os.path.basename(k.decode()), v.decode()] for k, v in read],
                "read_file": sess.run(contents).decode(),
                "matched": [os.path.basename(m.decode()) for m in sess.run(matched)],
            }
    assert got == TF_VALUES["whole_files"]


def test_shuffled_file_names_and_shuffle_batch_of_decoded_lines(tmp_path):
    """shuffle=True: every epoch is a permutation of the files (TF's order differs: its random
    numbers are its own); shuffle_batch takes decode_csv's host values as batch does."""
    paths = []
    for k in range(3):
        paths.append(str(tmp_path / f"part{k}.csv"))
        pathlib.Path(paths[-1]).write_text(f"{k},{10 * k}\n{k},{10 * k + 1}\n")
    with tf.Graph().as_default():
        tf.set_random_seed(7)
        files = tf.train.string_input_producer(paths, num_epochs=2, shuffle=True, seed=3)
        reader = tf.TextLineReader()
        _, line = reader.read(files)
        part, number = tf.decode_csv(line, [[0], [0]])
        parts, numbers = tf.train.shuffle_batch(
            [part, number * 2], batch_size=4, capacity=20, min_after_dequeue=2, seed=5
        )
        produced = reader.num_records_produced()
        files_done = reader.num_work_units_completed()
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            seen = []
            try:
                while True:
                    p, n = sess.run([parts, numbers])
                    seen.extend(zip(p.tolist(), n.tolist()))
            except tf.errors.OutOfRangeError:
                pass
            coord.request_stop()
            coord.join(threads)
            counts = sess.run([produced, files_done])
    # 12 lines (2 epochs of 3 files of 2 lines) in 3 batches of 4, each line twice.
    want = sorted([(k, 2 * (10 * k + j)) for k in range(3) for j in range(2)] * 2)
    assert sorted(seen) == want
    # TF 2.21 compat.v1 gives [12, 6] for this program (the last file completes when the runner's
    # read passes its end, before the closed queue raises OutOfRangeError).
    assert counts == [12, 6]


def test_decode_csv_of_a_batch_with_selected_columns_and_na_value():
    with tf.Graph().as_default():
        records = tf.constant([["1,x,2.5", "3,NA,"], ["5,y,NA", "7,z,1e3"]])
        a, c = tf.decode_csv(records, [[0], [-1.0]], select_cols=[0, 2], na_value="NA")
        with tf.Session() as sess:
            got_a, got_c = sess.run([a, c * 2.0])
    assert got_a.dtype == np.int32 and got_a.tolist() == [[1, 3], [5, 7]]
    np.testing.assert_array_equal(got_c, np.float32([[5.0, -2.0], [-2.0, 2000.0]]))


def test_set_shape_refines_host_values_and_refuses_the_rest():
    with tf.Graph().as_default():
        decoded = tf.decode_raw(tf.constant(b"abcd"), tf.uint8)
        decoded.set_shape([4])
        assert decoded.shape.as_list() == [4]
        with pytest.raises(ValueError, match=r"not compatible with supplied shape \(5,\)"):
            decoded.set_shape([5])
        x = tf.placeholder(tf.float32, [None, 3])
        y = x * 2.0
        y.set_shape([None, 3])  # nothing to refine
        with pytest.raises(ValueError, match="cannot refine the shape of"):
            y.set_shape([2, 3])


def test_read_up_to_batches_many_under_monitored_training_session(tmp_path):
    """MonitoredTrainingSession initializes the local variables (TF's default local_init_op),
    starts the queue runners and stops at the end of the epochs."""
    path = tmp_path / "five.csv"
    path.write_text("1,2\n3,4\n5,6\n7,8\n9,10\n")
    with tf.Graph().as_default():
        files = tf.train.string_input_producer([str(path)], num_epochs=2, shuffle=False)
        _, lines = tf.TextLineReader().read_up_to(files, 3)
        a, b = tf.decode_csv(lines, [[0], [0]])
        batch_a, batch_b = tf.train.batch(
            [a, b], batch_size=4, enqueue_many=True, allow_smaller_final_batch=True
        )
        total = tf.reduce_sum(batch_a * batch_b)
        got = []
        with tf.train.MonitoredTrainingSession() as sess:
            while not sess.should_stop():
                got.append(sess.run([batch_a, total]))
    assert [g[0].tolist() for g in got] == [[1, 3, 5, 7], [9, 1, 3, 5], [7, 9]]
    assert [int(g[1]) for g in got] == [100, 134, 146]  # sums of a * b over each batch


def test_string_input_producer_makes_tfs_queue_summary_and_epoch_counter():
    with tf.Graph().as_default():
        queue = tf.train.string_input_producer(["a", "b"], num_epochs=2)
        got = {
            "queue": queue.name,
            "summaries": [s.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)],
            "local_variables": [v.name for v in tf.local_variables()],
        }
    assert got == TF_VALUES["producer_names"]


def test_file_names_dequeued_one_at_a_time_are_bytes():
    with tf.Graph().as_default():
        queue = tf.train.string_input_producer(["a.csv", "b.csv"], shuffle=False)
        name = queue.dequeue()
        with tf.Session() as sess:
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            got = [sess.run(name) for _ in range(3)]
            coord.request_stop()
            coord.join(threads)
    assert got == [b"a.csv", b"b.csv", b"a.csv"]  # TF fetches a scalar string as bytes


def test_cifar10_distorted_inputs_train_with_four_reader_threads(tmp_path):
    """cifar10_input.distorted_inputs: two files, random crops, flips, brightness and contrast
    and per-image standardization (compiled ops on the decoded records), shuffle_batch with four
    threads sharing one reader; a softmax layer trains on the batches."""
    paths = [str(tmp_path / f"data_batch_{k}.bin") for k in (1, 2)]
    for path in paths:
        write_cifar(path, 10)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        files = tf.train.string_input_producer(paths)
        key, value = tf.FixedLengthRecordReader(record_bytes=3073).read(files)
        record = tf.decode_raw(value, tf.uint8)
        label = tf.cast(tf.strided_slice(record, [0], [1]), tf.int32)
        major = tf.reshape(tf.strided_slice(record, [1], [3073]), [3, 32, 32])
        image = tf.cast(tf.transpose(major, [1, 2, 0]), tf.float32)
        image = tf.random_crop(image, [24, 24, 3])
        image = tf.image.random_flip_left_right(image)
        image = tf.image.random_brightness(image, max_delta=63)
        image = tf.image.random_contrast(image, lower=0.2, upper=1.8)
        image = tf.image.per_image_standardization(image)
        image.set_shape([24, 24, 3])
        label.set_shape([1])
        images, labels = tf.train.shuffle_batch(
            [image, label], batch_size=8, num_threads=4, capacity=40, min_after_dequeue=10
        )
        labels = tf.reshape(labels, [8])
        w = tf.Variable(tf.zeros([24 * 24 * 3, 10]))
        logits = tf.matmul(tf.reshape(images, [8, -1]), w)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )
        train = tf.train.GradientDescentOptimizer(0.001).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            losses, batches = [], []
            for _ in range(6):
                step_loss, batch, batch_labels, _ = sess.run([loss, images, labels, train])
                losses.append(step_loss)
                batches.append((batch, batch_labels))
            coord.request_stop()
            coord.join(threads)
    assert np.isclose(losses[0], np.log(10.0), rtol=1e-5)  # zero weights: uniform softmax
    assert np.all(np.isfinite(losses))
    for batch, batch_labels in batches:
        assert batch.shape == (8, 24, 24, 3)
        # per_image_standardization: each image has mean 0 and standard deviation 1.
        np.testing.assert_allclose(batch.mean(axis=(1, 2, 3)), 0.0, atol=1e-4)
        np.testing.assert_allclose(batch.std(axis=(1, 2, 3)), 1.0, rtol=1e-3)
        assert set(batch_labels.tolist()) <= set(range(10))


@pytest.mark.parametrize(
    "case, options",
    [
        ("fixed_header_footer", dict(record_bytes=3, header_bytes=2, footer_bytes=2)),
        ("fixed_hop", dict(record_bytes=4, header_bytes=2, footer_bytes=2, hop_bytes=2)),
    ],
)
def test_fixed_length_records_between_header_and_footer(tmp_path, case, options):
    """A partial record before the footer is dropped, as in TF."""
    path = tmp_path / "fixed.bin"
    path.write_bytes(b"HHabcdefghijkFF")  # header HH, 11 bytes of records, footer FF
    with tf.Graph().as_default():
        files = tf.train.string_input_producer([str(path)], num_epochs=1, shuffle=False)
        keys, values = tf.FixedLengthRecordReader(**options).read_up_to(files, 100)
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            k, v = sess.run([keys, values])
            coord.request_stop()
            coord.join(threads)
    got = [[os.path.basename(a.decode()), b.decode()] for a, b in zip(k, v)]
    assert got == TF_VALUES[case]
