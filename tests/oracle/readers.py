"""Prints TF_VALUES for tests/e2e/test_readers.py: run with TensorFlow 2.21 (compat.v1, v2 behaviour
disabled), ``/tmp/tfenv/bin/python tests/oracle/readers.py``. The programs are the test's: a CSV
file read by string_input_producer + TextLineReader + decode_csv + tf.train.batch training a linear
regression until OutOfRangeError; a CIFAR-10-format binary file read as cifar10_input.py does
(FixedLengthRecordReader + decode_raw); and TF's errors (a bad CSV field, a missing file, an
uninitialized epoch counter). Keys are compared without their directory."""

import json
import os
import tempfile

import numpy as np
import tensorflow as tf

t = tf.compat.v1
t.disable_v2_behavior()

CSV_ROWS = [
    (0.5 * i, 1.0 - 0.25 * i, 3.0 * (0.5 * i) - 2.0 * (1.0 - 0.25 * i) + 0.5) for i in range(6)
]


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("x1,x2,y\n")
        for row in rows:
            f.write(",".join(repr(v) for v in row) + "\n")


def write_cifar(path, count):
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 10, size=(count, 1)).astype(np.uint8)
    images = rng.randint(0, 256, size=(count, 3 * 32 * 32)).astype(np.uint8)
    np.concatenate([labels, images], axis=1).tofile(path)


def csv_regression(tf, path):
    """TF1's CSV input pipeline training y = w.x + b; the loss per step until the input ends."""
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


def cifar_batches(tf, path):
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
        out = {"labels": [], "sums": [], "corner": [], "keys": []}
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
            except tf.errors.OutOfRangeError:
                out["end"] = "OutOfRangeError"
            finally:
                coord.request_stop()
            coord.join(threads)
    return out


def _message(error):
    """TF's own text of an error: the line before the node's name (TF 2.21 puts "Graph execution
    error:" and the Python trace where it was made first)."""
    lines = [line for line in error.message.split("\n") if line.strip()]
    for k, line in enumerate(lines):
        if line.strip().startswith("[[") and k:
            return lines[k - 1].strip()
    return lines[-1].strip()


def decode_error(tf, line, defaults, field_delim=","):
    g = tf.Graph()
    with g.as_default():
        fields = tf.decode_csv(
            tf.constant(line), record_defaults=defaults(tf), field_delim=field_delim
        )
        with tf.Session() as sess:
            try:
                sess.run(fields)
            except tf.errors.OpError as e:
                return [type(e).__name__, _message(e)]
    return None


def reader_error(tf, path, init_locals=True):
    g = tf.Graph()
    with g.as_default():
        files = tf.train.string_input_producer([path], num_epochs=1, shuffle=False)
        _, value = tf.TextLineReader().read(files)
        with tf.Session() as sess:
            if init_locals:
                sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            try:
                sess.run(value)
            except tf.errors.OpError as e:
                found = [type(e).__name__, _message(e)]
            coord.request_stop()
            try:
                coord.join(threads)
            except tf.errors.OpError as e:
                found.append([type(e).__name__, _message(e)])
    return found


def decode_raw(tf):
    g = tf.Graph()
    with g.as_default():
        strings = tf.constant([[b"\x01\x02\x03\x04"], [b"\xff\xfe\x00\x80"]])
        little = tf.decode_raw(strings, tf.int16)
        big = tf.decode_raw(strings, tf.int16, little_endian=False)
        with tf.Session() as sess:
            a, b = sess.run([little, big])
    return {"shape": list(little.shape.as_list()), "little": a.tolist(), "big": b.tolist()}


def uninitialized_epochs(tf, path):
    """string_input_producer(num_epochs=) without tf.local_variables_initializer(): the runner's
    error, reported through the coordinator."""
    g = tf.Graph()
    with g.as_default():
        files = tf.train.string_input_producer([path], num_epochs=1, shuffle=False)
        name = files.dequeue()
        with tf.Session() as sess:
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            try:
                coord.join(threads, stop_grace_period_secs=5)
            except tf.errors.OpError as e:
                return [type(e).__name__, _message(e)]
            del name
    return None


def decode_raw_error(tf, strings, out_type):
    g = tf.Graph()
    with g.as_default():
        out = tf.decode_raw(tf.constant(strings), out_type)
        with tf.Session() as sess:
            try:
                sess.run(out)
            except tf.errors.OpError as e:
                return [type(e).__name__, _message(e)]
    return None


def whole_files(tf, paths):
    """WholeFileReader over two files, read_file of one, match_filenames_once of a glob."""
    g = tf.Graph()
    with g.as_default():
        files = tf.train.string_input_producer(paths, num_epochs=1, shuffle=False)
        key, value = tf.WholeFileReader().read(files)
        contents = tf.read_file(tf.constant(paths[1]))
        matched = tf.train.match_filenames_once(os.path.join(os.path.dirname(paths[0]), "*.txt"))
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            read = [sess.run([key, value]) for _ in paths]
            coord.request_stop()
            coord.join(threads)
            return {
                "read": [[os.path.basename(k.decode()), v.decode()] for k, v in read],
                "read_file": sess.run(contents).decode(),
                "matched": [os.path.basename(m.decode()) for m in sess.run(matched)],
            }


def producer_names(tf):
    """The graph string_input_producer makes: its queue, its summary, its epoch counter."""
    g = tf.Graph()
    with g.as_default():
        queue = tf.train.string_input_producer(["a", "b"], num_epochs=2)
        return {
            "queue": queue.name,
            "summaries": [s.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)],
            "local_variables": [v.name for v in tf.local_variables()],
        }


def fixed_length_records(tf, path, **options):
    """Every (key, value) of a FixedLengthRecordReader over ``path`` (one epoch)."""
    g = tf.Graph()
    with g.as_default():
        files = tf.train.string_input_producer([path], num_epochs=1, shuffle=False)
        keys, values = tf.FixedLengthRecordReader(**options).read_up_to(files, 100)
        with tf.Session() as sess:
            sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(sess=sess, coord=coord)
            k, v = sess.run([keys, values])
            coord.request_stop()
            coord.join(threads)
    return [[os.path.basename(a.decode()), b.decode()] for a, b in zip(k, v)]


def main():
    d = tempfile.mkdtemp()
    csv_path = os.path.join(d, "data.csv")
    write_csv(csv_path, CSV_ROWS)
    cifar_path = os.path.join(d, "data_batch_1.bin")
    write_cifar(cifar_path, 5)
    text_paths = []
    for name, text in (("b.txt", "second\nfile\n"), ("a.txt", "first file")):
        text_paths.append(os.path.join(d, name))
        with open(text_paths[-1], "w") as f:
            f.write(text)
    fixed_path = os.path.join(d, "fixed.bin")
    with open(fixed_path, "wb") as f:
        f.write(b"HHabcdefghijkFF")  # header HH, body abcdefghijk (11 bytes), footer FF
    values = {
        "fixed_header_footer": fixed_length_records(
            t, fixed_path, record_bytes=3, header_bytes=2, footer_bytes=2
        ),
        "fixed_hop": fixed_length_records(
            t, fixed_path, record_bytes=4, header_bytes=2, footer_bytes=2, hop_bytes=2
        ),
        "producer_names": producer_names(t),
        "uninitialized_epochs": uninitialized_epochs(t, csv_path),
        "decode_raw_sizes": decode_raw_error(t, [b"abcd", b"abcdefgh"], t.int32),
        "decode_raw_multiple": decode_raw_error(t, [b"abcde"], t.int32),
        "decode_raw_int16": decode_raw(t),
        "whole_files": whole_files(t, text_paths),
        "csv_regression": csv_regression(t, csv_path),
        "cifar": cifar_batches(t, cifar_path),
        "bad_float": decode_error(t, "1.0,abc", lambda tf: [[0.0], [0.0]]),
        "bad_int": decode_error(t, "1,2.5", lambda tf: [[0], [0]]),
        "missing_field": decode_error(t, "1.0,", lambda tf: [[0.0], tf.constant([], tf.float32)]),
        "field_count": decode_error(t, "1.0,2.0,3.0", lambda tf: [[0.0], [0.0]]),
        "int_overflow": decode_error(t, "99999999999", lambda tf: [[0]]),
        "field_delim": decode_error(t, "1;2", lambda tf: [[0], [0]], field_delim=";;"),
        "missing_file": reader_error(t, os.path.join(d, "missing.csv")),
    }
    print(json.dumps(values, indent=1))


if __name__ == "__main__":
    main()
