"""`tf.examples`: the helpers TF1's tutorials import (``tensorflow.examples.tutorials.mnist``)."""
