"""`tf.train.import_meta_graph` / `export_meta_graph`: a model trained and saved by tgc (the
checkpoint plus ``<prefix>.meta``) is rebuilt without its building code, restored, and gives the
same predictions, fetched by tensor name; collections come back; nodes tgc cannot rebuild are left
out and named when fetched; a meta graph written by TF 2.21 compat.v1 imports for inference."""

import os

import numpy as np
import pytest

import tgc as tf
from tgc.frontend.meta_graph import export_meta_graph
from tgc.frontend.saver import import_meta_graph


DATA = os.path.join(os.path.dirname(__file__), "data", "meta_graph")


def _train_and_save(prefix):
    """A linear model trained 20 steps; returns (its predictions on ``xs``, xs)."""
    rng = np.random.RandomState(0)
    xs = rng.randn(8, 3).astype(np.float32)
    ys = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w = tf.Variable(tf.random_normal([3, 1], seed=1), name="w")
    b = tf.Variable(tf.zeros([1]), name="b")
    steps = tf.Variable(0, trainable=False, name="steps")
    pred = tf.add(tf.matmul(x, w), b, name="pred")
    loss = tf.reduce_mean(tf.square(pred - y), name="loss")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    tf.add_to_collection("train_op", train)
    tf.add_to_collection("outputs", pred)
    tf.add_to_collection("notes", "linear")
    count = steps.assign_add(1, name="count")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(20):
            sess.run([train, count], {x: xs, y: ys})
        tf.train.Saver().save(sess, prefix)
        return sess.run(pred, {x: xs}), xs, ys


def test_a_saved_model_is_rebuilt_restored_and_predicts_the_same(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    want, xs, ys = _train_and_save(prefix)
    assert os.path.exists(prefix + ".meta")
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(prefix + ".meta")
    graph = tf.get_default_graph()
    with tf.Session() as sess:
        saver.restore(sess, prefix)
        got = sess.run("pred:0", {"x:0": xs})
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert sess.run("steps:0") == 20
    assert [v.op.name for v in tf.global_variables()] == ["w", "b", "steps"]
    assert [v.op.name for v in tf.trainable_variables()] == ["w", "b"]
    assert [op.name for op in tf.get_collection("train_op")] == ["train"]
    assert [t.name for t in tf.get_collection("outputs")] == ["pred:0"]
    assert tf.get_collection("notes") == ["linear"]
    assert graph.get_tensor_by_name("w:0") is tf.global_variables()[0].value()


def test_the_imported_train_op_trains_as_the_original_did(tmp_path):
    """The graph goes on training after restoring: one more step lowers the loss as it would have
    in the original program (the gradient ops are tgc's own, and import)."""
    prefix = str(tmp_path / "model.ckpt")
    _, xs, ys = _train_and_save(prefix)
    with tf.Session() as sess:  # the original graph's next step, for comparison
        tf.train.Saver().restore(sess, prefix)
        sess.run("train", {"x:0": xs, "y:0": ys})
        want = sess.run("loss:0", {"x:0": xs, "y:0": ys})
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(prefix + ".meta")
    train = tf.get_collection("train_op")[0]
    with tf.Session() as sess:
        saver.restore(sess, prefix)
        before = sess.run("loss:0", {"x:0": xs, "y:0": ys})
        sess.run(train, {"x:0": xs, "y:0": ys})
        after = sess.run("loss:0", {"x:0": xs, "y:0": ys})
    assert after < before
    np.testing.assert_allclose(after, want, rtol=1e-6)


def test_initializers_of_imported_variables_give_the_initial_values(tmp_path):
    tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="v")
    path = str(tmp_path / "g.meta")
    export_meta_graph(path)
    tf.reset_default_graph()
    assert import_meta_graph(path, import_scope="imported") is not None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(
            sess.run("imported/v:0"), np.arange(6, dtype=np.float32).reshape(2, 3)
        )


def test_save_without_meta_graph_and_max_to_keep_removes_old_meta_files(tmp_path):
    tf.Variable(1.0, name="v")
    saver = tf.train.Saver(max_to_keep=1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, str(tmp_path / "m"), write_meta_graph=False)
        assert not os.path.exists(tmp_path / "m.meta")
        saver.save(sess, str(tmp_path / "m"), global_step=1)
        saver.save(sess, str(tmp_path / "m"), global_step=2)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "checkpoint") == [
        "m-2.meta",
        "m-2.npz",
    ]


def test_a_node_tgc_cannot_rebuild_is_left_out_and_named_when_fetched(tmp_path):
    x = tf.placeholder(tf.float32, [2], name="x")
    tf.identity(x * 2.0, name="doubled")
    meta = export_meta_graph()
    node = meta.graph_def.node.add(name="mystery", op="MysteryOp", input=["doubled"])
    meta.graph_def.node.add(name="after", op="Identity", input=[node.name])
    tf.reset_default_graph()
    with pytest.warns(UserWarning, match=r"'mystery' \(MysteryOp\)"):
        assert import_meta_graph(meta) is None
    graph = tf.get_default_graph()
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run("doubled:0", {"x:0": [1.0, 2.0]}), [2.0, 4.0])
    with pytest.raises(KeyError, match="tgc does not know op type 'MysteryOp'"):
        graph.get_tensor_by_name("mystery:0")
    with pytest.raises(KeyError, match=r"node 'after' .* it reads 'mystery'"):
        graph.get_operation_by_name("after")


def test_a_meta_graph_written_by_tensorflow_imports_for_inference():
    """tests/oracle/meta_graph.py (TF 2.21 compat.v1) trained a small softmax classifier with
    GradientDescent and saved it with its meta graph. TF's loss (its Slice of a computed begin),
    gradient ops and optimizer kernels are left out, named when fetched; the inference part
    imports and, restored from the variables' values, gives TF's probabilities."""
    recorded = np.load(os.path.join(DATA, "values.npz"))
    with pytest.warns(UserWarning, match="collection 'train_op' loses 'GradientDescent'"):
        saver = tf.train.import_meta_graph(os.path.join(DATA, "model.ckpt.meta"))
    assert [v.op.name for v in tf.trainable_variables()] == ["dense/w", "dense/b"]
    with tf.Session() as sess:
        saver.restore(sess, os.path.join(DATA, "model.ckpt"))  # the .npz the oracle wrote
        got = sess.run("probs:0", {"x:0": recorded["x"]})
    np.testing.assert_allclose(got, recorded["probs"], rtol=1e-5, atol=1e-6)
    graph = tf.get_default_graph()
    assert tf.get_collection("train_op") == []
    with pytest.raises(KeyError, match=r"node 'GradientDescent' \(op type 'NoOp'\) was not"):
        graph.get_operation_by_name("GradientDescent")
    with pytest.raises(KeyError, match="tgc cannot rebuild 'softmax_cross_entropy_with_logits/"):
        graph.get_tensor_by_name("GradientDescent/update_dense/w/ApplyGradientDescent:0")
    with pytest.raises(KeyError, match="the graph has no operation named 'save/restore_all'"):
        graph.get_operation_by_name("save/restore_all")  # TF's Saver ops: the Saver restores


def test_without_tensorboard_a_save_writes_the_checkpoint_alone_and_says_so(tmp_path, monkeypatch):
    import importlib.util

    from tgc.frontend import saver as saver_module

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name)
    )
    monkeypatch.setattr(saver_module._can_write_meta_graphs, "warned", False)
    tf.Variable(1.0, name="v")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.warns(UserWarning, match="no .meta file written .* tensorboard"):
            tf.train.Saver().save(sess, str(tmp_path / "m"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "m.npz"]


def test_tensorflow_random_initializers_import_and_initialize():
    """tests/oracle/meta_graph.py's second graph: variables from random_normal, random_uniform,
    truncated_normal and get_variable's Glorot uniform. Their initializers run in tgc (tgc's own
    random numbers, of the right shapes and ranges); restored, the graph gives TF's output."""
    recorded = np.load(os.path.join(DATA, "random_init_values.npz"))
    saver = tf.train.import_meta_graph(os.path.join(DATA, "random_init.ckpt.meta"))
    assert [v.op.name for v in tf.global_variables()] == ["w", "v", "u", "k"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, v, u, k = sess.run(tf.global_variables())
        assert w.shape == (3, 2) and v.shape == (2, 2) and u.shape == (2,) and k.shape == (2,)
        assert np.all(np.abs(u) <= 1.0) and np.all(np.abs(k) <= 0.2)
        assert np.all(np.abs(v) <= np.sqrt(6.0 / 4.0))  # Glorot uniform's limit for 2x2
        saver.restore(sess, os.path.join(DATA, "random_init.ckpt"))
        got = sess.run("out:0", {"x:0": recorded["x"]})
    np.testing.assert_allclose(got, recorded["out"], rtol=1e-5)


def test_a_variable_whose_initial_value_does_not_import_is_restorable_not_initializable(tmp_path):
    tf.Variable(tf.zeros([2]) + 1.0, name="v")
    meta = export_meta_graph()
    for node in meta.graph_def.node:
        if node.name == "add":  # the initial value becomes an op tgc does not know
            node.op = "MysteryOp"
    tf.reset_default_graph()
    with pytest.warns(UserWarning, match="variables 'v' have no initial value"):
        saver = import_meta_graph(meta)
    np.savez(tmp_path / "m.npz", v=np.array([3.0, 4.0], np.float32))
    with tf.Session() as sess:
        saver.restore(sess, str(tmp_path / "m"))
        np.testing.assert_array_equal(sess.run("v:0"), [3.0, 4.0])
        with pytest.raises(Exception, match="v/initial_value_not_imported"):
            sess.run(tf.global_variables_initializer())


def test_a_cnn_trained_with_adam_is_evaluated_as_cnn_text_classification_does(tmp_path):
    """The pattern of dennybritz/cnn-text-classification-tf's eval.py: a fresh graph, the latest
    checkpoint's .meta imported, restored, placeholders and predictions found by op name. The
    model has a conv layer, dropout, Glorot init, Adam (slot variables) and a global step; its
    training step and Adam's state import too. The loss summary (a host op) is left out."""
    x = tf.placeholder(tf.float32, [None, 8, 8, 1], name="input_x")
    y = tf.placeholder(tf.float32, [None, 3], name="input_y")
    keep = tf.placeholder(tf.float32, name="dropout_keep_prob")
    step = tf.Variable(0, name="global_step", trainable=False)
    with tf.name_scope("conv"):
        w = tf.Variable(tf.truncated_normal([3, 3, 1, 4], stddev=0.1), name="W")
        b = tf.Variable(tf.constant(0.1, shape=[4]), name="b")
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, [1, 1, 1, 1], "VALID"), b))
        pooled = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    dropped = tf.nn.dropout(tf.reshape(pooled, [-1, 36]), keep)
    with tf.name_scope("output"):
        w2 = tf.get_variable("W2", [36, 3], initializer=tf.glorot_uniform_initializer())
        b2 = tf.Variable(tf.zeros([3]), name="b")
        scores = tf.nn.xw_plus_b(dropped, w2, b2, name="scores")
        tf.argmax(scores, 1, name="predictions")
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=scores, labels=y))
    tf.summary.scalar("loss", loss)
    train = tf.train.AdamOptimizer(1e-2).minimize(loss, global_step=step)
    rng = np.random.RandomState(0)
    xs = rng.rand(5, 8, 8, 1).astype(np.float32)
    ys = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, {x: xs, y: ys, keep: 0.5})
        tf.train.Saver().save(sess, str(tmp_path / "model"), global_step=step)
        want = sess.run(scores, {x: xs, keep: 1.0})
        sess.run(train, {x: xs, y: ys, keep: 1.0})
        want_next = sess.run(scores, {x: xs, keep: 1.0})

    checkpoint_file = tf.train.latest_checkpoint(str(tmp_path))
    graph = tf.Graph()
    with graph.as_default():
        sess = tf.Session()
        with sess.as_default():
            with pytest.warns(UserWarning, match="collection 'summaries' loses 'loss:0'"):
                saver = tf.train.import_meta_graph("{}.meta".format(checkpoint_file))
            saver.restore(sess, checkpoint_file)
            input_x = graph.get_operation_by_name("input_x").outputs[0]
            keep_prob = graph.get_operation_by_name("dropout_keep_prob").outputs[0]
            predictions = graph.get_operation_by_name("output/predictions").outputs[0]
            got, labels = sess.run(
                [graph.get_tensor_by_name("output/scores:0"), predictions],
                {input_x: xs, keep_prob: 1.0},
            )
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(labels, np.argmax(want, 1))
            assert sess.run("global_step:0") == 3
            feed = {input_x: xs, "input_y:0": ys, keep_prob: 1.0}
            sess.run(tf.get_collection("train_op")[0], feed)  # Adam's moments were restored
            got_next = sess.run("output/scores:0", {input_x: xs, keep_prob: 1.0})
            np.testing.assert_allclose(got_next, want_next, rtol=1e-5, atol=1e-6)
            assert sess.run("global_step:0") == 4
        sess.close()


def test_a_meta_graph_written_as_text_reads_back(tmp_path):
    tf.constant([1.0, 2.0], name="c")
    tf.train.export_meta_graph(str(tmp_path / "g.pbtxt"), as_text=True)
    assert 'name: "c"' in (tmp_path / "g.pbtxt").read_text()
    tf.reset_default_graph()
    tf.train.import_meta_graph(str(tmp_path / "g.pbtxt"))
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run("c:0"), [1.0, 2.0])


def test_a_missing_or_broken_file_is_refused_by_name(tmp_path):
    with pytest.raises(OSError, match="nope.meta does not exist"):
        tf.train.import_meta_graph(str(tmp_path / "nope.meta"))
    (tmp_path / "bad.meta").write_bytes(b"\xff\xfe not a proto")
    with pytest.raises(ValueError, match="bad.meta is not a MetaGraphDef"):
        tf.train.import_meta_graph(str(tmp_path / "bad.meta"))
