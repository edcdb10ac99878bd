"""The programs of tests/e2e/test_conv_variants.py and (run as a script) TensorFlow 2.21's values
for them, written as JSON to the file the test reads:

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/conv_variants.py \
        > tests/e2e/conv_variants_tf_values.json

(``tensorflow.compat.v1`` with v2 behaviour disabled; legacy Keras for ``tf.layers``.) Each
program takes the API ``t`` (TF's compat.v1 module, or tgc) and ``nn``, where it finds conv1d,
pool, atrous_conv2d, depthwise_conv2d and separable_conv2d (``t.nn``, or tgc's module of them),
builds a fresh graph, runs it and returns a dict of plain lists. Inputs come from numpy's
RandomState (stable across numpy versions), so both sides see the same values. Gradients are
those of sum(y * w) for a fixed random w.
"""

import numpy as np


def data(seed, *shape):
    return np.random.RandomState(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


def _graph(t, build):
    g = t.Graph()
    with g.as_default():
        fetches, feeds = build()
        with t.Session() as sess:
            sess.run(t.global_variables_initializer())
            return sess.run(fetches, feeds)


def _with_gradients(t, y, wrt, seed):
    """y and the gradients of sum(y * w) with respect to each tensor of wrt (a dict)."""
    w = t.constant(data(seed, *y.shape.as_list()[1:]))
    grads = t.gradients(t.reduce_sum(y * w), list(wrt.values()))
    return {"y": y, **{f"d_{name}": g for name, g in zip(wrt, grads)}}


def conv1d(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 9, 3])
        f = t.constant(data(2, 3, 3, 4))
        out = {}
        for key, stride, padding, dilation in (
            ("s1_same", 1, "SAME", 1),
            ("s2_valid", 2, "VALID", 1),
            ("s2_same", 2, "SAME", 1),
            ("d2_same", 1, "SAME", 2),
            ("d3_valid", 1, "VALID", 3),
        ):
            y = nn.conv1d(x, f, stride, padding, dilations=dilation)
            for name, value in _with_gradients(t, y, {"x": x, "f": f}, 3).items():
                out[f"{key}_{name}"] = value
        return out, {x: data(1, 2, 9, 3)}

    return _graph(t, build)


def pool(t, nn):
    def build():
        x3 = t.placeholder(t.float32, [None, 8, 3])
        x4 = t.constant(data(5, 2, 7, 6, 2))
        out = {
            "max1d_k3_s2_same": nn.pool(x3, [3], "MAX", "SAME", strides=[2]),
            "avg1d_k2_s1_valid": nn.pool(x3, [2], "AVG", "VALID"),
            "avg1d_k3_s2_same": nn.pool(x3, [3], "AVG", "SAME", strides=[2]),
            "max2d_k23_s21_same": nn.pool(x4, [2, 3], "MAX", "SAME", strides=[2, 1]),
            "avg2d_k22_s22_valid": nn.pool(x4, [2, 2], "AVG", "VALID", strides=[2, 2]),
        }
        return out, {x3: data(4, 2, 8, 3)}

    return _graph(t, build)


def layers_1d(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 10, 3])
        k1, b1 = data(7, 3, 3, 4), data(8, 4)
        causal = t.layers.conv1d(
            x,
            4,
            3,
            padding="causal",
            dilation_rate=2,
            kernel_initializer=t.constant_initializer(k1),
            bias_initializer=t.constant_initializer(b1),
            activation=t.nn.relu,
        )
        layer = t.layers.Conv1D(
            2,
            2,
            strides=2,
            padding="same",
            kernel_initializer=t.constant_initializer(data(9, 2, 4, 2)),
        )
        strided = layer(causal)
        out = {
            "causal": causal,
            "strided": strided,
            "max_valid": t.layers.max_pooling1d(causal, 2, 2),
            "max_same": t.layers.MaxPooling1D(3, 2, padding="same")(causal),
            "avg_same": t.layers.average_pooling1d(causal, 3, 2, padding="same"),
            "avg_valid": t.layers.AveragePooling1D(2, 1)(strided),
        }
        grads = t.gradients(t.reduce_sum(strided * strided), [x] + t.trainable_variables())
        out.update({f"grad_{i}": g for i, g in enumerate(grads)})
        return out, {x: data(6, 2, 10, 3)}

    values = _graph(t, build)
    # Variable names and shapes as TF1 makes them.
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 10, 3])
        t.layers.conv1d(t.layers.conv1d(x, 4, 3), 2, 5, name="top")
        values["variables"] = [[v.name, v.shape.as_list()] for v in t.global_variables()]
    return values


def dilated_conv2d(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 9, 8, 2])
        f = t.constant(data(11, 3, 3, 2, 3))
        out = {}
        for key, y in (
            ("atrous2_same", nn.atrous_conv2d(x, f, 2, "SAME")),
            ("atrous3_valid", nn.atrous_conv2d(x, f, 3, "VALID")),
            ("conv_d21_same", t.nn.conv2d(x, f, [1, 1, 1, 1], "SAME", dilations=[1, 2, 1, 1])),
            ("conv_d22_valid", t.nn.conv2d(x, f, [1, 1, 1, 1], "VALID", dilations=[1, 2, 2, 1])),
            ("conv_s2_d2_same", t.nn.conv2d(x, f, [1, 2, 2, 1], "SAME", dilations=[1, 2, 2, 1])),
        ):
            for name, value in _with_gradients(t, y, {"x": x, "f": f}, 12).items():
                out[f"{key}_{name}"] = value
        out["layer"] = t.layers.conv2d(
            x,
            2,
            3,
            padding="same",
            dilation_rate=2,
            kernel_initializer=t.constant_initializer(data(13, 3, 3, 2, 2)),
        )
        return out, {x: data(10, 2, 9, 8, 2)}

    return _graph(t, build)


def depthwise(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 7, 8, 3])
        f = t.constant(data(15, 3, 3, 3, 2))
        f1 = t.constant(data(16, 2, 3, 3, 1))
        out = {}
        for key, y in (
            ("s1_same", nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME")),
            ("s2_valid", nn.depthwise_conv2d(x, f, [1, 2, 2, 1], "VALID")),
            ("s2_same", nn.depthwise_conv2d(x, f, [1, 2, 2, 1], "SAME")),
            ("m1_s12_same", nn.depthwise_conv2d(x, f1, [1, 1, 2, 1], "SAME")),
            ("rate2_same", nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME", rate=[2, 2])),
            ("rate2_valid", nn.depthwise_conv2d(x, f1, [1, 1, 1, 1], "VALID", rate=[2, 2])),
        ):
            wrt = {"x": x, "f": f1 if key.startswith(("m1", "rate2_valid")) else f}
            for name, value in _with_gradients(t, y, wrt, 17).items():
                out[f"{key}_{name}"] = value
        return out, {x: data(14, 2, 7, 8, 3)}

    return _graph(t, build)


def separable(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 8, 7, 3])
        dw = t.constant(data(19, 3, 3, 3, 2))
        pw = t.constant(data(20, 1, 1, 6, 4))
        out = {}
        for key, y in (
            ("s1_same", nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME")),
            ("s2_valid", nn.separable_conv2d(x, dw, pw, [1, 2, 2, 1], "VALID")),
            ("rate2_same", nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME", rate=[2, 2])),
        ):
            for name, value in _with_gradients(t, y, {"x": x, "dw": dw, "pw": pw}, 21).items():
                out[f"{key}_{name}"] = value
        layer_out = t.layers.separable_conv2d(
            x,
            5,
            3,
            strides=2,
            padding="same",
            depth_multiplier=2,
            depthwise_initializer=t.constant_initializer(data(22, 3, 3, 3, 2)),
            pointwise_initializer=t.constant_initializer(data(23, 1, 1, 6, 5)),
            bias_initializer=t.constant_initializer(data(24, 5)),
        )
        out["layer"] = layer_out
        out["layer_class"] = t.layers.SeparableConv2D(
            2,
            (2, 3),
            padding="same",
            dilation_rate=2,
            depthwise_initializer=t.constant_initializer(data(25, 2, 3, 5, 1)),
            pointwise_initializer=t.constant_initializer(data(26, 1, 1, 5, 2)),
            use_bias=False,
        )(layer_out)
        return out, {x: data(18, 2, 8, 7, 3)}

    values = _graph(t, build)
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 8, 7, 3])
        t.layers.separable_conv2d(x, 4, 3, depth_multiplier=2)
        t.layers.SeparableConv2D(2, 1, use_bias=False, name="sep")(x)
        values["variables"] = [[v.name, v.shape.as_list()] for v in t.global_variables()]
    return values


def max_pool_with_argmax(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 7, 6, 3])
        x2 = t.constant(data(28, 2, 5, 5, 2))
        out = {}
        for key, (y, argmax) in (
            ("k2_s2_valid", nn.max_pool_with_argmax(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")),
            ("k3_s2_same", nn.max_pool_with_argmax(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")),
            ("k23_s12_same", nn.max_pool_with_argmax(x, [1, 2, 3, 1], [1, 1, 2, 1], "SAME")),
        ):
            out[f"{key}_y"], out[f"{key}_argmax"] = y, argmax
            w = t.constant(data(29, *y.shape.as_list()[1:]))
            out[f"{key}_d_x"] = t.gradients(t.reduce_sum(y * w), [x])[0]
        y, argmax = nn.max_pool_with_argmax(
            x2,
            [1, 3, 3, 1],
            [1, 2, 2, 1],
            "SAME",
            include_batch_in_index=True,
            output_dtype=t.int32,
        )
        out["batch_index_y"], out["batch_index_argmax"] = y, argmax
        return out, {x: data(27, 2, 7, 6, 3)}

    return _graph(t, build)


def conv3d(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 5, 6, 4, 2])
        f = t.constant(data(31, 3, 2, 3, 2, 3))
        out = {}
        for key, y in (
            ("s1_same", nn.conv3d(x, f, [1, 1, 1, 1, 1], "SAME")),
            ("s212_valid", nn.conv3d(x, f, [1, 2, 1, 2, 1], "VALID")),
            ("s2_same", nn.conv3d(x, f, [1, 2, 2, 2, 1], "SAME")),
            ("d2_same", nn.conv3d(x, f, [1, 1, 1, 1, 1], "SAME", dilations=[1, 2, 1, 2, 1])),
        ):
            for name, value in _with_gradients(t, y, {"x": x, "f": f}, 32).items():
                out[f"{key}_{name}"] = value
        out["layer"] = t.layers.conv3d(
            x,
            2,
            (2, 3, 2),
            strides=(1, 2, 1),
            padding="same",
            kernel_initializer=t.constant_initializer(data(33, 2, 3, 2, 2, 2)),
            bias_initializer=t.constant_initializer(data(34, 2)),
        )
        return out, {x: data(30, 2, 5, 6, 4, 2)}

    values = _graph(t, build)
    g = t.Graph()
    with g.as_default():
        t.layers.Conv3D(4, 3)(t.placeholder(t.float32, [None, 5, 6, 4, 2]))
        values["variables"] = [[v.name, v.shape.as_list()] for v in t.global_variables()]
    return values


def convolution(t, nn):
    def build():
        x1 = t.placeholder(t.float32, [None, 9, 3])
        x2 = t.placeholder(t.float32, [None, 7, 8, 3])
        x3 = t.constant(data(37, 2, 4, 5, 4, 2))
        out = {
            "n1_s2_same": nn.convolution(x1, t.constant(data(38, 3, 3, 2)), "SAME", strides=[2]),
            "n1_d2_valid": nn.convolution(
                x1, t.constant(data(38, 3, 3, 2)), "VALID", dilation_rate=[2]
            ),
            "n2_s21_same": nn.convolution(
                x2, t.constant(data(39, 3, 2, 3, 4)), "SAME", strides=[2, 1]
            ),
            "n2_d12_valid": nn.convolution(
                x2, t.constant(data(39, 3, 2, 3, 4)), "VALID", dilation_rate=[1, 2]
            ),
            "n3_d2_same": nn.convolution(
                x3, t.constant(data(40, 2, 2, 2, 2, 3)), "SAME", dilation_rate=[2, 1, 2]
            ),
            "native_s2_same": nn.depthwise_conv2d_native(
                x2, t.constant(data(41, 3, 3, 3, 2)), [1, 2, 2, 1], "SAME"
            ),
            "native_d2_valid": nn.depthwise_conv2d_native(
                x2, t.constant(data(41, 3, 3, 3, 2)), [1, 1, 1, 1], "VALID", dilations=[1, 2, 2, 1]
            ),
        }
        return out, {x1: data(35, 2, 9, 3), x2: data(36, 2, 7, 8, 3)}

    return _graph(t, build)


def pool3d(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 5, 6, 4, 2])
        out = {}
        for key, pool, ksize, strides, padding in (
            ("max_k2_s2_valid", nn.max_pool3d, [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "VALID"),
            ("max_k3_s2_same", nn.max_pool3d, [1, 3, 3, 3, 1], [1, 2, 2, 2, 1], "SAME"),
            ("avg_k3_s2_same", nn.avg_pool3d, [1, 3, 3, 3, 1], [1, 2, 2, 2, 1], "SAME"),
            ("avg_k212_s121_same", nn.avg_pool3d, [1, 2, 1, 2, 1], [1, 1, 2, 1, 1], "SAME"),
            ("avg_k2_s1_valid", nn.avg_pool3d, [1, 2, 2, 2, 1], [1, 1, 1, 1, 1], "VALID"),
        ):
            y = pool(x, ksize, strides, padding)
            for name, value in _with_gradients(t, y, {"x": x}, 43).items():
                out[f"{key}_{name}"] = value
        out["layer_max"] = t.layers.max_pooling3d(x, 2, (1, 2, 2), padding="same")
        out["layer_avg"] = t.layers.AveragePooling3D((3, 2, 2), 2, padding="same")(x)
        return out, {x: data(42, 2, 5, 6, 4, 2)}

    return _graph(t, build)


def separable_1d(t, nn):
    def build():
        x = t.placeholder(t.float32, [None, 9, 3])
        y = t.layers.separable_conv1d(
            x,
            4,
            3,
            strides=2,
            padding="same",
            depth_multiplier=2,
            depthwise_initializer=t.constant_initializer(data(45, 3, 3, 2)),
            pointwise_initializer=t.constant_initializer(data(46, 1, 6, 4)),
            bias_initializer=t.constant_initializer(data(47, 4)),
        )
        causal = t.layers.SeparableConv1D(
            2,
            2,
            padding="causal",
            dilation_rate=2,
            depthwise_initializer=t.constant_initializer(data(48, 2, 4, 1)),
            pointwise_initializer=t.constant_initializer(data(49, 1, 4, 2)),
        )(y)
        grads = t.gradients(t.reduce_sum(causal * causal), [x] + t.trainable_variables())
        out = {"y": y, "causal": causal, **{f"grad_{i}": g for i, g in enumerate(grads)}}
        return out, {x: data(44, 2, 9, 3)}

    values = _graph(t, build)
    g = t.Graph()
    with g.as_default():
        t.layers.separable_conv1d(t.placeholder(t.float32, [None, 9, 3]), 4, 3, depth_multiplier=2)
        values["variables"] = [[v.name, v.shape.as_list()] for v in t.global_variables()]
    return values


PROGRAMS = {
    "conv1d": conv1d,
    "pool": pool,
    "layers_1d": layers_1d,
    "dilated_conv2d": dilated_conv2d,
    "depthwise": depthwise,
    "separable": separable,
    "max_pool_with_argmax": max_pool_with_argmax,
    "conv3d": conv3d,
    "convolution": convolution,
    "pool3d": pool3d,
    "separable_1d": separable_1d,
}


def _error(build):
    try:
        build()
    except Exception as e:  # noqa: BLE001 (the message is what is recorded)
        return f"{type(e).__name__}: {e}"
    return None


def errors(t, nn):
    """TF's messages for bad inputs (the test checks tgc names the same problem)."""
    out = {}
    cases = {
        "conv1d_channels": lambda: nn.conv1d(t.zeros([2, 9, 3]), t.zeros([3, 4, 5]), 1, "SAME"),
        "conv1d_rank": lambda: nn.conv1d(t.zeros([2, 9, 9, 3]), t.zeros([3, 3, 5]), 1, "SAME"),
        "conv1d_padding": lambda: nn.conv1d(t.zeros([2, 9, 3]), t.zeros([3, 3, 5]), 1, "FULL"),
        "depthwise_channels": lambda: nn.depthwise_conv2d(
            t.zeros([2, 7, 7, 3]), t.zeros([3, 3, 4, 2]), [1, 1, 1, 1], "SAME"
        ),
        "depthwise_rate_and_stride": lambda: nn.depthwise_conv2d(
            t.zeros([2, 7, 7, 3]), t.zeros([3, 3, 3, 2]), [1, 2, 2, 1], "SAME", rate=[2, 2]
        ),
        "separable_pointwise": lambda: nn.separable_conv2d(
            t.zeros([2, 7, 7, 3]),
            t.zeros([3, 3, 3, 2]),
            t.zeros([1, 1, 5, 4]),
            [1, 1, 1, 1],
            "SAME",
        ),
        "convolution_stride_and_rate": lambda: nn.convolution(
            t.zeros([1, 9, 9, 2]),
            t.zeros([3, 3, 2, 2]),
            "SAME",
            strides=[2, 2],
            dilation_rate=[2, 2],
        ),
        "atrous_rate": lambda: nn.atrous_conv2d(
            t.zeros([2, 7, 7, 3]), t.zeros([3, 3, 3, 2]), 0, "SAME"
        ),
    }
    for name, build in cases.items():
        g = t.Graph()
        with g.as_default():
            out[name] = _error(build)
    return out


def as_lists(values):
    if isinstance(values, dict):
        return {k: as_lists(v) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return [as_lists(v) for v in values]
    if isinstance(values, np.ndarray):
        return values.tolist()
    if isinstance(values, np.generic):
        return values.item()
    return values


if __name__ == "__main__":
    import json

    import tensorflow
    import tensorflow.compat.v1 as tf1

    tf1.disable_v2_behavior()
    lines = [f'"version": {json.dumps(tensorflow.__version__)}']
    for name, program in PROGRAMS.items():
        lines.append(f"{json.dumps(name)}: {json.dumps(as_lists(program(tf1, tf1.nn)))}")
    lines.append(f'"errors": {json.dumps(errors(tf1, tf1.nn))}')
    print("{\n" + ",\n".join(lines) + "\n}")
