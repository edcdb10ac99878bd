"""The programs of tests/e2e/test_data.py (tf.data) and, run as a script, TensorFlow 2.21's values
for them, printed as a dict:

    /tmp/tfenv/bin/python tests/oracle/data.py [program ...]

(``tensorflow.compat.v1`` with v2 behaviour disabled). Each program takes the API as ``t`` (TF's
compat.v1 module, or tgc), builds fresh graphs, runs them and returns plain lists. Shuffle orders
are not compared (TF's random generator is not tgc's); the programs avoid shuffle.
"""

import pprint

import numpy as np


def r(values):
    """Lists of floats rounded to 6 decimals."""
    return np.round(np.asarray(values, np.float64), 6).tolist()


def plain(value):
    """A fetched structure as lists (dicts keep their keys, tuples become lists)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode()
    array = np.asarray(value)
    if array.dtype.kind in "OS":
        return [plain(v) for v in array] if array.ndim else plain(array.item())
    return array.tolist()


def drain(t, sess, fetch, limit=100):
    """Every element ``fetch`` gives until OutOfRangeError (at most ``limit``)."""
    out = []
    for _ in range(limit):
        try:
            out.append(plain(sess.run(fetch)))
        except t.errors.OutOfRangeError:
            return out
    return out + ["no OutOfRangeError"]


def shapes(structure):
    if isinstance(structure, dict):
        return {k: shapes(v) for k, v in sorted(structure.items())}
    if isinstance(structure, tuple):
        return [shapes(v) for v in structure]
    return None if structure.ndims is None else structure.as_list()


def types(structure):
    if isinstance(structure, dict):
        return {k: types(v) for k, v in sorted(structure.items())}
    if isinstance(structure, tuple):
        return [types(v) for v in structure]
    return structure.name


def slices_one_shot(t):
    """from_tensor_slices of a tuple of arrays, batched; the end of the data."""
    with t.Graph().as_default():
        ds = t.data.Dataset.from_tensor_slices(
            (np.arange(5), np.arange(10, dtype=np.float32).reshape(5, 2))
        ).batch(2)
        x, y = ds.make_one_shot_iterator().get_next()
        total = t.reduce_sum(y) + t.cast(t.reduce_sum(x), t.float32)
        with t.Session() as sess:
            elements = drain(t, sess, (x, y, total))
        return {
            "types": types(ds.output_types),
            "shapes": shapes(ds.output_shapes),
            "get_next_shapes": [x.shape.as_list(), y.shape.as_list()],
            "elements": elements,
        }


def python_values(t):
    """Python lists: ints are int32, floats float32; from_tensors, range, drop_remainder."""
    with t.Graph().as_default():
        a = t.data.Dataset.from_tensor_slices({"i": [1, 2, 3], "f": [[0.5], [1.5], [2.5]]})
        b = t.data.Dataset.from_tensors(([1, 2], 3.0))
        c = t.data.Dataset.range(2, 11, 3)
        d = t.data.Dataset.range(7).batch(3, drop_remainder=True)
        it = [ds.make_one_shot_iterator().get_next() for ds in (a, b, c, d)]
        with t.Session() as sess:
            got = [drain(t, sess, n) for n in it]
        return {
            "types": [types(ds.output_types) for ds in (a, b, c, d)],
            "shapes": [shapes(ds.output_shapes) for ds in (a, b, c, d)],
            "elements": got,
        }


def initializable(t):
    """Placeholders fed to the initializer; a map with graph ops; re-initialized with new feeds."""
    with t.Graph().as_default():
        features = t.placeholder(t.float32, [None, 2])
        labels = t.placeholder(t.int32, [None])
        scale = t.placeholder(t.float32, [])
        ds = t.data.Dataset.from_tensor_slices({"x": features, "y": labels})
        ds = ds.map(lambda d: {"x": t.nn.relu(d["x"] * scale - 1.0), "y": d["y"] * 2})
        ds = ds.batch(2)
        it = ds.make_initializable_iterator()
        nxt = it.get_next()
        norm = t.reduce_sum(t.square(nxt["x"]), axis=1)
        with t.Session() as sess:
            sess.run(
                it.initializer,
                {features: [[1, 2], [3, -4], [0.5, 6]], labels: [1, 2, 3], scale: 2.0},
            )
            first = drain(t, sess, (nxt, norm))
            sess.run(it.initializer, {features: [[-1, 1]], labels: [9], scale: 3.0})
            second = drain(t, sess, (nxt, norm))
        return {"shapes": shapes(ds.output_shapes), "first": first, "second": second}


def reinitializable(t):
    """Iterator.from_structure switched between a training and a test dataset."""
    with t.Graph().as_default():
        train = (
            t.data.Dataset.range(10)
            .filter(lambda v: t.equal(v % 3, 0))
            .map(lambda v: (t.cast(v, t.float32) / 2.0, v))
        )
        test = t.data.Dataset.range(4).map(lambda v: (t.cast(v, t.float32) * 10.0, -v))
        it = t.data.Iterator.from_structure(train.output_types, train.output_shapes)
        value, index = it.get_next()
        doubled = value * 2.0
        init_train, init_test = it.make_initializer(train), it.make_initializer(test)
        with t.Session() as sess:
            sess.run(init_train)
            a = drain(t, sess, (value, index, doubled))
            sess.run(init_test)
            b = [plain(sess.run(doubled)) for _ in range(2)]
            sess.run(init_train)
            c = plain(sess.run(index))
        return {"types": types(it.output_types), "train": a, "test": b, "again": c}


def generator_padded(t):
    """from_generator with unknown lengths, padded_batch, and a string component."""

    def gen():
        for i in range(5):
            yield i, [float(i)] * (i % 3 + 1), "w%d" % i

    with t.Graph().as_default():
        ds = t.data.Dataset.from_generator(
            gen, (t.int64, t.float32, t.string), (t.TensorShape([]), t.TensorShape([None]), [])
        )
        padded = ds.padded_batch(
            2, padded_shapes=([], [None], []), padding_values=(np.int64(0), -1.0, "")
        )
        fixed = ds.map(lambda i, v, s: v).padded_batch(3, padded_shapes=[4])
        n1 = padded.make_one_shot_iterator().get_next()
        n2 = fixed.make_one_shot_iterator().get_next()
        with t.Session() as sess:
            got = [drain(t, sess, n1), drain(t, sess, n2)]
        return {
            "shapes": [shapes(padded.output_shapes), shapes(fixed.output_shapes)],
            "elements": got,
        }


def transformations(t):
    """zip, concatenate, flat_map, take, skip, repeat, cache, shard, unbatch, apply, prefetch."""
    with t.Graph().as_default():
        rows = t.data.Dataset.from_tensor_slices(np.arange(6, dtype=np.int64).reshape(3, 2))
        flat = rows.flat_map(lambda r: t.data.Dataset.from_tensor_slices(r * 10))
        zipped = t.data.Dataset.zip((flat, t.data.Dataset.range(100, 200)))
        joined = zipped.concatenate(t.data.Dataset.zip((t.data.Dataset.range(2), rows.unbatch())))
        window = t.data.Dataset.range(20).skip(3).take(9).shard(3, 1).repeat(2).prefetch(4)
        cached = t.data.Dataset.range(3).map(lambda v: v * v).cache().repeat(2)
        applied = t.data.Dataset.range(5).apply(lambda d: d.batch(2)).unbatch().batch(4)
        its = [d.make_one_shot_iterator().get_next() for d in (joined, window, cached, applied)]
        with t.Session() as sess:
            got = [drain(t, sess, n) for n in its]
        return {"shapes": shapes(applied.output_shapes), "elements": got}


def feedable(t):
    """Iterator.from_string_handle: the fed handle chooses the iterator of each run."""
    with t.Graph().as_default():
        a = t.data.Dataset.range(0, 100).make_one_shot_iterator()
        b = t.data.Dataset.range(500, 600).make_initializable_iterator()
        handle = t.placeholder(t.string, [])
        it = t.data.Iterator.from_string_handle(handle, a.output_types, a.output_shapes)
        nxt = it.get_next() + 1
        with t.Session() as sess:
            ha, hb = sess.run([a.string_handle(), b.string_handle()])
            sess.run(b.initializer)
            got = [int(sess.run(nxt, {handle: h})) for h in (ha, ha, hb, ha, hb)]
        return {"values": got}


def logistic_regression(t):
    """A training loop reading its batches from a dataset: logistic regression by gradient
    descent, the loss at each step."""
    rng = np.random.RandomState(7)
    features = rng.normal(size=(40, 3)).astype(np.float32)
    labels = (features @ np.array([1.5, -2.0, 0.5], np.float32) > 0).astype(np.float32)
    with t.Graph().as_default():
        ds = t.data.Dataset.from_tensor_slices((features, labels[:, None])).repeat(3).batch(16)
        x, y = ds.make_one_shot_iterator().get_next()
        w = t.Variable(np.zeros((3, 1), np.float32))
        b = t.Variable(0.0)
        logits = t.matmul(x, w) + b
        loss = t.reduce_mean(t.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        train = t.train.GradientDescentOptimizer(0.5).minimize(loss)
        losses = []
        with t.Session() as sess:
            sess.run(t.global_variables_initializer())
            try:
                while True:
                    losses.append(float(sess.run([loss, train])[0]))
            except t.errors.OutOfRangeError:
                pass
            weights = sess.run(w)
        return {"losses": r(losses), "w": r(weights)}


def monitored(t):
    """A MonitoredTrainingSession loop ends quietly at the end of the dataset."""
    with t.Graph().as_default():
        step = t.train.get_or_create_global_step()
        x = t.data.Dataset.range(7).batch(2).make_one_shot_iterator().get_next()
        total = t.Variable(0, dtype=t.int64)
        update = t.group(t.assign_add(total, t.reduce_sum(x)), t.assign_add(step, 1))
        runs = 0
        with t.train.MonitoredTrainingSession() as sess:
            while not sess.should_stop():
                sess.run(update)
                runs += 1
        return {"runs": runs}


def errors(t):
    """TF's messages: a one-shot iterator over a placeholder; get_next before the initializer."""
    out = {}
    with t.Graph().as_default():
        p = t.placeholder(t.float32, [None])
        ds = t.data.Dataset.from_tensor_slices(p)
        try:
            ds.make_one_shot_iterator()
        except ValueError as exc:
            out["one_shot_placeholder"] = str(exc)
        it = ds.make_initializable_iterator()
        with t.Session() as sess:
            try:
                sess.run(it.get_next())
            except t.errors.FailedPreconditionError as exc:
                out["not_initialized"] = "has not been initialized" in str(exc)
    return out


def interleave(t):
    """interleave's order (cycle and block lengths); map_and_batch and parallel_interleave."""
    with t.Graph().as_default():
        base = t.data.Dataset.range(1, 6)
        a = base.interleave(
            lambda v: t.data.Dataset.from_tensors(v).repeat(v), cycle_length=2, block_length=3
        )
        b = base.interleave(lambda v: t.data.Dataset.range(v * 10, v * 10 + 2), cycle_length=3)
        c = base.apply(t.data.experimental.map_and_batch(lambda v: v * 2, 2, drop_remainder=True))
        d = base.apply(
            t.data.experimental.parallel_interleave(
                lambda v: t.data.Dataset.range(v * 10, v * 10 + 3), cycle_length=2, block_length=2
            )
        )
        its = [d.make_one_shot_iterator().get_next() for d in (a, b, c, d)]
        with t.Session() as sess:
            got = [drain(t, sess, n) for n in its]
        return {"elements": got, "shapes": shapes(c.output_shapes)}


def files(t):
    """TextLineDataset (plain and gzip files, a fed list of names) and CsvDataset (header, quotes,
    select_cols, defaults for empty fields)."""
    import gzip
    import os
    import shutil
    import tempfile

    folder = tempfile.mkdtemp()
    plain = os.path.join(folder, "a.txt")
    with open(plain, "wb") as f:
        f.write(b"first line\r\nsecond\n\nlast, no end")
    packed = os.path.join(folder, "b.txt.gz")
    with gzip.open(packed, "wb") as f:
        f.write(b"zipped 1\nzipped 2\n")
    table = os.path.join(folder, "t.csv")
    with open(table, "w") as f:
        f.write('id,name,score,note,weight\n1,"Smith, J",2.5,x,10\n2,Lee,,y,\n3,"Q ""q""",7,z,30\n')
    with t.Graph().as_default():
        names = t.placeholder(t.string, [None])
        lines = t.data.TextLineDataset(names).make_initializable_iterator()
        gz = t.data.TextLineDataset(packed, compression_type="GZIP").make_one_shot_iterator()
        csv_all = t.data.experimental.CsvDataset(table, [t.int32, "", -1.0, "", 0], header=True)
        csv_some = t.data.experimental.CsvDataset(
            table, [0, 0.0, 0], header=True, select_cols=[0, 2, 4]
        )
        n_lines = lines.get_next()
        others = [gz.get_next()] + [
            d.make_one_shot_iterator().get_next() for d in (csv_all, csv_some.batch(2))
        ]
        missing = t.data.experimental.CsvDataset(
            table, [t.int32, t.string, t.float32, t.string, t.int32], header=True
        )
        n_missing = missing.make_one_shot_iterator().get_next()
        with t.Session() as sess:
            sess.run(lines.initializer, {names: [plain, plain]})
            got = [drain(t, sess, n_lines)] + [drain(t, sess, n) for n in others]
            sess.run(n_missing)
            try:
                sess.run(n_missing)
                error = "none"
            except t.errors.InvalidArgumentError as exc:
                error = "Field 2 is required but missing in record!" in str(exc)
    shutil.rmtree(folder)
    return {"elements": got, "types": types(csv_all.output_types), "missing_field_error": error}


def choose(t):
    """experimental.choose_from_datasets: picks of an exhausted dataset are skipped, or end the
    stream with stop_on_empty_dataset."""
    with t.Graph().as_default():
        a, b = t.data.Dataset.range(0, 3), t.data.Dataset.range(10, 12)
        picks = t.data.Dataset.from_tensor_slices(np.array([0, 1, 1, 1, 0, 0, 1, 0], np.int64))
        skipping = t.data.experimental.choose_from_datasets([a, b], picks)
        stopping = t.data.experimental.choose_from_datasets(
            [a, b], picks, stop_on_empty_dataset=True
        )
        its = [d.make_one_shot_iterator().get_next() for d in (skipping, stopping)]
        with t.Session() as sess:
            return {"elements": [drain(t, sess, n) for n in its]}


PROGRAMS = {
    "slices_one_shot": slices_one_shot,
    "python_values": python_values,
    "initializable": initializable,
    "reinitializable": reinitializable,
    "generator_padded": generator_padded,
    "transformations": transformations,
    "feedable": feedable,
    "logistic_regression": logistic_regression,
    "monitored": monitored,
    "errors": errors,
    "interleave": interleave,
    "files": files,
    "choose": choose,
}

if __name__ == "__main__":
    import sys

    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()
    out = {"version": tf.__version__}
    for key in sys.argv[1:] or list(PROGRAMS):
        out[key] = PROGRAMS[key](tf.compat.v1)
    pprint.pprint(out, width=100, compact=True)
