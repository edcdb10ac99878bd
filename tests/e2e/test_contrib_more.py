"""tf.contrib.framework (arg_scope, variable getters, global step), tf.contrib.slim, the
contrib.layers conv2d / pooling / dropout / batch_norm / summaries / repeat / stack, and
tf.contrib.seq2seq.sequence_loss.

TF 2.21 has no tf.contrib, so the recorded values (tests/e2e/contrib_more_tf_values.json) come from
what TF 1.15's contrib builds, written with TF 2.21 compat.v1 ops (see the oracle's docstring):

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/contrib_more_oracle.py \\
        > tests/e2e/contrib_more_tf_values.json

sequence_loss's values are TF 1.15's formula (contrib/seq2seq/python/ops/loss.py) written with TF
2.21 ops, every flag combination, with its gradient. Variable names are TF 1.15's
(contrib/layers/python/layers/layers.py: variable_scope defaults 'Conv', 'fully_connected',
'BatchNorm', 'Dropout'; pooling name scopes 'MaxPool2D', 'AvgPool2D').
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import contrib

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "contrib_more_oracle", _HERE.parent / "oracle" / "contrib_more_oracle.py"
)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
TF_VALUES = json.loads((_HERE / "contrib_more_tf_values.json").read_text())["values"]


def assert_close_nested(got, want, path=""):
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for key in want:
            assert_close_nested(got[key], want[key], f"{path}/{key}")
        return
    try:
        want_array = np.asarray(want, np.float64)
    except ValueError:  # ragged: compare element by element
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close_nested(g, w, f"{path}[{i}]")
        return
    np.testing.assert_allclose(
        np.asarray(got, np.float64), want_array, rtol=1e-4, atol=1e-5, err_msg=path
    )


@pytest.mark.parametrize(
    "program",
    [
        "batch_norm_rank4",
        "batch_norm_rank2",
        "batch_norm_rank3",
        "conv2d_same_stride2",
        "conv2d_valid_rate2",
        "conv2d_transpose_stride2",
        "layer_norm",
        "pools",
        "sequence_loss",
    ],
)
def test_contrib_layers_match_tf(program):
    assert_close_nested(oracle.PROGRAMS[program](tf), TF_VALUES[program], program)


# ---- arg_scope -----------------------------------------------------------------------------------


def test_arg_scope_sets_defaults_and_the_call_wins():
    from tgc.contrib.framework import arg_scope

    with tf.Graph().as_default():
        x = tf.constant(np.ones((2, 3), np.float32))
        with arg_scope(
            [tf.contrib.layers.fully_connected],
            activation_fn=None,
            weights_initializer=tf.constant_initializer(2.0),
        ):
            a = tf.contrib.layers.fully_connected(x, 1, scope="a")
            b = tf.contrib.layers.fully_connected(
                x, 1, scope="b", weights_initializer=tf.constant_initializer(-1.0)
            )
        c = tf.contrib.layers.fully_connected(
            x, 1, scope="c", weights_initializer=tf.ones_initializer()
        )
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            va, vb, vc = s.run([a, b, c])
    np.testing.assert_allclose(va, [[6.0], [6.0]])  # no relu: arg_scope's activation_fn=None
    np.testing.assert_allclose(vb, [[-3.0], [-3.0]])  # the call's initializer wins
    np.testing.assert_allclose(vc, [[3.0], [3.0]])  # outside the scope: relu again (3 > 0)


def test_arg_scope_nests_and_reenters_a_saved_scope():
    from tgc.contrib.framework import arg_scope, current_arg_scope

    fc = tf.contrib.layers.fully_connected
    with arg_scope([fc], activation_fn=None) as outer:
        with arg_scope([fc, tf.contrib.layers.conv2d], trainable=False):
            inner = dict(current_arg_scope())
    key = fc._key_op
    assert outer[key] == {"activation_fn": None}
    assert inner[key] == {"activation_fn": None, "trainable": False}
    assert current_arg_scope() == {}
    with arg_scope(inner):
        assert current_arg_scope()[key] == {"activation_fn": None, "trainable": False}
    with pytest.raises(ValueError, match="kwargs must be empty"):
        with arg_scope(inner, trainable=True):
            pass


def test_arg_scope_refuses_undecorated_functions():
    from tgc.contrib.framework import add_arg_scope, arg_scope, has_arg_scope

    def my_layer(x, units=1):
        return x, units

    with pytest.raises(ValueError, match="my_layer is not decorated with @add_arg_scope"):
        with arg_scope([my_layer], units=3):
            pass
    with pytest.raises(TypeError, match="list/tuple or reused scope"):
        with arg_scope(my_layer, units=3):
            pass
    decorated = add_arg_scope(my_layer)
    assert has_arg_scope(decorated) and not has_arg_scope(my_layer)
    with arg_scope([decorated], units=3):
        assert decorated("x") == ("x", 3)
        assert decorated("x", units=5) == ("x", 5)
    assert decorated("x") == ("x", 1)


def test_lab_10_7_arg_scope_batch_norm_dropout_program():
    """hunkim's lab-10-7: arg_scope over fully_connected with batch_norm (is_training a bool
    placeholder, updates_collections=None) and contrib dropout; it trains and the names are TF's."""
    from tgc.contrib.framework import arg_scope
    from tgc.contrib.layers import batch_norm, dropout, fully_connected

    with tf.Graph().as_default():
        tf.set_random_seed(777)
        X = tf.placeholder(tf.float32, [None, 6])
        Y = tf.placeholder(tf.float32, [None, 3])
        train_mode = tf.placeholder(tf.bool, name="train_mode")
        bn_params = {"is_training": train_mode, "decay": 0.9, "updates_collections": None}
        with arg_scope(
            [fully_connected],
            activation_fn=tf.nn.relu,
            weights_initializer=tf.contrib.layers.xavier_initializer(),
            biases_initializer=None,
            normalizer_fn=batch_norm,
            normalizer_params=bn_params,
        ):
            h1 = fully_connected(X, 8, scope="h1")
            h1_drop = dropout(h1, 0.7, is_training=train_mode)
            hypothesis = fully_connected(h1_drop, 3, activation_fn=None, scope="hypothesis")
        cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=hypothesis, labels=Y))
        train = tf.train.AdamOptimizer(0.05).minimize(cost)
        names = [v.op.name for v in tf.global_variables()]
        assert names[:4] == [
            "h1/weights",
            "h1/BatchNorm/beta",
            "h1/BatchNorm/moving_mean",
            "h1/BatchNorm/moving_variance",
        ]
        assert [v.op.name for v in tf.trainable_variables()] == [
            "h1/weights",
            "h1/BatchNorm/beta",
            "hypothesis/weights",
            "hypothesis/BatchNorm/beta",
        ]
        rng = np.random.RandomState(0)
        xs = rng.randn(30, 6).astype(np.float32)
        ys = np.eye(3, dtype=np.float32)[(xs[:, 0] > 0).astype(int) + (xs[:, 1] > 0.5)]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            mm = tf.contrib.framework.get_variables("h1/BatchNorm/moving_mean")[0]
            before = s.run(cost, {X: xs, Y: ys, train_mode: False})
            s.run(mm.initializer)
            s.run(train, {X: xs, Y: ys, train_mode: True})
            moved = s.run(mm)
            for _ in range(60):
                s.run(train, {X: xs, Y: ys, train_mode: True})
            still = s.run(mm)
            s.run(cost, {X: xs, Y: ys, train_mode: False})
            assert np.array_equal(s.run(mm), still)  # inference does not update
            after = s.run(cost, {X: xs, Y: ys, train_mode: False})
    assert np.any(
        moved != 0.0
    )  # the training step updated the moving mean (updates_collections None)
    assert after < before


# ---- variables and the global step ---------------------------------------------------------------


def _a3c_like_graph():
    with tf.variable_scope("global"):
        tf.contrib.layers.fully_connected(tf.zeros([1, 2]), 3)
    with tf.variable_scope("worker_1"):
        tf.contrib.layers.fully_connected(tf.zeros([1, 2]), 3)
    tf.contrib.framework.get_or_create_global_step()
    tf.Variable(1.0, name="global_other", trainable=False)


def test_slim_get_variables_filters_by_regex_scope_suffix_and_collection():
    import tgc.contrib.slim as slim

    with tf.Graph().as_default():
        _a3c_like_graph()
        names = lambda vs: [v.op.name for v in vs]  # noqa: E731
        trainable = tf.GraphKeys.TRAINABLE_VARIABLES
        assert names(slim.get_variables(scope="global", collection=trainable)) == [
            "global/fully_connected/weights",
            "global/fully_connected/biases",
        ]
        # re.match as TF: "global" also matches global_step and global_other
        assert names(slim.get_variables("global")) == [
            "global/fully_connected/weights",
            "global/fully_connected/biases",
            "global_step",
            "global_other",
        ]
        assert names(slim.get_variables(suffix="biases")) == [
            "global/fully_connected/biases",
            "worker_1/fully_connected/biases",
        ]
        assert names(slim.get_model_variables("worker_1")) == [
            "worker_1/fully_connected/weights",
            "worker_1/fully_connected/biases",
        ]
        assert names(
            slim.get_variables_to_restore(include=["global", "worker_1"], exclude=["global_"])
        ) == [
            "global/fully_connected/weights",
            "global/fully_connected/biases",
            "worker_1/fully_connected/weights",
            "worker_1/fully_connected/biases",
        ]
        assert slim.get_unique_variable("global_step").op.name == "global_step"
        with pytest.raises(ValueError, match="Couldn't find variable nothing"):
            slim.get_unique_variable("nothing")
        with pytest.raises(TypeError, match="include is provided but is not a list"):
            slim.get_variables_to_restore(include="global")


def test_contrib_framework_global_step():
    with tf.Graph().as_default():
        assert tf.contrib.framework.get_global_step() is None
        step = tf.contrib.framework.get_or_create_global_step()
        assert tf.contrib.framework.get_global_step() is step
        assert tf.contrib.framework.get_or_create_global_step() is step
        assert step.op.name == "global_step" and step.dtype == tf.int64
        opt = tf.train.GradientDescentOptimizer(0.1)
        v = tf.Variable(1.0)
        train = opt.minimize(v * v, global_step=tf.contrib.framework.get_global_step())
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(train)
            s.run(train)
            assert s.run(step) == 2


# ---- layers: names, collections, refusals --------------------------------------------------------


def test_contrib_layer_variable_names_and_collections():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 8, 8, 3])
        c1 = tf.contrib.layers.conv2d(x, 4, 3)
        c2 = tf.contrib.layers.conv2d(c1, 4, [3, 3], variables_collections=["mine"])
        p = tf.contrib.layers.max_pool2d(c2, 2)
        a = tf.contrib.layers.avg_pool2d(p, [2, 2])
        f = tf.contrib.layers.fully_connected(tf.contrib.layers.flatten(a), 5)
        b = tf.contrib.layers.batch_norm(f)
        assert [v.op.name for v in tf.global_variables()] == [
            "Conv/weights",
            "Conv/biases",
            "Conv_1/weights",
            "Conv_1/biases",
            "fully_connected/weights",
            "fully_connected/biases",
            "BatchNorm/beta",
            "BatchNorm/moving_mean",
            "BatchNorm/moving_variance",
        ]
        assert [v.op.name for v in tf.get_collection("mine")] == ["Conv_1/weights", "Conv_1/biases"]
        assert len(tf.get_collection(tf.GraphKeys.MODEL_VARIABLES)) == 9
        assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 2
        assert c1.op.type == "Relu" and c1.op.name == "Conv/Relu"
        assert p.op.name == "MaxPool2D/MaxPool" and a.op.name == "AvgPool2D/AvgPool"
        assert p.shape.as_list() == [None, 4, 4, 4] and a.shape.as_list() == [None, 2, 2, 4]
        assert b.shape.as_list() == [None, 5]


def test_conv2d_with_normalizer_has_no_bias_and_slim_repeat_stack_names():
    import tgc.contrib.slim as slim

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 6, 6, 2])
        with slim.arg_scope([slim.conv2d], normalizer_fn=slim.batch_norm, padding="VALID"):
            net = slim.repeat(x, 2, slim.conv2d, 3, [2, 2], scope="conv1")
        net = slim.stack(slim.flatten(net), slim.fully_connected, [4, 2], scope="fc")
        assert [v.op.name for v in tf.trainable_variables()] == [
            "conv1/conv1_1/weights",
            "conv1/conv1_1/BatchNorm/beta",
            "conv1/conv1_2/weights",
            "conv1/conv1_2/BatchNorm/beta",
            "fc/fc_1/weights",
            "fc/fc_1/biases",
            "fc/fc_2/weights",
            "fc/fc_2/biases",
        ]
        assert net.shape.as_list() == [None, 2]
        with pytest.raises(ValueError, match="stack_args need to be a list or tuple"):
            slim.stack(x, slim.fully_connected, 4)


def test_dropout_is_training_python_and_tensor():
    with tf.Graph().as_default():
        x = tf.constant(np.ones((100, 50), np.float32))
        flag = tf.placeholder(tf.bool, [])
        off = tf.contrib.layers.dropout(x, 0.5, is_training=False)
        on = tf.contrib.layers.dropout(x, 0.25, is_training=True, seed=3)
        fed = tf.contrib.layers.dropout(x, 0.5, is_training=flag, seed=4)
        assert on.op.name.startswith("Dropout_1/")
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(off), np.ones((100, 50)))
            kept = s.run(on)
            assert set(np.unique(kept)) <= {0.0, 4.0}
            assert 0.2 < np.mean(kept == 4.0) < 0.3
            np.testing.assert_array_equal(s.run(fed, {flag: False}), np.ones((100, 50)))
            assert set(np.unique(s.run(fed, {flag: True}))) == {0.0, 2.0}


def test_summarize_activation_writes_histogram_and_zero_fraction():
    with tf.Graph().as_default():
        x = tf.constant(np.array([[-1.0, 2.0], [-3.0, 4.0], [5.0, -6.0]], np.float32))
        y = tf.nn.relu(x)
        tf.contrib.layers.summarize_activation(y)
        tags = [s.op.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)]
        assert len(tags) == 2
        with tf.Session() as s:
            merged = s.run(tf.summary.merge_all())
        assert b"Relu/zeros" in merged and b"Relu/activation" in merged


def test_contrib_layer_errors_name_the_problem():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        with pytest.raises(ValueError, match="conv2d: tgc's contrib conv2d takes rank-4"):
            tf.contrib.layers.conv2d(x, 3, 3)
        img = tf.placeholder(tf.float32, [None, 4, 4, 3])
        with pytest.raises(ValueError, match="tgc supports data_format 'NHWC' only"):
            tf.contrib.layers.conv2d(img, 3, 3, data_format="NCHW")
        with pytest.raises(ValueError, match="MaxPool2D: inputs must have rank 4"):
            tf.contrib.layers.max_pool2d(x, 2)
        with pytest.raises(
            ValueError, match="batch_norm: zero_debias_moving_mean is not supported"
        ):
            tf.contrib.layers.batch_norm(x, zero_debias_moving_mean=True)
        with pytest.raises(ValueError, match="has undefined rank"):
            tf.contrib.layers.batch_norm(tf.placeholder(tf.float32))
        with pytest.raises(ValueError, match="has undefined channels dimension"):
            tf.contrib.layers.batch_norm(tf.placeholder(tf.float32, [2, None]))


def test_module_imports_as_tf1_programs_write_them():
    import tgc.contrib.framework as framework
    import tgc.contrib.slim as slim
    from tgc.contrib.framework import arg_scope  # noqa: F401

    assert framework is contrib.framework and slim is contrib.slim
    assert tf.contrib.slim.conv2d is tf.contrib.layers.conv2d is tf.contrib.layers.convolution2d
    assert slim.get_variables is framework.get_variables
    with pytest.raises(AttributeError, match="tgc does not support tf.contrib.slim.conv3d yet"):
        slim.conv3d
    assert not hasattr(framework, "nest")


# ---- seq2seq -------------------------------------------------------------------------------------


def test_sequence_loss_with_run_time_batch_and_steps_as_hunkim_lab_12():
    """lab-12's char RNN: logits and targets of run-time batch and length, weights of ones."""
    logits0 = oracle.data(20, 2, 6, 4) * 2.0
    targets0 = np.random.RandomState(21).randint(0, 4, (2, 6))
    with tf.Graph().as_default():
        outputs = tf.placeholder(tf.float32, [None, None, 4])
        Y = tf.placeholder(tf.int32, [None, None])
        weights = tf.ones_like(Y, dtype=tf.float32)
        loss = tf.contrib.seq2seq.sequence_loss(logits=outputs, targets=Y, weights=weights)
        per_step = tf.contrib.seq2seq.sequence_loss(
            outputs, Y, weights, average_across_timesteps=False
        )
        (grad,) = tf.gradients(loss, [outputs])
        with tf.Session() as s:
            got, got_steps, got_grad = s.run(
                [loss, per_step, grad], {outputs: logits0, Y: targets0}
            )
    shifted = logits0 - logits0.max(-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    xent = -np.take_along_axis(log_softmax, targets0[..., None], -1)[..., 0]
    np.testing.assert_allclose(got, xent.mean(), rtol=1e-5)
    np.testing.assert_allclose(got_steps, xent.mean(0), rtol=1e-5)
    want_grad = (np.exp(log_softmax) - np.eye(4)[targets0]) / xent.size
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-4, atol=1e-7)


def test_sequence_loss_softmax_loss_function_gets_flat_labels_and_logits():
    seen = {}

    def loss_fn(labels, logits):
        seen["shapes"] = (labels.shape.as_list(), logits.shape.as_list())
        return tf.cast(labels, tf.float32)

    with tf.Graph().as_default():
        targets = tf.constant([[1, 2], [3, 0]])
        loss = tf.contrib.seq2seq.sequence_loss(
            tf.zeros([2, 2, 5]),
            targets,
            tf.constant([[1.0, 1.0], [1.0, 0.0]]),
            softmax_loss_function=loss_fn,
        )
        with tf.Session() as s:
            np.testing.assert_allclose(s.run(loss), 2.0)  # (1 + 2 + 3) / 3
    assert seen["shapes"] == ([4], [4, 5])


def test_sequence_loss_errors_and_refused_decoders():
    with tf.Graph().as_default():
        logits = tf.zeros([2, 3, 4])
        targets = tf.zeros([2, 3], tf.int32)
        weights = tf.ones([2, 3])
        with pytest.raises(ValueError, match="logits must be a .batch_size x sequence_length x"):
            tf.contrib.seq2seq.sequence_loss(tf.zeros([6, 4]), targets, weights)
        with pytest.raises(ValueError, match=r"targets must be .* has shape \(6,\)"):
            tf.contrib.seq2seq.sequence_loss(logits, tf.zeros([6], tf.int32), weights)
        with pytest.raises(ValueError, match="weights must be .* has unknown rank"):
            tf.contrib.seq2seq.sequence_loss(logits, targets, tf.placeholder(tf.float32))
        with pytest.raises(ValueError, match="average_across_batch and sum_over_batch cannot"):
            tf.contrib.seq2seq.sequence_loss(logits, targets, weights, sum_over_batch=True)
    with pytest.raises(AttributeError, match="BasicDecoder yet: tgc provides tf.contrib.seq2seq"):
        tf.contrib.seq2seq.BasicDecoder
    with pytest.raises(AttributeError, match="tf.contrib.seq2seq.BeamSearchDecoder"):
        tf.contrib.seq2seq.BeamSearchDecoder
    assert not hasattr(tf.contrib.seq2seq, "dynamic_decode")


def test_get_global_step_finds_a_variable_named_global_step_as_dqn_makes_it():
    """dennybritz's DQN: tf.Variable(0, name="global_step") (not in the collection), then
    minimize(global_step=tf.contrib.framework.get_global_step()) increments it, as TF1's ref
    tensor "global_step:0" let it."""
    with tf.Graph().as_default():
        global_step = tf.Variable(0, name="global_step", trainable=False)
        v = tf.Variable(1.0)
        step = tf.contrib.framework.get_global_step()
        assert step is global_step
        train = tf.train.RMSPropOptimizer(0.00025, 0.99, 0.0, 1e-6).minimize(
            v * v, global_step=step
        )
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(train)
            s.run(train)
            assert s.run(global_step) == 2
            assert tf.train.global_step(s, tf.contrib.framework.get_global_step()) == 2


def test_batch_norm_regularizers_collections_and_nchw():
    with tf.Graph().as_default():
        x = tf.constant(oracle.data(30, 2, 3, 2, 2))  # NCHW: 3 channels
        y = tf.contrib.layers.batch_norm(
            x,
            scale=True,
            data_format="NCHW",
            param_regularizers={"gamma": tf.contrib.layers.l2_regularizer(0.5)},
            param_initializers={"gamma": tf.constant_initializer(2.0)},
            variables_collections={"moving_mean": ["stats"]},
            updates_collections="my_updates",
            trainable=False,
        )
        assert [v.op.name for v in tf.get_collection("stats")] == ["BatchNorm/moving_mean"]
        assert tf.trainable_variables() == []
        (loss,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
        assert len(tf.get_collection("my_updates")) == 2
        assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            out, loss_value = s.run([y, loss])
            s.run(tf.get_collection("my_updates"))
            moving_mean = s.run(tf.contrib.framework.get_variables("BatchNorm/moving_mean")[0])
    np.testing.assert_allclose(loss_value, 0.5 * 3 * 4.0 / 2)  # scale * sum(gamma^2) / 2
    data = oracle.data(30, 2, 3, 2, 2).astype(np.float64)
    mean, var = data.mean((0, 2, 3)), data.var((0, 2, 3))
    want = (data - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-3) * 2.0
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(moving_mean, mean * (1 - 0.999), rtol=1e-4, atol=1e-7)


def test_a3c_shared_network_trains_and_summarizes(tmp_path):
    """dennybritz's A3C build_shared_network and its episode summaries: contrib conv2d (kernel 8
    stride 4, then 4 and 2, 'SAME'), flatten, fully_connected, summarize_activation, a
    hand-built tf.Summary for the reward and slim.get_variables to copy global to local."""
    import tgc.contrib.slim as slim
    from tgc.frontend.summary_proto import Summary

    def shared(X):
        conv1 = tf.contrib.layers.conv2d(X, 16, 8, 4, activation_fn=tf.nn.relu, scope="conv1")
        conv2 = tf.contrib.layers.conv2d(conv1, 32, 4, 2, activation_fn=tf.nn.relu, scope="conv2")
        fc1 = tf.contrib.layers.fully_connected(
            inputs=tf.contrib.layers.flatten(conv2), num_outputs=8, scope="fc1"
        )
        for layer in (conv1, conv2, fc1):
            tf.contrib.layers.summarize_activation(layer)
        return conv1, conv2, fc1

    with tf.Graph().as_default():
        tf.set_random_seed(5)
        states = tf.placeholder(tf.uint8, [None, 84, 84, 4], name="X")
        X = tf.to_float(states) / 255.0
        with tf.variable_scope("global"):
            conv1, conv2, fc1 = shared(X)
            logits = tf.contrib.layers.fully_connected(fc1, 3, activation_fn=None)
        with tf.variable_scope("worker_1"):
            shared(X)
        assert conv1.shape.as_list() == [None, 21, 21, 16]
        assert conv2.shape.as_list() == [None, 11, 11, 32]
        global_vars = slim.get_variables("global", collection=tf.GraphKeys.TRAINABLE_VARIABLES)
        local_vars = slim.get_variables("worker_1/", collection=tf.GraphKeys.TRAINABLE_VARIABLES)
        assert len(global_vars) == 8 and len(local_vars) == 6
        copy = [loc.assign(glob) for glob, loc in zip(global_vars, local_vars)]
        actions = tf.placeholder(tf.int32, [None])
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=actions, logits=logits)
        )
        step = tf.contrib.framework.get_or_create_global_step()
        train = tf.train.AdamOptimizer(1e-3).minimize(loss, global_step=step)
        summaries = tf.summary.merge_all()
        batch = np.random.RandomState(0).randint(0, 255, (4, 84, 84, 4)).astype(np.uint8)
        feed = {states: batch, actions: [0, 1, 2, 1]}
        writer = tf.summary.FileWriter(str(tmp_path))
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            first = s.run(loss, feed)
            for _ in range(15):
                s.run(train, feed)
            assert s.run(loss, feed) < first
            writer.add_summary(s.run(summaries, feed), tf.train.global_step(s, step))
            episode = Summary()
            episode.value.add(simple_value=3.0, tag="eval/total_reward")
            writer.add_summary(episode, tf.train.global_step(s, step))
            s.run(copy)
            np.testing.assert_array_equal(*s.run([global_vars[0], local_vars[0]]))
        writer.close()
        tags = [s.op.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)]
    # zeros and activation for the three relu layers of each copy, under the calls' name scope
    assert len(tags) == 12 and tags[:2] == [
        "global/global/conv1/Relu/zeros",
        "global/global/conv1/Relu/activation",
    ]


def test_conv2d_transpose_layer_norm_softmax_one_hot_names_and_values():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3, 3, 4])
        up = tf.contrib.layers.conv2d_transpose(x, 2, 3, stride=2)
        normed = tf.contrib.layers.layer_norm(tf.contrib.layers.flatten(up))
        probs = tf.contrib.layers.softmax(tf.reshape(normed, [-1, 3, 24]))
        one_hot = tf.contrib.layers.one_hot_encoding(tf.constant([2, 0]), 3)
        assert [v.op.name for v in tf.global_variables()] == [
            "Conv2d_transpose/weights",
            "Conv2d_transpose/biases",
            "LayerNorm/beta",
            "LayerNorm/gamma",
        ]
        assert len(tf.get_collection(tf.GraphKeys.MODEL_VARIABLES)) == 4
        assert up.shape.as_list() == [None, 6, 6, 2]
        assert one_hot.op.name.startswith("OneHotEncoding/")
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            n, p, h = s.run([normed, probs, one_hot], {x: oracle.data(19, 2, 3, 3, 4)})
        np.testing.assert_allclose(n.mean(1), 0.0, atol=1e-5)
        np.testing.assert_allclose(n.std(1), 1.0, rtol=1e-3)
        np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(h, [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
        assert h.dtype == np.float32
        with pytest.raises(ValueError, match="begin_params_axis .* must be < rank"):
            tf.contrib.layers.layer_norm(tf.zeros([2, 3]), begin_norm_axis=2)
        with pytest.raises(ValueError, match="is not fully defined"):
            tf.contrib.layers.layer_norm(tf.placeholder(tf.float32, [2, None]))
        with pytest.raises(ValueError, match="softmax: rank of .* must be at least 2"):
            tf.contrib.layers.softmax(tf.zeros([3]))


def test_slim_variable_and_model_variable():
    import tgc.contrib.slim as slim

    with tf.Graph().as_default():
        with slim.arg_scope([slim.model_variable], regularizer=slim.l2_regularizer(0.1)):
            with tf.variable_scope("net"):
                w = slim.model_variable(
                    "w", shape=[2, 3], initializer=tf.constant_initializer(2.0), device="/cpu:0"
                )
            with tf.variable_scope("net", reuse=True):
                again = slim.model_variable("w", shape=[2, 3])
        v = slim.variable("v", shape=[4], initializer=tf.zeros_initializer(), collections=["c"])
        loc = slim.local_variable([1.0, 2.0], name="counts")
        assert again is w and w.op.name == "net/w" and w.op.device.endswith("CPU:0")
        assert tf.get_collection(tf.GraphKeys.MODEL_VARIABLES) == [w]
        assert tf.get_collection("c") == [v] and v not in tf.global_variables()
        assert tf.local_variables() == [loc] and loc not in tf.trainable_variables()
        (loss,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)  # once, not on reuse
        assert loss.op.name.startswith("net/w/Regularizer/")
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            np.testing.assert_allclose(s.run(loss), 0.1 * 6 * 4.0 / 2)
        with pytest.raises(ValueError, match="variable: partitioner is not supported by tgc"):
            slim.variable("p", shape=[4], partitioner=lambda *a: [2])


def test_checkpoint_helpers_restore_part_of_a_model(tmp_path):
    """slim's fine-tuning idiom: restore what the checkpoint has, skip the new head."""
    import tgc.contrib.slim as slim

    prefix = str(tmp_path / "model.ckpt")
    with tf.Graph().as_default():
        x = tf.constant(np.ones((1, 3), np.float32))
        slim.fully_connected(x, 2, scope="body", weights_initializer=tf.constant_initializer(0.5))
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            tf.train.Saver().save(s, prefix, global_step=7)
    assert slim.list_variables(str(tmp_path)) == [("body/biases", [2]), ("body/weights", [3, 2])]
    np.testing.assert_array_equal(
        tf.contrib.framework.load_variable(prefix + "-7", "body/weights:0"), np.full((3, 2), 0.5)
    )
    with tf.Graph().as_default():
        x = tf.constant(np.ones((1, 3), np.float32))
        body = slim.fully_connected(x, 2, scope="body")
        slim.fully_connected(body, 4, scope="head")
        restore = slim.assign_from_checkpoint_fn(
            prefix + "-7", slim.get_variables_to_restore(), ignore_missing_vars=True
        )
        assert (
            slim.assign_from_checkpoint_fn(
                prefix + "-7", slim.get_variables("head"), ignore_missing_vars=True
            )
            is None
        )
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            restore(s)
            np.testing.assert_allclose(s.run(body), [[1.5, 1.5]])
        with pytest.raises(ValueError, match="var_list cannot be empty"):
            slim.assign_from_checkpoint_fn(prefix + "-7", [])
        with pytest.raises(ValueError, match="Key nothing not found"):
            slim.load_variable(prefix + "-7", "nothing")
        (tmp_path / "empty").mkdir()
        with pytest.raises(ValueError, match="Couldn't find a checkpoint in .*empty"):
            slim.list_variables(str(tmp_path / "empty"))
        with pytest.raises(ValueError, match="not a valid checkpoint: .*missing"):
            slim.list_variables(str(tmp_path / "missing"))


def test_batch_norm_with_a_fed_is_training_matches_tf_both_ways():
    """is_training a bool placeholder: fed True it is TF's training step (output, gradient,
    moving statistics), fed False TF's inference with the updated statistics (the recorded
    batch_norm_rank4 values, which TF computed with Python bools)."""
    want = TF_VALUES["batch_norm_rank4"]
    shape = (2, 3, 3, 4)
    with tf.Graph().as_default():
        x = tf.constant(oracle.data(1, *shape))
        w = tf.constant(oracle.data(2, *shape))
        flag = tf.placeholder(tf.bool, [])
        y = tf.contrib.layers.batch_norm(
            x,
            decay=0.9,
            scale=True,
            is_training=flag,
            updates_collections=None,
            param_initializers={
                "beta": tf.constant_initializer(oracle.data(3, 4)),
                "gamma": tf.constant_initializer(1.0 + oracle.data(4, 4)),
            },
        )
        (gx,) = tf.gradients(tf.reduce_sum(y * w), [x])
        moving = tf.contrib.framework.get_variables("BatchNorm/moving_")
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            out, grad = s.run([y, gx], {flag: True})
            stats = s.run(moving)
            inference = s.run(y, {flag: False})
            assert_close_nested(s.run(moving), want["moving"], "no update when False")
    assert_close_nested(
        {"y": out, "dx": grad, "moving": stats, "inference": inference}, want, "rank4 fed"
    )
