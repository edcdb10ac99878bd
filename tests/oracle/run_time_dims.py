"""TensorFlow 2.21's messages for tests/e2e/test_run_time_dims.py's ops on dims known at run time
only, printed one per case:

    TF_ENABLE_ONEDNN_OPTS=0 /tmp/tfenv/bin/python tests/oracle/run_time_dims.py

(compat.v1 with v2 behaviour disabled, on the CPU; oneDNN off so that the conv backprops run
TF's own kernels and checks.) Each case merges two branches of a tf.cond whose sizes differ on one
axis and runs the branch the op does not fit.
"""

import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()


def merged(pred, taken, other):
    """A tensor of shape ``taken`` when pred holds, else ``other``: the differing axes are ?."""
    return tf.cond(pred, lambda: tf.ones(taken), lambda: tf.ones(other))


def cases(pred):
    out = {
        "diag_part_2": tf.diag_part(merged(pred, [4, 4], [3, 4])),
        "diag_part_4": tf.diag_part(merged(pred, [2, 3, 2, 3], [2, 2, 2, 3])),
    }
    same = [1, 1, 1, 1]
    x, g = merged(pred, [2, 5, 5, 3], [1, 5, 5, 3]), merged(pred, [2, 5, 5, 4], [1, 5, 5, 4])
    out["backprop_filter_of_x"] = tf.nn.conv2d_backprop_filter(
        x, [3, 3, 3, 4], tf.ones([2, 5, 5, 4]), same, "SAME"
    )
    out["backprop_filter_of_g"] = tf.nn.conv2d_backprop_filter(
        tf.ones([2, 5, 5, 3]), [3, 3, 3, 4], g, same, "SAME"
    )
    out["backprop_input_of_g"] = tf.nn.conv2d_backprop_input(
        [2, 5, 5, 3], tf.ones([3, 3, 3, 4]), g, same, "SAME"
    )
    filters = tf.ones([3, 3, 3, 4])
    for name, other in (("height", [2, 4, 5, 4]), ("width", [2, 5, 6, 4]), ("depth", [2, 5, 5, 3])):
        g = merged(pred, [2, 5, 5, 4], other)
        out[f"backprop_input_{name}"] = tf.nn.conv2d_backprop_input(
            [2, 5, 5, 3], filters, g, same, "SAME"
        )
        out[f"backprop_filter_{name}"] = tf.nn.conv2d_backprop_filter(
            tf.ones([2, 5, 5, 3]), [3, 3, 3, 4], g, same, "SAME"
        )
    out["scatter_nd_rows"] = tf.scatter_nd([[0], [2]], merged(pred, [2], [1]), [4])
    out["scatter_nd_wide"] = tf.scatter_nd([[0], [2]], merged(pred, [2, 3], [2, 2]), [4, 3])
    targets = tf.cond(pred, lambda: tf.constant([2, 0]), lambda: tf.constant([2]))
    out["in_top_k"] = tf.nn.in_top_k(tf.constant([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]), targets, 1)
    lengths = tf.cond(pred, lambda: tf.constant([2, 3]), lambda: tf.constant([2]))
    steps = tf.reshape(tf.range(6.0), [2, 3])
    out["reverse_sequence"] = tf.reverse_sequence(steps, lengths, seq_axis=1, batch_axis=0)
    out["sparse_to_dense"] = tf.sparse_to_dense([[0], [2]], [4], merged(pred, [2], [1]))
    image, whole = tf.reshape(tf.range(32.0), [2, 4, 4, 1]), [0.0, 0.0, 1.0, 1.0]
    boxes = tf.cond(pred, lambda: tf.constant([whole, whole]), lambda: tf.constant([whole]))
    out["crop_and_resize"] = tf.image.crop_and_resize(image, boxes, [1, 0], [2, 2])
    row = tf.cond(pred, lambda: tf.constant([4.0, 5.0, 6.0]), lambda: tf.constant([4.0, 5.0]))
    array = tf.TensorArray(tf.float32, size=2).write(0, tf.ones([3])).write(1, row)
    out["tensor_array_write"] = array.stack()
    return out


def main():
    pred = tf.placeholder(tf.bool, [])
    for name, fetch in cases(pred).items():
        with tf.Session() as sess:
            try:
                print(name, "ok", sess.run(fetch, {pred: False}).tolist())
            except tf.errors.OpError as exc:
                print(name, type(exc).__name__, exc.message.splitlines()[-2].strip())


if __name__ == "__main__":
    main()
