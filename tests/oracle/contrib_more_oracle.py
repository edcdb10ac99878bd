"""The programs of tests/e2e/test_contrib_more.py and (run as a script) TensorFlow 2.21's values for
them, printed as JSON (tests/e2e/contrib_more_tf_values.json):

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/contrib_more_oracle.py \
        > tests/e2e/contrib_more_tf_values.json

TF 2.21 has no tf.contrib, so each program takes the API as ``t`` and, on TF's side, builds what
TF 1.15's contrib function builds from ops TF 2.21 still has (read from TF 1.15's
tensorflow/contrib/layers/python/layers/layers.py):

- ``contrib.layers.batch_norm`` of rank 2 or 4 (its default fused path): ``nn.fused_batch_norm``
  (rank 2 reshaped to [N, 1, 1, C]) and ``assign_moving_average(var, batch_stat, decay,
  zero_debias=False)`` of the mean and the kernel's (Bessel-corrected) batch variance; of other
  ranks: ``nn.moments`` and the biased variance (the non-fused layer);
- ``contrib.layers.conv2d`` and ``conv2d_transpose``: ``compat.v1.layers.conv2d`` and
  ``conv2d_transpose`` (contrib's are those layers with their variables renamed),
  ``max_pool2d``/``avg_pool2d``: ``nn.max_pool2d``/``nn.avg_pool2d``;
- ``contrib.layers.layer_norm``: ``nn.moments`` and ``nn.batch_normalization`` (epsilon 1e-12);
- ``contrib.seq2seq.sequence_loss``: TF 1.15's formula written out with
  ``nn.sparse_softmax_cross_entropy_with_logits`` (tensorflow/contrib/seq2seq/python/ops/loss.py).

Inputs come from numpy's RandomState, so both sides see the same values.
"""

import json

import numpy as np


def data(seed, *shape):
    return np.random.RandomState(seed).uniform(-1.0, 1.0, shape).astype(np.float32)


def r(values):
    """Lists of floats rounded to 7 decimals (float32 has ~7 significant digits)."""
    return np.round(np.asarray(values, np.float64), 7).tolist()


def is_tgc(t):
    return t.__name__.startswith("tgc")


# ---- batch_norm ----------------------------------------------------------------------------------


def _tf_batch_norm(t, x, beta, gamma, mm, mv, decay, training, fused):
    """TF 1.15 contrib batch_norm's graph: fused (rank 2/4) or moments (other ranks)."""
    rank = len(x.shape)
    if fused:
        x4 = t.reshape(x, [-1, 1, 1, int(x.shape[-1])]) if rank == 2 else x
        if training:
            y, mean, var = t.nn.fused_batch_norm(x4, gamma, beta, epsilon=0.001, is_training=True)
        else:
            y, mean, var = t.nn.fused_batch_norm(
                x4, gamma, beta, mean=mm, variance=mv, epsilon=0.001, is_training=False
            )
        y = t.reshape(y, t.shape(x))
    else:
        mean, var = t.nn.moments(x, list(range(rank - 1)))
        if not training:
            mean, var = mm, mv
        y = t.nn.batch_normalization(x, mean, var, beta, gamma, 0.001)
    if not training:
        return y, []
    from tensorflow.python.training import moving_averages

    return y, [
        moving_averages.assign_moving_average(mm, mean, decay, zero_debias=False),
        moving_averages.assign_moving_average(mv, var, decay, zero_debias=False),
    ]


def _batch_norm_program(t, shape, fused):
    """One training step (outputs, gradient of sum(y * w) wrt x, moving stats after the update),
    then inference with the updated moving stats."""
    g = t.Graph()
    with g.as_default():
        x = t.constant(data(1, *shape))
        w = t.constant(data(2, *shape))
        channels = shape[-1]
        beta0, gamma0 = data(3, channels), 1.0 + data(4, channels)
        if is_tgc(t):
            kwargs = dict(
                decay=0.9,
                scale=True,
                param_initializers={
                    "beta": t.constant_initializer(beta0),
                    "gamma": t.constant_initializer(gamma0),
                },
                updates_collections=None,
            )
            y = t.contrib.layers.batch_norm(x, is_training=True, scope="bn", **kwargs)
            y_inf = t.contrib.layers.batch_norm(
                x, is_training=False, scope="bn", reuse=True, **kwargs
            )
            mm, mv = t.contrib.framework.get_variables("bn/moving_")
            train = [y]
        else:
            beta = t.Variable(beta0)
            gamma = t.Variable(gamma0)
            mm = t.Variable(np.zeros(channels, np.float32))
            mv = t.Variable(np.ones(channels, np.float32))
            y, updates = _tf_batch_norm(t, x, beta, gamma, mm, mv, 0.9, True, fused)
            with t.control_dependencies(updates):
                y = t.identity(y)
            y_inf, _ = _tf_batch_norm(t, x, beta, gamma, mm, mv, 0.9, False, fused)
            train = [y]
        (gx,) = t.gradients(t.reduce_sum(y * w), [x])
        with t.Session() as s:
            s.run(t.global_variables_initializer())
            out, grad = s.run(train + [gx])
            stats = s.run([mm, mv])
            inf = s.run(y_inf)
    return {"y": r(out), "dx": r(grad), "moving": r(stats), "inference": r(inf)}


def batch_norm_rank4(t):
    return _batch_norm_program(t, (2, 3, 3, 4), fused=True)


def batch_norm_rank2(t):
    return _batch_norm_program(t, (5, 3), fused=True)


def batch_norm_rank3(t):
    return _batch_norm_program(t, (2, 3, 4), fused=False)


# ---- conv2d and pooling --------------------------------------------------------------------------


def _conv_program(t, stride, rate, padding):
    g = t.Graph()
    with g.as_default():
        x = t.constant(data(5, 2, 7, 7, 3))
        kernel = t.constant_initializer(data(6, 3, 3, 3, 4))
        bias = t.constant_initializer(data(7, 4))
        if is_tgc(t):
            y = t.contrib.layers.conv2d(
                x,
                4,
                [3, 3],
                stride=stride,
                rate=rate,
                padding=padding,
                weights_initializer=kernel,
                biases_initializer=bias,
            )
        else:
            y = t.layers.conv2d(
                x,
                4,
                3,
                strides=stride,
                dilation_rate=rate,
                padding=padding.lower(),
                kernel_initializer=kernel,
                bias_initializer=bias,
                activation=t.nn.relu,
            )
        (gx,) = t.gradients(t.reduce_sum(y * t.constant(data(8, *y.shape.as_list()))), [x])
        with t.Session() as s:
            s.run(t.global_variables_initializer())
            out, grad = s.run([y, gx])
    return {"y": r(out), "dx": r(grad)}


def conv2d_same_stride2(t):
    return _conv_program(t, 2, 1, "SAME")


def conv2d_valid_rate2(t):
    return _conv_program(t, 1, 2, "VALID")


def pools(t):
    g = t.Graph()
    with g.as_default():
        x = t.constant(data(9, 2, 5, 5, 3))
        if is_tgc(t):
            outs = [
                t.contrib.layers.max_pool2d(x, [2, 2]),
                t.contrib.layers.avg_pool2d(x, 3, stride=1, padding="SAME"),
            ]
        else:
            outs = [
                t.nn.max_pool2d(x, 2, 2, "VALID"),
                t.nn.avg_pool2d(x, 3, 1, "SAME"),
            ]
        with t.Session() as s:
            return [r(v) for v in s.run(outs)]


def conv2d_transpose_stride2(t):
    g = t.Graph()
    with g.as_default():
        x = t.constant(data(13, 2, 3, 3, 4))
        kernel = t.constant_initializer(data(14, 3, 3, 5, 4))
        bias = t.constant_initializer(data(15, 5))
        if is_tgc(t):
            y = t.contrib.layers.conv2d_transpose(
                x, 5, [3, 3], stride=2, weights_initializer=kernel, biases_initializer=bias
            )
        else:
            y = t.layers.conv2d_transpose(
                x,
                5,
                3,
                strides=2,
                padding="same",
                kernel_initializer=kernel,
                bias_initializer=bias,
                activation=t.nn.relu,
            )
        (gx,) = t.gradients(t.reduce_sum(y * t.constant(data(16, *y.shape.as_list()))), [x])
        with t.Session() as s:
            s.run(t.global_variables_initializer())
            out, grad = s.run([y, gx])
    return {"y": r(out), "dx": r(grad), "shape": y.shape.as_list()}


def layer_norm(t):
    """TF 1.15's contrib layer_norm: nn.moments over begin_norm_axis.., batch_normalization with
    epsilon 1e-12, beta and gamma of shape inputs.shape[begin_params_axis:]."""
    res = {}
    for key, shape, norm_axis, params_axis in (
        ("default", (3, 4, 5), 1, -1),
        ("last_axis", (2, 3, 4), -1, -1),
        ("params_from_1", (2, 3, 4), 1, 1),
    ):
        g = t.Graph()
        with g.as_default():
            x = t.constant(data(17, *shape) * 2.0 + 0.5)
            if is_tgc(t):
                y = t.contrib.layers.layer_norm(
                    x, begin_norm_axis=norm_axis, begin_params_axis=params_axis
                )
                beta, gamma = t.contrib.framework.get_variables()
            else:
                params = list(shape[params_axis:])
                beta = t.Variable(np.zeros(params, np.float32))
                gamma = t.Variable(np.ones(params, np.float32))
                axes = list(range(norm_axis % len(shape), len(shape)))
                mean, var = t.nn.moments(x, axes, keep_dims=True)
                y = t.nn.batch_normalization(x, mean, var, beta, gamma, 1e-12)
            w = t.constant(data(18, *shape))
            grads = t.gradients(t.reduce_sum(y * w), [x, beta, gamma])
            with t.Session() as s:
                s.run(t.global_variables_initializer())
                res[key] = [r(v) for v in s.run([y] + grads)]
    return res


# ---- sequence_loss -------------------------------------------------------------------------------


def _tf_sequence_loss(t, logits, targets, weights, flags):
    """TF 1.15's contrib/seq2seq/python/ops/loss.py sequence_loss (no softmax_loss_function)."""
    avg_time, avg_batch, sum_time, sum_batch = flags
    num_classes = t.shape(logits)[2]
    logits_flat = t.reshape(logits, [-1, num_classes])
    crossent = t.nn.sparse_softmax_cross_entropy_with_logits(
        labels=t.reshape(targets, [-1]), logits=logits_flat
    )
    crossent *= t.reshape(weights, [-1])
    if avg_time and avg_batch:
        return t.div_no_nan(t.reduce_sum(crossent), t.reduce_sum(weights))
    if sum_time and sum_batch:
        count = t.cast(t.count_nonzero(weights), crossent.dtype)
        return t.div_no_nan(t.reduce_sum(crossent), count)
    crossent = t.reshape(crossent, t.shape(logits)[0:2])
    if avg_time or avg_batch:
        axis = [0] if avg_batch else [1]
        return t.div_no_nan(t.reduce_sum(crossent, axis=axis), t.reduce_sum(weights, axis=axis))
    if sum_time or sum_batch:
        axis = [0] if sum_batch else [1]
        count = t.cast(t.count_nonzero(weights, axis=axis), crossent.dtype)
        return t.div_no_nan(t.reduce_sum(crossent, axis=axis), count)
    return crossent


# (average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch)
SEQUENCE_LOSS_FLAGS = [
    (True, True, False, False),
    (True, False, False, False),
    (False, True, False, False),
    (False, False, False, False),
    (False, False, True, True),
    (False, False, True, False),
    (False, False, False, True),
]


def sequence_loss(t):
    """Each flag combination: the loss and the gradient of sum(loss * w) wrt the logits; the third
    sequence has a zero weight row so div_no_nan's 0 / 0 shows."""
    res = {}
    logits0 = data(10, 4, 4, 5) * 3.0
    targets0 = np.random.RandomState(11).randint(0, 5, (4, 4)).astype(np.int32)
    weights0 = np.array([[1, 1, 1, 0], [1, 0.5, 0, 0], [0, 0, 0, 0], [1, 1, 2, 1]], np.float32)
    for flags in SEQUENCE_LOSS_FLAGS:
        g = t.Graph()
        with g.as_default():
            logits = t.constant(logits0)
            targets = t.constant(targets0)
            weights = t.constant(weights0)
            if is_tgc(t):
                loss = t.contrib.seq2seq.sequence_loss(
                    logits,
                    targets,
                    weights,
                    average_across_timesteps=flags[0],
                    average_across_batch=flags[1],
                    sum_over_timesteps=flags[2],
                    sum_over_batch=flags[3],
                )
            else:
                loss = _tf_sequence_loss(t, logits, targets, weights, flags)
            w = t.constant(data(12, *loss.shape.as_list()))
            (gl,) = t.gradients(t.reduce_sum(loss * w), [logits])
            with t.Session() as s:
                out, grad = s.run([loss, gl])
        res["".join("TF"[int(not f)] for f in flags)] = [r(out), r(grad)]
    return res


PROGRAMS = {
    name: fn
    for name, fn in sorted(globals().items())
    if callable(fn)
    and name
    in (
        "batch_norm_rank4",
        "batch_norm_rank2",
        "batch_norm_rank3",
        "conv2d_same_stride2",
        "conv2d_valid_rate2",
        "conv2d_transpose_stride2",
        "layer_norm",
        "pools",
        "sequence_loss",
    )
}


if __name__ == "__main__":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    values = {name: fn(tf) for name, fn in PROGRAMS.items()}
    print(json.dumps({"tensorflow": tf.VERSION, "values": values}))
