"""tf.data (TF1's API) under tgc: datasets run on the host, iterators feed the compiled graph.

``TF_VALUES`` are the output of

    /tmp/tfenv/bin/python tests/oracle/data.py

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled). The oracle file holds
the programs (each takes the API module as ``t``); ``test_tf_programs`` runs the same
ones under tgc.
Shuffle orders are tgc's own (deterministic with a seed), tested here without TF's values.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tgc

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "data.py"
_spec = importlib.util.spec_from_file_location("data_oracle", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


T = tf = tgc  # the programs take the API module: tgc itself, tf.data included
data = tgc.data

TF_VALUES = {
    "choose": {"elements": [[0, 10, 11, 1, 2], [0, 10, 11]]},
    "errors": {
        "not_initialized": True,
        "one_shot_placeholder": "Cannot capture a placeholder (name:Placeholder, "
        "type:Placeholder) by value.",
    },
    "feedable": {"values": [1, 2, 501, 3, 502]},
    "files": {
        "elements": [
            [
                "first line",
                "second",
                "",
                "last, no end",
                "first line",
                "second",
                "",
                "last, no end",
            ],
            ["zipped 1", "zipped 2"],
            [[1, "Smith, J", 2.5, "x", 10], [2, "Lee", -1.0, "y", 0], [3, 'Q "q"', 7.0, "z", 30]],
            [[[1, 2], [2.5, 0.0], [10, 0]], [[3], [7.0], [30]]],
        ],
        "missing_field_error": True,
        "types": ["int32", "string", "float32", "string", "int32"],
    },
    "generator_padded": {
        "elements": [
            [
                [[0, 1], [[0.0, -1.0], [1.0, 1.0]], ["w0", "w1"]],
                [[2, 3], [[2.0, 2.0, 2.0], [3.0, -1.0, -1.0]], ["w2", "w3"]],
                [[4], [[4.0, 4.0]], ["w4"]],
            ],
            [
                [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [2.0, 2.0, 2.0, 0.0]],
                [[3.0, 0.0, 0.0, 0.0], [4.0, 4.0, 0.0, 0.0]],
            ],
        ],
        "shapes": [[[None], [None, None], [None]], [None, 4]],
    },
    "initializable": {
        "first": [
            [{"x": [[1.0, 3.0], [5.0, 0.0]], "y": [2, 4]}, [10.0, 25.0]],
            [{"x": [[0.0, 11.0]], "y": [6]}, [121.0]],
        ],
        "second": [[{"x": [[0.0, 2.0]], "y": [18]}, [4.0]]],
        "shapes": {"x": [None, 2], "y": [None]},
    },
    "interleave": {
        "elements": [
            [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5],
            [10, 20, 30, 11, 21, 31, 40, 50, 41, 51],
            [[2, 4], [6, 8]],
            [10, 11, 20, 21, 12, 22, 30, 31, 40, 41, 32, 42, 50, 51, 52],
        ],
        "shapes": [2],
    },
    "logistic_regression": {
        "losses": [0.693147, 0.599959, 0.490005, 0.424769, 0.458265, 0.289772, 0.430965, 0.325306],
        "w": [[0.62082], [-1.042857], [0.056258]],
    },
    "monitored": {"runs": 4},
    "python_values": {
        "elements": [
            [{"f": [0.5], "i": 1}, {"f": [1.5], "i": 2}, {"f": [2.5], "i": 3}],
            [[[1, 2], 3.0]],
            [2, 5, 8],
            [[0, 1, 2], [3, 4, 5]],
        ],
        "shapes": [{"f": [1], "i": []}, [[2], []], [], [3]],
        "types": [{"f": "float32", "i": "int32"}, ["int32", "float32"], "int64", "int64"],
    },
    "reinitializable": {
        "again": 0,
        "test": [0.0, 20.0],
        "train": [[0.0, 0, 0.0], [1.5, 3, 3.0], [3.0, 6, 6.0], [4.5, 9, 9.0]],
        "types": ["float32", "int64"],
    },
    "slices_one_shot": {
        "elements": [
            [[0, 1], [[0.0, 1.0], [2.0, 3.0]], 7.0],
            [[2, 3], [[4.0, 5.0], [6.0, 7.0]], 27.0],
            [[4], [[8.0, 9.0]], 21.0],
        ],
        "get_next_shapes": [[None], [None, 2]],
        "shapes": [[None], [None, 2]],
        "types": ["int64", "float32"],
    },
    "transformations": {
        "elements": [
            [[0, 100], [10, 101], [20, 102], [30, 103], [40, 104], [50, 105], [0, 0], [1, 1]],
            [4, 7, 10, 4, 7, 10],
            [0, 1, 4, 0, 1, 4],
            [[0, 1, 2, 3], [4]],
        ],
        "shapes": [None],
    },
    "version": "2.21.0",
}


def close(got, want, path="value"):
    """``got`` equals ``want``, floats to 1e-5 relative (float32 arithmetic in another order)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), path
        for key in want:
            close(got[key], want[key], f"{path}[{key!r}]")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: {got} != {want}"
        for i, (g, w) in enumerate(zip(got, want)):
            close(g, w, f"{path}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6), f"{path}: {got} != {want}"
    else:
        assert got == want and type(got) is type(want), f"{path}: {got!r} != {want!r}"


@pytest.mark.parametrize("program", sorted(oracle.PROGRAMS))
def test_tf_programs(program):
    close(oracle.PROGRAMS[program](T), TF_VALUES[program], program)


def _drain(sess, fetch, limit=1000):
    return oracle.drain(T, sess, fetch, limit)


# ---- shuffle: deterministic with a seed (tgc's order, not TF's) ---------------------------------


def _shuffled(seed=None, graph_seed=None, reshuffle=True, epochs=2):
    with tf.Graph().as_default():
        if graph_seed is not None:
            tf.set_random_seed(graph_seed)
        ds = data.Dataset.range(10).shuffle(4, seed=seed, reshuffle_each_iteration=reshuffle)
        nxt = ds.repeat(epochs).make_initializable_iterator()
        element = nxt.get_next()
        runs = []
        for _ in range(2):  # two sessions, each initializing twice
            with tf.Session() as sess:
                for _ in range(2):
                    sess.run(nxt.initializer)
                    runs.append(_drain(sess, element))
        return runs


def test_shuffle_with_a_seed_repeats_its_order_in_every_session_and_initialization():
    runs = _shuffled(seed=5)
    assert all(run == runs[0] for run in runs)
    first, second = runs[0][:10], runs[0][10:]
    assert sorted(first) == sorted(second) == list(range(10))
    assert first != list(range(10)) and first != second  # each epoch draws its own order
    assert _shuffled(graph_seed=3) == _shuffled(graph_seed=3)


def test_shuffle_without_reshuffling_gives_each_epoch_the_same_order():
    run = _shuffled(seed=1, reshuffle=False)[0]
    assert run[:10] == run[10:] and sorted(run[:10]) == list(range(10))


def test_shuffle_without_any_seed_still_gives_every_element_once():
    for run in _shuffled(epochs=1):
        assert sorted(run) == list(range(10))


# ---- functions that read the rest of the graph ------------------------------------------------


def test_map_reads_a_variable_at_run_time_and_a_placeholder_fed_to_the_initializer():
    with tf.Graph().as_default():
        offset = tf.Variable(100)
        scale = tf.placeholder(tf.int32, [])
        ds = data.Dataset.range(3).map(lambda v: tf.cast(v, tf.int32) * scale + offset)
        it = ds.make_initializable_iterator()
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(offset.initializer)
            sess.run(it.initializer, {scale: 10})
            assert int(sess.run(nxt)) == 100
            sess.run(offset.assign(200))
            assert _drain(sess, nxt) == [210, 220]


def test_filter_and_flat_map_capture_placeholders_too():
    with tf.Graph().as_default():
        limit = tf.placeholder(tf.int64, [])
        ds = data.Dataset.range(6).filter(lambda v: v < limit)
        ds = ds.flat_map(lambda v: data.Dataset.from_tensors(v).repeat(limit - v))
        it = ds.make_initializable_iterator()
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer, {limit: 3})
            assert _drain(sess, nxt) == [0, 0, 0, 1, 1, 2]


def test_map_gets_tuple_components_as_arguments_and_may_return_python_values():
    with tf.Graph().as_default():
        ds = data.Dataset.from_tensor_slices((np.arange(3, dtype=np.float32), np.arange(3)))
        ds = ds.map(lambda a, b: [a + 1.0, 7], num_parallel_calls=data.AUTOTUNE)
        assert ds.output_types == (tf.float32, tf.int32)
        nxt = ds.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert _drain(sess, nxt) == [[1.0, 7], [2.0, 7], [3.0, 7]]


def test_cache_replays_the_first_pass_of_a_random_map():
    with tf.Graph().as_default():
        ds = data.Dataset.range(4).map(lambda v: tf.random_uniform([]) + tf.cast(v, tf.float32))
        nxt = ds.cache().repeat(3).make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            values = _drain(sess, nxt)
        assert len(values) == 12 and values[:4] == values[4:8] == values[8:]
        assert [int(v) for v in values[:4]] == [0, 1, 2, 3]


# ---- TF1's iterator API -----------------------------------------------------------------------


def test_get_next_feeds_the_graph_once_per_run_however_often_it_is_used():
    with tf.Graph().as_default():
        x = data.Dataset.range(10).make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert [int(v) for v in sess.run([x, x * 2, x + 1])] == [0, 0, 1]
            assert int(sess.run(x)) == 1


def test_each_session_reads_an_iterator_from_its_start():
    with tf.Graph().as_default():
        x = data.Dataset.range(3).make_one_shot_iterator().get_next()
        with tf.Session() as first, tf.Session() as second:
            assert int(first.run(x)) == 0 and int(first.run(x)) == 1
            assert int(second.run(x)) == 0


def test_output_types_shapes_and_classes_of_datasets_and_iterators():
    with tf.Graph().as_default():
        ds = data.Dataset.from_tensor_slices({"a": np.zeros((4, 3), np.float32), "b": [1, 2, 3, 4]})
        batched = ds.batch(2, drop_remainder=True)
        it = data.make_one_shot_iterator(batched)
        assert batched.output_types == {"a": tf.float32, "b": tf.int32}
        assert {k: s.as_list() for k, s in it.output_shapes.items()} == {"a": [2, 3], "b": [2]}
        assert data.get_output_classes(it) == {"a": tf.Tensor, "b": tf.Tensor}
        assert data.get_output_types(ds) == ds.output_types
        assert data.get_output_shapes(ds.batch(2))["a"].as_list() == [None, 3]
        nxt = it.get_next()
        assert nxt["a"].shape.as_list() == [2, 3] and nxt["b"].dtype == tf.int32


def test_initializer_of_a_dataset_of_computed_tensors_reads_them_when_run():
    with tf.Graph().as_default():
        v = tf.Variable([1.0, 2.0, 3.0])
        it = data.make_initializable_iterator(data.Dataset.from_tensor_slices(v * 2.0))
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(v.initializer)
            sess.run(it.initializer)
            sess.run(v.assign([0.0, 0.0, 0.0]))
            assert _drain(sess, nxt) == [2.0, 4.0, 6.0]  # the values when initialized
            sess.run(it.initializer)
            assert _drain(sess, nxt) == [0.0, 0.0, 0.0]


def test_a_batched_component_fed_to_a_graph_of_fixed_batch_size():
    """drop_remainder gives static batch dims, so ops that need them build."""
    with tf.Graph().as_default():
        x = data.Dataset.range(7).batch(3, drop_remainder=True).make_one_shot_iterator().get_next()
        y = tf.reshape(x, [3, 1]) * tf.ones([3, 2], tf.int64)
        with tf.Session() as sess:
            assert _drain(sess, y) == [[[0, 0], [1, 1], [2, 2]], [[3, 3], [4, 4], [5, 5]]]


# ---- errors, in TF's words where TF has them (messages checked with /tmp/tfenv) ---------------


def _run_first(dataset):
    nxt = dataset.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        return sess.run(nxt)


def test_batching_elements_of_different_shapes_fails_the_run():
    def gen():
        yield [1, 2]
        yield [1, 2, 3]

    with tf.Graph().as_default():
        ds = data.Dataset.from_generator(gen, tf.int32, [None]).batch(2)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"Cannot batch tensors with different shapes in component 0\. First element had "
            r"shape \[2\] and element 1 had shape \[3\]\.",
        ):
            _run_first(ds)


def test_a_generator_must_yield_its_declared_structure_types_and_shapes():
    with tf.Graph().as_default():
        ds = data.Dataset.from_generator(lambda: iter([[1, 2]]), tf.int32, [3])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"yielded an element of shape \(2,\) where an element of shape \(3,\) was",
        ):
            _run_first(ds)
        ds = data.Dataset.from_generator(lambda: iter(["x"]), tf.int32)
        with pytest.raises(tf.errors.InvalidArgumentError, match="could not be converted"):
            _run_first(ds)
        ds = data.Dataset.from_generator(lambda: iter([(1, 2)]), (tf.int32, tf.int32, tf.int32))
        with pytest.raises(tf.errors.InvalidArgumentError, match="did not match the expected"):
            _run_first(ds)
        # A tuple yielded for one component is that component's value, as in TF.
        ds = data.Dataset.from_generator(lambda: iter([(1, 2)]), tf.int32)
        assert _run_first(ds).tolist() == [1, 2]


def test_an_iterator_takes_only_datasets_of_its_structure():
    with tf.Graph().as_default():
        it = data.Iterator.from_structure(tf.int64, [])
        with pytest.raises(TypeError, match="Expected output types"):
            it.make_initializer(data.Dataset.from_tensors(1.0))
        with pytest.raises(TypeError, match="Expected output shapes compatible with"):
            it.make_initializer(data.Dataset.from_tensors(np.int64([1, 2])))
        with pytest.raises(ValueError, match="The iterator does not have an initializer"):
            data.Dataset.range(3).make_one_shot_iterator().initializer


def test_an_iterator_is_made_in_its_datasets_graph():
    with tf.Graph().as_default():
        ds = data.Dataset.range(3)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="the dataset was made in another graph"):
            ds.make_one_shot_iterator()
        it = data.Iterator.from_structure(tf.int64, [])
        with pytest.raises(ValueError, match="the dataset was made in another graph"):
            it.make_initializer(ds)


def test_bad_datasets_are_refused_when_built():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="Dimensions 3 and 4 are not compatible"):
            data.Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))
        with pytest.raises(ValueError, match="only supported for rank >= 1"):
            data.Dataset.from_tensor_slices(1.0)
        with pytest.raises(ValueError, match="batch_size must be greater than zero, got 0"):
            data.Dataset.range(3).batch(0)
        with pytest.raises(ValueError, match="`predicate` must return a `tf.bool` scalar"):
            data.Dataset.range(3).filter(lambda v: v)
        with pytest.raises(TypeError, match="returned a Dataset; use flat_map"):
            data.Dataset.range(3).map(lambda v: data.Dataset.range(2))
        with pytest.raises(ValueError, match="keeps elements in memory only"):
            data.Dataset.range(3).cache("/tmp/cache_file")
        with pytest.raises(RuntimeError, match="needs eager execution"):
            iter(data.Dataset.range(3))
        with pytest.raises(TypeError, match=r"does not match type <dtype: 'int64'>"):
            data.Dataset.range(3).padded_batch(2, padded_shapes=[], padding_values=0)


def test_a_list_of_tensors_is_one_tensor_as_in_tf():
    with tf.Graph().as_default():
        ds = data.Dataset.from_tensor_slices([tf.constant([1, 2]), tf.constant([3, 4])])
        assert ds.output_shapes.as_list() == [2]
        with tf.Session() as sess:
            assert _drain(sess, ds.make_one_shot_iterator().get_next()) == [[1, 2], [3, 4]]


def test_a_count_fed_at_initialization_is_checked_then():
    with tf.Graph().as_default():
        size = tf.placeholder(tf.int64, [])
        it = data.Dataset.range(5).batch(size).make_initializable_iterator()
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer, {size: 2})
            assert _drain(sess, nxt) == [[0, 1], [2, 3], [4]]
            sess.run(it.initializer, {size: 0})
            with pytest.raises(tf.errors.InvalidArgumentError, match="batch_size must be greater"):
                sess.run(nxt)


def test_a_feedable_handle_must_name_an_iterator():
    with tf.Graph().as_default():
        handle = tf.placeholder(tf.string, [])
        it = data.Iterator.from_string_handle(handle, tf.int64, [])
        nxt = it.get_next()
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match="no iterator has the string"):
                sess.run(nxt, {handle: "nothing"})


# ---- aymericdamien's tensorflow_v1/examples/5_DataManagement/tensorflow_dataset_api.py ---------


def _mnist_like(n=300, seed=0):
    """Arrays shaped and typed as input_data's MNIST (one-hot labels are float64, as in TF)."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 10, n)
    images = (rng.uniform(0, 0.3, (n, 784)) + labels[:, None] / 10.0).astype(np.float32)
    return images, np.eye(10)[labels]


def test_tutorial_dataset_api_lines():
    """The tutorial's pipeline: slices of (images, labels), repeat, batch(128), prefetch, an
    initializable iterator initialized before get_next is made; each run takes the next batch
    (batches cross the epoch boundary), and the train and test networks built on the same
    get_next see the same batch in one run."""
    images, labels = _mnist_like()
    with tf.Graph().as_default():
        sess = tf.Session()
        dataset = data.Dataset.from_tensor_slices((images, labels))
        dataset = dataset.repeat()
        dataset = dataset.batch(128)
        dataset = dataset.prefetch(128)
        iterator = dataset.make_initializable_iterator()
        sess.run(iterator.initializer)
        X, Y = iterator.get_next()
        assert X.shape.as_list() == [None, 784] and Y.dtype == tf.float64
        x = tf.reshape(X, shape=[-1, 28, 28, 1])
        logits = tf.layers.dense(tf.contrib.layers.flatten(x), 10)
        loss_op = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=tf.cast(Y, tf.float32))
        )
        train_op = tf.train.AdamOptimizer(learning_rate=0.01).minimize(loss_op)
        correct_pred = tf.equal(tf.argmax(logits, 1), tf.argmax(Y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))
        sess.run(tf.global_variables_initializer())
        seen = sess.run(X)
        np.testing.assert_array_equal(seen, images[:128])
        losses = []
        for step in range(1, 41):
            sess.run(train_op)
            if step % 10 == 0:
                loss, acc = sess.run([loss_op, accuracy])
                losses.append(loss)
        # 1 + 40 + 4 runs read 45 batches: the next starts at example 45 * 128 mod 300.
        start = 45 * 128 % 300
        np.testing.assert_array_equal(sess.run(X)[:10], images[start : start + 10])
        assert losses[-1] < losses[0] and 0.0 <= acc <= 1.0
        sess.close()


def test_tutorial_loss_line_with_the_datasets_float64_labels():
    """MNIST's one-hot labels are float64: TF's softmax loss casts them to the logits' float32."""
    images, labels = _mnist_like(n=8)
    assert labels.dtype == np.float64
    with tf.Graph().as_default():
        X, Y = (
            data.Dataset.from_tensor_slices((images, labels))
            .batch(4)
            .make_one_shot_iterator()
            .get_next()
        )
        logits = tf.matmul(X, tf.ones([784, 10]) * 0.01)
        loss = tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y)
        assert loss.dtype == tf.float32
        with tf.Session() as sess:
            got = sess.run(loss)
    # Every logit of a row is equal, so each example's loss is log(10).
    np.testing.assert_allclose(got, np.full(4, np.log(10.0)), rtol=1e-5)


# ---- monitored sessions -----------------------------------------------------------------------


def test_monitored_session_starts_an_initializable_iterator_from_the_scaffold_or_a_hook():
    with tf.Graph().as_default():
        it = data.Dataset.range(3).make_initializable_iterator()
        x = it.get_next()
        scaffold = tf.train.Scaffold(local_init_op=it.initializer)
        with tf.train.MonitoredTrainingSession(scaffold=scaffold) as sess:
            got = []
            while not sess.should_stop():
                got.append(int(sess.run(x)))
        assert got == [0, 1, 2]

    with tf.Graph().as_default():
        p = tf.placeholder(tf.int64, [None])
        it = data.Dataset.from_tensor_slices(p).batch(2).make_initializable_iterator()
        total = tf.reduce_sum(it.get_next())

        class FeedTheIterator(tf.train.SessionRunHook):
            def after_create_session(self, session, coord):
                session.run(it.initializer, {p: np.arange(5)})

        with tf.train.MonitoredTrainingSession(hooks=[FeedTheIterator()]) as sess:
            got = []
            while not sess.should_stop():
                got.append(int(sess.run(total)))
        assert got == [1, 5, 4]


def test_unique_list_files_and_the_names_tgc_lacks(tmp_path):
    for name in ("b.txt", "a.txt", "c.csv"):
        (tmp_path / name).write_text(name)
    with tf.Graph().as_default():
        unique = data.Dataset.from_tensor_slices([3, 1, 3, 2, 1]).unique()
        listed = data.Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False)
        shuffled = data.Dataset.list_files(str(tmp_path / "*.txt"), seed=4)
        nothing = data.Dataset.list_files(str(tmp_path / "*.none"))
        its = [d.make_one_shot_iterator().get_next() for d in (unique, listed, shuffled, nothing)]
        with tf.Session() as sess:
            assert _drain(sess, its[0]) == [3, 1, 2]
            names = [str(tmp_path / n) for n in ("a.txt", "b.txt")]
            assert _drain(sess, its[1]) == names
            assert sorted(_drain(sess, its[2])) == names
            with pytest.raises(tf.errors.InvalidArgumentError, match="match at least one file"):
                sess.run(its[3])
        with pytest.raises(AttributeError, match="does not support Dataset.window yet"):
            unique.window(2)
        with pytest.raises(AttributeError, match="does not support tf.data.experimental.scan"):
            data.experimental.scan
        with pytest.raises(TypeError, match="Dataset.unique needs elements that are one scalar"):
            data.Dataset.range(3).batch(2).unique()


def test_an_initializer_grouped_with_the_variables_initializers_runs_before_them():
    """`tf.group(tf.global_variables_initializer(), iterator.initializer)`: the iterator's
    initializer (fed or taking nothing computed) runs on the host before the compiled part."""
    with tf.Graph().as_default():
        limit = tf.placeholder(tf.int64, [])
        it = data.Dataset.range(limit).make_initializable_iterator()
        v = tf.Variable(5, dtype=tf.int64)
        init = tf.group(tf.global_variables_initializer(), it.initializer)
        x = it.get_next() + v
        with tf.Session() as sess:
            sess.run(init, {limit: 2})
            assert _drain(sess, x) == [5, 6]
            sess.run(init, {limit: 1})
            assert _drain(sess, x) == [5]
        computed = data.Dataset.from_tensor_slices(tf.constant([1.0]) * 2.0)
        later = computed.make_initializable_iterator()
        with tf.Session() as sess:
            # One that takes a computed value runs after the compiled part: no control input.
            with pytest.raises(TypeError, match="runs on the host: .* not be a control input"):
                sess.run(tf.group(later.initializer, v.initializer))


def test_a_generator_gets_numpy_args_and_its_errors_fail_the_run():
    """As TF 2.21 does (checked with /tmp/tfenv): args arrive as bytes, numpy scalars and arrays;
    an exception in the generator is an InvalidArgumentError "Type: message"."""
    seen = []

    def gen(name, count, weights):
        seen.append((name, count, weights))
        yield count
        raise ValueError("boom")

    with tf.Graph().as_default():
        ds = data.Dataset.from_generator(gen, tf.int32, args=("s", 3, [1.5, 2]))
        nxt = ds.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert int(sess.run(nxt)) == 3
            with pytest.raises(tf.errors.InvalidArgumentError, match="^ValueError: boom$"):
                sess.run(nxt)
    name, count, weights = seen[0]
    assert name == b"s" and type(count) is np.int32 and count == 3
    assert weights.dtype == np.float32 and weights.tolist() == [1.5, 2.0]


def test_get_next_feeds_a_gpu_placed_graph():
    """Under the emulated GPU target (tests/e2e/test_gpu_sessions.py's way to run the GPU's code
    on any machine): batches of unknown size compile per shape there, and the map function runs
    in the same GPU session."""
    from tgc.dialect import targets

    features = np.arange(10, dtype=np.float32).reshape(5, 2)
    with targets.selected("nvptx-emulated"), tf.Graph().as_default():
        ds = data.Dataset.from_tensor_slices((features, np.arange(5, dtype=np.float32)))
        x, y = ds.map(lambda a, b: (a * 2.0, b)).batch(2).make_one_shot_iterator().get_next()
        with tf.device("/gpu:0"):
            total = tf.reduce_sum(x, axis=1) + y
        config = tf.ConfigProto(device_count={"GPU": 1}, allow_soft_placement=True)
        with tf.Session(config=config) as sess:
            assert _drain(sess, total) == [[2.0, 11.0], [20.0, 29.0], [38.0]]


def test_sample_from_datasets_is_deterministic_with_a_seed_and_takes_every_element():
    def sampled(seed):
        with tf.Graph().as_default():
            parts = [data.Dataset.range(0, 4), data.Dataset.range(10, 12)]
            ds = data.experimental.sample_from_datasets(parts, [0.3, 0.7], seed=seed)
            with tf.Session() as sess:
                return _drain(sess, ds.make_one_shot_iterator().get_next())

    first = sampled(7)
    assert first == sampled(7) and sorted(first) == [0, 1, 2, 3, 10, 11]
    assert [v for v in first if v < 10] == [0, 1, 2, 3]  # each dataset keeps its order
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers"):
        data.experimental.sample_from_datasets([data.Dataset.range(1)] * 2, [0.0, 0.0])


def test_options_are_accepted_and_change_nothing():
    options = data.Options()
    options.experimental_optimization.map_parallelization = True
    options.experimental_deterministic = False
    with tf.Graph().as_default():
        ds = data.Dataset.range(3).with_options(options)
        with tf.Session() as sess:
            assert _drain(sess, ds.make_one_shot_iterator().get_next()) == [0, 1, 2]


def test_contrib_data_is_tf_data_experimental_as_in_tf_1_x():
    """TF 1.x programs write tf.contrib.data.map_and_batch (tf.data.experimental's)."""
    with tf.Graph().as_default():
        batched = tf.data.Dataset.range(5).apply(tf.contrib.data.map_and_batch(lambda x: x * 2, 2))
        x = batched.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert [sess.run(x).tolist() for _ in range(3)] == [[0, 2], [4, 6], [8]]
