"""``from tgc.examples.tutorials.mnist import input_data``, as TF1's tutorials write it."""
