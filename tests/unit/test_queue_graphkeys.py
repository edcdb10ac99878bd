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
