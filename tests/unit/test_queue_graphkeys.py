"""tf.GraphKeys.QUEUE_RUNNERS: the collection tf.train's input functions add their runners to."""

import numpy as np

import tgc as tf


def test_batch_adds_its_queue_runner_to_graphkeys_queue_runners():
    assert tf.GraphKeys.QUEUE_RUNNERS == "queue_runners"  # TF1's string: programs name either
    x = tf.constant(np.arange(3, dtype=np.float32))
    tf.train.batch([x], batch_size=4)
    runners = tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)
    assert len(runners) == 1
    assert isinstance(runners[0], tf.train.QueueRunner)
    assert runners[0].queue.kind == "FIFOQueue"


def test_get_collection_scope_is_a_regular_expression_as_tfs():
    """TF 2.21: get_collection(key, scope) keeps the items whose name re.match(scope) accepts."""
    with tf.Graph().as_default():
        with tf.variable_scope("global"):
            tf.get_variable("w_weights", [1])
            tf.get_variable("bias", [1])
        with tf.variable_scope("worker"):
            tf.get_variable("weights", [1])

        def names(scope):
            found = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope)
            return [v.name for v in found]

        assert names("global/.*weights") == ["global/w_weights:0"]
        assert names("global") == ["global/w_weights:0", "global/bias:0"]
        assert names(".*weights") == ["global/w_weights:0", "worker/weights:0"]
        assert names("worker/w.ights") == ["worker/weights:0"]
