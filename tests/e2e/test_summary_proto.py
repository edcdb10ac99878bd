"""tf.Summary built by hand as TF1 programs do (dennybritz's DQN and A3C write episode rewards this
way) and written by FileWriter.add_summary; tf.train.global_step(sess, tensor).

tf.Summary is TensorBoard's summary_pb2.Summary (the same message as TF's), so the events read back
here are exactly what TF1 writes for the same calls.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

import tgc as tf

pytest.importorskip("tensorboard")

from tensorboard.compat.proto.event_pb2 import Event  # noqa: E402

from tgc.frontend import summary_proto  # noqa: E402
from tgc.runtime.events import read_records  # noqa: E402


def _events(logdir):
    files = sorted(os.listdir(logdir))
    return [Event.FromString(r) for f in files for r in read_records(os.path.join(logdir, f))]


def test_tf_summary_is_tensorboards_message():
    assert tf.Summary is summary_proto.Summary
    assert tf.HistogramProto is summary_proto.HistogramProto


def test_hand_built_summaries_are_written_with_their_steps(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path))
    episode_summary = tf.Summary()
    episode_summary.value.add(simple_value=0.25, node_name="episode_reward", tag="episode_reward")
    episode_summary.value.add(simple_value=17, tag="episode_length")
    writer.add_summary(episode_summary, 7)
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="reward", simple_value=1.5)]), 8)
    writer.flush()
    writer.close()
    events = [e for e in _events(str(tmp_path)) if e.HasField("summary")]
    assert [e.step for e in events] == [7, 8]
    assert [(v.tag, v.simple_value, v.node_name) for v in events[0].summary.value] == [
        ("episode_reward", 0.25, "episode_reward"),
        ("episode_length", 17.0, ""),
    ]
    assert [(v.tag, v.simple_value) for v in events[1].summary.value] == [("reward", 1.5)]


def test_hand_built_and_fetched_summaries_are_the_same_message():
    with tf.Graph().as_default():
        fetched_bytes = tf.Session().run(tf.summary.scalar("loss", tf.constant(2.0)))
    fetched = tf.Summary.FromString(fetched_bytes)
    built = tf.Summary(value=[tf.Summary.Value(tag="loss", simple_value=2.0)])
    assert fetched.value[0].tag == built.value[0].tag == "loss"
    assert fetched.value[0].simple_value == built.value[0].simple_value
    assert summary_proto.HistogramProto(min=1.0).min == 1.0


def test_add_summary_refuses_other_objects(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path))
    with pytest.raises(TypeError, match="add_summary takes a serialized Summary"):
        writer.add_summary({"tag": "reward"}, 1)
    writer.close()


def test_without_tensorboard_the_import_says_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto.summary_pb2", None)
    spec = importlib.util.spec_from_file_location("summary_proto_copy", summary_proto.__file__)
    with pytest.raises(ImportError, match="tensorboard.compat.proto.summary_pb2"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_train_global_step_reads_the_step_as_an_int():
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        v = tf.Variable(np.float32(3.0))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(v * v, global_step=step)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert tf.train.global_step(sess, step) == 0
            sess.run(train)
            sess.run(train)
            current = tf.train.global_step(sess, step)
            assert current == 2 and type(current) is int
            assert tf.train.global_step(sess, tf.identity(step)) == 2
        with pytest.raises(TypeError, match="global_step_tensor must be a Variable or Tensor"):
            tf.train.global_step(sess, "global_step")
