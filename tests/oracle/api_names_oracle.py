"""The programs of tests/e2e/test_api_names.py and (run as a script) TensorFlow 2.21's values for
them, printed as TF_VALUES:

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/api_names_oracle.py [program ...]

(compat.v1 with v2 behaviour disabled; tf.layers needs TF_USE_LEGACY_KERAS.) Each program takes
the API as its argument ``t`` (TF's compat.v1 module, or tgc), builds fresh graphs, runs them and
returns plain lists. Inputs come from numpy's RandomState (stable across numpy versions), so both
sides see the same values.
"""

import pprint

import numpy as np


def data(seed, *shape):
    return np.random.RandomState(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


def r(values):
    """Lists of floats rounded to 7 decimals (float32 has ~7 significant digits)."""
    return np.round(np.asarray(values, np.float64), 7).tolist()


def conv2d_transpose(t):
    res = {}
    for key, (in_shape, f_shape, out_shape, strides, padding) in {
        "same_s2": ((2, 3, 3, 4), (3, 3, 5, 4), (2, 6, 6, 5), 2, "SAME"),
        "valid_s12": ((1, 4, 3, 2), (2, 3, 3, 2), (1, 5, 7, 3), [1, 1, 2, 1], "VALID"),
        "same_s1": ((2, 4, 4, 3), (3, 2, 2, 3), (2, 4, 4, 2), 1, "SAME"),
    }.items():
        g = t.Graph()
        with g.as_default():
            x = t.constant(data(1, *in_shape))
            f = t.constant(data(2, *f_shape))
            y = t.nn.conv2d_transpose(x, f, out_shape, strides, padding=padding)
            w = t.constant(data(3, *out_shape))
            gx, gf = t.gradients(t.reduce_sum(y * w), [x, f])
            with t.Session() as s:
                yv, gxv, gfv = s.run([y, gx, gf])
        res[key] = {"y": r(yv), "gx": r(gxv), "gf": r(gfv), "name": y.name}
    # tf.layers: variable names and shapes; values set from the names' order.
    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 3, 3, 4])
        h = t.layers.conv2d_transpose(x, 5, 3, strides=2, padding="same")
        z = t.layers.conv2d_transpose(h, 2, (2, 3), strides=(1, 2), activation=t.nn.relu)
        variables = t.global_variables()
        loss = t.reduce_sum(z * z)
        grads = t.gradients(loss, variables)
        with t.Session() as s:
            for i, v in enumerate(variables):
                s.run(v.assign(data(10 + i, *v.shape.as_list())))
            zv, *gv = s.run([z] + grads, {x: data(4, 2, 3, 3, 4)})
    res["layers"] = {
        "variables": [(v.name, v.shape.as_list()) for v in variables],
        "z": r(zv),
        "grads": [r(a) for a in gv],
        "shapes": [h.shape.as_list(), z.shape.as_list()],
    }
    return res


def batch_norm(t):
    g = t.Graph()
    with g.as_default():
        x = t.constant(data(20, 3, 2, 4))
        mean = t.constant(data(21, 4))
        var = t.constant(np.abs(data(22, 4)) + 0.5)
        offset = t.constant(data(23, 4))
        scale = t.constant(data(24, 4))
        y = t.nn.batch_normalization(x, mean, var, offset, scale, 1e-3)
        y_plain = t.nn.batch_normalization(x, mean, var, None, None, 1e-3)
        w = t.constant(data(25, 3, 2, 4))
        grads = t.gradients(t.reduce_sum(y * w), [x, mean, var, offset, scale])
        y_global = t.nn.batch_norm_with_global_normalization(
            x, mean, var, offset, scale, 1e-3, True
        )
        y_global_unscaled = t.nn.batch_norm_with_global_normalization(
            x, mean, var, offset, scale, 1e-3, False
        )
        image = t.constant(data(26, 2, 3, 2, 7) * 2.0)
        normed = t.nn.lrn(image, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75)
        normed_default = t.nn.lrn(image)
        lrn_grad = t.gradients(t.reduce_sum(normed * t.constant(data(27, 2, 3, 2, 7))), [image])
        with t.Session() as s:
            vals = s.run([y, y_plain, grads, y_global, y_global_unscaled])
            lrn_vals = s.run([normed, normed_default, lrn_grad[0]])
    return {
        "y": r(vals[0]),
        "y_plain": r(vals[1]),
        "grads": [r(a) for a in vals[2]],
        "y_global": r(vals[3]),
        "y_global_unscaled": r(vals[4]),
        "lrn": [r(v) for v in lrn_vals],
        "scope": y.name.split("/")[0],  # the op's own name is tgc's AddV2 where TF's is add
    }


def moving_average(t):
    res = {}
    for key, kwargs in {
        "plain": {"decay": 0.9},
        "num_updates": {"decay": 0.999, "num_updates": "step"},
        "zero_debias": {"decay": 0.8, "zero_debias": True},
    }.items():
        g = t.Graph()
        with g.as_default():
            w = t.Variable(data(30, 2, 3), name="w")
            with t.variable_scope("layer"):
                b = t.get_variable("b", initializer=data(31, 3))
            step = t.Variable(0, trainable=False, name="step")
            x = t.placeholder(t.float32, [3])
            # A tensor, averaged too.
            loss_like = t.add(t.reduce_sum(x * x), t.reduce_sum(w), name="loss_like")
            if kwargs.get("num_updates") == "step":
                kwargs = dict(kwargs, num_updates=step)
            ema = t.train.ExponentialMovingAverage(**kwargs)
            update = ema.apply([w, b, loss_like])
            with t.control_dependencies([update]):
                train = t.group(w.assign_add(data(32, 2, 3)), b.assign(b * 0.5), step.assign_add(1))
            names = [ema.average_name(v) for v in (w, b)]
            shadows = [ema.average(v) for v in (w, b, loss_like)]
            restore = sorted((k, v.op.name) for k, v in ema.variables_to_restore().items())
            variables = sorted(v.name for v in t.global_variables())
            trajectory = []
            with t.Session() as s:
                s.run(t.global_variables_initializer())
                for i in range(3):
                    s.run(train, {x: data(33 + i, 3)})
                    trajectory.append([r(v) for v in s.run(shadows)])
        res[key] = {
            "names": names,
            "shadow_names": [v.name for v in shadows],
            "variables": variables,
            "restore": restore,
            "update_name": update.name,
            "trajectory": trajectory,
        }
    return res


def metrics(t):
    g = t.Graph()
    with g.as_default():
        labels = t.placeholder(t.int64, [None])
        predicted = t.placeholder(t.int64, [None, 1])  # squeezed to the labels' shape, as TF's
        weights = t.placeholder(t.float32, [None])
        scores = t.placeholder(t.float32, [None])
        targets = t.placeholder(t.float32, [None])
        pairs = {
            "accuracy": t.metrics.accuracy(labels, predicted),
            "accuracy_weighted": t.metrics.accuracy(labels, predicted, weights=weights),
            "mean": t.metrics.mean(scores),
            "mean_weighted": t.metrics.mean(scores, weights=weights),
            "mse": t.metrics.mean_squared_error(targets, scores),
            "mse_weighted": t.metrics.mean_squared_error(targets, scores, weights=weights),
            "mae": t.metrics.mean_absolute_error(targets, scores),
            "precision": t.metrics.precision(labels > 1, predicted > 1),
            "recall": t.metrics.recall(labels > 1, predicted > 1, name="my_recall"),
            "precision_weighted": t.metrics.precision(labels > 1, predicted > 1, weights=weights),
        }
        local = [(v.name, v.shape.as_list()) for v in t.local_variables()]
        metric_vars = [v.name for v in t.get_collection("metric_variables")]
        trainable = t.trainable_variables()
        values = {k: v for k, (v, _) in pairs.items()}
        updates = {k: u for k, (_, u) in pairs.items()}
        batches = [
            ([0, 1, 2, 3, 2], [[0], [2], [2], [3], [1]], [1.0, 0.5, 2.0, 0.0, 1.5]),
            ([3, 3, 1], [[3], [1], [1]], [0.25, 1.0, 3.0]),
        ]
        seen = []
        with t.Session() as s:
            s.run(t.local_variables_initializer())
            seen.append(s.run(values))
            for i, (lab, pred, w) in enumerate(batches):
                feed = {
                    labels: lab,
                    predicted: pred,
                    weights: w,
                    scores: data(40 + i, len(lab)),
                    targets: data(50 + i, len(lab)),
                }
                seen.append(s.run(updates, feed))
                seen.append(s.run(values))
    return {
        "local": local,
        "metric_variables": metric_vars,
        "trainable": len(trainable),
        "runs": [{k: r(v) for k, v in run.items()} for run in seen],
        "names": sorted((k, v.name, u.name) for k, (v, u) in pairs.items()),
    }


def array_math(t):
    g = t.Graph()
    with g.as_default():
        a = t.constant(data(60, 2, 3, 4))
        b = t.constant(data(61, 4, 5))
        c = t.constant(data(62, 3, 2, 4))
        m = t.constant(data(63, 3, 4))
        dots = {
            "last": t.tensordot(a, b, 1),
            "pairs": t.tensordot(a, c, [[1, 2], [0, 2]]),
            "outer": t.tensordot(m, b, 0),
            "matrix": t.tensordot(m, b, [[1], [0]]),
            "negative_axes": t.tensordot(a, c, [[-1], [-1]]),
        }
        w = {k: t.constant(data(64, *v.shape.as_list())) for k, v in dots.items()}
        operands = {"last": (a, b), "pairs": (a, c), "outer": (m, b), "matrix": (m, b)}
        operands["negative_axes"] = (a, c)
        dot_grads = {
            k: t.gradients(t.reduce_sum(v * w[k]), list(operands[k])) for k, v in dots.items()
        }
        ints_x = t.constant([-7, 7, -7, 7, 6, -6, 0, 13, -13, 1], dtype=t.int32)
        ints_y = t.constant([5, 5, -5, -5, 3, 3, 4, -4, -4, 7], dtype=t.int32)
        floats_x = t.constant([-7.5, 7.0, 3.25, -0.5, 9.0], dtype=t.float32)
        floats_y = t.constant([2.0, -2.0, 1.5, 4.0, 3.0], dtype=t.float32)
        values = t.placeholder(t.float32, [3])
        default = t.placeholder(t.float32, [])
        dense = t.sparse_to_dense([[0, 1], [1, 0], [2, 3]], [3, 4], values, default)
        dense_vector = t.sparse_to_dense([4, 1], [6], 7, validate_indices=False)
        dense_scalar = t.sparse_to_dense(2, [3], True, default_value=False)
        scale = t.constant(data(65, 3, 4))
        dense_grads = t.gradients(t.reduce_sum(dense * scale), [values, default])
        with t.Session() as s:
            feed = {values: [1.5, -2.0, 4.0], default: 0.25}
            run = s.run(
                {
                    "dots": dots,
                    "dot_grads": dot_grads,
                    "truncatediv": t.truncatediv(ints_x, ints_y),
                    "truncatemod": t.truncatemod(ints_x, ints_y),
                    "truncatediv_float": t.truncatediv(floats_x, floats_y),
                    "dense": dense,
                    "dense_vector": dense_vector,
                    "dense_scalar": dense_scalar,
                    "dense_grads": dense_grads,
                },
                feed,
            )
    res = {k: r(v) if not isinstance(v, (dict, list)) else v for k, v in run.items()}
    res["dots"] = {k: r(v) for k, v in run["dots"].items()}
    res["dot_grads"] = {k: [r(x) for x in v] for k, v in run["dot_grads"].items()}
    res["dense_grads"] = [r(x) for x in run["dense_grads"]]
    res["dense_scalar"] = run["dense_scalar"].tolist()
    res["names"] = [dots["matrix"].name, dots["last"].name, dense.name]
    res["shapes"] = {k: v.shape.as_list() for k, v in dots.items()}
    return res


def random_structure(t):
    """multinomial and random_crop draw other numbers than TF's: their names, shapes and dtypes
    (the laws are checked statistically in the test)."""
    g = t.Graph()
    with g.as_default():
        logits = t.placeholder(t.float32, [None, 4])
        draws = t.multinomial(logits, 7)
        draws32 = t.multinomial(logits, 3, output_dtype=t.int32)
        crop = t.random_crop(t.zeros([3, 4, 5]), [3, 2, 2])
    return {
        "multinomial": [draws.name, draws.shape.as_list(), draws.dtype.name, draws32.dtype.name],
        "random_crop": [crop.name, crop.shape.as_list(), crop.dtype.name],
    }


def tf_graph_def(t):
    """A GraphDef written by TensorFlow (base64 of its bytes) and its outputs, for
    import_graph_def; under tgc it is the same graph built by tgc, run directly."""
    import base64

    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 4, 4, 2], name="images")
        kernel = t.constant(data(70, 3, 3, 2, 3), name="kernel")
        conv = t.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME", name="conv")
        biased = t.nn.bias_add(conv, t.constant(data(71, 3)), name="biased")
        pooled = t.nn.max_pool(t.nn.relu(biased), [1, 2, 2, 1], [1, 2, 2, 1], "VALID", name="pool")
        flat = t.reshape(pooled, [-1, 12], name="flat")
        w = t.constant(data(72, 12, 5), name="w")
        logits = t.add(t.matmul(flat, w), t.constant(data(73, 5)), name="logits")
        probs = t.nn.softmax(logits, name="probs")
        mean = t.reduce_mean(probs, axis=1, keepdims=True, name="mean")
        joined = t.concat([probs, mean], 1, name="joined")
        label = t.argmax(joined, 1, name="label")
        as_float = t.cast(label, t.float32, name="as_float")
        moved = t.transpose(t.expand_dims(as_float, 1), [1, 0], name="moved")
        squeezed = t.squeeze(moved, [0], name="squeezed")
        picked = t.gather(t.constant(data(74, 6)), label, name="picked")
        stacked = t.stack([squeezed, picked], axis=1, name="stacked")
        out = t.identity(t.tanh(stacked) * 2.0, name="out")
    images = data(75, 2, 4, 4, 2)
    with t.Session(graph=g) as s:
        values = s.run({"probs": probs, "joined": joined, "out": out}, {x: images})
    res = {k: r(v) for k, v in values.items()}
    if hasattr(g, "as_graph_def") and "tensorflow" in type(g).__module__:
        res["graph_def"] = base64.b64encode(g.as_graph_def().SerializeToString()).decode()
        res["ops"] = sorted({n.op for n in g.as_graph_def().node})
    return res


def tf_graph_def_more(t):
    """More of TF's spellings for import_graph_def: slices, tiles, splits, one-hot, AddN, Relu6,
    Softplus, LeakyRelu, batch norms (the global one and FusedBatchNormV3 for inference)."""
    import base64

    g = t.Graph()
    with g.as_default():
        x = t.placeholder(t.float32, [None, 3, 4], name="x")
        outs = {
            "sliced": t.identity(x[:, 1:, ::2], name="sliced"),
            "last": t.identity(x[:, -1], name="last"),
            "block": t.slice(x, [0, 0, 1], [-1, 2, 2], name="block"),
        }
        outs["tiled"] = t.tile(outs["block"], [1, 2, 1], name="tiled")
        parts = t.split(x, 2, axis=2, name="parts")
        summed = t.add_n([parts[0], parts[1], t.nn.relu6(parts[0] * 4.0)], name="summed")
        outs["summed"] = summed
        outs["hot"] = t.one_hot(t.constant([2, 0, 1]), 3, 5.0, -1.0, name="hot")
        outs["soft"] = t.nn.softplus(summed, name="soft")
        outs["leaky"] = t.nn.leaky_relu(summed, alpha=0.3, name="leaky")
        image = t.reshape(x, [-1, 3, 2, 2], name="image")
        stats = [t.constant(np.abs(data(90 + i, 2)) + 0.5 * (i == 1)) for i in range(4)]
        global_bn = t.nn.batch_norm_with_global_normalization(
            image, stats[0], stats[1], stats[2], stats[3], 1e-3, True, name="global_bn"
        )
        fused, _, _ = t.nn.fused_batch_norm(
            image,
            stats[3],
            stats[2],
            stats[0],
            stats[1],
            epsilon=1e-3,
            is_training=False,
            name="fused",
        )
        outs["global_bn"] = global_bn
        outs["fused"] = fused
    with t.Session(graph=g) as s:
        values = s.run(outs, {x: data(95, 2, 3, 4)})
    res = {"values": {k: r(v) for k, v in values.items()}}
    res["graph_def"] = base64.b64encode(g.as_graph_def().SerializeToString()).decode()
    res["ops"] = sorted({n.op for n in g.as_graph_def().node})
    res["fetch"] = {k: v.name for k, v in outs.items()}
    return res


PROGRAMS = {
    "tf_graph_def_more": tf_graph_def_more,
    "tf_graph_def": tf_graph_def,
    "random_structure": random_structure,
    "array_math": array_math,
    "metrics": metrics,
    "conv2d_transpose": conv2d_transpose,
    "batch_norm": batch_norm,
    "moving_average": moving_average,
}

if __name__ == "__main__":
    import sys

    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()
    out = {"version": tf.__version__}
    for key in sys.argv[1:] or list(PROGRAMS):
        out[key] = PROGRAMS[key](tf.compat.v1)
    pprint.pprint(out, width=100, compact=True)
