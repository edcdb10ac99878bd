"""`tf.data.experimental`: the names TF1 programs use from it."""

# num_parallel_calls / buffer_size value asking TF to tune it; tgc runs elements one at a time.
AUTOTUNE = -1
